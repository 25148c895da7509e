//! Fused SGLD on a Gaussian with a dense precision matrix, one thread per chain.
//!
//! θ ← θ − η_t P(θ − μ) + sqrt(2 η_t T) ξ, twin of `reference::sgld_step`. The gradient of a
//! step is formed completely (into `gradient`) before any coordinate moves, so every
//! coordinate sees the same θ.

@group(0) @binding(7) var<storage, read_write> gradient: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgld_gaussian_dense(@builtin(global_invocation_id) id: vec3<u32>,
                       @builtin(num_workgroups) groups: vec3<u32>) {
    let chain = thread_index(id, groups);
    if (chain >= run.chains) {
        return;
    }
    let dim = run.dim;
    for (var s = 0u; s < dispatch.step_count; s++) {
        let scalars = schedule[dispatch.table_offset + s];
        for (var d = 0u; d < dim; d++) {
            var acc = 0.0;
            for (var j = 0u; j < dim; j++) {
                let centred = theta[state_index(run, j, chain)] - target_mean[j];
                acc = fma(target_precision[d * dim + j], centred, acc);
            }
            gradient[state_index(run, d, chain)] = acc;
        }
        sgld_move_chain(chain, dispatch.first_step + s, scalars);
    }
    store_draw_of_chain(chain);
}
