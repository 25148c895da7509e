//! SGLD on Gaussian targets: GPU/CPU parity, invariance to how the work is cut up, exact
//! stationary moments of the discretised chain, and pinned draws.

mod common;

use langevin::gpu::RngMultiply;
use langevin::model::Precision;
use langevin::sampler::sgld::{reference_init, reference_step, StepScalars};
use langevin::{Gaussian, Init, Sampler, StepSize, Tuning};

/// Runs one step from `positions` (chain-major) and compares every chain with the CPU reference.
///
/// At `T = 0` the step is pure arithmetic, `θ ← θ − η ∇U(θ)`, and the GPU must agree exactly up
/// to the one freedom Vulkan gives a driver: WGSL's `fma` may be evaluated fused (one rounding)
/// or as a multiply then an add (two), lane by lane (lavapipe does both within one vec4). For a
/// diagonal precision each coordinate must therefore equal one of those two f32 values exactly.
/// A dense row chains D such `fma`s, so there the bound is D + 1 roundings of the largest term.
fn one_step_parity(target: &Gaussian, eta: f64, temperature: f64) {
    let (chains, dim, seed) = (37u32, target.dim(), 99);
    let (positions, draws) = common::one_step_from_random_positions(
        Sampler::builder(target.clone()),
        dim,
        chains,
        11,
        3.0,
        (eta, temperature, seed),
    );
    let scalars = StepScalars::new(eta, temperature);
    let dense = matches!(target.precision(), Precision::Dense(_));
    let mut exact_matches = 0;
    for c in 0..chains as usize {
        let start = positions[c * dim..(c + 1) * dim].to_vec();
        let mut cpu = start.clone();
        let mut gradient = vec![0.0f32; dim];
        target.gradient(&start, &mut gradient);
        reference_step(&mut cpu, &gradient, scalars, seed, c as u32, 0);
        for d in 0..dim {
            let gpu = draws.get(0, c, d);
            exact_matches += usize::from(gpu.to_bits() == cpu[d].to_bits());
            if temperature > 0.0 {
                // The noise term sqrt(2ηT)·ξ carries the GPU's log/sin/cos error, at most about
                // 3·10⁻³ per normal (see the Philox probe test); the drift is exact.
                let tolerance = 3e-3 * scalars.noise_scale + 1e-5;
                assert!(
                    (gpu - cpu[d]).abs() <= tolerance,
                    "chain {c} dim {d}: {gpu} vs {}",
                    cpu[d]
                );
            } else if dense {
                let scale = start[d].abs() + scalars.eta * gradient[d].abs().max(1.0) * 10.0;
                let tolerance = (dim as f32 + 1.0) * f32::EPSILON * scale;
                assert!(
                    (gpu - cpu[d]).abs() <= tolerance,
                    "chain {c} dim {d}: {gpu} vs {}",
                    cpu[d]
                );
            } else {
                let unfused = start[d] + (-scalars.eta) * gradient[d];
                assert!(
                    gpu.to_bits() == cpu[d].to_bits() || gpu.to_bits() == unfused.to_bits(),
                    "chain {c} dim {d}: GPU {gpu}, fused {}, unfused {unfused}",
                    cpu[d]
                );
            }
        }
    }
    // Most coordinates agree to the bit even where the driver may round differently.
    assert!(
        exact_matches * 2 > chains as usize * dim,
        "{exact_matches} exact matches"
    );
}

fn diagonal_target() -> Gaussian {
    Gaussian::diagonal(
        &[1.5, -0.5, 0.0, 2.0, 0.25, -1.0],
        &[4.0, 0.5, 1.0, 10.0, 2.0, 1.5],
    )
    .expect("valid")
}

fn dense_target() -> Gaussian {
    Gaussian::equicorrelated(5, 0.75, 0.5, 0.4).expect("valid")
}

#[test]
fn zero_temperature_step_is_exact_up_to_the_drivers_fma_rounding() {
    one_step_parity(&diagonal_target(), 0.05, 0.0);
    one_step_parity(&dense_target(), 0.05, 0.0);
}

