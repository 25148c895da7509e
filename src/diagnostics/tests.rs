//! The diagnostics against ArviZ's numbers (fixtures in `tests/fixtures/diagnostics/`) and
//! the nested R-hat against an independent NumPy implementation.

use super::autocov::{inverse_normal_cdf, next_fast_len};
use super::*;
use std::path::{Path, PathBuf};

/// The fixtures beside the sources, or under the working directory when the test binary
/// was built elsewhere (as on a GPU machine that runs staged binaries from the repo root).
fn fixture_dir() -> PathBuf {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnostics");
    if built.is_dir() {
        built
    } else {
        PathBuf::from("tests/fixtures/diagnostics")
    }
}

/// Reads a JSON number, or one of the strings "nan", "inf", "-inf".
fn json_f64(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::String(s) => match s.as_str() {
            "nan" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => panic!("unexpected string {other:?}"),
        },
        other => other.as_f64().expect("number"),
    }
}

fn assert_close(name: &str, what: &str, got: f64, want: f64, rel_tol: f64) {
    let ok = if want.is_nan() {
        got.is_nan()
    } else if want.is_infinite() {
        got == want
    } else {
        (got - want).abs() <= rel_tol * want.abs()
    };
    assert!(
        ok,
        "{name}: {what} = {got:.17e}, ArviZ gives {want:.17e} (rel. diff {:.3e})",
        ((got - want) / want).abs()
    );
}

/// A fixture case's draws (draw-major) with its draw and chain counts, checked against
/// the NPY file's shape.
fn fixture_case(
    dir: &std::path::Path,
    name: &str,
    case: &serde_json::Value,
) -> Result<(Vec<f64>, usize, usize), Box<dyn std::error::Error>> {
    let file = case["file"].as_str().expect("file name");
    let npy = npyz::NpyFile::new(std::fs::File::open(dir.join(file))?)?;
    let draws = case["draws"].as_u64().expect("draws") as usize;
    let chains = case["chains"].as_u64().expect("chains") as usize;
    assert_eq!(npy.shape(), &[draws as u64, chains as u64], "{name}: shape");
    Ok((npy.into_vec::<f64>()?, draws, chains))
}

#[test]
fn matches_arviz_fixtures() -> Result<(), Box<dyn std::error::Error>> {
    // Same algorithm in float64 as ArviZ; results differ only through FFT
    // rounding, summation order and the last bits of Φ⁻¹, all ~1e-15 relative,
    // so 1e-8 leaves a wide margin while still catching any definitional slip.
    const REL_TOL: f64 = 1e-8;
    let dir = fixture_dir();
    let expected: serde_json::Value =
        serde_json::from_reader(std::fs::File::open(dir.join("expected.json"))?)?;
    let cases = expected["cases"].as_object().expect("cases object");
    assert!(cases.len() >= 5, "too few fixture cases");
    for (name, case) in cases {
        let (values, draws, chains) = fixture_case(&dir, name, case)?;

        let checks = [
            ("rhat", rhat(&values, draws, chains)),
            ("ess_bulk", ess_bulk(&values, draws, chains)),
            ("ess_tail", ess_tail(&values, draws, chains)),
        ];
        for (what, got) in checks {
            assert_close(name, what, got, json_f64(&case[what]), REL_TOL);
        }
    }
    Ok(())
}

/// Deterministic standard normals: SplitMix64 and Box–Muller.
struct Normals(u64);

impl Normals {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn matrix(&mut self, draws: usize, chains: usize) -> Vec<f64> {
        (0..draws * chains).map(|_| self.normal()).collect()
    }
}

