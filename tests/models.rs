//! Models written against the data-kernel interface: Welling & Teh's mixture against a grid
//! quadrature of its exact posterior, and a user-written model checked against its CPU twin.

mod common;

/// The user-model example, reused: its WGSL, CPU twin and synthetic data.
#[allow(dead_code)]
#[path = "../examples/poisson.rs"]
mod poisson;

use langevin::data::{Dataset, LabelColumn};
use langevin::minibatch::Minibatch;
use langevin::model::{
    classifier_predictive, mlp_classifier, welling_teh_log_posterior, welling_teh_mixture,
    CustomModel,
};
use langevin::sampler::SamplerBuilder;
use langevin::{Error, Sampler, StepSize};

fn mixture_data() -> Dataset {
    Dataset::read_csv(
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/mixture.csv"),
        &LabelColumn::Last,
    )
    .expect("mixture data")
}

/// Moments of the posterior tempered to `T` (density ∝ p(θ | x)^(1/T)), by the midpoint rule
/// on [−4, 5] × [−5, 5] at 0.01 (the density is below e⁻³⁰ of its peak outside even at T = 2;
/// the grid error is far below 10⁻³).
#[derive(Debug, Clone, Copy)]
struct Quadrature {
    /// P(θ₂ > 0).
    mass_theta2_positive: f64,
    /// Var θ₁.
    variance: f64,
    /// E[(θ₁ − Eθ₁)⁴], for the standard error of a sample variance.
    fourth: f64,
}

/// The log posterior on the quadrature grid, computed once per test binary (the data are the
/// vendored file's).
fn log_posterior_grid(observations: &[f64]) -> &'static [([f64; 2], f64)] {
    static GRID: std::sync::OnceLock<Vec<([f64; 2], f64)>> = std::sync::OnceLock::new();
    GRID.get_or_init(|| {
        let h = 0.01;
        let log_peak = welling_teh_log_posterior(observations, [0.0, 1.0]);
        let mut points = Vec::with_capacity(900_000);
        for i in 0..900 {
            for j in 0..1000 {
                let theta = [
                    -4.0 + (f64::from(i) + 0.5) * h,
                    -5.0 + (f64::from(j) + 0.5) * h,
                ];
                points.push((
                    theta,
                    welling_teh_log_posterior(observations, theta) - log_peak,
                ));
            }
        }
        points
    })
}

fn quadrature(observations: &[f64], temperature: f64) -> Quadrature {
    let points: Vec<([f64; 2], f64)> = log_posterior_grid(observations)
        .iter()
        .map(|&(theta, log_p)| (theta, (log_p / temperature).exp()))
        .collect();
    let total: f64 = points.iter().map(|(_, p)| p).sum();
    let expect =
        |f: &dyn Fn([f64; 2]) -> f64| points.iter().map(|(t, p)| f(*t) * p).sum::<f64>() / total;
    let mean = expect(&|t| t[0]);
    Quadrature {
        mass_theta2_positive: expect(&|t| f64::from(u8::from(t[1] > 0.0))),
        variance: expect(&|t| (t[0] - mean).powi(2)),
        fourth: expect(&|t| (t[0] - mean).powi(4)),
    }
}

fn exact_mass_theta2_positive(observations: &[f64]) -> f64 {
    quadrature(observations, 1.0).mass_theta2_positive
}

/// Holds a model's GPU steps to its own CPU twin (`common::assert_cpu_twin`).
fn cpu_twin_parity(model: &CustomModel, batch: Minibatch, eta: f64) {
    let rows = model.data().rows() as u32;
    let twin = model.clone();
    common::assert_cpu_twin(
        model.clone(),
        rows,
        Some(batch),
        eta,
        5,
        move |theta, indices, out| {
            twin.gradient(theta, indices, out)
                .expect("the model has a CPU twin")
        },
    );
}

#[test]
fn mixture_gpu_steps_match_the_cpu_twin() {
    let model = welling_teh_mixture(mixture_data()).expect("model");
    cpu_twin_parity(&model, Minibatch::per_chain(7).expect("valid"), 1e-3);
    cpu_twin_parity(
        &model,
        Minibatch::shared(30).expect("valid").without_replacement(),
        1e-3,
    );
}

