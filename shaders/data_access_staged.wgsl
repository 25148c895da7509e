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

/// The workgroup draws the step's shared batch once and copies its rows into workgroup
/// memory; every thread takes slots lid, lid + WORKGROUP_SIZE, …
fn stage_batch(key: vec2<u32>, step: u32, lid: u32) {
    var cursor = batch_cursor(key, SHARED_BATCH, step);
    for (var j = lid; j < data.batch; j += WORKGROUP_SIZE) {
        let row = next_batch_index(&cursor, key, data.mode, data.batch, data.rows, j);
        let start = row_offsets[row];
        let length = row_offsets[row + 1u] - start;
        staged_length[j] = length;
        staged_label[j] = labels[row];
        for (var k = 0u; k < length; k++) {
            staged_column[j * STAGE_ROW_WIDTH + k] = columns[start + k];
            staged_value[j * STAGE_ROW_WIDTH + k] = values[start + k];
        }
    }
}