#[test]
fn iid_draws_have_ess_near_draw_count() {
    let (draws, chains) = (1000, 4);
    let values = Normals(7).matrix(draws, chains);
    let total = (draws * chains) as f64;
    let r = rhat(&values, draws, chains);
    let bulk = ess_bulk(&values, draws, chains);
    let tail = ess_tail(&values, draws, chains);
    assert!((0.99..1.01).contains(&r), "rhat {r}");
    assert!((0.85 * total..1.15 * total).contains(&bulk), "bulk {bulk}");
    assert!((0.75 * total..1.25 * total).contains(&tail), "tail {tail}");
}

#[test]
fn autocorrelated_draws_have_smaller_ess() {
    // AR(1) with ρ = 0.8: ESS ≈ N (1 − ρ)/(1 + ρ) = N/9.
    let (draws, chains, rho) = (2000, 4, 0.8);
    let mut normals = Normals(11);
    let mut values = vec![0.0; draws * chains];
    for c in 0..chains {
        let mut x = normals.normal() / (1.0f64 - rho * rho).sqrt();
        for i in 0..draws {
            values[i * chains + c] = x;
            x = rho * x + normals.normal();
        }
    }
    let expected = (draws * chains) as f64 / 9.0;
    let bulk = ess_bulk(&values, draws, chains);
    assert!(
        (0.7 * expected..1.3 * expected).contains(&bulk),
        "bulk {bulk}, expected about {expected}"
    );
}

#[test]
fn shifted_chain_raises_rhat() {
    let (draws, chains) = (200, 4);
    let mut values = Normals(3).matrix(draws, chains);
    for i in 0..draws {
        values[i * chains + 2] += 3.0;
    }
    assert!(rhat(&values, draws, chains) > 1.3);
}

#[test]
fn rhat_and_ess_bulk_equal_the_separate_functions() {
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    let mut shifted = Normals(5).matrix(101, 6);
    for i in 0..101 {
        shifted[i * 6 + 1] += 2.0;
    }
    let cases: Vec<(Vec<f64>, usize, usize)> = vec![
        (Normals(13).matrix(200, 4), 200, 4),
        // Odd draws (the middle draw is dropped), a shifted chain, ties, one chain, a NaN.
        (shifted, 101, 6),
        ((0..40).map(|i| f64::from(i % 3)).collect(), 10, 4),
        (Normals(17).matrix(50, 1), 50, 1),
        ([vec![f64::NAN], vec![0.0; 39]].concat(), 10, 4),
        (vec![2.5; 204], 51, 4),
    ];
    // One workspace carried through every case, as a summary thread carries it from one
    // dimension to the next: what a larger quantity left in its buffers must not matter.
    let mut shared = Workspace::default();
    for (values, draws, chains) in cases {
        let (want_r, want_ess) = (
            rhat(&values, draws, chains),
            ess_bulk(&values, draws, chains),
        );
        for (r, ess) in [
            rhat_and_ess_bulk(&values, draws, chains),
            rhat_and_ess_bulk_in(&values, draws, chains, &mut shared),
        ] {
            assert!(
                same(r, want_r),
                "R-hat {r} against {want_r} ({draws} × {chains})"
            );
            assert!(
                same(ess, want_ess),
                "ESS {ess} against {want_ess} ({draws} × {chains})"
            );
        }
    }
}

#[test]
fn constant_input() {
    // ArviZ: R-hat is 0/0; an ESS of constant values is the split draw count.
    let (draws, chains) = (51, 4);
    let values = vec![2.5; draws * chains];
    assert!(rhat(&values, draws, chains).is_nan());
    let split_total = (2 * (draws / 2) * chains) as f64;
    assert_eq!(ess_bulk(&values, draws, chains), split_total);
    assert_eq!(ess_tail(&values, draws, chains), split_total);
}

#[test]
fn constant_but_different_chains_give_infinite_rhat() {
    // Chain values whose repeated sums round (0.1 · 3 ≠ 0.3): W must still be 0.
    let levels = [0.1, 0.7, 1.3];
    let (draws, chains) = (13, levels.len());
    let values: Vec<f64> = (0..draws * chains).map(|k| levels[k % chains]).collect();
    assert_eq!(rhat(&values, draws, chains), f64::INFINITY);
}

