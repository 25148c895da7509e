//! Compiled kernels: a pipeline and its bind-group layout from a [`Kernel`]'s spec, bind
//! groups over the engine's buffers, and the workgroup grid that covers a dispatch's threads.

use crate::error::{Error, Result};
use crate::gpu::contract::Access;
use crate::gpu::kernels::{Kernel, RngMultiply};
use crate::gpu::Gpu;

/// One dispatch of a step: a pipeline, its bind group and the threads it covers.
pub(crate) struct Pass {
    pub(crate) pipeline: Pipeline,
    pub(crate) group: wgpu::BindGroup,
    pub(crate) threads: Threads,
}

/// A compiled kernel and the layout its bind groups must follow.
pub(crate) struct Pipeline {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
    pub(crate) workgroup_size: u32,
    pub(crate) label: String,
    /// How each binding is seen, in binding order.
    accesses: Vec<Access>,
    /// The multiply the kernel was built with (never `Auto`).
    #[cfg_attr(not(feature = "bench"), allow(dead_code))]
    pub(crate) multiply: RngMultiply,
}

impl Pipeline {
    /// Compiles `kernel` with `workgroup_size` threads per workgroup.
    pub(crate) fn new(
        gpu: &Gpu,
        kernel: &Kernel,
        workgroup_size: u32,
        multiply: RngMultiply,
        method: u32,
    ) -> Result<Pipeline> {
        let spec = kernel.spec();
        let label = spec.label.to_owned();
        let multiply = multiply.resolve(gpu)?;
        let workgroup_size = spec.fixed_workgroup_size.unwrap_or(workgroup_size);
        let max = gpu
            .limits()
            .max_compute_workgroup_size_x
            .min(gpu.limits().max_compute_invocations_per_workgroup);
        if workgroup_size == 0 || workgroup_size > max {
            return Err(Error::invalid(
                "workgroup size",
                format!("{workgroup_size} is outside 1..={max} for this adapter"),
            ));
        }
        let device = &gpu.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(&label),
            source: wgpu::ShaderSource::Wgsl(kernel.source(multiply).into()),
        });
        let entries: Vec<wgpu::BindGroupLayoutEntry> = spec
            .bindings
            .iter()
            .enumerate()
            .map(|(binding, slot)| layout_entry(binding as u32, slot.access))
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(&label),
            entries: &entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(&label),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(spec.entry_point),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &[
                    &[
                        ("WORKGROUP_SIZE", f64::from(workgroup_size)),
                        ("METHOD", f64::from(method)),
                    ][..],
                    &spec.constants,
                ]
                .concat(),
                ..Default::default()
            },
            cache: None,
        });
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(Error::Shader {
                shader: label.to_owned(),
                message: error.to_string(),
            });
        }
        Ok(Pipeline {
            pipeline,
            layout,
            workgroup_size,
            label,
            accesses: spec.bindings.iter().map(|b| b.access).collect(),
            multiply,
        })
    }

    /// A bind group whose binding `i` is `buffers[i]`; the dynamic uniform bindings, in
    /// binding order, see `record_sizes[0]`, `record_sizes[1]`, … bytes at the offsets given
    /// when the group is set.
    pub(crate) fn bind(
        &self,
        gpu: &Gpu,
        buffers: &[&wgpu::Buffer],
        record_sizes: &[u64],
    ) -> wgpu::BindGroup {
        let mut sizes = record_sizes.iter();
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .zip(&self.accesses)
            .enumerate()
            .map(|(binding, (buffer, access))| wgpu::BindGroupEntry {
                binding: binding as u32,
                resource: match (access, sizes.clone().next()) {
                    (Access::DynamicUniform, Some(&size)) => {
                        sizes.next();
                        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer,
                            offset: 0,
                            size: wgpu::BufferSize::new(size),
                        })
                    }
                    _ => buffer.as_entire_binding(),
                },
            })
            .collect();
        gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&self.label),
            layout: &self.layout,
            entries: &entries,
        })
    }

    /// The workgroup grid that covers `threads` (see `thread_index` and `chain_block` in WGSL).
    pub(crate) fn grid(&self, gpu: &Gpu, threads: Threads) -> Result<Grid> {
        let per_dim = u64::from(gpu.limits().max_compute_workgroups_per_dimension);
        let size = u64::from(self.workgroup_size);
        let (groups, blocks, total) = match threads {
            Threads::Linear(n) => (n.div_ceil(size).max(1), 1, n),
            Threads::ChainBlocks { chains, blocks } => {
                (chains.div_ceil(size).max(1), blocks.max(1), chains * blocks)
            }
        };
        // Linear: x then y; chain × block: chains along x then z, blocks along y.
        let x = groups.min(per_dim);
        let spill = groups.div_ceil(x);
        let (y, z) = match threads {
            Threads::Linear(_) => (spill, 1),
            Threads::ChainBlocks { .. } => (blocks, spill),
        };
        if y > per_dim || z > per_dim {
            return Err(Error::ExceedsLimits {
                what: format!("{total} GPU threads"),
                needed: total,
                limit: per_dim * per_dim * size,
                limit_name: "max_compute_workgroups_per_dimension²·workgroup size",
                adapter: gpu.name().to_owned(),
            });
        }
        Ok(Grid {
            x: x as u32,
            y: y as u32,
            z: z as u32,
        })
    }
}

/// The invocations a dispatch needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    /// `n` invocations indexed linearly (`thread_index`).
    Linear(u64),
    /// One invocation per (chain, block of four coordinates) (`chain_block`): chains along x
    /// (and z past the x limit), blocks along y, so no invocation divides by the chain count.
    ChainBlocks { chains: u64, blocks: u64 },
}

/// Workgroups along x, y and z.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grid {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) z: u32,
}

fn layout_entry(binding: u32, access: Access) -> wgpu::BindGroupLayoutEntry {
    let ty = match access {
        Access::Uniform | Access::DynamicUniform => wgpu::BufferBindingType::Uniform,
        Access::Read => wgpu::BufferBindingType::Storage { read_only: true },
        Access::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
    };
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: access == Access::DynamicUniform,
            min_binding_size: None,
        },
        count: None,
    }
}