#[test]
fn noisy_step_matches_the_cpu_reference_within_float_tolerance() {
    one_step_parity(&diagonal_target(), 0.05, 1.0);
    one_step_parity(&dense_target(), 0.02, 2.5);
}

#[test]
fn initial_positions_follow_the_init_stream() {
    // T = 0 and a tiny step: the first draw is the GPU's initial position moved by a
    // known drift, which the CPU twin reproduces from its own normals.
    let target = diagonal_target();
    let (chains, scale, seed) = (19u32, 2.0, 5);
    let draws = Sampler::builder(target.clone())
        .chains(chains)
        .steps(1)
        .burn_in(0)
        .temperature(0.0)
        .seed(seed)
        .init(Init::Normal { scale })
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run");
    let scalars = StepScalars::new(1e-3, 0.0);
    for c in 0..chains {
        let mut cpu = reference_init(target.dim(), scale as f32, seed, c);
        let mut gradient = vec![0.0f32; target.dim()];
        target.gradient(&cpu, &mut gradient);
        reference_step(&mut cpu, &gradient, scalars, seed, c, 0);
        for (d, want) in cpu.iter().enumerate() {
            // σ₀ = 2 times the normal's GPU error bound of 3·10⁻³.
            assert!((draws.get(0, c as usize, d) - want).abs() < 6e-3);
        }
    }
}

#[test]
fn per_coordinate_scales_draw_from_the_init_stream() {
    let target = diagonal_target();
    let dim = target.dim();
    let (chains, seed) = (19u32, 5);
    let run = |init: Init| {
        Sampler::builder(target.clone())
            .chains(chains)
            .steps(1)
            .burn_in(0)
            .temperature(0.0)
            .seed(seed)
            .init(init)
            .build()
            .expect("valid")
            .run(common::gpu())
            .expect("run")
    };
    // One σ₀ for every coordinate is `Normal { scale: σ₀ }`, bit for bit.
    assert_eq!(
        run(Init::PerCoordinate(vec![2.0; dim])).values(),
        run(Init::Normal { scale: 2.0 }).values()
    );
    // Scales 0, 0.5, 1, …: each coordinate scaled by its own, as the CPU twin says.
    let scales: Vec<f32> = (0..dim).map(|d| 0.5 * d as f32).collect();
    let init = Init::PerCoordinate(scales.clone());
    let draws = run(init.clone());
    let scalars = StepScalars::new(1e-3, 0.0);
    for c in 0..chains {
        let mut cpu = init.chain_start(dim, seed, c);
        let plain = reference_init(dim, 1.0, seed, c);
        for d in 0..dim {
            assert_eq!(cpu[d], scales[d] * plain[d]);
        }
        let mut gradient = vec![0.0f32; dim];
        target.gradient(&cpu, &mut gradient);
        reference_step(&mut cpu, &gradient, scalars, seed, c, 0);
        for (d, want) in cpu.iter().enumerate() {
            // The largest scale times the normal's GPU error bound of 3·10⁻³.
            let bound = 3e-3 * scales[dim - 1] + 1e-6;
            assert!((draws.get(0, c as usize, d) - want).abs() < bound);
        }
    }
    // A scale per coordinate must be one per coordinate, finite and ≥ 0.
    for bad in [vec![1.0; dim - 1], vec![-1.0; dim], vec![f32::NAN; dim]] {
        let built = Sampler::builder(target.clone())
            .init(Init::PerCoordinate(bad))
            .build();
        assert!(built.is_err());
    }
}

