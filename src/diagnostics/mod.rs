//! Convergence diagnostics for MCMC draws: rank-normalised split R-hat, bulk/tail effective sample size,
//! and nested R-hat for many short chains.
//!
//! The definitions follow Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021),
//! "Rank-normalization, folding, and localization: an improved R-hat for assessing
//! convergence of MCMC", *Bayesian Analysis* 16(2), 667–718, and reproduce the
//! numbers of ArviZ's `az.rhat(method="rank")`, `az.ess(method="bulk")` and
//! `az.ess(method="tail")` (checked against ArviZ 0.23.4 to a relative 1e-8).
//!
//! # Layout
//!
//! Every function takes the draws of one scalar quantity laid out draw-major:
//! `values[i * chains + c]` is draw `i` of chain `c`, for `draws` draws of each of
//! `chains` chains.
//!
//! # Method
//!
//! With `M` chains of `N` draws each:
//!
//! 1. **Split.** Each chain is cut into a first and a second half of
//!    `n = ⌊N/2⌋` draws (the middle draw is dropped when `N` is odd), giving
//!    `2M` chains of `n` draws, `S = 2Mn` values in all.
//! 2. **Rank-normalise.** The `S` values are ranked jointly (ties get the average
//!    of their ranks, `r = 1..S`) and mapped through Blom's offset
//!    `z = Φ⁻¹((r − 3/8) / (S − 2·3/8 + 1))`.
//! 3. **R-hat** of `2M` chains `z_{jm}` of length `n` (chain means `z̄_m`,
//!    chain variances `s²_m` with divisor `n − 1`):
//!    `B = n · var(z̄_1..z̄_2M)` (divisor `2M − 1`), `W = mean(s²_m)`,
//!    `R̂ = sqrt(((n − 1)/n · W + B/n) / W) = sqrt((B/W + n − 1) / n)`.
//!    The bulk R-hat uses the rank-normalised split values; the tail (folded)
//!    R-hat uses the rank-normalised `|x − median(x)|` of the split values.
//!    [`rhat`] returns `max(bulk, tail)`.
//! 4. **ESS** of `2M` chains of length `n` with mean autocovariance
//!    `γ̄_t = (1/2M) Σ_m γ_{m,t}` (each `γ_{m,t}` by FFT with divisor `n`):
//!    `W = n/(n − 1) · γ̄_0`, `var⁺ = (n − 1)/n · W + var(chain means)`,
//!    `ρ̂_t = 1 − (W − γ̄_t) / var⁺`. Geyer's initial positive sequence keeps the
//!    pairs `P_k = ρ̂_{2k} + ρ̂_{2k+1}` while they are positive, his initial
//!    monotone sequence then makes the kept pairs non-increasing, and
//!    `τ̂ = −1 + 2 Σ_{t ≤ 2K+1} ρ̂_t + ρ̂_{2K+2}`, where, as in Stan and ArviZ, the
//!    half-pair term `ρ̂_{2K+2}` (the even lag after the last kept pair) counts only
//!    when positive. `τ̂` is floored at `1 / log10(S)`, so `ESS = S / τ̂` never
//!    exceeds `S · log10(S)`.
//!    [`ess_bulk`] applies this to the rank-normalised split values;
//!    [`ess_tail`] to the split indicators `I(x ≤ q_p)` for the 5 % and 95 %
//!    quantiles `q_p` of all `MN` draws (R's type-7 quantile) and returns the
//!    smaller of the two.
//!
//! # Degenerate input
//!
//! As in ArviZ: fewer than 4 draws, no chains, or any NaN give NaN; [`rhat`] also
//! needs at least 2 chains. Infinite values are not errors: ranks treat them as
//! the most extreme values. An ESS whose input (rank-normalised values or tail
//! indicators) is constant is `S`, the number of split draws, so a constant input
//! has `ess_bulk == ess_tail == S` while its R-hat is NaN (`0/0`).
//!
//! # Nested R-hat
//!
//! For many short chains, [`nested_rhat`] implements nR̂ of Margossian, Hoffman,
//! Sountsov, Riou-Durand, Vehtari & Gelman (2024), "Nested R̂: assessing the
//! convergence of Markov chain Monte Carlo when running many short chains"
//! (arXiv:2110.13017, v3+): the chains form `K` superchains of `M` consecutive
//! chains (chain `c` is in superchain `c / M`), and
//! `nR̂ = sqrt(1 + B̂/Ŵ)` compares the variance `B̂` of the superchain means with
//! the mean within-superchain variance `Ŵ` (between-chain plus within-chain
//! variance); see [`nested_rhat_from_moments`] for the formulas. It needs only each
//! chain's mean and sample variance, so [`nested_rhat_from_moments`] computes it
//! from running (Welford) statistics without the draws; it is neither split nor
//! rank-normalised, and works with a single draw per chain. It is checked against
//! a NumPy implementation of the paper's equations (cross-checked with
//! arviz-stats 0.8.0) to a relative 1e-10. Degenerate input (no draws, fewer
//! than 2 superchains, chains not a multiple of the superchains, one draw with
//! one chain per superchain, non-finite values) gives NaN.

