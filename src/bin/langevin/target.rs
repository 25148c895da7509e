//! From arguments to a run: the target (`--model` and its data) and the sampler builder with
//! every option the command line takes.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use langevin::data::{Dataset, ExtraFeatures, LabelColumn};
use langevin::minibatch::Minibatch;
use langevin::model::{
    toys, welling_teh_mixture, Activation, Network, NetworkSpec, Output, Prior, Regression, Target,
};
use langevin::sampler::{
    default_burn_in, AutoStep, Method, SamplerBuilder, StepSizeChoice, TemperatureLadder,
};
use langevin::schedule::TemperatureSchedule;
use langevin::{Gaussian, Gpu, Init, Sampler, StepSize, Tuning};

use crate::args::{
    ActivationArg, BatchMode, DivergenceArg, Model, OnOff, OutputArg, PriorArg, SampleArgs,
    SamplerKind, Schedule, StepSizeArg,
};
use crate::checks::is_fashion_mnist;
use crate::console::note;

/// The run the arguments describe: its target, the test set the host predicts on (logistic
/// regression; a network carries its own), and the sampler builder with every setting but
/// the control-variate centre.
pub(crate) struct Planned {
    pub(crate) target: Target,
    pub(crate) test: Option<Dataset>,
    pub(crate) builder: SamplerBuilder,
    /// The constant step size the run uses (chosen, with `--step-size auto`).
    pub(crate) step_size: f64,
    /// How `--step-size auto` chose it.
    pub(crate) step_choice: Option<StepSizeChoice>,
    /// With `--precondition`: the mode the metric was computed at (the control variates'
    /// centre with `--cv`).
    pub(crate) laplace_mode: Option<Vec<f32>>,
}