/// The draws must not depend on the workgroup size, on how many steps one dispatch runs, on how
/// many draws one submit holds, or on how Philox multiplies: every random number is keyed by
/// (seed, chain, step, dim). (The default multiply is native 64-bit where the adapter has it,
/// so comparing against `Portable` covers both paths on lavapipe.)
#[test]
fn draws_do_not_depend_on_how_the_work_is_cut_up() {
    // Dispatches a run of 60 steps needs with at most `cap` steps each, ending one wherever a
    // draw is kept (after steps 16, 20, …, 56: burn-in 13, thin 4).
    let dispatches = |cap: u32| {
        let (mut step, mut count) = (0, 0);
        while step < 60 {
            let mut end = step + 1;
            while end < 60 && end - step < cap && !(end > 13 && (end - 13) % 4 == 0) {
                end += 1;
            }
            step = end;
            count += 1;
        }
        count
    };
    for target in [diagonal_target(), dense_target()] {
        let run = |tuning: Tuning| {
            let (draws, report) = Sampler::builder(target.clone())
                .chains(300)
                .steps(60)
                .burn_in(13)
                .thin(4)
                .step_size(StepSize::polynomial(0.05, 10.0, 0.75).expect("valid"))
                .seed(31)
                .tuning(tuning.clone())
                .build()
                .expect("valid")
                .runner(common::gpu())
                .draws_and_report()
                .expect("run");
            // Each knob did its work.
            if let Some(size) = tuning.workgroup_size {
                assert_eq!(report.groups[0].workgroup_size, size, "{tuning:?}");
            }
            let cap = tuning.max_steps_per_dispatch.min(1000);
            assert_eq!(report.dispatches, dispatches(cap), "{tuning:?}");
            if tuning.draws_buffer_bytes == 1 {
                assert!(
                    report.submits >= draws.shape().0,
                    "one draw per submit: {report:?}"
                );
            }
            draws
        };
        let reference = run(Tuning::default());
        for tuning in [
            Tuning {
                workgroup_size: Some(64),
                max_steps_per_dispatch: 1,
                draws_buffer_bytes: 1,
                rng_multiply: RngMultiply::Portable,
                ..Tuning::default()
            },
            Tuning {
                workgroup_size: Some(32),
                max_steps_per_dispatch: 3,
                draws_buffer_bytes: 20_000,
                rng_multiply: RngMultiply::Auto,
                ..Tuning::default()
            },
            Tuning {
                workgroup_size: Some(128),
                max_steps_per_dispatch: 1000,
                draws_buffer_bytes: 1 << 30,
                rng_multiply: RngMultiply::Portable,
                ..Tuning::default()
            },
        ] {
            let other = run(tuning.clone());
            assert_eq!(other.steps(), reference.steps());
            let same = other
                .values()
                .iter()
                .zip(reference.values())
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{tuning:?} changed the draws");
        }
    }
}

#[test]
fn draws_are_kept_at_the_right_steps() {
    let draws = Sampler::builder(diagonal_target())
        .chains(8)
        .steps(3000)
        .burn_in(1000)
        .thin(10)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run");
    assert_eq!(draws.shape(), (200, 8, 6));
    let want: Vec<u32> = (1..=200).map(|i| 1000 + 10 * i).collect();
    assert_eq!(draws.steps(), &want[..]);
}

