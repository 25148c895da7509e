//! W5: sampling with every kept draw streamed to the host through the readback ring, against
//! the same run with readback off, in one process. On one wgpu queue the copy to the host runs
//! after the steps it follows, so the ratio is compute / (compute + copy): rows over the
//! thinning show where readback stops mattering.

use super::{time, Profile, MIN_TIMED_STEPS};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::model::Gaussian;
use crate::sampler::Sampler;
use crate::schedule::StepSize;

/// What W5 measures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadbackConfig {
    /// Chains.
    pub chains: u32,
    /// Dimensions per chain.
    pub dim: u32,
    /// Steps per run.
    pub steps: u32,
    /// The thinnings to run, one row each.
    pub thins: Vec<u32>,
    /// Timed repeats; the median is reported.
    pub repeats: usize,
}

impl ReadbackConfig {
    /// The sizes of `profile`: 262144 × 32 on a GPU, 4096 × 16 on a software adapter.
    pub fn of(profile: Profile) -> ReadbackConfig {
        let (chains, dim, steps, thins) = match profile {
            Profile::Gpu => (262_144, 32, 4 * MIN_TIMED_STEPS, vec![10, 100, 1000]),
            Profile::Software => (4096, 16, MIN_TIMED_STEPS, vec![4, 40]),
            Profile::Smoke => (1024, 8, 40, vec![4]),
        };
        ReadbackConfig {
            chains,
            dim,
            steps,
            thins,
            repeats: 3,
        }
    }
}

/// The readback row: sampling with every kept draw streamed to the host through the
/// readback ring, against the same run with readback off, in one process.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadbackRow {
    /// Chains.
    pub chains: u32,
    /// Dimensions.
    pub dim: u32,
    /// Steps per run.
    pub steps: u32,
    /// A draw is kept every `thin` steps.
    pub thin: u32,
    /// Bytes of draws read back per second with readback on.
    pub readback_gb_per_s: f64,
    /// Chain-steps per second with readback on (draws handed to a sink that drops them).
    pub with_readback: f64,
    /// Chain-steps per second with readback off.
    pub without_readback: f64,
    /// `with_readback / without_readback`.
    pub ratio: f64,
}

/// A sink that drops every draw (the bench times the path to the host, not a file system).
struct DropSink;

impl crate::sink::Sink for DropSink {
    fn begin(&mut self, _: &crate::sink::DrawLayout, _: crate::sink::Received) -> Result<()> {
        Ok(())
    }
    fn write(&mut self, _: crate::sink::DrawBlock<'_>) -> Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Times a Gaussian run of `chains` × `dim` with and without draw readback (median of
/// `repeats`), keeping a draw every `thin` steps.
pub fn run_readback(
    gpu: &Gpu,
    chains: u32,
    dim: u32,
    steps: u32,
    thin: u32,
    repeats: usize,
) -> Result<ReadbackRow> {
    let sampler = Sampler::builder(Gaussian::isotropic(dim as usize, 0.0, 1.0)?)
        .chains(chains)
        .steps(steps)
        .burn_in(0)
        .thin(thin)
        .step_size(StepSize::constant(0.05)?)
        .build()?;
    let timed = |readback: bool| -> Result<f64> {
        time(gpu, repeats, || {
            let run = sampler.runner(gpu);
            let run = if readback {
                run
            } else {
                run.without_readback()
            };
            run.into_sink(&mut DropSink).map(|_| ())
        })
    };
    let with = timed(true)?;
    let without = timed(false)?;
    let chain_steps = f64::from(chains) * f64::from(steps);
    let bytes = f64::from(chains) * f64::from(dim) * 4.0 * f64::from(steps / thin);
    Ok(ReadbackRow {
        chains,
        dim,
        steps,
        thin,
        readback_gb_per_s: bytes / with / 1e9,
        with_readback: chain_steps / with,
        without_readback: chain_steps / without,
        ratio: without / with,
    })
}