/// Builds the target from `--model` and its data, and the sampler from the other options.
pub(crate) fn plan(gpu: &Gpu, args: &SampleArgs) -> Result<Planned> {
    let (target, test): (Target, Option<Dataset>) = match args.model {
        Model::Gaussian => (gaussian(gpu, args)?.into(), None),
        Model::Softmax | Model::Mlp => (network(args)?.into(), None),
        Model::Linear | Model::Logistic => {
            let (model, test) = regression(args)?;
            (model.into(), test)
        }
        Model::Mixture => {
            let path = args
                .data
                .clone()
                .unwrap_or_else(|| PathBuf::from("data/mixture.csv"));
            let data = read_data(&path, args, None, ExtraFeatures::Error)?;
            (welling_teh_mixture(data)?.into(), None)
        }
        Model::DoubleWell => (toys::double_well()?.into(), None),
        Model::GridMixture => (toys::grid_mixture()?.into(), None),
    };
    let mut builder = Sampler::builder(target.clone());
    let mut temperature = args.temperature;
    if let Some(anneal) = &args.anneal {
        if anneal.len() != 2 || anneal[1].fract() != 0.0 || anneal[1] < 0.0 {
            bail!("--anneal takes T_START,STEPS (a temperature and a whole number of steps)");
        }
        builder = builder.temperature_schedule(TemperatureSchedule::anneal(
            anneal[0],
            args.temperature,
            anneal[1] as u64,
        )?);
        temperature = 1.0;
    }
    if let Some(range) = &args.temperature_ladder {
        if range.len() != 2 {
            bail!(
                "--temperature-ladder takes T_MIN,T_MAX (two values), not {} values",
                range.len()
            );
        }
        let ladder = TemperatureLadder::new(range[0], range[1], args.rungs)?;
        if !args.all_temperatures && (0..ladder.rungs()).all(|r| ladder.rung_temperature(r) != 1.0)
        {
            bail!(
                "the temperature ladder {}..{} has no rung at T = 1, so no chain samples the \
                 posterior; start it at 1 or pass --all-temperatures",
                range[0],
                range[1]
            );
        }
        builder = builder.temperature_ladder(ladder);
    }
    if let Some(size) = args.batch {
        let batch = match args.batch_mode {
            BatchMode::PerChain => Minibatch::per_chain(size)?,
            BatchMode::Shared => Minibatch::shared(size)?,
        };
        builder = builder.minibatch(match args.replacement {
            OnOff::On => batch,
            OnOff::Off => batch.without_replacement(),
        });
    }
    builder = builder
        .chains(args.chains)
        .steps(args.steps)
        .burn_in(args.burn_in.unwrap_or(default_burn_in(args.steps)))
        .thin(args.thin)
        .step_size(schedule(args, placeholder_step(args))?)
        .temperature(temperature)
        .seed(args.seed)
        .method(method(args)?)
        .gradient_noise(args.gradient_noise);
    if let Some(scale) = args.init_scale {
        builder = builder.init(Init::Normal { scale });
    }
    if let Some(shard) = args.shard {
        builder = builder.shard(shard);
    }
    builder = builder.divergence(match args.divergence {
        DivergenceArg::Freeze => langevin::sampler::DivergencePolicy::Freeze,
        DivergenceArg::Reset => langevin::sampler::DivergencePolicy::Reset,
    });
    let mut builder = builder.tuning(Tuning {
        data_path: args.data_path.into(),
        draws_buffer_bytes: draws_buffer_bytes(args.draws_buffer_mib)?,
        ..Tuning::default()
    });
    // The metric first: an automatic step size is a fraction of the limit in it.
    let mut laplace_mode = None;
    if args.precondition {
        let search = AutoStep {
            mode_steps: args.cv_steps,
            ..AutoStep::default()
        };
        let (mode, metric) = builder.clone().build()?.laplace_metric(gpu, &search)?;
        note!(
            "metric: the inverse Hessian of U at the mode ({} SGD steps, then Newton's method)",
            search.mode_steps
        );
        builder = builder.preconditioner(metric);
        laplace_mode = Some(mode);
    }
    let (step_size, step_choice) = match args.step_size {
        StepSizeArg::Value(eta) => (eta, None),
        StepSizeArg::Auto => {
            let auto = AutoStep {
                fraction: args.step_fraction.unwrap_or(match args.precondition {
                    true => AutoStep::IN_METRIC_FRACTION,
                    false => AutoStep::default().fraction,
                }),
                ..AutoStep::default()
            };
            let (chosen, choice) = builder.auto_step_size(gpu, &auto)?;
            builder = chosen;
            note!(
                "step size: auto η = {:.4e}, {} of the {} stability limit {:.4e} at λ_max = {:.4e}{}{}",
                choice.eta,
                choice.fraction,
                method(args)?.name(),
                choice.limit,
                choice.lambda_max,
                if args.precondition { " of M·H" } else { "" },
                match choice.mode_step_size {
                    Some(eta) => format!(" (mode from {} SGD steps at η = {eta:.3e})", auto.mode_steps),
                    None => " (at the Gaussian's mean)".into(),
                }
            );
            (choice.eta, Some(choice))
        }
    };
    Ok(Planned {
        target,
        test,
        builder,
        step_size,
        step_choice,
        laplace_mode,
    })
}

/// `--draws-buffer-mib` in bytes.
fn draws_buffer_bytes(mib: f64) -> Result<u64> {
    if !(mib.is_finite() && mib > 0.0) {
        bail!("--draws-buffer-mib {mib} must be a positive number of MiB");
    }
    Ok((mib * (1u64 << 20) as f64) as u64)
}

/// One value for every dimension, or exactly `dim` values.
fn per_dimension(name: &str, values: &[f64], dim: usize) -> Result<Vec<f64>> {
    match values.len() {
        1 => Ok(vec![values[0]; dim]),
        n if n == dim => Ok(values.to_vec()),
        n => bail!("--{name} has {n} values; give one value or --dim = {dim} values"),
    }
}

fn read_data(
    path: &Path,
    args: &SampleArgs,
    features: Option<usize>,
    extra: ExtraFeatures,
) -> Result<Dataset> {
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if langevin::data::is_idx(path) {
        let Some(labels) = langevin::data::labels_beside(path) else {
            bail!(
                "{}: an IDX file of labels, not images; give the images file                  (…-images-idx3-ubyte[.gz]) and keep its labels file beside it",
                path.display()
            );
        };
        return Ok(Dataset::read_idx(path, &labels, args.classes)?);
    }
    Ok(if is_csv {
        let label = match &args.label {
            Some(name) => LabelColumn::Named(name.clone()),
            None => LabelColumn::Last,
        };
        Dataset::read_csv(path, &label)?
    } else {
        Dataset::read_libsvm(path, features, extra)?
    })
}

