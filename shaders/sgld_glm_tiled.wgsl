//! Tiled SGLD for generalised linear models with one mini-batch shared by all chains. Over the
//! chain axis the gradient is two matrix products (Welling & Teh 2011, eq. 4, for C chains):
//!   H = X_B Θ      (n × C: linear predictors, X_B the batch's rows with the intercept column),
//!   G = X_Bᵀ R     (D × C, with R = d log p(y | H)/dH elementwise),
//! and ∇Ũ = Θ/σ² − (N/n) G. A workgroup owns TILE chains for every step of a dispatch and runs
//! both products in TILE × TILE output tiles: a DEPTH-deep slice of each operand is loaded into
//! workgroup memory, and each of the 256 threads keeps a 4 × 4 block (4 rows or coordinates ×
//! 4 chains, one vec4 per row) in registers. R goes through device memory (`gradient`, n × C
//! chains-contiguous), written and read by the same workgroup only.
//!
//! The sums run in the order of the per-chain kernel (coordinates in order for H, examples in
//! batch order for G, starting from the prior term) and add exact zeros for the absent entries,
//! so the draws equal the global path's up to fma contraction.
//!
//! Bindings as data_target.wgsl declares them, except that `values` holds the features dense,
//! row-major (N × F), and `row_offsets`/`columns` are unused.

// TILE (chains per workgroup, and rows or coordinates per output tile), QUADS = TILE / 4
// (the vec4 groups of chains across a tile) and TILE_THREADS come from gpu/contract.rs.
/// Contraction depth of one tile load.
const DEPTH: u32 = 16u;

/// n, the batch size: the workgroup's copy of the step's batch indices.
override TILE_BATCH: u32 = 1u;

var<workgroup> batch_rows: array<u32, TILE_BATCH>;
/// DEPTH × QUADS vec4: a slice of Θ (coordinates × chains) or of R (examples × chains).
var<workgroup> chain_slice: array<vec4<f32>, 256>;
/// TILE × DEPTH (phase H) or DEPTH × TILE (phase G) features of the batch.
var<workgroup> data_slice: array<f32, 1024>;

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

/// Loads DEPTH rows of a chains-contiguous matrix for the workgroup's chains into chain_slice.
fn load_chain_slice(first_row: u32, rows: u32, first_chain: u32, lid: u32, from_theta: bool) {
    let row = first_row + lid / QUADS;
    let chain = first_chain + 4u * (lid % QUADS);
    chain_slice[lid] = vec4<f32>(
        chain_entry(row, rows, chain, from_theta),
        chain_entry(row, rows, chain + 1u, from_theta),
        chain_entry(row, rows, chain + 2u, from_theta),
        chain_entry(row, rows, chain + 3u, from_theta));
}

@compute @workgroup_size(TILE_THREADS)
fn sgld_glm_tiled(@builtin(workgroup_id) group: vec3<u32>,
                  @builtin(num_workgroups) groups: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let first_chain = (group.x + group.y * groups.x) * TILE;
    let dim = run.dim;
    let key = run_key(run);
    // This thread's block: rows (or coordinates) 4·band .. +3 of a tile, chains 4·quad .. +3.
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

        // H = X_B Θ, then R = d log p(y | η)/dη, one TILE of examples at a time.
        for (var first_slot = 0u; first_slot < data.batch; first_slot += TILE) {
            var eta = array<vec4<f32>, 4>();
            for (var first_d = 0u; first_d < dim; first_d += DEPTH) {
                for (var k = lid; k < TILE * DEPTH; k += TILE_THREADS) {
                    data_slice[k] = batch_feature(first_slot + k / DEPTH, first_d + k % DEPTH);
                }
                load_chain_slice(first_d, dim, first_chain, lid, true);
                workgroupBarrier();
                for (var kk = 0u; kk < DEPTH; kk++) {
                    let t = chain_slice[kk * QUADS + quad];
                    for (var i = 0u; i < 4u; i++) {
                        eta[i] = fma(vec4<f32>(data_slice[(4u * band + i) * DEPTH + kk]), t, eta[i]);
                    }
                }
                workgroupBarrier();
            }
            for (var i = 0u; i < 4u; i++) {
                let slot = first_slot + 4u * band + i;
                if (slot < data.batch) {
                    let y = labels[batch_rows[slot]];
                    for (var j = 0u; j < 4u; j++) {
                        if (my_chain + j < run.chains) {
                            gradient[slot * run.chains + my_chain + j] = dloglik_deta(y, eta[i][j]);
                        }
                    }
                }
            }
        }
        storageBarrier();
        workgroupBarrier();

        // G = X_Bᵀ R from the prior term on, then the move, one TILE of coordinates at a time.
        for (var first_d = 0u; first_d < dim; first_d += TILE) {
            var position = array<vec4<f32>, 4>();
            var grad = array<vec4<f32>, 4>();
            for (var i = 0u; i < 4u; i++) {
                let d = first_d + 4u * band + i;
                for (var j = 0u; j < 4u; j++) {
                    position[i][j] = chain_entry(d, dim, my_chain + j, true);
                }
                grad[i] = param(0u) * position[i];
            }
            for (var first_slot = 0u; first_slot < data.batch; first_slot += DEPTH) {
                for (var k = lid; k < TILE * DEPTH; k += TILE_THREADS) {
                    data_slice[k] = batch_feature(first_slot + k / TILE, first_d + k % TILE);
                }
                load_chain_slice(first_slot, data.batch, first_chain, lid, false);
                workgroupBarrier();
                for (var kk = 0u; kk < DEPTH; kk++) {
                    let r = chain_slice[kk * QUADS + quad];
                    for (var i = 0u; i < 4u; i++) {
                        let x = data_slice[kk * TILE + 4u * band + i];
                        grad[i] = fma(vec4<f32>(-data.scale), r * x, grad[i]);
                    }
                }
                workgroupBarrier();
            }
            // Coordinates 4·band .. +3 of the tile are one noise block of each chain: the
            // rule's step (rules.wgsl) for each of the thread's four chains.
            let block = (first_d + 4u * band) / 4u;
            for (var j = 0u; j < 4u; j++) {
                let chain = my_chain + j;
                if (chain >= run.chains || block >= run.blocks) {
                    continue;
                }
                var x = vec4<f32>(0.0);
                var g = vec4<f32>(0.0);
                for (var i = 0u; i < 4u; i++) {
                    x[i] = position[i][j];
                    g[i] = grad[i][j];
                }
                let next = step_chain_block(chain, step, block, x, g, scalars);
                for (var i = 0u; i < 4u; i++) {
                    let d = block * 4u + i;
                    if (d < dim) {
                        let at = state_index(run, d, chain);
                        theta[at] = next[i];
                        if (s + 1u == dispatch.step_count && dispatch.draw_slot != NO_DRAW) {
                            draws[draw_index(run, dispatch.draw_slot, d, chain)] = next[i];
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
