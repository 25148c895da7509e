//! Data accessors reading a shared mini-batch staged in workgroup memory: `row` is the slot of
//! an example in the step's batch, its entries at slot · STAGE_ROW_WIDTH onward.

/// Examples per batch (the batch size).
override STAGE_ROWS: u32 = 1u;
/// The most stored entries of any row of the data.
override STAGE_ROW_WIDTH: u32 = 1u;
/// STAGE_ROWS · STAGE_ROW_WIDTH, set by the host: naga cannot size an array by an expression
/// of overrides.
override STAGE_ENTRIES: u32 = 1u;

var<workgroup> staged_length: array<u32, STAGE_ROWS>;
/// Where each slot's row starts in the data's CSR arrays.
var<workgroup> staged_start: array<u32, STAGE_ROWS>;
var<workgroup> staged_label: array<f32, STAGE_ROWS>;
var<workgroup> staged_column: array<u32, STAGE_ENTRIES>;
var<workgroup> staged_value: array<f32, STAGE_ENTRIES>;

fn row_start(slot: u32) -> u32 {
    return slot * STAGE_ROW_WIDTH;
}

fn row_end(slot: u32) -> u32 {
    return slot * STAGE_ROW_WIDTH + staged_length[slot];
}

fn column(k: u32) -> u32 {
    return staged_column[k];
}

fn value(k: u32) -> f32 {
    return staged_value[k];
}

fn label(slot: u32) -> f32 {
    return staged_label[slot];
}

/// Records example `row` of the data in batch slot `slot`.
fn stage_row(slot: u32, row: u32) {
    let start = row_offsets[row];
    staged_start[slot] = start;
    staged_length[slot] = row_offsets[row + 1u] - start;
    staged_label[slot] = labels[row];
}

/// The workgroup draws `owner`'s batch at `step` once and copies its rows into workgroup
/// memory: first the slots (with replacement, one thread per Philox call and its four
/// indices), then the stored entries, one thread per (slot, entry) so that neighbouring
/// threads read neighbouring words. Call from uniform control flow: it ends with a barrier.
fn stage_batch(key: vec2<u32>, owner: u32, step: u32, lid: u32) {
    if (data.mode == BATCH_WITH_REPLACEMENT) {
        for (var quad = lid; quad < (data.batch + 3u) / 4u; quad += WORKGROUP_SIZE) {
            let words = philox4x32_10(vec4<u32>(owner, step, quad, STREAM_BATCH), key);
            for (var lane = 0u; lane < 4u; lane++) {
                let slot = quad * 4u + lane;
                if (slot < data.batch) {
                    stage_row(slot, mulhilo(words[lane], data.rows).x);
                }
            }
        }
    } else {
        var cursor = batch_cursor(key, owner, step);
        for (var slot = lid; slot < data.batch; slot += WORKGROUP_SIZE) {
            stage_row(slot, next_batch_index(&cursor, key, data.mode, data.batch, data.rows, slot));
        }
    }
    workgroupBarrier();
    for (var entry = lid; entry < data.batch * STAGE_ROW_WIDTH; entry += WORKGROUP_SIZE) {
        let slot = entry / STAGE_ROW_WIDTH;
        let k = entry % STAGE_ROW_WIDTH;
        if (k < staged_length[slot]) {
            staged_column[entry] = columns[staged_start[slot] + k];
            staged_value[entry] = values[staged_start[slot] + k];
        }
    }
    workgroupBarrier();
}
