//! SGLD in a dense metric: the kernels against the CPU twin, the exact stationary covariance
//! on a Gaussian, the a9a posterior against the HMC reference with agreeing chains, and what
//! it refuses.

mod common;

use langevin::model::Target;
use langevin::sampler::preconditioner::reference_step;
use langevin::sampler::sgld::StepScalars;
use langevin::sampler::{newton_mode, Centre, Method, Preconditioner};
use langevin::{DataPath, Gaussian, Init, Regression, Sampler, StepSize, Tuning};

/// A dense covariance with condition number ~10⁴ (variances 10⁻² … 10², correlations 0.6),
/// the shape a9a's posterior has: the slowest direction of plain SGLD is 10⁴× slower.
fn stiff_gaussian(dim: usize) -> (Gaussian, Vec<f64>) {
    let variance: Vec<f64> = (0..dim)
        .map(|d| 10f64.powf(-2.0 + 4.0 * d as f64 / (dim - 1) as f64))
        .collect();
    let mean: Vec<f64> = (0..dim).map(|d| 0.5 * d as f64 - 1.0).collect();
    let target = Gaussian::correlated(&mean, &variance, 0.6).expect("valid");
    let covariance = target.covariance();
    (target, covariance)
}

/// One step from random positions against [`reference_step`]. The twin runs the kernel's
/// operations in its order, so at T = 0 they differ only by the driver's fma contraction: at
/// most one rounding per multiply-add, 2D of them, of terms no larger than the row's
/// |L|·|Lᵀ g| sums. With noise each normal also carries up to 3·10⁻³ of log/sin/cos error
/// (the Philox probe test), carried through L: 3·10⁻³·s·Σ_i |L_di| bounds it.
fn one_step_parity(target: Target, preconditioner: &Preconditioner, eta: f64, temperature: f64) {
    let (chains, dim, seed) = (21u32, target.dim(), 31);
    let (positions, draws) = common::one_step_from_random_positions(
        Sampler::builder(target.clone()).preconditioner(preconditioner.clone()),
        dim,
        chains,
        5,
        1.5,
        (eta, temperature, seed),
    );
    let scalars = StepScalars::new(eta, temperature);
    let factor = preconditioner.factor();
    for c in 0..chains as usize {
        let start = &positions[c * dim..(c + 1) * dim];
        let gradient = full_gradient(&target, start);
        let mut cpu = start.to_vec();
        reference_step(
            &mut cpu,
            &gradient,
            preconditioner,
            scalars,
            seed,
            c as u32,
            0,
        );
        for d in 0..dim {
            let row: f32 = factor[d * dim..(d + 1) * dim].iter().map(|l| l.abs()).sum();
            let drift = scalars.eta * gradient.iter().map(|g| g.abs()).sum::<f32>();
            let rounding = 2.0 * dim as f32 * f32::EPSILON * row * (drift + 1.0);
            let tolerance =
                rounding + 3e-3 * scalars.noise_scale * row + 2.0 * f32::EPSILON * start[d].abs();
            let gpu = draws.get(0, c, d);
            assert!(
                (gpu - cpu[d]).abs() <= tolerance,
                "chain {c} dim {d}: GPU {gpu}, CPU {} (tolerance {tolerance})",
                cpu[d]
            );
        }
    }
}

/// The twins' full-batch gradient `∇U(θ)` for one chain.
fn full_gradient(target: &Target, theta: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; target.dim()];
    match target {
        Target::Gaussian(g) => g.gradient(theta, &mut out),
        Target::Regression(r) => {
            let rows: Vec<u32> = (0..r.data().rows() as u32).collect();
            r.gradient(theta, &rows, &mut out);
        }
        _ => unreachable!("only Gaussians and regressions here"),
    }
    out
}

#[test]
fn one_step_in_a_dense_metric_matches_the_cpu_twin() {
    // D = 7 leaves a partial block of four; D = 9 a partial block past two full ones.
    for dim in [7, 9] {
        let (target, covariance) = stiff_gaussian(dim);
        let metric = Preconditioner::from_covariance(&covariance, dim).expect("valid");
        one_step_parity(target.clone().into(), &metric, 0.1, 0.0);
        one_step_parity(target.into(), &metric, 0.1, 1.0);
    }
    // A logistic regression on data runs the data kernel's move; its metric is the Hessian
    // at a point (any point: the move is the same arithmetic).
    let data = common::a9a().head(300);
    let model = Regression::logistic(data, 1.0).expect("valid");
    let target: Target = model.into();
    let theta = vec![0.05f32; target.dim()];
    let metric = Preconditioner::at(&target, &theta).expect("positive definite");
    one_step_parity(target.clone(), &metric, 0.2, 0.0);
    one_step_parity(target, &metric, 0.2, 1.0);
}

