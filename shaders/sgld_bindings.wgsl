//! The bindings every step kernel shares (host: `Kernel::slots`); targets add theirs from 6 on.

@group(0) @binding(0) var<uniform> run: RunParams;
@group(0) @binding(1) var<uniform> dispatch: DispatchRecord;
@group(0) @binding(2) var<storage, read> schedule: array<StepScalars>;
@group(0) @binding(3) var<storage, read_write> theta: array<f32>;
@group(0) @binding(4) var<storage, read_write> draws: array<f32>;
/// The update rule's state (move.wgsl): C × D per-coordinate values laid out like θ, then one
/// thermostat per chain.
@group(0) @binding(5) var<storage, read_write> auxiliary: array<f32>;
