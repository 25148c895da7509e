//! The GPU context: one adapter, one device and queue, opened once and shared by every run.

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::adapter;

/// An open GPU: the adapter langevin chose and the device it runs on.
///
/// Open it once and reuse it; every [`crate::Sampler`] run borrows it.
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    /// Errors the device reported outside an error scope, surfaced at the next wait.
    errors: Arc<Mutex<Vec<String>>>,
}

/// Bytes of the largest per-chain array of a chain with `dim` dimensions: the running
/// statistics (2·D values) or the rule's state (D values, a thermostat and a temperature).
pub(crate) fn chain_bytes(dim: u64) -> u64 {
    (8 * dim).max(4 * (dim + 2))
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("adapter", &self.describe())
            .finish()
    }
}

impl Gpu {
    /// Opens the adapter named by the `LANGEVIN_ADAPTER` environment variable, or the default
    /// one when it is unset (see [`Gpu::new`]).
    pub fn from_env() -> Result<Gpu> {
        let name = std::env::var(adapter::ADAPTER_ENV).ok();
        Gpu::new(name.as_deref().filter(|n| !n.trim().is_empty()))
    }

    /// Opens an adapter: the best one whose name contains `name` (case-insensitive), or with
    /// `None` the best of all — a discrete GPU, then integrated, then virtual, and a software
    /// adapter (e.g. lavapipe) last, with a logged warning.
    ///
    /// The device is opened with the adapter's own limits, so the largest storage buffers the
    /// adapter supports are available.
    pub fn new(name: Option<&str>) -> Result<Gpu> {
        let instance = adapter::instance();
        let adapters = pollster::block_on(instance.enumerate_adapters(adapter::backends()));
        let chosen = adapter::choose(adapters, name)?;
        let info = chosen.get_info();
        if info.device_type == wgpu::DeviceType::Cpu && name.is_none() {
            log::warn!(
                "no hardware GPU found; running on the software adapter {}: expect it to be slow",
                adapter::describe(&info)
            );
        }
        let limits = chosen.limits();
        // 64-bit integers let Philox multiply natively; everything else is core WebGPU.
        let features = chosen.features() & wgpu::Features::SHADER_INT64;
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("langevin device"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) =
            pollster::block_on(chosen.request_device(&descriptor)).map_err(|e| {
                Error::RequestDevice {
                    adapter: info.name.clone(),
                    reason: e.to_string(),
                }
            })?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&errors);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            if let Ok(mut list) = sink.lock() {
                list.push(error.to_string());
            }
        }));
        let lost = Arc::clone(&errors);
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut list) = lost.lock() {
                list.push(format!("device lost ({reason:?}): {message}"));
            }
        });
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            errors,
        })
    }

    /// The adapter's name, backend and type, e.g. `NVIDIA H100 80GB HBM3 (Vulkan, DiscreteGpu)`.
    pub fn describe(&self) -> String {
        adapter::describe(&self.info)
    }

    /// The adapter's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Whether this is a software adapter (a CPU implementation such as lavapipe).
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Whether kernels may use 64-bit integers (`SHADER_INT64`).
    pub fn has_int64(&self) -> bool {
        self.device
            .features()
            .contains(wgpu::Features::SHADER_INT64)
    }

    /// The limits the device was opened with (the adapter's own).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// Largest buffer one shader binding can see, in bytes.
    pub(crate) fn max_binding(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// Refuses a target of `dim` dimensions whose single chain cannot fit the adapter's
    /// bindings (its running statistics take 2·D values, its rule state D + 2), before
    /// anything of it is allocated. More chains than one binding holds run as groups.
    pub fn check_dimensions(&self, dim: usize) -> Result<()> {
        let per_chain = chain_bytes(dim as u64);
        if per_chain > self.max_binding() {
            return Err(Error::ExceedsLimits {
                what: format!("one chain of {dim} dimensions with its rule state"),
                needed: per_chain,
                limit: self.max_binding(),
                limit_name: "max_storage_buffer_binding_size",
                adapter: self.describe(),
            });
        }
        Ok(())
    }

    /// Refuses a buffer larger than one storage binding, before any work starts.
    pub(crate) fn check_binding(&self, what: &str, bytes: u64) -> Result<()> {
        if bytes > self.max_binding() {
            return Err(Error::ExceedsLimits {
                what: what.to_owned(),
                needed: bytes,
                limit: self.max_binding(),
                limit_name: "max_storage_buffer_binding_size",
                adapter: self.info.name.clone(),
            });
        }
        Ok(())
    }

    /// Blocks until all submitted work is done, then reports any error the device raised.
    pub(crate) fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(e.to_string()))?;
        self.take_errors()
    }

    /// Blocks until `submission` is done (later submits keep running), then reports any error
    /// the device raised.
    pub(crate) fn wait_for(&self, submission: wgpu::SubmissionIndex) -> Result<()> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: None,
            })
            .map_err(|e| Error::Gpu(e.to_string()))?;
        self.take_errors()
    }

    /// Turns errors the device reported since the last call into an [`Error::Gpu`].
    pub(crate) fn take_errors(&self) -> Result<()> {
        let mut list = self
            .errors
            .lock()
            .map_err(|_| Error::Gpu("error log poisoned".into()))?;
        if list.is_empty() {
            return Ok(());
        }
        let message = list.join("; ");
        list.clear();
        Err(Error::Gpu(message))
    }

    /// A host-mappable buffer of `size` bytes that GPU copies can fill.
    pub(crate) fn staging_buffer(&self, label: &str, size: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: size.max(4),
            // Mappable for the host read; copy destination so the GPU can fill it.
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Copies `size` bytes of `source` to the host through a new staging buffer (for one-off
    /// reads such as checkpoints; the draws go through the run's readback ring).
    pub(crate) fn read_buffer(&self, source: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
        let staging = self.staging_buffer("readback staging", size);
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("readback copy"),
            });
        encoder.copy_buffer_to_buffer(source, 0, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        self.map_and_read(&staging, size)
    }

    /// Maps a `MAP_READ` buffer after all queued work finishes and copies it out.
    pub(crate) fn map_and_read(&self, staging: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
        self.map_until(staging, size, None)
    }

    /// Maps a `MAP_READ` buffer once `submission` (the submit that filled it) is done and
    /// copies it out; later submits keep running meanwhile.
    pub(crate) fn map_after(
        &self,
        staging: &wgpu::Buffer,
        size: u64,
        submission: wgpu::SubmissionIndex,
    ) -> Result<Vec<u8>> {
        self.map_until(staging, size, Some(submission))
    }

    fn map_until(
        &self,
        staging: &wgpu::Buffer,
        size: u64,
        submission: Option<wgpu::SubmissionIndex>,
    ) -> Result<Vec<u8>> {
        let slice = staging.slice(..size);
        let (sender, receiver) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |result| {
            // The receiver lives until after the wait below; a failed send cannot happen.
            let _ = sender.send(result);
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: submission,
                timeout: None,
            })
            .map_err(|e| Error::Gpu(e.to_string()))?;
        self.take_errors()?;
        receiver
            .recv()
            .map_err(|_| Error::Gpu("buffer mapping was never answered".into()))?
            .map_err(|e| Error::Gpu(format!("buffer mapping failed: {e}")))?;
        let bytes = slice
            .get_mapped_range()
            .map_err(|e| Error::Gpu(format!("buffer mapping failed: {e}")))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }
}
