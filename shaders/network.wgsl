//! Feed-forward networks (model/network.rs has the equations and the CPU twin): one step is a
//! sequence of dispatches, each a pass over every chain at once, so that no invocation loops
//! over more than one layer's width or one batch:
//!   net_batch       the step's batch rows (four indices from each Philox call);
//!   net_forward     layer LAYER: z = W a + b for every (chain, example, unit), then φ(z) for
//!                   hidden layers (the last layer keeps z);
//!   net_output      δ_L = ∂(−log p(y | z))/∂z for every (chain, example);
//!   net_backward    layer LAYER's δ_{LAYER−1} = (Wᵀ δ) ⊙ φ'(a) for every (chain, example, input);
//!   net_update      for every (chain, block of 4 parameters): ∇Ũ = prior + (N/n) Σᵢ δ a, and
//!                   the rule's step (rules.wgsl), the draw stored when the step keeps one;
//!   net_predict     after a kept draw, on a chunk of the test set run forward: the chains'
//!                   predictive probabilities (T = 1 chains, finite ones) summed per example.
//! Activations and deltas are laid out [layer][example][unit][chain], chains contiguous, so
//! neighbouring threads touch neighbouring words; θ is dimension-major as everywhere.

/// The layer a forward or backward pipeline is built for.
override LAYER: u32 = 0u;

const OUTPUT_CATEGORICAL: u32 = 0u;
const OUTPUT_BERNOULLI: u32 = 1u;
const OUTPUT_GAUSSIAN: u32 = 2u;
const ACTIVATION_RELU: u32 = 1u;

fn network_chains() -> u32 {
    return run.chains;
}

/// The data row of example `i` of this pass for `chain`: the step's batch, or the test chunk.
fn example_row(chain: u32, i: u32) -> u32 {
    if (net.testing == 1u) {
        return chunk.first + i;
    }
    var owner = 0u;
    if (net.per_chain == 1u) {
        owner = chain;
    }
    return batch_rows[owner * net.batch + i];
}

/// Examples in this pass: the batch, or the test chunk's.
fn pass_examples() -> u32 {
    if (net.testing == 1u) {
        return chunk.count;
    }
    return net.batch;
}

/// Where unit `u` of layer `l`'s output for example `i` and `chain` lives (activations and
/// deltas share the layout).
fn unit_index(l: u32, i: u32, u: u32, chain: u32) -> u32 {
    let layer = net_layers[l];
    return layer.offset + (i * layer.outputs + u) * network_chains() + chain;
}

/// Input `j` of layer `l` for example `i` of `chain`: a feature of its row for the first
/// layer, else the layer below's activation.
fn layer_input(l: u32, i: u32, j: u32, chain: u32) -> f32 {
    if (l == 0u) {
        return values[example_row(chain, i) * net.features + j];
    }
    return activations[unit_index(l - 1u, i, j, chain)];
}