#[test]
fn folded_merge_matches_a_fresh_sort() {
    let mut normals = Normals(21);
    // Coarse values give many ties, exact zeros and both signs of zero.
    let x: Vec<f64> = (0..999)
        .map(|k| match k % 7 {
            0 => -0.0,
            1 => 0.0,
            _ => (normals.normal() * 4.0).round() / 4.0,
        })
        .collect();
    let mut ranker = Ranker::default();
    ranker.sort(&x);
    let median = ranker.median();
    let mut merged = vec![f64::NAN; x.len()];
    assert!(ranker.folded_normal_scores(median, &mut merged));
    let folded: Vec<f64> = x.iter().map(|&v| (v - median).abs()).collect();
    let mut fresh = Ranker::default();
    fresh.sort(&folded);
    let mut direct = vec![f64::NAN; x.len()];
    fresh.normal_scores(&mut direct);
    for (i, (m, d)) in merged.iter().zip(&direct).enumerate() {
        assert_eq!(m.to_bits(), d.to_bits(), "index {i}: {m} against {d}");
    }
}

#[test]
fn too_few_draws_or_chains_give_nan() {
    let values = Normals(5).matrix(3, 4);
    assert!(rhat(&values, 3, 4).is_nan());
    assert!(ess_bulk(&values, 3, 4).is_nan());
    assert!(ess_tail(&values, 3, 4).is_nan());

    // One chain: no R-hat, but the ESS of its two halves exists.
    let one = Normals(6).matrix(50, 1);
    assert!(rhat(&one, 50, 1).is_nan());
    assert!(ess_bulk(&one, 50, 1).is_finite());
    assert!(ess_tail(&one, 50, 1).is_finite());

    for f in [rhat, ess_bulk, ess_tail] {
        assert!(f(&[], 0, 0).is_nan());
        assert!(f(&[], 100, 0).is_nan());
    }
}

#[test]
fn nan_anywhere_gives_nan() {
    let (draws, chains) = (20, 3);
    let mut values = Normals(8).matrix(draws, chains);
    values[17] = f64::NAN;
    assert!(rhat(&values, draws, chains).is_nan());
    assert!(ess_bulk(&values, draws, chains).is_nan());
    assert!(ess_tail(&values, draws, chains).is_nan());
}

#[test]
fn many_short_chains() {
    let (draws, chains) = (8, 10_000);
    let values = Normals(9).matrix(draws, chains);
    let r = rhat(&values, draws, chains);
    assert!((0.95..1.05).contains(&r), "rhat {r}");
    // With 4-draw halves Geyer's sequence stops at once and τ̂ hits its floor
    // 1/log10(S), exactly as in ArviZ.
    let total = (draws * chains) as f64;
    let bulk = ess_bulk(&values, draws, chains);
    assert!(
        (bulk - total * total.log10()).abs() < 1e-6 * bulk,
        "bulk {bulk}"
    );
    assert!(ess_tail(&values, draws, chains).is_finite());
}

#[test]
#[should_panic(expected = "draws * chains")]
fn wrong_length_panics() {
    rhat(&[1.0; 10], 4, 3);
}

#[test]
fn inverse_normal_cdf_reference_values() {
    // Values of Φ⁻¹ from scipy.special.ndtri.
    let cases = [
        (0.5, 0.0),
        (0.975, 1.959_963_984_540_054),
        (0.025, -1.959_963_984_540_054_5),
        (0.8, 0.841_621_233_572_914_3),
        (1e-10, -6.361_340_902_404_056),
        (1e-300, -37.047_096_299_361_2),
    ];
    for (p, z) in cases {
        let got = inverse_normal_cdf(p);
        assert!(
            (got - z).abs() <= 1e-14 * z.abs().max(1.0),
            "Φ⁻¹({p}) = {got}"
        );
    }
}

