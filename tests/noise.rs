//! Every rule's injected noise and drift, measured directly and without the CPU twin.
//!
//! The GPU/CPU parity tests share the host's step scalars (`η_t`, `sqrt(2cη_tT)`) with the
//! kernels they check, so an error there passes them. Here 2¹⁷ chains start from one point
//! θ₀ and take one step (or a few); the test computes what each rule's equation says the step
//! must be — its drift and the variance `2cη_tT` of its noise, per rule, per rung of a ladder,
//! per step of an annealing schedule, and zero on a cyclical schedule's exploring steps — from
//! the settings alone, in f64.
//!
//! Tolerances: `n` standardised increments (4 coordinates × 2¹⁷ chains, or a rung's share)
//! are independent N(0, 1) draws when the rule is right. Their sample variance has relative
//! sd `sqrt(2/n)` (0.2% for n = 2¹⁹) and their mean sd `1/sqrt(n)`; the tests allow 5 sd, so
//! a false alarm has odds below 10⁻⁶, while a noise scale off by √2 (√η for √(2η)), a drift
//! off by a few percent or a wrong temperature is tens of sd away. The GPU's normals carry
//! ~10⁻³ relative error from `log`/`cos` and are cut at 5.9σ; both move the variance by
//! less than 10⁻⁴.

mod common;

use langevin::data::Dataset;
use langevin::model::Regression;
use langevin::sampler::{Method, TemperatureLadder};
use langevin::schedule::TemperatureSchedule;
use langevin::{DataPath, Gaussian, Init, Sampler, StepSize, Tuning};

const CHAINS: u32 = 1 << 17;
const MEAN: [f64; 4] = [1.0, -2.0, 0.5, 3.0];
const PRECISION: [f64; 4] = [1.0, 2.0, 4.0, 0.5];
/// Where every chain starts: ∇U(θ₀) = λ(θ₀ − μ) = (−1.5, 5, −1, −1.25).
const START: [f64; 4] = [-0.5, 0.5, 0.25, 0.5];

fn target() -> Gaussian {
    Gaussian::diagonal(&MEAN, &PRECISION).expect("valid")
}

fn gradient(theta: &[f64]) -> Vec<f64> {
    theta
        .iter()
        .zip(MEAN.iter().zip(&PRECISION))
        .map(|(x, (m, l))| l * (x - m))
        .collect()
}

/// Runs `steps` steps from `START` keeping every state (`draws.get(t, c, d)` is θ after step
/// `t`).
fn run(builder: langevin::sampler::SamplerBuilder, steps: u32) -> langevin::Draws {
    let start: Vec<f32> = (0..CHAINS).flat_map(|_| START.map(|v| v as f32)).collect();
    builder
        .chains(CHAINS)
        .steps(steps)
        .burn_in(0)
        .thin(1)
        .init(Init::Positions(start))
        .seed(99)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run")
}

/// Mean and variance of standardised increments, checked against N(0, 1) within 5 sd.
#[track_caller]
fn assert_standard_normal(what: &str, z: &[f64]) {
    let n = z.len() as f64;
    let mean = z.iter().sum::<f64>() / n;
    let variance = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    assert!(
        mean.abs() < 5.0 / n.sqrt(),
        "{what}: mean of standardised increments {mean} (sd {:.1e}): the drift is wrong",
        1.0 / n.sqrt()
    );
    assert!(
        (variance - 1.0).abs() < 5.0 * (2.0 / n).sqrt(),
        "{what}: variance of standardised increments {variance} (sd {:.1e}): the noise scale \
         is off by a factor {:.4}",
        (2.0 / n).sqrt(),
        variance.sqrt()
    );
}

