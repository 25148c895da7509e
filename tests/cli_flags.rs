//! Every `sample` flag does what it says: the command line's draws equal, bit for bit, those
//! of the library run the flag describes, and differ from the same command without the flag.
//! Flags that never change a draw (`--data-path`, `--also-adapter`, `--draws-buffer-mib`)
//! show their work in the summary's layout and counts instead.

mod common;

use std::path::{Path, PathBuf};

use common::{langevin, scratch};
use langevin::data::{Dataset, ExtraFeatures, LabelColumn};
use langevin::minibatch::Minibatch;
use langevin::model::{welling_teh_mixture, Regression};
use langevin::sampler::{DivergencePolicy, Method, ModeSearch, SamplerBuilder, TemperatureLadder};
use langevin::schedule::TemperatureSchedule;
use langevin::{Gaussian, Init, Sampler, StepSize};

/// What every case shares, on the command line and in the library (the step size is the
/// default both share, so that `--schedule poly` can leave it out).
const BASE: &[&str] = &[
    "--chains",
    "64",
    "--steps",
    "200",
    "--burn-in",
    "100",
    "--thin",
    "10",
    "--seed",
    "3",
];

fn base(builder: SamplerBuilder) -> SamplerBuilder {
    builder.chains(64).steps(200).burn_in(100).thin(10).seed(3)
}

/// The draws, summary and stdout of `sample BASE args`.
struct Cli {
    draws: Vec<f32>,
    json: serde_json::Value,
    stdout: String,
}

