//! Fused steps on a Gaussian with diagonal precision: gradient, update and noise in one pass,
//! with a thread's four coordinates (and the rule's state for them) held in registers across
//! all steps of a dispatch. ∇U(θ) = Λ(θ − μ), then the rule's step (rules.wgsl: SGLD, pSGLD or
//! SGHMC; SGNHT's thermostat needs the whole chain and runs in sgld_gaussian_chain.wgsl).

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgld_gaussian_diagonal(@builtin(global_invocation_id) id: vec3<u32>,
                          @builtin(num_workgroups) groups: vec3<u32>) {
    let me = chain_block(run, id, groups);
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
    var aux = vec4<f32>(0.0);
    var mean = vec4<f32>(0.0);
    var lambda = vec4<f32>(0.0);
    for (var lane = 0u; lane < 4u; lane++) {
        let d = first_dim + lane;
        if (d < run.dim) {
            x[lane] = theta[state_index(run, d, chain)];
            mean[lane] = target_mean[d];
            lambda[lane] = target_precision[d];
            if (METHOD != METHOD_SGLD) {
                aux[lane] = auxiliary[state_index(run, d, chain)];
            }
        }
    }

    let temperature = chain_temperature(chain);
    for (var s = 0u; s < dispatch.step_count; s++) {
        let scalars = at_temperature(schedule[dispatch.table_offset + s], temperature);
        let step = dispatch.first_step + s;
        let z = step_noise(chain, step, block, scalars);
        let g = with_gradient_noise(lambda * (x - mean), chain, step, block);
        x = step_block(x, &aux, g, z, scalars, 0.0);
    }

    for (var lane = 0u; lane < 4u; lane++) {
        if (first_dim + lane < run.dim) {
            let i = state_index(run, first_dim + lane, chain);
            theta[i] = x[lane];
            if (METHOD != METHOD_SGLD) {
                auxiliary[i] = aux[lane];
            }
            if (dispatch.draw_slot != NO_DRAW) {
                draws[draw_index(run, dispatch.draw_slot, first_dim + lane, chain)] = x[lane];
            }
        }
    }
}
