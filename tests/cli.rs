//! The `langevin` binary: the documented command forms work, and bad input exits non-zero
//! without leaving an output file behind.

mod common;
use common::{langevin, scratch};

use std::process::{Command, Output};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn adapters_lists_the_default_first() {
    let output = langevin(&["adapters"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.lines().next().is_some_and(|l| l.starts_with('*')),
        "{text}"
    );
}

#[test]
fn sample_writes_npy_and_json_summary() {
    let dir = scratch("sample");
    let (npy, json) = (dir.join("draws.npy"), dir.join("summary.json"));
    // Without XDG_RUNTIME_DIR Mesa's software adapter would print "error: XDG_RUNTIME_DIR is
    // invalid" twice; the binary gives it a private folder so the user never sees that.
    let output = common::command()
        .env_remove("XDG_RUNTIME_DIR")
        .args([
            "sample",
            "--model",
            "gaussian",
            "--dim",
            "4",
            "--mean",
            "1.5",
            "--var",
            "0.25",
            "--sampler",
            "sgld",
            "--step-size",
            "0.01",
            "--chains",
            "512",
            "--steps",
            "1500",
            "--burn-in",
            "1000",
            "--thin",
            "10",
            "--seed",
            "7",
            "--out",
            npy.to_str().expect("utf-8"),
            "--json",
            json.to_str().expect("utf-8"),
        ])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("XDG_RUNTIME_DIR"),
        "{}",
        stderr(&output)
    );
    let text = stdout(&output);
    assert!(
        text.starts_with("adapter: "),
        "the first line names the adapter: {text}"
    );
    assert!(text.contains("R-hat"), "{text}");

    let file = npyz::NpyFile::new(std::fs::File::open(&npy).expect("npy")).expect("valid NPY");
    assert_eq!(file.shape(), &[50, 512, 4]);
    assert_eq!(
        file.dtype(),
        npyz::DType::Plain("<f4".parse().expect("dtype"))
    );
    let values: Vec<f32> = file.into_vec().expect("f32 data");
    assert_eq!(values.len(), 50 * 512 * 4);

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("valid JSON");
    for key in [
        "adapter",
        "dim",
        "chains",
        "draws",
        "mean",
        "sd",
        "rhat",
        "ess_bulk",
        "divergent_chains",
    ] {
        assert!(summary.get(key).is_some(), "summary lacks {key}: {summary}");
    }
    assert_eq!(summary["dim"], 4);
    assert_eq!(summary["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        summary["step_size"],
        serde_json::json!({"schedule": "constant", "eta": 0.01}),
        "numbers as numbers, not Rust's debug text"
    );
    assert_eq!(summary["chains"], 512);
    assert_eq!(summary["draws"], 50);
    assert_eq!(summary["divergent_chains"], 0);
    // 25600 draws of N(1.5, 0.255) with autocorrelation ≈ 0.66 between kept draws: the mean's
    // standard error is about sqrt(0.255·4.9/25600) ≈ 0.007; 0.05 is seven of them.
    for m in summary["mean"].as_array().expect("array") {
        assert!(
            (m.as_f64().expect("number") - 1.5).abs() < 0.05,
            "{summary}"
        );
    }
}

/// Each bad input: non-zero exit, a message naming the problem, and no output file.
#[test]
fn bad_input_exits_non_zero_and_leaves_no_output() {
    let dir = scratch("bad");
    let npy = dir.join("draws.npy");
    let json = dir.join("summary.json");
    let outputs = [
        "--out",
        npy.to_str().expect("utf-8"),
        "--json",
        json.to_str().expect("utf-8"),
    ];
    let cases: &[(&[&str], &str)] = &[
        (&["--step-size", "0"], "step size"),
        (&["--step-size", "nan"], "step size"),
        (&["--chains", "0"], "chains"),
        (&["--dim", "0"], "dim"),
        (&["--dim", "4", "--mean", "1,2"], "--mean has 2 values"),
        (&["--var", "-1"], "--var"),
        (&["--corr", "1.5"], "correlation"),
        (
            &["--steps", "10", "--burn-in", "10"],
            "no draw would be kept",
        ),
        (&["--schedule", "poly", "--a", "1"], "--b"),
        (
            &["--schedule", "poly", "--a", "1", "--b", "1", "--gamma", "2"],
            "γ",
        ),
        (&["--temperature", "-1"], "temperature"),
        (&["--adapter", "no-such-adapter-xyz"], "adapters found"),
        (&["--dim", "4096", "--chains", "1048576"], "device memory"),
        (&["--sampler", "sghmc", "--friction", "1.5"], "friction"),
        (&["--sampler", "sghmc", "--friction", "-0.1"], "friction"),
        (&["--sampler", "sghmc"], "--friction"),
        (
            &[
                "--sampler",
                "sghmc",
                "--friction",
                "0.1",
                "--noise-estimate",
                "0.2",
            ],
            "β̂",
        ),
        (&["--sampler", "psgld", "--decay", "1"], "decay"),
        (&["--sampler", "psgld", "--rms-epsilon", "0"], "λ"),
        (&["--sampler", "sgnht", "--diffusion", "0"], "diffusion"),
        (&["--schedule", "cyclical", "--cycles", "0"], "M = 0"),
        (&["--schedule", "cyclical", "--explore", "1"], "[0, 1)"),
        (&["--schedule", "cyclical", "--explore", "-0.5"], "[0, 1)"),
        (&["--gradient-noise", "-1"], "gradient noise"),
        (&["--warmup-steps", "0"], "warm-up"),
        (&["--cv"], "needs a data model"),
        (&["--anneal", "0,100"], "positive"),
        (&["--anneal", "4,0"], "at least one step"),
        (&["--anneal", "4"], "T_START,STEPS"),
        (&["--cv", "--cv-steps", "0"], "at least one SGD step"),
        (&["--temperature-ladder", "2,1"], "exceeds"),
        (&["--temperature-ladder", "0,4"], "positive"),
        (&["--temperature-ladder=-1,4"], "positive"),
        (&["--temperature-ladder", "2,4"], "no rung at T = 1"),
        (&["--temperature-ladder", "1,4,5"], "two values"),
        (
            &["--temperature-ladder", "1,4", "--temperature", "2"],
            "leave `temperature` at 1",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["sample", "--steps", "20", "--burn-in", "10", "--thin", "1"];
        all.extend_from_slice(args);
        all.extend_from_slice(&outputs);
        let output = langevin(&all);
        let message = stderr(&output);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(
            message.contains(expected),
            "{args:?}: expected `{expected}` in: {message}"
        );
        assert!(
            !npy.exists() && !json.exists(),
            "{args:?} left an output file"
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
        assert!(leftovers.is_empty(), "{args:?} left {leftovers:?}");
    }
    let missing = dir.join("no/such/folder/draws.npy");
    let output = langevin(&["sample", "--out", missing.to_str().expect("utf-8")]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
}

/// A peers file as `benches/peers/sgld_jax.py` writes it, for the smoke plan's sizes (W1 at
/// 65536 parameters, W2 and W3 at 64 chains) and one size the smoke run does not have.
const PEERS: &str = r#"{"peer": "jax 0.0-test", "device": "cpu: test", "rows": [
  {"workload": "W1", "implementation": "jax-fused", "params": 65536, "steps": 16, "rate": 1e8},
  {"workload": "W2", "implementation": "jax-hand", "chains": 64, "steps": 8, "rate": 2e5},
  {"workload": "W3", "implementation": "jax-hand", "chains": 64, "steps": 8, "rate": 5e4},
  {"workload": "W2", "implementation": "jax-hand", "chains": 99, "steps": 8, "rate": 1e5}
]}"#;

#[test]
fn bench_quick_reports_w1_against_a_copy() {
    let dir = scratch("bench");
    let json = dir.join("bench.json");
    let peers = dir.join("peers.json");
    std::fs::write(&peers, PEERS).expect("peers file");
    let a9a = concat!(env!("CARGO_MANIFEST_DIR"), "/data/a9a");
    let output = langevin(&[
        "bench",
        "--quick",
        "--a9a",
        a9a,
        "--peers",
        peers.to_str().expect("utf-8"),
        "--json",
        json.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("adapter: "));
    assert!(
        stderr(&output).contains("not measurements"),
        "{}",
        stderr(&output)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("valid JSON");
    assert_eq!(report["measurement"], false);
    assert_eq!(report["profile"], "smoke");
    // The peers' rows meet ours of the same workload and size, SGLD only, as ratios; the size
    // the smoke run lacks meets nothing.
    let comparisons = report["comparisons"].as_array().expect("comparisons");
    let ours = |workload: &str, size: u64| -> Vec<f64> {
        let (table, key, rate) = match workload {
            "W1" => ("rows", "params", "updates_per_s"),
            _ => ("regression", "chains", "chain_steps_per_s"),
        };
        report[table]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| {
                r["sampler"] == "sgld"
                    && r[key].as_u64() == Some(size)
                    && (workload == "W1" || r["workload"] == workload)
            })
            .map(|r| r[rate].as_f64().expect("rate"))
            .collect()
    };
    for (workload, size, peer_rate) in [("W1", 65536, 1e8), ("W2", 64, 2e5), ("W3", 64, 5e4)] {
        let mut expected = ours(workload, size);
        assert!(!expected.is_empty(), "{workload} {size}");
        let mut found: Vec<f64> = comparisons
            .iter()
            .filter(|c| c["workload"] == workload && c["size"].as_u64() == Some(size))
            .map(|c| {
                assert_eq!(c["peer_rate"].as_f64(), Some(peer_rate), "{c}");
                let ratio = c["ratio"].as_f64().expect("ratio");
                let rate = c["our_rate"].as_f64().expect("rate");
                assert!((ratio - rate / peer_rate).abs() <= 1e-12 * ratio, "{c}");
                rate
            })
            .collect();
        expected.sort_by(f64::total_cmp);
        found.sort_by(f64::total_cmp);
        assert_eq!(found, expected, "{workload} {size}");
    }
    assert!(!comparisons.iter().any(|c| c["size"] == 99), "{report}");
    let rows = report["rows"].as_array().expect("rows");
    let number = |row: &serde_json::Value, key: &str| {
        row[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {row}"))
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-300);
    // W1: every rule, and each row's figures agree with one another.
    let mut samplers: Vec<&str> = rows
        .iter()
        .map(|r| r["sampler"].as_str().expect("sampler"))
        .collect();
    samplers.sort_unstable();
    samplers.dedup();
    assert_eq!(samplers, ["psgld", "sghmc", "sgld", "sgnht"]);
    for row in rows {
        let rate = number(row, "updates_per_s");
        assert!(rate.is_finite() && rate > 0.0, "{row}");
        assert_eq!(
            number(row, "params"),
            number(row, "chains") * number(row, "dim"),
            "{row}"
        );
        let effective = number(row, "bytes_per_update") * rate / 1e9;
        assert!(close(number(row, "effective_gb_per_s"), effective), "{row}");
        assert!(
            close(
                number(row, "ratio_to_copy"),
                effective / number(row, "copy_gb_per_s")
            ),
            "{row}"
        );
    }
    // W2–W4: the sparse a9a rows run everywhere (the bench runs from the root), on every path;
    // µs per step and chain-steps per second are the same time.
    let regression = report["regression"].as_array().expect("regression rows");
    let mut paths: Vec<&str> = regression
        .iter()
        .filter(|r| r["data"] == "sparse" && r["workload"] == "W2")
        .map(|r| r["data_path"].as_str().expect("path"))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(
        paths,
        ["fused", "global", "register", "staged", "tiled"],
        "{report}"
    );
    for row in regression {
        let rate = number(row, "chain_steps_per_s");
        assert!(rate.is_finite() && rate > 0.0, "{row}");
        assert!(
            close(
                number(row, "us_per_step") * rate,
                number(row, "chains") * 1e6
            ),
            "{row}"
        );
    }
    // W5: readback on and off, one row per thinning, the ratio the two rates'.
    let readback = report["readback"].as_array().expect("readback rows");
    assert_eq!(readback.len(), 1, "{report}");
    for row in readback {
        let ratio = number(row, "ratio");
        assert!(
            close(
                ratio,
                number(row, "with_readback") / number(row, "without_readback")
            ),
            "{row}"
        );
        assert!(number(row, "readback_gb_per_s") > 0.0, "{row}");
    }
}

/// `--plan` writes the sizes and times nothing; a bad peers file is refused before any timing.
#[test]
fn bench_plan_and_bad_peers() {
    let dir = scratch("bench-plan");
    let plan = dir.join("plan.json");
    let output = langevin(&["bench", "--quick", "--plan", plan.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan).expect("plan")).expect("valid JSON");
    assert_eq!(written["profile"], "smoke");
    assert_eq!(written["regression"]["shared_chains"][0], 64);
    assert_eq!(written["w1"]["sizes"][0], 65536);
    let json = dir.join("never.json");
    let with_json = langevin(&[
        "bench",
        "--plan",
        plan.to_str().expect("utf-8"),
        "--json",
        json.to_str().expect("utf-8"),
    ]);
    assert!(!with_json.status.success());
    assert!(
        stderr(&with_json).contains("would be ignored"),
        "{}",
        stderr(&with_json)
    );
    assert!(!json.exists());
    for (name, text, says) in [
        ("garbage", "not json", "not a peers file"),
        (
            "no-rate",
            r#"{"peer": "x", "device": "y", "rows": [{"workload": "W2", "implementation": "h", "chains": 64, "steps": 8, "rate": 0}]}"#,
            "no positive rate",
        ),
    ] {
        let peers = dir.join(format!("{name}.json"));
        std::fs::write(&peers, text).expect("peers");
        let output = langevin(&[
            "bench",
            "--quick",
            "--peers",
            peers.to_str().expect("utf-8"),
            "--json",
            json.to_str().expect("utf-8"),
        ]);
        assert!(!output.status.success(), "{name}");
        assert!(
            stderr(&output).contains(says),
            "{name}: {}",
            stderr(&output)
        );
        assert!(!json.exists());
        // Refused before the first timing (the smoke run takes several seconds).
        assert!(
            !stdout(&output).contains("W1:"),
            "{name}: {}",
            stdout(&output)
        );
    }
}

/// With no driver the loader finds nothing; the error names the package that gives a software
/// adapter. (Pointing the Vulkan loader at a missing driver file simulates a bare machine.)
#[test]
fn without_a_driver_the_error_says_what_to_install() {
    for args in [&["adapters"][..], &["sample"][..]] {
        let output = Command::new(common::binary())
            .args(args)
            .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
            .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
            .env_remove("LANGEVIN_ADAPTER")
            .output()
            .expect("the binary runs");
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains("mesa-vulkan-drivers"),
            "{}",
            stderr(&output)
        );
    }
}

/// `sample --model logistic` on the vendored a9a with its test split and 32 chains, then
/// `rest`.
fn a9a_logistic_args(rest: &[&str]) -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let head = [
        "sample".to_owned(),
        "--model".to_owned(),
        "logistic".to_owned(),
        "--data".to_owned(),
        format!("{root}/data/a9a"),
        "--test".to_owned(),
        format!("{root}/data/a9a.t"),
        "--chains".to_owned(),
        "32".to_owned(),
    ];
    head.into_iter()
        .chain(rest.iter().map(|s| (*s).to_owned()))
        .collect()
}

#[test]
fn logistic_regression_on_a9a_reports_test_metrics() {
    let dir = scratch("logistic");
    let json = dir.join("summary.json");
    let args = a9a_logistic_args(&[
        "--steps",
        "400",
        "--burn-in",
        "300",
        "--thin",
        "50",
        "--step-size",
        "1e-4",
        "--batch",
        "100",
        "--batch-mode",
        "per-chain",
        "--json",
        json.to_str().expect("utf-8"),
    ]);
    let output = langevin(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("valid JSON");
    assert_eq!(summary["dim"], 124, "intercept plus 123 features");
    // a9a.t's majority class (−1) is 76.4% of it, and always predicting it with that rate
    // gives a mean log-likelihood of −0.547; a fitted logistic regression does clearly better
    // on both (measured 0.8455 and −0.329 for this short run; 0.85 and −0.32 for long ones).
    let accuracy = summary["test_accuracy"].as_f64().expect("test_accuracy");
    assert!(accuracy > 0.83 && accuracy <= 1.0, "{accuracy}");
    let log_likelihood = summary["test_log_likelihood"]
        .as_f64()
        .expect("test_log_likelihood");
    assert!(
        log_likelihood > -0.36 && log_likelihood < 0.0,
        "{log_likelihood}"
    );
}

/// Bad data: a typed error naming the file (and line), exit 1, no output file.
#[test]
fn bad_data_exits_non_zero_and_leaves_no_output() {
    let dir = scratch("bad-data");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("utf-8").to_owned()
    };
    let good = write("good.svm", "1 1:1 2:0.5\n-1 2:1\n1 1:0.3\n");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--data".into(),
                dir.join("missing.svm").to_str().expect("utf-8").into(),
            ],
            "missing.svm",
        ),
        (
            vec!["--data".into(), write("line.svm", "1 1:1\n1 x\n")],
            "line.svm:2",
        ),
        (
            vec!["--data".into(), write("label.svm", "1 1:1\n2 1:1\n")],
            "labels",
        ),
        (
            vec!["--data".into(), write("nan.svm", "1 1:nan\n")],
            "not finite",
        ),
        (vec!["--data".into(), write("empty.svm", "")], "empty"),
        (
            vec![
                "--data".into(),
                good.clone(),
                "--features".into(),
                "1".into(),
            ],
            "beyond the declared 1",
        ),
        (
            vec!["--data".into(), good.clone(), "--batch".into(), "4".into()],
            "1..=3",
        ),
        (vec![], "needs --data"),
    ];
    let out = dir.join("draws.npy");
    for (extra, expected) in cases {
        let mut args: Vec<String> = [
            "sample",
            "--model",
            "logistic",
            "--steps",
            "4",
            "--burn-in",
            "2",
            "--chains",
            "4",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.clone());
        args.extend([
            "--out".to_string(),
            out.to_str().expect("utf-8").to_string(),
        ]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = langevin(&refs);
        assert!(!output.status.success(), "{extra:?} succeeded");
        assert!(
            stderr(&output).contains(expected),
            "{extra:?}: expected `{expected}` in {}",
            stderr(&output)
        );
        assert!(!out.exists(), "{extra:?} left an output file");
    }
}

