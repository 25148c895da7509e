//! What a run does, as plain data: [`Settings`] (validated once by [`crate::Sampler`]), where
//! the chains start ([`Init`]), what happens to divergent chains, and the [`Tuning`] that cuts
//! the work up on the GPU without changing a draw.

use crate::error::{Error, Result};
use crate::gpu::RngMultiply;
use crate::minibatch::Minibatch;
use crate::model::Target;
use crate::sampler::control_variate::Centre;
use crate::sampler::ladder::TemperatureLadder;
use crate::sampler::method::Method;
use crate::sampler::preconditioner::Preconditioner;
use crate::schedule::{StepSize, TemperatureSchedule};
use crate::shard::Shard;

/// Where the chains start.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Every coordinate drawn from `N(0, σ₀²)` with the run's seed (stream `Init`).
    Normal {
        /// `σ₀ ≥ 0`.
        scale: f64,
    },
    /// Given positions, chain-major: entry `c · D + d` is coordinate `d` of chain `c`.
    Positions(Vec<f32>),
    /// Every chain at the same point (D values), e.g. a mode.
    Point(Vec<f32>),
    /// Coordinate `d` of every chain drawn from `N(0, s_d²)` (D values `s_d ≥ 0`), from the
    /// same stream as `Normal`: with every `s_d = σ₀` the draws are `Normal { scale: σ₀ }`'s,
    /// bit for bit. A network starts this way by default ([`Network::initial_scales`]).
    ///
    /// [`Network::initial_scales`]: crate::model::Network::initial_scales
    PerCoordinate(Vec<f32>),
}

impl Default for Init {
    fn default() -> Self {
        Init::Normal { scale: 1.0 }
    }
}

impl Init {
    /// Where chain `chain` (its run-wide id) of a `dim`-dimensional run with this `seed`
    /// starts: the CPU twin of the device's initial positions, bit for bit.
    pub fn chain_start(&self, dim: usize, seed: u64, chain: u32) -> Vec<f32> {
        match self {
            Init::Normal { scale } => super::sgld::reference_init(dim, *scale as f32, seed, chain),
            Init::PerCoordinate(scales) => {
                let z = super::sgld::reference_init(dim, 1.0, seed, chain);
                scales.iter().zip(z).map(|(s, z)| s * z).collect()
            }
            Init::Point(point) => point.clone(),
            Init::Positions(positions) => {
                let first = chain as usize * dim;
                positions[first..first + dim].to_vec()
            }
        }
    }
}

/// What a run does. Plain data with defaults; [`crate::Sampler::new`] validates it.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Number of independent chains `C` (default 1024).
    pub chains: u32,
    /// Total steps per chain, burn-in included (default 2000).
    pub steps: u32,
    /// Steps discarded before the first kept draw (default 1000).
    pub burn_in: u32,
    /// Keep every `thin`-th state after burn-in (default 1).
    pub thin: u32,
    /// Step size schedule `η_t` (default constant 1e-3).
    pub step_size: StepSize,
    /// Temperature `T ≥ 0`: 1 samples the posterior, 0 is gradient descent (default 1).
    pub temperature: f64,
    /// The run's seed: the Philox key. Same seed, same draws (default 0).
    pub seed: u64,
    /// Starting positions (default `N(0, 1)`).
    pub init: Init,
    /// How a data model's gradient is estimated: `None` uses every example every step
    /// (default); Gaussian targets take no mini-batches.
    pub minibatch: Option<Minibatch>,
    /// The update rule (default SGLD).
    pub method: Method,
    /// σ ≥ 0 of synthetic noise `N(0, σ² I)` added to every gradient, drawn from the counter
    /// stream `GradientNoise` (default 0: none). For studying samplers on targets with exact
    /// gradients, as Chen et al. (2014) and Zhang et al. (2020) do.
    pub gradient_noise: f64,
    /// A temperature per chain (default none: every chain at `temperature`). With a ladder,
    /// `temperature` must stay 1.
    pub temperature_ladder: Option<TemperatureLadder>,
    /// Control variates for a data model's mini-batch gradient around this centre (default
    /// none); see [`super::control_variate`].
    pub control_variate: Option<Centre>,
    /// SGLD in the constant metric `M = L Lᵀ` (default none: the identity); see
    /// [`super::preconditioner`].
    pub preconditioner: Option<Preconditioner>,
    /// Temperature over the steps (default none: `temperature` throughout). With a schedule,
    /// `temperature` must stay 1.
    pub temperature_schedule: Option<TemperatureSchedule>,
    /// Run only this shard's slice of the `chains` (default none: all of them); its draws are
    /// exactly those chains' draws in the whole run. See [`crate::shard`].
    pub shard: Option<Shard>,
    /// What happens to a chain found divergent at a kept draw (default: frozen).
    pub divergence: DivergencePolicy,
}

