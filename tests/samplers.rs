//! The sampler family on the GPU: every rule against its CPU reference on every kernel shape,
//! and the statistical properties each rule's paper claims.

mod common;

use common::Twin;
use langevin::model::Regression;
use langevin::sampler::Method;
use langevin::Gaussian;

fn rules() -> [Method; 4] {
    [
        Method::Sgld,
        Method::psgld_with(0.9, 1e-3).expect("valid"),
        Method::sghmc_with(0.3, 0.05).expect("valid"),
        Method::sgnht(1.5).expect("valid"),
    ]
}

/// Every rule, at T = 0 (its optimiser: SGD, RMSprop, SGD with momentum, a thermostatted
/// momentum method), at T = 1, and with synthetic gradient noise, on the three Gaussian kernel shapes (diagonal precision with
/// a thread per block of four; dense precision with a thread per chain; SGNHT's diagonal runs
/// per chain too) over several steps, so the rule's state carries from step to step.
#[test]
fn every_rule_matches_its_cpu_reference_on_gaussians() {
    let diagonal = Gaussian::diagonal(
        &[0.5, -1.0, 2.0, 0.0, 1.0, -0.5, 0.25],
        &[1.0, 4.0, 0.5, 2.0, 8.0, 1.5, 3.0],
    )
    .expect("valid");
    let dense = Gaussian::correlated(
        &[0.5, -1.0, 2.0, 0.0, 1.0],
        &[1.0, 0.5, 2.0, 1.0, 0.25],
        0.3,
    )
    .expect("valid");
    for target in [diagonal, dense] {
        for method in rules() {
            for (temperature, gradient_noise) in [(0.0, 0.0), (1.0, 0.0), (1.0, 2.0)] {
                let twin = Twin {
                    method,
                    rows: 1,
                    batch: None,
                    eta: 0.02,
                    temperature,
                    steps: 6,
                    gradient_noise,
                };
                let cpu_target = target.clone();
                common::assert_rule_twin(target.clone(), &twin, move |theta, _, out| {
                    cpu_target.gradient(theta, out)
                });
            }
        }
    }
}

/// Every rule on a data model (logistic regression on a9a), with per-chain and shared
/// mini-batches: pSGLD's per-datum mean gradient is ∇Ũ/N.
#[test]
fn every_rule_matches_its_cpu_reference_on_data() {
    let model = Regression::logistic(common::a9a(), 1.0).expect("valid");
    let rows = model.data().rows() as u32;
    for method in rules() {
        for (per_chain, temperature) in [(true, 0.0), (false, 1.0)] {
            let twin = Twin {
                method,
                rows,
                batch: Some(common::batch(20, per_chain, true)),
                eta: 2e-5,
                temperature,
                steps: 4,
                gradient_noise: 0.0,
            };
            let cpu_model = model.clone();
            common::assert_rule_twin(model.clone(), &twin, move |theta, rows, out| {
                cpu_model.gradient(theta, rows, out)
            });
        }
    }
}

fn run_gaussian(
    target: &Gaussian,
    method: Method,
    eta: f64,
    chains: u32,
    steps: u32,
) -> langevin::Draws {
    langevin::Sampler::builder(target.clone())
        .chains(chains)
        .steps(steps)
        .burn_in(steps / 4)
        .thin(10)
        .step_size(langevin::StepSize::constant(eta).expect("valid"))
        .method(method)
        .seed(23)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run")
}

