//! Running statistics kept on the GPU and divergence handling: the GPU's per-chain means and
//! variances agree with the draws, a summary needs no draws, and a chain that diverges is
//! flagged while every other chain draws exactly what it draws in a run without it.

mod common;

use langevin::model::toys::double_well;
use langevin::sampler::{DivergencePolicy, Method, TemperatureLadder};
use langevin::{Gaussian, Init, Sampler, StepSize};

#[test]
fn running_statistics_agree_with_the_draws() {
    let gpu = common::gpu();
    let sampler = Sampler::builder(Gaussian::isotropic(3, 0.5, 2.0).expect("valid"))
        .chains(96)
        .steps(2000)
        .burn_in(500)
        .thin(5)
        .step_size(StepSize::constant(0.05).expect("valid"))
        .method(Method::sghmc(0.3).expect("valid"))
        .temperature_ladder(TemperatureLadder::new(1.0, 4.0, 3).expect("valid"))
        .build()
        .expect("valid");
    let (draws, report) = sampler.runner(gpu).draws_and_report().expect("run");
    let statistics = &report.statistics;
    let (kept, chains, dim) = draws.shape();
    assert_eq!(statistics.shape(), (chains, dim));
    // f32 Welford over 300 draws against f64 two-pass sums: rounding of ~1e-7 per update
    // grows to ~1e-6 relative; 1e-4 of the variance leaves a wide margin and still catches a
    // wrong divisor (1/300) or a missed draw.
    for c in 0..chains {
        assert_eq!(statistics.count(c) as usize, kept);
        for d in 0..dim {
            let values: Vec<f64> = (0..kept).map(|i| f64::from(draws.get(i, c, d))).collect();
            let mean = values.iter().sum::<f64>() / kept as f64;
            let variance =
                values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (kept as f64 - 1.0);
            let scale = variance.sqrt();
            assert!(
                (statistics.mean(c, d) - mean).abs() < 1e-4 * scale,
                "chain {c} dim {d}"
            );
            assert!(
                (statistics.variance(c, d) / variance - 1.0).abs() < 1e-4,
                "chain {c} dim {d}: {} vs {variance}",
                statistics.variance(c, d)
            );
        }
    }
    // The summary covers the T = 1 rung, like the draws' summary.
    let moments = statistics.summary();
    let from_draws = draws.summary();
    assert_eq!(moments.chains, from_draws.chains);
    for d in 0..dim {
        assert!((moments.mean[d] - from_draws.mean[d]).abs() < 1e-4 * from_draws.sd[d]);
        assert!((moments.sd[d] / from_draws.sd[d] - 1.0).abs() < 1e-4);
        assert!(
            moments.rhat[d] > 0.99 && moments.rhat[d] < 1.05,
            "{:?}",
            moments.rhat
        );
    }
    assert_eq!(moments.divergent_chains, 0);

    // Nested R-hat from the GPU's moments equals the one from the T = 1 chains' draws (4
    // superchains of 8 chains), within the f32 moments' rounding.
    let cold = draws.posterior_chains();
    for (d, nested) in statistics.nested_rhat(4).into_iter().enumerate() {
        let values: Vec<f64> = (0..kept)
            .flat_map(|i| cold.iter().map(move |&c| (i, c)))
            .map(|(i, c)| f64::from(draws.get(i, c, d)))
            .collect();
        let want = langevin::diagnostics::nested_rhat(&values, kept, cold.len(), 4);
        assert!(
            (nested / want - 1.0).abs() < 1e-4,
            "dim {d}: {nested} vs {want}"
        );
    }
}

/// The double well's gradient 4θ³ − 4θ overflows f32 from θ ≈ 4e12: a chain started at 1e13
/// is infinite after its first step.
fn double_well_run(policy: DivergencePolicy, bad_start: f32) -> Sampler {
    let mut positions: Vec<f32> = (0..16).map(|c| (c as f32 - 8.0) * 0.1).collect();
    positions[5] = bad_start;
    Sampler::builder(double_well().expect("valid"))
        .chains(16)
        .steps(300)
        .burn_in(0)
        .thin(3)
        .step_size(StepSize::constant(0.01).expect("valid"))
        .init(Init::Positions(positions))
        .divergence(policy)
        .build()
        .expect("valid")
}

