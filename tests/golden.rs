//! Draws are a contract: fixed-seed runs of every rule, schedule, temperature setting, batch
//! mode, data path and model give the draws recorded in `tests/fixtures/golden_draws.json`.
//!
//! On the software adapter (llvmpipe) the check is bit for bit: the XXH3 of every draw of the
//! run. On any other adapter a driver may fuse a multiply-add that llvmpipe does not (Vulkan
//! allows either), so there the recorded first and last draws must agree within 10⁻⁴
//! relative. A change that alters a random stream on purpose rewrites the fixture
//! (`LANGEVIN_WRITE_GOLDEN=1 cargo test --release --test golden`, on llvmpipe) and says so in
//! the README.

mod common;

use langevin::data::{Dataset, LabelColumn};
use langevin::minibatch::Minibatch;
use langevin::model::{
    mlp_classifier, toys, welling_teh_mixture, Activation, Network, NetworkSpec, Output, Prior,
    Regression,
};
use langevin::sampler::{
    newton_mode, Centre, Method, ModeSearch, Preconditioner, SamplerBuilder, TemperatureLadder,
};
use langevin::schedule::TemperatureSchedule;
use langevin::{DataPath, Gaussian, Sampler, StepSize, Tuning};

/// Values recorded from each end of the draws.
const ENDS: usize = 6;

fn gaussian() -> Gaussian {
    Gaussian::diagonal(&[0.5, -1.0, 2.0, 0.0, 1.0], &[1.0, 4.0, 0.5, 2.0, 8.0]).expect("valid")
}

fn small(builder: SamplerBuilder) -> SamplerBuilder {
    builder
        .chains(24)
        .steps(40)
        .burn_in(10)
        .thin(5)
        .step_size(StepSize::constant(0.02).expect("valid"))
        .seed(1234)
}

fn on_data(model: impl Into<langevin::model::Target>) -> SamplerBuilder {
    small(Sampler::builder(model)).step_size(StepSize::constant(2e-5).expect("valid"))
}

fn batch(size: u32, per_chain: bool, replacement: bool) -> Minibatch {
    common::batch(size, per_chain, replacement)
}

fn path(data_path: DataPath) -> Tuning {
    Tuning {
        data_path,
        ..Tuning::default()
    }
}