/// pSGLD on a Gaussian with condition number 100 (curvatures λ = 100^(d/7), d = 0..7), both
/// rules at a tenth of their stability limits: SGLD's `η λ_max < 2` gives η = 0.002; pSGLD's
/// preconditioner settles at `G ≈ 1/sqrt(λ)` (V tracks ḡ² = λ²θ², whose mean is λ), so its
/// limit is `η sqrt(λ_max) < 2` and η = 0.02.
///
/// Variances: with G fixed, the discretised chain's stationary variance is
/// `1/(λ (1 − x/2))` with `x = η G λ`, and `G = 1/sqrt(V)` with `V = λ²·variance` closes it:
/// `x² = η² λ (1 − x/2)` (1.0–10.5% above 1/λ here). The test allows 5% around that: Monte
/// Carlo error is ≤ 1% (ESS ≥ 5·10⁴), and α = 0.999 keeps V's memory (1000 steps) well beyond
/// θ's correlation time (≤ 50 steps), so the dropped Γ term's bias stays at a few percent
/// (measured ≤ 3.3%). ESS per step: the slowest coordinate mixes ~10× faster (measured 13×);
/// the test requires 5×.
#[test]
fn psgld_gets_ill_conditioned_variances_right_and_mixes_faster_than_sgld() {
    let precision: Vec<f64> = (0..8).map(|d| 100f64.powf(d as f64 / 7.0)).collect();
    let target = Gaussian::diagonal(&[0.0; 8], &precision).expect("valid");
    let sgld = run_gaussian(&target, Method::Sgld, 0.1 * 2.0 / 100.0, 1024, 8000).summary();
    let eta = 0.1 * 2.0 / 10.0;
    let psgld = run_gaussian(
        &target,
        Method::psgld_with(0.999, 1e-5).expect("valid"),
        eta,
        1024,
        8000,
    )
    .summary();
    for (d, &lambda) in precision.iter().enumerate() {
        let c = eta * eta * lambda;
        let x = (-c / 2.0 + (c * c / 4.0 + 4.0 * c).sqrt()) / 2.0;
        let want = 1.0 / (lambda * (1.0 - x / 2.0));
        let got = psgld.sd[d].powi(2);
        assert!(
            (got / want - 1.0).abs() < 0.05,
            "dim {d} (λ = {lambda:.1}): pSGLD variance {got}, discretised chain {want}"
        );
    }
    let slowest = |s: &langevin::Summary| s.ess_bulk.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(
        slowest(&psgld) > 5.0 * slowest(&sgld),
        "least ESS: pSGLD {}, SGLD {}",
        slowest(&psgld),
        slowest(&sgld)
    );
}

/// The bias pSGLD's dropped Γ term leaves (Li et al. 2016, eq. 4): with `G` depending on θ, the
/// chain without Γ samples `exp(−U(θ)) / G(θ)` in the small-step limit (its Fokker–Planck
/// equation has zero flux there), not `exp(−U)`. With α = 0 and λ = 1 on N(0, 1),
/// `G = 1/(1 + |θ|)`, so the variance becomes
/// `(√(2π) + 4)/(√(2π) + 2) ≈ 1.4438` instead of 1. The test holds it to that within 2%
/// (4096 chains, ESS ≈ 3·10⁴: Monte Carlo error ≈ 1%, discretisation O(η) = 1%).
#[test]
fn psgld_without_the_gamma_term_is_biased_when_the_preconditioner_tracks_theta() {
    let target = Gaussian::diagonal(&[0.0], &[1.0]).expect("valid");
    let method = Method::psgld_with(0.0, 1.0).expect("valid");
    let variance = run_gaussian(&target, method, 0.01, 4096, 8000).summary().sd[0].powi(2);
    let root = (2.0 * std::f64::consts::PI).sqrt();
    let biased = (root + 4.0) / (root + 2.0);
    assert!(
        (variance / biased - 1.0).abs() < 0.02,
        "variance {variance}, the Γ-less chain's {biased}"
    );
}

/// The toy potentials' WGSL gradients match their CPU twins under every rule.
#[test]
fn toy_potentials_match_their_cpu_gradients() {
    use langevin::model::toys::{double_well, grid_mixture};
    for model in [
        double_well().expect("valid"),
        grid_mixture().expect("valid"),
    ] {
        for method in rules() {
            let twin = Twin {
                method,
                rows: 1,
                batch: None,
                eta: 1e-3,
                temperature: 1.0,
                steps: 5,
                gradient_noise: 1.0,
            };
            let cpu = model.clone();
            common::assert_rule_twin(model.clone(), &twin, move |theta, rows, out| {
                cpu.gradient(theta, rows, out).expect("has a CPU twin")
            });
        }
    }
}

