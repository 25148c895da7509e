//! The bindings every SGLD kernel on a Gaussian target shares (host: `Kernel::slots`).

@group(0) @binding(0) var<uniform> run: RunParams;
@group(0) @binding(1) var<uniform> dispatch: DispatchRecord;
@group(0) @binding(2) var<storage, read> schedule: array<StepScalars>;
@group(0) @binding(3) var<storage, read_write> theta: array<f32>;
@group(0) @binding(4) var<storage, read_write> draws: array<f32>;
@group(0) @binding(5) var<storage, read> target_mean: array<f32>;
@group(0) @binding(6) var<storage, read> target_precision: array<f32>;