/// The --data set, and the --test set read with the training feature count (LIBSVM's
/// semantics: absent features are zero, extra ones are dropped); `--data fashion-mnist` reads
/// the installed Fashion-MNIST, its t10k images the test set unless --test names another.
/// Each is cut to --train-rows / --test-rows.
fn training_and_test(args: &SampleArgs) -> Result<(Dataset, Option<Dataset>)> {
    let Some(path) = &args.data else {
        bail!("--model {} needs --data FILE", model_name(args.model));
    };
    let (mut train, default_test) = if is_fashion_mnist(args) {
        let dir = langevin::data::fashion_mnist_dir()?;
        let [images, labels, test_images, test_labels] = langevin::data::fashion_mnist_files(&dir);
        let classes = Some(
            args.classes
                .unwrap_or(langevin::data::FASHION_MNIST_CLASSES),
        );
        let train = Dataset::read_idx(&images, &labels, classes)?;
        let test = match &args.test {
            Some(_) => None,
            None => Some(Dataset::read_idx(&test_images, &test_labels, classes)?),
        };
        (train, test)
    } else {
        (
            read_data(path, args, args.features, ExtraFeatures::Error)?,
            None,
        )
    };
    if let Some(features) = args.features {
        train = train.with_features(features)?;
    }
    if let Some(rows) = args.train_rows {
        train = train.head(rows);
    }
    let test = match (&args.test, default_test) {
        (Some(path), _) => {
            let test = read_data(path, args, Some(train.features()), ExtraFeatures::Ignore)?;
            Some(if test.features() != train.features() {
                test.with_features(train.features())?
            } else {
                test
            })
        }
        (None, test) => test,
    };
    let test = match (test, args.test_rows) {
        (Some(test), Some(rows)) => Some(test.head(rows)),
        (test, _) => test,
    };
    Ok((train, test))
}

/// `--model softmax` or `mlp` on its data, with the test set whose predictive the run sums.
fn network(args: &SampleArgs) -> Result<Network> {
    let (train, test) = training_and_test(args)?;
    let binary = train
        .labels()
        .iter()
        .all(|&y| y == 1.0 || y == -1.0 || y == 0.0)
        && train.labels().iter().any(|&y| y == -1.0);
    let categorical = || -> Result<Output> {
        let largest = train.labels().iter().copied().fold(0.0f32, f32::max);
        let classes =
            match args.classes {
                Some(k) => k,
                None if largest.fract() == 0.0 && largest >= 1.0 => largest as usize + 1,
                None => bail!(
                "cannot tell the classes from labels up to {largest}; give --classes K (labels \
                 0..K−1){}",
                if binary { ", or --output bernoulli for ±1 labels" } else { "" }
            ),
            };
        Ok(Output::Categorical { classes })
    };
    let output = match (args.model, args.output) {
        (Model::Softmax, _) | (_, OutputArg::Categorical) => categorical()?,
        (_, OutputArg::Auto) if binary || is_zero_one(&train) => Output::Bernoulli,
        (_, OutputArg::Auto) => categorical()?,
        (_, OutputArg::Bernoulli) => Output::Bernoulli,
        (_, OutputArg::Gaussian) => Output::Gaussian {
            noise_variance: args.noise_var,
        },
    };
    let spec = NetworkSpec {
        hidden: match args.model {
            Model::Mlp => args.hidden.clone(),
            _ => Vec::new(),
        },
        activation: match args.activation {
            ActivationArg::Relu => Activation::Relu,
            ActivationArg::Tanh => Activation::Tanh,
        },
        output,
        prior: match args.prior {
            PriorArg::Isotropic => Prior::Isotropic {
                variance: args.prior_var,
            },
            PriorArg::FanIn => Prior::FanIn {
                scale: args.prior_var,
            },
        },
    };
    let network = Network::new(train, spec)?;
    Ok(match test {
        Some(test) => network.with_test_set(test)?,
        None => network,
    })
}

/// Labels all 0 or 1, both present.
fn is_zero_one(data: &Dataset) -> bool {
    let labels = data.labels();
    labels.iter().all(|&y| y == 0.0 || y == 1.0) && labels.contains(&0.0) && labels.contains(&1.0)
}

