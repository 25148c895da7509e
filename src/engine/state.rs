//! The GPU side of one group of chains: its buffers, pipelines and the single bind group, how
//! a batch is recorded and submitted, and how state comes back for draws, checkpoints and
//! statistics.

use crate::engine::choice::{kernel_for, workgroup_size};
use crate::engine::groups::check_fits;
use crate::engine::job::Job;
use crate::engine::monitor::Monitor;
use crate::engine::network::NetworkState;
use crate::engine::plan::{Batch, MAX_DISPATCHES_PER_BATCH, MAX_STEPS_PER_BATCH};
use crate::engine::target::target_buffers;
use crate::error::{Error, Result};
use crate::gpu::contract::{DispatchRecord, RunParams, StepScalars, NO_DRAW, TILE};
use crate::gpu::kernels::{DataShape, Kernel, RegisterShape};
use crate::gpu::pipeline::{Pass, Pipeline, Threads};
use crate::gpu::{Copy, Dispatch, Gpu, Offsets};
use crate::model::Target;
use crate::sampler::settings::Init;
use crate::sampler::Method;

/// Staging buffers in the readback ring: the GPU waits for the host only when all are full.
pub(crate) const READBACK_RING: usize = 3;

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
    /// The dispatches of one step's record: the step kernel (a network: its passes).
    step: Vec<Pass>,
    /// A network's predictive passes and sums, run after each kept draw.
    network: Option<NetworkState>,
    /// Running statistics and divergence status (`chain_statistics.wgsl`).
    monitor: Monitor,
    /// The data kernel's path (`global`, `staged`, `fused`, `tiled`, `register`); `network`
    /// for networks; `None` for Gaussians.
    pub(crate) data_path: Option<&'static str>,
    record_stride: u64,
    slot_bytes: u64,
    pub(crate) slots: usize,
}

impl ChainState {
    /// Threads per workgroup of the step kernel.
    pub(crate) fn workgroup_size(&self) -> u32 {
        self.step[0].pipeline.workgroup_size
    }

    /// The generator multiply the step kernel was built with.
    #[cfg(feature = "bench")]
    pub(crate) fn multiply(&self) -> crate::gpu::RngMultiply {
        self.step[0].pipeline.multiply
    }
}

