//! Throughput benchmarks. W1: the fused update of each sampler on a Gaussian target against a
//! device-to-device copy, both timed in the same process; W2–W4: data models.
//!
//! One SGLD update reads and writes one f32 of state (8 bytes); pSGLD and SGHMC also read and
//! write their per-coordinate state (16 bytes); SGNHT runs a thread per chain through a gradient
//! scratch (24 bytes). The target's mean and precision are per-dimension and stay in cache. A
//! copy moves 8 bytes per parameter of the state buffer, so `ratio_to_copy` is the fraction of
//! the adapter's practical memory bandwidth the update reaches. Rows with several steps per
//! dispatch keep the state on-chip between steps and may exceed the copy's rate; their GB/s
//! counts the bytes per update as if each went to memory.

use std::time::Instant;

use crate::engine::choice::steps_per_dispatch;
use crate::engine::plan::Batch;
use crate::engine::state::ChainState;
use crate::error::Result;
use crate::gpu::contract::{DispatchRecord, StepScalars, NO_DRAW};
use crate::gpu::{Gpu, RngMultiply};
use crate::model::Gaussian;
use crate::sampler::{DataPath, Method, Sampler, Settings, Tuning};
use crate::schedule::StepSize;

/// Dimensions of the W1 target; parameters = chains × this.
pub const W1_DIM: u32 = 4;

/// One measured configuration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct W1Row {
    /// The update rule (`sgld`, `psgld`, `sghmc`, `sgnht`).
    pub sampler: &'static str,
    /// Parameters updated per step (chains × dimensions).
    pub params: u64,
    /// Chains.
    pub chains: u32,
    /// Dimensions per chain.
    pub dim: u32,
    /// Steps each dispatch runs with the state on-chip.
    pub steps_per_dispatch: u32,
    /// How Philox multiplied: `portable` (16-bit halves) or `int64`.
    pub rng_multiply: &'static str,
    /// Parameter updates per second (median of the repeats).
    pub updates_per_s: f64,
    /// State bytes read and written per update (8 for SGLD; see the module docs).
    pub bytes_per_update: u32,
    /// Effective bandwidth: `bytes_per_update` per update, in GB/s.
    pub effective_gb_per_s: f64,
    /// Device-to-device copy of the state buffer, bytes read plus written, in GB/s.
    pub copy_gb_per_s: f64,
    /// `effective_gb_per_s / copy_gb_per_s`.
    pub ratio_to_copy: f64,
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct W1Config {
    /// Parameter counts to run; sizes beyond the adapter's binding limit are skipped.
    pub sizes: Vec<u64>,
    /// Steps-per-dispatch values to run at every size (1 is the memory-bound update).
    pub steps_per_dispatch: Vec<u32>,
    /// Generator multiplies to compare at every size; `Int64` is skipped where unsupported.
    pub multiplies: Vec<RngMultiply>,
    /// Update rules to time; rules other than the first run with the last multiply only.
    pub methods: Vec<Method>,
    /// Steps timed per repeat.
    pub steps: u32,
    /// Timed repeats; the median is reported.
    pub repeats: usize,
}

impl W1Config {
    /// 1M to 256M parameters (the full benchmark, for a real GPU).
    pub fn full() -> W1Config {
        W1Config {
            sizes: vec![1 << 20, 1 << 24, 1 << 26, 1 << 28],
            steps_per_dispatch: vec![1, 16],
            multiplies: vec![RngMultiply::Portable, RngMultiply::Int64],
            methods: all_methods(),
            steps: 64,
            repeats: 5,
        }
    }

    /// Small sizes that finish in seconds on a software adapter.
    pub fn quick() -> W1Config {
        W1Config {
            sizes: vec![1 << 18, 1 << 20],
            steps_per_dispatch: vec![1, 16],
            multiplies: vec![RngMultiply::Portable, RngMultiply::Int64],
            methods: all_methods(),
            steps: 16,
            repeats: 3,
        }
    }
}

/// Every rule, with the constants of its paper's experiments.
fn all_methods() -> Vec<Method> {
    vec![
        Method::Sgld,
        Method::psgld(),
        Method::Sghmc {
            friction: 0.1,
            noise_estimate: 0.0,
        },
        Method::Sgnht { diffusion: 1.0 },
    ]
}

