//! The front: [`Sampler`], a target with validated settings, and its [`SamplerBuilder`]. It
//! validates once and hands plain values down; everything it runs goes through
//! [`crate::Run`].

use std::path::Path;
use std::sync::Arc;

use crate::draws::Draws;
use crate::engine::job::Job;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::minibatch::Minibatch;
use crate::model::Target;
use crate::run::Run;
use crate::sampler::auto_step::{AutoStep, StepSizeChoice};
use crate::sampler::control_variate::{Centre, ModeSearch};
use crate::sampler::ladder::TemperatureLadder;
use crate::sampler::method::Method;
use crate::sampler::preconditioner::Preconditioner;
use crate::sampler::settings::{default_burn_in, DivergencePolicy, Init, Settings, Tuning};
use crate::schedule::{StepSize, TemperatureSchedule};
use crate::shard::Shard;

/// A target with validated settings, ready to run on a [`Gpu`].
#[derive(Debug, Clone)]
pub struct Sampler {
    /// Shared, so that a run's chain groups (and clones) do not copy a large model.
    target: Arc<Target>,
    settings: Settings,
    tuning: Tuning,
}

impl Sampler {
    /// Validates `settings` against `target` (a [`crate::Gaussian`], a [`crate::Regression`],
    /// a [`crate::model::CustomModel`], …).
    pub fn new(target: impl Into<Target>, settings: Settings) -> Result<Sampler> {
        let target = target.into();
        settings.validate(&target)?;
        Ok(Sampler {
            target: Arc::new(target),
            settings,
            tuning: Tuning::default(),
        })
    }

    /// A builder starting from [`Settings::default`].
    pub fn builder(target: impl Into<Target>) -> SamplerBuilder {
        SamplerBuilder {
            target: target.into(),
            settings: Settings::default(),
            tuning: Tuning::default(),
            burn_in: None,
            init: None,
        }
    }

    /// Replaces the [`Tuning`]; it never changes the draws.
    pub fn with_tuning(mut self, tuning: Tuning) -> Result<Sampler> {
        tuning.validate()?;
        self.tuning = tuning;
        Ok(self)
    }

    /// The run-wide ids of the chains this sampler runs: its shard's, or all.
    pub fn chain_window(&self) -> std::ops::Range<u32> {
        match self.settings.shard {
            Some(shard) => shard.chains(self.settings.chains),
            None => 0..self.settings.chains,
        }
    }

    /// The validated settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The tuning.
    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    /// What the engine runs: this sampler's chains as plain values.
    pub(crate) fn job(&self) -> Job {
        Job {
            target: Arc::clone(&self.target),
            settings: self.settings.clone(),
            tuning: self.tuning.clone(),
            window: self.chain_window(),
        }
    }

    /// Runs every chain on `gpu` and reads the kept draws back into memory.
    pub fn run(&self, gpu: &Gpu) -> Result<Draws> {
        self.runner(gpu).draws()
    }

    /// A run to configure: stream the draws into a [`crate::sink::Sink`], checkpoint, resume,
    /// keep statistics only.
    pub fn runner<'a>(&'a self, gpu: &'a Gpu) -> Run<'a> {
        Run::new(self.job(), gpu)
    }

    /// The centre for control variates (Baker et al. 2019): `search`'s steps of plain SGD on
    /// the GPU (SGLD at T = 0 on one chain, started where this run's first chain starts, with
    /// this run's mini-batches and seed) find the mode θ̂, and the full-data gradient ∇L(θ̂) is
    /// computed there once on the CPU. Pass it to [`SamplerBuilder::control_variate`].
    pub fn find_centre(&self, gpu: &Gpu, search: &ModeSearch) -> Result<Centre> {
        Centre::at(&self.target, self.find_mode(gpu, search)?)
    }

