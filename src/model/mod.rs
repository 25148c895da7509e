//! What is sampled: target distributions with gradients computed inside the GPU kernels.

mod gaussian;

pub use gaussian::{Gaussian, Precision};
