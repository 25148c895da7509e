//! The move of a whole chain whose gradient ∇Ũ(θ) is in `gradient` (the thread-per-chain
//! kernels declare it), SGNHT's thermostat update, and the store of a chain into a draw slot.

/// Where SGNHT keeps the thermostat of `chain`: after the C × D per-coordinate values.
fn thermostat_index(chain: u32) -> u32 {
    return run.chains * run.dim + chain;
}

/// One step of every coordinate of `chain`, whose gradient is in `gradient` (dimension-major),
/// then SGNHT's thermostat: ζ ← ζ + (vᵀv/D − T) h, the squares summed in coordinate order.
fn move_chain(chain: u32, step: u32, step_scalars: StepScalars) {
    let scalars = at_temperature(step_scalars, chain_temperature(chain));
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

/// Copies `chain`'s state into the dispatch's draw slot, if it keeps one.
fn store_draw_of_chain(chain: u32) {
    if (dispatch.draw_slot != NO_DRAW) {
        for (var d = 0u; d < run.dim; d++) {
            draws[draw_index(run, dispatch.draw_slot, d, chain)] = theta[state_index(run, d, chain)];
        }
    }
}
