//! Fused multi-step SGLD for generalised linear models: a workgroup advances FUSED_CHAINS
//! chains through every step of a dispatch with θ held in workgroup memory, drawing one batch
//! for all of them (or, with FUSED_PER_CHAIN, one chain per workgroup drawing its own). Per
//! step, separated by barriers:
//!   A. draw the batch once and stage its rows (data_access_staged.wgsl), then build the
//!      batch column-major, deterministically and in example order without any search: each
//!      stored entry sets bit `slot` of its column's mask; a column's entry count is the
//!      popcount of its mask, its start a prefix sum of the counts, and an entry's place the
//!      popcount of its column's bits below its slot. Columns are cut into chunks of
//!      FUSED_CHUNK entries in example order (13 of a9a's columns hold more than 30% of rows)
//!      so that no thread walks a long column alone;
//!   B. for each (chain, example): η = θ₀·[intercept] + xᵀθ and g = d log p(y | η)/dη;
//!   C. for each (chain, chunk): the chunk's sum of −(N/n) g_i x_id in example order (a
//!      column's first chunk starting from θ_d/σ²); then for each (chain, coordinate): ∇_d,
//!      its column's chunk sums in chunk order;
//!   D. for each (chain, block of 4): the rule's step (rules.wgsl).
//! θ goes back to device memory, and into the draw slot, after the dispatch's last step. A
//! column of more than FUSED_CHUNK entries is summed in chunks where the global path sums one
//! example after another, so the draws agree with it to float rounding (tests/regression.rs).

/// Chains per workgroup, G (1 with FUSED_PER_CHAIN).
override FUSED_CHAINS: u32 = 4u;
/// Whether every chain draws its own batch (then G = 1: the workgroup stages its chain's).
override FUSED_PER_CHAIN: bool = false;
/// G · D: θ and ∇ of the workgroup's chains, chain-major.
override FUSED_STATE: u32 = 4u;
/// G · n: g of every (chain, example).
override FUSED_PAIRS: u32 = 4u;
/// F + 1 for F features: the column starts of the batch's column-major copy (and the total).
override FUSED_COLUMNS: u32 = 2u;
/// F · ⌈n/32⌉: one bit per (column, slot).
override FUSED_MASK_WORDS: u32 = 1u;
/// The most chunks a step can have: ⌈n/FUSED_CHUNK⌉ for the intercept, one per column, and
/// ⌊n·w/FUSED_CHUNK⌋ more.
override FUSED_CHUNKS: u32 = 1u;
/// G · FUSED_CHUNKS: each (chain, chunk)'s sum.
override FUSED_PARTIALS: u32 = 1u;

/// `fused_chunk_column` of the intercept's chunks (its "column" holds every example).
const INTERCEPT_CHUNK: u32 = 0xFFFFFFFFu;

var<workgroup> fused_theta: array<f32, FUSED_STATE>;
var<workgroup> fused_gradient: array<f32, FUSED_STATE>;
var<workgroup> fused_g: array<f32, FUSED_PAIRS>;
var<workgroup> fused_mask: array<atomic<u32>, FUSED_MASK_WORDS>;
/// Column j's entries are csc_slot/csc_value[csc_start[j]..csc_start[j + 1]], in slot order.
var<workgroup> csc_start: array<u32, FUSED_COLUMNS>;
var<workgroup> csc_slot: array<u32, STAGE_ENTRIES>;
var<workgroup> csc_value: array<f32, STAGE_ENTRIES>;
/// Column j's chunks are ids intercept_chunks + chunk_start[j] .. + chunk_start[j + 1].
var<workgroup> chunk_start: array<u32, FUSED_COLUMNS>;
var<workgroup> fused_chunk_column: array<u32, FUSED_CHUNKS>;
var<workgroup> fused_partial: array<f32, FUSED_PARTIALS>;
/// Each thread's (entries, chunks) total in the prefix sum over columns.
var<workgroup> scan_total: array<vec2<u32>, WORKGROUP_SIZE>;

fn glm_intercept() -> u32 {
    return u32(param(2u));
}

fn mask_words() -> u32 {
    return (data.batch + 31u) / 32u;
}

/// Entries of column `j` in the staged batch.
fn column_count(j: u32) -> u32 {
    var count = 0u;
    for (var w = 0u; w < mask_words(); w++) {
        count += countOneBits(atomicLoad(&fused_mask[j * mask_words() + w]));
    }
    return count;
}

/// How many entries of column `j` come from slots before `slot`.
fn column_rank(j: u32, slot: u32) -> u32 {
    var rank = 0u;
    for (var w = 0u; w < slot / 32u; w++) {
        rank += countOneBits(atomicLoad(&fused_mask[j * mask_words() + w]));
    }
    let below = (1u << (slot % 32u)) - 1u;
    return rank + countOneBits(atomicLoad(&fused_mask[j * mask_words() + slot / 32u]) & below);
}