/// `E θ⁴` and the CDF of `exp(−U/T)` for the double well by quadrature on [−3, 3] (the
/// density there is below e⁻⁵⁰ at the ends for T ≤ 1.2), 60 001 points.
fn double_well_reference(temperature: f64) -> (f64, impl Fn(f64) -> f64) {
    use langevin::model::toys::double_well_potential;
    let n = 60_000;
    let h = 6.0 / n as f64;
    let grid: Vec<f64> = (0..=n).map(|i| -3.0 + i as f64 * h).collect();
    let density: Vec<f64> = grid
        .iter()
        .map(|&x| (-double_well_potential(x) / temperature).exp())
        .collect();
    let mut cdf = vec![0.0; n + 1];
    for i in 1..=n {
        cdf[i] = cdf[i - 1] + 0.5 * h * (density[i] + density[i - 1]);
    }
    let total = cdf[n];
    let fourth = (1..=n)
        .map(|i| 0.5 * h * (grid[i].powi(4) * density[i] + grid[i - 1].powi(4) * density[i - 1]))
        .sum::<f64>()
        / total;
    let lookup = move |x: f64| {
        let i = (((x + 3.0) / h).floor().max(0.0) as usize).min(n);
        cdf[i] / total
    };
    (fourth, lookup)
}

fn run_double_well(method: Method, chains: u32, steps: u32) -> langevin::Draws {
    langevin::Sampler::builder(langevin::model::toys::double_well().expect("valid"))
        .chains(chains)
        .steps(steps)
        .burn_in(steps / 5)
        .thin(20)
        .step_size(langevin::StepSize::constant(0.01).expect("valid"))
        .method(method)
        .gradient_noise(2.0)
        .seed(2014)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run")
}

/// Kolmogorov–Smirnov distance between the finite draws and a CDF.
fn ks_distance(values: &[f32], cdf: impl Fn(f64) -> f64) -> f64 {
    let mut sorted: Vec<f64> = values
        .iter()
        .map(|&x| f64::from(x))
        .filter(|x| x.is_finite())
        .collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let c = cdf(x);
            (c - i as f64 / n).abs().max(((i + 1) as f64 / n - c).abs())
        })
        .fold(0.0, f64::max)
}

