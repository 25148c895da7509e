//! Mini-batch indices from Philox, twin of `src/minibatch.rs`: with replacement by
//! multiply-shift, without replacement through a keyed Feistel permutation per epoch.


/// lowbias32 (Wellons 2018): the Feistel round function.
fn mix32(value: u32) -> u32 {
    var x = value;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    return x ^ (x >> 16u);
}

/// Smallest h ≥ 1 with 2^(2h) ≥ rows.
fn feistel_half_bits(rows: u32) -> u32 {
    var h = 1u;
    while (h < 16u && (1u << (2u * h)) < rows) {
        h++;
    }
    return h;
}

/// Round keys of the permutation for (owner, epoch): one Philox call serves a whole epoch.
fn permutation_keys(key: vec2<u32>, owner: u32, epoch: u32) -> vec4<u32> {
    return philox4x32_10(vec4<u32>(owner, epoch, 0u, STREAM_PERMUTATION), key);
}

/// The keyed bijection of [0, rows) with the given round keys, by cycle-walking a 4-round
/// Feistel network.
fn permute_index(round_keys: vec4<u32>, rows: u32, index: u32) -> u32 {
    let half = feistel_half_bits(rows);
    let mask = (1u << half) - 1u;
    var x = index;
    loop {
        var left = x >> half;
        var right = x & mask;
        for (var round = 0u; round < 4u; round++) {
            let next = left ^ (mix32(right ^ round_keys[round]) & mask);
            left = right;
            right = next;
        }
        x = (left << half) | right;
        if (x < rows) {
            break;
        }
    }
    return x;
}

/// Draws the indices of one mini-batch in order, caching the permutation keys per epoch.
struct BatchCursor {
    owner: u32,
    step: u32,
    epoch: u32,
    round_keys: vec4<u32>,
}

fn batch_cursor(key: vec2<u32>, owner: u32, step: u32) -> BatchCursor {
    return BatchCursor(owner, step, 0xFFFFFFFFu, vec4<u32>(0u));
}

/// Index j of the batch of `size` examples of `rows` that the cursor's owner uses at its step;
/// full_data returns j itself (every example, in order).
fn next_batch_index(cursor: ptr<function, BatchCursor>, key: vec2<u32>, mode: u32, size: u32,
                    rows: u32, j: u32) -> u32 {
    if (mode == BATCH_FULL) {
        return j;
    }
    if (mode == BATCH_WITH_REPLACEMENT) {
        let counter = vec4<u32>((*cursor).owner, (*cursor).step, j / 4u, STREAM_BATCH);
        return mulhilo(philox4x32_10(counter, key)[j % 4u], rows).x;
    }
    let position = (*cursor).step * size + j;
    let epoch = position / rows;
    if (epoch != (*cursor).epoch) {
        (*cursor).epoch = epoch;
        (*cursor).round_keys = permutation_keys(key, (*cursor).owner, epoch);
    }
    return permute_index((*cursor).round_keys, rows, position % rows);
}
