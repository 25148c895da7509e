//! The `langevin` command line: sample a built-in model, benchmark the update, list adapters.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use langevin::bench::{
    run_readback, run_regression, run_w1, synthetic_a9a_dense, RegressionConfig, W1Config,
};
use langevin::data::{Dataset, ExtraFeatures, LabelColumn};
use langevin::gpu::{list_adapters, ADAPTER_ENV};
use langevin::minibatch::Minibatch;
use langevin::model::{
    classifier_predictive, mlp_classifier, toys, welling_teh_mixture, Regression, Target,
};
use langevin::sampler::{ControlVariate, Method, TemperatureLadder};
use langevin::schedule::TemperatureSchedule;
use langevin::{DataPath, Gaussian, Gpu, Init, Sampler, StepSize, Tuning};

mod checks;
mod console;
mod progress;
mod signals;

use console::{note, say, say_text};

/// Many-chain stochastic-gradient MCMC on the GPU.
#[derive(Parser)]
#[command(version, about, args_override_self = true)]
struct Cli {
    /// Use the adapter whose name contains NAME (case-insensitive); see `langevin adapters`.
    #[arg(long, global = true, env = ADAPTER_ENV, value_name = "NAME")]
    adapter: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every adapter with its backend and type; `*` marks the default.
    Adapters,
    /// Run chains on a model and summarise the draws.
    Sample(Box<SampleArgs>),
    /// Benchmark W1: the fused SGLD update against a device copy.
    Bench(BenchArgs),
    /// Trace plots and marginal histograms of a draws file, as PNG.
    Plot(PlotArgs),
    /// Join the --out files of every shard of one run (see `sample --shard`).
    Merge(MergeArgs),
}

#[derive(Args)]
struct MergeArgs {
    /// The shards' draws files, each with its .shard.json manifest beside it, in any order.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// The joined draws file.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum DivergenceArg {
    /// Exclude it from the statistics; the other chains run on.
    Freeze,
    /// Return it to its last finite draw and run on.
    Reset,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReferenceModel {
    /// Independent normal marginals with --mean and --var.
    Gaussian,
    /// Chen et al.'s double well, normalised numerically.
    DoubleWell,
    /// Zhang et al.'s 25-mode grid: each coordinate a mixture of five normals.
    GridMixture,
}

#[derive(Args)]
struct PlotArgs {
    /// The draws: NPY, f32, shape [draws, chains, dim] (a .partial file works too).
    input: PathBuf,
    /// The PNG to write.
    #[arg(long)]
    out: PathBuf,
    /// Dimensions to plot (default: the first four).
    #[arg(long, value_delimiter = ',')]
    dims: Option<Vec<usize>>,
    /// Chains traced (histograms pool all chains).
    #[arg(long, default_value_t = 8)]
    max_chains: usize,
    /// Overlay this model's marginal density on the histograms.
    #[arg(long)]
    reference: Option<ReferenceModel>,
    /// Means of the Gaussian reference (one value, or one per dimension).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0",
        allow_negative_numbers = true
    )]
    mean: Vec<f64>,
    /// Variances of the Gaussian reference (one value, or one per dimension).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    var: Vec<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Model {
    /// Multivariate Gaussian: --mean, --var, optionally --corr.
    Gaussian,
    /// Bayesian linear regression on --data with known --noise-var.
    Linear,
    /// Bayesian logistic regression on --data (labels ±1 or 0/1).
    Logistic,
    /// Welling & Teh's two-parameter Gaussian mixture on --data (default data/mixture.csv).
    Mixture,
    /// One-hidden-layer MLP classifier (a Bayesian neural network) on --data, --hidden units.
    Mlp,
    /// Chen et al.'s double well U(θ) = −2θ² + θ⁴ (no data).
    DoubleWell,
    /// Zhang et al.'s 25-component Gaussian mixture on a 5 × 5 grid (no data).
    GridMixture,
}