#[test]
fn next_fast_len_matches_scipy() {
    for (n, want) in [
        (1, 1),
        (7, 8),
        (8, 8),
        (14, 15),
        (202, 216),
        (500, 500),
        (1001, 1024),
    ] {
        assert_eq!(next_fast_len(n), want, "next_fast_len({n})");
    }
}

#[test]
fn type7_quantile() {
    // numpy.quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [0.05, 0.95]) = [1.45, 9.55]
    let mut x: Vec<f64> = (1..=10).rev().map(f64::from).collect();
    assert!((quantile_type7(&mut x, 0.05) - 1.45).abs() < 1e-12);
    assert!((quantile_type7(&mut x, 0.95) - 9.55).abs() < 1e-12);
}

// ─── Nested R-hat ───

#[test]
fn nested_rhat_matches_numpy_fixtures() -> Result<(), Box<dyn std::error::Error>> {
    // The fixture applies the same formula in float64 (NumPy, pairwise sums), so the
    // results differ only by summation order, ~1e-15 relative; 1e-10 leaves a wide
    // margin while any definitional slip (a divisor K vs K − 1, M vs M − 1, N vs
    // N − 1) changes the value by far more. `nR̂² − 1 = B̂/Ŵ` is checked as well,
    // as it is sensitive where nR̂ is close to 1.
    const REL_TOL: f64 = 1e-10;
    let dir = fixture_dir();
    let expected: serde_json::Value =
        serde_json::from_reader(std::fs::File::open(dir.join("nested_rhat.json"))?)?;
    let cases = expected["cases"].as_object().expect("cases object");
    assert!(cases.len() >= 5, "too few fixture cases");
    for (name, case) in cases {
        let (values, draws, chains) = fixture_case(&dir, name, case)?;
        let superchains = case["superchains"].as_u64().expect("superchains") as usize;

        let got = nested_rhat(&values, draws, chains, superchains);
        let want = json_f64(&case["nested_rhat"]);
        assert_close(name, "nested_rhat", got, want, REL_TOL);
        let ratio = json_f64(&case["between_superchain_variance"])
            / json_f64(&case["within_superchain_variance"]);
        assert_close(name, "nR̂² − 1", got * got - 1.0, ratio, REL_TOL);
    }
    Ok(())
}

#[test]
fn nested_rhat_hand_computed() {
    // Chains (−1, 1, −1, 1) + 0, 2, 4, 6 in superchains {0, 1}, {2, 3}: chain
    // variances 4/3, B̃_k = 2, superchain means 1 and 5, so B̂ = 8, Ŵ = 10/3 and
    // nR̂ = sqrt(1 + 2.4).
    let offsets = [0.0, 2.0, 4.0, 6.0];
    let values: Vec<f64> = (0..16)
        .map(|k| [-1.0, 1.0][(k / 4) % 2] + offsets[k % 4])
        .collect();
    let got = nested_rhat(&values, 4, 4, 2);
    assert!((got - 3.4f64.sqrt()).abs() < 1e-15, "{got}");
    // One draw per chain: W̃_k = 0, Ŵ = 2, nR̂ = sqrt(1 + 8/2).
    let got = nested_rhat(&offsets, 1, 4, 2);
    assert!((got - 5.0f64.sqrt()).abs() < 1e-15, "{got}");
}

/// `draws × chains` standard normals (draw-major), with superchain `k` of
/// `superchains` shifted by `shifts(k)`.
fn superchain_draws(
    seed: u64,
    draws: usize,
    chains: usize,
    superchains: usize,
    shifts: impl Fn(usize) -> f64,
) -> Vec<f64> {
    let per = chains / superchains;
    let mut values = Normals(seed).matrix(draws, chains);
    for (k, x) in values.iter_mut().enumerate() {
        *x += shifts((k % chains) / per);
    }
    values
}