/// Every configuration, by name.
fn runs() -> Vec<(String, SamplerBuilder)> {
    let mut runs: Vec<(String, SamplerBuilder)> = Vec::new();
    let rules = [
        ("sgld", Method::Sgld),
        ("psgld", Method::psgld()),
        ("sghmc", Method::sghmc(0.2).expect("valid")),
        ("sgnht", Method::sgnht(1.0).expect("valid")),
    ];
    for (name, method) in rules {
        runs.push((
            format!("gaussian-{name}"),
            small(Sampler::builder(gaussian())).method(method),
        ));
    }
    let dense = Gaussian::correlated(&[0.0, 1.0, -1.0], &[1.0, 2.0, 0.5], 0.4).expect("valid");
    runs.push(("dense-sgld".into(), small(Sampler::builder(dense))));
    runs.push((
        "poly-gradient-noise".into(),
        small(Sampler::builder(gaussian()))
            .step_size(StepSize::polynomial(0.05, 10.0, 0.6).expect("valid"))
            .gradient_noise(0.5),
    ));
    runs.push((
        "cyclical-warmup".into(),
        small(Sampler::builder(gaussian())).step_size(
            StepSize::cyclical(0.05, 3, 30, 0.3)
                .and_then(|s| s.after_warmup(10, 0.01))
                .expect("valid"),
        ),
    ));
    runs.push((
        "anneal-sghmc".into(),
        small(Sampler::builder(gaussian()))
            .method(Method::sghmc(0.3).expect("valid"))
            .temperature_schedule(TemperatureSchedule::anneal(4.0, 1.0, 20).expect("valid")),
    ));
    runs.push((
        "ladder-psgld".into(),
        small(Sampler::builder(gaussian()))
            .method(Method::psgld())
            .temperature_ladder(TemperatureLadder::new(1.0, 5.0, 3).expect("valid")),
    ));
    runs.push((
        "double-well".into(),
        small(Sampler::builder(toys::double_well().expect("valid"))).gradient_noise(1.0),
    ));
    let logistic = || Regression::logistic(common::a9a(), 1.0).expect("valid");
    for (name, minibatch) in [
        ("shared-replacement", batch(50, false, true)),
        ("shared-permutation", batch(50, false, false)),
        ("per-chain-replacement", batch(20, true, true)),
        ("per-chain-permutation", batch(20, true, false)),
    ] {
        runs.push((
            format!("a9a-global-{name}"),
            on_data(logistic()).minibatch(minibatch),
        ));
    }
    for (name, data_path) in [
        ("staged", DataPath::Staged),
        ("fused", DataPath::Fused),
        ("tiled", DataPath::Tiled),
        ("register", DataPath::Register),
    ] {
        for (rule, method) in [
            ("sgld", Method::Sgld),
            ("sghmc", Method::sghmc(0.2).expect("valid")),
        ] {
            runs.push((
                format!("a9a-{name}-{rule}"),
                on_data(logistic())
                    .method(method)
                    .minibatch(batch(50, false, true))
                    .tuning(path(data_path)),
            ));
        }
    }
    for (name, data_path) in [("fused", DataPath::Fused), ("register", DataPath::Register)] {
        runs.push((
            format!("a9a-{name}-per-chain"),
            on_data(logistic())
                .minibatch(batch(20, true, true))
                .tuning(path(data_path)),
        ));
    }
    runs.push((
        "a9a-sgnht-per-chain".into(),
        on_data(logistic())
            .method(Method::sgnht(1.0).expect("valid"))
            .minibatch(batch(20, true, true)),
    ));
    // Control variates: the centre found first, explicitly, by 30 SGD steps; chains start at
    // it.
    let plain = on_data(logistic()).minibatch(batch(50, false, true));
    let centre = plain
        .clone()
        .build()
        .expect("valid")
        .find_centre(common::gpu(), &ModeSearch::new(30, 2e-5).expect("valid"))
        .expect("centre");
    runs.push(("a9a-control-variates".into(), plain.control_variate(centre)));
    // SGLD in the Laplace metric at Newton's mode, with control variates centred there, on
    // the software adapter's register path and on the global path; and a Gaussian in a dense
    // metric (the thread-per-chain Gaussian kernel).
    let target: langevin::model::Target = logistic().into();
    let mode = newton_mode(&target, &vec![0.0; target.dim()]).expect("mode");
    let metric = Preconditioner::at(&target, &mode).expect("metric");
    let centre = Centre::at(&target, mode).expect("centre");
    for (name, data_path) in [
        ("a9a-laplace-metric", DataPath::Auto),
        ("a9a-laplace-metric-global", DataPath::Global),
    ] {
        runs.push((
            name.into(),
            on_data(logistic())
                .minibatch(batch(50, false, true))
                .step_size(StepSize::constant(0.05).expect("valid"))
                .control_variate(centre.clone())
                .preconditioner(metric.clone())
                .tuning(path(data_path)),
        ));
    }
    let covariance = gaussian().covariance();
    runs.push((
        "gaussian-dense-metric".into(),
        small(Sampler::builder(gaussian()))
            .step_size(StepSize::constant(0.1).expect("valid"))
            .preconditioner(Preconditioner::from_covariance(&covariance, 5).expect("metric")),
    ));
    let rows = 60;
    let x: Vec<f32> = common::uniform(5, rows * 2, -1.0, 1.0)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let y: Vec<f32> = (0..rows)
        .map(|r| x[2 * r] - 0.5 * x[2 * r + 1] + 0.2)
        .collect();
    let linear = Regression::linear(Dataset::from_dense(x, 2, y).expect("data"), 0.5, 2.0)
        .expect("valid")
        .without_intercept();
    runs.push((
        "linear-no-intercept-full-batch".into(),
        small(Sampler::builder(linear)).step_size(StepSize::constant(1e-3).expect("valid")),
    ));
    let mixture = welling_teh_mixture(
        Dataset::read_csv(
            concat!(env!("CARGO_MANIFEST_DIR"), "/data/mixture.csv"),
            &LabelColumn::Last,
        )
        .expect("csv"),
    )
    .expect("model");
    runs.push((
        "mixture".into(),
        small(Sampler::builder(mixture)).step_size(StepSize::constant(2e-3).expect("valid")),
    ));
    let (mlp, _) = mlp_classifier(common::a9a(), 4, 1.0).expect("model");
    runs.push(("mlp".into(), on_data(mlp).minibatch(batch(30, true, true))));
    // Networks from their default start (fan-in scales), shared and per-chain batches.
    for (name, activation, per_chain) in [
        ("network-relu-shared", Activation::Relu, false),
        ("network-tanh-per-chain", Activation::Tanh, true),
    ] {
        let network = Network::new(
            common::a9a(),
            NetworkSpec {
                hidden: vec![4],
                activation,
                output: Output::Bernoulli,
                prior: Prior::Isotropic { variance: 1.0 },
            },
        )
        .expect("network");
        runs.push((
            name.into(),
            on_data(network).minibatch(batch(30, per_chain, true)),
        ));
    }
    runs
}

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
struct Golden {
    name: String,
    shape: [usize; 3],
    xxh3: String,
    first: Vec<f32>,
    last: Vec<f32>,
}

