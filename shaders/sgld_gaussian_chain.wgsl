//! Fused steps on a Gaussian target, one thread per chain: for a dense precision matrix, and
//! for rules whose step needs the whole chain at once (SGNHT's thermostat).
//!
//! ∇U(θ) = P(θ − μ), with P dense (D × D) or diagonal (D values), then the rule's move
//! (rules.wgsl). The gradient of a step is formed completely (into `gradient`) before any
//! coordinate moves, so every coordinate sees the same θ.

/// Whether `target_precision` holds a dense D × D matrix (else its diagonal).
override DENSE_PRECISION: bool = true;


@compute @workgroup_size(WORKGROUP_SIZE)
fn sgld_gaussian_chain(@builtin(global_invocation_id) id: vec3<u32>,
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
            if (DENSE_PRECISION) {
                for (var j = 0u; j < dim; j++) {
                    let centred = theta[state_index(run, j, chain)] - target_mean[j];
                    acc = fma(target_precision[d * dim + j], centred, acc);
                }
            } else {
                acc = target_precision[d] * (theta[state_index(run, d, chain)] - target_mean[d]);
            }
            gradient[state_index(run, d, chain)] = acc;
        }
        move_chain(chain, dispatch.first_step + s, scalars);
    }
    store_draw_of_chain(chain);
}