#[derive(Clone, Copy, ValueEnum)]
enum BatchMode {
    /// One mini-batch per step for all chains.
    Shared,
    /// Each chain draws its own mini-batch.
    PerChain,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
enum DataPathArg {
    /// The library picks (see `langevin::DataPath::Auto`).
    Auto,
    /// Every chain reads its examples from device memory.
    Global,
    /// A shared batch staged in workgroup memory.
    Staged,
    /// Linear/logistic, shared batch: θ of a few chains in workgroup memory across steps.
    Fused,
    /// Linear/logistic, shared batch: tiled products over the chain axis, features dense.
    Tiled,
}

impl From<DataPathArg> for DataPath {
    fn from(arg: DataPathArg) -> DataPath {
        match arg {
            DataPathArg::Auto => DataPath::Auto,
            DataPathArg::Global => DataPath::Global,
            DataPathArg::Staged => DataPath::Staged,
            DataPathArg::Fused => DataPath::Fused,
            DataPathArg::Tiled => DataPath::Tiled,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SamplerKind {
    /// Stochastic gradient Langevin dynamics (Welling & Teh 2011).
    Sgld,
    /// Preconditioned SGLD, RMSprop preconditioner (Li et al. 2016): --decay, --rms-epsilon.
    Psgld,
    /// Stochastic gradient HMC (Chen et al. 2014): --friction or --momentum-decay,
    /// --noise-estimate.
    Sghmc,
    /// Stochastic gradient Nosé–Hoover thermostat (Ding et al. 2014): --diffusion.
    Sgnht,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Schedule {
    /// η_t = --step-size.
    Constant,
    /// η_t = a (b + t)^(−γ) with --a, --b, --gamma.
    Poly,
    /// Zhang et al.'s cosine from --step-size over --cycles cycles of the run, each exploring
    /// (no noise, no draws) for its first fraction --explore.
    Cyclical,
}

#[derive(Args)]
struct SampleArgs {
    /// The target.
    #[arg(long, value_enum, default_value = "gaussian")]
    model: Model,
    /// Dimensions of the target.
    #[arg(long, default_value_t = 4, value_parser = checks::count::<usize>)]
    dim: usize,
    /// Mean: one value for every dimension, or a comma-separated list of --dim values.
    #[arg(
        long,
        default_value = "0",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    mean: Vec<f64>,
    /// Marginal variance: one value, or a comma-separated list of --dim values.
    #[arg(
        long,
        default_value = "1",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    var: Vec<f64>,
    /// Correlation between every pair of dimensions (a dense precision); 0 keeps it diagonal.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    corr: f64,
    /// Training data: LIBSVM text, or CSV when the name ends in .csv.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Test data for posterior-predictive accuracy and log-likelihood (logistic).
    #[arg(long)]
    test: Option<PathBuf>,
    /// CSV label column by header name (default: the last column).
    #[arg(long)]
    label: Option<String>,
    /// Declared number of features: a LIBSVM index beyond it is an error.
    #[arg(long, value_parser = checks::count::<usize>)]
    features: Option<usize>,
    /// Noise variance s² of linear regression.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    noise_var: f64,
    /// Hidden units of --model mlp.
    #[arg(long, default_value_t = 50, value_parser = checks::count::<usize>)]
    hidden: usize,
    /// Variance σ² of the Gaussian prior N(0, σ² I) on the coefficients.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    prior_var: f64,
    /// No intercept: coefficient d is feature d.
    #[arg(long)]
    no_intercept: bool,
    /// Examples per mini-batch (default: the full data every step).
    #[arg(long, value_parser = checks::count::<u32>)]
    batch: Option<u32>,
    /// Mini-batch shared by all chains or drawn per chain.
    #[arg(long, value_enum, default_value = "shared")]
    batch_mode: BatchMode,
    /// Draw mini-batch indices with replacement (on) or as a permutation per epoch (off).
    #[arg(long, value_enum, default_value = "on")]
    replacement: OnOff,
    /// How a data model's kernel reads its mini-batch; every path gives the same draws.
    #[arg(long, value_enum, default_value = "auto")]
    data_path: DataPathArg,
    /// The update rule.
    #[arg(long, value_enum, default_value = "sgld")]
    sampler: SamplerKind,
    /// Step size schedule.
    #[arg(long, value_enum, default_value = "constant")]
    schedule: Schedule,
    /// Constant step size η (our η; Welling & Teh's ε = 2η).
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    step_size: f64,
    /// Cycles M of --schedule cyclical.
    #[arg(long, default_value_t = 1)]
    cycles: u32,
    /// Exploration fraction β ∈ [0, 1) of each cycle of --schedule cyclical.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    explore: f64,
    /// Steps at --warmup-step-size before the schedule starts (its steps count from there).
    #[arg(long, value_parser = checks::count::<u64>)]
    warmup_steps: Option<u64>,
    /// The warm-up's constant step size (default: --step-size).
    #[arg(long, allow_negative_numbers = true)]
    warmup_step_size: Option<f64>,
    /// pSGLD: decay α ∈ [0, 1) of the running mean square.
    #[arg(long, default_value_t = 0.99, allow_negative_numbers = true)]
    decay: f64,
    /// pSGLD: λ > 0 added to sqrt(V).
    #[arg(long, default_value_t = 1e-5, allow_negative_numbers = true)]
    rms_epsilon: f64,
    /// SGHMC: friction α ∈ [0, 1] (one minus the momentum decay).
    #[arg(long, allow_negative_numbers = true, conflicts_with = "momentum_decay")]
    friction: Option<f64>,
    /// SGHMC: momentum decay 1 − α, instead of --friction.
    #[arg(long, allow_negative_numbers = true)]
    momentum_decay: Option<f64>,
    /// SGHMC: gradient-noise estimate β̂ ∈ [0, α].
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    noise_estimate: f64,
    /// SGNHT: diffusion A > 0.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    diffusion: f64,
    /// σ of synthetic gradient noise N(0, σ²) added to every gradient (for studying samplers).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    gradient_noise: f64,
    /// Polynomial schedule scale a.
    #[arg(long, allow_negative_numbers = true)]
    a: Option<f64>,
    /// Polynomial schedule offset b.
    #[arg(long, allow_negative_numbers = true)]
    b: Option<f64>,
    /// Polynomial schedule exponent γ ∈ (0.5, 1].
    #[arg(long, allow_negative_numbers = true)]
    gamma: Option<f64>,
    /// Temperature T (1: the posterior; 0: gradient descent).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    temperature: f64,
    /// A temperature per chain: --rungs rungs spaced geometrically from T_MIN to T_MAX over
    /// the chain axis; the summary covers the T = 1 chains unless --all-temperatures.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "T_MIN,T_MAX",
        allow_negative_numbers = true
    )]
    temperature_ladder: Option<Vec<f64>>,
    /// Anneal the temperature geometrically from T_START down to --temperature over STEPS
    /// steps.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "T_START,STEPS",
        allow_negative_numbers = true
    )]
    anneal: Option<Vec<f64>>,
    /// Rungs of --temperature-ladder.
    #[arg(long, default_value_t = 4, value_parser = checks::count::<u32>)]
    rungs: u32,
    /// Control variates for the mini-batch gradient (Baker et al. 2019): SGD finds the mode θ̂
    /// first, chains start there.
    #[arg(long)]
    cv: bool,
    /// SGD steps that find θ̂ for --cv.
    #[arg(long, default_value_t = 1000, value_parser = checks::count::<u32>)]
    cv_steps: u32,
    /// SGD step size for --cv (default: --step-size).
    #[arg(long, allow_negative_numbers = true)]
    cv_step_size: Option<f64>,
    /// Summarise every chain of a temperature ladder, not only those at T = 1.
    #[arg(long)]
    all_temperatures: bool,
    /// Number of chains.
    #[arg(long, default_value_t = 4096, value_parser = checks::count::<u32>)]
    chains: u32,
    /// Steps per chain, burn-in included.
    #[arg(long, default_value_t = 3000, value_parser = checks::count::<u32>)]
    steps: u32,
    /// Steps discarded before the first kept draw.
    #[arg(long, default_value_t = 1000, value_parser = checks::count::<u32>)]
    burn_in: u32,
    /// Keep every THIN-th state after burn-in.
    #[arg(long, default_value_t = 10, value_parser = checks::count::<u32>)]
    thin: u32,
    /// The run's seed: same seed, same draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Standard deviation σ₀ of the initial positions N(0, σ₀²).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    init_scale: f64,
    /// Write the draws as NPY, f32, shape [draws, chains, dim]. They stream to OUT.partial
    /// (a valid NPY file that grows) and are renamed to OUT when the run finishes.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the summary as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a checkpoint into DIR every --checkpoint-every seconds (needs --out).
    #[arg(long, value_name = "DIR")]
    checkpoint: Option<PathBuf>,
    /// Seconds between checkpoints (0: after every submit).
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    checkpoint_every: f64,
    /// Continue the run whose checkpoint is in DIR, appending to --out's partial file; give
    /// the same model, data and settings as the interrupted run.
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// Run shard I of N: the chains [I·C/N, (I+1)·C/N), drawing exactly what they draw in
    /// the whole run; `langevin merge` joins the shards' --out files.
    #[arg(long, value_name = "I/N")]
    shard: Option<langevin::shard::Shard>,
    /// Share the chains with this adapter too (repeat for more; names as for --adapter); the
    /// draws are those of one adapter.
    #[arg(long, value_name = "NAME")]
    also_adapter: Vec<String>,
    /// Also print nested R-hat (for many short chains) with the chains cut into K superchains
    /// of consecutive chains, e.g. chains started from K different points.
    #[arg(long, value_name = "K")]
    superchains: Option<usize>,
    /// What happens to a chain found NaN or infinite at a kept draw.
    #[arg(long, value_enum, default_value_t = DivergenceArg::Freeze)]
    divergence: DivergenceArg,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// GPU memory for draws between readbacks, in MiB (split over the readback ring); smaller
    /// means more, shorter submits. Never changes the draws.
    #[arg(long, default_value_t = 256.0, value_name = "MIB")]
    draws_buffer_mib: f64,
}

#[derive(Args)]
struct BenchArgs {
    /// Write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Small sizes only (for software adapters).
    #[arg(long)]
    quick: bool,
    /// The a9a training file for the sparse W2/W3 rows.
    #[arg(long, default_value = "data/a9a")]
    a9a: PathBuf,
}

/// Exit codes (the README's table): 0 success; 1 an error, nothing committed; 2 a usage error
/// (from clap); 3 every chain diverged (the files are written, for inspection); 128 + the
/// signal's number when Ctrl-C (130) or SIGTERM (143) stopped the run.
const EXIT_ERROR: i32 = 1;
/// Every chain diverged: no finite draw is left.
const EXIT_ALL_DIVERGED: i32 = 3;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let matches = Cli::command().get_matches();
    let code = match Cli::from_arg_matches(&matches) {
        Ok(cli) => {
            let given = given_options(&matches);
            match run(cli, &given) {
                Ok(code) => code,
                Err(error) => {
                    note!("error: {error:#}");
                    EXIT_ERROR
                }
            }
        }
        Err(error) => error.exit(),
    };
    std::process::exit(code);
}