/// Chen et al. (2014), Fig. 1: on `U(θ) = −2θ² + θ⁴` with noisy gradients `∇U + N(0, 4)`,
/// SGHMC with ε = 0.1, C = 3, B̂ = ½εV̂ = 0.2 (our η = ε² = 0.01, α = εC = 0.3,
/// β̂ = εB̂ = 0.02) samples `exp(−U)`, while naive stochastic-gradient HMC without friction
/// (α = β̂ = 0) does not: nothing removes the energy the gradient noise adds.
///
/// The statistics must move with the temperature. `E θ²` hardly does (0.8402, 0.8327 and
/// 0.8405 at T = 0.6, 1 and 1.2), so the test holds `E θ⁴` (1.0431, 1.0827, 1.1405 at T = 0.85,
/// 1, 1.2) and the KS distance to the T = 1 CDF. Tolerances come from an effective sample size
/// floor the test asserts on the draws of θ⁴ (bulk ESS ≥ 5·10⁵ of the 4096 × 400 draws;
/// measured 1.65·10⁶: draws 20 steps apart are nearly independent), not from the run's own
/// ESS: `E θ⁴` within 5 sd (`sd(θ⁴) = 1.374` by quadrature, so 5·1.374/sqrt(5·10⁵) = 0.0097)
/// plus 0.005 for the discretisation's O(ε²) shift (measured −0.0006), and KS below
/// `1.95/sqrt(5·10⁵)` = 0.0028 (α = 10⁻³ for that many independent draws) plus 0.003 for the
/// discretisation (measured KS 0.0035). The test asserts that both bands exclude the T = 0.85
/// and T = 1.2 answers.
#[test]
fn sghmc_samples_the_double_well_where_naive_sghmc_does_not() {
    let (fourth, cdf) = double_well_reference(1.0);
    let ess_floor = 5e5;
    let sd_fourth = 1.374; // sd of θ⁴ under exp(−U), by the same quadrature.
    let m4_band = 5.0 * sd_fourth / f64::sqrt(ess_floor) + 0.005;
    let ks_band = 1.95 / f64::sqrt(ess_floor) + 0.003;
    for other in [0.85, 1.2] {
        let (wrong, wrong_cdf) = double_well_reference(other);
        assert!(
            (wrong - fourth).abs() > m4_band,
            "T = {other}: E θ⁴ {wrong} inside the band"
        );
        let ks = (0..=600)
            .map(|i| -3.0 + f64::from(i) * 0.01)
            .map(|x| (cdf(x) - wrong_cdf(x)).abs())
            .fold(0.0, f64::max);
        assert!(
            ks > ks_band,
            "T = {other}: KS distance {ks} inside the band"
        );
    }
    let sghmc = run_double_well(Method::sghmc_with(0.3, 0.02).expect("valid"), 4096, 10_000);
    assert_eq!(sghmc.summary().divergent_chains, 0);
    let values = sghmc.values();
    let quartic: Vec<f64> = values.iter().map(|&x| f64::from(x).powi(4)).collect();
    let (draws, chains, _) = sghmc.shape();
    let ess = langevin::diagnostics::ess_bulk(&quartic, draws, chains);
    let m4 = quartic.iter().sum::<f64>() / quartic.len() as f64;
    println!(
        "E θ⁴: SGHMC {m4}, exact {fourth}; ESS {ess} KS {}",
        ks_distance(values, &cdf)
    );
    assert!(ess > ess_floor, "ESS of θ⁴ {ess}");
    assert!(
        (m4 - fourth).abs() < m4_band,
        "SGHMC E θ⁴ = {m4}, exact {fourth} ± {m4_band}"
    );
    let ks = ks_distance(values, &cdf);
    assert!(ks < ks_band, "SGHMC KS distance {ks} ≥ {ks_band}");

    // Without friction the chains heat up until they blow up (measured: a third diverge, and
    // the rest are far from exp(−U)).
    let naive = run_double_well(Method::sghmc_with(0.0, 0.0).expect("valid"), 4096, 10_000);
    let divergent = naive.summary().divergent_chains;
    let naive_ks = ks_distance(naive.values(), &cdf);
    assert!(
        divergent > 0 || naive_ks > 0.1,
        "naive SGHMC: {divergent} divergent chains, KS {naive_ks}"
    );
}

/// 64 chains of 50 000 steps on the grid mixture with gradient noise N(0, I), started
/// over-dispersed (N(0, 3²) covers the grid) with the first 10 000 steps discarded.
fn run_grid(step_size: langevin::StepSize) -> langevin::Draws {
    langevin::Sampler::builder(langevin::model::toys::grid_mixture().expect("valid"))
        .chains(64)
        .steps(50_000)
        .burn_in(10_000)
        .thin(10)
        .init(langevin::Init::Normal { scale: 3.0 })
        .step_size(step_size)
        .gradient_noise(1.0)
        .seed(2020)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run")
}

/// Modes visited per chain (nearest mean of each kept draw), the pooled covariance, and the
/// fraction of draws in the outer ring of 16 modes.
fn grid_visits(draws: &langevin::Draws) -> (Vec<usize>, [f64; 3], f64) {
    let means = langevin::model::toys::grid_means();
    let (kept, chains, _) = draws.shape();
    let mut visits = Vec::new();
    let mut outer = 0usize;
    for c in 0..chains {
        let mut seen = [false; 25];
        for i in 0..kept {
            let (x, y) = (f64::from(draws.get(i, c, 0)), f64::from(draws.get(i, c, 1)));
            let nearest = (0..25)
                .min_by(|&a, &b| {
                    let da = (x - means[a][0]).powi(2) + (y - means[a][1]).powi(2);
                    let db = (x - means[b][0]).powi(2) + (y - means[b][1]).powi(2);
                    da.total_cmp(&db)
                })
                .expect("25 modes");
            seen[nearest] = true;
            if means[nearest][0].abs().max(means[nearest][1].abs()) == 4.0 {
                outer += 1;
            }
        }
        visits.push(seen.iter().filter(|&&s| s).count());
    }
    let (_, cov) = common::pooled_moments(draws.values(), 2);
    let outer_fraction = outer as f64 / (kept * chains) as f64;
    (visits, [cov[0], cov[1], cov[3]], outer_fraction)
}