fn record(name: &str, draws: &langevin::Draws) -> Golden {
    let (a, b, c) = draws.shape();
    let values = draws.values();
    Golden {
        name: name.to_owned(),
        shape: [a, b, c],
        xxh3: format!(
            "{:016x}",
            xxhash_rust::xxh3::xxh3_64(bytemuck::cast_slice(values))
        ),
        first: values[..ENDS].to_vec(),
        last: values[values.len() - ENDS..].to_vec(),
    }
}

#[test]
fn fixed_seed_draws_are_the_recorded_ones() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/golden_draws.json"
    );
    let got: Vec<Golden> = runs()
        .into_iter()
        .map(|(name, builder)| {
            let draws = builder
                .build()
                .expect("valid")
                .run(common::gpu())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            record(&name, &draws)
        })
        .collect();
    let exact = common::gpu().name().contains("llvmpipe");
    if std::env::var_os("LANGEVIN_WRITE_GOLDEN").is_some() {
        assert!(
            exact,
            "record the fixture on llvmpipe, where draws are checked bit for bit"
        );
        let text = serde_json::to_string_pretty(&got).expect("JSON");
        std::fs::write(fixture, text + "\n").expect("write the fixture");
        return;
    }
    let want: Vec<Golden> =
        serde_json::from_str(&std::fs::read_to_string(fixture).expect("fixture")).expect("JSON");
    assert_eq!(
        got.iter().map(|g| &g.name).collect::<Vec<_>>(),
        want.iter().map(|g| &g.name).collect::<Vec<_>>()
    );
    let mut changed = Vec::new();
    for (got, want) in got.iter().zip(&want) {
        assert_eq!(got.shape, want.shape, "{}", got.name);
        let same = if exact {
            got.xxh3 == want.xxh3
        } else {
            got.first
                .iter()
                .chain(&got.last)
                .zip(want.first.iter().chain(&want.last))
                .all(|(a, b)| (a - b).abs() <= 1e-4 * b.abs().max(1.0))
        };
        if !same {
            changed.push(got.name.clone());
        }
    }
    assert!(
        changed.is_empty(),
        "fixed-seed draws changed for {changed:?} (a random stream or a kernel's arithmetic \
         moved); if on purpose, say so in the README and rewrite the fixture"
    );
}
