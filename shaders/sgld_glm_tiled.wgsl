//! Tiled SGLD for generalised linear models with one mini-batch shared by all chains. Over the
//! chain axis the gradient is two matrix products (Welling & Teh 2011, eq. 4, for C chains):
//!   H = X_B Θ      (n × C: linear predictors, X_B the batch's rows with the intercept column),
//!   G = X_Bᵀ R     (D × C, with R = d log p(y | H)/dH elementwise),
//! and ∇Ũ = Θ/σ² − (N/n) G. A workgroup owns TILE chains for every step of a dispatch and runs
//! both products in TILE_ROWS × TILE output tiles. Each of its 256 threads keeps an 8 × 4
//! block (8 rows or coordinates × 4 chains, one vec4 per row) in registers. The operands go
//! through workgroup memory a TILE_DEPTH-deep slice at a time, and every thread loads its part
//! of the next slice into registers before it multiplies the current one, so the loads'
//! latency hides behind the products. R stays in workgroup memory from H to G where the batch
//! fits (`TILE_R_ON_CHIP`); otherwise it goes through device memory (`gradient`, n × C,
//! chains contiguous), written and read by the same workgroup only.
//!
//! The sums run in the order of the per-chain kernel (coordinates in order for H, examples in
//! batch order for G, starting from the prior term) and add exact zeros for the absent entries,
//! so the draws equal the global path's up to fma contraction.
//!
//! Bindings as data_target.wgsl declares them, except that `values` holds the features dense,
//! row-major (N × F), and `row_offsets`/`columns` are unused.

// TILE (chains per workgroup), QUADS = TILE / 4 (the vec4 groups of chains across a tile),
// TILE_THREADS, TILE_ROWS and TILE_DEPTH come from gpu/contract.rs, which also checks that a
// slice is four features and at most one vec4 of chains per thread.

/// n, the batch size: the workgroup's copy of the step's batch indices.
override TILE_BATCH: u32 = 1u;
/// Whether R lives in workgroup memory (`r_tile`) for the step, or in `gradient`.
override TILE_R_ON_CHIP: bool = false;
/// Vec4 entries of `r_tile`: n × QUADS with R on chip, else 1 (unused).
override TILE_R_VEC4S: u32 = 1u;

var<workgroup> batch_rows: array<u32, TILE_BATCH>;
/// TILE_DEPTH × QUADS vec4: a slice of Θ (coordinates × chains) or of R from device memory
/// (examples × chains).
var<workgroup> chain_slice: array<vec4<f32>, TILE_DEPTH * QUADS>;
/// TILE_ROWS × TILE_DEPTH (phase H) or TILE_DEPTH × TILE_ROWS (phase G) features of the batch.
var<workgroup> data_slice: array<f32, TILE_ROWS * TILE_DEPTH>;
/// R for the workgroup's chains, examples × QUADS vec4, when it stays on chip.
var<workgroup> r_tile: array<vec4<f32>, TILE_R_VEC4S>;

/// Feature d of the batch's example in `slot`, with the intercept as feature 0; zero outside.
fn batch_feature(slot: u32, d: u32) -> f32 {
    let offset = u32(param(2u));
    if (slot >= data.batch || d >= run.dim) {
        return 0.0;
    }
    if (offset == 1u && d == 0u) {
        return 1.0;
    }
    let features = run.dim - offset;
    return values[batch_rows[slot] * features + d - offset];
}

/// θ or R entry (row, chain) of a chains-contiguous matrix, zero outside [0, rows) × [0, C).
fn chain_entry(row: u32, rows: u32, chain: u32, from_theta: bool) -> f32 {
    if (row >= rows || chain >= run.chains) {
        return 0.0;
    }
    if (from_theta) {
        return theta[state_index(run, row, chain)];
    }
    return gradient[row * run.chains + chain];
}

/// Four chains' entries of one row, from `chain` on.
fn chain_quad(row: u32, rows: u32, chain: u32, from_theta: bool) -> vec4<f32> {
    return vec4<f32>(
        chain_entry(row, rows, chain, from_theta),
        chain_entry(row, rows, chain + 1u, from_theta),
        chain_entry(row, rows, chain + 2u, from_theta),
        chain_entry(row, rows, chain + 3u, from_theta));
}