mod autocov;
mod nested;
mod rank;
#[cfg(test)]
mod tests;

use autocov::Autocov;
pub use nested::{nested_rhat, nested_rhat_from_moments};
use rank::Ranker;

/// Fewest draws per chain that the diagnostics accept (ArviZ's `min_draws`).
pub(super) const MIN_DRAWS: usize = 4;

/// Probabilities of the two quantiles whose indicators give the tail ESS.
const TAIL_PROBS: [f64; 2] = [0.05, 0.95];

/// Below this spread (`max − min`) an ESS input counts as constant
/// (NumPy's `finfo(float64).resolution`).
pub(super) const CONSTANT_SPREAD: f64 = 1e-15;

/// Rank-normalised split R-hat: the larger of the bulk and the folded (tail) R-hat.
///
/// From Vehtari et al. (2021), "Rank-normalization, folding, and localization: an
/// improved R-hat", as ArviZ's `az.rhat(method="rank")`. With the `2M` split chains
/// of `n` draws rank-normalised to `z` (see the module docs),
/// `B = n · var(chain means of z)`, `W = mean(chain variances of z)` and
/// `R̂ = sqrt((B/W + n − 1) / n)`; the folded R-hat is the same formula applied to
/// the rank-normalised `|x − median(x)|`. Values near 1 (say below 1.01) suggest
/// the chains have mixed.
///
/// `values[i * chains + c]` is draw `i` of chain `c`.
///
/// Returns NaN when `draws < 4`, `chains < 2`, or any value is NaN, and when both
/// R-hats are `0/0` (e.g. every value equal). Returns `+∞` when each split chain is
/// constant but the chains differ (where ArviZ, through rounding in its chain
/// variances, gives `+∞` or a huge finite number). If only the tail R-hat is undefined (the median
/// is infinite, so folding meets `∞ − ∞`), the bulk R-hat is returned, as ArviZ
/// does.
///
/// # Panics
///
/// Panics if `values.len() != draws * chains`.
pub fn rhat(values: &[f64], draws: usize, chains: usize) -> f64 {
    check_len(values, draws, chains);
    if chains < 2 || draws < MIN_DRAWS || values.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    RankNormalised::new(values, draws, chains, &mut Workspace::default()).rhat()
}

/// Bulk effective sample size: the ESS of the rank-normalised split chains.
///
/// From Vehtari et al. (2021), as ArviZ's `az.ess(method="bulk")`. With the `S`
/// split draws rank-normalised (module docs),
/// `ESS = S / τ̂`, `τ̂ = −1 + 2 Σ_{t ≤ 2K+1} ρ̂_t + ρ̂_{2K+2}`, where `ρ̂_t` is the
/// multi-chain autocorrelation `1 − (W − γ̄_t) / var⁺` truncated by Geyer's initial
/// positive and monotone sequences, and `τ̂ ≥ 1/log10(S)`.
///
/// `values[i * chains + c]` is draw `i` of chain `c`.
///
/// Returns NaN when `draws < 4`, `chains == 0`, or any value is NaN. A constant
/// input gives `S = 2·⌊draws/2⌋·chains`.
///
/// # Panics
///
/// Panics if `values.len() != draws * chains`.
pub fn ess_bulk(values: &[f64], draws: usize, chains: usize) -> f64 {
    check_len(values, draws, chains);
    if chains == 0 || draws < MIN_DRAWS || values.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    RankNormalised::new(values, draws, chains, &mut Workspace::default()).ess()
}

