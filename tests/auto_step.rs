//! The step size chosen for the user (`Sampler::choose_step_size`, `--step-size auto`): the
//! curvature it finds on Gaussians of known precision, each rule's limit, and on a9a a step
//! below SGLD's limit that passes the hand-tuned run's accuracy checks.

mod common;

use langevin::model::Gaussian;
use langevin::sampler::{AutoStep, Method};
use langevin::{Sampler, StepSize};

fn choose(
    target: impl Into<langevin::model::Target>,
    method: Method,
) -> langevin::sampler::StepSizeChoice {
    Sampler::builder(target)
        .chains(4)
        .steps(10)
        .method(method)
        .step_size(StepSize::constant(1e-3).expect("valid"))
        .build()
        .expect("valid")
        .choose_step_size(common::gpu(), &AutoStep::default())
        .expect("a choice")
}

/// λ_max within 5% of the exact largest eigenvalue of the precision, diagonal (100) and
/// dense (equicorrelated ρ = 0.5 in 6 dimensions with variance 0.5; the reference is plain
/// power iteration on its precision matrix), and each rule's limit from the module's
/// formulas. 5%: the central differences of f32 gradients are good to ~10⁻³, and the power
/// iteration stops at a relative change of 10⁻⁴.
#[test]
fn the_largest_curvature_of_known_gaussians_is_found() {
    let diagonal = Gaussian::diagonal(&[1.0, -1.0, 0.0], &[1.0, 10.0, 100.0]).expect("valid");
    let choice = choose(diagonal.clone(), Method::Sgld);
    assert!((choice.lambda_max / 100.0 - 1.0).abs() < 0.05, "{choice:?}");
    assert!((choice.eta - 0.2 * 2.0 / choice.lambda_max).abs() < 1e-12);
    let sghmc = choose(diagonal.clone(), Method::sghmc(0.1).expect("valid"));
    assert!(
        (sghmc.limit - 2.0 * 1.9 / sghmc.lambda_max).abs() < 1e-12,
        "{sghmc:?}"
    );
    let sgnht = choose(diagonal, Method::sgnht(1.0).expect("valid"));
    let h = sgnht.limit;
    assert!(
        (h * h * sgnht.lambda_max + 2.0 * h - 4.0).abs() < 1e-9,
        "h²λ + 2ζh = 4 at the limit"
    );
    let dense = Gaussian::equicorrelated(6, 0.0, 0.5, 0.5).expect("valid");
    let exact = largest_eigenvalue(&dense.precision_matrix(), 6);
    let choice = choose(dense, Method::Sgld);
    assert!(
        (choice.lambda_max / exact - 1.0).abs() < 0.05,
        "{choice:?} vs {exact}"
    );
}

/// `SamplerBuilder::auto_step_size` is the same choice as `choose_step_size`, set as the
/// builder's constant step size.
#[test]
fn the_builder_sets_the_step_it_chooses() {
    let target = Gaussian::diagonal(&[0.5, 2.0], &[4.0, 40.0]).expect("valid");
    let builder = Sampler::builder(target).chains(4).steps(10);
    let direct = builder
        .clone()
        .build()
        .expect("valid")
        .choose_step_size(common::gpu(), &AutoStep::default())
        .expect("a choice");
    let (chosen, choice) = builder
        .auto_step_size(common::gpu(), &AutoStep::default())
        .expect("a choice");
    assert_eq!(choice, direct);
    let sampler = chosen.build().expect("valid");
    assert_eq!(
        sampler.settings().step_size,
        StepSize::constant(choice.eta).expect("valid")
    );
}

/// The largest eigenvalue of a symmetric matrix by 500 plain power iterations (f64): the
/// reference the estimate above is held to.
fn largest_eigenvalue(a: &[f64], n: usize) -> f64 {
    let mut v = vec![1.0 / (n as f64).sqrt(); n];
    v[0] += 0.1;
    let mut lambda = 0.0;
    for _ in 0..500 {
        let w: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| a[i * n + j] * v[j]).sum())
            .collect();
        lambda = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        v = w.iter().map(|x| x / lambda).collect();
    }
    lambda
}