/// Zhang et al. (2020, §5.1): cyclical SGLD on the 25-mode grid mixture with gradient noise
/// N(0, I), η₀ = 0.07, M = 30 cycles over K = 50 000 steps, exploring for the first quarter of
/// each cycle (β = 0.25), against SGLD with the same budget whose step decays from
/// η₀ = 0.043 by `a (b + t)^(−0.55)` to a tenth at the end (a = 1.66, b = 772).
///
/// What the test requires, and what it measured on lavapipe:
/// * cSGLD visits at least 20 of the 25 modes in at least 3/4 of the chains (measured: every
///   chain visits all 25). The big steps at the start of a cycle (η λ = 0.07/0.03 > 2 within a
///   mode) throw a chain out of its mode; the small ones at the end let it settle in another.
/// * SGLD visits clearly fewer: a median of at most 5 (measured: 1; its steps never exceed
///   the within-mode stability limit, and the barriers between modes are ~17 nats high).
/// * cSGLD's pooled covariance is 8.03 I within 10% and its correlation below 0.05. **This is
///   looser than the 5% the issue asks for**: measured 7.48 and 7.51 (−7%), because the
///   outer ring of 16 modes holds 58% of the draws instead of 64% (inner ring 37% instead of
///   32%, centre 5% instead of 4%). That is the algorithm, not this implementation:
///   `tests/fixtures/simulate_cyclical_grid.py`, a NumPy simulation independent of langevin,
///   gives 7.32 and 7.37 with rings 4.7/38.1/57.1% for the same settings, and Zhang et al.'s
///   own MATLAB experiment re-run over 1024 chains gives 7.22 and 7.24. Starting uniformly
///   over the grid gives the same 7.50, so this is where the hopping settles, not a memory of
///   the start; β = 0.1, 0.5 and 0.9 and η₀ = 0.1 measured further off (7.3, 4.7, 4.6, 7.2).
#[test]
fn cyclical_sgld_visits_the_modes_of_the_grid_mixture_where_sgld_does_not() {
    let cyclical = run_grid(langevin::StepSize::cyclical(0.07, 30, 50_000, 0.25).expect("valid"));
    let (mut visits, cov, outer) = grid_visits(&cyclical);
    visits.sort_unstable();
    assert!(
        visits[visits.len() / 4] >= 20,
        "cSGLD modes visited per chain: {visits:?}"
    );
    for variance in [cov[0], cov[2]] {
        assert!(
            (variance / 8.03 - 1.0).abs() < 0.10,
            "cSGLD covariance {cov:?}"
        );
    }
    assert!(cov[1].abs() < 0.05 * 8.03, "cSGLD covariance {cov:?}");
    // The outer ring's share matches the independent simulation's 0.571: each chain settles
    // ~24 times after burn-in, so the share over 64 chains has a standard error of about
    // sqrt(0.57 · 0.43 / 24 / 64) = 0.013; 0.04 is three of them.
    assert!((outer - 0.571).abs() < 0.04, "outer ring share {outer}");

    let sgld = run_grid(langevin::StepSize::polynomial(1.66, 772.0, 0.55).expect("valid"));
    let (mut sgld_visits, _, _) = grid_visits(&sgld);
    sgld_visits.sort_unstable();
    assert!(
        sgld_visits[sgld_visits.len() / 2] <= 5,
        "SGLD modes visited per chain: {sgld_visits:?}"
    );
}

