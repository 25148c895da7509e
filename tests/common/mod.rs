//! Helpers shared by the integration tests: one GPU per test binary, seeded random inputs.

#![allow(dead_code)]

use std::sync::OnceLock;

use langevin::Gpu;
use rand::{Rng, SeedableRng};

/// One device per test binary; opening one per test is slow on lavapipe.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        let gpu = Gpu::from_env().expect("the tests need an adapter; lavapipe will do");
        eprintln!("adapter: {}", gpu.describe());
        gpu
    })
}

/// A fresh folder per test under the system's temporary folder (the test binaries also run
/// on machines without this build tree).
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("langevin-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// The `langevin` binary: `LANGEVIN_BIN` where set (the GPU machine runs the staged copy),
/// else the one cargo built for these tests.
pub fn binary() -> std::ffi::OsString {
    std::env::var_os("LANGEVIN_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_langevin").into())
}

/// The binary as a command, with the default adapter (no `LANGEVIN_ADAPTER` from outside).
pub fn command() -> std::process::Command {
    let mut command = std::process::Command::new(binary());
    command.env_remove("LANGEVIN_ADAPTER");
    command
}

/// Runs the binary with `args` to the end.
pub fn langevin(args: &[&str]) -> std::process::Output {
    command().args(args).output().expect("the binary runs")
}

/// Builds and runs a sampler on the shared GPU, keeping its draws in memory.
pub fn run(builder: langevin::sampler::SamplerBuilder) -> langevin::Draws {
    builder.build().expect("valid").run(gpu()).expect("run")
}

