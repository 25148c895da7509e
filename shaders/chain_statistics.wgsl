//! Per kept draw, for each chain: flag a divergence (a NaN or infinite coordinate) and apply
//! the run's policy, then fold the draw into running per-(chain, dimension) mean and sum of
//! squared deviations (Welford 1962), so a run's summary needs no draws read back.
//!
//! Runs right after the step dispatch that stored the draw, bound to the same record.

@group(0) @binding(0) var<uniform> run: RunParams;
@group(0) @binding(1) var<uniform> dispatch: DispatchRecord;
@group(0) @binding(2) var<storage, read_write> theta: array<f32>;
@group(0) @binding(3) var<storage, read_write> draws: array<f32>;
@group(0) @binding(4) var<storage, read_write> auxiliary: array<f32>;
/// C × D means, then C × D sums of squared deviations, both laid out like θ.
@group(0) @binding(5) var<storage, read_write> statistics: array<f32>;
@group(0) @binding(6) var<storage, read_write> status: array<ChainStatus>;
/// The last finite draw of each chain, laid out like θ (the reset policy restores it).
@group(0) @binding(7) var<storage, read_write> last_good: array<f32>;

/// How a divergent chain is handled (`DivergencePolicy` on the host).
override DIVERGENCE_POLICY: u32 = 0u;
const POLICY_FREEZE: u32 = 0u;
const POLICY_RESET: u32 = 1u;
const NOT_DIVERGED: u32 = 0xFFFFFFFFu;

struct ChainStatus {
    /// Draws folded into the statistics.
    count: u32,
    /// Updates before the first draw found divergent, or NOT_DIVERGED.
    first_divergence: u32,
    /// Draws found divergent (under the reset policy a chain can diverge again).
    divergences: u32,
    /// 1 once a frozen chain is excluded.
    frozen: u32,
}

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
