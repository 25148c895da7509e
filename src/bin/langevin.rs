//! The `langevin` command line: sample a built-in model, benchmark the update, list adapters.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use langevin::bench::{run_w1, W1Config};
use langevin::gpu::{list_adapters, ADAPTER_ENV};
use langevin::{Gaussian, Gpu, Init, Sampler, StepSize};

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
    Sample(SampleArgs),
    /// Benchmark W1: the fused SGLD update against a device copy.
    Bench(BenchArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Model {
    /// Multivariate Gaussian: --mean, --var, optionally --corr.
    Gaussian,
}

#[derive(Clone, Copy, ValueEnum)]
enum SamplerKind {
    /// Stochastic gradient Langevin dynamics (Welling & Teh 2011).
    Sgld,
}

#[derive(Clone, Copy, ValueEnum)]
enum Schedule {
    /// η_t = --step-size.
    Constant,
    /// η_t = a (b + t)^(−γ) with --a, --b, --gamma.
    Poly,
}

#[derive(Args)]
struct SampleArgs {
    /// The target.
    #[arg(long, value_enum, default_value = "gaussian")]
    model: Model,
    /// Dimensions of the target.
    #[arg(long, default_value_t = 4)]
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
    /// The update rule.
    #[arg(long, value_enum, default_value = "sgld")]
    sampler: SamplerKind,
    /// Step size schedule.
    #[arg(long, value_enum, default_value = "constant")]
    schedule: Schedule,
    /// Constant step size η (our η; Welling & Teh's ε = 2η).
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    step_size: f64,
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
    /// Number of chains.
    #[arg(long, default_value_t = 4096)]
    chains: u32,
    /// Steps per chain, burn-in included.
    #[arg(long, default_value_t = 3000)]
    steps: u32,
    /// Steps discarded before the first kept draw.
    #[arg(long, default_value_t = 1000)]
    burn_in: u32,
    /// Keep every THIN-th state after burn-in.
    #[arg(long, default_value_t = 10)]
    thin: u32,
    /// The run's seed: same seed, same draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Standard deviation σ₀ of the initial positions N(0, σ₀²).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    init_scale: f64,
    /// Write the draws as NPY, f32, shape [draws, chains, dim].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the summary as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args)]
struct BenchArgs {
    /// Write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Small sizes only (for software adapters).
    #[arg(long)]
    quick: bool,
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    if let Err(error) = run(Cli::parse()) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Adapters => {
            for a in list_adapters()? {
                let mark = if a.is_default { "*" } else { " " };
                println!(
                    "{mark} {} [{}, {}] {}",
                    a.name, a.backend, a.device_type, a.driver
                );
            }
            Ok(())
        }
        Command::Sample(args) => sample(open(cli.adapter.as_deref())?, &args),
        Command::Bench(args) => bench(open(cli.adapter.as_deref())?, &args),
    }
}

/// Opens the adapter and prints it first, so every output names where it ran.
fn open(name: Option<&str>) -> Result<Gpu> {
    let gpu = Gpu::new(name.filter(|n| !n.trim().is_empty()))?;
    println!("adapter: {}", gpu.describe());
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

fn target(args: &SampleArgs) -> Result<Gaussian> {
    if args.dim == 0 {
        bail!(langevin::Error::InvalidSetting {
            name: "dimension",
            reason: "--dim must be at least 1".into()
        });
    }
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
    Ok(match args.schedule {
        Schedule::Constant => StepSize::constant(args.step_size)?,
        Schedule::Poly => match (args.a, args.b, args.gamma) {
            (Some(a), Some(b), Some(gamma)) => StepSize::polynomial(a, b, gamma)?,
            _ => bail!("--schedule poly needs --a, --b and --gamma"),
        },
    })
}

/// Refuses an output path whose folder does not exist, before any work is done.
fn check_output(path: &Option<PathBuf>) -> Result<()> {
    if let Some(path) = path {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            bail!(
                "{}: the folder {} does not exist",
                path.display(),
                parent.display()
            );
        }
    }
    Ok(())
}

fn sample(gpu: Gpu, args: &SampleArgs) -> Result<()> {
    let SamplerKind::Sgld = args.sampler;
    let Model::Gaussian = args.model;
    check_output(&args.out)?;
    check_output(&args.json)?;
    let sampler = Sampler::builder(target(args)?)
        .chains(args.chains)
        .steps(args.steps)
        .burn_in(args.burn_in)
        .thin(args.thin)
        .step_size(schedule(args)?)
        .temperature(args.temperature)
        .seed(args.seed)
        .init(Init::Normal {
            scale: args.init_scale,
        })
        .build()?;
    let start = Instant::now();
    let draws = sampler.run(&gpu)?;
    let seconds = start.elapsed().as_secs_f64();
    let summary = draws.summary();
    let chain_steps = f64::from(args.chains) * f64::from(args.steps);
    println!(
        "{} chain-steps in {seconds:.2} s ({:.3e} chain-steps/s)",
        chain_steps,
        chain_steps / seconds
    );
    print!("{summary}");
    if let Some(path) = &args.out {
        draws.write_npy(path)?;
    }
    if let Some(path) = &args.json {
        let mut report = serde_json::to_value(&summary)?;
        let extra = serde_json::json!({
            "adapter": gpu.describe(),
            "model": "gaussian",
            "sampler": "sgld",
            "steps": args.steps,
            "burn_in": args.burn_in,
            "thin": args.thin,
            "seed": args.seed,
            "temperature": args.temperature,
            "step_size": format!("{:?}", sampler.settings().step_size),
            "seconds": seconds,
        });
        if let (Some(report), Some(extra)) = (report.as_object_mut(), extra.as_object()) {
            report.extend(extra.clone());
        }
        let written = langevin::output::write_atomically(path, |w| {
            serde_json::to_writer_pretty(&mut *w, &report)?;
            Ok(())
        });
        if let Err(error) = written {
            // The draws alone would look like a finished run; take them back.
            if let Some(out) = &args.out {
                let _ = std::fs::remove_file(out);
            }
            return Err(error).context("writing the summary");
        }
    }
    Ok(())
}

fn bench(gpu: Gpu, args: &BenchArgs) -> Result<()> {
    check_output(&args.json)?;
    let config = if args.quick || gpu.is_software() {
        if !args.quick {
            eprintln!("software adapter: running the quick sizes (pass a GPU with --adapter for the full run)");
        }
        W1Config::quick()
    } else {
        W1Config::full()
    };
    let rows = run_w1(&gpu, &config)?;
    println!(
        "W1: fused SGLD update, Gaussian target, {} steps, median of {}",
        config.steps, config.repeats
    );
    println!(
        "{:>12} {:>10} {:>7} {:>8} {:>14} {:>10} {:>10} {:>8}",
        "params", "chains", "steps/d", "multiply", "updates/s", "GB/s", "copy GB/s", "ratio"
    );
    for r in &rows {
        println!(
            "{:>12} {:>10} {:>7} {:>8} {:>14.3e} {:>10.1} {:>10.1} {:>8.3}",
            r.params,
            r.chains,
            r.steps_per_dispatch,
            r.rng_multiply,
            r.updates_per_s,
            r.effective_gb_per_s,
            r.copy_gb_per_s,
            r.ratio_to_copy
        );
    }
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "adapter": gpu.describe(),
            "workload": "W1",
            "steps": config.steps,
            "repeats": config.repeats,
            "rows": rows,
        });
        langevin::output::write_atomically(path, |w| {
            serde_json::to_writer_pretty(&mut *w, &report)?;
            Ok(())
        })?;
    }
    Ok(())
}