/// One step of each rule from θ₀ (momentum 0, pSGLD's V = 0, SGNHT's ζ = A) at T = 0.7:
/// - SGLD: `θ₁ = θ₀ − η∇U + sqrt(2ηT) ξ`;
/// - pSGLD: `V = (1 − α) g²`, `G = 1/(λ + sqrt(V))`, `θ₁ = θ₀ − ηG∇U + sqrt(2ηTG) ξ`;
/// - SGHMC: `v₁ = −η∇U + sqrt(2(α − β̂)ηT) ξ`, `θ₁ = θ₀ + v₁`;
/// - SGNHT: `v₁ = −h∇U + sqrt(2AhT) ξ`, `θ₁ = θ₀ + h v₁`.
#[test]
fn one_step_of_every_rule_has_its_equations_drift_and_noise() {
    let (eta, temperature) = (0.05, 0.7);
    let g = gradient(&START);
    let (decay, epsilon) = (0.9, 0.5);
    let (friction, noise_estimate) = (0.3, 0.05);
    let diffusion = 1.7;
    type Step = Box<dyn Fn(usize) -> (f64, f64)>;
    // Per coordinate: the deterministic move θ₁ − θ₀ and the noise's standard deviation.
    let cases: Vec<(Method, Step)> = vec![
        (
            Method::Sgld,
            Box::new(move |d| (-eta * g[d], (2.0 * eta * temperature).sqrt())),
        ),
        (
            Method::psgld_with(decay, epsilon).expect("valid"),
            Box::new({
                let g = gradient(&START);
                move |d| {
                    let v = (1.0 - decay) * g[d] * g[d];
                    let pre = 1.0 / (epsilon + v.sqrt());
                    (-eta * pre * g[d], (2.0 * eta * temperature * pre).sqrt())
                }
            }),
        ),
        (
            Method::sghmc_with(friction, noise_estimate).expect("valid"),
            Box::new({
                let g = gradient(&START);
                move |d| {
                    let c = friction - noise_estimate;
                    (-eta * g[d], (2.0 * c * eta * temperature).sqrt())
                }
            }),
        ),
        (
            Method::sgnht(diffusion).expect("valid"),
            Box::new({
                let g = gradient(&START);
                move |d| {
                    let h = eta;
                    (
                        -h * h * g[d],
                        h * (2.0 * diffusion * h * temperature).sqrt(),
                    )
                }
            }),
        ),
    ];
    for (method, step) in cases {
        let draws = run(
            Sampler::builder(target())
                .method(method)
                .temperature(temperature)
                .step_size(StepSize::constant(eta).expect("valid")),
            1,
        );
        let mut z = Vec::with_capacity(4 * CHAINS as usize);
        for c in 0..CHAINS as usize {
            for (d, start) in START.iter().enumerate() {
                let (drift, sd) = step(d);
                z.push((f64::from(draws.get(0, c, d)) - start - drift) / sd);
            }
        }
        assert_standard_normal(&format!("{method:?}"), &z);
    }
}

/// SGLD's increment at step `t` given θ after step `t − 1` (θ₀ for `t = 0`), standardised by
/// `sqrt(2 η_t T_t)`.
fn sgld_increment(previous: &[f64], next: &[f64], eta: f64, temperature: f64) -> Vec<f64> {
    let g = gradient(previous);
    (0..4)
        .map(|d| (next[d] - previous[d] + eta * g[d]) / (2.0 * eta * temperature).sqrt())
        .collect()
}

fn state(draws: &langevin::Draws, t: usize, c: usize) -> Vec<f64> {
    (0..4).map(|d| f64::from(draws.get(t, c, d))).collect()
}

/// A temperature ladder of 4 rungs from 1 to 8: rung `r` runs at `T_r = 8^(r/3)`, chain `c` in
/// rung `⌊4c/C⌋`; each rung's increments must have variance `2ηT_r`.
#[test]
fn each_rung_of_a_ladder_injects_its_own_temperature() {
    let eta = 0.05;
    let draws = run(
        Sampler::builder(target())
            .temperature_ladder(TemperatureLadder::new(1.0, 8.0, 4).expect("valid"))
            .step_size(StepSize::constant(eta).expect("valid")),
        1,
    );
    for rung in 0..4usize {
        let temperature = 8f64.powf(rung as f64 / 3.0);
        let chains = CHAINS as usize / 4;
        let z: Vec<f64> = (rung * chains..(rung + 1) * chains)
            .flat_map(|c| sgld_increment(&START, &state(&draws, 0, c), eta, temperature))
            .collect();
        assert_standard_normal(&format!("rung {rung} (T = {temperature})"), &z);
    }
}

/// Annealing from T = 9 to 1 over 6 steps: step `t` runs at `T_t = 9 · (1/9)^(t/6)` and after
/// the sixth at 1; the increment of every step of the first eight has variance `2ηT_t`.
#[test]
fn each_step_of_an_annealing_schedule_injects_its_temperature() {
    let eta = 0.05;
    let draws = run(
        Sampler::builder(target())
            .temperature_schedule(TemperatureSchedule::anneal(9.0, 1.0, 6).expect("valid"))
            .step_size(StepSize::constant(eta).expect("valid")),
        8,
    );
    for t in 0..8usize {
        let temperature = if t < 6 {
            9.0 * (1.0f64 / 9.0).powf(t as f64 / 6.0)
        } else {
            1.0
        };
        let z: Vec<f64> = (0..CHAINS as usize)
            .flat_map(|c| {
                let previous = match t {
                    0 => START.to_vec(),
                    _ => state(&draws, t - 1, c),
                };
                sgld_increment(&previous, &state(&draws, t, c), eta, temperature)
            })
            .collect();
        assert_standard_normal(&format!("step {t} (T = {temperature:.3})"), &z);
    }
}