/// A thread's part of one slice, held in registers between its loads and its stores to
/// workgroup memory: four features, and one vec4 of chains for the first TILE_DEPTH · QUADS
/// threads (when the slice has chains).
struct SlicePart {
    features: vec4<f32>,
    chains: vec4<f32>,
}

/// Phase H's slice: examples first_slot .. + TILE_ROWS by coordinates first_d .. + TILE_DEPTH
/// of the batch, and the same coordinates of Θ.
fn load_h_slice(first_slot: u32, first_d: u32, first_chain: u32, lid: u32) -> SlicePart {
    var part = SlicePart(vec4<f32>(0.0), vec4<f32>(0.0));
    for (var i = 0u; i < 4u; i++) {
        let k = lid + i * TILE_THREADS;
        part.features[i] = batch_feature(first_slot + k / TILE_DEPTH, first_d + k % TILE_DEPTH);
    }
    if (lid < TILE_DEPTH * QUADS) {
        let chain = first_chain + 4u * (lid % QUADS);
        part.chains = chain_quad(first_d + lid / QUADS, run.dim, chain, true);
    }
    return part;
}

/// Phase G's slice: examples first_slot .. + TILE_DEPTH by coordinates first_d .. + TILE_ROWS
/// of the batch, and the same examples of R when R is in device memory.
fn load_g_slice(first_slot: u32, first_d: u32, first_chain: u32, lid: u32) -> SlicePart {
    var part = SlicePart(vec4<f32>(0.0), vec4<f32>(0.0));
    for (var i = 0u; i < 4u; i++) {
        let k = lid + i * TILE_THREADS;
        part.features[i] = batch_feature(first_slot + k / TILE_ROWS, first_d + k % TILE_ROWS);
    }
    if (!TILE_R_ON_CHIP && lid < TILE_DEPTH * QUADS) {
        let chain = first_chain + 4u * (lid % QUADS);
        part.chains = chain_quad(first_slot + lid / QUADS, data.batch, chain, false);
    }
    return part;
}

fn store_slice(part: SlicePart, lid: u32) {
    for (var i = 0u; i < 4u; i++) {
        data_slice[lid + i * TILE_THREADS] = part.features[i];
    }
    if (lid < TILE_DEPTH * QUADS) {
        chain_slice[lid] = part.chains;
    }
}

/// R of the batch's example in `slot` for the thread's four chains (zero past the batch).
fn r_quad(slot: u32, kk: u32, quad: u32) -> vec4<f32> {
    if (!TILE_R_ON_CHIP) {
        return chain_slice[kk * QUADS + quad];
    }
    if (slot >= data.batch) {
        return vec4<f32>(0.0);
    }
    return r_tile[slot * QUADS + quad];
}

