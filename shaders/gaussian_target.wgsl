//! A Gaussian target's parameters: mean μ and precision P (diagonal: D values; dense: D×D).

@group(0) @binding(6) var<storage, read> target_mean: array<f32>;
@group(0) @binding(7) var<storage, read> target_precision: array<f32>;
