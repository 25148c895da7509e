//! A network's first layer as matrix products over every chain at once, for rows that every
//! chain shares: the forward here, the weights' gradient below (`net_update_tiled`). The
//! forward, for a shared batch or a test chunk:
//!   Z = X W₀ᵀ + b₀   over (examples) × (units · chains),
//! then φ(Z) unless the layer is the last. X (the pass's rows) is the same for every chain, so a
//! workgroup owns NET_TILE_CHAINS chains × NET_TILE_UNITS units × NET_TILE_EXAMPLES examples:
//! each thread keeps an 8-example × 4-chain block of z (one unit) in registers, and the inputs
//! go through workgroup memory NET_TILE_DEPTH at a time, X's slice shared by all the
//! workgroup's chains and each weight read once per NET_TILE_EXAMPLES examples (the blocked
//! `net_forward` reads it once per four). Every thread loads its part of the next slice into
//! registers before it multiplies the current one.
//!
//! Each z starts from the bias and adds the inputs in order with `fma`, as `net_forward` does,
//! so the activations (and the draws) are the same bit for bit.
//!
//! NET_TILE_* come from gpu/contract.rs, which checks that a slice is one input and two vec4
//! over chains per thread.

/// The pass's inputs j .. j + NET_TILE_DEPTH of examples e .. e + NET_TILE_EXAMPLES,
/// example-major.
var<workgroup> input_slice: array<f32, NET_TILE_EXAMPLES * NET_TILE_DEPTH>;
/// The weights of the workgroup's units for the same inputs, unit-major, then input, then
/// the vec4 groups of its chains.
var<workgroup> weight_slice: array<vec4<f32>, NET_TILE_UNITS * NET_TILE_DEPTH * NET_TILE_QUADS>;

/// A thread's part of one slice, held in registers between its loads and its stores: one
/// input, and two vec4 over chains (weights for the forward, deltas for the gradient).
struct SlicePart {
    input: f32,
    quads: array<vec4<f32>, 2>,
}

/// Feature j of the pass's example `i` (the same row for every chain; zero outside).
fn shared_input(i: u32, j: u32, examples: u32) -> f32 {
    if (i >= examples || j >= net_layers[0].inputs) {
        return 0.0;
    }
    // Rows are shared, so the first chain's row is every chain's.
    return feature(example_row(0u, i) * net.features + j);
}

/// Weight (u, j) of four chains from `chain` on (zero outside).
fn weight_quad(u: u32, j: u32, chain: u32) -> vec4<f32> {
    let layer = net_layers[0];
    var w = vec4<f32>(0.0);
    if (u >= layer.outputs || j >= layer.inputs) {
        return w;
    }
    for (var c = 0u; c < 4u; c++) {
        if (chain + c < network_chains()) {
            w[c] = weight(layer, u, j, chain + c);
        }
    }
    return w;
}

fn load_forward_slice(first_example: u32, first_j: u32, first_unit: u32, first_chain: u32,
                      examples: u32, lid: u32) -> SlicePart {
    var part: SlicePart;
    part.input = shared_input(first_example + lid / NET_TILE_DEPTH, first_j + lid % NET_TILE_DEPTH,
                              examples);
    for (var r = 0u; r < 2u; r++) {
        // v = (unit · NET_TILE_DEPTH + input) · NET_TILE_QUADS + quad, as weight_slice is laid out.
        let v = lid + r * NET_TILE_THREADS;
        let quad = v % NET_TILE_QUADS;
        let kk = (v / NET_TILE_QUADS) % NET_TILE_DEPTH;
        let a = v / (NET_TILE_QUADS * NET_TILE_DEPTH);
        part.quads[r] = weight_quad(first_unit + a, first_j + kk, first_chain + 4u * quad);
    }
    return part;
}

fn store_forward_slice(part: SlicePart, lid: u32) {
    input_slice[lid] = part.input;
    for (var r = 0u; r < 2u; r++) {
        weight_slice[lid + r * NET_TILE_THREADS] = part.quads[r];
    }
}

/// A workgroup's tile: NET_TILE_CHAINS chains from `first_chain`, NET_TILE_UNITS units from
/// `first_unit`, and 32 examples (forward) or inputs (gradient) from `first_row`, the
/// workgroups numbered chains fastest, then units, then rows.
struct NetTile {
    first_chain: u32,
    first_unit: u32,
    first_row: u32,
}

