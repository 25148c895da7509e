//! W1: the fused update of each rule on a Gaussian target, against a device-to-device copy
//! timed in the same process.
//!
//! One SGLD update reads and writes one f32 of state (8 bytes); pSGLD and SGHMC also read and
//! write their per-coordinate state (16 bytes); SGNHT runs a thread per chain through a gradient
//! scratch (24 bytes). The target's mean and precision are per-dimension and stay in cache. A
//! copy moves 8 bytes per parameter of the state buffer, so `ratio_to_copy` is the fraction of
//! the adapter's practical memory bandwidth the update reaches. Rows with several steps per
//! dispatch keep the state on-chip between steps and may exceed the copy's rate; their GB/s
//! counts the bytes per update as if each went to memory.

use super::{time, timing_batch, Profile, MIN_TIMED_STEPS};
use crate::engine::state::ChainState;
use crate::error::Result;
use crate::gpu::{Gpu, RngMultiply};
use crate::model::Gaussian;
use crate::sampler::{Method, Sampler, Settings, Tuning};
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
#[derive(Debug, Clone, serde::Serialize)]
pub struct W1Config {
    /// Parameter counts to run; sizes beyond the adapter's binding limit are skipped.
    pub sizes: Vec<u64>,
    /// Steps-per-dispatch values to run at every size (1 is the memory-bound update).
    pub steps_per_dispatch: Vec<u32>,
    /// Generator multiplies to compare at every size; `Int64` is skipped where unsupported.
    #[serde(serialize_with = "multiply_names")]
    pub multiplies: Vec<RngMultiply>,
    /// Update rules to time; rules other than the first run with the last multiply only.
    #[serde(serialize_with = "method_names")]
    pub methods: Vec<Method>,
    /// Steps timed per repeat.
    pub steps: u32,
    /// Timed repeats; the median is reported.
    pub repeats: usize,
}

impl W1Config {
    /// The sizes of `profile`: 1M to 256M parameters on a GPU, 256K on a software adapter,
    /// [`MIN_TIMED_STEPS`] steps per timing (the smoke run: 16).
    pub fn of(profile: Profile) -> W1Config {
        let (sizes, steps, repeats) = match profile {
            Profile::Gpu => (vec![1 << 20, 1 << 24, 1 << 26, 1 << 28], MIN_TIMED_STEPS, 5),
            Profile::Software => (vec![1 << 18], MIN_TIMED_STEPS, 1),
            Profile::Smoke => (vec![1 << 16], 16, 1),
        };
        W1Config {
            sizes,
            steps_per_dispatch: vec![1, 16],
            multiplies: vec![RngMultiply::Portable, RngMultiply::Int64],
            methods: all_methods(),
            steps,
            repeats,
        }
    }
}

/// Every rule, with the constants of its paper's experiments.
pub(super) fn all_methods() -> Vec<Method> {
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

/// Serialises rules by name.
fn method_names<S: serde::Serializer>(
    methods: &[Method],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_seq(methods.iter().map(Method::name))
}

/// Serialises generator multiplies by name.
fn multiply_names<S: serde::Serializer>(
    multiplies: &[RngMultiply],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_seq(multiplies.iter().map(|m| m.name()))
}
