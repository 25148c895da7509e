//! The SGLD move of one chain whose gradient is already in `gradient` (dimension-major), and
//! the store of its state into a draw slot. Used by the thread-per-chain kernels.

/// θ_d ← θ_d − η ∇_d + sqrt(2ηT) ξ_d for every coordinate d of `chain`.
fn sgld_move_chain(chain: u32, step: u32, scalars: StepScalars) {
    for (var block = 0u; block < run.blocks; block++) {
        var z = vec4<f32>(0.0);
        if (scalars.noise_scale > 0.0) {
            let counter = vec4<u32>(chain, step, block, STREAM_NOISE);
            z = normals_from_words(philox4x32_10(counter, run_key(run)));
        }
        for (var lane = 0u; lane < 4u; lane++) {
            if (block * 4u + lane < run.dim) {
                let i = state_index(run, block * 4u + lane, chain);
                let moved = fma(-scalars.eta, gradient[i], theta[i]);
                theta[i] = fma(scalars.noise_scale, z[lane], moved);
            }
        }
    }
}

/// Copies `chain`'s state into the dispatch's draw slot, if it keeps one.
fn store_draw_of_chain(chain: u32) {
    if (dispatch.draw_slot != NO_DRAW) {
        let draw_base = dispatch.draw_slot * run.chains * run.dim;
        for (var d = 0u; d < run.dim; d++) {
            let i = state_index(run, d, chain);
            draws[draw_base + i] = theta[i];
        }
    }
}
