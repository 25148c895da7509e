//! The divergence check and running statistics that follow every kept draw
//! (`shaders/chain_statistics.wgsl`).

use crate::engine::choice::{statistics_draws_per_dispatch, workgroup_size};
use crate::engine::job::Job;
use crate::error::Result;
use crate::gpu::contract::{ChainStatus, DispatchRecord};
use crate::gpu::kernels::Kernel;
use crate::gpu::pipeline::Pipeline;
use crate::gpu::Gpu;
use crate::sampler::settings::DivergencePolicy;

/// The divergence check and running statistics that follow every kept draw.
pub(crate) struct Monitor {
    pub(crate) pipeline: Pipeline,
    pub(crate) group: wgpu::BindGroup,
    /// C × D means then C × D sums of squared deviations, laid out like θ.
    pub(crate) statistics: wgpu::Buffer,
    /// Per chain: draws counted, first divergent step, divergences, frozen.
    pub(crate) status: wgpu::Buffer,
    /// The last finite draw of each chain, laid out like θ.
    pub(crate) last_good: wgpu::Buffer,
    /// Whether a divergent chain is reset (which a later step reads), so that every kept draw
    /// is folded right after the step that kept it.
    pub(crate) reset: bool,
    /// The most kept draws one statistics dispatch folds.
    pub(crate) draws_per_dispatch: u32,
}

impl Monitor {
    /// `shared`: run params, dispatch records, θ, draw slots, rule state.
    pub(crate) fn new(
        gpu: &Gpu,
        job: &Job,
        shared: [&wgpu::Buffer; 5],
        state_bytes: u64,
    ) -> Result<Monitor> {
        let chains = u64::from(job.chains());
        let reset = job.settings.divergence == DivergencePolicy::Reset;
        let kernel = Kernel::ChainStatistics { reset };
        let pipeline = Pipeline::new(
            gpu,
            &kernel,
            workgroup_size(job, chains),
            job.tuning.rng_multiply,
            job.settings.method.code(),
        )?;
        let copyable = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        gpu.check_binding(
            "the running statistics (2 × the chain state)",
            2 * state_bytes,
        )?;
        let statistics = gpu.storage_buffer("running statistics", 2 * state_bytes, copyable);
        let fresh = vec![ChainStatus::FRESH; chains as usize];
        let status = gpu.upload_buffer(
            "chain status",
            bytemuck::cast_slice(&fresh),
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let last_good = gpu.storage_buffer("last finite draw", state_bytes, copyable);
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
            &[std::mem::size_of::<DispatchRecord>() as u64],
        );
        Ok(Monitor {
            pipeline,
            group,
            statistics,
            status,
            last_good,
            reset,
            draws_per_dispatch: statistics_draws_per_dispatch(gpu, job.target.dim() as u64),
        })
    }
}
