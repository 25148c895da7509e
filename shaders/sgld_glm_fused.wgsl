//! Fused multi-step SGLD for generalised linear models with one mini-batch shared by all
//! chains: a workgroup advances FUSED_CHAINS chains through every step of a dispatch with θ held
//! in workgroup memory. Per step, separated by barriers:
//!   A. draw the batch once and stage its rows (CSR, columns increasing) in workgroup memory;
//!   B. for each (chain, example): η = θ₀·[intercept] + xᵀθ and g = d log p(y | η)/dη;
//!   C. for each (chain, coordinate d): ∇_d = θ_d/σ² − (N/n) Σ_i g_i x_id, summed over the
//!      examples in order through a column-major copy of the batch that step A builds once for
//!      all chains (each column's entries in example order, found by binary search in the
//!      sorted rows) — the same order and operations as the per-chain kernel;
//!   D. for each (chain, block of 4): θ ← θ − η∇ + sqrt(2ηT) ξ.
//! θ goes back to device memory, and into the draw slot, after the dispatch's last step.

/// Chains per workgroup, G.
override FUSED_CHAINS: u32 = 4u;
/// G · D: θ and ∇ of the workgroup's chains, chain-major.
override FUSED_STATE: u32 = 4u;
/// G · n: g of every (chain, example).
override FUSED_PAIRS: u32 = 4u;
/// F + 1 for F features: the column starts of the batch's column-major copy.
override FUSED_COLUMNS: u32 = 2u;

var<workgroup> fused_theta: array<f32, FUSED_STATE>;
var<workgroup> fused_gradient: array<f32, FUSED_STATE>;
var<workgroup> fused_g: array<f32, FUSED_PAIRS>;
/// The batch column-major: column j's entries are csc_slot/csc_value[csc_start[j]..csc_start[j+1]].
var<workgroup> csc_start: array<u32, FUSED_COLUMNS>;
var<workgroup> csc_slot: array<u32, STAGE_ENTRIES>;
var<workgroup> csc_value: array<f32, STAGE_ENTRIES>;

fn glm_intercept() -> u32 {
    return u32(param(2u));
}

/// The entry index of column `d` in staged row `slot`, or STAGE_ROW_WIDTH when absent.
fn find_column(slot: u32, d: u32) -> u32 {
    var low = row_start(slot);
    var high = row_end(slot);
    while (low < high) {
        let middle = (low + high) / 2u;
        let c = column(middle);
        if (c == d) {
            return middle;
        }
        if (c < d) {
            low = middle + 1u;
        } else {
            high = middle;
        }
    }
    return 0xFFFFFFFFu;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgld_glm_fused(@builtin(workgroup_id) group: vec3<u32>,
                  @builtin(num_workgroups) groups: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let first_chain = (group.x + group.y * groups.x) * FUSED_CHAINS;
    let dim = run.dim;
    let key = run_key(run);
    let offset = glm_intercept();
    // Load θ of the workgroup's chains (chains past the last one stay at zero, unused).
    for (var k = lid; k < FUSED_CHAINS * dim; k += WORKGROUP_SIZE) {
        let chain = first_chain + k / dim;
        if (chain < run.chains) {
            fused_theta[k] = theta[state_index(run, k % dim, chain)];
        }
    }
    for (var s = 0u; s < dispatch.step_count; s++) {
        let step = dispatch.first_step + s;
        let scalars = schedule[dispatch.table_offset + s];
        stage_batch(key, step, lid);
        workgroupBarrier();
        // A': count each column's entries in the batch, then lay the columns out in order.
        let features = FUSED_COLUMNS - 1u;
        for (var j = lid; j < features; j += WORKGROUP_SIZE) {
            var count = 0u;
            for (var slot = 0u; slot < data.batch; slot++) {
                count += u32(find_column(slot, j) != 0xFFFFFFFFu);
            }
            csc_start[j + 1u] = count;
        }
        workgroupBarrier();
        if (lid == 0u) {
            csc_start[0] = 0u;
            for (var j = 0u; j < features; j++) {
                csc_start[j + 1u] += csc_start[j];
            }
        }
        workgroupBarrier();
        for (var j = lid; j < features; j += WORKGROUP_SIZE) {
            var at = csc_start[j];
            for (var slot = 0u; slot < data.batch; slot++) {
                let e = find_column(slot, j);
                if (e != 0xFFFFFFFFu) {
                    csc_slot[at] = slot;
                    csc_value[at] = value(e);
                    at++;
                }
            }
        }
        workgroupBarrier();
        // B: linear predictor and likelihood derivative per (chain, example).
        for (var k = lid; k < FUSED_CHAINS * data.batch; k += WORKGROUP_SIZE) {
            let local = k / data.batch;
            let slot = k % data.batch;
            var eta = 0.0;
            if (offset == 1u) {
                eta = fused_theta[local * dim];
            }
            for (var e = row_start(slot); e < row_end(slot); e++) {
                eta = fma(value(e), fused_theta[local * dim + column(e) + offset], eta);
            }
            fused_g[k] = dloglik_deta(label(slot), eta);
        }
        workgroupBarrier();
        // C: the gradient per (chain, coordinate), examples in batch order.
        for (var k = lid; k < FUSED_CHAINS * dim; k += WORKGROUP_SIZE) {
            let local = k / dim;
            let d = k % dim;
            var acc = param(0u) * fused_theta[k];
            if (offset == 1u && d == 0u) {
                for (var slot = 0u; slot < data.batch; slot++) {
                    acc = fma(-data.scale, fused_g[local * data.batch + slot], acc);
                }
            } else {
                let j = d - offset;
                for (var e = csc_start[j]; e < csc_start[j + 1u]; e++) {
                    let g = fused_g[local * data.batch + csc_slot[e]];
                    acc = fma(-data.scale, g * csc_value[e], acc);
                }
            }
            fused_gradient[k] = acc;
        }
        workgroupBarrier();
        // D: the rule's step (rules.wgsl) for each (chain, block of 4); the rule's own state
        // stays in device memory.
        for (var k = lid; k < FUSED_CHAINS * run.blocks; k += WORKGROUP_SIZE) {
            let local = k / run.blocks;
            let block = k % run.blocks;
            let chain = first_chain + local;
            if (chain >= run.chains) {
                continue;
            }
            var x = vec4<f32>(0.0);
            var g = vec4<f32>(0.0);
            for (var lane = 0u; lane < 4u; lane++) {
                let d = block * 4u + lane;
                if (d < dim) {
                    x[lane] = fused_theta[local * dim + d];
                    g[lane] = fused_gradient[local * dim + d];
                }
            }
            let next = step_chain_block(chain, step, block, x, g, scalars);
            for (var lane = 0u; lane < 4u; lane++) {
                let d = block * 4u + lane;
                if (d < dim) {
                    fused_theta[local * dim + d] = next[lane];
                }
            }
        }
        // The next step's staging and B read what D wrote.
        workgroupBarrier();
    }
    for (var k = lid; k < FUSED_CHAINS * dim; k += WORKGROUP_SIZE) {
        let chain = first_chain + k / dim;
        if (chain < run.chains) {
            let i = state_index(run, k % dim, chain);
            theta[i] = fused_theta[k];
            if (dispatch.draw_slot != NO_DRAW) {
                draws[draw_index(run, dispatch.draw_slot, k % dim, chain)] = fused_theta[k];
            }
        }
    }
}