/// [`rhat`] and [`ess_bulk`] of the same values, `(R-hat, bulk ESS)`, from one ranking: the
/// bulk R-hat and the bulk ESS share the rank-normalised split values, so this sorts once
/// where the two calls sort twice. Each figure is bit-identical to its function's.
///
/// # Panics
///
/// Panics if `values.len() != draws * chains`.
pub fn rhat_and_ess_bulk(values: &[f64], draws: usize, chains: usize) -> (f64, f64) {
    rhat_and_ess_bulk_in(values, draws, chains, &mut Workspace::default())
}

/// [`rhat_and_ess_bulk`] in `work`'s memory, for a caller that diagnoses one large quantity
/// after another on the same thread.
pub(crate) fn rhat_and_ess_bulk_in(
    values: &[f64],
    draws: usize,
    chains: usize,
    work: &mut Workspace,
) -> (f64, f64) {
    check_len(values, draws, chains);
    work.ranked_all = false;
    if chains == 0 || draws < MIN_DRAWS || values.iter().any(|x| x.is_nan()) {
        return (f64::NAN, f64::NAN);
    }
    let mut ranked = RankNormalised::new(values, draws, chains, work);
    let ess = ranked.ess();
    let rhat = if chains < 2 { f64::NAN } else { ranked.rhat() };
    ranked.release(work);
    // With an even number of draws the split chains hold every value.
    work.ranked_all = draws.is_multiple_of(2);
    (rhat, ess)
}

/// Memory one thread reuses from one quantity's diagnostics to the next. Ranking the split
/// chains of 12M draws takes about 0.6 GB of buffers; fresh memory costs the kernel a page
/// fault and a zeroed page per 4 KiB, which was a fifth of a large summary's time.
#[derive(Default)]
pub(crate) struct Workspace {
    split: Vec<f64>,
    z: Vec<f64>,
    ranker: Ranker,
    /// Whether the last [`rhat_and_ess_bulk_in`] ranked every one of its values.
    ranked_all: bool,
}

impl Workspace {
    /// The type-7 `p` quantile (as [`quantile_type7`]) of the values of the last
    /// [`rhat_and_ess_bulk_in`], read from its ranking; `None` where that ranking left values
    /// out (an odd number of draws: the split chains drop the middle one) or did not run.
    /// A `-0.0` reads as `0.0`.
    pub(crate) fn ranked_quantile(&self, p: f64) -> Option<f64> {
        self.ranked_all.then(|| self.ranker.quantile(p))
    }

    /// A workspace for quantities of `draws` draws of each of `chains` chains, with their
    /// normal scores tabulated on every core; [`Workspace::sharing`] gives other threads
    /// workspaces that share the table.
    pub(crate) fn for_quantities(draws: usize, chains: usize) -> Workspace {
        Workspace {
            ranker: Ranker::for_size(SplitChains::size(draws, chains)),
            ..Workspace::default()
        }
    }

    /// An empty workspace that shares this one's table of normal scores.
    pub(crate) fn sharing(&self) -> Workspace {
        Workspace {
            ranker: self.ranker.sharing(),
            ..Workspace::default()
        }
    }
}

/// The split chains of one quantity with their ranking and rank-normalised values `z`.
struct RankNormalised {
    split: SplitChains,
    ranker: Ranker,
    z: Vec<f64>,
}

impl RankNormalised {
    /// Splits and rank-normalises `values` (no NaN, at least [`MIN_DRAWS`] draws) in the
    /// buffers of `work`, which [`RankNormalised::release`] gives back.
    fn new(values: &[f64], draws: usize, chains: usize, work: &mut Workspace) -> Self {
        let split = SplitChains::new(values, draws, chains, std::mem::take(&mut work.split));
        let mut ranker = std::mem::take(&mut work.ranker);
        let mut z = std::mem::take(&mut work.z);
        z.clear();
        z.resize(split.data.len(), 0.0);
        ranker.sort(&split.data);
        ranker.normal_scores(&mut z);
        RankNormalised { split, ranker, z }
    }

    /// Returns the buffers to `work` for the next quantity.
    fn release(self, work: &mut Workspace) {
        work.split = self.split.data;
        work.ranker = self.ranker;
        work.z = self.z;
    }

    /// The bulk ESS of `z`.
    fn ess(&self) -> f64 {
        Autocov::new(self.split.len).ess(&self.z, self.split.chains)
    }

