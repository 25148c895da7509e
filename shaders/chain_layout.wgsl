//! What every chain kernel shares: run constants, the per-dispatch record, the per-step
//! schedule table and the mapping of threads to (chain, block) in the dimension-major layout.

/// Threads per workgroup; results never depend on it (every draw is keyed by its counter).
override WORKGROUP_SIZE: u32 = 256u;
/// The run's update rule (`Method::code`; rules.wgsl), set for every kernel.
override METHOD: u32 = 0u;
const METHOD_SGLD: u32 = 0u;
const METHOD_PSGLD: u32 = 1u;
const METHOD_SGHMC: u32 = 2u;
const METHOD_SGNHT: u32 = 3u;

/// Constants of one run, written once.
struct RunParams {
    chains: u32,
    dim: u32,
    /// ⌈dim / 4⌉: dimensions 4b .. 4b+3 form block b and share one Philox call.
    blocks: u32,
    key_lo: u32,
    key_hi: u32,
    /// σ₀ of the initial positions N(0, σ₀²).
    init_scale: f32,
    /// The update rule's constants (move.wgsl): pSGLD α and λ, SGHMC α, SGNHT A.
    method_a: f32,
    method_b: f32,
    /// 1/N for a data model of N examples, else 1: pSGLD's per-datum mean gradient.
    per_datum: f32,
    /// σ of the synthetic gradient noise N(0, σ²) added to ∇Ũ (0: none).
    gradient_noise: f32,
    /// Index in `auxiliary` of chain 0's temperature under a ladder, or NO_LADDER.
    ladder_offset: u32,
    /// The run-wide id of this state's chain 0 (a shard or group of chains runs a window).
    chain_offset: u32,
}

/// One dispatch advances every chain through steps first_step .. first_step + step_count.
/// Bound at a dynamic offset, so a whole batch of dispatches shares one bind group.
struct DispatchRecord {
    first_step: u32,
    step_count: u32,
    /// Index into the schedule table of first_step.
    table_offset: u32,
    /// Where the state after the last step is stored in the draws buffer, or NO_DRAW.
    draw_slot: u32,
}

const NO_DRAW: u32 = 0xFFFFFFFFu;

/// Per-step scalars from the host schedule: η_t, sqrt(2 c η_t T) (c from the rule) and T.
struct StepScalars {
    eta: f32,
    noise_scale: f32,
    temperature: f32,
    _pad: f32,
}

/// Linear invocation index of a 2-D grid of workgroups (the x dimension is capped at 65535).
fn thread_index(id: vec3<u32>, groups: vec3<u32>) -> u32 {
    return id.x + id.y * groups.x * WORKGROUP_SIZE;
}

/// The run-wide id of local chain `chain`: every random number is keyed by it, so a shard or
/// a group of chains draws exactly what the whole run would.
fn global_chain(run: RunParams, chain: u32) -> u32 {
    return run.chain_offset + chain;
}

fn run_key(run: RunParams) -> vec2<u32> {
    return vec2<u32>(run.key_lo, run.key_hi);
}

/// θ[d·C + c]: chains contiguous, so neighbouring threads read neighbouring words.
fn state_index(run: RunParams, dim: u32, chain: u32) -> u32 {
    return dim * run.chains + chain;
}

/// Where coordinate `dim` of `chain` goes in draw slot `slot`: chain-major, the layout of the
/// host's draws (`[draw][chain][dim]`), so readback needs no transpose.
fn draw_index(run: RunParams, slot: u32, dim: u32, chain: u32) -> u32 {
    return (slot * run.chains + chain) * run.dim + dim;
}

/// A thread's share of the diagonal-style kernels: one chain, one block of four dimensions.
/// Threads are chain-fastest, so neighbouring threads touch neighbouring words.
struct ChainBlock {
    chain: u32,
    block: u32,
    /// Whether the thread has work (the grid is rounded up to whole workgroups).
    in_range: bool,
}

fn chain_block(run: RunParams, index: u32) -> ChainBlock {
    return ChainBlock(index % run.chains, index / run.chains, index < run.chains * run.blocks);
}