/// The user-written Poisson regression (examples/poisson.rs) against its own CPU gradient.
#[test]
fn user_model_matches_its_cpu_gradient() {
    let model =
        poisson::poisson_model(poisson::synthetic_counts(500).expect("data")).expect("model");
    cpu_twin_parity(
        &model,
        Minibatch::per_chain(40)
            .expect("valid")
            .without_replacement(),
        1e-4,
    );
    cpu_twin_parity(&model, Minibatch::shared(25).expect("valid"), 1e-4);
}

/// An error in user WGSL comes back typed, with the compiler's message and the line in the
/// user's own code (it is placed first in the module).
#[test]
fn user_wgsl_errors_carry_the_compiler_message_and_line() {
    let code = "fn prior_gradient(d: u32) -> f32 {\n    return theta_at(d);\n}\n\nfn likelihood_gradient(row: u32) {\n    let x = undefined_name + 1.0;\n}\n";
    let data = poisson::synthetic_counts(10).expect("data");
    let model = CustomModel::new("broken model", 3, data, code, vec![]).expect("built");
    let error = Sampler::builder(model)
        .chains(4)
        .steps(2)
        .burn_in(1)
        .build()
        .expect("valid settings")
        .run(common::gpu())
        .expect_err("does not compile");
    let Error::Shader { shader, message } = &error else {
        panic!("expected Error::Shader, got {error:?}");
    };
    assert_eq!(shader, "broken_model");
    assert!(message.contains("undefined_name"), "{message}");
    assert!(
        message.contains(":6:"),
        "the error points at line 6 of the user's code: {message}"
    );
}

/// Runs the mixture as `configure` sets it up (seed 2011) and asserts that the fraction of
/// draws with θ₂ > 0 lies within 0.05 of the quadrature; returns the draws, that fraction and
/// the quadrature's.
fn mixture_mass_against_quadrature(
    configure: impl FnOnce(SamplerBuilder) -> SamplerBuilder,
) -> (langevin::Draws, f64, f64) {
    let data = mixture_data();
    let observations: Vec<f64> = data.labels().iter().map(|&x| f64::from(x)).collect();
    let exact = exact_mass_theta2_positive(&observations);
    let builder = Sampler::builder(welling_teh_mixture(data).expect("model")).seed(2011);
    let draws = configure(builder)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run");
    let fraction = common::fraction_positive(&draws, 1);
    assert!(
        (fraction - exact).abs() < 0.05,
        "P(θ₂ > 0): SGLD {fraction}, quadrature {exact}"
    );
    (draws, fraction, exact)
}

/// Both modes, near (0, 1) and (1, −1), are visited across chains, in the proportion the exact
/// posterior gives them: the fraction of draws with θ₂ > 0 is within 0.05 of the quadrature.
/// 1024 chains started from N(0, 1) with full-data gradients at η = 2·10⁻³ (ηλ ≈ 0.1 along the
/// sharpest direction, so the discretisation moves the mass by well under 0.01); 10 draws 400
/// steps apart after 2000 steps of burn-in. Chains do cross between the modes (checked below),
/// so the draws are closer to independent than the 1024 chains alone; even counting one draw
/// per chain the Monte Carlo error of the fraction is ≤ 0.5/√1024 ≈ 0.016, and 0.05 is three
/// of those.
///
/// The mass hardly moves with the temperature (0.50 at T = 1, within 0.003 at T = 0.5 and 2),
/// so the temperature is checked through Var θ₁, which scales with it: the pooled variance must
/// lie within 5 standard errors of the quadrature's, the standard error
/// `sqrt((μ₄ − σ⁴)/n)` counting one draw per chain (n = 1024; the mean of a chain's 10 draws
/// varies no more than one draw), which puts the T = 0.5 and T = 2 answers outside the band.
/// As a negative control the same run at T = 0.7 must fall outside it.
#[test]
fn mixture_posterior_mass_matches_quadrature() {
    let data = mixture_data();
    let observations: Vec<f64> = data.labels().iter().map(|&x| f64::from(x)).collect();
    let run = |temperature: f64| {
        let (draws, fraction, exact) = mixture_mass_against_quadrature(|sampler| {
            sampler
                .chains(1024)
                .steps(6000)
                .burn_in(2000)
                .thin(400)
                .temperature(temperature)
                .step_size(StepSize::constant(2e-3).expect("valid"))
        });
        let theta1 = draws.dimension(0);
        let n = theta1.len() as f64;
        let mean = theta1.iter().sum::<f64>() / n;
        let variance = theta1.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (draws, fraction, exact, variance)
    };
    let exact = quadrature(&observations, 1.0);
    let band = 5.0 * ((exact.fourth - exact.variance.powi(2)) / 1024.0).sqrt();
    let inside = |variance: f64| (variance - exact.variance).abs() < band;
    for other in [0.5, 2.0] {
        let tempered = quadrature(&observations, other);
        assert!(
            !inside(tempered.variance),
            "T = {other}'s Var θ₁ {} is inside the band",
            tempered.variance
        );
    }
    let (draws, fraction, exact_mass, variance) = run(1.0);
    assert!(
        inside(variance),
        "Var θ₁: SGLD {variance}, quadrature {} ± {band}",
        exact.variance
    );
    let (n_draws, chains, _) = draws.shape();
    let crossed = (0..chains)
        .filter(|&c| (draws.get(0, c, 1) > 0.0) != (draws.get(n_draws - 1, c, 1) > 0.0))
        .count();
    println!("exact {exact_mass}, sgld {fraction}, chains that switched mode {crossed}");
    assert!(
        crossed > chains / 20,
        "only {crossed} chains moved between the modes"
    );
    assert!(
        fraction > 0.1 && fraction < 0.9,
        "both modes visited: {fraction}"
    );
    let (_, _, _, cold) = run(0.7);
    assert!(
        !inside(cold),
        "a run at T = 0.7 passes the T = 1 check: Var θ₁ {cold}"
    );
}

