//! What is sampled: target distributions with gradients computed inside the GPU kernels.

mod gaussian;
mod regression;

pub use gaussian::{Gaussian, Precision};
pub use regression::{Likelihood, Regression};

/// Anything a [`crate::Sampler`] can run on.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A Gaussian with a diagonal or dense precision; the gradient is exact.
    Gaussian(Gaussian),
    /// A regression model on data; the gradient comes from mini-batches.
    Regression(Regression),
}

impl Target {
    /// Dimensions of θ.
    pub fn dim(&self) -> usize {
        match self {
            Target::Gaussian(g) => g.dim(),
            Target::Regression(r) => r.dim(),
        }
    }
}

impl From<Gaussian> for Target {
    fn from(target: Gaussian) -> Target {
        Target::Gaussian(target)
    }
}

impl From<Regression> for Target {
    fn from(target: Regression) -> Target {
        Target::Regression(target)
    }
}