fn net_tile(group: vec3<u32>, groups: vec3<u32>) -> NetTile {
    let chain_tiles = (network_chains() + NET_TILE_CHAINS - 1u) / NET_TILE_CHAINS;
    let unit_tiles = (net_layers[0].outputs + NET_TILE_UNITS - 1u) / NET_TILE_UNITS;
    let tile = group.x + group.y * groups.x;
    return NetTile((tile % chain_tiles) * NET_TILE_CHAINS,
                   ((tile / chain_tiles) % unit_tiles) * NET_TILE_UNITS,
                   (tile / (chain_tiles * unit_tiles)) * NET_TILE_EXAMPLES);
}

/// A thread's block of its workgroup's tile: chains `chain` .. +3 (the `quad`-th four), unit
/// `unit` (the tile's `a`-th), rows 8·band .. +7 of the tile.
struct NetBlock {
    quad: u32,
    a: u32,
    band: u32,
    chain: u32,
    unit: u32,
}

fn net_block(tile: NetTile, lid: u32) -> NetBlock {
    let quad = lid % NET_TILE_QUADS;
    let a = (lid / NET_TILE_QUADS) % NET_TILE_UNITS;
    let band = lid / (NET_TILE_QUADS * NET_TILE_UNITS);
    return NetBlock(quad, a, band, tile.first_chain + 4u * quad, tile.first_unit + a);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn net_forward_tiled(@builtin(workgroup_id) group: vec3<u32>,
                     @builtin(num_workgroups) groups: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let layer = net_layers[0];
    let chains = network_chains();
    let examples = pass_examples();
    let tile = net_tile(group, groups);
    let first_chain = tile.first_chain;
    let first_unit = tile.first_unit;
    let first_example = tile.first_row;
    // Workgroups past the last (the grid is rounded up, and a test set's last chunk may be
    // short): the whole workgroup leaves.
    if (first_example >= examples) {
        return;
    }
    let me = net_block(tile, lid);
    var bias = vec4<f32>(0.0);
    for (var c = 0u; c < 4u; c++) {
        if (me.unit < layer.outputs && me.chain + c < chains) {
            bias[c] = theta[state_index(run, layer.biases + me.unit, me.chain + c)];
        }
    }
    let hidden = net.layers > 1u;
    var z: array<vec4<f32>, 8>;
    for (var i = 0u; i < 8u; i++) {
        z[i] = bias;
    }
    var next = load_forward_slice(first_example, 0u, first_unit, first_chain, examples, lid);
    for (var first_j = 0u; first_j < layer.inputs; first_j += NET_TILE_DEPTH) {
        store_forward_slice(next, lid);
        workgroupBarrier();
        if (first_j + NET_TILE_DEPTH < layer.inputs) {
            next = load_forward_slice(first_example, first_j + NET_TILE_DEPTH, first_unit,
                                      first_chain, examples, lid);
        }
        for (var kk = 0u; kk < NET_TILE_DEPTH; kk++) {
            let w = weight_slice[(me.a * NET_TILE_DEPTH + kk) * NET_TILE_QUADS + me.quad];
            for (var i = 0u; i < 8u; i++) {
                let x = input_slice[(8u * me.band + i) * NET_TILE_DEPTH + kk];
                z[i] = fma(vec4<f32>(x), w, z[i]);
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 8u; i++) {
        let example = first_example + 8u * me.band + i;
        if (example >= examples || me.unit >= layer.outputs) {
            continue;
        }
        for (var c = 0u; c < 4u; c++) {
            let chain = me.chain + c;
            if (chain >= chains) {
                continue;
            }
            var activation = z[i][c];
            if (hidden) {
                if (net.activation == ACTIVATION_RELU) {
                    activation = max(activation, 0.0);
                } else {
                    activation = tanh(activation);
                }
            }
            activations[unit_index(0u, example, me.unit, chain)] = activation;
        }
    }
}

// The first layer's weights: the gradient as the same product transposed, then the move.
//   ∂Ũ/∂W₀[u][j] = λ W₀[u][j] + (N/n) Σᵢ δᵢ[u] xᵢ[j]   over (units · inputs) × chains,
// a workgroup per NET_TILE_CHAINS chains × NET_TILE_UNITS units × NET_TILE_INPUTS inputs, the
// batch's examples NET_TILE_DEPTH at a time: their deltas (units × chains) and inputs staged in
// workgroup memory, each thread an 8-input × 4-chain block of one unit. Two noise blocks of
// four weights per chain then take the rule's step as in `net_update`, which runs every other
// parameter (`UPDATE_FIRST_BLOCK`). Needs inputs divisible by 4, so that a unit's weights start
// a noise block.

/// Deltas of the workgroup's units for NET_TILE_DEPTH examples, example-major, then unit, then
/// the vec4 groups of its chains.
var<workgroup> delta_slice: array<vec4<f32>, NET_TILE_DEPTH * NET_TILE_UNITS * NET_TILE_QUADS>;
/// Inputs j .. j + NET_TILE_INPUTS of the same examples, example-major.
var<workgroup> batch_input_slice: array<f32, NET_TILE_DEPTH * NET_TILE_INPUTS>;

/// Deltas of unit u for four chains from `chain` on, at the batch's example i (zero outside).
fn delta_quad(i: u32, u: u32, chain: u32) -> vec4<f32> {
    var d = vec4<f32>(0.0);
    if (i >= net.batch || u >= net_layers[0].outputs) {
        return d;
    }
    for (var c = 0u; c < 4u; c++) {
        if (chain + c < network_chains()) {
            d[c] = deltas[unit_index(0u, i, u, chain + c)];
        }
    }
    return d;
}

fn load_gradient_slice(first_slot: u32, first_j: u32, first_unit: u32, first_chain: u32,
                       lid: u32) -> SlicePart {
    var part: SlicePart;
    part.input = shared_input(first_slot + lid / NET_TILE_INPUTS,
                              first_j + lid % NET_TILE_INPUTS, net.batch);
    for (var r = 0u; r < 2u; r++) {
        // v = (example · NET_TILE_UNITS + unit) · NET_TILE_QUADS + quad, as delta_slice is laid out.
        let v = lid + r * NET_TILE_THREADS;
        let quad = v % NET_TILE_QUADS;
        let a = (v / NET_TILE_QUADS) % NET_TILE_UNITS;
        let kk = v / (NET_TILE_QUADS * NET_TILE_UNITS);
        part.quads[r] = delta_quad(first_slot + kk, first_unit + a, first_chain + 4u * quad);
    }
    return part;
}

fn store_gradient_slice(part: SlicePart, lid: u32) {
    batch_input_slice[lid] = part.input;
    for (var r = 0u; r < 2u; r++) {
        delta_slice[lid + r * NET_TILE_THREADS] = part.quads[r];
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn net_update_tiled(@builtin(workgroup_id) group: vec3<u32>,
                    @builtin(num_workgroups) groups: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let layer = net_layers[0];
    let chains = network_chains();
    let tile = net_tile(group, groups);
    let first_chain = tile.first_chain;
    let first_unit = tile.first_unit;
    let first_j = tile.first_row;
    // Workgroups past the last (the grid is rounded up): the whole workgroup leaves.
    if (first_j >= layer.inputs) {
        return;
    }
    let me = net_block(tile, lid);
    var data_term: array<vec4<f32>, 8>;
    var next = load_gradient_slice(0u, first_j, first_unit, first_chain, lid);
    for (var first_slot = 0u; first_slot < net.batch; first_slot += NET_TILE_DEPTH) {
        store_gradient_slice(next, lid);
        workgroupBarrier();
        if (first_slot + NET_TILE_DEPTH < net.batch) {
            next = load_gradient_slice(first_slot + NET_TILE_DEPTH, first_j, first_unit,
                                       first_chain, lid);
        }
        for (var kk = 0u; kk < NET_TILE_DEPTH; kk++) {
            let delta = delta_slice[(kk * NET_TILE_UNITS + me.a) * NET_TILE_QUADS + me.quad];
            for (var i = 0u; i < 8u; i++) {
                let x = batch_input_slice[kk * NET_TILE_INPUTS + 8u * me.band + i];
                data_term[i] = fma(delta, vec4<f32>(x), data_term[i]);
            }
        }
        workgroupBarrier();
    }
    let step = dispatch.first_step;
    let scalars = schedule[dispatch.table_offset];
    for (var second = 0u; second < 2u; second++) {
        let j = first_j + 8u * me.band + 4u * second;
        if (me.unit >= layer.outputs || j >= layer.inputs) {
            continue;
        }
        let first = layer.weights + me.unit * layer.inputs + j;
        for (var c = 0u; c < 4u; c++) {
            let chain = me.chain + c;
            if (chain >= chains) {
                continue;
            }
            var x = vec4<f32>(0.0);
            var g = vec4<f32>(0.0);
            for (var lane = 0u; lane < 4u; lane++) {
                x[lane] = theta[state_index(run, first + lane, chain)];
                g[lane] = fma(net.scale, data_term[4u * second + lane][c],
                              layer.weight_precision * x[lane]);
            }
            let moved = step_chain_block(chain, step, first / 4u, x, g, scalars);
            for (var lane = 0u; lane < 4u; lane++) {
                theta[state_index(run, first + lane, chain)] = moved[lane];
                if (dispatch.draw_slot != NO_DRAW) {
                    draws[draw_index(run, dispatch.draw_slot, first + lane, chain)] = moved[lane];
                }
            }
        }
    }
}