/// The MLP classifier's GPU gradient against its CPU twin on small dense data (4 features,
/// 3 hidden units, labels 0/1 mapped to ±1), for a shared and a per-chain batch.
#[test]
fn mlp_gpu_steps_match_the_cpu_twin() {
    let rows = 60;
    let x: Vec<f32> = common::uniform(31, rows * 4, -1.0, 1.0)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let y: Vec<f32> = (0..rows)
        .map(|r| f32::from(u8::from(x[4 * r] + x[4 * r + 1] > 0.0)))
        .collect();
    let data = Dataset::from_dense(x, 4, y).expect("data");
    let (model, shape) = mlp_classifier(data, 3, 2.0).expect("model");
    assert_eq!(model.dim(), shape.dim());
    cpu_twin_parity(&model, Minibatch::per_chain(9).expect("valid"), 1e-3);
    cpu_twin_parity(
        &model,
        Minibatch::shared(12).expect("valid").without_replacement(),
        1e-3,
    );
}

/// A small Bayesian neural network on a9a (4 hidden units, 32 chains, per-chain batches of 20)
/// predicts the test split about as well as logistic regression: ≥ 0.84 accuracy.
#[test]
fn mlp_on_a9a_predicts_the_test_split() {
    let (train, test) = (common::a9a(), common::a9a_test());
    let (model, shape) = mlp_classifier(train, 4, 1.0).expect("model");
    let draws = Sampler::builder(model)
        .chains(32)
        .steps(1000)
        .burn_in(700)
        .thin(50)
        .step_size(StepSize::constant(5e-5).expect("valid"))
        .minibatch(Minibatch::per_chain(20).expect("valid"))
        .seed(7)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run");
    let thetas: Vec<&[f32]> = draws.values().chunks_exact(shape.dim()).collect();
    let (accuracy, _) = classifier_predictive(&test, &thetas, |d, r, t| shape.output(d, r, t))
        .expect("predictions");
    assert!(accuracy >= 0.84, "test accuracy {accuracy}");
}

/// Welling & Teh's own run: batch size 1, η_t = a(b + t)^(−0.55) from 0.01 down to 10⁻⁴ over
/// 10⁶ steps (a ≈ 0.1996, b ≈ 231.07), then the same quadrature check as above. Ten minutes or
/// more on a software adapter; on a GPU run it with
/// `LANGEVIN_ADAPTER=nvidia cargo test --release --test models -- --ignored`.
#[test]
#[ignore = "10⁶ steps: run on a GPU"]
fn mixture_with_welling_and_teh_schedule_matches_quadrature() {
    mixture_mass_against_quadrature(|sampler| {
        sampler
            .chains(1024)
            .steps(1_000_000)
            .burn_in(500_000)
            .thin(50_000)
            .step_size(StepSize::polynomial(0.1996, 231.07, 0.55).expect("valid"))
            .minibatch(Minibatch::per_chain(1).expect("valid"))
    });
}