/// The exact stationary variance of a rule's discretised chain on N(0, 1/λ) at temperature
/// `T`, and the integrated autocorrelation time of θ² between draws `thin` steps apart. Both
/// rules are linear recursions `x' = A x + b ξ` there: SGLD in θ alone (`A = 1 − ηλ`,
/// `b = sqrt(2ηT)`), SGHMC in (θ, v) (`v' = (1 − α)v − ηλθ + sξ`, `θ' = θ + v'`,
/// `s = sqrt(2αηT)`). The stationary covariance solves `Σ = AΣAᵀ + bbᵀ` (iterated to
/// convergence), the lag-k autocorrelation of θ is `ρ_k = (AᵏΣ)₀₀/Σ₀₀`, and for a Gaussian θ
/// that of θ² is `ρ_k²`, so `τ = 1 + 2 Σ_{j≥1} ρ_{j·thin}²`.
fn linear_chain(method: Method, eta: f64, lambda: f64, temperature: f64, thin: u32) -> (f64, f64) {
    let (a, b): ([[f64; 2]; 2], [f64; 2]) = match method {
        Method::Sghmc { friction, .. } => {
            let s = (2.0 * friction * eta * temperature).sqrt();
            let keep = 1.0 - friction;
            ([[1.0 - eta * lambda, keep], [-eta * lambda, keep]], [s, s])
        }
        _ => (
            [[1.0 - eta * lambda, 0.0], [0.0, 0.0]],
            [(2.0 * eta * temperature).sqrt(), 0.0],
        ),
    };
    let mul = |x: [[f64; 2]; 2], y: [[f64; 2]; 2]| {
        let mut z = [[0.0; 2]; 2];
        for i in 0..2 {
            for j in 0..2 {
                z[i][j] = x[i][0] * y[0][j] + x[i][1] * y[1][j];
            }
        }
        z
    };
    let transpose = |x: [[f64; 2]; 2]| [[x[0][0], x[1][0]], [x[0][1], x[1][1]]];
    let mut sigma = [[0.0; 2]; 2];
    for _ in 0..100_000 {
        let mut next = mul(mul(a, sigma), transpose(a));
        for i in 0..2 {
            for j in 0..2 {
                next[i][j] += b[i] * b[j];
            }
        }
        sigma = next;
    }
    let mut power = [[1.0, 0.0], [0.0, 1.0]];
    let mut tau = 1.0;
    for step in 1..=20_000u32 {
        power = mul(power, a);
        if step % thin == 0 {
            let rho = mul(power, sigma)[0][0] / sigma[0][0];
            tau += 2.0 * rho * rho;
        }
    }
    (sigma[0][0], tau)
}

/// N(0, I₄) under a ladder of 4 rungs from T = 1 to 8, SGLD and SGHMC (α = 0.3) at η = 0.05:
/// each rung's pooled variance must match the exact variance of the rule's discretised chain
/// at that temperature (`linear_chain`; `T/(1 − η/2)` for SGLD) within 5 standard errors,
/// `5·sqrt(2τ/n)` with n = 1024 chains × 100 draws × 4 dimensions and τ the exact
/// autocorrelation time of θ² at lag 20 — 0.3–0.4%, so 1.5–2%, computed from the chain, not
/// the run. For SGLD the continuous-time answer T (2.6% lower) lies outside the band, which
/// the test asserts. The summary reports the T = 1 chains only.
#[test]
fn a_temperature_ladder_runs_each_rung_at_its_temperature() {
    use langevin::sampler::TemperatureLadder;
    let target = Gaussian::isotropic(4, 0.0, 1.0).expect("valid");
    let ladder = TemperatureLadder::new(1.0, 8.0, 4).expect("valid");
    let (eta, thin) = (0.05, 20);
    for method in [Method::Sgld, Method::sghmc(0.3).expect("valid")] {
        let draws = langevin::Sampler::builder(target.clone())
            .chains(4096)
            .steps(3000)
            .burn_in(1000)
            .thin(thin)
            .step_size(langevin::StepSize::constant(eta).expect("valid"))
            .method(method)
            .temperature_ladder(ladder)
            .seed(31)
            .build()
            .expect("valid")
            .run(common::gpu())
            .expect("run");
        let temperatures = draws.chain_temperatures().expect("a ladder").to_vec();
        let (kept, chains, dim) = draws.shape();
        for rung in 0..4 {
            let temperature = ladder.rung_temperature(rung);
            let members: Vec<usize> = (0..chains)
                .filter(|&c| f64::from(temperatures[c]) == temperature as f32 as f64)
                .collect();
            assert_eq!(members.len(), 1024, "rung {rung}");
            let mut sum = 0.0;
            for i in 0..kept {
                for &c in &members {
                    for d in 0..dim {
                        sum += f64::from(draws.get(i, c, d)).powi(2);
                    }
                }
            }
            let n = (kept * members.len() * dim) as f64;
            let variance = sum / n;
            let (want, tau) = linear_chain(method, eta, 1.0, temperature, thin);
            let tolerance = 5.0 * (2.0 * tau / n).sqrt();
            assert!(
                (variance / want - 1.0).abs() < tolerance,
                "{method:?} rung {rung} (T = {temperature}): variance {variance}, want {want} ± {tolerance}"
            );
            if method == Method::Sgld {
                assert!(
                    (temperature / want - 1.0).abs() > tolerance,
                    "the continuous answer is inside"
                );
            }
        }
        let summary = draws.summary();
        assert_eq!(
            summary.chains, 1024,
            "the summary covers the T = 1 rung only"
        );
    }
}

