//! The move of a whole chain whose gradient ∇Ũ(θ) is in `gradient` (the thread-per-chain
//! kernels declare it), in the identity or a dense metric, SGNHT's thermostat update, and the
//! store of a chain into a draw slot.

/// Where SGNHT keeps the thermostat of `chain`: after the C × D per-coordinate values.
fn thermostat_index(chain: u32) -> u32 {
    return run.chains * run.dim + chain;
}

/// One step of every coordinate of `chain`, whose gradient is in `gradient` (dimension-major),
/// then SGNHT's thermostat: ζ ← ζ + (vᵀv/D − T) h, the squares summed in coordinate order.
fn move_chain(chain: u32, step: u32, step_scalars: StepScalars) {
    let scalars = at_temperature(step_scalars, chain_temperature(chain));
    if (run.preconditioner_offset != NO_PRECONDITIONER) {
        move_chain_in_metric(chain, step, scalars);
        return;
    }
    var zeta = 0.0;
    if (METHOD == METHOD_SGNHT) {
        zeta = auxiliary[thermostat_index(chain)];
    }
    var kinetic = 0.0;
    for (var block = 0u; block < run.blocks; block++) {
        var x = vec4<f32>(0.0);
        var aux = vec4<f32>(0.0);
        var g = vec4<f32>(0.0);
        for (var lane = 0u; lane < 4u; lane++) {
            let d = block * 4u + lane;
            if (d < run.dim) {
                let i = state_index(run, d, chain);
                x[lane] = theta[i];
                g[lane] = gradient[i];
                if (METHOD != METHOD_SGLD) {
                    aux[lane] = auxiliary[i];
                }
            }
        }
        let noisy = with_gradient_noise(g, chain, step, block);
        let moved =
            step_block(x, &aux, noisy, step_noise(chain, step, block, scalars), scalars, zeta);
        for (var lane = 0u; lane < 4u; lane++) {
            let d = block * 4u + lane;
            if (d < run.dim) {
                let i = state_index(run, d, chain);
                theta[i] = moved[lane];
                if (METHOD != METHOD_SGLD) {
                    auxiliary[i] = aux[lane];
                }
                kinetic = fma(aux[lane], aux[lane], kinetic);
            }
        }
    }
    if (METHOD == METHOD_SGNHT) {
        let dim = f32(run.dim);
        auxiliary[thermostat_index(chain)] =
            fma(kinetic / dim - scalars.temperature, scalars.eta, zeta);
    }
}

/// Four entries of `chain`'s column of `gradient` from coordinate 4·`block`, zeros past D.
fn gradient_block(chain: u32, block: u32) -> vec4<f32> {
    var g = vec4<f32>(0.0);
    for (var lane = 0u; lane < 4u; lane++) {
        let d = block * 4u + lane;
        if (d < run.dim) {
            g[lane] = gradient[state_index(run, d, chain)];
        }
    }
    return g;
}

/// One SGLD step of `chain` in the constant metric M = L Lᵀ (sampler::preconditioner):
/// θ ← θ + L v with v = s ξ − η Lᵀ g. v replaces g in `gradient`, coordinate by coordinate: v_i
/// reads g_d for d ≥ i only (Lᵀ is upper-triangular), so no g it needs is overwritten yet.
fn move_chain_in_metric(chain: u32, step: u32, scalars: StepScalars) {
    if (run.gradient_noise > 0.0) {
        for (var block = 0u; block < run.blocks; block++) {
            let noisy = with_gradient_noise(gradient_block(chain, block), chain, step, block);
            for (var lane = 0u; lane < 4u; lane++) {
                let d = block * 4u + lane;
                if (d < run.dim) {
                    gradient[state_index(run, d, chain)] = noisy[lane];
                }
            }
        }
    }
    for (var own = 0u; own < run.blocks; own++) {
        let z = step_noise(chain, step, own, scalars);
        for (var lane = 0u; lane < 4u; lane++) {
            let i = own * 4u + lane;
            if (i < run.dim) {
                var sum = 0.0;
                for (var block = own; block < run.blocks; block++) {
                    sum = fma_dot(metric_block(1u, i, block), gradient_block(chain, block), sum);
                }
                gradient[state_index(run, i, chain)] = fma(scalars.noise_scale, z[lane],
                                                           -scalars.eta * sum);
            }
        }
    }
    for (var d = 0u; d < run.dim; d++) {
        var moved = 0.0;
        for (var block = 0u; block <= d / 4u; block++) {
            moved = fma_dot(metric_block(0u, d, block), gradient_block(chain, block), moved);
        }
        let i = state_index(run, d, chain);
        theta[i] = theta[i] + moved;
    }
}

/// Copies `chain`'s state into the dispatch's draw slot, if it keeps one.
fn store_draw_of_chain(chain: u32) {
    if (dispatch.draw_slot != NO_DRAW) {
        for (var d = 0u; d < run.dim; d++) {
            draws[draw_index(run, dispatch.draw_slot, d, chain)] = theta[state_index(run, d, chain)];
        }
    }
}