/// SGLD with full gradient on `N(μ, 1/λ)` is the AR(1) chain `θ' = (1 − ηλ) θ + ηλμ +
/// sqrt(2ηT) ξ`, whose stationary law is `N(μ, T / (λ (1 − ηλ/2)))` exactly. With ηλ up to
/// 0.4 the discretisation inflates the variance by up to 25%, so the test tells the exact
/// discretised answer from the continuous one.
#[test]
fn stationary_moments_match_the_exact_discretised_chain() {
    let precision = [4.0, 1.0, 0.25, 8.0];
    let mean = [1.5, -2.0, 0.0, 0.5];
    let (eta, temperature) = (0.05, 1.0);
    let target = Gaussian::diagonal(&mean, &precision).expect("valid");
    let chains = 4096u32;
    // Slowest dimension: ρ = 1 − ηλ = 0.9875, so 2000 steps of burn-in shrink the initial bias
    // by ρ²⁰⁰⁰ ≈ 10⁻¹¹, and draws 200 steps apart correlate at ρ²⁰⁰ ≈ 0.08 (θ) and ρ⁴⁰⁰ ≈ 0.007 (θ²).
    let draws = Sampler::builder(target.clone())
        .chains(chains)
        .steps(4000)
        .burn_in(2000)
        .thin(200)
        .step_size(StepSize::constant(eta).expect("valid"))
        .temperature(temperature)
        .seed(2011)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run");
    let (n_draws, _, dim) = draws.shape();
    for d in 0..dim {
        let lambda = precision[d];
        let exact_var = temperature / (lambda * (1.0 - eta * lambda / 2.0));
        let values = draws.dimension(d);
        let n = values.len() as f64;
        let m = values.iter().sum::<f64>() / n;
        let v = values.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
        // Chains are independent; within a chain the 10 draws correlate at ≤ 0.08 (θ), which at
        // most inflates the variance of the mean by (1 + 0.08)/(1 − 0.08) ≈ 1.18 for an AR(1);
        // n_eff ≥ n / 1.2. Standard errors: mean √(v/n_eff); variance v·√(2/n_eff).
        let n_eff = n / 1.2;
        let mean_tolerance = 5.0 * (exact_var / n_eff).sqrt();
        let var_tolerance = 5.0 * exact_var * (2.0 / n_eff).sqrt();
        assert!(
            (m - mean[d]).abs() < mean_tolerance,
            "dim {d}: mean {m} vs {}",
            mean[d]
        );
        assert!(
            (v - exact_var).abs() < var_tolerance,
            "dim {d}: var {v} vs exact {exact_var}"
        );
        assert_eq!(n_draws, 10);
    }
    // The continuous-time answer 1/λ for λ = 8 (ηλ = 0.4) lies 25% away: far outside the band.
    let v3 = {
        let values = draws.dimension(3);
        let m = values.iter().sum::<f64>() / values.len() as f64;
        values.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (values.len() as f64 - 1.0)
    };
    assert!(
        (v3 - 1.0 / 8.0).abs() > 0.1 / 8.0,
        "the test would not tell 1/λ from the exact variance"
    );
}

/// A dense (equicorrelated) precision: the pooled covariance matches `T (P − ηP²/2)⁻¹`.
#[test]
fn dense_precision_covariance_matches_the_exact_discretised_chain() {
    let (dim, variance, corr) = (4usize, 0.5, 0.6);
    let target = Gaussian::equicorrelated(dim, -1.0, variance, corr).expect("valid");
    let (eta, temperature) = (0.05, 1.0);
    let exact = target
        .sgld_stationary_covariance(eta, temperature)
        .expect("stable step size");
    let draws = Sampler::builder(target.clone())
        .chains(4096)
        .steps(2400)
        .burn_in(1200)
        .thin(150)
        .step_size(StepSize::constant(eta).expect("valid"))
        .temperature(temperature)
        .seed(77)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run");
    // P's eigenvalues: 1/(v(1−ρ)) = 5 (×3) and 1/(v(1+3ρ)) ≈ 0.71, so the slowest mode has
    // ρ_AR = 1 − 0.05·0.71 ≈ 0.964: 1200 steps of burn-in leave e^(−43) of the start, and draws
    // 150 apart correlate at 0.004. With n = 32768 near-independent points the covariance
    // entries have standard error ≤ √((Σ_ii Σ_jj + Σ_ij²)/n) ≤ √(2/n)·max Σ_ii; five of them.
    let (mean, cov) = common::pooled_moments(draws.values(), dim);
    let n = (draws.values().len() / dim) as f64;
    let max_var = (0..dim).map(|i| exact[i * dim + i]).fold(0.0, f64::max);
    let tolerance = 5.0 * (2.0 / n).sqrt() * max_var;
    for i in 0..dim {
        assert!(
            (mean[i] + 1.0).abs() < 5.0 * (max_var / n).sqrt(),
            "mean {i}: {}",
            mean[i]
        );
        for j in 0..dim {
            let (got, want) = (cov[i * dim + j], exact[i * dim + j]);
            assert!(
                (got - want).abs() < tolerance,
                "Σ[{i}][{j}] = {got}, exact {want}"
            );
        }
    }
}

