//! The target's own buffers, bound after the step bindings: a Gaussian's mean and precision,
//! or a data model's constants, data, scratch, model constants and control-variate centre.

use crate::engine::job::Job;
use crate::error::{Error, Result};
use crate::gpu::contract::{
    DataParams, BATCH_FULL, BATCH_WITHOUT_REPLACEMENT, BATCH_WITH_REPLACEMENT, GLM_CONSTANTS,
};
use crate::gpu::kernels::{DataShape, Kernel, RegisterShape};
use crate::gpu::Gpu;
use crate::model::{Precision, Target};

/// The target's own buffers, bound after the step bindings (`contract::GAUSSIAN`,
/// `contract::DATA`).
pub(crate) fn target_buffers(
    gpu: &Gpu,
    job: &Job,
    kernel: &Kernel,
    state_bytes: u64,
) -> Result<Vec<wgpu::Buffer>> {
    let read = wgpu::BufferUsages::STORAGE;
    let scratch =
        |bytes: u64| gpu.storage_buffer("gradient scratch", bytes, wgpu::BufferUsages::empty());
    if let Some(parts) = job.target.data_kernel() {
        let data = parts.data;
        // The tiled kernel reads the features dense (its size checked when it was chosen),
        // and keeps R, batch × chains, in the scratch unless it fits on chip; the others read CSR.
        let (offsets, columns, values, scratch_bytes) = match kernel {
            Kernel::SgldData {
                shape: DataShape::Tiled(tiled),
                ..
            } => (
                Vec::new(),
                Vec::new(),
                data.to_dense(),
                tiled.scratch_bytes(u64::from(job.chains())),
            ),
            Kernel::SgldData {
                shape: DataShape::Register(RegisterShape { width, .. }),
                ..
            } => {
                let (lengths, columns, values) = data.padded_rows(*width as usize);
                (lengths, columns, values, 4)
            }
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
        let (size, mode, per_chain) = batch_law(job, rows);
        let params = DataParams {
            rows: rows as u32,
            batch: size,
            mode,
            per_chain: u32::from(per_chain),
            scale: (rows as f64 / f64::from(size)) as f32,
            control_variates: u32::from(job.settings.control_variate.is_some()),
            _pad1: 0,
            _pad2: 0,
        };
        let uniform = wgpu::BufferUsages::UNIFORM;
        // With sufficient statistics the GLM's constants are followed by X̃ᵀX̃ (D × D,
        // row-major) and X̃ᵀy, as sgld_glm_register.wgsl reads them.
        let mut model_params = parts.params.clone();
        if let (
            Kernel::SgldData {
                shape: DataShape::Register(RegisterShape { gram: true, .. }),
                ..
            },
            Target::Regression(regression),
        ) = (kernel, &*job.target)
        {
            if model_params.len() != GLM_CONSTANTS as usize {
                return Err(Error::Gpu(format!(
                    "a GLM has {GLM_CONSTANTS} kernel constants, this one {}",
                    model_params.len()
                )));
            }
            let (gram, xty) = regression.sufficient_statistics();
            model_params.extend(gram.iter().chain(&xty).map(|&v| v as f32));
        }
        let centre = job
            .settings
            .control_variate
            .as_ref()
            .map(|c| c.kernel_values())
            .unwrap_or_default();
        return Ok(vec![
            gpu.upload_buffer("data params", bytemuck::bytes_of(&params), uniform),
            gpu.upload_buffer("data row offsets", bytemuck::cast_slice(&offsets), read),
            gpu.upload_buffer("data columns", bytemuck::cast_slice(&columns), read),
            gpu.upload_buffer("data values", bytemuck::cast_slice(&values), read),
            gpu.upload_buffer("data labels", bytemuck::cast_slice(data.labels()), read),
            scratch(scratch_bytes),
            gpu.upload_buffer("model params", bytemuck::cast_slice(&model_params), read),
            gpu.upload_buffer(
                "control variate θ̂ and ∇L(θ̂)",
                bytemuck::cast_slice(&centre),
                read,
            ),
        ]);
    }
    let Target::Gaussian(target) = &*job.target else {
        return Err(Error::Gpu(
            "a target without data must be a Gaussian".into(),
        ));
    };
    let precision = match target.precision() {
        Precision::Diagonal(p) | Precision::Dense(p) => p,
    };
    let mut buffers = vec![
        gpu.upload_buffer("target mean", bytemuck::cast_slice(target.gpu_mean()), read),
        gpu.upload_buffer("target precision", bytemuck::cast_slice(precision), read),
    ];
    if matches!(kernel, Kernel::SgldGaussianChain { .. }) {
        buffers.push(scratch(state_bytes));
    }
    Ok(buffers)
}

/// (examples per batch, batch mode as minibatch.wgsl numbers it, per-chain) of `job` on data
/// of `rows` examples; no mini-batch is the full data.
pub(crate) fn batch_law(job: &Job, rows: usize) -> (u32, u32, bool) {
    match job.settings.minibatch {
        None => (rows as u32, BATCH_FULL, false),
        Some(batch) => (
            batch.size,
            if batch.replacement {
                BATCH_WITH_REPLACEMENT
            } else {
                BATCH_WITHOUT_REPLACEMENT
            },
            batch.per_chain,
        ),
    }
}
