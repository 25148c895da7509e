//! How a run's chains are cut up: into groups whose buffers fit one storage binding, and the
//! checks that refuse, before anything is allocated, a run that cannot fit.

use crate::engine::job::Job;
use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// Cuts the job's chains into groups whose largest buffer fits one storage binding (the
/// running statistics, 2·D values per chain, or the rule's state, D + 1 values and a
/// temperature) and whose threads fit the 2³² index, or the tuning's `max_chains_per_group`. Groups run side by side, so the only limit is the
/// device's memory; each draws exactly what its chains draw in one state.
pub(crate) fn chain_groups(gpu: &Gpu, job: &Job) -> Result<Vec<std::ops::Range<u32>>> {
    let window = job.window.clone();
    let dim = job.target.dim() as u64;
    gpu.check_dimensions(dim as usize)?;
    let by_binding = gpu.max_binding() / crate::gpu::chain_bytes(dim);
    let by_index = u64::from(u32::MAX) / dim.div_ceil(4).max(1);
    let mut most = by_binding.min(by_index).min(u64::from(u32::MAX));
    if let Some(cap) = job.tuning.max_chains_per_group {
        most = most.min(u64::from(cap.max(1)));
    }
    let most = most as u32;
    Ok((window.start..window.end)
        .step_by(most as usize)
        .map(|first| first..first.saturating_add(most).min(window.end))
        .collect())
}

/// Bytes of the chain state, after checking that the problem fits one storage binding and the
/// thread grid; called before anything is allocated.
pub(crate) fn check_fits(gpu: &Gpu, job: &Job) -> Result<u64> {
    let (chains, dim) = (job.chains(), job.target.dim() as u64);
    let state_bytes = u64::from(chains) * dim * 4;
    gpu.check_binding(
        &format!("the chain state ({chains} chains × {dim} dimensions × 4 bytes)"),
        state_bytes,
    )?;
    if u64::from(chains) * dim.div_ceil(4) > u64::from(u32::MAX) {
        return Err(Error::invalid(
            "number of chains",
            "chains × ⌈dim/4⌉ must stay below 2³²",
        ));
    }
    Ok(state_bytes)
}

/// GPU memory a run of the job allocates for its chains: θ, the running statistics (2×),
/// the last finite draws and the rule's state per coordinate, a status and a temperature per
/// chain, and the draw slots and readback ring (the tuning's budget, at most every draw).
fn device_memory_needed(job: &Job) -> u64 {
    let chains = u64::from(job.chains());
    let state = chains * job.target.dim() as u64 * 4;
    let rule = if job.settings.method.has_auxiliary() {
        state + 4 * chains
    } else {
        0
    };
    let draws = job.settings.kept_draws() as u64 * state;
    4 * state + rule + 20 * chains + 2 * draws.min(job.tuning.draws_buffer_bytes.max(state))
}

/// Refuses, before anything is allocated, a run that cannot fit: on a software adapter
/// (whose "device memory" is the host's) against the memory the host has available. A
/// hardware adapter does not report its memory through wgpu; there a failed allocation is
/// caught right after the buffers are made, before the first step.
pub(crate) fn check_device_memory(gpu: &Gpu, job: &Job) -> Result<()> {
    if !gpu.is_software() {
        return Ok(());
    }
    let Some(available) = crate::error::host_memory_available() else {
        return Ok(());
    };
    let needed = device_memory_needed(job);
    if needed > available {
        return Err(Error::DeviceMemory {
            needed,
            available,
            adapter: gpu.describe(),
        });
    }
    Ok(())
}