/// SGHMC-CV from the command line: SGD finds θ̂ on a9a, the chains start there, and the
/// posterior predictive reaches a well-fit logistic regression's accuracy (≥ 0.84; measured
/// 0.848).
#[test]
fn sghmc_with_control_variates_runs_on_a9a() {
    let args = a9a_logistic_args(&[
        "--steps",
        "400",
        "--burn-in",
        "200",
        "--thin",
        "20",
        "--step-size",
        "2e-6",
        "--batch",
        "100",
        "--batch-mode",
        "per-chain",
        "--sampler",
        "sghmc",
        "--friction",
        "0.1",
        "--cv",
        "--cv-steps",
        "2000",
        "--cv-step-size",
        "2e-5",
    ]);
    let output = langevin(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let accuracy: f64 = text
        .lines()
        .find_map(|line| line.strip_prefix("test: accuracy "))
        .and_then(|rest| rest.split(',').next())
        .and_then(|value| value.parse().ok())
        .expect("an accuracy line");
    assert!(accuracy >= 0.84, "accuracy {accuracy}: {text}");
}

#[test]
fn plot_draws_traces_and_histograms_from_a_draws_file() {
    let dir = scratch("plot");
    let npy = dir.join("draws.npy");
    let png = dir.join("fig.png");
    let output = langevin(&[
        "sample",
        "--model",
        "gaussian",
        "--dim",
        "3",
        "--chains",
        "16",
        "--steps",
        "1400",
        "--quiet",
        "--out",
        npy.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = langevin(&[
        "plot",
        npy.to_str().expect("utf-8"),
        "--out",
        png.to_str().expect("utf-8"),
        "--reference",
        "gaussian",
        "--dims",
        "0,2",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("dimensions [0, 2]"),
        "{}",
        stdout(&output)
    );
    let bytes = std::fs::read(&png).expect("a PNG");
    assert!(bytes.starts_with(b"\x89PNG"));

    // Bad input: a missing file, a dimension out of range, checkpoints without --out.
    let missing = langevin(&["plot", "nothing.npy", "--out", png.to_str().expect("utf-8")]);
    assert!(!missing.status.success());
    let out_of_range = langevin(&[
        "plot",
        npy.to_str().expect("utf-8"),
        "--out",
        dir.join("other.png").to_str().expect("utf-8"),
        "--dims",
        "7",
    ]);
    assert!(!out_of_range.status.success() && stderr(&out_of_range).contains("out of range"));
    assert!(!dir.join("other.png").exists());
    let no_out = langevin(&[
        "sample",
        "--checkpoint",
        dir.join("ck").to_str().expect("utf-8"),
    ]);
    assert!(!no_out.status.success() && stderr(&no_out).contains("need --out"));
}

/// The README's main job, word for word before its outputs.
#[rustfmt::skip]
const README_MAIN_JOB: &[&str] = &[
    "sample", "--model", "logistic", "--data", "data/a9a", "--test", "data/a9a.t",
    "--precondition", "--cv", "--init-scale", "1", "--chains", "128", "--steps", "2500",
    "--burn-in", "500", "--thin", "10", "--step-size", "auto", "--batch", "500",
];

/// The README states the main job, and the job does what the README says: its chains agree
/// (max split R-hat < 1.05; 1.021 measured) and its test accuracy is a fitted model's (0.850
/// measured; 0.84 leaves room for an adapter's rounding), at the automatic step size in the
/// metric (η = 0.05; λ_max(M·H) = 1 at the mode up to the power iteration's 10⁻⁴). The library test
/// `tests/preconditioner.rs` holds the same settings to the HMC reference.
#[test]
fn the_readme_main_job_runs_and_its_chains_agree() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let words: Vec<&str> = readme.split_whitespace().filter(|w| *w != "\\").collect();
    assert!(
        words
            .windows(README_MAIN_JOB.len())
            .any(|window| window == README_MAIN_JOB),
        "the README should state `langevin {}`",
        README_MAIN_JOB.join(" ")
    );
    let dir = scratch("main-job");
    let json = dir.join("summary.json");
    let root = env!("CARGO_MANIFEST_DIR");
    let mut args: Vec<String> = README_MAIN_JOB
        .iter()
        .map(|w| match *w {
            "data/a9a" | "data/a9a.t" => format!("{root}/{w}"),
            other => other.to_owned(),
        })
        .collect();
    args.extend([
        "--json".to_owned(),
        json.to_str().expect("utf-8").to_owned(),
    ]);
    let output = langevin(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("valid JSON");
    assert_eq!(summary["metric"], "laplace");
    assert_eq!(summary["control_variate"], true);
    let worst = summary["rhat"]
        .as_array()
        .expect("rhat")
        .iter()
        .map(|r| r.as_f64().expect("a number"))
        .fold(0.0f64, f64::max);
    assert!(worst < 1.05, "max R-hat {worst}");
    let accuracy = summary["test_accuracy"].as_f64().expect("test_accuracy");
    assert!(accuracy > 0.84, "{accuracy}");
    // `auto` in the metric: λ_max(M·H) = 1 at the mode and 0.025 of the limit 2.
    let eta = summary["step_size_choice"]["eta"].as_f64().expect("eta");
    assert!((eta / 0.05 - 1.0).abs() < 0.01, "η {eta}");
}