    /// The larger of the bulk and the folded R-hat (at least 2 chains). Reuses the ranking
    /// and `z` for the folded values, so it comes last.
    fn rhat(&mut self) -> f64 {
        let (chains, len) = (self.split.chains, self.split.len);
        let bulk = split_rhat(&self.z, chains, len);
        // Folded values |x − median(x)|, ranked the same way.
        let median = self.ranker.median();
        let tail = if self.ranker.folded_normal_scores(median, &mut self.z) {
            split_rhat(&self.z, chains, len)
        } else {
            // `∞ − ∞`: ArviZ's ranking yields NaN ranks and so a NaN R-hat.
            f64::NAN
        };
        python_max(bulk, tail)
    }
}

/// Tail effective sample size: the smaller ESS of the 5 % and 95 % quantile indicators.
///
/// From Vehtari et al. (2021), as ArviZ's `az.ess(method="tail")`. For
/// `p ∈ {0.05, 0.95}`, `q_p` is the type-7 quantile of all `draws · chains` values
/// (`h = (MN − 1)p`, `q_p = x_(⌊h⌋+1) + (h − ⌊h⌋)(x_(⌊h⌋+2) − x_(⌊h⌋+1))` on the
/// sorted values), and the ESS formula of [`ess_bulk`] is applied to the split
/// chains of indicators `I(x ≤ q_p)`; the result is
/// `min(ESS(I(x ≤ q_0.05)), ESS(I(x ≤ q_0.95)))`.
///
/// `values[i * chains + c]` is draw `i` of chain `c`.
///
/// Returns NaN when `draws < 4`, `chains == 0`, or any value is NaN. When an
/// indicator is constant (e.g. constant input) its ESS is `S = 2·⌊draws/2⌋·chains`.
///
/// # Panics
///
/// Panics if `values.len() != draws * chains`.
pub fn ess_tail(values: &[f64], draws: usize, chains: usize) -> f64 {
    check_len(values, draws, chains);
    if chains == 0 || draws < MIN_DRAWS || values.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    let quantiles = TAIL_PROBS.map(|p| quantile_type7(&mut sorted, p));
    drop(sorted);

    let split = SplitChains::new(values, draws, chains, Vec::new());
    let mut autocov = Autocov::new(split.len);
    let mut indicator = vec![0.0; split.data.len()];
    let [low, high] = quantiles.map(|q| {
        for (out, &x) in indicator.iter_mut().zip(&split.data) {
            *out = if x <= q { 1.0 } else { 0.0 };
        }
        autocov.ess(&indicator, split.chains)
    });
    python_min(low, high)
}

/// Enforces the documented precondition `values.len() == draws * chains`.
pub(super) fn check_len(values: &[f64], draws: usize, chains: usize) {
    let expected = draws.checked_mul(chains);
    assert!(
        expected == Some(values.len()),
        "diagnostics: values.len() = {} but draws * chains = {draws} * {chains}",
        values.len()
    );
}

/// `max(a, b)` with Python's rule: `b` only if `b > a`, so a NaN `a` wins.
pub(super) fn python_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// `min(a, b)` with Python's rule: `b` only if `b < a`, so a NaN `a` wins.
pub(super) fn python_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// The `2M` half-chains of `n = ⌊N/2⌋` draws, stored chain-major:
/// `data[k * len + j]` is draw `j` of split chain `k`. Split chain `c < M` is the
/// first half of chain `c`, split chain `M + c` its last `n` draws.
struct SplitChains {
    data: Vec<f64>,
    chains: usize,
    len: usize,
}

impl SplitChains {
    /// The values the split chains of `chains` chains of `draws` draws hold.
    fn size(draws: usize, chains: usize) -> usize {
        2 * (draws / 2) * chains
    }

    /// The split chains of `values`, written into `data` (whose contents are dropped; its
    /// capacity is reused).
    fn new(values: &[f64], draws: usize, chains: usize, mut data: Vec<f64>) -> Self {
        // Chains handled together: the read of one draw row touches BLOCK adjacent
        // values, and the writes go to BLOCK sequential streams.
        const BLOCK: usize = 16;
        let len = draws / 2;
        let second = draws - len;
        data.clear();
        data.resize(2 * chains * len, 0.0);
        let (first_half, second_half) = data.split_at_mut(chains * len);
        for (start_draw, out) in [(0, first_half), (second, second_half)] {
            for c0 in (0..chains).step_by(BLOCK) {
                let c1 = (c0 + BLOCK).min(chains);
                for j in 0..len {
                    let row = (start_draw + j) * chains;
                    for (c, &x) in (c0..c1).zip(&values[row + c0..row + c1]) {
                        out[c * len + j] = x;
                    }
                }
            }
        }
        SplitChains {
            data,
            chains: 2 * chains,
            len,
        }
    }
}

