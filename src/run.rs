//! The driver: plans the steps into dispatches and submits, runs them on the GPU and reads the
//! kept draws back.
//!
//! A run is cut into *batches*, one queue submit each. A batch holds many dispatches, each
//! advancing every chain by up to `max_steps_per_dispatch` steps with the state on-chip; a
//! dispatch ends exactly where a draw is kept and then also stores the state into a draw slot.
//! Per-step scalars (η_t, sqrt(2η_tT)) go up once per batch as a table, and each dispatch's
//! record is reached through a dynamic offset into one uniform buffer, so the whole run uses a
//! single bind group.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::kernels::{DataShape, Kernel, Pipeline, TILED_CHAINS};
use crate::gpu::{Gpu, DEFAULT_WORKGROUP_SIZE};
use crate::model::{DataKernelParts, Precision, Target};
use crate::rng;
use crate::sampler::sgld::StepScalars;
use crate::sampler::{DataPath, DivergencePolicy, Init, Method, Sampler, Settings};

/// Run constants as `chain_layout.wgsl` declares them.
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct RunParams {
    pub(crate) chains: u32,
    pub(crate) dim: u32,
    pub(crate) blocks: u32,
    pub(crate) key_lo: u32,
    pub(crate) key_hi: u32,
    pub(crate) init_scale: f32,
    pub(crate) method: [f32; 2],
    pub(crate) per_datum: f32,
    pub(crate) gradient_noise: f32,
    pub(crate) ladder_offset: u32,
    pub(crate) chain_offset: u32,
}

impl RunParams {
    pub(crate) fn new(chains: u32, dim: u32, seed: u64, init_scale: f32) -> RunParams {
        let [key_lo, key_hi] = rng::key_for_seed(seed);
        RunParams {
            chains,
            dim,
            blocks: dim.div_ceil(4),
            key_lo,
            key_hi,
            init_scale,
            method: [0.0; 2],
            per_datum: 1.0,
            gradient_noise: 0.0,
            ladder_offset: NO_LADDER,
            chain_offset: 0,
        }
    }
}

/// One dispatch's record, as `chain_layout.wgsl` declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct DispatchRecord {
    pub(crate) first_step: u32,
    pub(crate) step_count: u32,
    pub(crate) table_offset: u32,
    pub(crate) draw_slot: u32,
}

/// `ladder_offset` of a run without a temperature ladder.
pub(crate) const NO_LADDER: u32 = u32::MAX;

/// `draw_slot` of a dispatch that keeps no draw.
pub(crate) const NO_DRAW: u32 = u32::MAX;

/// Staging buffers in the readback ring: the GPU waits for the host only when all are full.
pub(crate) const READBACK_RING: usize = 3;

/// Most dispatches in one submit (bounds the record buffer: 4096 × 256 B = 1 MiB).
const MAX_DISPATCHES_PER_BATCH: usize = 4096;
/// Most steps in one submit's schedule table (512 KiB).
const MAX_STEPS_PER_BATCH: usize = 1 << 16;

/// The work of one submit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Batch {
    pub(crate) records: Vec<DispatchRecord>,
    pub(crate) schedule: Vec<StepScalars>,
    /// The step index (0-based) after which each slot's draw was taken.
    pub(crate) draw_steps: Vec<u32>,
}

/// Cuts steps `start..settings.steps` into batches, lazily (a long run never holds its whole
/// schedule): a dispatch never crosses a kept draw or exceeds `max_steps_per_dispatch`; a
/// batch holds at most `slots` draws and as many steps as its caller asks for.
pub(crate) struct Planner<'a> {
    settings: &'a Settings,
    step: u32,
    max_steps_per_dispatch: u32,
    slots: usize,
}

impl<'a> Planner<'a> {
    pub(crate) fn new(
        settings: &'a Settings,
        start: u32,
        max_steps_per_dispatch: u32,
        slots: usize,
    ) -> Planner<'a> {
        Planner {
            settings,
            step: start,
            max_steps_per_dispatch,
            slots,
        }
    }

    /// The next submit's work, of at most `most_steps` steps (at least one); `None` at the end.
    pub(crate) fn next_batch(&mut self, most_steps: u32) -> Option<Batch> {
        let settings = self.settings;
        if self.step >= settings.steps {
            return None;
        }
        let most_steps = (most_steps.max(1) as usize).min(MAX_STEPS_PER_BATCH);
        let mut batch = Batch {
            records: Vec::new(),
            schedule: Vec::new(),
            draw_steps: Vec::new(),
        };
        while self.step < settings.steps
            && batch.records.len() < MAX_DISPATCHES_PER_BATCH
            && batch.draw_steps.len() < self.slots
            && batch.schedule.len() < most_steps
        {
            let step = self.step;
            let room = (most_steps - batch.schedule.len()) as u32;
            let limit = (settings.steps - step)
                .min(self.max_steps_per_dispatch)
                .min(room);
            let mut count = 1;
            while count < limit && !settings.keeps(step + count - 1) {
                count += 1;
            }
            let last = step + count - 1;
            let draw_slot = if settings.keeps(last) {
                batch.draw_steps.push(last);
                (batch.draw_steps.len() - 1) as u32
            } else {
                NO_DRAW
            };
            batch.records.push(DispatchRecord {
                first_step: step,
                step_count: count,
                table_offset: batch.schedule.len() as u32,
                draw_slot,
            });
            // Exploration steps inject no noise: the rule runs as its optimiser.
            let factor = settings.method.noise_factor();
            batch.schedule.extend((step..=last).map(|t| {
                let t = u64::from(t);
                let temperature = if settings.step_size.explores(t) {
                    0.0
                } else {
                    settings.temperature_at(t)
                };
                StepScalars::with_noise_factor(settings.step_size.at(t), temperature, factor)
            }));
            self.step += count;
        }
        Some(batch)
    }
}

/// [`Planner`]'s batches at their largest.
#[cfg(test)]
pub(crate) fn plan(
    settings: &Settings,
    start: u32,
    max_steps_per_dispatch: u32,
    slots: usize,
) -> impl Iterator<Item = Batch> + '_ {
    let mut planner = Planner::new(settings, start, max_steps_per_dispatch, slots);
    std::iter::from_fn(move || planner.next_batch(u32::MAX))
}

fn storage(gpu: &Gpu, label: &str, bytes: u64, extra: wgpu::BufferUsages) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4),
        usage: wgpu::BufferUsages::STORAGE | extra,
        mapped_at_creation: false,
    })
}