fn cli(name: &str, args: &[&str]) -> Cli {
    let dir = scratch(&format!("flags-{name}"));
    let (out, json) = (dir.join("d.npy"), dir.join("s.json"));
    let mut all = vec!["sample", "--quiet"];
    all.extend_from_slice(BASE);
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--out",
        out.to_str().expect("utf-8"),
        "--json",
        json.to_str().expect("utf-8"),
    ]);
    let output = langevin(&all);
    assert!(
        output.status.success() || output.status.code() == Some(3),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = std::fs::read(&out).expect("draws");
    let npy = npyz::NpyFile::new(&bytes[..]).expect("npy");
    Cli {
        draws: npy.into_vec().expect("f32"),
        json: serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("JSON"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
}

fn library(builder: SamplerBuilder) -> langevin::Draws {
    builder
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run")
}

/// A library run of `target` with the shared settings, for a case to change.
fn with(target: impl Into<langevin::model::Target>) -> SamplerBuilder {
    base(Sampler::builder(target))
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// `args` on the command line draw what `builder` draws in the library, and something else
/// than the command line with `without` in their place.
#[track_caller]
fn assert_flag(name: &str, args: &[&str], builder: SamplerBuilder, without: &[&str]) -> Cli {
    let run = cli(name, args);
    let want = library(builder);
    let first = run
        .draws
        .iter()
        .zip(want.values())
        .position(|(a, b)| a.to_bits() != b.to_bits());
    assert!(
        same_bits(&run.draws, want.values()),
        "{args:?}: the command line drew something else than the library (first difference at \
         value {first:?} of {})",
        run.draws.len()
    );
    let baseline = cli(&format!("{name}-without"), without);
    assert!(
        !same_bits(&run.draws, &baseline.draws),
        "{args:?} changed nothing against {without:?}"
    );
    run
}

fn gaussian() -> Gaussian {
    Gaussian::isotropic(4, 0.0, 1.0).expect("valid")
}

#[test]
fn gaussian_schedule_and_temperature_flags() {
    assert_flag(
        "corr",
        &[
            "--dim", "3", "--mean", "0,1,2", "--var", "1,2,0.5", "--corr", "0.3",
        ],
        with(Gaussian::correlated(&[0.0, 1.0, 2.0], &[1.0, 2.0, 0.5], 0.3).expect("valid")),
        &["--dim", "3", "--mean", "0,1,2", "--var", "1,2,0.5"],
    );
    assert_flag(
        "poly",
        &[
            "--schedule",
            "poly",
            "--a",
            "0.05",
            "--b",
            "10",
            "--gamma",
            "0.6",
        ],
        with(gaussian()).step_size(StepSize::polynomial(0.05, 10.0, 0.6).expect("valid")),
        &[],
    );
    assert_flag(
        "temperature",
        &["--temperature", "0.5"],
        with(gaussian()).temperature(0.5),
        &[],
    );
    assert_flag(
        "cyclical",
        &[
            "--schedule",
            "cyclical",
            "--step-size",
            "0.01",
            "--cycles",
            "3",
            "--explore",
            "0.25",
            "--warmup-steps",
            "50",
            "--warmup-step-size",
            "0.001",
        ],
        with(gaussian()).step_size(
            StepSize::cyclical(0.01, 3, 150, 0.25)
                .and_then(|s| s.after_warmup(50, 0.001))
                .expect("valid"),
        ),
        &[
            "--schedule",
            "cyclical",
            "--cycles",
            "3",
            "--explore",
            "0.25",
        ],
    );
    assert_flag(
        "gradient-noise",
        &["--gradient-noise", "1"],
        with(gaussian()).gradient_noise(1.0),
        &[],
    );
    assert_flag(
        "init-scale",
        &["--init-scale", "3"],
        with(gaussian()).init(Init::Normal { scale: 3.0 }),
        &[],
    );
    assert_flag("seed", &["--seed", "4"], with(gaussian()).seed(4), &[]);
    assert_flag(
        "anneal",
        &["--anneal", "4,50"],
        with(gaussian())
            .temperature_schedule(TemperatureSchedule::anneal(4.0, 1.0, 50).expect("valid")),
        &[],
    );
}

/// The papers' toy potentials from the command line, with the rules and schedules their tests
/// use.
#[test]
fn toy_models_and_their_samplers() {
    use langevin::model::toys::{double_well, grid_mixture};
    assert_flag(
        "double-well-sghmc",
        &[
            "--model",
            "double-well",
            "--sampler",
            "sghmc",
            "--momentum-decay",
            "0.7",
        ],
        with(double_well().expect("valid")).method(Method::sghmc(0.3).expect("valid")),
        &["--model", "double-well"],
    );
    assert_flag(
        "double-well-sgnht",
        &[
            "--model",
            "double-well",
            "--sampler",
            "sgnht",
            "--diffusion",
            "1",
        ],
        with(double_well().expect("valid")).method(Method::sgnht(1.0).expect("valid")),
        &["--model", "double-well"],
    );
    assert_flag(
        "grid-mixture-psgld",
        &[
            "--model",
            "grid-mixture",
            "--sampler",
            "psgld",
            "--step-size",
            "0.001",
        ],
        with(grid_mixture().expect("valid"))
            .step_size(StepSize::constant(0.001).expect("valid"))
            .method(Method::psgld()),
        &["--model", "grid-mixture", "--step-size", "0.001"],
    );
}

#[test]
fn sampler_flags() {
    let cases: Vec<(&str, Vec<&str>, Method)> = vec![
        (
            "psgld",
            vec![
                "--sampler",
                "psgld",
                "--decay",
                "0.9",
                "--rms-epsilon",
                "0.001",
            ],
            Method::psgld_with(0.9, 1e-3).expect("valid"),
        ),
        (
            "sghmc",
            vec![
                "--sampler",
                "sghmc",
                "--friction",
                "0.3",
                "--noise-estimate",
                "0.1",
            ],
            Method::sghmc_with(0.3, 0.1).expect("valid"),
        ),
        (
            "sghmc-decay",
            vec!["--sampler", "sghmc", "--momentum-decay", "0.7"],
            Method::sghmc(0.3).expect("valid"),
        ),
        (
            "sgnht",
            vec!["--sampler", "sgnht", "--diffusion", "1.5"],
            Method::sgnht(1.5).expect("valid"),
        ),
    ];
    for (name, args, method) in cases {
        // Against the same rule with its defaults changed, where a default exists.
        let without: Vec<&str> = match name {
            "psgld" => vec!["--sampler", "psgld"],
            "sgnht" => vec!["--sampler", "sgnht"],
            _ => vec![],
        };
        assert_flag(name, &args, with(gaussian()).method(method), &without);
    }
}

#[test]
fn ladder_shard_and_divergence_flags() {
    let ladder = TemperatureLadder::new(1.0, 4.0, 4).expect("valid");
    let laddered = assert_flag(
        "ladder",
        &["--temperature-ladder", "1,4", "--rungs", "4"],
        with(gaussian()).temperature_ladder(ladder),
        &[],
    );
    assert_eq!(
        laddered.json["chains"], 16,
        "the summary covers the T = 1 rung"
    );
    let all = cli(
        "ladder-all",
        &[
            "--temperature-ladder",
            "1,4",
            "--rungs",
            "4",
            "--all-temperatures",
        ],
    );
    assert_eq!(
        all.json["chains"], 64,
        "--all-temperatures summarises every chain"
    );
    assert!(same_bits(&all.draws, &laddered.draws));
    let shard = cli("shard", &["--shard", "1/2"]);
    let whole = library(with(gaussian()));
    let second_half: Vec<f32> = whole
        .values()
        .chunks(64 * 4)
        .flat_map(|draw| draw[32 * 4..].iter().copied())
        .collect();
    assert!(
        same_bits(&shard.draws, &second_half),
        "--shard 1/2 draws the second half's draws"
    );
    // η = 1 on precision 100 diverges: reset holds chains at their last finite state, freeze
    // keeps what they compute.
    let stiff = Gaussian::isotropic(4, 0.0, 0.01).expect("valid");
    assert_flag(
        "reset",
        &["--var", "0.01", "--step-size", "1", "--divergence", "reset"],
        with(stiff)
            .step_size(StepSize::constant(1.0).expect("valid"))
            .divergence(DivergencePolicy::Reset),
        &["--var", "0.01", "--step-size", "1"],
    );
}

/// `--statistics-only` writes the library's running statistics and keeps no draws.
#[test]
fn statistics_only_summarises_without_draws() {
    let dir = scratch("flags-statistics-only");
    let json = dir.join("s.json");
    let mut args = vec![
        "sample",
        "--quiet",
        "--statistics-only",
        "--json",
        json.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(BASE);
    let output = langevin(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("JSON");
    let report = with(gaussian())
        .build()
        .expect("valid")
        .runner(common::gpu())
        .statistics()
        .expect("run");
    let want = report.statistics.summary();
    let means: Vec<f64> = summary["mean"]
        .as_array()
        .expect("means")
        .iter()
        .map(|m| m.as_f64().expect("number"))
        .collect();
    assert_eq!(means, want.mean);
    assert_eq!(summary["statistics_only"], true);
    let refused = langevin(&[
        "sample",
        "--statistics-only",
        "--out",
        dir.join("d.npy").to_str().expect("utf-8"),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("keeps no draws"));
}

#[test]
fn superchains_print_the_librarys_nested_rhat() {
    let run = cli("superchains", &["--superchains", "4"]);
    let (_, report) = with(gaussian())
        .build()
        .expect("valid")
        .runner(common::gpu())
        .draws_and_report()
        .expect("run");
    let want: Vec<String> = report
        .statistics
        .nested_rhat(4)
        .iter()
        .map(|r| format!("{r:.4}"))
        .collect();
    let line = format!("nested R-hat (4 superchains): {}", want.join(" "));
    assert!(
        run.stdout.contains(&line),
        "expected `{line}` in {}",
        run.stdout
    );
}

#[test]
fn knobs_that_keep_the_draws_show_their_work() {
    let reference = cli("knobs-reference", &[]);
    let shared = cli("also-adapter", &["--also-adapter", common::gpu().name()]);
    assert!(same_bits(&shared.draws, &reference.draws));
    assert!(shared.stdout.contains("also: "), "{}", shared.stdout);
    let devices: Vec<u64> = shared.json["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["device"].as_u64().expect("device"))
        .collect();
    assert_eq!(devices, vec![0, 1], "both devices ran chains");
    let small = cli("draws-buffer", &["--draws-buffer-mib", "0.001"]);
    assert!(same_bits(&small.draws, &reference.draws));
    // 0.001 MiB holds no more than one draw of 64 × 4 values per ring buffer: a submit a draw.
    assert!(
        small.json["submits"].as_u64().expect("submits") >= 10,
        "{}",
        small.json
    );
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A CSV for linear regression with a named label column in the middle.
fn linear_csv(dir: &Path) -> PathBuf {
    let path = dir.join("linear.csv");
    let x = common::uniform(8, 60, -1.0, 1.0);
    let mut text = String::from("x1,y,x2\n");
    for r in 0..30 {
        let y = 0.5 + 2.0 * x[2 * r] - x[2 * r + 1];
        text.push_str(&format!("{},{},{}\n", x[2 * r], y, x[2 * r + 1]));
    }
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn data_model_flags() {
    let dir = scratch("flags-data");
    let csv = linear_csv(&dir);
    let csv_arg = csv.to_str().expect("utf-8");
    let read =
        |label: &str| Dataset::read_csv(&csv, &LabelColumn::Named(label.into())).expect("csv");
    assert_flag(
        "linear",
        &[
            "--model",
            "linear",
            "--data",
            csv_arg,
            "--label",
            "y",
            "--noise-var",
            "0.5",
            "--prior-var",
            "2",
            "--no-intercept",
        ],
        with(
            Regression::linear(read("y"), 0.5, 2.0)
                .expect("valid")
                .without_intercept(),
        ),
        &[
            "--model",
            "linear",
            "--data",
            csv_arg,
            "--label",
            "y",
            "--noise-var",
            "0.5",
            "--prior-var",
            "2",
        ],
    );
    assert_flag(
        "label",
        &["--model", "linear", "--data", csv_arg, "--label", "x2"],
        with(Regression::linear(read("x2"), 1.0, 1.0).expect("valid")),
        &["--model", "linear", "--data", csv_arg, "--label", "y"],
    );
    let a9a = data_dir().join("a9a");
    let a9a_arg = a9a.to_str().expect("utf-8");
    let logistic = || {
        Regression::logistic(
            Dataset::read_libsvm(&a9a, None, ExtraFeatures::Error).expect("a9a"),
            1.0,
        )
        .expect("valid")
    };
    let batch = [
        "--model",
        "logistic",
        "--data",
        a9a_arg,
        "--step-size",
        "1e-4",
        "--batch",
        "50",
    ];
    let mut per_chain = batch.to_vec();
    per_chain.extend_from_slice(&["--batch-mode", "per-chain", "--replacement", "off"]);
    assert_flag(
        "batch",
        &per_chain,
        with(logistic())
            .step_size(StepSize::constant(1e-4).expect("valid"))
            .minibatch(
                Minibatch::per_chain(50)
                    .expect("valid")
                    .without_replacement(),
            ),
        &batch,
    );
    let mut features = batch.to_vec();
    features.extend_from_slice(&["--features", "130"]);
    let wide = Dataset::read_libsvm(&a9a, Some(130), ExtraFeatures::Error)
        .expect("a9a")
        .with_features(130)
        .expect("wider");
    let run = assert_flag(
        "features",
        &features,
        with(Regression::logistic(wide, 1.0).expect("valid"))
            .step_size(StepSize::constant(1e-4).expect("valid"))
            .minibatch(Minibatch::shared(50).expect("valid")),
        &[
            "--model",
            "logistic",
            "--data",
            a9a_arg,
            "--step-size",
            "1e-4",
            "--batch",
            "40",
        ],
    );
    assert_eq!(run.json["dim"], 131);
    let mut staged = batch.to_vec();
    staged.extend_from_slice(&["--data-path", "staged"]);
    let path = cli("data-path", &staged);
    assert_eq!(
        path.json["groups"][0]["data_path"], "staged",
        "{}",
        path.json
    );
    let mut global = batch.to_vec();
    global.extend_from_slice(&["--data-path", "global"]);
    let global = cli("data-path-global", &global);
    assert_eq!(global.json["groups"][0]["data_path"], "global");
    let close = path
        .draws
        .iter()
        .zip(&global.draws)
        .all(|(a, b)| (a - b).abs() <= 1e-4 * b.abs().max(1.0));
    assert!(
        close,
        "the staged path draws what the global path draws, up to fma contraction"
    );
    assert_flag(
        "mixture",
        &["--model", "mixture", "--step-size", "0.002"],
        with(
            welling_teh_mixture(
                Dataset::read_csv(data_dir().join("mixture.csv"), &LabelColumn::Last).expect("csv"),
            )
            .expect("model"),
        )
        .step_size(StepSize::constant(0.002).expect("valid")),
        &["--model", "mixture", "--step-size", "0.001"],
    );
    let mlp = langevin::model::Network::new(
        Dataset::read_libsvm(&a9a, None, ExtraFeatures::Error).expect("a9a"),
        langevin::model::NetworkSpec {
            hidden: vec![5],
            activation: langevin::model::Activation::Relu,
            output: langevin::model::Output::Bernoulli,
            prior: langevin::model::Prior::Isotropic { variance: 1.0 },
        },
    )
    .expect("model");
    let mut hidden = batch.to_vec();
    hidden[1] = "mlp";
    let mut five = hidden.clone();
    five.extend_from_slice(&["--hidden", "5"]);
    let mut six = hidden.clone();
    six.extend_from_slice(&["--hidden", "6"]);
    let mut deep = hidden.clone();
    deep.extend_from_slice(&["--hidden", "4,3", "--activation", "tanh"]);
    let run = assert_flag(
        "mlp",
        &five,
        with(mlp)
            .step_size(StepSize::constant(1e-4).expect("valid"))
            .minibatch(Minibatch::shared(50).expect("valid")),
        &[
            "--model",
            "mlp",
            "--data",
            a9a_arg,
            "--step-size",
            "1e-4",
            "--batch",
            "40",
            "--hidden",
            "5",
        ],
    );
    assert_eq!(run.json["dim"], 5 * 123 + 5 + 5 + 1);
    assert_eq!(
        cli("mlp-six", &six).json["dim"],
        6 * 123 + 6 + 6 + 1,
        "--hidden sets the width"
    );
    assert_eq!(
        cli("mlp-deep", &deep).json["dim"],
        123 * 4 + 4 + 4 * 3 + 3 + 3 + 1,
        "--hidden 4,3 stacks two layers"
    );
    let mut cv = batch.to_vec();
    cv.extend_from_slice(&["--cv", "--cv-steps", "100", "--cv-step-size", "2e-5"]);
    let plain = with(logistic())
        .step_size(StepSize::constant(1e-4).expect("valid"))
        .minibatch(Minibatch::shared(50).expect("valid"));
    let centre = plain
        .clone()
        .build()
        .expect("valid")
        .find_centre(common::gpu(), &ModeSearch::new(100, 2e-5).expect("valid"))
        .expect("centre");
    assert_flag("cv", &cv, plain.control_variate(centre), &batch);
}

/// `plot --reference` draws the named model's density over the histograms: red pixels in the
/// histogram column with it, none without.
#[test]
fn plot_references_draw_their_density() {
    let dir = scratch("flags-plot");
    let draws = dir.join("d.npy");
    let run = langevin(&[
        "sample",
        "--quiet",
        "--model",
        "double-well",
        "--chains",
        "64",
        "--steps",
        "300",
        "--burn-in",
        "100",
        "--thin",
        "10",
        "--dim",
        "1",
    ]);
    assert!(
        !run.status.success(),
        "--dim is refused for the double well"
    );
    let run = langevin(&[
        "sample",
        "--quiet",
        "--model",
        "double-well",
        "--chains",
        "64",
        "--steps",
        "300",
        "--burn-in",
        "100",
        "--thin",
        "10",
        "--out",
        draws.to_str().expect("utf-8"),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let red = |reference: Option<&str>| {
        let png = dir.join(format!("{}.png", reference.unwrap_or("none")));
        let mut args = vec![
            "plot",
            draws.to_str().expect("utf-8"),
            "--out",
            png.to_str().expect("utf-8"),
        ];
        if let Some(model) = reference {
            args.extend_from_slice(&["--reference", model]);
        }
        let output = langevin(&args);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let image = image::open(&png).expect("png").to_rgb8();
        image
            .pixels()
            .filter(|p| p[0] > 180 && p[1] < 80 && p[2] < 80)
            .count()
    };
    let plain = red(None);
    assert!(red(Some("double-well")) > plain + 50);
    assert!(red(Some("grid-mixture")) > plain + 50);
}