    /// `search`'s steps of plain SGD on the GPU from where this run's first chain starts:
    /// the last iterate, an estimate of the mode.
    fn find_mode(&self, gpu: &Gpu, search: &ModeSearch) -> Result<Vec<f32>> {
        let dim = self.target.dim();
        let sgd = Sampler {
            target: Arc::clone(&self.target),
            settings: sgd_settings(search, &self.settings, dim)?,
            tuning: self.tuning.clone(),
        };
        let draws = sgd.run(gpu)?;
        Ok(draws.values()[..dim].to_vec())
    }

    /// The mode by SGD on the GPU (a Gaussian's is its mean, with no step size): `steps` steps
    /// at a quarter of the SGD limit at the first chain's start (the largest curvature there
    /// by `iterations` of power iteration), cut fourfold while SGD diverges. Returns the mode
    /// and the SGD step size that found it.
    fn sgd_mode(&self, gpu: &Gpu, steps: u32, iterations: u32) -> Result<(Vec<f32>, Option<f64>)> {
        if let Target::Gaussian(g) = &*self.target {
            return Ok((g.mean().iter().map(|&m| m as f32).collect(), None));
        }
        let gradient = super::auto_step::potential_gradient(&self.target)?;
        let start = self.settings.init.chain_start(
            self.target.dim(),
            self.settings.seed,
            self.chain_window().start,
        );
        let at_start = super::auto_step::largest_curvature(&gradient, &start, None, iterations)?;
        let mut eta = 0.5 / at_start;
        for _ in 0..4 {
            let mode = self.find_mode(gpu, &ModeSearch::new(steps, eta)?)?;
            if mode.iter().all(|v| v.is_finite()) {
                return Ok((mode, Some(eta)));
            }
            eta /= 4.0;
        }
        Err(Error::invalid(
            "step size",
            "SGD diverged at every step size tried while looking for the mode; give a step size",
        ))
    }

    /// The Laplace metric for [`SamplerBuilder::preconditioner`]: the mode — SGD on the GPU
    /// as [`Sampler::choose_step_size`] finds it (`search.mode_steps` steps, step size chosen
    /// there), then Newton's method on the CPU ([`super::newton_mode`]) — and the inverse
    /// Hessian of U there ([`Preconditioner::at`]). Returns the mode, for a control variate's
    /// centre, and the metric.
    pub fn laplace_metric(
        &self,
        gpu: &Gpu,
        search: &AutoStep,
    ) -> Result<(Vec<f32>, Preconditioner)> {
        let (start, _) = self.sgd_mode(gpu, search.mode_steps, search.iterations)?;
        let mode = super::newton_mode(&self.target, &start)?;
        let metric = Preconditioner::at(&self.target, &mode)?;
        Ok((mode, metric))
    }

    /// A step size for this run's rule (see [`super::auto_step`]): the mode from SGD on the
    /// GPU (a Gaussian's is its mean), whose step is a quarter of the SGD limit at the first
    /// chain's start and is cut fourfold while SGD diverges; the largest curvature there by
    /// power iteration; and `auto.fraction` of the rule's stability limit. Build the run
    /// again with `StepSize::constant(choice.eta)`.
    pub fn choose_step_size(&self, gpu: &Gpu, auto: &AutoStep) -> Result<StepSizeChoice> {
        if !(auto.fraction > 0.0 && auto.fraction < 1.0) {
            return Err(Error::invalid(
                "step size",
                format!(
                    "the fraction of the stability limit {} must lie in (0, 1)",
                    auto.fraction
                ),
            ));
        }
        let gradient = super::auto_step::potential_gradient(&self.target)?;
        let method = self.settings.method;
        let (mode, mode_step_size) = self.sgd_mode(gpu, auto.mode_steps, auto.iterations)?;
        let lambda_max = match (&self.settings.preconditioner, method) {
            // In a dense metric: the eigenvalues of M·H at Newton's mode, from the full data.
            (Some(metric), _) => {
                let mode = super::newton_mode(&self.target, &mode)?;
                let full =
                    |theta: &[f32]| self.target.potential_gradient(theta).unwrap_or_default();
                let apply = |w: &mut [f64]| metric.apply(w);
                super::auto_step::largest_curvature(&full, &mode, Some(&apply), auto.iterations)?
            }
            (None, Method::Psgld { epsilon, .. }) => {
                let diagonal = super::auto_step::psgld_preconditioner(
                    &self.target,
                    &mode,
                    self.settings.minibatch.map(|b| b.size()),
                    epsilon,
                );
                let apply = |w: &mut [f64]| {
                    w.iter_mut().zip(&diagonal).for_each(|(wd, gd)| *wd *= gd);
                };
                super::auto_step::largest_curvature(
                    &gradient,
                    &mode,
                    Some(&apply),
                    auto.iterations,
                )?
            }
            (None, _) => {
                super::auto_step::largest_curvature(&gradient, &mode, None, auto.iterations)?
            }
        };
        let limit = super::auto_step::stability_limit(&method, lambda_max);
        Ok(StepSizeChoice {
            eta: auto.fraction * limit,
            lambda_max,
            limit,
            fraction: auto.fraction,
            mode_step_size,
        })
    }