/// What happens to a chain whose kept draw holds a NaN or an infinite coordinate. Either way
/// the chain is flagged with the step it was found at, the other chains run on untouched,
/// and the counts appear in the run's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DivergencePolicy {
    /// The chain is excluded from the running statistics from then on; its draws keep
    /// whatever it computes (NaN).
    #[default]
    Freeze,
    /// The divergent stretch is rejected: the chain, and the draw, return to its last finite
    /// draw (or its start), the rule's per-coordinate state restarts at 0 and SGNHT's
    /// thermostat at A, and it runs on.
    Reset,
}

/// The burn-in a run gets unless it says otherwise: half its steps.
pub fn default_burn_in(steps: u32) -> u32 {
    steps / 2
}

impl Default for Settings {
    fn default() -> Self {
        Settings::DEFAULT
    }
}

impl Settings {
    /// The defaults, shared by the library and the command line: 1024 chains of 2000 steps, the
    /// first half burn-in, every state kept, constant step size 10⁻³ at T = 1, seed 0, SGLD,
    /// starting from N(0, 1).
    pub const DEFAULT: Settings = Settings {
        chains: 1024,
        steps: 2000,
        burn_in: 1000,
        thin: 1,
        step_size: StepSize::Constant(crate::schedule::DEFAULT_STEP_SIZE),
        temperature: 1.0,
        seed: 0,
        init: Init::Normal { scale: 1.0 },
        minibatch: None,
        method: Method::Sgld,
        gradient_noise: 0.0,
        temperature_ladder: None,
        control_variate: None,
        preconditioner: None,
        temperature_schedule: None,
        shard: None,
        divergence: DivergencePolicy::Freeze,
    };
}

impl Settings {
    /// The number of draws kept per chain: `⌊(steps − burn_in) / thin⌋`, less those that fall
    /// in a cyclical schedule's exploration stages.
    pub fn kept_draws(&self) -> u32 {
        let regular = self.steps.saturating_sub(self.burn_in) / self.thin.max(1);
        if !matches!(
            self.step_size,
            StepSize::Constant(_) | StepSize::Polynomial { .. }
        ) {
            return (0..self.steps).filter(|&t| self.keeps(t)).count() as u32;
        }
        regular
    }

    /// `T_t`, the temperature of step `t` before any ladder.
    pub(crate) fn temperature_at(&self, step: u64) -> f64 {
        match &self.temperature_schedule {
            Some(schedule) => schedule.at(step),
            None => self.temperature,
        }
    }

    /// Whether the state after step `t` (0-based) is kept: past burn-in, on the thinning grid,
    /// and not in an exploration stage.
    pub(crate) fn keeps(&self, step: u32) -> bool {
        let done = u64::from(step) + 1;
        done > u64::from(self.burn_in)
            && (done - u64::from(self.burn_in)) % u64::from(self.thin.max(1)) == 0
            && !self.step_size.explores(u64::from(step))
    }