/// State bytes read and written per update by each rule's W1 kernel.
fn bytes_per_update(method: &Method) -> u32 {
    match method {
        Method::Sgld => 8,
        Method::Psgld { .. } | Method::Sghmc { .. } => 16,
        Method::Sgnht { .. } => 24,
    }
}

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
            }
        })
        .collect();
    Batch {
        records,
        schedule: vec![scalars; steps as usize],
        draw_steps: Vec::new(),
    }
}

/// Times a device-to-device copy of `source` (bytes read plus written per second, in GB/s).
fn copy_bandwidth(
    gpu: &Gpu,
    source: &wgpu::Buffer,
    bytes: u64,
    copies: u32,
    repeats: usize,
) -> Result<f64> {
    let destination = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("bench copy destination"),
        size: bytes,
        usage: wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let seconds = time(gpu, repeats, || {
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("bench copies"),
            });
        for _ in 0..copies {
            encoder.copy_buffer_to_buffer(source, 0, &destination, 0, bytes);
        }
        gpu.queue.submit([encoder.finish()]);
        Ok(())
    })?;
    Ok(2.0 * bytes as f64 * f64::from(copies) / seconds / 1e9)
}

/// Runs W1 on `gpu`. Sizes whose state exceeds one storage binding are skipped with a log line.
pub fn run_w1(gpu: &Gpu, config: &W1Config) -> Result<Vec<W1Row>> {
    let mut rows = Vec::new();
    let target = Gaussian::isotropic(W1_DIM as usize, 0.0, 1.0)?;
    for &params in &config.sizes {
        let chains = (params / u64::from(W1_DIM)) as u32;
        let bytes = u64::from(chains) * u64::from(W1_DIM) * 4;
        if bytes > gpu.max_binding() {
            log::warn!(
                "W1: skipping {params} parameters: {bytes} bytes exceed the adapter's {} byte binding limit",
                gpu.max_binding()
            );
            continue;
        }
        let mut copy_gb_per_s = None;
        let last_multiply = config.multiplies.last().copied().unwrap_or_default();
        let cases = config.methods.iter().enumerate().flat_map(|(i, method)| {
            let multiplies = if i == 0 {
                config.multiplies.clone()
            } else {
                vec![last_multiply]
            };
            multiplies.into_iter().map(move |m| (*method, m))
        });
        for (method, multiply) in cases {
            if multiply == RngMultiply::Int64 && !gpu.has_int64() {
                log::warn!("W1: the adapter lacks SHADER_INT64; skipping the int64 rows");
                continue;
            }
            let settings = Settings {
                chains,
                steps: 1,
                burn_in: 0,
                thin: 1,
                step_size: StepSize::constant(1e-3)?,
                method,
                ..Settings::default()
            };
            let sampler = Sampler::new(target.clone(), settings)?.with_tuning(Tuning {
                draws_buffer_bytes: 0,
                rng_multiply: multiply,
                ..Tuning::default()
            })?;
            let state = ChainState::new(gpu, &sampler.job())?;
            let copy = match copy_gb_per_s {
                Some(copy) => copy,
                None => {
                    let copy =
                        copy_bandwidth(gpu, &state.theta, bytes, config.steps, config.repeats)?;
                    copy_gb_per_s = Some(copy);
                    copy
                }
            };
            for &per_dispatch in &config.steps_per_dispatch {
                let batch = timing_batch(config.steps, per_dispatch);
                let seconds = time(gpu, config.repeats, || {
                    state.submit(gpu, &batch, None).map(|_| ())
                })?;
                let updates_per_s = params as f64 * f64::from(config.steps) / seconds;
                let bytes = bytes_per_update(&method);
                let effective_gb_per_s = f64::from(bytes) * updates_per_s / 1e9;
                rows.push(W1Row {
                    sampler: method.name(),
                    bytes_per_update: bytes,
                    params: u64::from(chains) * u64::from(W1_DIM),
                    chains,
                    dim: W1_DIM,
                    steps_per_dispatch: per_dispatch,
                    rng_multiply: state.multiply().name(),
                    updates_per_s,
                    effective_gb_per_s,
                    copy_gb_per_s: copy,
                    ratio_to_copy: effective_gb_per_s / copy,
                });
            }
        }
    }
    Ok(rows)
}

