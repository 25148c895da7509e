//! Nested R-hat (Margossian et al. 2024) for many short chains, from draws or from each
//! chain's running moments.

use super::{check_len, mean_and_variance, shifted_mean};

/// Nested R-hat of draws from `superchains` groups of chains.
///
/// From Margossian, Hoffman, Sountsov, Riou-Durand, Vehtari & Gelman (2024),
/// "Nested R̂: assessing the convergence of Markov chain Monte Carlo when running
/// many short chains", arXiv:2110.13017 (v3+). The `chains` chains are split into
/// `K = superchains` superchains of `M = chains / K` consecutive chains: chain `c`
/// belongs to superchain `c / M`. The chains of one superchain are meant to start
/// from one shared point. With `N = draws`, this computes each chain's mean and
/// sample variance (divisor `N − 1`) and passes them to
/// [`nested_rhat_from_moments`], which documents the formula.
///
/// `values[i * chains + c]` is draw `i` of chain `c`.
///
/// Returns NaN when `draws == 0`, `chains == 0`, `superchains < 2`, `chains` is
/// not a multiple of `superchains`, `draws == 1` with one chain per superchain,
/// or any value is not finite; also when every draw is equal (`0/0`). Returns
/// `+∞` when every superchain has all its draws equal but superchains differ.
///
/// # Panics
///
/// Panics if `values.len() != draws * chains`.
pub fn nested_rhat(values: &[f64], draws: usize, chains: usize, superchains: usize) -> f64 {
    check_len(values, draws, chains);
    if draws == 0 || chains == 0 {
        return f64::NAN;
    }
    let (means, variances) = chain_moments(values, draws, chains);
    nested_rhat_from_moments(&means, &variances, draws, superchains)
}

/// Nested R-hat from each chain's mean and sample variance, e.g. running (Welford)
/// statistics kept without the draws.
///
/// `means[c]` and `variances[c]` are the mean and the sample variance (divisor
/// `N − 1`) of the `N = counts` draws of chain `c`; `K = superchains` superchains
/// hold `M = means.len() / K` consecutive chains each (chain `c` is in superchain
/// `c / M`). Following Margossian et al. (2024), arXiv:2110.13017 (v3+), with
/// `θ̄_{.mk}` the mean and `s²_{mk}` the variance of chain `m` of superchain `k`:
///
/// - superchain means `θ̄_{..k} = (1/M) Σ_m θ̄_{.mk}`, overall mean
///   `θ̄_{...} = (1/K) Σ_k θ̄_{..k}`;
/// - between-superchain variance `B̂ = 1/(K − 1) Σ_k (θ̄_{..k} − θ̄_{...})²`;
/// - within-chain variance `W̃_k = (1/M) Σ_m s²_{mk}`, where
///   `s²_{mk} = 1/(N − 1) Σ_n (θ_{nmk} − θ̄_{.mk})²`, and `W̃_k = 0` if `N = 1`;
/// - between-chain variance `B̃_k = 1/(M − 1) Σ_m (θ̄_{.mk} − θ̄_{..k})²`, and
///   `B̃_k = 0` if `M = 1`;
/// - within-superchain variance `Ŵ = (1/K) Σ_k (B̃_k + W̃_k)`;
/// - `nR̂ = sqrt(1 + B̂/Ŵ)`.
///
/// So `nR̂ ≥ 1`. With `M = 1` it is `sqrt(1 + var(chain means)/W)`, not the
/// classical (unsplit) `R̂ = sqrt((N − 1)/N + var(chain means)/W)` (the paper's
/// footnote on this); with `N = 1` it compares superchain means with the spread
/// of single draws within superchains. Values close to 1 suggest that the
/// superchains have forgotten their starting points and agree. Unlike [`super::rhat`],
/// nothing is split or rank-normalised: this is the paper's nR̂ as R posterior's
/// `rhat_nested` and arviz-stats' `rhat_nested(method="identity")` compute it.
///
/// When `counts == 1` the variances are not used (they may be NaN, as a
/// Welford `M2 / (n − 1)` is).
///
/// Returns NaN when `counts == 0`, there are no chains, `superchains < 2`, the
/// number of chains is not a multiple of `superchains`, `counts == 1` with one
/// chain per superchain (no within-superchain variance exists), a mean is not
/// finite, or (if `counts > 1`) a variance is negative or not finite; also when
/// `B̂ = Ŵ = 0` (`0/0`, e.g. all draws equal). Returns `+∞` when `Ŵ = 0 < B̂`
/// (each superchain constant, superchains different).
///
/// # Panics
///
/// Panics if `means.len() != variances.len()`.
pub fn nested_rhat_from_moments(
    means: &[f64],
    variances: &[f64],
    counts: usize,
    superchains: usize,
) -> f64 {
    assert!(
        means.len() == variances.len(),
        "diagnostics: means.len() = {} but variances.len() = {}",
        means.len(),
        variances.len()
    );
    let chains = means.len();
    if counts == 0 || chains == 0 || superchains < 2 || !chains.is_multiple_of(superchains) {
        return f64::NAN;
    }
    let per_superchain = chains / superchains;
    let use_variances = counts > 1;
    if !use_variances && per_superchain == 1 {
        return f64::NAN;
    }
    if means.iter().any(|m| !m.is_finite())
        || (use_variances && variances.iter().any(|v| !(v.is_finite() && *v >= 0.0)))
    {
        return f64::NAN;
    }

    let mut superchain_means = Vec::with_capacity(superchains);
    let mut within = 0.0;
    for (chain_means, chain_vars) in means
        .chunks_exact(per_superchain)
        .zip(variances.chunks_exact(per_superchain))
    {
        // θ̄_{..k} and B̃_k.
        let (mean, between_chains) = if per_superchain > 1 {
            mean_and_variance(chain_means)
        } else {
            (chain_means[0], 0.0)
        };
        // W̃_k.
        let within_chains = if use_variances {
            shifted_mean(chain_vars)
        } else {
            0.0
        };
        superchain_means.push(mean);
        within += between_chains + within_chains;
    }
    within /= superchains as f64;
    let between = mean_and_variance(&superchain_means).1;
    (1.0 + between / within).sqrt()
}

/// Mean and sample variance (divisor `draws − 1`; 0 when `draws == 1`) of each chain
/// of draw-major `values` (`draws ≥ 1`), computed as [`mean_and_variance`] does
/// for one chain (same operations in the same order) but row by row.
fn chain_moments(values: &[f64], draws: usize, chains: usize) -> (Vec<f64>, Vec<f64>) {
    let first = &values[..chains];
    let mut means = vec![0.0; chains];
    for row in values.chunks_exact(chains) {
        for ((sum, &x), &x0) in means.iter_mut().zip(row).zip(first) {
            *sum += x - x0;
        }
    }
    let n = draws as f64;
    for (mean, &x0) in means.iter_mut().zip(first) {
        *mean = x0 + *mean / n;
    }
    let mut variances = vec![0.0; chains];
    if draws > 1 {
        for row in values.chunks_exact(chains) {
            for ((ss, &x), &mean) in variances.iter_mut().zip(row).zip(&means) {
                *ss += (x - mean) * (x - mean);
            }
        }
        for ss in &mut variances {
            *ss /= n - 1.0;
        }
    }
    (means, variances)
}