#[test]
fn nested_rhat_from_moments_equals_draws_variant() {
    for (draws, chains, superchains) in [(10, 2048, 16), (1, 512, 8), (25, 12, 12), (3, 6, 2)] {
        let values = superchain_draws(31, draws, chains, superchains, |k| 0.1 * (k % 3) as f64);
        let from_draws = nested_rhat(&values, draws, chains, superchains);
        assert!(from_draws.is_finite() && from_draws > 1.0, "{from_draws}");

        // Two-pass moments, chain by chain.
        let (mut means, mut variances) = (Vec::new(), Vec::new());
        for c in 0..chains {
            let chain: Vec<f64> = (0..draws).map(|i| values[i * chains + c]).collect();
            let (mean, var) = mean_and_variance(&chain);
            means.push(mean);
            variances.push(if draws > 1 { var } else { 0.0 });
        }
        let two_pass = nested_rhat_from_moments(&means, &variances, draws, superchains);
        assert!(
            (two_pass - from_draws).abs() <= 1e-14 * from_draws,
            "{draws}×{chains}: {two_pass} vs {from_draws}"
        );

        // Running (Welford) moments, as kept on the GPU: for one draw the variance
        // M2/(n − 1) is 0/0 = NaN, which the formula does not use.
        let (mut mean, mut m2) = (vec![0.0; chains], vec![0.0; chains]);
        for (i, row) in values.chunks_exact(chains).enumerate() {
            let n = (i + 1) as f64;
            for ((mu, s), &x) in mean.iter_mut().zip(&mut m2).zip(row) {
                let delta = x - *mu;
                *mu += delta / n;
                *s += delta * (x - *mu);
            }
        }
        let welford_var: Vec<f64> = m2.iter().map(|s| s / (draws as f64 - 1.0)).collect();
        let welford = nested_rhat_from_moments(&mean, &welford_var, draws, superchains);
        assert!(
            (welford - from_draws).abs() <= 1e-12 * from_draws,
            "{draws}×{chains}: Welford {welford} vs {from_draws}"
        );
    }
}

#[test]
fn shifted_superchains_raise_nested_rhat() {
    let (draws, chains, superchains) = (10, 2048, 16);
    let mixed = nested_rhat(
        &superchain_draws(41, draws, chains, superchains, |_| 0.0),
        draws,
        chains,
        superchains,
    );
    let shifted = nested_rhat(
        &superchain_draws(41, draws, chains, superchains, |k| {
            if k % 5 == 2 {
                1.0
            } else {
                0.0
            }
        }),
        draws,
        chains,
        superchains,
    );
    assert!((1.0..1.01).contains(&mixed), "well mixed: {mixed}");
    assert!(shifted > 1.05 && shifted > mixed, "shifted: {shifted}");

    // The fixtures' shifted case against their well-mixed one.
    let load = |name: &str| -> f64 {
        let npy = npyz::NpyFile::new(
            std::fs::File::open(fixture_dir().join(format!("{name}.npy"))).expect("fixture"),
        )
        .expect("npy");
        let values = npy.into_vec::<f64>().expect("f64 data");
        nested_rhat(&values, 10, 2048, 16)
    };
    let (fixture_mixed, fixture_shifted) = (load("nested_well_mixed"), load("nested_shifted"));
    assert!(
        fixture_shifted > 1.05 && fixture_mixed < 1.01,
        "{fixture_shifted} vs {fixture_mixed}"
    );
}