/// The regression model on --data, with the --test set.
fn regression(args: &SampleArgs) -> Result<(Regression, Option<Dataset>)> {
    let (train, test) = training_and_test(args)?;
    // The test labels are held to the training labels' rules.
    let test = match (args.model, test) {
        (Model::Logistic, Some(test)) => Some(langevin::model::binary_labels(test)?),
        (_, test) => test,
    };
    let model = match args.model {
        Model::Linear => Regression::linear(train, args.noise_var, args.prior_var)?,
        _ => Regression::logistic(train, args.prior_var)?,
    };
    let model = if args.no_intercept {
        model.without_intercept()
    } else {
        model
    };
    Ok((model, test))
}

pub(crate) fn model_name(model: Model) -> &'static str {
    match model {
        Model::Gaussian => "gaussian",
        Model::Linear => "linear",
        Model::Logistic => "logistic",
        Model::Softmax => "softmax",
        Model::Mixture => "mixture",
        Model::Mlp => "mlp",
        Model::DoubleWell => "double-well",
        Model::GridMixture => "grid-mixture",
    }
}

fn gaussian(gpu: &Gpu, args: &SampleArgs) -> Result<Gaussian> {
    if args.dim == 0 {
        bail!(langevin::Error::InvalidSetting {
            name: "dimension",
            reason: "--dim must be at least 1".into()
        });
    }
    if args.dim > langevin::data::MAX_FEATURES {
        bail!(
            "--dim {}: more than the {} dimensions a target can have",
            args.dim,
            langevin::data::MAX_FEATURES
        );
    }
    gpu.check_dimensions(args.dim)?;
    // The target and the two lists it is built from, before any of them is allocated.
    let bytes = args.dim as u64 * (langevin::model::DIAGONAL_BYTES_PER_DIMENSION + 16);
    langevin::error::check_host_memory(bytes, &format!("a Gaussian of {} dimensions", args.dim))?;
    let mean = per_dimension("mean", &args.mean, args.dim)?;
    let var = per_dimension("var", &args.var, args.dim)?;
    if let Some(v) = var.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
        bail!("--var {v}: variances must be positive and finite");
    }
    if args.corr == 0.0 {
        let precision: Vec<f64> = var.iter().map(|v| 1.0 / v).collect();
        return Ok(Gaussian::diagonal(&mean, &precision)?);
    }
    Ok(Gaussian::correlated(&mean, &var, args.corr)?)
}

/// `--step-size` as a number: the value, or for `auto` the default until the choice replaces it.
fn placeholder_step(args: &SampleArgs) -> f64 {
    match args.step_size {
        StepSizeArg::Value(eta) => eta,
        StepSizeArg::Auto => langevin::schedule::DEFAULT_STEP_SIZE,
    }
}

fn schedule(args: &SampleArgs, step_size: f64) -> Result<StepSize> {
    if args.step_size == StepSizeArg::Auto
        && (args.schedule != Schedule::Constant || args.warmup_steps.is_some())
    {
        bail!("--step-size auto chooses one constant step size; it takes no --schedule or --warmup-steps");
    }
    let warmup = args.warmup_steps.unwrap_or(0);
    let schedule = match args.schedule {
        Schedule::Constant => StepSize::constant(step_size)?,
        Schedule::Poly => match (args.a, args.b, args.gamma) {
            (Some(a), Some(b), Some(gamma)) => StepSize::polynomial(a, b, gamma)?,
            _ => bail!("--schedule poly needs --a, --b and --gamma"),
        },
        Schedule::Cyclical => {
            let after_warmup = u64::from(args.steps).saturating_sub(warmup);
            StepSize::cyclical(step_size, args.cycles, after_warmup, args.explore)?
        }
    };
    Ok(match args.warmup_steps {
        Some(steps) => schedule.after_warmup(steps, args.warmup_step_size.unwrap_or(step_size))?,
        None => schedule,
    })
}

fn method(args: &SampleArgs) -> Result<Method> {
    Ok(match args.sampler {
        SamplerKind::Sgld => Method::Sgld,
        SamplerKind::Psgld => Method::psgld_with(args.decay, args.rms_epsilon)?,
        SamplerKind::Sghmc => {
            let friction = match (args.friction, args.momentum_decay) {
                (Some(friction), _) => friction,
                (None, Some(decay)) => 1.0 - decay,
                (None, None) => bail!("--sampler sghmc needs --friction α or --momentum-decay"),
            };
            Method::sghmc_with(friction, args.noise_estimate)?
        }
        SamplerKind::Sgnht => Method::sgnht(args.diffusion)?,
    })
}
