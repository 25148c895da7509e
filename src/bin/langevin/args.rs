//! The command line's arguments: the clap structs of every subcommand. Defaults shared with
//! the library come from [`langevin::Settings::default`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use langevin::gpu::ADAPTER_ENV;
use langevin::{DataPath, Settings};

use crate::checks;

/// The library's defaults, which the command line's are.
const DEFAULTS: Settings = Settings::DEFAULT;

/// Many-chain stochastic-gradient MCMC on the GPU.
#[derive(Parser)]
#[command(version, about, args_override_self = true)]
pub(crate) struct Cli {
    /// Use the adapter whose name contains NAME (case-insensitive); see `langevin adapters`.
    #[arg(long, global = true, env = ADAPTER_ENV, value_name = "NAME")]
    pub(crate) adapter: Option<String>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// List every adapter with its backend and type; `*` marks the default.
    Adapters,
    /// Run chains on a model and summarise the draws.
    Sample(Box<SampleArgs>),
    /// Benchmark W1–W6 (the fused update against a device copy, the data models, readback,
    /// the 784-100-10 network) and compare with the JAX peers' figures.
    Bench(BenchArgs),
    /// Trace plots and marginal histograms of a draws file, as PNG.
    Plot(PlotArgs),
    /// Join the --out files of every shard of one run (see `sample --shard`).
    Merge(MergeArgs),
}

#[derive(Args)]
pub(crate) struct MergeArgs {
    /// The shards' draws files, each with its .shard.json manifest beside it, in any order.
    #[arg(required = true)]
    pub(crate) shards: Vec<PathBuf>,
    /// The joined draws file.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum DivergenceArg {
    /// Exclude it from the statistics; the other chains run on.
    Freeze,
    /// Return it to its last finite draw and run on.
    Reset,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ReferenceModel {
    /// Independent normal marginals with --mean and --var.
    Gaussian,
    /// Chen et al.'s double well, normalised numerically.
    DoubleWell,
    /// Zhang et al.'s 25-mode grid: each coordinate a mixture of five normals.
    GridMixture,
}

#[derive(Args)]
pub(crate) struct PlotArgs {
    /// The draws: NPY, f32, shape [draws, chains, dim] (a .partial file works too).
    pub(crate) input: PathBuf,
    /// The PNG to write.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Draw the reliability diagram of a predictive file (`sample --predictive`) instead of
    /// traces: accuracy against confidence in 15 bins, with the ECE.
    #[arg(long)]
    pub(crate) reliability: bool,
    /// Dimensions to plot (default: the first four).
    #[arg(long, value_delimiter = ',')]
    pub(crate) dims: Option<Vec<usize>>,
    /// Chains traced (histograms pool all chains).
    #[arg(long, default_value_t = 8)]
    pub(crate) max_chains: usize,
    /// Overlay this model's marginal density on the histograms.
    #[arg(long)]
    pub(crate) reference: Option<ReferenceModel>,
    /// Means of the Gaussian reference (one value, or one per dimension).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0",
        allow_negative_numbers = true
    )]
    pub(crate) mean: Vec<f64>,
    /// Variances of the Gaussian reference (one value, or one per dimension).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub(crate) var: Vec<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Model {
    /// Multivariate Gaussian: --mean, --var, optionally --corr.
    Gaussian,
    /// Bayesian linear regression on --data with known --noise-var.
    Linear,
    /// Bayesian logistic regression on --data (labels ±1 or 0/1).
    Logistic,
    /// Welling & Teh's two-parameter Gaussian mixture on --data (default data/mixture.csv).
    Mixture,
    /// Multinomial logistic regression on --data (labels 0..K−1): a network with no hidden
    /// layer and a categorical output.
    Softmax,
    /// A feed-forward network (a Bayesian neural network) on --data: --hidden widths,
    /// --activation, --output likelihood, --prior.
    Mlp,
    /// Chen et al.'s double well U(θ) = −2θ² + θ⁴ (no data).
    DoubleWell,
    /// Zhang et al.'s 25-component Gaussian mixture on a 5 × 5 grid (no data).
    GridMixture,
}

