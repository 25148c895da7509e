//! Buffers and command submission: the only code that creates GPU buffers and command
//! encoders. The engine asks for buffers by purpose and submits lists of dispatches and copies.

use crate::error::Result;
use crate::gpu::pipeline::{Grid, Pipeline, Threads};
use crate::gpu::Gpu;

/// One kernel dispatch: a pipeline, its bind group (at its dynamic offsets, if it has any) and
/// the workgroup grid.
pub(crate) struct Dispatch<'a> {
    pub(crate) pipeline: &'a Pipeline,
    pub(crate) group: &'a wgpu::BindGroup,
    pub(crate) offsets: Offsets,
    pub(crate) grid: Grid,
}

/// The dynamic offsets a bind group is set at: none, the dispatch record's, or the record's
/// and a test chunk's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Offsets {
    values: [u32; 2],
    count: usize,
}

impl Offsets {
    /// No dynamic binding.
    pub(crate) const NONE: Offsets = Offsets {
        values: [0; 2],
        count: 0,
    };

    /// The dispatch record at byte `record`.
    pub(crate) fn record(record: u32) -> Offsets {
        Offsets {
            values: [record, 0],
            count: 1,
        }
    }

    /// The dispatch record at byte `record`, the chunk record at byte `chunk`.
    pub(crate) fn record_and_chunk(record: u32, chunk: u32) -> Offsets {
        Offsets {
            values: [record, chunk],
            count: 2,
        }
    }

    fn as_slice(&self) -> &[u32] {
        &self.values[..self.count]
    }
}

/// A buffer-to-buffer copy: `bytes` from the start of `source` to the start of `destination`.
pub(crate) struct Copy<'a> {
    pub(crate) source: &'a wgpu::Buffer,
    pub(crate) destination: &'a wgpu::Buffer,
    pub(crate) bytes: u64,
}

impl Gpu {
    /// A storage buffer of `bytes` (at least 4), zero-filled, also usable as `extra` says
    /// (copied from, copied into).
    pub(crate) fn storage_buffer(
        &self,
        label: &str,
        bytes: u64,
        extra: wgpu::BufferUsages,
    ) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(4),
            usage: wgpu::BufferUsages::STORAGE | extra,
            mapped_at_creation: false,
        })
    }

    /// A buffer holding `data` (padded to whole words), for `usage`.
    pub(crate) fn upload_buffer(
        &self,
        label: &str,
        data: &[u8],
        usage: wgpu::BufferUsages,
    ) -> wgpu::Buffer {
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (data.len() as u64).max(4).next_multiple_of(4),
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.queue.write_buffer(&buffer, 0, data);
        buffer
    }

    /// A uniform buffer of `bytes` that the host rewrites between submits.
    pub(crate) fn uniform_buffer(&self, label: &str, bytes: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(16),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Queues `data` to be written into `buffer` at `offset` before the next submit.
    pub(crate) fn write(&self, buffer: &wgpu::Buffer, offset: u64, data: &[u8]) {
        self.queue.write_buffer(buffer, offset, data);
    }

    /// Records `dispatches` in one compute pass, then `copies`, and submits them as one unit.
    pub(crate) fn submit(
        &self,
        label: &str,
        dispatches: &[Dispatch<'_>],
        copies: &[Copy<'_>],
    ) -> wgpu::SubmissionIndex {
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        if !dispatches.is_empty() {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(label),
                timestamp_writes: None,
            });
            let mut current: Option<*const Pipeline> = None;
            for dispatch in dispatches {
                // Set the pipeline only when it changes (a step kernel's run of dispatches).
                if current != Some(dispatch.pipeline as *const Pipeline) {
                    pass.set_pipeline(&dispatch.pipeline.pipeline);
                    current = Some(dispatch.pipeline as *const Pipeline);
                }
                pass.set_bind_group(0, dispatch.group, dispatch.offsets.as_slice());
                pass.dispatch_workgroups(dispatch.grid.x, dispatch.grid.y, dispatch.grid.z);
            }
        }
        for copy in copies {
            encoder.copy_buffer_to_buffer(copy.source, 0, copy.destination, 0, copy.bytes);
        }
        self.queue.submit([encoder.finish()])
    }

    /// Runs one dispatch of `pipeline` over `threads` and submits it.
    pub(crate) fn run_kernel(
        &self,
        pipeline: &Pipeline,
        group: &wgpu::BindGroup,
        threads: Threads,
    ) -> Result<wgpu::SubmissionIndex> {
        let grid = pipeline.grid(self, threads)?;
        let dispatch = Dispatch {
            pipeline,
            group,
            offsets: Offsets::NONE,
            grid,
        };
        Ok(self.submit(&pipeline.label, &[dispatch], &[]))
    }
}