/// The options of the subcommand that the user gave (on the command line or in the
/// environment), by their ids: what `sample` checks for options its model would ignore.
fn given_options(matches: &clap::ArgMatches) -> HashSet<String> {
    let Some((_, sub)) = matches.subcommand() else {
        return HashSet::new();
    };
    sub.ids()
        .filter(|id| {
            matches!(
                sub.value_source(id.as_str()),
                Some(
                    clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable
                )
            )
        })
        .map(|id| id.as_str().to_owned())
        .collect()
}

fn run(cli: Cli, given: &HashSet<String>) -> Result<i32> {
    match cli.command {
        Command::Adapters => {
            for a in list_adapters()? {
                let mark = if a.is_default { "*" } else { " " };
                say!(
                    "{mark} {} [{}, {}] {}",
                    a.name,
                    a.backend,
                    a.device_type,
                    a.driver
                );
            }
            Ok(0)
        }
        Command::Sample(args) => {
            checks::refuse_ignored_options(&args, given)?;
            checks::sample_paths(&args)?;
            sample(open(cli.adapter.as_deref())?, &args)
        }
        Command::Bench(args) => {
            if let Some(json) = &args.json {
                checks::single_output("--json", json, &[("--a9a".into(), args.a9a.clone())])?;
            }
            bench(open(cli.adapter.as_deref())?, &args).map(|()| 0)
        }
        Command::Plot(args) => plot(&args).map(|()| 0),
        Command::Merge(args) => {
            let mut inputs = Vec::new();
            for shard in &args.shards {
                inputs.push(("a shard".to_owned(), shard.clone()));
                inputs.push((
                    "a shard's manifest".to_owned(),
                    langevin::shard::manifest_path(shard),
                ));
            }
            checks::single_output("--out", &args.out, &inputs)?;
            langevin::shard::merge(&args.shards, &args.out)?;
            say!(
                "{}: {} shards joined",
                args.out.display(),
                args.shards.len()
            );
            Ok(0)
        }
    }
}

