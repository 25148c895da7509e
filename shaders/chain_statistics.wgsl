//! Per kept draw, for each chain: flag a divergence (a NaN or infinite coordinate) and apply
//! the run's policy, then fold the draw into running per-(chain, dimension) mean and sum of
//! squared deviations (Welford 1962), so a run's summary needs no draws read back.
//!
//! Runs right after the step dispatch that stored the draw, bound to the same record, or once
//! after all of a submit's step dispatches, on a record of its own that names their draws.


/// How a divergent chain is handled (`DivergencePolicy` on the host).
override DIVERGENCE_POLICY: u32 = 0u;


fn is_finite(x: f32) -> bool {
    // NaN fails the comparison; ±∞ exceeds the largest finite f32.
    return abs(x) <= 3.4028235e38;
}

/// Folds the draw in `slot`, taken after step `after − 1`, into chain `chain`'s statistics
/// and its status `me`, applying the divergence policy first.
fn fold_draw(me: ptr<function, ChainStatus>, chain: u32, slot: u32, after: u32) {
    let size = run.chains * run.dim;
    var finite = true;
    for (var d = 0u; d < run.dim; d++) {
        finite = finite && is_finite(draws[draw_index(run, slot, d, chain)]);
    }
    if (!finite) {
        if ((*me).first_divergence == NOT_DIVERGED) {
            (*me).first_divergence = after;
        }
        (*me).divergences += 1u;
        if (DIVERGENCE_POLICY == POLICY_FREEZE) {
            (*me).frozen = 1u;
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
    (*me).count += 1u;
    let n = f32((*me).count);
    for (var d = 0u; d < run.dim; d++) {
        let i = state_index(run, d, chain);
        let x = draws[draw_index(run, slot, d, chain)];
        let delta = x - statistics[i];
        statistics[i] += delta / n;
        statistics[size + i] += delta * (x - statistics[i]);
        last_good[i] = x;
    }
}

/// Folds the record's `draw_count` draws, in order, into each chain's statistics: the one a
/// step dispatch just kept, or (under the freeze policy, where nothing here changes what a
/// step reads) every draw a submit kept. A frozen chain folds no more.
@compute @workgroup_size(WORKGROUP_SIZE)
fn chain_statistics(@builtin(global_invocation_id) id: vec3<u32>,
                    @builtin(num_workgroups) groups: vec3<u32>) {
    let chain = thread_index(id, groups);
    if (chain >= run.chains || dispatch.draw_slot == NO_DRAW) {
        return;
    }
    var me = status[chain];
    let first_after = dispatch.first_step + dispatch.step_count;
    for (var k = 0u; k < dispatch.draw_count && me.frozen == 0u; k++) {
        fold_draw(&me, chain, dispatch.draw_slot + k, first_after + k * dispatch.draw_stride);
    }
    status[chain] = me;
}