fn upload(gpu: &Gpu, label: &str, data: &[u8], usage: wgpu::BufferUsages) -> wgpu::Buffer {
    let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (data.len() as u64).max(4).next_multiple_of(4),
        usage: usage | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    gpu.queue.write_buffer(&buffer, 0, data);
    buffer
}

/// The GPU side of one run: buffers, pipelines and the single bind group.
pub(crate) struct ChainState {
    pub(crate) params: RunParams,
    pub(crate) theta: wgpu::Buffer,
    params_buffer: wgpu::Buffer,
    records: wgpu::Buffer,
    schedule: wgpu::Buffer,
    draws: wgpu::Buffer,
    /// The rule's state: C × D per-coordinate values laid out like θ, then C thermostats,
    /// then the ladder's temperatures.
    auxiliary: wgpu::Buffer,
    /// The readback ring: each submit copies its draw slots into the next of these, so the
    /// host reads one batch while the GPU runs the following ones.
    staging: Vec<wgpu::Buffer>,
    step_pipeline: Pipeline,
    step_group: wgpu::BindGroup,
    /// Running statistics and divergence status (`chain_statistics.wgsl`).
    monitor: Monitor,
    /// The data kernel's path (`global`, `staged`, `fused`, `tiled`); `None` for Gaussians.
    pub(crate) data_path: Option<&'static str>,
    /// Threads per dispatch: one per (chain, block) for the diagonal kernel, one per chain
    /// for the dense one.
    threads: u64,
    record_stride: u64,
    slot_bytes: u64,
    pub(crate) slots: usize,
}

impl ChainState {
    /// Threads per workgroup of the step kernel.
    pub(crate) fn workgroup_size(&self) -> u32 {
        self.step_pipeline.workgroup_size
    }

    /// The generator multiply the step kernel was built with.
    pub(crate) fn multiply(&self) -> crate::gpu::RngMultiply {
        self.step_pipeline.multiply
    }
}

