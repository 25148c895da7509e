//! What every chain kernel shares: the mapping of threads to (chain, block) in the
//! dimension-major layout and the run's key. The structs (`RunParams`, `DispatchRecord`,
//! `StepScalars`) and shared constants are generated from `gpu/contract.rs`.

/// Threads per workgroup; results never depend on it (every draw is keyed by its counter).
override WORKGROUP_SIZE: u32 = 256u;
/// The run's update rule (`Method::code`; rules.wgsl), set for every kernel.
override METHOD: u32 = 0u;





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
/// The grid is 3-D (`Threads::ChainBlocks` on the host): chains along x (continued along z
/// past the x limit), blocks along y, so neighbouring threads touch neighbouring words and no
/// thread divides by the chain count.
struct ChainBlock {
    chain: u32,
    block: u32,
    /// Whether the thread has work (the grid is rounded up to whole workgroups).
    in_range: bool,
}

fn chain_block(run: RunParams, id: vec3<u32>, groups: vec3<u32>) -> ChainBlock {
    let chain = id.x + id.z * groups.x * WORKGROUP_SIZE;
    return ChainBlock(chain, id.y, chain < run.chains && id.y < run.blocks);
}