/// Split R-hat of chain-major `x` (`chains` chains of `len` draws):
/// `sqrt((B/W + n − 1)/n)` with `B = n · var(chain means)`, `W = mean(chain variances)`.
fn split_rhat(x: &[f64], chains: usize, len: usize) -> f64 {
    let n = len as f64;
    let mut means = Vec::with_capacity(chains);
    let mut within = 0.0;
    for chain in x.chunks_exact(len) {
        let (mean, var) = mean_and_variance(chain);
        means.push(mean);
        within += var;
    }
    within /= chains as f64;
    let between = n * mean_and_variance(&means).1;
    ((between / within + n - 1.0) / n).sqrt()
}

/// Mean and unbiased (divisor `len − 1`) variance of `x` (non-empty), in two passes.
///
/// The mean is taken as `x_0 + Σ(x_i − x_0)/len`, so a constant sequence has its
/// value as mean and a variance of exactly 0. (A plain `Σx_i/len` can miss the
/// value by rounding and leave a variance of ~1e-33; where that is the
/// within-chain variance, ArviZ's R-hat then comes out as a huge finite number
/// or as ∞ depending on rounding, where this gives ∞.)
pub(super) fn mean_and_variance(x: &[f64]) -> (f64, f64) {
    let mean = shifted_mean(x);
    let ss: f64 = x.iter().map(|&v| (v - mean) * (v - mean)).sum();
    (mean, ss / (x.len() as f64 - 1.0))
}

/// `x_0 + Σ(x_i − x_0)/len`: exact for constant `x` (non-empty).
pub(super) fn shifted_mean(x: &[f64]) -> f64 {
    let first = x[0];
    first + x.iter().map(|&v| v - first).sum::<f64>() / x.len() as f64
}

/// R's type-7 quantile (`scipy.stats.mstats.mquantiles` with `alphap = betap = 1`)
/// of the values in `x` (at least 2, no NaN); reorders `x`.
pub(crate) fn quantile_type7(x: &mut [f64], p: f64) -> f64 {
    let (k, gamma) = type7_position(x.len(), p);
    let (_, &mut below, above) = x.select_nth_unstable_by(k - 1, f64::total_cmp);
    let next = above.iter().copied().fold(f64::INFINITY, f64::min);
    interpolate_type7(below, next, gamma)
}

/// Where the type-7 `p` quantile of `n` values (at least 2) falls: between the `k`-th and the
/// `(k + 1)`-th smallest (1-based), at fraction `gamma` of the way.
fn type7_position(n: usize, p: f64) -> (usize, f64) {
    let m = 1.0 - p;
    let aleph = n as f64 * p + m;
    // `aleph` is clamped to [1, n − 1], so the cast is exact and k ∈ [1, n − 1].
    let k = aleph.clamp(1.0, (n - 1) as f64).floor() as usize;
    let gamma = (aleph - k as f64).clamp(0.0, 1.0);
    (k, gamma)
}

/// The type-7 quantile `gamma` of the way from the order statistic `below` to `next`.
fn interpolate_type7(below: f64, next: f64, gamma: f64) -> f64 {
    (1.0 - gamma) * below + gamma * next
}

/// `f(state, 0), …, f(state, count − 1)` in order, computed on up to `most_threads` of the
/// available cores. Each thread makes one `state` with `init` and hands it from one call to
/// the next (memory a thread reuses, say).
pub(crate) fn parallel_map<S, T: Send>(
    count: usize,
    most_threads: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize) -> T + Sync,
) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(count)
        .min(most_threads);
    if threads <= 1 {
        let mut state = init();
        return (0..count).map(|i| f(&mut state, i)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, T)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = init();
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= count {
                            return mine;
                        }
                        mine.push((i, f(&mut state, i)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(mine) => mine,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_unstable_by_key(|&(i, _)| i);
    done.into_iter().map(|(_, value)| value).collect()
}
