//! Samplers: the update rules with their equations and CPU references, the run's settings and
//! their validation, control variates and temperature ladders — plain data — and the
//! [`Sampler`] front that validates them once and runs them.

pub mod auto_step;
mod builder;
pub mod control_variate;
pub mod ladder;
pub mod method;
pub mod preconditioner;
pub mod psgld;
pub(crate) mod settings;
pub mod sghmc;
pub mod sgld;
pub mod sgnht;

pub use auto_step::{AutoStep, StepSizeChoice};
pub use builder::{Sampler, SamplerBuilder};
pub use control_variate::{Centre, ModeSearch};
pub use ladder::TemperatureLadder;
pub use method::Method;
pub use preconditioner::{newton_mode, Preconditioner};
pub use settings::{default_burn_in, DataPath, DivergencePolicy, Init, Settings, Tuning};
