//! Per kept draw, for each chain: flag a divergence (a NaN or infinite coordinate) and apply
//! the run's policy, then fold the draw into running per-(chain, dimension) mean and sum of
//! squared deviations (Welford 1962), so a run's summary needs no draws read back.
//!
//! Runs right after the step dispatch that stored the draw, bound to the same record.


/// How a divergent chain is handled (`DivergencePolicy` on the host).
override DIVERGENCE_POLICY: u32 = 0u;


fn is_finite(x: f32) -> bool {
    // NaN fails the comparison; ±∞ exceeds the largest finite f32.
    return abs(x) <= 3.4028235e38;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn chain_statistics(@builtin(global_invocation_id) id: vec3<u32>,
                    @builtin(num_workgroups) groups: vec3<u32>) {
    let chain = thread_index(id, groups);
    if (chain >= run.chains || dispatch.draw_slot == NO_DRAW) {
        return;
    }
    var me = status[chain];
    if (me.frozen == 1u) {
        return;
    }
    let size = run.chains * run.dim;
    let slot = dispatch.draw_slot;
    var finite = true;
    for (var d = 0u; d < run.dim; d++) {
        finite = finite && is_finite(draws[draw_index(run, slot, d, chain)]);
    }
    if (!finite) {
        if (me.first_divergence == NOT_DIVERGED) {
            me.first_divergence = dispatch.first_step + dispatch.step_count;
        }
        me.divergences += 1u;
        if (DIVERGENCE_POLICY == POLICY_FREEZE) {
            me.frozen = 1u;
            status[chain] = me;
            return;
        }
        // Reset: the diverged stretch is rejected; the chain and this draw return to the
        // last finite state, the rule's per-coordinate state restarts at zero and SGNHT's
        // thermostat at A.
        for (var d = 0u; d < run.dim; d++) {
            let i = state_index(run, d, chain);
            theta[i] = last_good[i];
            draws[draw_index(run, slot, d, chain)] = last_good[i];
            if (METHOD != METHOD_SGLD) {
                auxiliary[i] = 0.0;
            }
        }
        if (METHOD == METHOD_SGNHT) {
            auxiliary[size + chain] = run.method_a;
        }
    }
    me.count += 1u;
    let n = f32(me.count);
    for (var d = 0u; d < run.dim; d++) {
        let i = state_index(run, d, chain);
        let x = draws[draw_index(run, slot, d, chain)];
        let delta = x - statistics[i];
        statistics[i] += delta / n;
        statistics[size + i] += delta * (x - statistics[i]);
        last_good[i] = x;
    }
    status[chain] = me;
}