/// With `L = I` the metric's move is SGLD's: the same noise, the same drift, up to the
/// rounding of `θ + (sξ − ηg)` against `θ − ηg + sξ`.
#[test]
fn the_identity_metric_moves_as_sgld() {
    let (target, _) = stiff_gaussian(6);
    let identity: Vec<f64> = (0..36)
        .map(|k| if k % 7 == 0 { 1.0 } else { 0.0 })
        .collect();
    let run = |metric: Option<Preconditioner>| {
        let mut builder = Sampler::builder(target.clone())
            .chains(64)
            .steps(40)
            .burn_in(0)
            .thin(8)
            .step_size(StepSize::constant(0.004).expect("valid"))
            .seed(3);
        if let Some(metric) = metric {
            builder = builder.preconditioner(metric);
        }
        common::run(builder)
    };
    let plain = run(None);
    let metric = run(Some(
        Preconditioner::from_covariance(&identity, 6).expect("valid"),
    ));
    for (a, b) in plain.values().iter().zip(metric.values()) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{a} vs {b}");
    }
}

/// In the metric `M = Σ` of a Gaussian with covariance `Σ`, the chain is SGLD on `N(·, I)` in
/// `z = L⁻¹θ`, so its stationary covariance is `Σ / (1 − η/2)` exactly. The check is in `z`,
/// where every direction has unit scale: with n near-independent points each covariance
/// entry has standard error ≤ √(2/n)·1.03; the band is five of them. η = 0.2 relaxes in
/// ~1/η = 5 steps: 200 steps of burn-in leave e^(−40) of the start, and draws 40 steps apart
/// correlate at 0.9⁴⁰ ≈ 0.015.
///
/// Plain SGLD on the same target for the same steps, at half its stability limit 2/λ_max, is
/// the negative control: its slowest direction relaxes over ~10⁴ steps, so it fails the same
/// check.
#[test]
fn in_the_gaussians_own_metric_the_stationary_covariance_is_exact() {
    let dim = 6;
    let (target, covariance) = stiff_gaussian(dim);
    let metric = Preconditioner::from_covariance(&covariance, dim).expect("valid");
    let eta = 0.2;
    let whitened_error = |draws: &langevin::Draws| -> f64 {
        let l = metric.factor();
        let values: Vec<f32> = draws
            .values()
            .chunks_exact(dim)
            .flat_map(|theta| {
                // z = L⁻¹ (θ − μ) by forward substitution, in f64.
                let mut z = vec![0.0f64; dim];
                for i in 0..dim {
                    let centred = f64::from(theta[i]) - target.mean()[i];
                    let dot: f64 = (0..i).map(|k| f64::from(l[i * dim + k]) * z[k]).sum();
                    z[i] = (centred - dot) / f64::from(l[i * dim + i]);
                }
                z.into_iter().map(|v| v as f32)
            })
            .collect();
        let (mean, cov) = common::pooled_moments(&values, dim);
        let want = 1.0 / (1.0 - eta / 2.0);
        let mut worst = mean.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for i in 0..dim {
            for j in 0..dim {
                let expected = if i == j { want } else { 0.0 };
                worst = worst.max((cov[i * dim + j] - expected).abs());
            }
        }
        worst
    };
    let run = |builder: langevin::sampler::SamplerBuilder| {
        common::run(
            builder
                .chains(2048)
                .steps(1000)
                .burn_in(200)
                .thin(40)
                .seed(17),
        )
    };
    let draws = run(Sampler::builder(target.clone())
        .step_size(StepSize::constant(eta).expect("valid"))
        .preconditioner(metric.clone()));
    let n = (draws.values().len() / dim) as f64;
    let band = 5.0 * (2.0 / n).sqrt() * 1.03;
    let error = whitened_error(&draws);
    assert!(
        error < band,
        "worst whitened moment error {error}, band {band}"
    );
    let stiffest = target.max_curvature_bound();
    let plain = run(Sampler::builder(target.clone())
        .step_size(StepSize::constant(1.0 / stiffest).expect("valid")));
    let plain_error = whitened_error(&plain);
    assert!(
        plain_error > band,
        "plain SGLD should not have mixed in 1000 steps, yet its error is {plain_error}"
    );
}