impl ChainState {
    /// Allocates everything for `sampler` after checking it fits the adapter.
    pub(crate) fn new(gpu: &Gpu, sampler: &Sampler) -> Result<ChainState> {
        let settings = &sampler.settings;
        let target = &*sampler.target;
        let dim = target.dim() as u32;
        let chains = sampler.local_chains();
        let state_bytes = check_fits(gpu, sampler)?;
        // The draw budget covers the slots and each staging buffer of the ring.
        let budget =
            (sampler.tuning.draws_buffer_bytes / READBACK_RING as u64).min(gpu.max_binding());
        let slots = ((budget / state_bytes) as usize).clamp(1, settings.kept_draws() as usize);
        let init_scale = match settings.init {
            Init::Normal { scale } => scale as f32,
            Init::Positions(_) => 0.0,
        };
        let mut params = RunParams::new(chains, dim, settings.seed, init_scale);
        params.chain_offset = sampler.chain_window().start;
        params.method = settings.method.constants();
        params.gradient_noise = settings.gradient_noise as f32;
        if settings.temperature_ladder.is_some() {
            let rule_values = if settings.method.has_auxiliary() {
                u64::from(chains) * (u64::from(dim) + 1)
            } else {
                0
            };
            params.ladder_offset = u32::try_from(rule_values).map_err(|_| {
                Error::invalid(
                    "temperature ladder",
                    "chains × (dim + 1) must stay below 2³² with a ladder",
                )
            })?;
        }
        if let Some(parts) = target.data_kernel() {
            params.per_datum = (1.0 / parts.data.rows() as f64) as f32;
        }
        let kernel = kernel_for(gpu, sampler)?;
        // The diagonal kernel runs a thread per (chain, block), the fused one a workgroup per
        // G chains, the others a thread per chain.
        let per_chain_threads = match &kernel {
            Kernel::SgldGaussianDiagonal => u64::from(params.blocks),
            _ => 1,
        };
        let workgroup_size = kernel
            .fixed_workgroup_size()
            .unwrap_or_else(|| workgroup_size(sampler, u64::from(chains) * per_chain_threads));
        let step_pipeline = Pipeline::new(
            gpu,
            &kernel,
            workgroup_size,
            sampler.tuning.rng_multiply,
            settings.method.code(),
        )?;

        let uniform = wgpu::BufferUsages::UNIFORM;
        let params_buffer = upload(gpu, "run params", bytemuck::bytes_of(&params), uniform);
        let record_stride = u64::from(gpu.limits().min_uniform_buffer_offset_alignment)
            .max(std::mem::size_of::<DispatchRecord>() as u64);
        let records = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dispatch records"),
            size: record_stride * MAX_DISPATCHES_PER_BATCH as u64,
            usage: uniform | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let schedule = storage(
            gpu,
            "step schedule",
            (MAX_STEPS_PER_BATCH * std::mem::size_of::<StepScalars>()) as u64,
            wgpu::BufferUsages::COPY_DST,
        );
        // The state is copied in (given positions) and out (bench copies, readback).
        let theta = storage(
            gpu,
            "chain state θ",
            state_bytes,
            wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        );
        // Draw slots are copied out to the host after each batch.
        let draws = storage(
            gpu,
            "draw slots",
            state_bytes * slots as u64,
            wgpu::BufferUsages::COPY_SRC,
        );
        let staging = (0..READBACK_RING)
            .map(|i| {
                gpu.staging_buffer(
                    &format!("draw readback ring {i}"),
                    state_bytes * slots as u64,
                )
            })
            .collect();
        // Zero-initialised, as every rule's per-coordinate state starts; SGNHT's thermostats
        // start at A; the ladder's temperatures, one per chain, follow.
        let rule_bytes = if settings.method.has_auxiliary() {
            state_bytes + 4 * u64::from(chains)
        } else {
            0
        };
        let temperatures = chain_temperatures(sampler);
        let auxiliary_bytes = (rule_bytes + 4 * temperatures.len() as u64).max(4);
        gpu.check_binding(
            &format!(
                "the {} state ({auxiliary_bytes} bytes)",
                settings.method.name()
            ),
            auxiliary_bytes,
        )?;
        let auxiliary = storage(
            gpu,
            "rule state",
            auxiliary_bytes,
            wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        );
        if !temperatures.is_empty() {
            gpu.queue
                .write_buffer(&auxiliary, rule_bytes, bytemuck::cast_slice(&temperatures));
        }
        if let Method::Sgnht { diffusion } = settings.method {
            let thermostats = vec![diffusion as f32; chains as usize];
            gpu.queue
                .write_buffer(&auxiliary, state_bytes, bytemuck::cast_slice(&thermostats));
        }
        let target_buffers = target_buffers(gpu, sampler, &kernel, state_bytes)?;
        let mut buffers = vec![
            &params_buffer,
            &records,
            &schedule,
            &theta,
            &draws,
            &auxiliary,
        ];
        buffers.extend(target_buffers.iter());
        let step_group =
            step_pipeline.bind(gpu, &buffers, std::mem::size_of::<DispatchRecord>() as u64);
        let chains_per_workgroup = match &kernel {
            Kernel::SgldData { shape, .. } => match shape {
                DataShape::Fused { chains, .. } => Some(*chains),
                DataShape::Tiled { .. } => Some(TILED_CHAINS),
                _ => None,
            },
            _ => None,
        };
        let threads = match chains_per_workgroup {
            Some(group) => u64::from(chains.div_ceil(group)) * u64::from(workgroup_size),
            None => u64::from(chains) * per_chain_threads,
        };
        let data_path = match &kernel {
            Kernel::SgldData { shape, .. } => Some(shape.name()),
            _ => None,
        };
        let monitor = Monitor::new(
            gpu,
            sampler,
            [&params_buffer, &records, &theta, &draws, &auxiliary],
            state_bytes,
        )?;
        let state = ChainState {
            monitor,
            data_path,
            threads,
            params,
            theta,
            params_buffer,
            records,
            schedule,
            draws,
            auxiliary,
            staging,
            step_pipeline,
            step_group,
            record_stride,
            slot_bytes: state_bytes,
            slots,
        };
        state.initialise(gpu, sampler)?;
        // The reset policy's last finite state starts at the initial positions.
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("last finite state"),
            });
        encoder.copy_buffer_to_buffer(&state.theta, 0, &state.monitor.last_good, 0, state_bytes);
        gpu.queue.submit([encoder.finish()]);
        Ok(state)
    }

    fn initialise(&self, gpu: &Gpu, sampler: &Sampler) -> Result<()> {
        match &sampler.settings.init {
            Init::Positions(positions) => {
                let (chains, first) = (
                    sampler.local_chains() as usize,
                    sampler.chain_window().start as usize,
                );
                let dim = sampler.target.dim();
                let mut dimension_major = vec![0.0f32; chains * dim];
                for c in 0..chains {
                    for d in 0..dim {
                        dimension_major[d * chains + c] = positions[(first + c) * dim + d];
                    }
                }
                gpu.queue
                    .write_buffer(&self.theta, 0, bytemuck::cast_slice(&dimension_major));
            }
            Init::Normal { .. } => {
                let threads = u64::from(self.params.chains) * u64::from(self.params.blocks);
                let pipeline = Pipeline::new(
                    gpu,
                    &Kernel::Init,
                    workgroup_size(sampler, threads),
                    sampler.tuning.rng_multiply,
                    0,
                )?;
                let group = pipeline.bind(gpu, &[&self.params_buffer, &self.theta], 0);
                let threads = u64::from(self.params.chains) * u64::from(self.params.blocks);
                let (x, y) = pipeline.grid(gpu, threads)?;
                let mut encoder =
                    gpu.device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("initialise chains"),
                        });
                {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("initialise chains"),
                        timestamp_writes: None,
                    });
                    pass.set_pipeline(&pipeline.pipeline);
                    pass.set_bind_group(0, &group, &[]);
                    pass.dispatch_workgroups(x, y, 1);
                }
                gpu.queue.submit([encoder.finish()]);
            }
        }
        Ok(())
    }

    /// Records and submits one batch. With `readback`, the draw slots it keeps are copied
    /// into staging buffer `readback` of the ring in the same submit.
    pub(crate) fn submit(
        &self,
        gpu: &Gpu,
        batch: &Batch,
        readback: Option<usize>,
    ) -> Result<wgpu::SubmissionIndex> {
        let mut records = vec![0u8; batch.records.len() * self.record_stride as usize];
        for (i, record) in batch.records.iter().enumerate() {
            let at = i * self.record_stride as usize;
            records[at..at + std::mem::size_of::<DispatchRecord>()]
                .copy_from_slice(bytemuck::bytes_of(record));
        }
        gpu.queue.write_buffer(&self.records, 0, &records);
        gpu.queue
            .write_buffer(&self.schedule, 0, bytemuck::cast_slice(&batch.schedule));
        let (x, y) = self.step_pipeline.grid(gpu, self.threads)?;
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("sgld batch"),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("sgld steps"),
                timestamp_writes: None,
            });
            let (sx, sy) = self
                .monitor
                .pipeline
                .grid(gpu, u64::from(self.params.chains))?;
            pass.set_pipeline(&self.step_pipeline.pipeline);
            for (i, record) in batch.records.iter().enumerate() {
                let offset = (i as u64 * self.record_stride) as u32;
                pass.set_bind_group(0, &self.step_group, &[offset]);
                pass.dispatch_workgroups(x, y, 1);
                // A kept draw is followed by the statistics kernel on the same record; the
                // step pipeline comes back only then.
                if record.draw_slot != NO_DRAW {
                    pass.set_pipeline(&self.monitor.pipeline.pipeline);
                    pass.set_bind_group(0, &self.monitor.group, &[offset]);
                    pass.dispatch_workgroups(sx, sy, 1);
                    pass.set_pipeline(&self.step_pipeline.pipeline);
                }
            }
        }
        let kept = batch.draw_steps.len() as u64;
        if let (Some(ring), true) = (readback, kept > 0) {
            let bytes = self.slot_bytes * kept;
            encoder.copy_buffer_to_buffer(&self.draws, 0, &self.staging[ring], 0, bytes);
        }
        Ok(gpu.queue.submit([encoder.finish()]))
    }

    /// Reads the first `count` draw slots of ring buffer `ring` back once `submission` (the
    /// submit that filled it) is done, each slot `[chain][dim]` (see `draw_index` in `chain_layout.wgsl`).
    pub(crate) fn read_slots(
        &self,
        gpu: &Gpu,
        ring: usize,
        count: usize,
        submission: wgpu::SubmissionIndex,
    ) -> Result<Vec<f32>> {
        let bytes = gpu.map_after(
            &self.staging[ring],
            self.slot_bytes * count as u64,
            submission,
        )?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// The buffers a checkpoint holds, in its order: θ, the rule's state, the running
    /// statistics, the chains' status, the last finite draws.
    fn saved_buffers(&self) -> [&wgpu::Buffer; 5] {
        [
            &self.theta,
            &self.auxiliary,
            &self.monitor.statistics,
            &self.monitor.status,
            &self.monitor.last_good,
        ]
    }

    /// Copies everything a checkpoint holds to the host, in [`ChainState::saved_buffers`]
    /// order (the status words as f32 bit patterns).
    pub(crate) fn read_state(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>> {
        self.saved_buffers()
            .iter()
            .map(|buffer| {
                let bytes = gpu.read_buffer(buffer, buffer.size())?;
                Ok(bytemuck::pod_collect_to_vec(&bytes))
            })
            .collect()
    }

    /// Overwrites the state with arrays read by [`ChainState::read_state`].
    pub(crate) fn write_state(&self, gpu: &Gpu, arrays: &[&[f32]]) -> Result<()> {
        let buffers = self.saved_buffers();
        let fits = arrays.len() == buffers.len()
            && arrays
                .iter()
                .zip(&buffers)
                .all(|(a, b)| a.len() as u64 * 4 == b.size());
        if !fits {
            return Err(Error::Gpu(format!(
                "restored state has arrays of {:?} values; this run holds {:?}",
                arrays.iter().map(|a| a.len()).collect::<Vec<_>>(),
                buffers.iter().map(|b| b.size() / 4).collect::<Vec<_>>()
            )));
        }
        for (array, buffer) in arrays.iter().zip(buffers) {
            gpu.queue
                .write_buffer(buffer, 0, bytemuck::cast_slice(array));
        }
        Ok(())
    }

    /// The running statistics (means then sums of squared deviations, laid out like θ) and
    /// status (count, first divergent step, divergences, frozen) of this state's chains.
    pub(crate) fn read_statistics(&self, gpu: &Gpu) -> Result<(Vec<f32>, Vec<[u32; 4]>)> {
        let monitor = &self.monitor;
        let statistics = gpu.read_buffer(&monitor.statistics, monitor.statistics.size())?;
        let status = gpu.read_buffer(&monitor.status, monitor.status.size())?;
        Ok((
            bytemuck::pod_collect_to_vec(&statistics),
            bytemuck::pod_collect_to_vec(&status),
        ))
    }

    /// The lengths in f32 of the arrays [`ChainState::read_state`] returns.
    pub(crate) fn state_lengths(&self) -> [usize; 5] {
        self.saved_buffers().map(|b| (b.size() / 4) as usize)
    }

    /// Bytes of GPU memory the run's buffers take (θ, rule state, draw slots, readback ring).
    pub(crate) fn device_bytes(&self) -> u64 {
        self.saved_buffers().iter().map(|b| b.size()).sum::<u64>()
            + self.draws.size()
            + self.staging.iter().map(wgpu::Buffer::size).sum::<u64>()
    }
}

/// `ChainStatus` of `chain_statistics.wgsl` before any draw: nothing counted, not diverged.
pub(crate) const FRESH_STATUS: [u32; 4] = [0, u32::MAX, 0, 0];

/// The divergence check and running statistics that follow every kept draw.
struct Monitor {
    pipeline: Pipeline,
    group: wgpu::BindGroup,
    /// C × D means then C × D sums of squared deviations, laid out like θ.
    statistics: wgpu::Buffer,
    /// Per chain: draws counted, first divergent step, divergences, frozen.
    status: wgpu::Buffer,
    /// The last finite draw of each chain, laid out like θ.
    last_good: wgpu::Buffer,
}

impl Monitor {
    /// `shared`: run params, dispatch records, θ, draw slots, rule state.
    fn new(
        gpu: &Gpu,
        sampler: &Sampler,
        shared: [&wgpu::Buffer; 5],
        state_bytes: u64,
    ) -> Result<Monitor> {
        let chains = u64::from(sampler.local_chains());
        let kernel = Kernel::ChainStatistics {
            reset: sampler.settings.divergence == DivergencePolicy::Reset,
        };
        let pipeline = Pipeline::new(
            gpu,
            &kernel,
            workgroup_size(sampler, chains),
            sampler.tuning.rng_multiply,
            sampler.settings.method.code(),
        )?;
        let copyable = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        gpu.check_binding(
            "the running statistics (2 × the chain state)",
            2 * state_bytes,
        )?;
        let statistics = storage(gpu, "running statistics", 2 * state_bytes, copyable);
        let fresh = vec![FRESH_STATUS; chains as usize];
        let status = upload(
            gpu,
            "chain status",
            bytemuck::cast_slice(&fresh),
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let last_good = storage(gpu, "last finite draw", state_bytes, copyable);
        let [params, records, theta, draws, auxiliary] = shared;
        let group = pipeline.bind(
            gpu,
            &[
                params,
                records,
                theta,
                draws,
                auxiliary,
                &statistics,
                &status,
                &last_good,
            ],
            std::mem::size_of::<DispatchRecord>() as u64,
        );
        Ok(Monitor {
            pipeline,
            group,
            statistics,
            status,
            last_good,
        })
    }
}

/// Cuts `sampler`'s chains into groups whose largest buffer fits one storage binding (the
/// running statistics, 2·D values per chain, or the rule's state, D + 1 values and a
/// temperature) and whose threads fit the 2³² index, or the tuning's `max_chains_per_group`. Groups run side by side, so the only limit is the
/// device's memory; each draws exactly what its chains draw in one state.
pub(crate) fn chain_groups(gpu: &Gpu, sampler: &Sampler) -> Result<Vec<std::ops::Range<u32>>> {
    let window = sampler.chain_window();
    let dim = sampler.target.dim() as u64;
    gpu.check_dimensions(dim as usize)?;
    let by_binding = gpu.max_binding() / crate::gpu::chain_bytes(dim);
    let by_index = u64::from(u32::MAX) / dim.div_ceil(4).max(1);
    let mut most = by_binding.min(by_index).min(u64::from(u32::MAX));
    if let Some(cap) = sampler.tuning.max_chains_per_group {
        most = most.min(u64::from(cap.max(1)));
    }
    let most = most as u32;
    Ok((window.start..window.end)
        .step_by(most as usize)
        .map(|first| first..first.saturating_add(most).min(window.end))
        .collect())
}

/// The temperature of each chain `sampler` runs under the run's ladder (by run-wide chain id),
/// or none without one.
pub(crate) fn chain_temperatures(sampler: &Sampler) -> Vec<f32> {
    let settings = &sampler.settings;
    settings
        .temperature_ladder
        .map(|ladder| {
            sampler
                .chain_window()
                .map(|c| ladder.chain_temperature(c, settings.chains) as f32)
                .collect()
        })
        .unwrap_or_default()
}

/// The data kernel's shape: the tuning's path where it applies (else an error saying why), or
/// the library's pick for `DataPath::Auto`.
fn data_shape(gpu: &Gpu, sampler: &Sampler, parts: &DataKernelParts) -> Result<DataShape> {
    let data = parts.data;
    let chains = u64::from(sampler.local_chains());
    let whole_run = u64::from(sampler.settings.chains);
    let shared_batch = match sampler.settings.minibatch {
        Some(batch) if !batch.per_chain => Some(batch.size),
        None => Some(data.rows() as u32),
        Some(_) => None,
    };
    let glm = parts.glm_likelihood.is_some();
    // The fused and tiled kernels step every rule whose step is per coordinate (not SGNHT's
    // whole-chain thermostat) and form the plain estimator only (no control variates).
    let fusable = !matches!(sampler.settings.method, Method::Sgnht { .. })
        && sampler.settings.control_variate.is_none();
    let width = data.max_row_entries().max(1) as u64;
    let memory = u64::from(gpu.limits().max_compute_workgroup_storage_size);
    // Per slot: length and label (8 bytes) and width × (column, value).
    let staged_bytes = |rows: u32| u64::from(rows) * (8 + 8 * width);
    let staged = shared_batch
        .filter(|&rows| staged_bytes(rows) <= memory)
        .map(|rows| DataShape::Staged {
            rows,
            width: width as u32,
        });
    let dim = sampler.target.dim() as u64;
    // The fused kernel adds the batch column-major ((F + 1) starts, n·w entries of slot and
    // value), θ and ∇ (G × D each) and g (G × n); the most chains that fit.
    let features = data.features() as u64;
    let fused = match (shared_batch, &staged) {
        (Some(rows), Some(_)) if glm => [8u32, 4, 2, 1]
            .into_iter()
            .find(|&g| {
                let columns = 4 * (features + 1) + 8 * u64::from(rows) * width;
                let state = 4 * u64::from(g) * (2 * dim + u64::from(rows));
                staged_bytes(rows) + columns + state <= memory
            })
            .map(|g| DataShape::Fused {
                rows,
                width: width as u32,
                chains: g,
                dim: dim as u32,
                features: features as u32,
            }),
        _ => None,
    };
    // The tiled kernel holds the features dense in one binding and R (n × C) in another.
    let tiled_fits = |batch: u32| -> Result<DataShape> {
        let dense = data.rows() as u64 * features * 4;
        gpu.check_binding(
            &format!(
                "the training data dense ({} rows × {features} features × 4 bytes)",
                data.rows()
            ),
            dense,
        )?;
        gpu.check_binding(
            &format!("the tiled kernel's batch × chains scratch ({batch} × {chains} × 4 bytes)"),
            u64::from(batch) * chains * 4,
        )?;
        Ok(DataShape::Tiled { batch })
    };
    let refuse = |path: &str, why: String| {
        Err(Error::invalid(
            "data path",
            format!("the {path} path {why}"),
        ))
    };
    let path = sampler.tuning.data_path;
    match (path, shared_batch) {
        (DataPath::Global, _) => return Ok(DataShape::Global),
        (DataPath::Auto, _) => {
            let tiled = shared_batch
                // The whole run's chain count, so every shard and group takes the same path
                // and the draws stay bit-identical to a single run's.
                .filter(|_| auto_tiles(glm && fusable, whole_run, data.density()))
                .and_then(|batch| tiled_fits(batch).ok());
            return Ok(
                match auto_path(gpu.is_software(), tiled.is_some(), staged.is_some()) {
                    DataPath::Tiled => tiled.unwrap_or(DataShape::Global),
                    DataPath::Staged => staged.unwrap_or(DataShape::Global),
                    _ => DataShape::Global,
                },
            );
        }
        (_, None) => {
            return refuse(
                path.name(),
                "needs one mini-batch shared by all chains".into(),
            )
        }
        (DataPath::Fused | DataPath::Tiled, _) if !glm => {
            return refuse(
                path.name(),
                "is written for linear and logistic regression only".into(),
            )
        }
        (DataPath::Fused | DataPath::Tiled, _) if !fusable => {
            return refuse(
                path.name(),
                format!(
                    "runs neither SGNHT (its thermostat needs a thread per chain) nor control \
                     variates (asked: {}, control variate {:?}); use DataPath::Global, Staged \
                     or Auto",
                    sampler.settings.method.name(),
                    sampler.settings.control_variate
                ),
            )
        }
        _ => {}
    }
    let too_big = |what: String| {
        refuse(
            path.name(),
            format!(
                "needs {what} in workgroup memory, more than the {memory} bytes of adapter \
                 `{}`; use DataPath::Global or Auto",
                gpu.name()
            ),
        )
    };
    let rows = shared_batch.unwrap_or(0);
    match path {
        DataPath::Staged => staged.map_or_else(
            || too_big(format!("the batch's {rows} rows × {width} entries")),
            Ok,
        ),
        DataPath::Fused => fused.map_or_else(
            || {
                too_big(format!(
                    "the batch's {rows} rows × {width} entries and θ of at least one chain"
                ))
            },
            Ok,
        ),
        _ => tiled_fits(rows),
    }
}

/// `DataPath::Auto`'s choice among the paths that apply: software adapters run workgroups one
/// after another on a core, where barriers only cost, and the global path measured fastest;
/// on GPUs the tiled products where they apply (see [`auto_tiles`]), else a shared batch
/// drawn once per workgroup where it fits, else global. (A provisional rule until the paths
/// are timed on an NVIDIA card.)
fn auto_path(software: bool, tiled_applies: bool, staged_fits: bool) -> DataPath {
    match (software, tiled_applies, staged_fits) {
        (true, _, _) => DataPath::Global,
        (false, true, _) => DataPath::Tiled,
        (false, false, true) => DataPath::Staged,
        (false, false, false) => DataPath::Global,
    }
}

/// Whether `DataPath::Auto` takes the tiled kernel for a GLM the fused kernels can step: with
/// many chains on dense features, where it wastes little arithmetic on zeros.
fn auto_tiles(fusable_glm: bool, whole_run_chains: u64, density: f64) -> bool {
    fusable_glm
        && whole_run_chains >= u64::from(TILED_AUTO_MIN_CHAINS)
        && density >= TILED_AUTO_MIN_DENSITY
}

/// The least chains for which `DataPath::Auto` picks the tiled kernel: 128 workgroups.
const TILED_AUTO_MIN_CHAINS: u32 = 128 * TILED_CHAINS;
/// The least density of the features for which `DataPath::Auto` picks the tiled kernel, which
/// multiplies by every zero.
const TILED_AUTO_MIN_DENSITY: f64 = 0.25;

/// Threads per workgroup: the tuning's, or 256 reduced (to no less than 32) until `threads`
/// fill at least 128 workgroups, so that small runs still reach many multiprocessors.
fn workgroup_size(sampler: &Sampler, threads: u64) -> u32 {
    sampler.tuning.workgroup_size.unwrap_or_else(|| {
        let mut size = DEFAULT_WORKGROUP_SIZE;
        while size > 32 && threads.div_ceil(u64::from(size)) < 128 {
            size /= 2;
        }
        size
    })
}

/// The step kernel for a target.
fn kernel_for(gpu: &Gpu, sampler: &Sampler) -> Result<Kernel> {
    let target = &*sampler.target;
    Ok(match target.data_kernel() {
        Some(parts) => {
            let shape = data_shape(gpu, sampler, &parts)?;
            let model = match (&shape, parts.glm_likelihood) {
                (DataShape::Fused { .. } | DataShape::Tiled { .. }, Some(likelihood)) => {
                    vec![likelihood]
                }
                (_, _) => parts.wgsl,
            };
            Kernel::SgldData {
                shape,
                label: parts.label,
                model,
            }
        }
        None => match target {
            Target::Gaussian(g) if matches!(g.precision(), Precision::Dense(_)) => {
                Kernel::SgldGaussianChain { dense: true }
            }
            // SGNHT's thermostat sums over the whole chain.
            _ if matches!(sampler.settings.method, Method::Sgnht { .. }) => {
                Kernel::SgldGaussianChain { dense: false }
            }
            _ => Kernel::SgldGaussianDiagonal,
        },
    })
}

/// Data constants as `data_target.wgsl` declares them.
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct DataParams {
    rows: u32,
    batch: u32,
    mode: u32,
    per_chain: u32,
    scale: f32,
    control_variates: u32,
    _pad: [u32; 2],
}

/// The target's own buffers, bindings 5 onward (see `Kernel::slots`).
fn target_buffers(
    gpu: &Gpu,
    sampler: &Sampler,
    kernel: &Kernel,
    state_bytes: u64,
) -> Result<Vec<wgpu::Buffer>> {
    let read = wgpu::BufferUsages::STORAGE;
    let scratch = |bytes: u64| storage(gpu, "gradient scratch", bytes, wgpu::BufferUsages::empty());
    if let Some(parts) = sampler.target.data_kernel() {
        let data = parts.data;
        // The tiled kernel reads the features dense (its size checked when it was chosen),
        // and keeps R, batch × chains, in the scratch; the others read CSR.
        let (offsets, columns, values, scratch_bytes) = match kernel {
            Kernel::SgldData {
                shape: DataShape::Tiled { batch },
                ..
            } => (
                Vec::new(),
                Vec::new(),
                data.to_dense(),
                u64::from(*batch) * u64::from(sampler.local_chains()) * 4,
            ),
            _ => {
                let (offsets, columns, values) = data.csr();
                (offsets, columns, values, state_bytes)
            }
        };
        gpu.check_binding(
            &format!(
                "the training data ({} stored values × 4 bytes)",
                values.len()
            ),
            values.len() as u64 * 4,
        )?;
        let rows = data.rows();
        // Batch modes as minibatch.wgsl numbers them; no mini-batch is the full data.
        let (size, mode, per_chain) = match sampler.settings.minibatch {
            None => (rows as u32, 0, false),
            Some(batch) => (
                batch.size,
                if batch.replacement { 1 } else { 2 },
                batch.per_chain,
            ),
        };
        let params = DataParams {
            rows: rows as u32,
            batch: size,
            mode,
            per_chain: u32::from(per_chain),
            scale: (rows as f64 / f64::from(size)) as f32,
            control_variates: u32::from(sampler.mode.is_some()),
            _pad: [0; 2],
        };
        let uniform = wgpu::BufferUsages::UNIFORM;
        return Ok(vec![
            upload(gpu, "data params", bytemuck::bytes_of(&params), uniform),
            upload(
                gpu,
                "data row offsets",
                bytemuck::cast_slice(&offsets),
                read,
            ),
            upload(gpu, "data columns", bytemuck::cast_slice(&columns), read),
            upload(gpu, "data values", bytemuck::cast_slice(&values), read),
            upload(
                gpu,
                "data labels",
                bytemuck::cast_slice(data.labels()),
                read,
            ),
            scratch(scratch_bytes),
            upload(
                gpu,
                "model params",
                bytemuck::cast_slice(&parts.params),
                read,
            ),
            upload(
                gpu,
                "control variate θ̂ and ∇L(θ̂)",
                bytemuck::cast_slice(sampler.mode.as_deref().unwrap_or(&[])),
                read,
            ),
        ]);
    }
    let Target::Gaussian(target) = &*sampler.target else {
        return Err(Error::Gpu(
            "a target without data must be a Gaussian".into(),
        ));
    };
    let precision = match target.precision() {
        Precision::Diagonal(p) | Precision::Dense(p) => p,
    };
    let mut buffers = vec![
        upload(
            gpu,
            "target mean",
            bytemuck::cast_slice(target.gpu_mean()),
            read,
        ),
        upload(
            gpu,
            "target precision",
            bytemuck::cast_slice(precision),
            read,
        ),
    ];
    if matches!(kernel, Kernel::SgldGaussianChain { .. }) {
        buffers.push(scratch(state_bytes));
    }
    Ok(buffers)
}

/// Loop iterations one invocation may run on a software adapter. llvmpipe (behind lavapipe)
/// counts the loop iterations of a shader invocation and silently ends its loops past 65535
/// (gallivm's loop limiter); measured here, thread-per-chain kernels went wrong from about
/// 37 000 counted iterations, so the budget keeps a safety factor of 1.5 below that.
const SOFTWARE_LOOP_BUDGET: u64 = 24_000;

/// Upper bounds on one invocation's loop iterations in a dispatch: (per step, once per
/// dispatch).
fn loop_iterations(sampler: &Sampler, kernel: &Kernel) -> (u64, u64) {
    let dim = sampler.target.dim() as u64;
    let blocks = dim.div_ceil(4);
    // The noise-and-move loop over blocks and lanes, and the step loop itself.
    let moves = 5 * blocks + 1;
    match &*sampler.target {
        Target::Gaussian(g) => match (g.precision(), kernel) {
            (Precision::Dense(_), _) => (dim * (dim + 1) + moves, dim),
            (Precision::Diagonal(_), Kernel::SgldGaussianChain { .. }) => (dim + moves, dim),
            (Precision::Diagonal(_), _) => (1, 8),
        },
        Target::Regression(_) | Target::Custom(_) => {
            let Some(parts) = sampler.target.data_kernel() else {
                return (dim, dim);
            };
            let (size, walks) = match sampler.settings.minibatch {
                None => (parts.data.rows() as u64, 0),
                Some(b) if b.replacement => (u64::from(b.size), 0),
                // Cycle-walking a domain under 4N takes 4 walks on average, 5 loop iterations
                // each; budget twice that.
                Some(b) => (u64::from(b.size), 40),
            };
            if let Kernel::SgldData {
                shape: DataShape::Tiled { .. },
                ..
            } = kernel
            {
                return (tiled_loop_iterations(size, walks, dim), 1);
            }
            // A GLM runs two loops over a row's entries; a custom model says, or is charged
            // one pass over the row's entries and one over the parameters.
            let width = parts.data.max_row_entries() as u64;
            let model_loops = match &*sampler.target {
                Target::Custom(model) => model.loops_per_example.unwrap_or(width + dim),
                _ => 2 * width,
            };
            let per_row = 1 + model_loops + walks;
            (dim + size * per_row + moves, dim)
        }
    }
}

/// One step of the tiled kernel per thread: the batch indices, then for H each 64-example tile
/// runs ⌈D/16⌉ slices (4 loads, 16 × (1 + 4) products, the loop itself) and a 4 × 4 epilogue,
/// and for G each 64-coordinate tile runs ⌈n/16⌉ slices, a 4 × 4 prologue and a move of 4
/// chains (4 × (Philox's 10 rounds + 4 lanes + 1)).
fn tiled_loop_iterations(batch: u64, walks: u64, dim: u64) -> u64 {
    let slice = 4 + 16 * 5 + 1;
    let products = batch.div_ceil(64) * (dim.div_ceil(16) * slice + 20)
        + dim.div_ceil(64) * (20 + batch.div_ceil(16) * slice + 4 * 15);
    1 + batch.div_ceil(256) * (1 + walks) + products
}

/// Steps per dispatch: the tuning's cap, cut on software adapters to the loop budget.
pub(crate) fn steps_per_dispatch(gpu: &Gpu, sampler: &Sampler) -> Result<u32> {
    let cap = sampler.tuning.max_steps_per_dispatch;
    if !gpu.is_software() {
        return Ok(cap);
    }
    let (per_step, fixed) = loop_iterations(sampler, &kernel_for(gpu, sampler)?);
    let fit = SOFTWARE_LOOP_BUDGET.saturating_sub(fixed) / per_step;
    if fit == 0 {
        return Err(Error::invalid(
            "problem size for a software adapter",
            format!(
                "one step needs about {per_step} loop iterations per chain, more than the \
                 {SOFTWARE_LOOP_BUDGET} that adapter `{}` runs reliably in one invocation \
                 (llvmpipe's loop limit); use smaller mini-batches or fewer dimensions, or a GPU",
                gpu.name()
            ),
        ));
    }
    Ok(cap.min(u32::try_from(fit).unwrap_or(u32::MAX)))
}

/// Bytes of the chain state, after checking that the problem fits one storage binding and the
/// thread grid; called before anything is allocated.
fn check_fits(gpu: &Gpu, sampler: &Sampler) -> Result<u64> {
    let (chains, dim) = (sampler.local_chains(), sampler.target.dim() as u64);
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

/// The run that finds θ̂: plain SGD (SGLD at T = 0 throughout, no ladder, no gradient noise)
/// on one chain, started where the run's first chain starts, with the run's mini-batches.
fn mode_finding_settings(
    settings: &Settings,
    cv: &crate::sampler::ControlVariate,
    dim: usize,
) -> Result<Settings> {
    Ok(Settings {
        chains: 1,
        steps: cv.sgd_steps,
        burn_in: cv.sgd_steps - 1,
        thin: 1,
        step_size: crate::schedule::StepSize::constant(cv.sgd_step_size)?,
        temperature: 0.0,
        temperature_schedule: None,
        method: Method::Sgld,
        gradient_noise: 0.0,
        temperature_ladder: None,
        control_variate: None,
        shard: None,
        init: match &settings.init {
            Init::Positions(positions) => Init::Positions(positions[..dim].to_vec()),
            other => other.clone(),
        },
        ..settings.clone()
    })
}

/// With control variates: finds θ̂ by SGD on the GPU (SGLD at T = 0, one chain, the run's
/// mini-batches), computes ∇L(θ̂) on the CPU once, and returns the sampler that carries them
/// (its chains starting at θ̂ if asked). Without, `None`.
pub(crate) fn prepare_control_variate(gpu: &Gpu, sampler: &Sampler) -> Result<Option<Sampler>> {
    let Some(cv) = sampler.settings.control_variate else {
        return Ok(None);
    };
    let dim = sampler.target.dim();
    let sgd = Sampler {
        target: sampler.target.clone(),
        settings: mode_finding_settings(&sampler.settings, &cv, dim)?,
        tuning: sampler.tuning.clone(),
        mode: None,
        group: None,
    };
    let (draws, _) = crate::driver::run_keeping_state(gpu, &sgd)?;
    let mode: Vec<f32> = draws.values()[..dim].to_vec();
    if let Some(d) = mode.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "control variate",
            format!(
                "SGD for θ̂ diverged (coordinate {d} is {}); use a smaller SGD step size",
                mode[d]
            ),
        ));
    }
    let data_gradient = sampler.target.data_gradient(&mode).ok_or_else(|| {
        Error::invalid(
            "control variate",
            "the model has no CPU full-data gradient to evaluate at θ̂",
        )
    })?;
    let mut prepared = sampler.clone();
    prepared.mode = Some(
        mode.iter()
            .copied()
            .chain(data_gradient.iter().map(|&g| g as f32))
            .collect(),
    );
    if cv.start_at_mode {
        prepared.settings.init = Init::Positions(mode.repeat(sampler.settings.chains as usize));
    }
    Ok(Some(prepared))
}