/// Zhang et al.'s cyclical schedule with 2 cycles of 10 steps and β = 0.3: steps 0–2 of each
/// cycle explore (no noise, no draw), with `η_t = (η₀/2)(cos(π (t mod 10)/10) + 1)`. The first
/// kept state, after step 3, is then the deterministic path through steps 0–2 plus step 3's
/// noise alone: its mean is that path's and its variance `2η₃T` — any noise on an exploring
/// step would add `(1 − η₃λ)² 2η₂T + …`.
#[test]
fn exploring_steps_inject_no_noise_and_keep_no_draw() {
    let eta0 = 0.2;
    let schedule = StepSize::cyclical(eta0, 2, 20, 0.3).expect("valid");
    let draws = run(Sampler::builder(target()).step_size(schedule), 20);
    let eta = |t: usize| eta0 / 2.0 * ((std::f64::consts::PI * (t % 10) as f64 / 10.0).cos() + 1.0);
    let kept: Vec<u32> = (0..20u32).filter(|t| t % 10 >= 3).map(|t| t + 1).collect();
    assert_eq!(
        draws.steps(),
        &kept[..],
        "draws are kept after sampling steps only"
    );
    let mut path = START.to_vec();
    for t in 0..3 {
        let g = gradient(&path);
        path.iter_mut().zip(g).for_each(|(x, g)| *x -= eta(t) * g);
    }
    let z: Vec<f64> = (0..CHAINS as usize)
        .flat_map(|c| sgld_increment(&path, &state(&draws, 0, c), eta(3), 1.0))
        .collect();
    assert_standard_normal("the first sampling step after exploring", &z);
}

/// Linear regression `y ~ N(xᵀθ, s²)` with prior N(0, σ²I) and an intercept, on each data path,
/// full batch: one SGLD step from θ₀ = 0 moves by `−η∇U(0) = η Σᵢ xᵢyᵢ/s²` (the prior's
/// gradient vanishes at 0) plus noise of variance `2ηT`. The scale `N/n` and the likelihood's
/// sign enter the drift.
#[test]
fn one_step_on_each_data_path_has_the_models_drift_and_noise() {
    let rows = 64usize;
    let x: Vec<f32> = common::uniform(3, rows * 2, -1.0, 1.0)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let y: Vec<f32> = (0..rows)
        .map(|r| 0.5 + 1.5 * x[2 * r] - 0.75 * x[2 * r + 1])
        .collect();
    let noise_var = 4.0;
    let data = Dataset::from_dense(x.clone(), 2, y.clone()).expect("data");
    let model = Regression::linear(data, noise_var, 1.0).expect("model");
    let (eta, temperature) = (0.01, 1.3);
    // −∇U(0) = Σᵢ x̃ᵢ yᵢ / s² with x̃ = (1, x).
    let mut pull = [0.0f64; 3];
    for r in 0..rows {
        let features = [1.0, f64::from(x[2 * r]), f64::from(x[2 * r + 1])];
        for d in 0..3 {
            pull[d] += features[d] * f64::from(y[r]) / noise_var;
        }
    }
    let chains = CHAINS / 4;
    for path in [
        DataPath::Global,
        DataPath::Staged,
        DataPath::Fused,
        DataPath::Tiled,
    ] {
        let draws = Sampler::builder(model.clone())
            .chains(chains)
            .steps(1)
            .burn_in(0)
            .init(Init::Positions(vec![0.0; chains as usize * 3]))
            .step_size(StepSize::constant(eta).expect("valid"))
            .temperature(temperature)
            .tuning(Tuning {
                data_path: path,
                ..Tuning::default()
            })
            .seed(7)
            .build()
            .expect("valid")
            .run(common::gpu())
            .expect("run");
        let sd = (2.0 * eta * temperature).sqrt();
        let z: Vec<f64> = (0..chains as usize)
            .flat_map(|c| (0..3).map(move |d| (c, d)))
            .map(|(c, d)| (f64::from(draws.get(0, c, d)) - eta * pull[d]) / sd)
            .collect();
        assert_standard_normal(&format!("{path:?}"), &z);
    }
}