/// Value stability: these draws for seed 7 are a promise. Floats are compared to 1e-5, the
/// spread of `log`/`sin`/`cos` between adapters on values of order 1.
#[test]
fn first_draws_for_a_fixed_seed_are_pinned() {
    let draws = Sampler::builder(Gaussian::isotropic(3, 1.5, 0.25).expect("valid"))
        .chains(2)
        .steps(3)
        .burn_in(0)
        .step_size(StepSize::constant(0.01).expect("valid"))
        .seed(7)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run");
    let got = draws.values();
    assert_eq!(got.len(), PINNED.len());
    for (g, want) in got.iter().zip(PINNED) {
        assert!((g - want).abs() < 1e-5, "{g} vs {want}");
    }
}
/// Seed 7, three steps of two chains in three dimensions, `[draw][chain][dim]`.
const PINNED: [f32; 18] = [
    0.596_102_3,
    -0.089_949_46,
    -1.004_684_4,
    0.440_424_2,
    0.848_594_67,
    0.422_865_75,
    0.469_922_18,
    -0.230_422_54,
    -0.865_623_06,
    0.319_902_9,
    0.698_575_44,
    0.544_897_5,
    0.308_495_34,
    -0.225_260_47,
    -0.763_215_8,
    0.255_347_9,
    0.687_392_2,
    0.746_409_24,
];

/// A million chains of a small model is an ordinary run. After 200 steps at ηλ = 0.2 the
/// chains are stationary (0.8²⁰⁰ ≈ 10⁻¹⁹), so the last draw of the n = 2²⁰ independent chains
/// estimates the mean within 5·sqrt(v/n) ≈ 0.0033 (v = 0.556) and the variance within
/// 5·v·sqrt(2/n) = 0.69% of v; the continuous-time variance 1/λ (10% lower) is far outside.
#[test]
fn a_million_chains_run() {
    let chains = 1u32 << 20;
    let (eta, lambda) = (0.1, 2.0);
    let draws = Sampler::builder(Gaussian::isotropic(2, -1.0, 1.0 / lambda).expect("valid"))
        .chains(chains)
        .steps(200)
        .burn_in(199)
        .step_size(StepSize::constant(eta).expect("valid"))
        .seed(1_000_000)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run");
    assert_eq!(draws.shape(), (1, chains as usize, 2));
    let exact_var = 1.0 / (lambda * (1.0 - eta * lambda / 2.0));
    let (mean, cov) = common::pooled_moments(draws.values(), 2);
    let n = f64::from(chains);
    for d in 0..2 {
        assert!(
            (mean[d] + 1.0).abs() < 5.0 * (exact_var / n).sqrt(),
            "mean {}",
            mean[d]
        );
        let var = cov[d * 2 + d];
        assert!(
            (var - exact_var).abs() < 5.0 * exact_var * (2.0 / n).sqrt(),
            "var {var}"
        );
    }
    assert_eq!(draws.summary().divergent_chains, 0);
}

/// Past the stability limit (ηλ = 2.4 > 2) every chain grows by |1 − ηλ| = 1.4 per step and
/// overflows f32 within 300 steps; the summary counts them all as divergent instead of failing.
#[test]
fn divergent_chains_are_counted() {
    let draws = Sampler::builder(Gaussian::isotropic(2, 0.0, 0.25).expect("valid"))
        .chains(64)
        .steps(400)
        .burn_in(390)
        .step_size(StepSize::constant(0.6).expect("valid"))
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("a diverging run still completes");
    let summary = draws.summary();
    assert_eq!(summary.divergent_chains, 64);
    assert!((0..64).all(|c| draws.is_divergent(c)));
}

/// A dispatch of many steps must equal the same steps one dispatch each, even where one
/// invocation runs many loop iterations (llvmpipe silently ends loops past 65535 iterations
/// per invocation; the driver cuts dispatches on software adapters to stay clear of that).
#[test]
fn long_dispatches_match_single_step_dispatches() {
    let target = Gaussian::equicorrelated(20, 0.5, 1.0, 0.3).expect("valid");
    let run = |max_steps_per_dispatch| {
        Sampler::builder(target.clone())
            .chains(8)
            .steps(300)
            .burn_in(299)
            .step_size(StepSize::constant(0.01).expect("valid"))
            .seed(9)
            .tuning(Tuning {
                max_steps_per_dispatch,
                ..Tuning::default()
            })
            .build()
            .expect("valid")
            .run(common::gpu())
            .expect("run")
    };
    assert_eq!(run(1).values(), run(1000).values());
}