/// Full-gradient SGLD on a Gaussian diverges once `η ≥ 2/λ_max`; say so before the run.
pub(crate) fn warn_if_unstable(sampler: &Sampler) {
    let Target::Gaussian(target) = &*sampler.target else {
        return;
    };
    let eta = sampler.settings.step_size.max();
    let curvature = target.max_curvature_bound();
    if eta * curvature >= 2.0 {
        log::warn!(
            "step size {eta} may exceed the stability limit 2/λ_max ≥ {:.4e} of this target; \
             chains can diverge",
            2.0 / curvature
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the run asks of temperatures, noise and rules, the search for θ̂ is plain SGD.
    #[test]
    fn the_mode_is_found_by_plain_sgd() {
        use crate::sampler::{ControlVariate, TemperatureLadder};
        use crate::schedule::TemperatureSchedule;
        let run = Settings {
            chains: 8,
            method: Method::sghmc(0.1),
            gradient_noise: 2.0,
            temperature_ladder: Some(TemperatureLadder::new(1.0, 4.0, 2).expect("valid")),
            temperature_schedule: Some(TemperatureSchedule::anneal(9.0, 1.0, 50).expect("valid")),
            init: Init::Positions((0..24).map(|v| v as f32).collect()),
            ..Settings::default()
        };
        let cv = ControlVariate::new(100, 1e-3).expect("valid");
        let sgd = mode_finding_settings(&run, &cv, 3).expect("valid");
        assert!((0..100).all(|t| sgd.temperature_at(t) == 0.0));
        assert_eq!(sgd.method, Method::Sgld);
        assert_eq!(sgd.gradient_noise, 0.0);
        assert!(sgd.temperature_ladder.is_none() && sgd.control_variate.is_none());
        assert_eq!(sgd.init, Init::Positions(vec![0.0, 1.0, 2.0]));
        assert_eq!((sgd.chains, sgd.steps, sgd.kept_draws()), (1, 100, 1));
    }

    /// Settings whose scalars change from step to step: a cyclical step size with exploring
    /// steps, an annealed temperature, and SGHMC's noise factor α − β̂.
    fn settings(steps: u32, burn_in: u32, thin: u32) -> Settings {
        use crate::schedule::TemperatureSchedule;
        Settings {
            steps,
            burn_in,
            thin,
            step_size: crate::StepSize::cyclical(0.1, 2, u64::from(steps), 0.25).expect("valid"),
            temperature_schedule: Some(TemperatureSchedule::anneal(4.0, 1.0, 50).expect("valid")),
            method: Method::Sghmc {
                friction: 0.3,
                noise_estimate: 0.1,
            },
            ..Settings::default()
        }
    }

    /// The Auto rule as the README states it, on every combination.
    #[test]
    fn the_auto_data_path_follows_its_rule() {
        for tiled in [false, true] {
            for staged in [false, true] {
                assert_eq!(auto_path(true, tiled, staged), DataPath::Global);
            }
        }
        assert_eq!(auto_path(false, true, true), DataPath::Tiled);
        assert_eq!(auto_path(false, true, false), DataPath::Tiled);
        assert_eq!(auto_path(false, false, true), DataPath::Staged);
        assert_eq!(auto_path(false, false, false), DataPath::Global);
        assert!(auto_tiles(true, 8192, 0.25));
        assert!(!auto_tiles(true, 8191, 1.0), "too few chains");
        assert!(!auto_tiles(true, 1 << 20, 0.24), "too sparse");
        assert!(
            !auto_tiles(false, 1 << 20, 1.0),
            "not a GLM the tiled kernel steps"
        );
    }

    #[test]
    fn plan_covers_every_step_once_and_keeps_the_right_draws() {
        for (steps, burn_in, thin, max, slots) in [
            (3000, 1000, 10, 64, 7),
            (10, 0, 1, 4, 100),
            (17, 3, 5, 1, 1),
            (100, 99, 1, 1000, 2),
        ] {
            let s = settings(steps, burn_in, thin);
            let batches: Vec<Batch> = plan(&s, 0, max, slots).collect();
            let mut next = 0;
            let mut kept: Vec<u32> = Vec::new();
            for batch in &batches {
                assert!(batch.draw_steps.len() <= slots);
                for record in &batch.records {
                    assert_eq!(record.first_step, next);
                    assert!(record.step_count >= 1 && record.step_count <= max);
                    let last = record.first_step + record.step_count - 1;
                    if record.draw_slot != NO_DRAW {
                        assert_eq!(batch.draw_steps[record.draw_slot as usize], last);
                    }
                    // The table's values, from the schedules' equations: η_t of Zhang et al.'s
                    // cosine (L = ⌈steps/2⌉), T_t = 4·(1/4)^(t/50) then 1, zero noise on the
                    // first quarter of each cycle, and noise √(2(α − β̂)η_tT_t).
                    let length = steps.div_ceil(2);
                    for j in 0..record.step_count {
                        let t = record.first_step + j;
                        let position = f64::from(t % length) / f64::from(length);
                        let eta = 0.05 * ((std::f64::consts::PI * position).cos() + 1.0);
                        let hot = if t < 50 {
                            4.0 * 0.25f64.powf(f64::from(t) / 50.0)
                        } else {
                            1.0
                        };
                        let temperature = if position < 0.25 { 0.0 } else { hot };
                        let got = batch.schedule[(record.table_offset + j) as usize];
                        let noise = (2.0 * 0.2 * eta * temperature).sqrt();
                        assert!((f64::from(got.eta) - eta).abs() <= 1e-6 * eta, "η at {t}");
                        assert!(
                            (f64::from(got.noise_scale) - noise).abs() <= 1e-6 * noise.max(1e-30),
                            "noise at {t}"
                        );
                        assert!(
                            (f64::from(got.temperature) - temperature).abs() <= 1e-6 * temperature,
                            "T at {t}"
                        );
                    }
                    next += record.step_count;
                }
                assert_eq!(
                    batch.schedule.len() as u32,
                    batch.records.iter().map(|r| r.step_count).sum::<u32>()
                );
                kept.extend(&batch.draw_steps);
            }
            assert_eq!(next, steps);
            let want: Vec<u32> = (0..steps).filter(|&t| s.keeps(t)).collect();
            assert_eq!(kept, want);
            assert_eq!(kept.len() as u32, s.kept_draws());
        }
    }
}