#[test]
fn a_divergent_chain_is_flagged_and_the_others_are_untouched() {
    let gpu = common::gpu();
    let (healthy, _) = double_well_run(DivergencePolicy::Freeze, 0.5)
        .runner(gpu)
        .draws_and_report()
        .expect("run");
    for policy in [DivergencePolicy::Freeze, DivergencePolicy::Reset] {
        let (draws, report) = double_well_run(policy, 1e13)
            .runner(gpu)
            .draws_and_report()
            .expect("run");
        let divergences = report.statistics.divergences();
        assert_eq!(divergences.len(), 1, "{policy:?}: {divergences:?}");
        assert_eq!(divergences[0].chain, 5);
        // Found at the first kept draw, after 3 updates.
        assert_eq!(divergences[0].first_step, 3, "{policy:?}");
        let (kept, chains, _) = draws.shape();
        for c in (0..chains).filter(|&c| c != 5) {
            for i in 0..kept {
                assert_eq!(
                    draws.get(i, c, 0).to_bits(),
                    healthy.get(i, c, 0).to_bits(),
                    "{policy:?}: chain {c} draw {i} changed"
                );
            }
        }
        let summary = report.statistics.summary();
        match policy {
            DivergencePolicy::Freeze => {
                // Excluded from the statistics; its draws keep what it computed.
                assert_eq!(summary.chains, 15);
                assert_eq!(divergences[0].count, 1);
                assert!(draws.is_divergent(5));
                assert_eq!(draws.summary().divergent_chains, 1);
            }
            DivergencePolicy::Reset => {
                // Every stretch diverges again and is rejected: the chain stays at its last
                // finite state, its start, and its draws say so.
                assert_eq!(divergences[0].count as usize, kept);
                assert!((0..kept).all(|i| draws.get(i, 5, 0) == 1e13));
                assert!(!draws.is_divergent(5));
                assert_eq!(summary.chains, 16);
            }
        }
        // The running mean covers exactly the chains the policy keeps: the 15 healthy ones
        // under freeze, all 16 under reset (chain 5 held at its start).
        let counted: Vec<usize> = match policy {
            DivergencePolicy::Freeze => (0..chains).filter(|&c| c != 5).collect(),
            DivergencePolicy::Reset => (0..chains).collect(),
        };
        let pooled = counted
            .iter()
            .flat_map(|&c| (0..kept).map(move |i| (i, c)))
            .map(|(i, c)| f64::from(draws.get(i, c, 0)))
            .sum::<f64>()
            / (counted.len() * kept) as f64;
        assert!(
            (summary.mean[0] - pooled).abs() <= 1e-5 * pooled.abs().max(1.0),
            "{policy:?}: running mean {} vs the kept chains' {pooled}",
            summary.mean[0]
        );
    }
}

/// A statistics-only run keeps no draw and reports exactly the running statistics of the same
/// run with its draws read back.
#[test]
fn a_statistics_only_run_reports_what_a_full_run_does() {
    let sampler = Sampler::builder(langevin::Gaussian::isotropic(3, 0.5, 2.0).expect("valid"))
        .chains(128)
        .steps(300)
        .thin(3)
        .step_size(StepSize::constant(0.05).expect("valid"))
        .seed(8)
        .build()
        .expect("valid");
    let (_, full) = sampler
        .runner(common::gpu())
        .draws_and_report()
        .expect("run");
    let only = sampler.runner(common::gpu()).statistics().expect("run");
    assert_eq!(only.statistics, full.statistics);
    assert_eq!(only.draws_delivered, 0, "no draw was read back");
    assert_eq!(full.draws_delivered, 50);
}

/// Under the freeze policy a submit's kept draws are folded by one statistics dispatch after
/// its steps; under reset, each right after the step that kept it. Without a divergence the
/// two policies do the same arithmetic, so the statistics must agree bit for bit.
#[test]
fn statistics_folded_per_submit_equal_those_folded_per_draw() {
    let gpu = common::gpu();
    let run = |policy| {
        Sampler::builder(Gaussian::isotropic(5, 0.5, 2.0).expect("valid"))
            .chains(40)
            .steps(400)
            .burn_in(100)
            .thin(3)
            .step_size(StepSize::constant(0.05).expect("valid"))
            .method(Method::psgld())
            .divergence(policy)
            .seed(12)
            .build()
            .expect("valid")
            .runner(gpu)
            .statistics()
            .expect("run")
    };
    let freeze = run(DivergencePolicy::Freeze);
    let reset = run(DivergencePolicy::Reset);
    assert_eq!(freeze.statistics, reset.statistics);
}

/// A chain that diverges a few draws into a submit: folded per submit, its first divergent
/// step is still the step after the first draw that holds a non-finite value (with a thin of
/// 3, so that a fold that lost the draws' spacing would name another step).
#[test]
fn a_divergence_inside_a_submit_names_its_step() {
    let gpu = common::gpu();
    // 4θ³ − 4θ from θ = 30 grows the chain cubically: it leaves f32 after a few steps.
    let sampler = double_well_run(DivergencePolicy::Freeze, 30.0);
    let (draws, report) = sampler.runner(gpu).draws_and_report().expect("run");
    let first_bad = (0..draws.shape().0)
        .find(|&i| !draws.get(i, 5, 0).is_finite())
        .expect("chain 5 diverges");
    assert!(
        first_bad >= 1,
        "diverged at the first draw: the test needs a later one"
    );
    let divergences = report.statistics.divergences();
    assert_eq!(divergences.len(), 1, "{divergences:?}");
    assert_eq!(divergences[0].chain, 5);
    // Draw i is taken after 3(i + 1) updates (thin 3).
    assert_eq!(divergences[0].first_step as usize, 3 * (first_bad + 1));
}