/// `--step-size`: a number, or `auto`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum StepSizeArg {
    /// Chosen from the curvature at the mode.
    Auto,
    /// This η.
    Value(f64),
}

impl std::fmt::Display for StepSizeArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepSizeArg::Auto => f.write_str("auto"),
            StepSizeArg::Value(eta) => write!(f, "{eta}"),
        }
    }
}

fn step_size(text: &str) -> Result<StepSizeArg, String> {
    if text.trim().eq_ignore_ascii_case("auto") {
        return Ok(StepSizeArg::Auto);
    }
    text.trim()
        .parse()
        .map(StepSizeArg::Value)
        .map_err(|_| format!("`{text}` is neither a number nor `auto`"))
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ActivationArg {
    /// max(0, z).
    Relu,
    /// tanh z.
    Tanh,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputArg {
    /// Bernoulli for labels ±1 or 0/1, categorical otherwise.
    Auto,
    /// Softmax over --classes K (labels 0..K−1).
    Categorical,
    /// Sigmoid (labels ±1 or 0/1).
    Bernoulli,
    /// Regression, y ~ N(f(x), --noise-var).
    Gaussian,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PriorArg {
    /// Every weight and bias N(0, --prior-var).
    Isotropic,
    /// Weights N(0, --prior-var / fan-in), biases N(0, --prior-var).
    FanIn,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum BatchMode {
    /// One mini-batch per step for all chains.
    Shared,
    /// Each chain draws its own mini-batch.
    PerChain,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum DataPathArg {
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
    /// Linear/logistic: a few chains per thread, θ and ∇ in private memory (the CPU shape).
    Register,
}

impl From<DataPathArg> for DataPath {
    fn from(arg: DataPathArg) -> DataPath {
        match arg {
            DataPathArg::Auto => DataPath::Auto,
            DataPathArg::Global => DataPath::Global,
            DataPathArg::Staged => DataPath::Staged,
            DataPathArg::Fused => DataPath::Fused,
            DataPathArg::Tiled => DataPath::Tiled,
            DataPathArg::Register => DataPath::Register,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SamplerKind {
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
pub(crate) enum Schedule {
    /// η_t = --step-size.
    Constant,
    /// η_t = a (b + t)^(−γ) with --a, --b, --gamma.
    Poly,
    /// Zhang et al.'s cosine from --step-size over --cycles cycles of the run, each exploring
    /// (no noise, no draws) for its first fraction --explore.
    Cyclical,
}

#[derive(Args)]
pub(crate) struct SampleArgs {
    /// The target.
    #[arg(long, value_enum, default_value = "gaussian")]
    pub(crate) model: Model,
    /// Dimensions of the target.
    #[arg(long, default_value_t = 4, value_parser = checks::count::<usize>)]
    pub(crate) dim: usize,
    /// Mean: one value for every dimension, or a comma-separated list of --dim values.
    #[arg(
        long,
        default_value = "0",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub(crate) mean: Vec<f64>,
    /// Marginal variance: one value, or a comma-separated list of --dim values.
    #[arg(
        long,
        default_value = "1",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub(crate) var: Vec<f64>,
    /// Correlation between every pair of dimensions (a dense precision); 0 keeps it diagonal.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub(crate) corr: f64,
    /// Training data: LIBSVM text, CSV when the name ends in .csv, IDX images (MNIST format,
    /// raw or gzip; the labels file beside them), or `fashion-mnist` for the Debian
    /// package's Fashion-MNIST (its t10k images become --test unless one is given).
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Test data: logistic regression reports accuracy and log-likelihood; networks report
    /// the posterior predictive's accuracy, NLL, Brier score and ECE (or RMSE, NLL and 90%
    /// coverage), summed on the device.
    #[arg(long)]
    pub(crate) test: Option<PathBuf>,
    /// CSV label column by header name (default: the last column).
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// Declared number of features: a LIBSVM index beyond it is an error.
    #[arg(long, value_parser = checks::count::<usize>)]
    pub(crate) features: Option<usize>,
    /// Noise variance s² of linear regression.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub(crate) noise_var: f64,
    /// Widths of --model mlp's hidden layers, input side first: `100` or `100,100`.
    #[arg(long, value_delimiter = ',', default_value = "50", value_parser = checks::count::<usize>)]
    pub(crate) hidden: Vec<usize>,
    /// Nonlinearity of --model mlp's hidden layers.
    #[arg(long, value_enum, default_value = "relu")]
    pub(crate) activation: ActivationArg,
    /// Likelihood of --model mlp (auto: Bernoulli for labels ±1 or 0/1, else categorical).
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) output: OutputArg,
    /// Classes K of a categorical output (default: the largest training label + 1).
    #[arg(long, value_parser = checks::count::<usize>)]
    pub(crate) classes: Option<usize>,
    /// A network's prior: every weight and bias N(0, --prior-var), or weights
    /// N(0, --prior-var / fan-in) and biases N(0, --prior-var).
    #[arg(long, value_enum, default_value = "isotropic")]
    pub(crate) prior: PriorArg,
    /// Variance σ² of the Gaussian prior N(0, σ² I) on the coefficients (for --prior fan-in,
    /// the scale s of N(0, s / fan-in)).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub(crate) prior_var: f64,
    /// Use only the first N training examples.
    #[arg(long, value_parser = checks::count::<usize>)]
    pub(crate) train_rows: Option<usize>,
    /// Use only the first N test examples.
    #[arg(long, value_parser = checks::count::<usize>)]
    pub(crate) test_rows: Option<usize>,
    /// Write a network's posterior predictive on --test as NPY: the averaged class
    /// probabilities [examples, classes] (regression: mean and variance), and beside it
    /// FILE.uncertainty.npy [examples, 3]: label, predictive entropy, mutual information.
    #[arg(long, value_name = "FILE.npy")]
    pub(crate) predictive: Option<PathBuf>,
    /// No intercept: coefficient d is feature d.
    #[arg(long)]
    pub(crate) no_intercept: bool,
    /// Examples per mini-batch (default: the full data every step).
    #[arg(long, value_parser = checks::count::<u32>)]
    pub(crate) batch: Option<u32>,
    /// Mini-batch shared by all chains or drawn per chain.
    #[arg(long, value_enum, default_value = "shared")]
    pub(crate) batch_mode: BatchMode,
    /// Draw mini-batch indices with replacement (on) or as a permutation per epoch (off).
    #[arg(long, value_enum, default_value = "on")]
    pub(crate) replacement: OnOff,
    /// How a data model's kernel reads its mini-batch; every path gives the same draws
    /// (networks: auto, global or tiled).
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) data_path: DataPathArg,
    /// The update rule.
    #[arg(long, value_enum, default_value = "sgld")]
    pub(crate) sampler: SamplerKind,
    /// Step size schedule.
    #[arg(long, value_enum, default_value = "constant")]
    pub(crate) schedule: Schedule,
    /// Constant step size η (our η; Welling & Teh's ε = 2η), or `auto`: 0.2 of the rule's
    /// stability limit at the mode's largest curvature (found by SGD and power iteration).
    #[arg(long, default_value_t = StepSizeArg::Value(langevin::schedule::DEFAULT_STEP_SIZE),
          allow_negative_numbers = true, value_parser = step_size)]
    pub(crate) step_size: StepSizeArg,
    /// With --step-size auto: the fraction of the stability limit, in (0, 1) (default 0.2; with
    /// --precondition 0.025, η ≈ 0.05, as the limit there is 2 and the step sets the bias).
    #[arg(long)]
    pub(crate) step_fraction: Option<f64>,
    /// Cycles M of --schedule cyclical.
    #[arg(long, default_value_t = 1)]
    pub(crate) cycles: u32,
    /// Exploration fraction β ∈ [0, 1) of each cycle of --schedule cyclical.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub(crate) explore: f64,
    /// Steps at --warmup-step-size before the schedule starts (its steps count from there).
    #[arg(long, value_parser = checks::count::<u64>)]
    pub(crate) warmup_steps: Option<u64>,
    /// The warm-up's constant step size (default: --step-size).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) warmup_step_size: Option<f64>,
    /// pSGLD: decay α ∈ [0, 1) of the running mean square.
    #[arg(long, default_value_t = 0.99, allow_negative_numbers = true)]
    pub(crate) decay: f64,
    /// pSGLD: λ > 0 added to sqrt(V).
    #[arg(long, default_value_t = 1e-5, allow_negative_numbers = true)]
    pub(crate) rms_epsilon: f64,
    /// SGHMC: friction α ∈ [0, 1] (one minus the momentum decay).
    #[arg(long, allow_negative_numbers = true, conflicts_with = "momentum_decay")]
    pub(crate) friction: Option<f64>,
    /// SGHMC: momentum decay 1 − α, instead of --friction.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) momentum_decay: Option<f64>,
    /// SGHMC: gradient-noise estimate β̂ ∈ [0, α].
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub(crate) noise_estimate: f64,
    /// SGNHT: diffusion A > 0.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub(crate) diffusion: f64,
    /// σ of synthetic gradient noise N(0, σ²) added to every gradient (for studying samplers).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub(crate) gradient_noise: f64,
    /// Polynomial schedule scale a.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) a: Option<f64>,
    /// Polynomial schedule offset b.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) b: Option<f64>,
    /// Polynomial schedule exponent γ ∈ (0.5, 1].
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) gamma: Option<f64>,
    /// Temperature T (1: the posterior; 0: gradient descent).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub(crate) temperature: f64,
    /// A temperature per chain: --rungs rungs spaced geometrically from T_MIN to T_MAX over
    /// the chain axis; the summary covers the T = 1 chains unless --all-temperatures.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "T_MIN,T_MAX",
        allow_negative_numbers = true
    )]
    pub(crate) temperature_ladder: Option<Vec<f64>>,
    /// Anneal the temperature geometrically from T_START down to --temperature over STEPS
    /// steps.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "T_START,STEPS",
        allow_negative_numbers = true
    )]
    pub(crate) anneal: Option<Vec<f64>>,
    /// Rungs of --temperature-ladder.
    #[arg(long, default_value_t = 4, value_parser = checks::count::<u32>)]
    pub(crate) rungs: u32,
    /// Control variates for the mini-batch gradient (Baker et al. 2019): SGD finds the mode θ̂
    /// first, chains start there.
    #[arg(long)]
    pub(crate) cv: bool,
    /// SGLD in the Laplace metric: the inverse Hessian of U at the mode (SGD on the GPU, then
    /// Newton's method on the CPU), so every direction mixes alike (sampler::preconditioner).
    /// SGLD on Gaussians, linear and logistic regression; with --cv the centre is that mode.
    #[arg(long)]
    pub(crate) precondition: bool,
    /// SGD steps that find θ̂ for --cv, and the mode for --precondition.
    #[arg(long, default_value_t = 1000, value_parser = checks::count::<u32>)]
    pub(crate) cv_steps: u32,
    /// SGD step size for --cv (default: --step-size).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) cv_step_size: Option<f64>,
    /// Summarise every chain of a temperature ladder, not only those at T = 1.
    #[arg(long)]
    pub(crate) all_temperatures: bool,
    /// Number of chains.
    #[arg(long, default_value_t = DEFAULTS.chains, value_parser = checks::count::<u32>)]
    pub(crate) chains: u32,
    /// Steps per chain, burn-in included.
    #[arg(long, default_value_t = DEFAULTS.steps, value_parser = checks::count::<u32>)]
    pub(crate) steps: u32,
    /// Steps discarded before the first kept draw (default: half the steps).
    #[arg(long, value_parser = checks::count::<u32>)]
    pub(crate) burn_in: Option<u32>,
    /// Keep every THIN-th state after burn-in.
    #[arg(long, default_value_t = DEFAULTS.thin, value_parser = checks::count::<u32>)]
    pub(crate) thin: u32,
    /// The run's seed: same seed, same draws.
    #[arg(long, default_value_t = DEFAULTS.seed)]
    pub(crate) seed: u64,
    /// Start every coordinate from N(0, σ₀²) with σ₀ = INIT_SCALE. Default: 1, except for
    /// networks, whose weights start from N(0, g/fan-in) (g = 2 for relu, 1 for tanh) and
    /// biases from 0.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) init_scale: Option<f64>,
    /// Write the draws as NPY, f32, shape [draws, chains, dim]. They stream to OUT.partial
    /// (a valid NPY file that grows) and are renamed to OUT when the run finishes.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Write the summary as JSON (every dimension).
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Print every dimension's row of the summary, not only the first 20.
    #[arg(long)]
    pub(crate) print_all: bool,
    /// Write a checkpoint into DIR every --checkpoint-every seconds (needs --out).
    #[arg(long, value_name = "DIR")]
    pub(crate) checkpoint: Option<PathBuf>,
    /// Seconds between checkpoints (0: after every submit).
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub(crate) checkpoint_every: f64,
    /// Continue the run whose checkpoint is in DIR, appending to --out's partial file; give
    /// the same model, data and settings as the interrupted run.
    #[arg(long, value_name = "DIR")]
    pub(crate) resume: Option<PathBuf>,
    /// Run shard I of N: the chains [I·C/N, (I+1)·C/N), drawing exactly what they draw in
    /// the whole run; `langevin merge` joins the shards' --out files.
    #[arg(long, value_name = "I/N")]
    pub(crate) shard: Option<langevin::shard::Shard>,
    /// Share the chains with this adapter too (repeat for more; names as for --adapter); the
    /// draws are those of one adapter.
    #[arg(long, value_name = "NAME")]
    pub(crate) also_adapter: Vec<String>,
    /// Also print nested R-hat (for many short chains) with the chains cut into K superchains
    /// of consecutive chains, e.g. chains started from K different points.
    #[arg(long, value_name = "K")]
    pub(crate) superchains: Option<usize>,
    /// What happens to a chain found NaN or infinite at a kept draw.
    #[arg(long, value_enum, default_value_t = DivergenceArg::Freeze)]
    pub(crate) divergence: DivergenceArg,
    /// No progress bar.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Keep no draws: summarise the run from the running statistics the GPU keeps (pooled
    /// means and sds, R-hat from each chain's moments, divergences), for runs whose draws
    /// would not fit the host or are not needed.
    #[arg(long)]
    pub(crate) statistics_only: bool,
    /// GPU memory for draws between readbacks, in MiB (split over the readback ring); smaller
    /// means more, shorter submits. Never changes the draws.
    #[arg(long, default_value_t = 256.0, value_name = "MIB")]
    pub(crate) draws_buffer_mib: f64,
}

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Write the results as JSON.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// A smoke run: every workload at small sizes for a few steps. Checks that everything
    /// runs; its figures are not measurements.
    #[arg(long)]
    pub(crate) quick: bool,
    /// The a9a training file for the sparse W2/W3 rows.
    #[arg(long, default_value = "data/a9a")]
    pub(crate) a9a: PathBuf,
    /// The JAX figures for the same jobs (the JSON `benches/peers/sgld_jax.py` writes): adds
    /// a table of our rates against theirs.
    #[arg(long, value_name = "FILE")]
    pub(crate) peers: Option<PathBuf>,
    /// Write the sizes this adapter's bench runs to FILE as JSON (the peers script's input)
    /// and exit without timing anything.
    #[arg(long, value_name = "FILE")]
    pub(crate) plan: Option<PathBuf>,
}