impl ChainState {
    /// Allocates everything for the job after checking it fits the adapter.
    pub(crate) fn new(gpu: &Gpu, job: &Job) -> Result<ChainState> {
        let settings = &job.settings;
        let target = &*job.target;
        let dim = target.dim() as u32;
        let chains = job.chains();
        let state_bytes = check_fits(gpu, job)?;
        // The draw budget covers the slots and each staging buffer of the ring.
        let budget = (job.tuning.draws_buffer_bytes / READBACK_RING as u64).min(gpu.max_binding());
        let slots = ((budget / state_bytes) as usize).clamp(1, settings.kept_draws() as usize);
        let mut params = RunParams::new(chains, dim, settings.seed);
        params.init_scale_stride = u32::from(matches!(settings.init, Init::PerCoordinate(_)));
        params.chain_offset = job.window.clone().start;
        [params.method_a, params.method_b] = settings.method.constants();
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
        let temperatures = job.chain_temperatures();
        // The auxiliary buffer: the rule's per-coordinate state and SGNHT's thermostats, the
        // ladder's temperatures, then a dense metric's padded factors.
        let preconditioner = settings
            .preconditioner
            .as_ref()
            .map(|p| p.kernel_values())
            .unwrap_or_default();
        if !preconditioner.is_empty() {
            let rule_values = if settings.method.has_auxiliary() {
                u64::from(chains) * (u64::from(dim) + 1)
            } else {
                0
            };
            params.preconditioner_offset = u32::try_from(rule_values + temperatures.len() as u64)
                .map_err(|_| {
                Error::invalid(
                    "preconditioner",
                    "the rule's state and the ladder leave no 32-bit index for the metric",
                )
            })?;
        }
        if let Some(data) = target.data() {
            params.per_datum = (1.0 / data.rows() as f64) as f32;
        }
        let uniform = wgpu::BufferUsages::UNIFORM;
        let params_buffer = gpu.upload_buffer("run params", bytemuck::bytes_of(&params), uniform);
        let record_stride = u64::from(gpu.limits().min_uniform_buffer_offset_alignment)
            .max(std::mem::size_of::<DispatchRecord>() as u64);
        // The step dispatches' records, then at most as many of the statistics kernel's.
        let records = gpu.uniform_buffer(
            "dispatch records",
            record_stride * 2 * MAX_DISPATCHES_PER_BATCH as u64,
        );
        let schedule = gpu.storage_buffer(
            "step schedule",
            (MAX_STEPS_PER_BATCH * std::mem::size_of::<StepScalars>()) as u64,
            wgpu::BufferUsages::COPY_DST,
        );
        // The state is copied in (given positions) and out (bench copies, readback).
        let theta = gpu.storage_buffer(
            "chain state θ",
            state_bytes,
            wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        );
        // Draw slots are copied out to the host after each batch.
        let draws = gpu.storage_buffer(
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
        let auxiliary_bytes =
            (rule_bytes + 4 * (temperatures.len() + preconditioner.len()) as u64).max(4);
        gpu.check_binding(
            &format!(
                "the {} state ({auxiliary_bytes} bytes)",
                settings.method.name()
            ),
            auxiliary_bytes,
        )?;
        let auxiliary = gpu.storage_buffer(
            "rule state",
            auxiliary_bytes,
            wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        );
        if !temperatures.is_empty() {
            gpu.write(&auxiliary, rule_bytes, bytemuck::cast_slice(&temperatures));
        }
        if !preconditioner.is_empty() {
            let offset = rule_bytes + 4 * temperatures.len() as u64;
            gpu.write(&auxiliary, offset, bytemuck::cast_slice(&preconditioner));
        }
        if let Method::Sgnht { diffusion } = settings.method {
            let thermostats = vec![diffusion as f32; chains as usize];
            gpu.write(&auxiliary, state_bytes, bytemuck::cast_slice(&thermostats));
        }
        let step_buffers = [
            &params_buffer,
            &records,
            &schedule,
            &theta,
            &draws,
            &auxiliary,
        ];
        let (step, network, data_path) = match target {
            Target::Network(model) => {
                let mut network = NetworkState::new(gpu, job, model, step_buffers)?;
                let step = std::mem::take(&mut network.step);
                let path = match network.first_layer_tiled {
                    true => "network-tiled",
                    false => "network",
                };
                (step, Some(network), Some(path))
            }
            _ => {
                let (pass, data_path) = kernel_pass(gpu, job, &params, state_bytes, step_buffers)?;
                (vec![pass], None, data_path)
            }
        };
        let monitor = Monitor::new(
            gpu,
            job,
            [&params_buffer, &records, &theta, &draws, &auxiliary],
            state_bytes,
        )?;
        let state = ChainState {
            monitor,
            data_path,
            step,
            network,
            params,
            theta,
            params_buffer,
            records,
            schedule,
            draws,
            auxiliary,
            staging,
            record_stride,
            slot_bytes: state_bytes,
            slots,
        };
        state.initialise(gpu, job)?;
        // The reset policy's last finite state starts at the initial positions.
        let copy = Copy {
            source: &state.theta,
            destination: &state.monitor.last_good,
            bytes: state_bytes,
        };
        gpu.submit("last finite state", &[], &[copy]);
        Ok(state)
    }

    fn initialise(&self, gpu: &Gpu, job: &Job) -> Result<()> {
        match &job.settings.init {
            Init::Positions(_) | Init::Point(_) => {
                let (chains, first) = (job.chains() as usize, job.window.start as usize);
                let dim = job.target.dim();
                let at = |c: usize, d: usize| match &job.settings.init {
                    Init::Positions(positions) => positions[(first + c) * dim + d],
                    Init::Point(point) => point[d],
                    Init::Normal { .. } | Init::PerCoordinate(_) => 0.0,
                };
                let mut dimension_major = vec![0.0f32; chains * dim];
                for c in 0..chains {
                    for d in 0..dim {
                        dimension_major[d * chains + c] = at(c, d);
                    }
                }
                gpu.write(&self.theta, 0, bytemuck::cast_slice(&dimension_major));
            }
            Init::Normal { .. } | Init::PerCoordinate(_) => {
                let one_scale;
                let scales: &[f32] = match &job.settings.init {
                    Init::PerCoordinate(scales) => scales,
                    Init::Normal { scale } => {
                        one_scale = [*scale as f32];
                        &one_scale
                    }
                    Init::Positions(_) | Init::Point(_) => &[],
                };
                let scales = gpu.upload_buffer(
                    "initial scales",
                    bytemuck::cast_slice(scales),
                    wgpu::BufferUsages::STORAGE,
                );
                let threads = Threads::ChainBlocks {
                    chains: u64::from(self.params.chains),
                    blocks: u64::from(self.params.blocks),
                };
                let pipeline = Pipeline::new(
                    gpu,
                    &Kernel::Init,
                    workgroup_size(
                        job,
                        u64::from(self.params.chains) * u64::from(self.params.blocks),
                    ),
                    job.tuning.rng_multiply,
                    0,
                )?;
                let group = pipeline.bind(gpu, &[&self.params_buffer, &self.theta, &scales], &[]);
                gpu.run_kernel(&pipeline, &group, threads)?;
            }
        }
        Ok(())
    }

    /// The statistics kernel's records that fold all of `batch`'s kept draws after its steps,
    /// in order, each as many as one dispatch may (`Monitor::draws_per_dispatch`); empty where
    /// each draw must be folded right after the step that kept it: under the reset policy
    /// (a reset changes θ, which the next step reads), with a network's predictive passes
    /// (which read θ at each draw), or where the draws are not evenly spaced (an exploration
    /// stretch of a cyclical schedule between them). Measured on llvmpipe, a dispatch per draw
    /// cost about 0.08 ms: a quarter of the linear job's sampling time at 256 chains.
    fn statistics_at_end(&self, batch: &Batch) -> Vec<DispatchRecord> {
        let steps = &batch.draw_steps;
        let stride = match steps[..] {
            [first, second, ..] => second - first,
            _ => 0,
        };
        let predicts = self.network.as_ref().is_some_and(|n| n.chunks > 0);
        let even = steps.windows(2).all(|pair| pair[1] - pair[0] == stride);
        if steps.is_empty() || self.monitor.reset || predicts || !even {
            return Vec::new();
        }
        let most = self.monitor.draws_per_dispatch as usize;
        (0..steps.len())
            .step_by(most)
            .map(|first| DispatchRecord {
                first_step: steps[first] + 1,
                step_count: 0,
                table_offset: 0,
                draw_slot: first as u32,
                draw_count: most.min(steps.len() - first) as u32,
                draw_stride: stride,
            })
            .collect()
    }

    /// Records and submits one batch. With `readback`, the draw slots it keeps are copied
    /// into staging buffer `readback` of the ring in the same submit.
    pub(crate) fn submit(
        &self,
        gpu: &Gpu,
        batch: &Batch,
        readback: Option<usize>,
    ) -> Result<wgpu::SubmissionIndex> {
        let folded_at_end = self.statistics_at_end(batch);
        let all_records = batch.records.iter().chain(&folded_at_end);
        let mut records =
            vec![0u8; (batch.records.len() + folded_at_end.len()) * self.record_stride as usize];
        for (i, record) in all_records.enumerate() {
            let at = i * self.record_stride as usize;
            records[at..at + std::mem::size_of::<DispatchRecord>()]
                .copy_from_slice(bytemuck::bytes_of(record));
        }
        gpu.write(&self.records, 0, &records);
        gpu.write(&self.schedule, 0, bytemuck::cast_slice(&batch.schedule));
        let step = self
            .step
            .iter()
            .map(|pass| pass.pipeline.grid(gpu, pass.threads))
            .collect::<Result<Vec<_>>>()?;
        let statistics = self
            .monitor
            .pipeline
            .grid(gpu, Threads::Linear(u64::from(self.params.chains)))?;
        let predict = match &self.network {
            Some(network) => network
                .predict
                .iter()
                .map(|pass| pass.pipeline.grid(gpu, pass.threads))
                .collect::<Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        // Networks bind a second dynamic record (the test chunk), at 0 during the step.
        let at = |record: u32| match self.network {
            Some(_) => Offsets::record_and_chunk(record, 0),
            None => Offsets::record(record),
        };
        let mut dispatches = Vec::with_capacity(2 * batch.records.len());
        for (i, record) in batch.records.iter().enumerate() {
            let offset = (i as u64 * self.record_stride) as u32;
            for (pass, &grid) in self.step.iter().zip(&step) {
                dispatches.push(Dispatch {
                    pipeline: &pass.pipeline,
                    group: &pass.group,
                    offsets: at(offset),
                    grid,
                });
            }
            if record.draw_slot == NO_DRAW {
                continue;
            }
            // A kept draw is followed by the statistics kernel on the same record (unless the
            // submit's draws are folded at its end), and for a network with a test set by its
            // predictive passes over every test chunk.
            if folded_at_end.is_empty() {
                dispatches.push(Dispatch {
                    pipeline: &self.monitor.pipeline,
                    group: &self.monitor.group,
                    offsets: Offsets::record(offset),
                    grid: statistics,
                });
            }
            if let Some(network) = &self.network {
                for chunk in 0..network.chunks {
                    let chunk_offset = (u64::from(chunk) * network.chunk_stride) as u32;
                    for (pass, &grid) in network.predict.iter().zip(&predict) {
                        dispatches.push(Dispatch {
                            pipeline: &pass.pipeline,
                            group: &pass.group,
                            offsets: Offsets::record_and_chunk(offset, chunk_offset),
                            grid,
                        });
                    }
                }
            }
        }
        for j in 0..folded_at_end.len() {
            let offset = ((batch.records.len() + j) as u64 * self.record_stride) as u32;
            dispatches.push(Dispatch {
                pipeline: &self.monitor.pipeline,
                group: &self.monitor.group,
                offsets: Offsets::record(offset),
                grid: statistics,
            });
        }
        let kept = batch.draw_steps.len() as u64;
        let copy = match (readback, kept > 0) {
            (Some(ring), true) => vec![Copy {
                source: &self.draws,
                destination: &self.staging[ring],
                bytes: self.slot_bytes * kept,
            }],
            _ => Vec::new(),
        };
        Ok(gpu.submit("sgld batch", &dispatches, &copy))
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

    /// A network's predictive sums over the test set (`NetParams::predictive_stride` values
    /// per example), once every submit is done; `None` without a test set.
    pub(crate) fn read_predictive(&self, gpu: &Gpu) -> Result<Option<Vec<f32>>> {
        let Some(network) = self.network.as_ref().filter(|n| n.test_rows > 0) else {
            return Ok(None);
        };
        let bytes = gpu.read_buffer(&network.predictive, network.predictive.size())?;
        Ok(Some(bytemuck::pod_collect_to_vec(&bytes)))
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
            gpu.write(buffer, 0, bytemuck::cast_slice(array));
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

/// The single step kernel of a target that is not a network, its pass over the chains and its
/// data path.
fn kernel_pass(
    gpu: &Gpu,
    job: &Job,
    params: &RunParams,
    state_bytes: u64,
    step_buffers: [&wgpu::Buffer; 6],
) -> Result<(Pass, Option<&'static str>)> {
    let chains = job.chains();
    let kernel = kernel_for(gpu, job)?;
    // The diagonal kernel runs a thread per (chain, block), the fused and tiled ones a
    // workgroup per few chains, the register one a thread per few chains, the others a thread
    // per chain.
    let invocations = match &kernel {
        Kernel::SgldGaussianDiagonal => u64::from(chains) * u64::from(params.blocks),
        Kernel::SgldData {
            shape: DataShape::Register(RegisterShape { chains: group, .. }),
            ..
        } => u64::from(chains.div_ceil(*group)),
        _ => u64::from(chains),
    };
    let workgroup_size = kernel
        .fixed_workgroup_size()
        .unwrap_or_else(|| workgroup_size(job, invocations));
    let pipeline = Pipeline::new(
        gpu,
        &kernel,
        workgroup_size,
        job.tuning.rng_multiply,
        job.settings.method.code(),
    )?;
    let target_buffers = target_buffers(gpu, job, &kernel, state_bytes)?;
    let mut buffers = step_buffers.to_vec();
    buffers.extend(target_buffers.iter());
    let group = pipeline.bind(
        gpu,
        &buffers,
        &[std::mem::size_of::<DispatchRecord>() as u64],
    );
    let chains_per_workgroup = match &kernel {
        Kernel::SgldData { shape, .. } => match *shape {
            DataShape::Fused(fused) => Some(fused.chains),
            DataShape::Tiled(_) => Some(TILE),
            _ => None,
        },
        _ => None,
    };
    let threads = match (chains_per_workgroup, &kernel) {
        (Some(group), _) => {
            Threads::Linear(u64::from(chains.div_ceil(group)) * u64::from(pipeline.workgroup_size))
        }
        (None, Kernel::SgldGaussianDiagonal) => Threads::ChainBlocks {
            chains: u64::from(chains),
            blocks: u64::from(params.blocks),
        },
        (None, _) => Threads::Linear(invocations),
    };
    let data_path = match &kernel {
        Kernel::SgldData { shape, .. } => Some(shape.name()),
        _ => None,
    };
    Ok((
        Pass {
            pipeline,
            group,
            threads,
        },
        data_path,
    ))
}