#[test]
fn nested_rhat_degenerate_input() {
    let values = Normals(51).matrix(6, 8);
    assert!(nested_rhat(&values, 6, 8, 4).is_finite());
    // No draws or no chains.
    assert!(nested_rhat(&[], 0, 8, 4).is_nan());
    assert!(nested_rhat(&[], 6, 0, 4).is_nan());
    // Fewer than 2 superchains, or chains not a multiple of them.
    for superchains in [0, 1, 3, 5, 16] {
        assert!(
            nested_rhat(&values, 6, 8, superchains).is_nan(),
            "K = {superchains}"
        );
    }
    // One draw and one chain per superchain: no within-superchain variance.
    assert!(nested_rhat(&values[..8], 1, 8, 8).is_nan());
    assert!(nested_rhat(&values[..8], 1, 8, 4).is_finite());
    // Non-finite draws.
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut with_bad = values.clone();
        with_bad[13] = bad;
        assert!(nested_rhat(&with_bad, 6, 8, 4).is_nan(), "{bad}");
    }
    // All draws equal: 0/0.
    assert!(nested_rhat(&[2.5; 48], 6, 8, 4).is_nan());
    // Each superchain constant, superchains different (values whose sums round):
    // Ŵ = 0 < B̂.
    let levels = [0.1, 0.7, 1.3];
    let constant: Vec<f64> = (0..5 * 6).map(|k| levels[(k % 6) / 2]).collect();
    assert_eq!(nested_rhat(&constant, 5, 6, 3), f64::INFINITY);
    // Constant chains that differ within a superchain: B̃_k > 0, finite.
    let chain_levels: Vec<f64> = (0..5 * 6).map(|k| 0.3 * (k % 6) as f64).collect();
    let r = nested_rhat(&chain_levels, 5, 6, 3);
    assert!(r.is_finite() && r > 1.0, "{r}");

    // Moments: bad variances count only when there is more than one draw.
    let means = [0.1, -0.2, 0.3, 0.0];
    for bad in [f64::NAN, f64::INFINITY, -1.0] {
        let variances = [1.0, bad, 1.0, 1.0];
        assert!(
            nested_rhat_from_moments(&means, &variances, 5, 2).is_nan(),
            "{bad}"
        );
        assert!(
            nested_rhat_from_moments(&means, &variances, 1, 2).is_finite(),
            "{bad}"
        );
    }
    assert!(nested_rhat_from_moments(&[0.1, f64::NAN, 0.3, 0.0], &[1.0; 4], 5, 2).is_nan());
    assert!(nested_rhat_from_moments(&means, &[1.0; 4], 0, 2).is_nan());
    assert!(nested_rhat_from_moments(&[], &[], 5, 2).is_nan());
}

#[test]
#[should_panic(expected = "variances.len()")]
fn nested_rhat_moments_length_mismatch_panics() {
    nested_rhat_from_moments(&[0.0; 4], &[1.0; 3], 5, 2);
}

#[test]
#[should_panic(expected = "draws * chains")]
fn nested_rhat_wrong_length_panics() {
    nested_rhat(&[1.0; 10], 4, 3, 3);
}

#[test]
fn quantiles_from_the_ranking_equal_a_selection() {
    let mut normals = Normals(31);
    // Rounded to f32 (packed ranking) and not (pairs), with ties.
    let single: Vec<f64> = normals
        .matrix(40, 6)
        .iter()
        .map(|&v| f64::from(v as f32))
        .collect();
    let tied: Vec<f64> = normals
        .matrix(40, 6)
        .iter()
        .map(|&v| (v * 3.0).round() / 3.0)
        .collect();
    let mut work = Workspace::default();
    for values in [single, tied, normals.matrix(40, 6)] {
        rhat_and_ess_bulk_in(&values, 40, 6, &mut work);
        for p in [0.0, 0.05, 0.5, 0.95, 1.0] {
            let selected = quantile_type7(&mut values.clone(), p);
            let ranked = work
                .ranked_quantile(p)
                .expect("40 draws: every value ranked");
            assert_eq!(ranked.to_bits(), selected.to_bits(), "p = {p}");
        }
    }
    // An odd number of draws: the split chains leave the middle draws out.
    let odd = normals.matrix(41, 6);
    rhat_and_ess_bulk_in(&odd, 41, 6, &mut work);
    assert_eq!(work.ranked_quantile(0.5), None);
}