/// Exclusive prefix sums of the columns' (entry, chunk) counts into csc_start and
/// chunk_start, entry F holding the totals: each thread sums a run of columns, a
/// Hillis–Steele scan adds up the runs. Uniform control flow (barriers).
fn scan_columns(lid: u32) {
    let features = FUSED_COLUMNS - 1u;
    let per_thread = (features + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE;
    let first = min(lid * per_thread, features);
    let end = min(first + per_thread, features);
    var running = vec2<u32>(0u);
    for (var j = first; j < end; j++) {
        let count = column_count(j);
        csc_start[j] = running.x;
        chunk_start[j] = running.y;
        running += vec2<u32>(count, (count + FUSED_CHUNK - 1u) / FUSED_CHUNK);
    }
    scan_total[lid] = running;
    workgroupBarrier();
    for (var offset = 1u; offset < WORKGROUP_SIZE; offset *= 2u) {
        var sum = scan_total[lid];
        if (lid >= offset) {
            sum += scan_total[lid - offset];
        }
        workgroupBarrier();
        scan_total[lid] = sum;
        workgroupBarrier();
    }
    var before = vec2<u32>(0u);
    if (lid > 0u) {
        before = scan_total[lid - 1u];
    }
    for (var j = first; j < end; j++) {
        csc_start[j] += before.x;
        chunk_start[j] += before.y;
    }
    if (lid == WORKGROUP_SIZE - 1u) {
        csc_start[features] = scan_total[lid].x;
        chunk_start[features] = scan_total[lid].y;
    }
    workgroupBarrier();
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgld_glm_fused(@builtin(workgroup_id) group: vec3<u32>,
                  @builtin(num_workgroups) groups: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let first_chain = (group.x + group.y * groups.x) * FUSED_CHAINS;
    let dim = run.dim;
    let key = run_key(run);
    let offset = glm_intercept();
    let features = FUSED_COLUMNS - 1u;
    var owner = SHARED_BATCH;
    if (FUSED_PER_CHAIN) {
        owner = global_chain(run, min(first_chain, run.chains - 1u));
    }
    // The intercept's column holds every example: its chunks come first.
    var intercept_chunks = 0u;
    if (offset == 1u) {
        intercept_chunks = (data.batch + FUSED_CHUNK - 1u) / FUSED_CHUNK;
    }
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
        // A: stage the batch (its barriers also order the masks' clearing before their use).
        for (var w = lid; w < features * mask_words(); w += WORKGROUP_SIZE) {
            atomicStore(&fused_mask[w], 0u);
        }
        stage_batch(key, owner, step, lid);
        for (var e = lid; e < data.batch * STAGE_ROW_WIDTH; e += WORKGROUP_SIZE) {
            let slot = e / STAGE_ROW_WIDTH;
            if (e % STAGE_ROW_WIDTH < staged_length[slot]) {
                let j = staged_column[e];
                atomicOr(&fused_mask[j * mask_words() + slot / 32u], 1u << (slot % 32u));
            }
        }
        workgroupBarrier();
        scan_columns(lid);
        for (var e = lid; e < data.batch * STAGE_ROW_WIDTH; e += WORKGROUP_SIZE) {
            let slot = e / STAGE_ROW_WIDTH;
            if (e % STAGE_ROW_WIDTH < staged_length[slot]) {
                let j = staged_column[e];
                let at = csc_start[j] + column_rank(j, slot);
                csc_slot[at] = slot;
                csc_value[at] = staged_value[e];
            }
        }
        for (var i = lid; i < intercept_chunks; i += WORKGROUP_SIZE) {
            fused_chunk_column[i] = INTERCEPT_CHUNK;
        }
        for (var j = lid; j < features; j += WORKGROUP_SIZE) {
            for (var c = chunk_start[j]; c < chunk_start[j + 1u]; c++) {
                fused_chunk_column[intercept_chunks + c] = j;
            }
        }
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
        // C: each (chain, chunk)'s sum, examples in batch order; a column's first chunk
        // starts from the prior term, so a column of at most FUSED_CHUNK entries is summed
        // exactly as the global path sums it.
        let chunks = intercept_chunks + chunk_start[features];
        for (var k = lid; k < FUSED_CHAINS * chunks; k += WORKGROUP_SIZE) {
            let local = k / chunks;
            let id = k % chunks;
            let j = fused_chunk_column[id];
            var acc = 0.0;
            if (j == INTERCEPT_CHUNK) {
                if (id == 0u) {
                    acc = param(0u) * fused_theta[local * dim];
                }
                for (var slot = id * FUSED_CHUNK; slot < min(data.batch, (id + 1u) * FUSED_CHUNK); slot++) {
                    acc = fma(-data.scale, fused_g[local * data.batch + slot], acc);
                }
            } else {
                let within = id - intercept_chunks - chunk_start[j];
                if (within == 0u) {
                    acc = param(0u) * fused_theta[local * dim + j + offset];
                }
                let first = csc_start[j] + within * FUSED_CHUNK;
                for (var e = first; e < min(first + FUSED_CHUNK, csc_start[j + 1u]); e++) {
                    let g = fused_g[local * data.batch + csc_slot[e]];
                    acc = fma(-data.scale, g * csc_value[e], acc);
                }
            }
            fused_partial[local * FUSED_CHUNKS + id] = acc;
        }
        workgroupBarrier();
        // ... then the gradient per (chain, coordinate): its column's chunks in order, or the
        // prior term alone for a column the batch does not touch.
        for (var k = lid; k < FUSED_CHAINS * dim; k += WORKGROUP_SIZE) {
            let local = k / dim;
            let d = k % dim;
            var first = 0u;
            var end = intercept_chunks;
            if (offset == 0u || d > 0u) {
                let j = d - offset;
                first = intercept_chunks + chunk_start[j];
                end = intercept_chunks + chunk_start[j + 1u];
            }
            var acc = param(0u) * fused_theta[k];
            if (first < end) {
                acc = fused_partial[local * FUSED_CHUNKS + first];
            }
            for (var id = first + 1u; id < end; id++) {
                acc += fused_partial[local * FUSED_CHUNKS + id];
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
