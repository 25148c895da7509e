//! # langevin
//!
//! Stochastic-gradient MCMC for thousands to millions of parallel chains on any GPU that
//! [wgpu](https://wgpu.rs) drives (Vulkan, Metal, DX12), with the kernels in WGSL. The chain
//! axis is native: one run advances every chain in the same fused kernel.
//!
//! ```no_run
//! # fn main() -> langevin::Result<()> {
//! use langevin::{Gaussian, Gpu, Sampler, StepSize};
//!
//! let gpu = Gpu::from_env()?; // best adapter, or the one named by LANGEVIN_ADAPTER
//! let target = Gaussian::isotropic(4, 1.5, 0.25)?; // N(1.5, 0.25 I) in 4 dimensions
//! let draws = Sampler::builder(target)
//!     .chains(4096)
//!     .steps(3000)
//!     .burn_in(1000)
//!     .thin(10)
//!     .step_size(StepSize::constant(0.01)?)
//!     .seed(7)
//!     .build()?
//!     .run(&gpu)?;
//! println!("{}", draws.summary()); // mean, sd, quantiles, R-hat, bulk ESS per dimension
//! draws.write_npy("draws.npy")?; // f32, shape [draws, chains, dim]
//! # Ok(())
//! # }
//! ```
//!
//! The same example runs as a test on whatever adapter is present (lavapipe in CI):
//!
//! ```
//! # fn main() -> langevin::Result<()> {
//! # use langevin::{Gaussian, Gpu, Sampler, StepSize};
//! # let gpu = Gpu::from_env()?;
//! let draws = Sampler::builder(Gaussian::isotropic(2, 0.0, 1.0)?)
//!     .chains(256)
//!     .steps(400)
//!     .burn_in(200)
//!     .step_size(StepSize::constant(0.05)?)
//!     .build()?
//!     .run(&gpu)?;
//! assert_eq!(draws.shape(), (200, 256, 2));
//! assert_eq!(draws.summary().divergent_chains, 0);
//! # Ok(())
//! # }
//! ```
//!
//! ## Conventions
//!
//! These are stated once, here; every other doc refers to them.
//!
//! * **Potential.** `U(θ) = −log p(θ) − Σᵢ log p(xᵢ | θ)`; the target is `π(θ) ∝ exp(−U(θ))`.
//!   A Gaussian `N(μ, P⁻¹)` has `U(θ) = ½ (θ − μ)ᵀ P (θ − μ)` and `∇U(θ) = P (θ − μ)`.
//! * **SGLD step** ([`sampler::sgld`]): `θ ← θ − η_t ∇U(θ) + sqrt(2 η_t T) ξ`, `ξ ~ N(0, I)`.
//!   Temperature `T = 1` samples the posterior; `T = 0` is gradient descent.
//!   Welling & Teh (2011) write `Δθ = (ε/2) ∇log p + N(0, ε)`, so their `ε` is our `2η`;
//!   BlackJAX's `step_size` is our `η`.
//! * **The other rules** ([`sampler::Method`]), each with its equation in its module:
//!   pSGLD ([`sampler::psgld`], RMSprop preconditioner on `ḡ = ∇Ũ/N`, Γ term dropped),
//!   SGHMC ([`sampler::sghmc`], `v ← (1 − α) v − η ∇Ũ + sqrt(2(α − β̂)ηT) ξ`, `θ ← θ + v`;
//!   Chen et al.'s `ε, C, B̂` are `η = ε²`, `α = εC`, `β̂ = εB̂`) and SGNHT
//!   ([`sampler::sgnht`], step `h = η_t`, thermostat target `T`). At `T = 0` each is its
//!   optimiser: SGD, RMSprop, SGD with momentum.
//! * **Temperature.** `T_t` is the run's `temperature`, or a [`TemperatureSchedule`]'s value at
//!   step `t`; a [`sampler::TemperatureLadder`] multiplies it per chain. A cyclical schedule's
//!   exploration steps run at `T = 0`.
//! * **Control variates** ([`sampler::control_variate`]): with the mode `θ̂` and
//!   `∇L(θ̂) = Σᵢ −∇log p(yᵢ | θ̂)`, the gradient estimate is
//!   `−∇log p(θ) + ∇L(θ̂) + (N/n) Σ_{i∈S} [∇ log p(yᵢ | θ̂) − ∇ log p(yᵢ | θ)]`.
//! * **Dense metric** ([`sampler::preconditioner`]): SGLD in a constant `M = L Lᵀ`,
//!   `θ ← θ − η_t M ∇Ũ(θ) + sqrt(2 η_t T) L ξ`, with the same `ξ` as plain SGLD; the Laplace
//!   metric is the inverse Hessian of `U` at the mode ([`Sampler::laplace_metric`]).
//! * **Step index.** Steps are numbered `t = 0, 1, …`; the polynomial schedule is
//!   `η_t = a (b + t)^(−γ)` and the cyclical one `η_t = (η₀/2)(cos(π (t mod L)/L) + 1)` with
//!   `L = ⌈K/M⌉` ([`StepSize`]; Zhang et al. write `k = t + 1`). A kept draw is the state
//!   after its step; a cyclical schedule's exploration steps keep none.
//! * **Layout.** On the GPU the state is dimension-major, `θ[d · C + c]` (chains contiguous);
//!   [`Draws`] and the NPY export are `[draw][chain][dim]`.
//! * **Randomness** ([`rng`]). Philox4x32-10 keyed by the seed, counter
//!   `(chain, step, block of 4 dimensions, stream)` with the run-wide chain id: every draw is
//!   a pure function of (seed, chain, step, dimension), so results do not depend on workgroup
//!   size, on how many steps go into one dispatch or submit, on shards, chain groups or
//!   devices, or on the adapter's integer arithmetic.
//!
//! ## Long and large runs
//!
//! [`Sampler::runner`] configures a run beyond [`Sampler::run`]: its draws stream through a
//! ring of staging buffers into a [`sink::Sink`] (in memory, a growing NPY file, or yours)
//! while the GPU keeps sampling; [`Run::checkpoint_every`] writes a [`Checkpoint`] from which
//! [`Run::resume`] continues bit-identically; [`Run::split_across`] shares the chains between
//! devices. Every run keeps running means, variances and divergence flags of every chain on
//! the GPU ([`RunReport::statistics`], [`statistics`]). [`Settings::shard`] runs a slice of
//! the chains whose draws are exactly those chains' draws in the whole run ([`shard`]); chains
//! that do not fit one storage binding run in groups, transparently.
//!
//! ## Choosing the adapter
//!
//! [`Gpu::new`] prefers a discrete GPU, then integrated, then virtual, and falls back to a
//! software adapter (Mesa lavapipe) with a logged warning. A name — `--adapter NAME` on the
//! command line, or the `LANGEVIN_ADAPTER` environment variable — picks the first adapter
//! whose name contains it. With no adapter at all the error says what to install.
//!
//! ## Errors
//!
//! Constructors and [`Sampler::new`] validate and return [`Result`]; a problem larger than the
//! adapter's limits is refused before any GPU work ([`Error::ExceedsLimits`]).

#![warn(missing_docs)]

#[cfg(feature = "bench")]
pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod diagnostics;
pub mod draws;
mod engine;
pub mod error;
pub mod gpu;
mod identity;
mod linalg;
pub mod minibatch;
pub mod model;
mod npy;
pub mod output;
#[cfg(feature = "plot")]
pub mod plot;
pub mod predictive;
pub mod rng;
mod run;
pub mod sampler;
pub mod schedule;
pub mod shard;
pub mod sink;
pub mod statistics;
pub mod summary;

pub use checkpoint::Checkpoint;
pub use data::{Dataset, ExtraFeatures, LabelColumn};
pub use draws::Draws;
pub use error::{Error, Result};
pub use gpu::Gpu;
pub use minibatch::Minibatch;
pub use model::{CustomModel, Gaussian, Regression, Target};
pub use run::{GroupReport, Progress, Run, RunReport};
pub use sampler::{
    Centre, DataPath, DivergencePolicy, Init, Method, ModeSearch, Sampler, SamplerBuilder,
    Settings, TemperatureLadder, Tuning,
};
pub use schedule::{StepSize, TemperatureSchedule};
pub use shard::Shard;
pub use statistics::ChainStatistics;
pub use summary::Summary;