/// The README's main job in miniature: a9a, prior N(0, I), batches of 500, control variates
/// and the Laplace metric at the mode Newton finds. Against the long full-batch HMC
/// reference (`tests/fixtures/a9a_logistic_reference.json`), and with overdispersed starts
/// (the prior), the chains must agree: max split R-hat < 1.05, which plain SGLD at a stable
/// step needs ~8·10⁵ steps for (README). Means: within 0.25 reference sd of the reference
/// (the reference's own MCSE is ≤ 0.03 sd; ours, from 128 chains × 200 draws with bulk ESS
/// ≥ 2000, ≤ 0.03 sd; the rest is SGLD's bias, measured ≤ 0.04 sd in a NumPy twin of this
/// run). Sds: between 0.9 and 1.15 of the reference's. η = 0.05 widens every whitened
/// direction by 1/√(1 − η/2) = 1.013, and the control variate's mini-batch noise adds most
/// to the rarest features: the NumPy twin measured 0.99–1.09 with batches of 400, and
/// 0.99–1.28 with batches of 100 (coefficient 113, a feature in 13 of 32561 rows) — which
/// is why the batch is 500.
#[test]
fn on_a9a_the_laplace_metric_with_control_variates_matches_the_reference_and_mixes() {
    let target: Target = Regression::logistic(common::a9a(), 1.0)
        .expect("valid")
        .into();
    let mode = newton_mode(&target, &vec![0.0; target.dim()]).expect("mode");
    let metric = Preconditioner::at(&target, &mode).expect("positive definite");
    let centre = Centre::at(&target, mode).expect("centre");
    let draws = common::run(
        Sampler::builder(target)
            .chains(128)
            .steps(3000)
            .burn_in(1000)
            .thin(10)
            .step_size(StepSize::constant(0.05).expect("valid"))
            .minibatch(common::batch(500, false, true))
            .init(Init::Normal { scale: 1.0 })
            .control_variate(centre)
            .preconditioner(metric)
            .seed(5),
    );
    let summary = draws.summary();
    let worst_rhat = summary.rhat.iter().fold(0.0f64, |m, &r| m.max(r));
    assert!(worst_rhat < 1.05, "max R-hat {worst_rhat}");
    let reference = common::a9a_reference(1.0);
    for d in 0..summary.dim {
        let sd = reference.sd[d];
        assert!(
            (summary.mean[d] - reference.mean[d]).abs() < 0.25 * sd,
            "coefficient {d}: mean {} against the reference's {} (sd {sd})",
            summary.mean[d],
            reference.mean[d]
        );
        let ratio = summary.sd[d] / sd;
        assert!(
            (0.9..1.15).contains(&ratio),
            "coefficient {d}: sd {} is {ratio:.3} of the reference's",
            summary.sd[d]
        );
    }
}

