//! Data accessors reading the training set in device memory: `row` is an example's index.

fn row_start(row: u32) -> u32 {
    return row_offsets[row];
}

fn row_end(row: u32) -> u32 {
    return row_offsets[row + 1u];
}

fn column(k: u32) -> u32 {
    return columns[k];
}

fn value(k: u32) -> f32 {
    return values[k];
}

fn label(row: u32) -> f32 {
    return labels[row];
}