/// Workloads W2–W4. W2 and W3: SGLD for Bayesian logistic regression with a9a's shape (N = 32561,
/// 123 features plus an intercept), mini-batches of 100 shared by all chains (W2) or drawn per
/// chain (W3). FLOPs are counted as the dense equivalent, 4·n·D per chain-step (a dot product
/// and a gradient accumulation over every coefficient of every example), as the JAX peer does.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RegressionRow {
    /// `W2` (shared batch) or `W3` (per-chain batch).
    pub workload: &'static str,
    /// The update rule.
    pub sampler: &'static str,
    /// `dense` (synthetic, 123 stored features per row) or `sparse` (a9a itself, ~14 per row).
    pub data: &'static str,
    /// Chains.
    pub chains: u32,
    /// Examples per mini-batch.
    pub batch: u32,
    /// The data path that ran: `global` (each chain reads its rows), `staged` (a shared batch
    /// in workgroup memory), `fused` (also θ of a few chains in workgroup memory across steps)
    /// or `tiled` (two tiled products over the chain axis, features dense).
    pub data_path: &'static str,
    /// Chain-steps per second (median of the repeats).
    pub chain_steps_per_s: f64,
    /// Microseconds per step of all chains.
    pub us_per_step: f64,
    /// Dense-equivalent FLOP/s.
    pub flop_per_s: f64,
}

/// What W2/W3 measure.
#[derive(Debug, Clone)]
pub struct RegressionConfig {
    /// Chain counts for W2 (shared batches).
    pub shared_chains: Vec<u32>,
    /// Chain counts for W3 (per-chain batches).
    pub per_chain_chains: Vec<u32>,
    /// Chain counts for W4 (the MLP, shared batches).
    pub mlp_chains: Vec<u32>,
    /// Steps timed per repeat.
    pub steps: u32,
    /// Timed repeats; the median is reported.
    pub repeats: usize,
}

impl RegressionConfig {
    /// The sizes: W2 at 1024, 10240, 102400 chains; W3 at 1024, 10240; W4 at 256, 4096.
    pub fn full() -> RegressionConfig {
        RegressionConfig {
            shared_chains: vec![1024, 10240, 102_400],
            per_chain_chains: vec![1024, 10240],
            mlp_chains: vec![256, 4096],
            steps: 100,
            repeats: 3,
        }
    }

    /// Small sizes for software adapters.
    pub fn quick() -> RegressionConfig {
        RegressionConfig {
            shared_chains: vec![256],
            per_chain_chains: vec![256],
            mlp_chains: vec![64],
            steps: 8,
            repeats: 1,
        }
    }
}

/// Synthetic data of a9a's shape stored dense: binary features at a9a's density (0.11),
/// labels ±1, from the counter-based generator (seeded, so every run times the same data).
pub fn synthetic_a9a_dense() -> Result<crate::data::Dataset> {
    let (rows, features) = (32_561usize, 123usize);
    let key = crate::rng::key_for_seed(0xa9a);
    let word = |row: usize, index: usize| {
        crate::rng::words(
            key,
            row as u32,
            index as u32 / 4,
            0,
            crate::rng::Stream::Batch,
        )[index % 4]
    };
    let threshold = (0.11 * f64::from(u32::MAX)) as u32;
    let x = (0..rows * features)
        .map(|k| f32::from(u8::from(word(k / features, k % features) < threshold)))
        .collect();
    let labels = (0..rows)
        .map(|r| {
            if word(r, features) < u32::MAX / 4 {
                1.0
            } else {
                -1.0
            }
        })
        .collect();
    crate::data::Dataset::from_dense(x, features, labels)
}

/// One data-model case of W2–W4.
struct DataCase {
    workload: &'static str,
    data: &'static str,
    target: crate::model::Target,
    chains: u32,
    per_chain: bool,
    data_path: DataPath,
    method: Method,
    /// Dense-equivalent FLOPs of one chain-step.
    flop_per_chain_step: f64,
}

const BATCH: u32 = 100;