    /// Reads this run's draws back from an NPY file that [`Draws::write_npy`] or a
    /// [`crate::sink::NpyStream`] wrote, checking that its shape is this run's.
    pub fn read_draws(&self, path: impl AsRef<Path>) -> Result<Draws> {
        let path = path.as_ref();
        let settings = &self.settings;
        let window = self.chain_window();
        let shape = [
            u64::from(settings.kept_draws()),
            u64::from(window.end - window.start),
            self.target.dim() as u64,
        ];
        let steps = (0..settings.steps)
            .filter(|&t| settings.keeps(t))
            .map(|t| t + 1)
            .collect();
        Draws::read_npy(path, shape, steps, self.job().chain_temperatures())
    }
}

/// Builds a [`Sampler`] field by field; [`SamplerBuilder::build`] validates.
///
/// Unless set, the burn-in is half the steps ([`crate::sampler::default_burn_in`]), and with
/// control variates the chains start at the centre θ̂, as Baker et al. do.
#[derive(Debug, Clone)]
#[must_use]
pub struct SamplerBuilder {
    target: Target,
    settings: Settings,
    tuning: Tuning,
    burn_in: Option<u32>,
    init: Option<Init>,
}

impl SamplerBuilder {
    /// Number of chains.
    pub fn chains(mut self, chains: u32) -> Self {
        self.settings.chains = chains;
        self
    }
    /// Total steps, burn-in included.
    pub fn steps(mut self, steps: u32) -> Self {
        self.settings.steps = steps;
        self
    }
    /// Steps discarded before the first kept draw (default: half the steps).
    pub fn burn_in(mut self, burn_in: u32) -> Self {
        self.burn_in = Some(burn_in);
        self
    }
    /// Keep every `thin`-th state after burn-in.
    pub fn thin(mut self, thin: u32) -> Self {
        self.settings.thin = thin;
        self
    }
    /// The step size schedule.
    pub fn step_size(mut self, step_size: StepSize) -> Self {
        self.settings.step_size = step_size;
        self
    }
    /// The temperature `T` (1: posterior; 0: gradient descent).
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.settings.temperature = temperature;
        self
    }
    /// The run's seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = seed;
        self
    }
    /// Where the chains start (default: a control variate's centre; for a network its
    /// fan-in scales, [`crate::model::Network::initial_scales`]; else `N(0, 1)`).
    pub fn init(mut self, init: Init) -> Self {
        self.init = Some(init);
        self
    }
    /// The update rule.
    pub fn method(mut self, method: Method) -> Self {
        self.settings.method = method;
        self
    }
    /// Temperature over the steps; see [`TemperatureSchedule`].
    pub fn temperature_schedule(mut self, schedule: TemperatureSchedule) -> Self {
        self.settings.temperature_schedule = Some(schedule);
        self
    }
    /// Control variates for the mini-batch gradient around `centre` (from
    /// [`Sampler::find_centre`]); the chains start there unless [`SamplerBuilder::init`]
    /// says otherwise.
    pub fn control_variate(mut self, centre: Centre) -> Self {
        self.settings.control_variate = Some(centre);
        self
    }

    /// SGLD in the constant metric `M = L Lᵀ` of `preconditioner` (for example
    /// [`Preconditioner::at`] the mode: the Laplace covariance), so the chains move as in
    /// whitened coordinates. SGLD only; not networks.
    pub fn preconditioner(mut self, preconditioner: Preconditioner) -> Self {
        self.settings.preconditioner = Some(preconditioner);
        self
    }

    /// A temperature per chain; see [`TemperatureLadder`].
    pub fn temperature_ladder(mut self, ladder: TemperatureLadder) -> Self {
        self.settings.temperature_ladder = Some(ladder);
        self
    }
    /// What happens to a divergent chain.
    pub fn divergence(mut self, policy: DivergencePolicy) -> Self {
        self.settings.divergence = policy;
        self
    }
    /// Run only `shard`'s slice of the chains.
    pub fn shard(mut self, shard: Shard) -> Self {
        self.settings.shard = Some(shard);
        self
    }
    /// Synthetic gradient noise `N(0, σ² I)` added to every gradient.
    pub fn gradient_noise(mut self, sd: f64) -> Self {
        self.settings.gradient_noise = sd;
        self
    }
    /// Mini-batches for a data model's gradient: [`Minibatch::shared`] or
    /// [`Minibatch::per_chain`].
    pub fn minibatch(mut self, minibatch: Minibatch) -> Self {
        self.settings.minibatch = Some(minibatch);
        self
    }
    /// How the work is cut up on the GPU (never changes the draws).
    pub fn tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }
    /// `--step-size auto` for the Rust API: chooses the step size for this run on `gpu`
    /// ([`Sampler::choose_step_size`]) and returns the builder with
    /// `StepSize::constant(choice.eta)`, and the choice to report. Set everything else first:
    /// the choice depends on the target, the rule, the mini-batches, the seed and the start.
    pub fn auto_step_size(
        self,
        gpu: &Gpu,
        auto: &AutoStep,
    ) -> Result<(SamplerBuilder, StepSizeChoice)> {
        let choice = self.clone().build()?.choose_step_size(gpu, auto)?;
        Ok((self.step_size(StepSize::constant(choice.eta)?), choice))
    }
    /// Validates and returns the sampler.
    pub fn build(mut self) -> Result<Sampler> {
        self.settings.burn_in = self
            .burn_in
            .unwrap_or_else(|| default_burn_in(self.settings.steps));
        self.settings.init = match (self.init, &self.settings.control_variate) {
            (Some(init), _) => init,
            (None, Some(centre)) => Init::Point(centre.theta().to_vec()),
            (None, None) => match &self.target {
                Target::Network(network) => Init::PerCoordinate(network.initial_scales()),
                _ => Init::default(),
            },
        };
        Sampler::new(self.target, self.settings)?.with_tuning(self.tuning)
    }
}

/// The run that finds θ̂ from a run's settings: plain SGD (SGLD at T = 0 throughout, no
/// ladder, no gradient noise, no control variate, no shard) on one chain, started where the
/// run's first chain starts, with the run's mini-batches and seed; its one kept draw is the
/// state after the last step.
fn sgd_settings(search: &ModeSearch, run: &Settings, dim: usize) -> Result<Settings> {
    Ok(Settings {
        chains: 1,
        steps: search.steps(),
        burn_in: search.steps() - 1,
        thin: 1,
        step_size: StepSize::constant(search.step_size())?,
        temperature: 0.0,
        temperature_schedule: None,
        method: Method::Sgld,
        gradient_noise: 0.0,
        temperature_ladder: None,
        control_variate: None,
        preconditioner: None,
        shard: None,
        init: match &run.init {
            Init::Positions(positions) => Init::Positions(positions[..dim].to_vec()),
            other => other.clone(),
        },
        ..run.clone()
    })
}