/// Opens the adapter and prints it first, so every output names where it ran.
fn open(name: Option<&str>) -> Result<Gpu> {
    let gpu = Gpu::new(name.filter(|n| !n.trim().is_empty()))?;
    say!("adapter: {}", gpu.describe());
    Ok(gpu)
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
/// semantics: absent features are zero, extra ones are dropped).
fn training_and_test(args: &SampleArgs) -> Result<(Dataset, Option<Dataset>)> {
    let Some(path) = &args.data else {
        bail!("--model {} needs --data FILE", model_name(args.model));
    };
    let mut train = read_data(path, args, args.features, ExtraFeatures::Error)?;
    if let Some(features) = args.features {
        train = train.with_features(features)?;
    }
    let test = match &args.test {
        Some(path) => {
            let test = read_data(path, args, Some(train.features()), ExtraFeatures::Ignore)?;
            let test = if test.features() != train.features() {
                test.with_features(train.features())?
            } else {
                test
            };
            // The test labels are held to the training labels' rules.
            Some(langevin::model::binary_labels(test)?)
        }
        None => None,
    };
    Ok((train, test))
}

/// The regression model on --data, with the --test set.
fn regression(args: &SampleArgs) -> Result<(Regression, Option<Dataset>)> {
    let (train, test) = training_and_test(args)?;
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

fn model_name(model: Model) -> &'static str {
    match model {
        Model::Gaussian => "gaussian",
        Model::Linear => "linear",
        Model::Logistic => "logistic",
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

fn schedule(args: &SampleArgs) -> Result<StepSize> {
    let warmup = args.warmup_steps.unwrap_or(0);
    let schedule = match args.schedule {
        Schedule::Constant => StepSize::constant(args.step_size)?,
        Schedule::Poly => match (args.a, args.b, args.gamma) {
            (Some(a), Some(b), Some(gamma)) => StepSize::polynomial(a, b, gamma)?,
            _ => bail!("--schedule poly needs --a, --b and --gamma"),
        },
        Schedule::Cyclical => {
            let after_warmup = u64::from(args.steps).saturating_sub(warmup);
            StepSize::cyclical(args.step_size, args.cycles, after_warmup, args.explore)?
        }
    };
    Ok(match args.warmup_steps {
        Some(steps) => {
            schedule.after_warmup(steps, args.warmup_step_size.unwrap_or(args.step_size))?
        }
        None => schedule,
    })
}

fn method(args: &SampleArgs) -> Result<Method> {
    Ok(match args.sampler {
        SamplerKind::Sgld => Method::Sgld,
        SamplerKind::Psgld => Method::Psgld {
            decay: args.decay,
            epsilon: args.rms_epsilon,
        },
        SamplerKind::Sghmc => {
            let friction = match (args.friction, args.momentum_decay) {
                (Some(friction), _) => friction,
                (None, Some(decay)) => 1.0 - decay,
                (None, None) => bail!("--sampler sghmc needs --friction α or --momentum-decay"),
            };
            Method::Sghmc {
                friction,
                noise_estimate: args.noise_estimate,
            }
        }
        SamplerKind::Sgnht => Method::Sgnht {
            diffusion: args.diffusion,
        },
    })
}

fn sample(gpu: Gpu, args: &SampleArgs) -> Result<i32> {
    // Held until the summary is in place, so no other run writes it meanwhile.
    let _json_lock = match &args.json {
        Some(path) => Some(langevin::output::OutputLock::acquire(path)?),
        None => None,
    };
    let mut mlp_shape = None;
    let (target, test): (Target, Option<Dataset>) = match args.model {
        Model::Gaussian => (gaussian(&gpu, args)?.into(), None),
        Model::Mlp => {
            let (train, test) = training_and_test(args)?;
            let (model, shape) = mlp_classifier(train, args.hidden, args.prior_var)?;
            mlp_shape = Some(shape);
            (model.into(), test)
        }
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
    if args.cv {
        builder = builder.control_variate(ControlVariate::new(
            args.cv_steps,
            args.cv_step_size.unwrap_or(args.step_size),
        )?);
    }
    if let Some(range) = &args.temperature_ladder {
        if range.len() != 2 {
            bail!(
                "--temperature-ladder takes T_MIN,T_MAX (two values), not {} values",
                range.len()
            );
        }
        let ladder = TemperatureLadder::new(range[0], range[1], args.rungs)?;
        if !args.all_temperatures && (0..ladder.rungs).all(|r| ladder.rung_temperature(r) != 1.0) {
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
        builder = builder.minibatch(Minibatch {
            size,
            per_chain: matches!(args.batch_mode, BatchMode::PerChain),
            replacement: matches!(args.replacement, OnOff::On),
        });
    }
    builder = builder
        .chains(args.chains)
        .steps(args.steps)
        .burn_in(args.burn_in)
        .thin(args.thin)
        .step_size(schedule(args)?)
        .temperature(temperature)
        .seed(args.seed)
        .init(Init::Normal {
            scale: args.init_scale,
        })
        .method(method(args)?)
        .gradient_noise(args.gradient_noise);
    if let Some(shard) = args.shard {
        builder = builder.shard(shard);
    }
    builder = builder.divergence(match args.divergence {
        DivergenceArg::Freeze => langevin::sampler::DivergencePolicy::Freeze,
        DivergenceArg::Reset => langevin::sampler::DivergencePolicy::Reset,
    });
    let sampler = builder
        .tuning(Tuning {
            data_path: args.data_path.into(),
            draws_buffer_bytes: draws_buffer_bytes(args.draws_buffer_mib)?,
            ..Tuning::default()
        })
        .build()?;
    let stop = signals::StopRequest::install()?;
    let start = Instant::now();
    let Some(finished) = run_sampler(&gpu, &sampler, args, &stop)? else {
        return Ok(stop.exit_code());
    };
    let Finished {
        draws,
        report,
        stream,
    } = finished;
    let seconds = start.elapsed().as_secs_f64();
    let summary = if args.all_temperatures {
        draws.summary_all_chains()
    } else {
        draws.summary()
    };
    let chain_steps = f64::from(args.chains) * f64::from(args.steps);
    say!(
        "{} chain-steps in {seconds:.2} s ({:.3e} chain-steps/s)",
        chain_steps,
        chain_steps / seconds
    );
    say_text!("{summary}");
    if let Some(k) = args.superchains {
        let nested = report.statistics.nested_rhat(k);
        if nested.iter().all(|r| r.is_nan()) {
            bail!(
                "--superchains {k}: nested R-hat needs at least 2 superchains of equal size; \
                 the {} summarised chains do not divide into {k}",
                report.statistics.summary().chains
            );
        }
        let values: Vec<String> = nested.iter().map(|r| format!("{r:.4}")).collect();
        say!("nested R-hat ({k} superchains): {}", values.join(" "));
    }
    let divergences = report.statistics.divergences();
    if let Some(first) = divergences.iter().min_by_key(|d| d.first_step) {
        say!(
            "divergences: {} chains (first: chain {} after {} steps; policy {})",
            divergences.len(),
            first.chain,
            first.first_step,
            match args.divergence {
                DivergenceArg::Freeze => "freeze",
                DivergenceArg::Reset => "reset",
            }
        );
    }
    let thetas = spread_draws(&draws, PREDICTIVE_DRAWS);
    let slices: Vec<&[f32]> = thetas.iter().map(Vec::as_slice).collect();
    let predictive = match (&target, &test, mlp_shape) {
        (Target::Regression(model), Some(test), _) => model.predictive(test, &slices),
        (Target::Custom(_), Some(test), Some(shape)) => {
            classifier_predictive(test, &slices, |data, row, theta| {
                shape.output(data, row, theta)
            })
        }
        _ => None,
    };
    if let Some((accuracy, log_likelihood)) = predictive {
        say!("test: accuracy {accuracy:.4}, mean log-likelihood {log_likelihood:.4} (posterior predictive over {} draws)", PREDICTIVE_DRAWS.min(draws.values().len() / summary.dim));
    }
    // Every output of the run appears together: the summary and the manifest are staged
    // beside the finished draws, then all are renamed into place.
    let mut commit = langevin::output::Commit::new();
    let mut locks = Vec::new();
    let mut draws_checksum = None;
    if let Some(stream) = stream {
        draws_checksum = langevin::sink::Sink::checksum(&stream);
        locks.push(stream.stage(&mut commit)?);
    }
    let kept = |e: anyhow::Error| match &args.out {
        Some(out) => anyhow::anyhow!(
            "{e:#}; nothing was replaced: the draws are kept in {}",
            langevin::output::with_suffix(out, ".partial").display()
        ),
        None => e,
    };
    if let (Some(out), Some(checksum)) = (&args.out, draws_checksum) {
        if let Some(manifest) = langevin::shard::ShardManifest::of(&sampler, checksum) {
            manifest
                .stage(out, &mut commit)
                .map_err(|e| kept(e.into()))?;
        }
    }
    if let Some(path) = &args.json {
        let mut json = serde_json::to_value(&summary)?;
        let extra = serde_json::json!({
            "adapter": gpu.describe(),
            "model": model_name(args.model),
            "test_accuracy": predictive.map(|p| p.0),
            "test_log_likelihood": predictive.map(|p| p.1),
            "sampler": sampler.settings().method.name(),
            "steps": args.steps,
            "burn_in": args.burn_in,
            "thin": args.thin,
            "seed": args.seed,
            "temperature": args.temperature,
            "step_size": format!("{:?}", sampler.settings().step_size),
            "seconds": seconds,
            "divergences": report.statistics.divergences(),
            "running_statistics": report.statistics.summary(),
            "submits": report.submits,
            "dispatches": report.dispatches,
            "groups": report.groups.iter().map(|g| serde_json::json!({
                "device": g.device,
                "chains": [g.chains.start, g.chains.end],
                "data_path": g.data_path,
                "workgroup_size": g.workgroup_size,
            })).collect::<Vec<_>>(),
        });
        if let (Some(json), Some(extra)) = (json.as_object_mut(), extra.as_object()) {
            json.extend(extra.clone());
        }
        commit
            .stage(path, |w| {
                serde_json::to_writer_pretty(&mut *w, &json)?;
                std::io::Write::write_all(w, b"\n")
            })
            .map_err(|e| kept(anyhow::anyhow!("writing the summary: {e}")))?;
    }
    commit.commit().map_err(|e| kept(e.into()))?;
    drop(locks);
    // The run is complete and its outputs are in place: its checkpoint has nothing left to
    // resume.
    if let Some(dir) = args.checkpoint.as_ref().or(args.resume.as_ref()) {
        let _ = std::fs::remove_file(dir.join(langevin::checkpoint::CHECKPOINT_FILE));
    }
    // Divergent chains leave the statistics (under `freeze`): none left, no finite draw left.
    if !divergences.is_empty() && report.statistics.summary().chains == 0 {
        note!(
            "error: every chain diverged (NaN or infinite draws); the files are written for \
             inspection. Use a smaller step size"
        );
        return Ok(EXIT_ALL_DIVERGED);
    }
    Ok(0)
}

/// `--draws-buffer-mib` in bytes.
fn draws_buffer_bytes(mib: f64) -> Result<u64> {
    if !(mib.is_finite() && mib > 0.0) {
        bail!("--draws-buffer-mib {mib} must be a positive number of MiB");
    }
    Ok((mib * (1u64 << 20) as f64) as u64)
}

/// A run that went to its last step: its draws, report, and the draws file waiting to be
/// committed.
struct Finished {
    draws: langevin::Draws,
    report: langevin::RunReport,
    stream: Option<langevin::sink::NpyStream>,
}

/// Runs the sampler: in memory, or streaming to `--out` with checkpoints and resume. `None`
/// when a signal stopped it, after saying where its draws are and how to resume.
fn run_sampler(
    gpu: &Gpu,
    sampler: &Sampler,
    args: &SampleArgs,
    stop: &signals::StopRequest,
) -> Result<Option<Finished>> {
    // Further devices share the chains with the first.
    let others = args
        .also_adapter
        .iter()
        .map(|name| {
            let device = Gpu::new(Some(name))?;
            say!("also: {}", device.describe());
            Ok(device)
        })
        .collect::<Result<Vec<Gpu>>>()?;
    let others: Vec<&Gpu> = others.iter().collect();
    let mut bar = progress::Bar::new(args.quiet);
    let mut runner = sampler
        .runner(gpu)
        .split_across(&others)
        .stop_when(std::sync::Arc::clone(&stop.flag))
        .on_progress(|p| bar.update(p));
    let Some(out) = &args.out else {
        if args.checkpoint.is_some() || args.resume.is_some() {
            bail!(
                "--checkpoint and --resume need --out: the draws before an interruption live in \
                 its file"
            );
        }
        if args.shard.is_some() {
            bail!("--shard needs --out: `langevin merge` joins the shards' files");
        }
        let (draws, report) = runner.draws_and_report()?;
        if let Some(step) = report.stopped_at {
            note!(
                "stopped by {} after {step} of {} steps; without --out nothing was saved",
                stop.name(),
                args.steps
            );
            return Ok(None);
        }
        return Ok(Some(Finished {
            draws,
            report,
            stream: None,
        }));
    };
    if !(args.checkpoint_every.is_finite() && args.checkpoint_every >= 0.0) {
        bail!(
            "--checkpoint-every {} must be a number of seconds ≥ 0",
            args.checkpoint_every
        );
    }
    if let Some(dir) = &args.resume {
        let checkpoint = langevin::Checkpoint::load(dir)?;
        // Refused here, before anything is said or touched, if it is another run's.
        checkpoint.check_compatible(sampler)?;
        note!(
            "resuming at step {} with {} draws already in {}",
            checkpoint.next_step(),
            checkpoint.delivered(),
            langevin::output::with_suffix(out, ".partial").display()
        );
        runner = runner.resume(checkpoint);
    }
    let checkpoints = args.checkpoint.as_ref().or(args.resume.as_ref());
    if let Some(dir) = checkpoints {
        let every = std::time::Duration::from_secs_f64(args.checkpoint_every);
        runner = runner.checkpoint_every(dir, every);
    }
    let mut stream = langevin::sink::NpyStream::deferred(out);
    let report = runner.into_sink(&mut stream)?;
    let partial = stream.partial_path().to_owned();
    if let Some(step) = report.stopped_at {
        let held = stream.draws_written();
        note!(
            "stopped by {} after {step} of {} steps; {held} draws per chain are in {}",
            stop.name(),
            args.steps,
            partial.display()
        );
        match checkpoints {
            Some(dir) => note!(
                "a checkpoint at step {step} is in {}; continue with:\n  {}",
                dir.display(),
                signals::resume_command(dir)
            ),
            None => note!("run with --checkpoint DIR to be able to resume an interrupted run"),
        }
        return Ok(None);
    }
    let draws = langevin::Draws::read_npy(&partial, sampler)?;
    Ok(Some(Finished {
        draws,
        report,
        stream: Some(stream),
    }))
}

fn plot(args: &PlotArgs) -> Result<()> {
    checks::single_output(
        "--out",
        &args.out,
        &[("the draws file".into(), args.input.clone())],
    )?;
    let reference = reference_density(args)?;
    let options = langevin::plot::PlotOptions {
        dims: args.dims.clone(),
        max_chains: args.max_chains,
        ..Default::default()
    };
    let report = langevin::plot::plot_npy(&args.input, &args.out, &options, reference.as_deref())?;
    for warning in &report.warnings {
        note!("warning: {warning}");
    }
    say!(
        "{}: dimensions {:?} of {} draws, {} of {} chains traced",
        args.out.display(),
        report.dims,
        report.draws,
        report.chains_shown,
        report.chains
    );
    Ok(())
}

/// The marginal density of `--reference`, as `(dimension, x) ↦ p(x)`.
type Marginal = Box<dyn Fn(usize, f64) -> f64>;

fn reference_density(args: &PlotArgs) -> Result<Option<Marginal>> {
    let normal = |x: f64, mean: f64, var: f64| {
        (-(x - mean).powi(2) / (2.0 * var)).exp() / (2.0 * std::f64::consts::PI * var).sqrt()
    };
    Ok(match args.reference {
        None => None,
        Some(ReferenceModel::Gaussian) => {
            if let Some(v) = args.var.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
                bail!("--var {v}: variances must be positive");
            }
            let (means, vars) = (args.mean.clone(), args.var.clone());
            let pick = |values: &[f64], d: usize| values[d.min(values.len() - 1)];
            Some(Box::new(move |d, x| {
                normal(x, pick(&means, d), pick(&vars, d))
            }))
        }
        Some(ReferenceModel::GridMixture) => {
            let centres: Vec<f64> = (0..toys::GRID_PER_AXIS)
                .map(|i| {
                    (f64::from(i) - f64::from(toys::GRID_PER_AXIS - 1) / 2.0) * toys::GRID_SPACING
                })
                .collect();
            Some(Box::new(move |_, x| {
                centres
                    .iter()
                    .map(|&m| normal(x, m, toys::GRID_VARIANCE))
                    .sum::<f64>()
                    / centres.len() as f64
            }))
        }
        Some(ReferenceModel::DoubleWell) => {
            // exp(−U) is negligible outside [−3, 3] (U(±3) = 63); Simpson's rule there.
            let n = 6000;
            let h = 6.0 / f64::from(n);
            let z: f64 = (0..=n)
                .map(|i| {
                    let w = if i == 0 || i == n {
                        1.0
                    } else if i % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    w * (-toys::double_well_potential(-3.0 + f64::from(i) * h)).exp()
                })
                .sum::<f64>()
                * h
                / 3.0;
            Some(Box::new(move |_, x| {
                (-toys::double_well_potential(x)).exp() / z
            }))
        }
    })
}

/// Posterior draws used for predictions on a test set (spread evenly over draws and chains).
const PREDICTIVE_DRAWS: usize = 1000;

/// Up to `count` parameter vectors spread evenly over all kept (draw, chain) pairs.
fn spread_draws(draws: &langevin::Draws, count: usize) -> Vec<Vec<f32>> {
    let (n_draws, _, _) = draws.shape();
    let chains = draws.posterior_chains();
    let total = n_draws * chains.len();
    let take = count.min(total).max(1);
    (0..take.min(total))
        .map(|k| {
            let flat = k * total / take;
            let (draw, chain) = (flat / chains.len(), chains[flat % chains.len()]);
            (0..draws.shape().2)
                .map(|d| draws.get(draw, chain, d))
                .collect::<Vec<f32>>()
        })
        .filter(|theta| theta.iter().all(|v| v.is_finite()))
        .collect()
}

fn bench(gpu: Gpu, args: &BenchArgs) -> Result<()> {
    let config = if args.quick || gpu.is_software() {
        if !args.quick {
            note!("software adapter: running the quick sizes (pass a GPU with --adapter for the full run)");
        }
        W1Config::quick()
    } else {
        W1Config::full()
    };
    let rows = run_w1(&gpu, &config)?;
    say!(
        "W1: fused update of each sampler, Gaussian target, {} steps, median of {}",
        config.steps,
        config.repeats
    );
    say!(
        "{:>7} {:>12} {:>10} {:>7} {:>8} {:>14} {:>5} {:>10} {:>10} {:>8}",
        "sampler",
        "params",
        "chains",
        "steps/d",
        "multiply",
        "updates/s",
        "B/upd",
        "GB/s",
        "copy GB/s",
        "ratio"
    );
    for r in &rows {
        say!(
            "{:>7} {:>12} {:>10} {:>7} {:>8} {:>14.3e} {:>5} {:>10.1} {:>10.1} {:>8.3}",
            r.sampler,
            r.params,
            r.chains,
            r.steps_per_dispatch,
            r.rng_multiply,
            r.updates_per_s,
            r.bytes_per_update,
            r.effective_gb_per_s,
            r.copy_gb_per_s,
            r.ratio_to_copy
        );
    }
    let regression_config = if args.quick || gpu.is_software() {
        RegressionConfig::quick()
    } else {
        RegressionConfig::full()
    };
    let mut datasets = vec![("dense", synthetic_a9a_dense()?)];
    match Dataset::read_libsvm(&args.a9a, None, ExtraFeatures::Error) {
        Ok(a9a) => datasets.push(("sparse", a9a)),
        Err(error) => note!("skipping the sparse rows: {error}"),
    }
    let regression_rows = run_regression(&gpu, &regression_config, &datasets)?;
    say!(
        "W2–W4: logistic regression (and the MLP), a9a shape (N = 32561, D = 124), batch 100, {} steps",
        regression_config.steps
    );
    say!(
        "{:>8} {:>7} {:>7} {:>7} {:>8} {:>16} {:>12} {:>12}",
        "workload",
        "sampler",
        "data",
        "path",
        "chains",
        "chain-steps/s",
        "µs/step",
        "FLOP/s"
    );
    for r in &regression_rows {
        say!(
            "{:>8} {:>7} {:>7} {:>7} {:>8} {:>16.3e} {:>12.1} {:>12.3e}",
            r.workload,
            r.sampler,
            r.data,
            r.data_path,
            r.chains,
            r.chain_steps_per_s,
            r.us_per_step,
            r.flop_per_s
        );
    }
    // Readback: a draw of every chain every THIN steps streamed to the host, against none.
    // On one wgpu queue the copy to the host runs after the steps it follows, so the ratio is
    // compute / (compute + copy): rows over THIN show where readback stops mattering.
    let (chains, dim, steps, thins) = if args.quick || gpu.is_software() {
        (4096, 16, 400, vec![4, 40])
    } else {
        (262_144, 32, 4000, vec![10, 100, 1000])
    };
    let readback = thins
        .iter()
        .map(|&thin| run_readback(&gpu, chains, dim, steps, thin, 3))
        .collect::<langevin::Result<Vec<_>>>()?;
    say!("W5: readback ring, {chains} chains × {dim} dims, {steps} steps, median of 3");
    say!(
        "{:>6} {:>16} {:>12} {:>16} {:>7}",
        "thin",
        "with readback",
        "GB/s host",
        "without",
        "ratio"
    );
    for row in &readback {
        say!(
            "{:>6} {:>16.3e} {:>12.2} {:>16.3e} {:>7.3}",
            row.thin,
            row.with_readback,
            row.readback_gb_per_s,
            row.without_readback,
            row.ratio
        );
    }
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "adapter": gpu.describe(),
            "workload": "W1",
            "readback": readback,
            "steps": config.steps,
            "repeats": config.repeats,
            "rows": rows,
            "regression": regression_rows,
        });
        langevin::output::write_atomically(path, |w| {
            serde_json::to_writer_pretty(&mut *w, &report)?;
            Ok(())
        })?;
    }
    Ok(())
}