/// Control variates need a data model whose full-data gradient the CPU can evaluate at θ̂.
#[test]
fn control_variates_are_refused_where_no_full_data_gradient_exists() {
    use langevin::data::Dataset;
    use langevin::model::CustomModel;
    use langevin::sampler::{Centre, ModeSearch};
    let gaussian = Gaussian::isotropic(2, 0.0, 1.0).expect("valid");
    let refused = Centre::at(&gaussian.into(), vec![0.0, 0.0]).expect_err("refused");
    assert!(
        refused.to_string().contains("needs a data model"),
        "{refused}"
    );
    let data = Dataset::from_dense(vec![], 0, vec![0.0, 1.0]).expect("data");
    let wgsl = "fn prior_gradient(d: u32) -> f32 { return theta_at(d); }\n\
                fn likelihood_gradient(row: u32) {}";
    let model = CustomModel::new("no_twin", 1, data, wgsl, Vec::new()).expect("valid");
    let refused = Centre::at(&model.into(), vec![0.0]).expect_err("refused");
    assert!(
        refused.to_string().contains("with_cpu_gradient"),
        "{refused}"
    );
    assert!(ModeSearch::new(0, 1e-3).is_err());
    assert!(ModeSearch::new(10, 0.0).is_err());
}

#[test]
fn an_annealed_temperature_cools_to_the_posterior() {
    use langevin::schedule::TemperatureSchedule;
    let eta = 0.05;
    let draws = langevin::Sampler::builder(Gaussian::isotropic(4, 0.0, 1.0).expect("valid"))
        .chains(2048)
        .steps(1500)
        .burn_in(0)
        .thin(10)
        .step_size(langevin::StepSize::constant(eta).expect("valid"))
        .temperature_schedule(TemperatureSchedule::anneal(9.0, 1.0, 500).expect("valid"))
        .seed(5)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run");
    let (_, chains, dim) = draws.shape();
    let variance_at = |draws_range: std::ops::Range<usize>| {
        let count = draws_range.len() * chains * dim;
        draws_range
            .flat_map(|i| (0..chains).flat_map(move |c| (0..dim).map(move |d| (i, c, d))))
            .map(|(i, c, d)| f64::from(draws.get(i, c, d)).powi(2))
            .sum::<f64>()
            / count as f64
    };
    // Kept draw i is the state after step 10(i + 1) − 1.
    let hot = variance_at(9..11);
    assert!(hot > 3.0, "variance around step 100: {hot}");
    let cooled = variance_at(100..150);
    let (want, tau) = linear_chain(Method::Sgld, eta, 1.0, 1.0, 10);
    let tolerance = 5.0 * (2.0 * tau / (50 * chains * dim) as f64).sqrt();
    assert!(
        (cooled / want - 1.0).abs() < tolerance,
        "variance after annealing {cooled}, want {want} ± {tolerance}"
    );
    for wrong in [1.0, linear_chain(Method::Sgld, eta, 1.0, 1.05, 10).0] {
        assert!(
            (wrong / want - 1.0).abs() > tolerance,
            "{wrong} is inside the band"
        );
    }
}