/// The staged and register paths step a dense metric with control variates as the global
/// path does: the same arithmetic in the same order (the register kernel's products also run
/// over the triangles' zeros, which add exact zeros), so the draws agree to the drivers' fma
/// contraction — 1e-5 relative over 40 steps — for shared batches with and without
/// replacement and per-chain batches, with synthetic gradient noise and a temperature ladder.
/// 67 chains give the register kernel one chain per invocation; 1030 give it four (the
/// software adapter keeps 256 invocations busy), the last invocation two.
#[test]
fn every_data_path_steps_a_dense_metric_with_control_variates_like_the_global_path() {
    use langevin::sampler::TemperatureLadder;
    let data = common::a9a().head(2000);
    let target: Target = Regression::logistic(data, 1.0).expect("valid").into();
    let mode = newton_mode(&target, &vec![0.0; target.dim()]).expect("mode");
    let metric = Preconditioner::at(&target, &mode).expect("positive definite");
    let centre = Centre::at(&target, mode).expect("centre");
    let cases = [
        (
            common::batch(50, false, true),
            &[DataPath::Staged, DataPath::Register][..],
        ),
        (
            common::batch(50, false, false),
            &[DataPath::Staged, DataPath::Register][..],
        ),
        (common::batch(20, true, true), &[DataPath::Register][..]),
    ];
    let shared = common::batch(50, false, true);
    let cases = cases
        .into_iter()
        .map(|(batch, paths)| (67, batch, paths))
        .chain([(1030, shared, &[DataPath::Register][..])]);
    for (noise, ladder) in [(0.0, false), (0.5, true)] {
        for (chains, batch, paths) in cases.clone() {
            let run = |data_path: DataPath| {
                let mut builder = Sampler::builder(target.clone())
                    .chains(chains)
                    .steps(40)
                    .burn_in(20)
                    .thin(10)
                    .step_size(StepSize::constant(0.05).expect("valid"))
                    .minibatch(batch)
                    .init(Init::Normal { scale: 0.5 })
                    .control_variate(centre.clone())
                    .preconditioner(metric.clone())
                    .gradient_noise(noise)
                    .seed(8)
                    .tuning(Tuning {
                        data_path,
                        ..Tuning::default()
                    });
                if ladder {
                    builder = builder
                        .temperature_ladder(TemperatureLadder::new(1.0, 4.0, 4).expect("valid"));
                }
                common::run(builder)
            };
            let global = run(DataPath::Global);
            for &path in paths {
                let other = run(path);
                for (a, b) in other.values().iter().zip(global.values()) {
                    assert!(
                        (a - b).abs() <= 1e-5 * a.abs().max(1.0),
                        "{path:?}, {chains} chains, {batch:?}, noise {noise}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_dense_metric_refuses_what_it_cannot_run() {
    let (target, covariance) = stiff_gaussian(5);
    let metric = Preconditioner::from_covariance(&covariance, 5).expect("valid");
    let refused = |builder: langevin::sampler::SamplerBuilder, words: &str| {
        let message = match builder.build() {
            Ok(sampler) => sampler
                .run(common::gpu())
                .map(|_| ())
                .expect_err("refused")
                .to_string(),
            Err(error) => error.to_string(),
        };
        assert!(message.contains(words), "{message}");
    };
    let builder = || Sampler::builder(target.clone()).chains(4).steps(10);
    refused(
        builder()
            .method(Method::psgld())
            .preconditioner(metric.clone()),
        "a dense metric is for SGLD",
    );
    let (other, other_covariance) = stiff_gaussian(4);
    refused(
        Sampler::builder(other)
            .preconditioner(metric.clone())
            .chains(4)
            .steps(10),
        "the metric has 5 dimensions; the model has 4",
    );
    let _ = other_covariance;
    let data = common::a9a().head(200);
    let logistic: Target = Regression::logistic(data, 1.0).expect("valid").into();
    let mode = vec![0.0f32; logistic.dim()];
    refused(
        Sampler::builder(logistic.clone())
            .chains(4)
            .steps(10)
            .preconditioner(Preconditioner::at(&logistic, &mode).expect("valid"))
            .tuning(Tuning {
                data_path: DataPath::Fused,
                ..Tuning::default()
            }),
        "nor a dense metric",
    );
    // Networks run their own kernels, and their parameters are too many for D² work a step.
    let network = langevin::model::Network::new(
        common::a9a().head(50),
        langevin::model::NetworkSpec {
            hidden: vec![2],
            activation: langevin::model::Activation::Relu,
            output: langevin::model::Output::Bernoulli,
            prior: langevin::model::Prior::Isotropic { variance: 1.0 },
        },
    )
    .expect("network");
    let dim = Target::from(network.clone()).dim();
    let identity: Vec<f64> = (0..dim * dim)
        .map(|k| if k % (dim + 1) == 0 { 1.0 } else { 0.0 })
        .collect();
    refused(
        Sampler::builder(network.clone())
            .chains(4)
            .steps(10)
            .preconditioner(Preconditioner::from_covariance(&identity, dim).expect("valid")),
        "not networks",
    );
    let message = Preconditioner::at(&network.into(), &vec![0.0; dim])
        .expect_err("refused")
        .to_string();
    assert!(message.contains("networks are too large"), "{message}");
    // Matrices that are not metrics.
    let not = |matrix: &[f64], dim: usize, words: &str| {
        let message = Preconditioner::from_covariance(matrix, dim)
            .expect_err("refused")
            .to_string();
        assert!(message.contains(words), "{message}");
    };
    not(&[1.0, 2.0, 2.0, 1.0], 2, "not positive definite");
    not(&[1.0, 0.5, 0.4, 1.0], 2, "not symmetric");
    not(&[1.0, 0.0, 0.0], 2, "a 2 × 2 matrix has 4");
    not(&[1.0, f64::NAN, f64::NAN, 1.0], 2, "is NaN");
    let message = Preconditioner::at(&logistic, &[0.0; 3])
        .expect_err("refused")
        .to_string();
    assert!(message.contains("θ has 3 values"), "{message}");
}