    /// What a network's passes do not run: SGNHT (its thermostat sums over a whole chain,
    /// and a network's update runs its parameters in parallel), control variates (written for
    /// the one-kernel data models), and a test set's predictive with shards (each shard would
    /// hold part of the average).
    fn validate_network(&self, network: &crate::model::Network) -> Result<()> {
        if let Method::Sgnht { .. } = self.method {
            return Err(Error::invalid(
                "sampler",
                "SGNHT's thermostat needs each chain's whole momentum in one thread, and a \
                 network updates its parameters in parallel; use SGLD, pSGLD or SGHMC",
            ));
        }
        if self.control_variate.is_some() {
            return Err(Error::invalid(
                "control variate",
                "control variates run with linear, logistic and custom models, not networks",
            ));
        }
        if self.preconditioner.is_some() {
            return Err(Error::invalid(
                "preconditioner",
                "a dense metric runs with Gaussian, linear, logistic and custom models, not \
                 networks (their parameters are too many for D² work per step)",
            ));
        }
        if self.shard.is_some() && network.test_set().is_some() {
            return Err(Error::invalid(
                "shard",
                "a shard would average the test predictive over its own chains only; run the \
                 test set's predictive unsharded, or shard without a test set",
            ));
        }
        Ok(())
    }

    fn validate_minibatch(&self, target: &Target) -> Result<()> {
        let (Some(batch), Some(data)) = (&self.minibatch, target.data()) else {
            if self.minibatch.is_some() {
                return Err(Error::invalid(
                    "mini-batch",
                    "a Gaussian target has no data to draw mini-batches from",
                ));
            }
            return Ok(());
        };
        let rows = data.rows();
        if batch.size == 0 || batch.size as usize > rows {
            return Err(Error::invalid(
                "batch size",
                format!(
                    "{} must lie in 1..={rows}, the size of the data set",
                    batch.size
                ),
            ));
        }
        if !batch.replacement && u64::from(self.steps) * u64::from(batch.size) > u64::from(u32::MAX)
        {
            return Err(Error::invalid(
                "batch size",
                format!(
                    "steps × batch = {} exceeds 2³², the range of positions for sampling without \
                     replacement; draw with replacement or run fewer steps",
                    u64::from(self.steps) * u64::from(batch.size)
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn validate(&self, target: &Target) -> Result<()> {
        let dim = target.dim();
        self.validate_minibatch(target)?;
        if let Target::Network(network) = target {
            self.validate_network(network)?;
        }
        if self.chains == 0 {
            return Err(Error::invalid("number of chains", "must be at least 1"));
        }
        if let Some(shard) = self.shard {
            Shard::new(shard.index, shard.count)?;
            if shard.count > self.chains {
                return Err(Error::invalid(
                    "shard",
                    format!(
                        "{} shards of {} chains would leave some empty; use at most {} shards",
                        shard.count, self.chains, self.chains
                    ),
                ));
            }
        }
        if self.steps == 0 {
            return Err(Error::invalid("number of steps", "must be at least 1"));
        }
        if self.thin == 0 {
            return Err(Error::invalid(
                "thin",
                "must be at least 1 (1 keeps every step)",
            ));
        }
        if self.burn_in >= self.steps || self.kept_draws() == 0 {
            return Err(Error::invalid(
                "burn-in",
                format!(
                    "with {} steps, burn-in {} and thin {} no draw would be kept; \
                     need steps ≥ burn-in + thin",
                    self.steps, self.burn_in, self.thin
                ),
            ));
        }
        self.step_size.validate()?;
        self.method.validate()?;
        if let Some(schedule) = &self.temperature_schedule {
            schedule.validate()?;
            if self.temperature != 1.0 {
                return Err(Error::invalid(
                    "temperature",
                    format!(
                        "{} with a temperature schedule: the schedule sets the temperature of \
                         every step; leave `temperature` at 1",
                        self.temperature
                    ),
                ));
            }
        }
        if let Some(centre) = &self.control_variate {
            if matches!(target, Target::Gaussian(_)) {
                return Err(Error::invalid(
                    "control variate",
                    "needs a data model: a Gaussian's gradient is exact already",
                ));
            }
            if centre.theta().len() != dim {
                return Err(Error::invalid(
                    "control variate",
                    format!(
                        "the centre has {} coordinates; the model has {dim}",
                        centre.theta().len()
                    ),
                ));
            }
        }
        if let Some(preconditioner) = &self.preconditioner {
            if self.method != Method::Sgld {
                return Err(Error::invalid(
                    "preconditioner",
                    format!(
                        "a dense metric is for SGLD; {} has its own dynamics (pSGLD its own \
                         diagonal metric)",
                        self.method.name()
                    ),
                ));
            }
            if preconditioner.dim() != dim {
                return Err(Error::invalid(
                    "preconditioner",
                    format!(
                        "the metric has {} dimensions; the model has {dim}",
                        preconditioner.dim()
                    ),
                ));
            }
        }
        if let Some(ladder) = &self.temperature_ladder {
            ladder.validate()?;
            if self.temperature != 1.0 {
                return Err(Error::invalid(
                    "temperature",
                    format!(
                        "{} with a temperature ladder: the ladder sets each chain's temperature; \
                         leave `temperature` at 1",
                        self.temperature
                    ),
                ));
            }
            if ladder.rungs > self.chains {
                return Err(Error::invalid(
                    "temperature ladder",
                    format!(
                        "{} rungs need at least as many chains, not {}",
                        ladder.rungs, self.chains
                    ),
                ));
            }
        }
        if !(self.gradient_noise.is_finite() && self.gradient_noise >= 0.0) {
            return Err(Error::invalid(
                "gradient noise",
                format!("σ = {} must be finite and ≥ 0", self.gradient_noise),
            ));
        }
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(Error::invalid(
                "temperature",
                format!("{} must be finite and ≥ 0", self.temperature),
            ));
        }
        match &self.init {
            Init::Normal { scale } => {
                if !(scale.is_finite() && *scale >= 0.0) {
                    return Err(Error::invalid(
                        "initial scale",
                        format!("σ₀ = {scale} must be finite and ≥ 0"),
                    ));
                }
            }
            Init::PerCoordinate(scales) => check_per_dimension(
                "initial scales",
                scales,
                dim,
                |s| s.is_finite() && s >= 0.0,
                "every scale must be finite and ≥ 0",
            )?,
            Init::Point(point) => check_per_dimension(
                "initial point",
                point,
                dim,
                f32::is_finite,
                "every value must be finite",
            )?,
            Init::Positions(positions) => {
                let want = self.chains as usize * dim;
                if positions.len() != want {
                    return Err(Error::invalid(
                        "initial positions",
                        format!(
                            "has {} values; {} chains × {dim} dimensions need {want}",
                            positions.len(),
                            self.chains
                        ),
                    ));
                }
                if let Some(i) = positions.iter().position(|v| !v.is_finite()) {
                    return Err(Error::invalid(
                        "initial positions",
                        format!(
                            "chain {} dimension {} is {}; every value must be finite",
                            i / dim,
                            i % dim,
                            positions[i]
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// How the work is cut up on the GPU. None of it changes a single draw; it trades throughput
/// against memory and the length of one GPU command.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    /// Threads per workgroup; `None` (the default) picks one from the problem: 256, or fewer
    /// (down to 32) when a thread-per-chain kernel has too few chains to give at least 128
    /// workgroups, so small runs still spread over the GPU's multiprocessors.
    pub workgroup_size: Option<u32>,
    /// Most steps one dispatch runs with the state held on-chip (default 64). Draws are
    /// always taken at the right steps: a dispatch ends where a draw is kept.
    pub max_steps_per_dispatch: u32,
    /// Bytes of GPU memory for draws between readbacks (default 256 MiB, at least one draw).
    pub draws_buffer_bytes: u64,
    /// How the generator multiplies (default: native 64-bit where the adapter has it).
    pub rng_multiply: RngMultiply,
    /// How a data model's kernel reads its mini-batch (default: the library picks).
    pub data_path: DataPath,
    /// Most chains held in one set of GPU buffers (default `None`: as many as one storage
    /// binding holds). More chains run as several groups side by side.
    pub max_chains_per_group: Option<u32>,
}

/// How a data model's kernel reads the examples of a mini-batch. All give the same draws, up to
/// the driver's choice to fuse or not a multiply-add (tested within 10⁻⁵ relative; a
/// network's tiled first layer bit for bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataPath {
    /// For linear and logistic regression: on software adapters the register kernel where it
    /// applies, else global (the order `langevin bench` measured there); on hardware adapters
    /// fused where it applies and fits, then tiled (a shared batch, at least 8192 chains and
    /// features at least 25% dense), then staged (a shared batch whose rows fit the workgroup
    /// memory), else global.
    /// Full-batch linear regression runs the register kernel on its sufficient statistics
    /// where that is fewer products. For networks: the tiled first layer on hardware adapters
    /// where its rows are shared, else the blocked passes. (The hardware rules follow the
    /// arithmetic in docs/performance-notes.md until the paths are timed on an NVIDIA card;
    /// `langevin bench` reports each path.)
    #[default]
    Auto,
    /// Every chain reads its examples from device memory; for networks, every layer runs the
    /// blocked passes (a few units × examples of one chain per thread).
    Global,
    /// The workgroup draws a shared batch once per step and stages its rows in workgroup
    /// memory; an error for per-chain batches or when the rows do not fit.
    Staged,
    /// Linear and logistic regression with a shared batch: a workgroup advances a few chains
    /// through every step of a dispatch with θ in workgroup memory and the batch staged beside
    /// it; an error where that does not apply or fit, for SGNHT and for control variates.
    Fused,
    /// Linear and logistic regression with a shared batch: per step the gradient of all
    /// chains is two matrix products over the chain axis (`H = X_B Θ`, `G = X_Bᵀ R`) computed
    /// in workgroup-memory tiles of 64 chains with 8 × 4 register blocks, the features held
    /// dense; an error where that does not apply, the dense features exceed one binding or
    /// the batch's row indices exceed the workgroup memory, for SGNHT and for control
    /// variates. Networks: the first layer's products as tiled products over the chains
    /// where its rows are shared, the forward `Z = X W₀ᵀ + b₀` (for the batch and the test
    /// chunks) and, where the inputs are divisible by 4, the weights' gradient `δᵀ X`; an
    /// error for per-chain batches.
    /// It runs 256 threads per workgroup whatever [`Tuning::workgroup_size`] says.
    Tiled,
    /// Linear and logistic regression, shared or per-chain batches: a few chains per thread
    /// with θ and ∇ in private memory across every step of a dispatch, rows padded to a fixed
    /// width and read once per example for both passes, every trip count a constant — the
    /// shape a CPU (llvmpipe) vectorises; at most 512 coordinates; an error for SGNHT and
    /// control variates.
    Register,
}

impl DataPath {
    /// The path's name, as the CLI and benchmarks spell it.
    pub fn name(self) -> &'static str {
        match self {
            DataPath::Auto => "auto",
            DataPath::Global => "global",
            DataPath::Staged => "staged",
            DataPath::Fused => "fused",
            DataPath::Tiled => "tiled",
            DataPath::Register => "register",
        }
    }
}

impl Tuning {
    /// Refuses settings that cannot run.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.max_steps_per_dispatch == 0 {
            return Err(Error::invalid(
                "max steps per dispatch",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            workgroup_size: None,
            max_steps_per_dispatch: 64,
            draws_buffer_bytes: 256 << 20,
            rng_multiply: RngMultiply::Auto,
            data_path: DataPath::Auto,
            max_chains_per_group: None,
        }
    }
}

impl Settings {
    /// Full-gradient SGLD on a Gaussian diverges once `η ≥ 2/λ_max`; says so before the run.
    pub(crate) fn warn_if_unstable(&self, target: &Target) {
        let Target::Gaussian(gaussian) = target else {
            return;
        };
        let eta = self.step_size.max();
        let curvature = gaussian.max_curvature_bound();
        if eta * curvature >= 2.0 {
            log::warn!(
                "step size {eta} may exceed the stability limit 2/λ_max ≥ {:.4e} of this target; \
                 chains can diverge",
                2.0 / curvature
            );
        }
    }
}

/// That `values` holds one value per dimension, each passing `valid` (else `rule` says why).
fn check_per_dimension(
    what: &'static str,
    values: &[f32],
    dim: usize,
    valid: impl Fn(f32) -> bool,
    rule: &str,
) -> Result<()> {
    if values.len() != dim {
        return Err(Error::invalid(
            what,
            format!(
                "has {} values; the target has {dim} dimensions",
                values.len()
            ),
        ));
    }
    if let Some(d) = values.iter().position(|&v| !valid(v)) {
        return Err(Error::invalid(
            what,
            format!("dimension {d} is {}; {rule}", values[d]),
        ));
    }
    Ok(())
}