@compute @workgroup_size(TILE_THREADS)
fn sgld_glm_tiled(@builtin(workgroup_id) group: vec3<u32>,
                  @builtin(num_workgroups) groups: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let first_chain = (group.x + group.y * groups.x) * TILE;
    let dim = run.dim;
    let key = run_key(run);
    // This thread's block: rows (or coordinates) 8·band .. +7 of a tile, chains 4·quad .. +3.
    let quad = lid % QUADS;
    let band = lid / QUADS;
    let my_chain = first_chain + 4u * quad;
    for (var s = 0u; s < dispatch.step_count; s++) {
        let step = dispatch.first_step + s;
        let scalars = schedule[dispatch.table_offset + s];
        var cursor = batch_cursor(key, SHARED_BATCH, step);
        for (var j = lid; j < data.batch; j += TILE_THREADS) {
            batch_rows[j] = next_batch_index(&cursor, key, data.mode, data.batch, data.rows, j);
        }
        workgroupBarrier();

        // H = X_B Θ, then R = d log p(y | η)/dη, one tile of TILE_ROWS examples at a time.
        for (var first_slot = 0u; first_slot < data.batch; first_slot += TILE_ROWS) {
            var eta = array<vec4<f32>, 8>();
            var next = load_h_slice(first_slot, 0u, first_chain, lid);
            for (var first_d = 0u; first_d < dim; first_d += TILE_DEPTH) {
                store_slice(next, lid);
                workgroupBarrier();
                if (first_d + TILE_DEPTH < dim) {
                    next = load_h_slice(first_slot, first_d + TILE_DEPTH, first_chain, lid);
                }
                for (var kk = 0u; kk < TILE_DEPTH; kk++) {
                    let t = chain_slice[kk * QUADS + quad];
                    for (var i = 0u; i < 8u; i++) {
                        let x = data_slice[(8u * band + i) * TILE_DEPTH + kk];
                        eta[i] = fma(vec4<f32>(x), t, eta[i]);
                    }
                }
                workgroupBarrier();
            }
            for (var i = 0u; i < 8u; i++) {
                let slot = first_slot + 8u * band + i;
                if (slot < data.batch) {
                    let y = labels[batch_rows[slot]];
                    var r = vec4<f32>(0.0);
                    for (var j = 0u; j < 4u; j++) {
                        r[j] = dloglik_deta(y, eta[i][j]);
                    }
                    if (TILE_R_ON_CHIP) {
                        r_tile[slot * QUADS + quad] = r;
                    } else {
                        for (var j = 0u; j < 4u; j++) {
                            if (my_chain + j < run.chains) {
                                gradient[slot * run.chains + my_chain + j] = r[j];
                            }
                        }
                    }
                }
            }
        }
        storageBarrier();
        workgroupBarrier();

        // G = X_Bᵀ R from the prior term on, then the move, one tile of TILE_ROWS coordinates
        // at a time.
        for (var first_d = 0u; first_d < dim; first_d += TILE_ROWS) {
            var position = array<vec4<f32>, 8>();
            var grad = array<vec4<f32>, 8>();
            for (var i = 0u; i < 8u; i++) {
                position[i] = chain_quad(first_d + 8u * band + i, dim, my_chain, true);
                grad[i] = param(0u) * position[i];
            }
            var next = load_g_slice(0u, first_d, first_chain, lid);
            for (var first_slot = 0u; first_slot < data.batch; first_slot += TILE_DEPTH) {
                store_slice(next, lid);
                workgroupBarrier();
                if (first_slot + TILE_DEPTH < data.batch) {
                    next = load_g_slice(first_slot + TILE_DEPTH, first_d, first_chain, lid);
                }
                for (var kk = 0u; kk < TILE_DEPTH; kk++) {
                    let r = r_quad(first_slot + kk, kk, quad);
                    for (var i = 0u; i < 8u; i++) {
                        let x = data_slice[kk * TILE_ROWS + 8u * band + i];
                        grad[i] = fma(vec4<f32>(-data.scale), r * x, grad[i]);
                    }
                }
                workgroupBarrier();
            }
            // Coordinates 8·band .. +7 of the tile are two noise blocks of each chain: the
            // rule's step (rules.wgsl) for each of the thread's four chains.
            for (var second = 0u; second < 2u; second++) {
                let block = (first_d + 8u * band) / 4u + second;
                for (var j = 0u; j < 4u; j++) {
                    let chain = my_chain + j;
                    if (chain >= run.chains || block >= run.blocks) {
                        continue;
                    }
                    var x = vec4<f32>(0.0);
                    var g = vec4<f32>(0.0);
                    for (var i = 0u; i < 4u; i++) {
                        x[i] = position[4u * second + i][j];
                        g[i] = grad[4u * second + i][j];
                    }
                    let moved = step_chain_block(chain, step, block, x, g, scalars);
                    for (var i = 0u; i < 4u; i++) {
                        let d = block * 4u + i;
                        if (d < dim) {
                            let at = state_index(run, d, chain);
                            theta[at] = moved[i];
                            if (s + 1u == dispatch.step_count && dispatch.draw_slot != NO_DRAW) {
                                draws[draw_index(run, dispatch.draw_slot, d, chain)] = moved[i];
                            }
                        }
                    }
                }
            }
        }
        // The next step's H reads the θ this step wrote, and rewrites R and the batch.
        storageBarrier();
        workgroupBarrier();
    }
}