fn weight(layer: NetLayer, u: u32, j: u32, chain: u32) -> f32 {
    return theta[state_index(run, layer.weights + u * layer.inputs + j, chain)];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn net_batch(@builtin(global_invocation_id) id: vec3<u32>,
             @builtin(num_workgroups) groups: vec3<u32>) {
    let t = thread_index(id, groups);
    let quads = (net.batch + 3u) / 4u;
    var owners = 1u;
    if (net.per_chain == 1u) {
        owners = run.chains;
    }
    if (t >= owners * quads) {
        return;
    }
    let owner = t / quads;
    let quad = t % quads;
    var key_owner = SHARED_BATCH;
    if (net.per_chain == 1u) {
        key_owner = global_chain(run, owner);
    }
    let key = run_key(run);
    let step = dispatch.first_step;
    if (net.mode == BATCH_WITH_REPLACEMENT) {
        let words = philox4x32_10(vec4<u32>(key_owner, step, quad, STREAM_BATCH), key);
        for (var lane = 0u; lane < 4u; lane++) {
            let j = quad * 4u + lane;
            if (j < net.batch) {
                batch_rows[owner * net.batch + j] = mulhilo(words[lane], net.rows).x;
            }
        }
        return;
    }
    var cursor = batch_cursor(key, key_owner, step);
    for (var lane = 0u; lane < 4u; lane++) {
        let j = quad * 4u + lane;
        if (j < net.batch) {
            batch_rows[owner * net.batch + j] =
                next_batch_index(&cursor, key, net.mode, net.batch, net.rows, j);
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn net_forward(@builtin(global_invocation_id) id: vec3<u32>,
               @builtin(num_workgroups) groups: vec3<u32>) {
    let layer = net_layers[LAYER];
    let t = thread_index(id, groups);
    let chains = network_chains();
    if (t >= chains * layer.outputs * pass_examples()) {
        return;
    }
    let chain = t % chains;
    let u = (t / chains) % layer.outputs;
    let i = t / (chains * layer.outputs);
    var z = theta[state_index(run, layer.biases + u, chain)];
    for (var j = 0u; j < layer.inputs; j++) {
        z = fma(layer_input(LAYER, i, j, chain), weight(layer, u, j, chain), z);
    }
    if (LAYER + 1u < net.layers) {
        if (net.activation == ACTIVATION_RELU) {
            z = max(z, 0.0);
        } else {
            z = tanh(z);
        }
    }
    activations[unit_index(LAYER, i, u, chain)] = z;
}

/// The output's probabilities for example `i` of `chain` into `p` (K of them; 2 for
/// Bernoulli), from the last layer's z; returns false when any is not finite.
fn output_probabilities(i: u32, chain: u32, p: ptr<function, array<f32, MAX_CLASSES>>) -> bool {
    let last = net.layers - 1u;
    if (net.output == OUTPUT_BERNOULLI) {
        let q = 1.0 / (1.0 + exp(-activations[unit_index(last, i, 0u, chain)]));
        (*p)[0] = 1.0 - q;
        (*p)[1] = q;
        return q == q && abs(q) <= 1.0;
    }
    var top = -3.4e38;
    for (var k = 0u; k < net.units; k++) {
        top = max(top, activations[unit_index(last, i, k, chain)]);
    }
    var total = 0.0;
    for (var k = 0u; k < net.units; k++) {
        (*p)[k] = exp(activations[unit_index(last, i, k, chain)] - top);
        total += (*p)[k];
    }
    var finite = total == total && total <= 3.4e38;
    for (var k = 0u; k < net.units; k++) {
        (*p)[k] = (*p)[k] / total;
    }
    return finite;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn net_output(@builtin(global_invocation_id) id: vec3<u32>,
              @builtin(num_workgroups) groups: vec3<u32>) {
    let t = thread_index(id, groups);
    let chains = network_chains();
    if (t >= chains * net.batch) {
        return;
    }
    let chain = t % chains;
    let i = t / chains;
    let last = net.layers - 1u;
    let y = labels[example_row(chain, i)];
    if (net.output == OUTPUT_GAUSSIAN) {
        let z = activations[unit_index(last, i, 0u, chain)];
        deltas[unit_index(last, i, 0u, chain)] = (z - y) * net.noise_precision;
        return;
    }
    if (net.output == OUTPUT_BERNOULLI) {
        let z = activations[unit_index(last, i, 0u, chain)];
        deltas[unit_index(last, i, 0u, chain)] = 1.0 / (1.0 + exp(-z)) - y;
        return;
    }
    var p: array<f32, MAX_CLASSES>;
    output_probabilities(i, chain, &p);
    for (var k = 0u; k < net.units; k++) {
        deltas[unit_index(last, i, k, chain)] = p[k] - select(0.0, 1.0, f32(k) == y);
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn net_backward(@builtin(global_invocation_id) id: vec3<u32>,
                @builtin(num_workgroups) groups: vec3<u32>) {
    let layer = net_layers[LAYER];
    let t = thread_index(id, groups);
    let chains = network_chains();
    if (t >= chains * layer.inputs * net.batch) {
        return;
    }
    let chain = t % chains;
    let j = (t / chains) % layer.inputs;
    let i = t / (chains * layer.inputs);
    var back = 0.0;
    for (var u = 0u; u < layer.outputs; u++) {
        back = fma(deltas[unit_index(LAYER, i, u, chain)], weight(layer, u, j, chain), back);
    }
    let a = activations[unit_index(LAYER - 1u, i, j, chain)];
    var slope = 1.0 - a * a;
    if (net.activation == ACTIVATION_RELU) {
        slope = select(0.0, 1.0, a > 0.0);
    }
    deltas[unit_index(LAYER - 1u, i, j, chain)] = back * slope;
}

/// ∂Ũ/∂θ_d for `chain`: the prior's term plus (N/n) Σᵢ δ a over the batch, examples in order.
fn parameter_gradient(d: u32, chain: u32) -> f32 {
    var l = 0u;
    while (l + 1u < net.layers && d >= net_layers[l].biases + net_layers[l].outputs) {
        l++;
    }
    let layer = net_layers[l];
    let x = theta[state_index(run, d, chain)];
    var data_term = 0.0;
    if (d >= layer.biases) {
        let u = d - layer.biases;
        for (var i = 0u; i < net.batch; i++) {
            data_term += deltas[unit_index(l, i, u, chain)];
        }
        return fma(net.scale, data_term, layer.bias_precision * x);
    }
    let u = (d - layer.weights) / layer.inputs;
    let j = (d - layer.weights) % layer.inputs;
    for (var i = 0u; i < net.batch; i++) {
        data_term = fma(deltas[unit_index(l, i, u, chain)], layer_input(l, i, j, chain), data_term);
    }
    return fma(net.scale, data_term, layer.weight_precision * x);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn net_update(@builtin(global_invocation_id) id: vec3<u32>,
              @builtin(num_workgroups) groups: vec3<u32>) {
    let me = chain_block(run, id, groups);
    if (!me.in_range) {
        return;
    }
    let step = dispatch.first_step;
    let scalars = schedule[dispatch.table_offset];
    var x = vec4<f32>(0.0);
    var g = vec4<f32>(0.0);
    for (var lane = 0u; lane < 4u; lane++) {
        let d = me.block * 4u + lane;
        if (d < run.dim) {
            x[lane] = theta[state_index(run, d, me.chain)];
            g[lane] = parameter_gradient(d, me.chain);
        }
    }
    let next = step_chain_block(me.chain, step, me.block, x, g, scalars);
    for (var lane = 0u; lane < 4u; lane++) {
        let d = me.block * 4u + lane;
        if (d < run.dim) {
            theta[state_index(run, d, me.chain)] = next[lane];
            if (dispatch.draw_slot != NO_DRAW) {
                draws[draw_index(run, dispatch.draw_slot, d, me.chain)] = next[lane];
            }
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn net_predict(@builtin(global_invocation_id) id: vec3<u32>,
               @builtin(num_workgroups) groups: vec3<u32>) {
    let i = thread_index(id, groups);
    if (i >= chunk.count) {
        return;
    }
    let row = chunk.first + i;
    let stride = net.predictive_stride;
    let at = row * stride;
    let last = net.layers - 1u;
    if (net.output == OUTPUT_GAUSSIAN) {
        let y = labels[row];
        var sums = vec4<f32>(0.0);
        for (var chain = 0u; chain < network_chains(); chain++) {
            let mean = activations[unit_index(last, i, 0u, chain)];
            if (chain_temperature(chain) != 1.0 || !(abs(mean) <= 3.4e38)) {
                continue;
            }
            let r = y - mean;
            sums += vec4<f32>(mean, mean * mean, exp(-0.5 * r * r * net.noise_precision), 1.0);
        }
        for (var k = 0u; k < 4u; k++) {
            predictive[at + k] += sums[k];
        }
        return;
    }
    let classes = stride - 2u;
    var total: array<f32, MAX_CLASSES>;
    var entropy = 0.0;
    var count = 0.0;
    for (var chain = 0u; chain < network_chains(); chain++) {
        if (chain_temperature(chain) != 1.0) {
            continue;
        }
        var p: array<f32, MAX_CLASSES>;
        if (!output_probabilities(i, chain, &p)) {
            continue;
        }
        for (var k = 0u; k < classes; k++) {
            total[k] += p[k];
            if (p[k] > 0.0) {
                entropy -= p[k] * log(p[k]);
            }
        }
        count += 1.0;
    }
    for (var k = 0u; k < classes; k++) {
        predictive[at + k] += total[k];
    }
    predictive[at + classes] += entropy;
    predictive[at + classes + 1u] += count;
}
