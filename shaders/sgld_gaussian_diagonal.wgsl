//! Fused SGLD on a Gaussian with diagonal precision: gradient, update and noise in one pass,
//! with a thread's four coordinates held in registers across all steps of a dispatch.
//!
//! θ ← θ − η_t Λ(θ − μ) + sqrt(2 η_t T) ξ, twin of `reference::sgld_step`.

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgld_gaussian_diagonal(@builtin(global_invocation_id) id: vec3<u32>,
                          @builtin(num_workgroups) groups: vec3<u32>) {
    let me = chain_block(run, thread_index(id, groups));
    if (!me.in_range) {
        return;
    }
    let chain = me.chain;
    let block = me.block;
    let first_dim = block * 4u;

    // Unused lanes of a partial last block keep λ = 0 and are never written back. The lane
    // loops have a constant trip count so compilers unroll them and the vectors stay in
    // registers (a run-time index could push them to local memory).
    var x = vec4<f32>(0.0);
    var mean = vec4<f32>(0.0);
    var lambda = vec4<f32>(0.0);
    for (var lane = 0u; lane < 4u; lane++) {
        let d = first_dim + lane;
        if (d < run.dim) {
            x[lane] = theta[state_index(run, d, chain)];
            mean[lane] = target_mean[d];
            lambda[lane] = target_precision[d];
        }
    }

    for (var s = 0u; s < dispatch.step_count; s++) {
        let scalars = schedule[dispatch.table_offset + s];
        x = fma(vec4<f32>(-scalars.eta), lambda * (x - mean), x);
        if (scalars.noise_scale > 0.0) {
            let counter = vec4<u32>(chain, dispatch.first_step + s, block, STREAM_NOISE);
            let z = normals_from_words(philox4x32_10(counter, run_key(run)));
            x = fma(vec4<f32>(scalars.noise_scale), z, x);
        }
    }

    let draw_base = dispatch.draw_slot * run.chains * run.dim;
    for (var lane = 0u; lane < 4u; lane++) {
        if (first_dim + lane < run.dim) {
            let i = state_index(run, first_dim + lane, chain);
            theta[i] = x[lane];
            if (dispatch.draw_slot != NO_DRAW) {
                draws[draw_base + i] = x[lane];
            }
        }
    }
}