/// Times one case; `None` when the adapter cannot run it (llvmpipe's loop limit, or a staged
/// batch that does not fit workgroup memory), with a log line saying why.
fn time_data_case(
    gpu: &Gpu,
    case: DataCase,
    steps: u32,
    repeats: usize,
) -> Result<Option<RegressionRow>> {
    use crate::minibatch::Minibatch;
    let settings = Settings {
        chains: case.chains,
        steps: 1,
        burn_in: 0,
        thin: 1,
        step_size: StepSize::constant(1e-5)?,
        minibatch: Some(Minibatch {
            size: BATCH,
            per_chain: case.per_chain,
            replacement: true,
        }),
        method: case.method,
        ..Settings::default()
    };
    let sampler = Sampler::new(case.target, settings)?.with_tuning(Tuning {
        draws_buffer_bytes: 0,
        data_path: case.data_path,
        ..Tuning::default()
    })?;
    let skipped = |error: crate::Error| {
        log::warn!(
            "{} {} at {} chains skipped: {error}",
            case.workload,
            case.data,
            case.chains
        );
        Ok(None)
    };
    let per_dispatch = match steps_per_dispatch(gpu, &sampler.job()) {
        Ok(n) => n,
        Err(error) if gpu.is_software() => return skipped(error),
        Err(error) => return Err(error),
    };
    let state = match ChainState::new(gpu, &sampler.job()) {
        Ok(state) => state,
        Err(
            error @ crate::Error::InvalidSetting {
                name: "data path", ..
            },
        ) => return skipped(error),
        Err(error) => return Err(error),
    };
    let timing = timing_batch(steps, per_dispatch);
    let seconds = time(gpu, repeats, || {
        state.submit(gpu, &timing, None).map(|_| ())
    })?;
    let chain_steps = f64::from(case.chains) * f64::from(steps);
    Ok(Some(RegressionRow {
        workload: case.workload,
        sampler: case.method.name(),
        data: case.data,
        chains: case.chains,
        batch: BATCH,
        data_path: state.data_path.unwrap_or("none"),
        chain_steps_per_s: chain_steps / seconds,
        us_per_step: seconds / f64::from(steps) * 1e6,
        flop_per_s: chain_steps * case.flop_per_chain_step / seconds,
    }))
}

/// Runs W2 and W3 (logistic regression) and W4 (an MLP with 50 hidden units, C ∈ {256, 4096};
/// FLOPs counted as 6·n·H·F, forward and backward through the first layer) on `gpu` for each
/// data set given (`(name, data)`).
pub fn run_regression(
    gpu: &Gpu,
    config: &RegressionConfig,
    datasets: &[(&'static str, crate::data::Dataset)],
) -> Result<Vec<RegressionRow>> {
    use crate::model::{mlp_classifier, Regression, Target};
    let mut rows = Vec::new();
    for (name, data) in datasets {
        let logistic: Target = Regression::logistic(data.clone(), 1.0)?.into();
        let glm_flops = 4.0 * f64::from(BATCH) * logistic.dim() as f64;
        let hidden = 50;
        let (mlp, _) = mlp_classifier(data.clone(), hidden, 1.0)?;
        let mlp_flops = 6.0 * f64::from(BATCH) * (hidden * data.features()) as f64;
        let mut cases = Vec::new();
        // W2 runs every data path with SGLD so each is measured against the global one, and
        // every other rule on the paths that run it.
        for &chains in &config.shared_chains {
            for data_path in [
                DataPath::Global,
                DataPath::Staged,
                DataPath::Fused,
                DataPath::Tiled,
            ] {
                cases.push((
                    "W2",
                    logistic.clone(),
                    chains,
                    false,
                    data_path,
                    glm_flops,
                    Method::Sgld,
                ));
            }
            for method in all_methods().into_iter().skip(1) {
                cases.push((
                    "W2",
                    logistic.clone(),
                    chains,
                    false,
                    DataPath::Auto,
                    glm_flops,
                    method,
                ));
            }
        }
        for &chains in &config.per_chain_chains {
            cases.push((
                "W3",
                logistic.clone(),
                chains,
                true,
                DataPath::Global,
                glm_flops,
                Method::Sgld,
            ));
        }
        for &chains in &config.mlp_chains {
            cases.push((
                "W4",
                mlp.clone().into(),
                chains,
                false,
                DataPath::Auto,
                mlp_flops,
                Method::Sgld,
            ));
        }
        for (workload, target, chains, per_chain, data_path, flops, method) in cases {
            let case = DataCase {
                workload,
                data: name,
                target,
                chains,
                per_chain,
                data_path,
                method,
                flop_per_chain_step: flops,
            };
            rows.extend(time_data_case(gpu, case, config.steps, config.repeats)?);
        }
    }
    Ok(rows)
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
