//! Everything that touches wgpu: adapter choice, the device, buffers and compute kernels.
//! No other module creates GPU objects.

mod adapter;
mod buffers;
mod context;
pub(crate) mod contract;
mod data_shape;
pub(crate) mod kernels;
pub(crate) mod pipeline;

pub use adapter::{list_adapters, AdapterSummary, ADAPTER_ENV};
pub(crate) use buffers::{Copy, Dispatch, Offsets};
pub(crate) use context::chain_bytes;
pub use context::Gpu;
pub use kernels::RngMultiply;

#[cfg(test)]
pub(crate) mod tests {
    use super::Gpu;
    use std::sync::OnceLock;

    /// One device for all unit tests of the crate (opening one per test is slow on lavapipe).
    pub(crate) fn shared_gpu() -> &'static Gpu {
        static GPU: OnceLock<Gpu> = OnceLock::new();
        GPU.get_or_init(|| Gpu::from_env().expect("tests need an adapter (lavapipe will do)"))
    }
}