/// Reproducible random values in `[lo, hi)`.
pub fn uniform(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Mean and (divisor n) covariance of draws `[draw][chain][dim]` pooled over draws and chains.
pub fn pooled_moments(values: &[f32], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (values.len() / dim) as f64;
    let mut mean = vec![0.0; dim];
    for point in values.chunks_exact(dim) {
        for d in 0..dim {
            mean[d] += f64::from(point[d]) / n;
        }
    }
    let mut cov = vec![0.0; dim * dim];
    for point in values.chunks_exact(dim) {
        for i in 0..dim {
            for j in 0..dim {
                cov[i * dim + j] +=
                    (f64::from(point[i]) - mean[i]) * (f64::from(point[j]) - mean[j]) / n;
            }
        }
    }
    (mean, cov)
}

/// The vendored a9a training split.
pub fn a9a() -> langevin::data::Dataset {
    use langevin::data::{Dataset, ExtraFeatures};
    Dataset::read_libsvm(
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/a9a"),
        None,
        ExtraFeatures::Error,
    )
    .expect("data/a9a")
}

/// The vendored a9a test split, read against the training split's 123 features.
pub fn a9a_test() -> langevin::data::Dataset {
    use langevin::data::{Dataset, ExtraFeatures};
    Dataset::read_libsvm(
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/a9a.t"),
        Some(123),
        ExtraFeatures::Ignore,
    )
    .expect("data/a9a.t")
}

/// Runs `steps` T = 0 SGLD steps of a data model on the GPU from seeded random positions and
/// holds every chain to the CPU twin (see [`assert_rule_twin`]).
pub fn assert_cpu_twin(
    target: impl Into<langevin::model::Target>,
    rows: u32,
    batch: Option<langevin::minibatch::Minibatch>,
    eta: f64,
    steps: u32,
    gradient: impl Fn(&[f32], &[u32], &mut [f32]),
) {
    let twin = Twin {
        method: langevin::sampler::Method::Sgld,
        rows,
        batch,
        eta,
        temperature: 0.0,
        steps,
        gradient_noise: 0.0,
    };
    assert_rule_twin(target, &twin, gradient);
}

/// What [`assert_rule_twin`] runs.
pub struct Twin {
    /// The update rule.
    pub method: langevin::sampler::Method,
    /// Examples in the data (1 for a target without data: `ḡ = ∇U`).
    pub rows: u32,
    /// Mini-batches, or `None` for every row in order.
    pub batch: Option<langevin::minibatch::Minibatch>,
    /// Constant step size.
    pub eta: f64,
    /// Temperature.
    pub temperature: f64,
    /// Steps run (the last state is compared).
    pub steps: u32,
    /// σ of synthetic gradient noise.
    pub gradient_noise: f64,
}

/// Runs `twin.steps` steps on the GPU from seeded random positions and holds every chain to
/// the CPU references: mini-batch indices from `minibatch::batch_index` (or every row in order),
/// the gradient from `gradient(θ, rows, out)` and the rule's `reference_move`.
///
/// At T = 0 GPU and CPU differ only by the driver's fma contraction and a few ulps of `exp`,
/// `sqrt` and division: 1e-4 relative is far below what a wrong row, sign, scale or rule term
/// would move. With noise, each GPU normal also carries up to 3·10⁻³ of log/sin/cos error (the
/// Philox probe test), so each coordinate's bound adds twice that times the noise it received:
/// `Σ_t e_{t,d} P(t)`, with `e_{t,d}` the scale of step t's injected noise in coordinate d
/// (`sqrt(2cη_tT)`, times `sqrt(G_d)` for pSGLD) plus that of the synthetic gradient noise
/// (`η_t σ`), and `P(t)` how an error carries to the last state: once for SGLD and pSGLD, once
/// per remaining step through SGHMC's momentum, `h` per remaining step through SGNHT's. A
/// coordinate the noise barely reaches (a sparse feature) gets a bound as tight as its noise.
pub fn assert_rule_twin(
    target: impl Into<langevin::model::Target>,
    twin: &Twin,
    gradient: impl Fn(&[f32], &[u32], &mut [f32]),
) {
    use langevin::minibatch::{batch_index, SHARED};
    use langevin::sampler::method::{reference_move, AuxiliaryState, StepContext};
    use langevin::sampler::sgld::StepScalars;
    use langevin::{Init, Sampler, StepSize};
    let target = target.into();
    let (chains, dim, seed) = (24u32, target.dim(), 404);
    let positions: Vec<f32> = uniform(5, chains as usize * dim, -0.5, 0.5)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let steps = twin.steps;
    let mut builder = Sampler::builder(target)
        .chains(chains)
        .steps(steps)
        .burn_in(steps - 1)
        .step_size(StepSize::constant(twin.eta).expect("valid"))
        .temperature(twin.temperature)
        .method(twin.method)
        .gradient_noise(twin.gradient_noise)
        .seed(seed)
        .init(Init::Positions(positions.clone()));
    if let Some(batch) = twin.batch {
        builder = builder.minibatch(batch);
    }
    let draws = builder.build().expect("valid").run(gpu()).expect("run");
    let key = langevin::rng::key_for_seed(seed);
    let scalars =
        StepScalars::with_noise_factor(twin.eta, twin.temperature, twin.method.noise_factor());
    let noisy = twin.temperature > 0.0 || twin.gradient_noise > 0.0;
    for c in 0..chains {
        let start = positions[c as usize * dim..(c as usize + 1) * dim].to_vec();
        let mut theta = start.clone();
        let mut auxiliary = AuxiliaryState::initial(&twin.method, dim);
        let mut budget = vec![0.0f64; dim];
        for step in 0..steps {
            let indices: Vec<u32> = match &twin.batch {
                None => (0..twin.rows).collect(),
                Some(b) => {
                    let owner = if b.is_per_chain() { c } else { SHARED };
                    (0..b.size())
                        .map(|j| batch_index(key, b, twin.rows, owner, step, j))
                        .collect()
                }
            };
            let mut g = vec![0.0f32; dim];
            gradient(&theta, &indices, &mut g);
            let context = StepContext {
                method: twin.method,
                scalars,
                per_datum: (1.0 / f64::from(twin.rows)) as f32,
                seed,
                chain: c,
                step,
                gradient_noise: twin.gradient_noise as f32,
            };
            reference_move(&mut theta, &mut auxiliary, &g, &context);
            let remaining = f64::from(steps - step);
            let carry = match twin.method {
                langevin::sampler::Method::Sghmc { .. } => remaining,
                langevin::sampler::Method::Sgnht { .. } => twin.eta * remaining,
                _ => 1.0,
            };
            for (d, b) in budget.iter_mut().enumerate() {
                let preconditioned = match twin.method {
                    langevin::sampler::Method::Psgld { epsilon, .. } => {
                        1.0 / (epsilon + f64::from(auxiliary.per_coordinate[d]).sqrt())
                    }
                    _ => 1.0,
                };
                let injected = f64::from(scalars.noise_scale) * preconditioned.sqrt();
                *b += (injected + twin.eta * twin.gradient_noise * preconditioned) * carry;
            }
        }
        for (d, want) in theta.iter().enumerate() {
            let got = draws.get(0, c as usize, d);
            let mut tolerance = 1e-4 * want.abs().max(1.0);
            if noisy {
                tolerance += (2.0 * 3e-3 * budget[d]) as f32;
            }
            assert!(
                (got - want).abs() < tolerance,
                "{:?} T = {} {:?} chain {c} dim {d}: GPU {got}, CPU {want}",
                twin.method,
                twin.temperature,
                twin.batch
            );
        }
    }
}

/// Fraction of all draws whose coordinate `dim` is positive.
pub fn fraction_positive(draws: &langevin::Draws, dim: usize) -> f64 {
    let values = draws.dimension(dim);
    values.iter().filter(|&&v| v > 0.0).count() as f64 / values.len() as f64
}

/// A mini-batch of `size` examples, per chain or shared, with or without replacement.
pub fn batch(size: u32, per_chain: bool, replacement: bool) -> langevin::Minibatch {
    let batch = match per_chain {
        true => langevin::Minibatch::per_chain(size),
        false => langevin::Minibatch::shared(size),
    }
    .expect("a valid batch size");
    match replacement {
        true => batch,
        false => batch.without_replacement(),
    }
}

/// The reference posterior of `Regression::logistic(a9a, prior_variance)`: per-coefficient
/// mean, sd and Monte Carlo standard error of the mean from a long full-batch HMC run with an
/// exact Metropolis correction (`tests/fixtures/make_a9a_reference.py`, NumPy, written
/// independently of the crate; 4 × 5000 draws, split R-hat < 1.001).
pub struct Reference {
    /// Posterior means.
    pub mean: Vec<f64>,
    /// Posterior sds.
    pub sd: Vec<f64>,
    /// Monte Carlo standard errors of the means.
    pub mcse: Vec<f64>,
}

pub fn a9a_reference(prior_variance: f64) -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/a9a_logistic_reference.json"
    );
    let text = std::fs::read_to_string(path).expect("reference fixture");
    let records: Vec<serde_json::Value> = serde_json::from_str(&text).expect("reference JSON");
    let json = records
        .iter()
        .find(|r| r["prior_variance"].as_f64() == Some(prior_variance))
        .expect("a reference for this prior variance");
    let list = |key: &str| -> Vec<f64> {
        json[key]
            .as_array()
            .expect("a list")
            .iter()
            .map(|v| v.as_f64().expect("a number"))
            .collect()
    };
    Reference {
        mean: list("mean"),
        sd: list("sd"),
        mcse: list("mcse"),
    }
}

/// One step of `builder`'s target (further set by the caller) from uniform random positions
/// in [−`spread`, `spread`] (seeded by `positions_seed`), at constant `eta` and `temperature`
/// with run seed `seed`: returns the chain-major start and the draws.
pub fn one_step_from_random_positions(
    builder: langevin::sampler::SamplerBuilder,
    dim: usize,
    chains: u32,
    positions_seed: u64,
    spread: f64,
    (eta, temperature, seed): (f64, f64, u64),
) -> (Vec<f32>, langevin::Draws) {
    let positions: Vec<f32> = uniform(positions_seed, chains as usize * dim, -spread, spread)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let draws = run(builder
        .chains(chains)
        .steps(1)
        .burn_in(0)
        .step_size(langevin::StepSize::constant(eta).expect("valid"))
        .temperature(temperature)
        .seed(seed)
        .init(langevin::Init::Positions(positions.clone())));
    (positions, draws)
}
