//! Throughput benchmarks, one module per workload: W1 (`w1`) the fused update of each rule on a
//! Gaussian target against a device-to-device copy; W2–W4 and W6 (`data`) data models on every data
//! path; W5 (`readback`) the draws' way to the host; `peers` joins the same jobs' figures from
//! the JAX scripts in `benches/peers/`. A [`BenchPlan`] says which sizes run: every timing of
//! a measurement runs at least [`MIN_TIMED_STEPS`] steps.

use std::time::Instant;

use crate::engine::plan::Batch;
use crate::error::Result;
use crate::gpu::contract::{DispatchRecord, StepScalars, NO_DRAW};
use crate::gpu::Gpu;

mod data;
mod peers;
mod readback;
mod w1;

pub use data::{run_regression, synthetic_a9a_dense, RegressionConfig, RegressionRow};
pub use peers::{compare, Comparison, PeerRow, Peers};
pub use readback::{run_readback, ReadbackConfig, ReadbackRow};
pub use w1::{run_w1, W1Config, W1Row, W1_DIM};

/// Steps every timing of a measurement runs (a smoke run runs fewer and says so).
pub const MIN_TIMED_STEPS: u32 = 1000;

/// Which sizes a bench runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The sizes, for a GPU: W1 to 256M parameters, W2 at 10³–10⁵ chains.
    Gpu,
    /// Sizes a 2-core software adapter measures in minutes, among them the jobs the CPU JAX
    /// yardstick runs (a shared batch at 4096 chains, per-chain batches at 256).
    Software,
    /// A few steps of small sizes: checks that every workload runs, measures nothing.
    Smoke,
}

/// Everything one `langevin bench` runs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchPlan {
    /// The profile the sizes come from.
    pub profile: Profile,
    /// W1.
    pub w1: W1Config,
    /// W2–W4 and W6.
    pub regression: RegressionConfig,
    /// W5.
    pub readback: ReadbackConfig,
}

impl BenchPlan {
    /// The plan of `profile`.
    pub fn new(profile: Profile) -> BenchPlan {
        BenchPlan {
            profile,
            w1: W1Config::of(profile),
            regression: RegressionConfig::of(profile),
            readback: ReadbackConfig::of(profile),
        }
    }

    /// The smoke plan when `smoke`, else the software or GPU plan as `gpu` is one.
    pub fn for_adapter(gpu: &Gpu, smoke: bool) -> BenchPlan {
        BenchPlan::new(match (smoke, gpu.is_software()) {
            (true, _) => Profile::Smoke,
            (false, true) => Profile::Software,
            (false, false) => Profile::Gpu,
        })
    }

    /// Whether the figures are measurements (every timing at least [`MIN_TIMED_STEPS`]).
    pub fn measures(&self) -> bool {
        self.profile != Profile::Smoke
    }
}

/// The middle of `samples` (the upper middle for an even count).
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Seconds of `work` after one untimed warm-up, median of `repeats`.
fn time(gpu: &Gpu, repeats: usize, mut work: impl FnMut() -> Result<()>) -> Result<f64> {
    work()?;
    gpu.wait()?;
    let mut samples = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        work()?;
        gpu.wait()?;
        samples.push(start.elapsed().as_secs_f64());
    }
    Ok(median(samples))
}

/// A batch of `steps` SGLD steps in dispatches of `per_dispatch`, keeping no draw.
fn timing_batch(steps: u32, per_dispatch: u32) -> Batch {
    let scalars = StepScalars::new(1e-3, 1.0);
    let records = (0..steps.div_ceil(per_dispatch))
        .map(|i| {
            let first_step = i * per_dispatch;
            DispatchRecord {
                first_step,
                step_count: per_dispatch.min(steps - first_step),
                table_offset: first_step,
                draw_slot: NO_DRAW,
                draw_count: 0,
                draw_stride: 0,
            }
        })
        .collect();
    Batch {
        records,
        schedule: vec![scalars; steps as usize],
        draw_steps: Vec::new(),
    }
}
