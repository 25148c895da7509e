//! langevin
pub mod bench;
pub mod diagnostics;
pub mod draws;
pub mod error;
pub mod gpu;
mod linalg;
pub mod model;
pub mod output;
pub mod rng;
mod run;
pub mod sampler;
pub mod schedule;
pub mod summary;

pub use draws::Draws;
pub use error::{Error, Result};
pub use gpu::Gpu;
pub use model::Gaussian;
pub use sampler::{Init, Sampler, Settings, Tuning};
pub use schedule::StepSize;
pub use summary::Summary;