/// On a9a the SGLD step is below 2/λ_max at the mode (7.4e-5 in the measurement; we
/// find λ_max ≈ 2.6e4, a limit of 7.8e-5) and a run with it passes the accuracy checks of the
/// hand-tuned run in tests/cli.rs; pSGLD's limit is finite and positive.
#[test]
fn on_a9a_the_chosen_step_is_stable_and_predicts_as_well_as_a_tuned_one() {
    let dir = common::scratch("auto-step-a9a");
    let json = dir.join("s.json");
    let root = env!("CARGO_MANIFEST_DIR");
    let (data, test) = (format!("{root}/data/a9a"), format!("{root}/data/a9a.t"));
    let output = common::langevin(&[
        "sample",
        "--model",
        "logistic",
        "--data",
        &data,
        "--test",
        &test,
        "--chains",
        "32",
        "--steps",
        "1000",
        "--batch",
        "100",
        "--batch-mode",
        "per-chain",
        "--step-size",
        "auto",
        "--json",
        json.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("valid JSON");
    let choice = &summary["step_size_choice"];
    let eta = choice["eta"].as_f64().expect("eta");
    assert!(eta > 0.0 && eta < 7.4e-5, "{choice}");
    assert_eq!(summary["step_size"]["eta"].as_f64(), Some(eta));
    assert!(choice["lambda_max"].as_f64().expect("λ") > 1e4, "{choice}");
    // The same bounds as the hand-tuned run (tests/cli.rs, which explains them).
    let accuracy = summary["test_accuracy"].as_f64().expect("accuracy");
    assert!(accuracy > 0.83, "{accuracy}");
    let log_likelihood = summary["test_log_likelihood"].as_f64().expect("ll");
    assert!(log_likelihood > -0.36, "{log_likelihood}");
    let logistic = langevin::model::Regression::logistic(common::a9a(), 1.0).expect("model");
    let psgld = Sampler::builder(logistic)
        .chains(4)
        .steps(10)
        .method(Method::psgld())
        .minibatch(langevin::Minibatch::shared(100).expect("valid"))
        .build()
        .expect("valid")
        .choose_step_size(common::gpu(), &AutoStep::default())
        .expect("a choice");
    assert!(psgld.limit.is_finite() && psgld.limit > 0.0, "{psgld:?}");
}

/// In a dense metric M the limit is 2/λ_max(M·H): for a Gaussian with precision P in the
/// metric M = c·P⁻¹, M·H = c·I, so λ_max is c (1 for the Laplace metric). Within 5% as above.
#[test]
fn in_a_dense_metric_the_curvature_is_that_of_m_times_h() {
    use langevin::sampler::Preconditioner;
    let target = Gaussian::equicorrelated(6, 0.5, 0.5, 0.5).expect("valid");
    let covariance = target.covariance();
    for c in [1.0, 2.0] {
        let scaled: Vec<f64> = covariance.iter().map(|v| c * v).collect();
        let choice = Sampler::builder(target.clone())
            .chains(4)
            .steps(10)
            .step_size(StepSize::constant(1e-3).expect("valid"))
            .preconditioner(Preconditioner::from_covariance(&scaled, 6).expect("valid"))
            .build()
            .expect("valid")
            .choose_step_size(
                common::gpu(),
                &AutoStep {
                    fraction: AutoStep::IN_METRIC_FRACTION,
                    ..AutoStep::default()
                },
            )
            .expect("a choice");
        assert!(
            (choice.lambda_max / c - 1.0).abs() < 0.05,
            "c = {c}: {choice:?}"
        );
        assert!((choice.eta - 0.025 * 2.0 / choice.lambda_max).abs() < 1e-12);
    }
}
