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

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// Fewest draws per chain that the diagnostics accept (ArviZ's `min_draws`).
const MIN_DRAWS: usize = 4;

/// Blom's fractional offset `c` in `(r − c) / (S − 2c + 1)`.
const BLOM_OFFSET: f64 = 3.0 / 8.0;

/// Probabilities of the two quantiles whose indicators give the tail ESS.
const TAIL_PROBS: [f64; 2] = [0.05, 0.95];

/// Below this spread (`max − min`) an ESS input counts as constant
/// (NumPy's `finfo(float64).resolution`).
const CONSTANT_SPREAD: f64 = 1e-15;

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
    let split = SplitChains::new(values, draws, chains);
    let mut ranker = Ranker::default();
    let mut z = vec![0.0; split.data.len()];

    ranker.sort(&split.data);
    ranker.normal_scores(&mut z);
    let bulk = split_rhat(&z, split.chains, split.len);

    // Folded values |x − median(x)|, ranked the same way.
    let tail = if ranker.sort_folded(ranker.median()) {
        ranker.normal_scores(&mut z);
        split_rhat(&z, split.chains, split.len)
    } else {
        // `∞ − ∞`: ArviZ's ranking yields NaN ranks and so a NaN R-hat.
        f64::NAN
    };
    python_max(bulk, tail)
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
    let split = SplitChains::new(values, draws, chains);
    let mut z = vec![0.0; split.data.len()];
    let mut ranker = Ranker::default();
    ranker.sort(&split.data);
    ranker.normal_scores(&mut z);
    Autocov::new(split.len).ess(&z, split.chains)
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

    let split = SplitChains::new(values, draws, chains);
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
fn check_len(values: &[f64], draws: usize, chains: usize) {
    let expected = draws.checked_mul(chains);
    assert!(
        expected == Some(values.len()),
        "diagnostics: values.len() = {} but draws * chains = {draws} * {chains}",
        values.len()
    );
}

/// `max(a, b)` with Python's rule: `b` only if `b > a`, so a NaN `a` wins.
fn python_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// `min(a, b)` with Python's rule: `b` only if `b < a`, so a NaN `a` wins.
fn python_min(a: f64, b: f64) -> f64 {
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
    fn new(values: &[f64], draws: usize, chains: usize) -> Self {
        // Chains handled together: the read of one draw row touches BLOCK adjacent
        // values, and the writes go to BLOCK sequential streams.
        const BLOCK: usize = 16;
        let len = draws / 2;
        let second = draws - len;
        let mut data = vec![0.0; 2 * chains * len];
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

/// Sorting and rank normalisation with reusable scratch space.
#[derive(Default)]
struct Ranker {
    /// `(order_key(value), index)` in ascending order of value.
    sorted: Vec<(u64, usize)>,
    /// Scratch for [`Ranker::sort_folded`].
    merged: Vec<(u64, usize)>,
}

impl Ranker {
    /// Sorts the values of `x` (no NaN) into `self.sorted`.
    fn sort(&mut self, x: &[f64]) {
        self.sorted.clear();
        self.sorted
            .extend(x.iter().enumerate().map(|(i, &v)| (order_key(v), i)));
        self.sorted.sort_unstable_by_key(|&(key, _)| key);
    }

    /// Median of the sorted values (mean of the two middle ones when their number
    /// is even).
    fn median(&self) -> f64 {
        let size = self.sorted.len();
        let middle = key_value(self.sorted[size / 2].0);
        if size % 2 == 1 {
            middle
        } else {
            (key_value(self.sorted[size / 2 - 1].0) + middle) / 2.0
        }
    }

    /// Replaces the sorted values `x` by the sorted folded values `|x − median|`,
    /// keeping the indices, without sorting again: the values below the median,
    /// walked downwards, and those from the median up, walked upwards, are each
    /// non-decreasing once folded (rounding `x − m` is monotone in `x`), so one
    /// merge suffices. Returns `false`, leaving `self.sorted` unspecified, if a
    /// folded value is NaN (`∞ − ∞`).
    fn sort_folded(&mut self, median: f64) -> bool {
        let fold = |&(key, i): &(u64, usize)| ((key_value(key) - median).abs(), i);
        let split = self
            .sorted
            .partition_point(|&(key, _)| key_value(key) < median);
        let (below, above) = self.sorted.split_at(split);
        let mut below = below.iter().rev().map(fold).peekable();
        let mut above = above.iter().map(fold).peekable();
        self.merged.clear();
        loop {
            let next = match (below.peek(), above.peek()) {
                (Some(b), Some(a)) if b.0 <= a.0 => below.next(),
                (_, Some(_)) => above.next(),
                (Some(_), None) => below.next(),
                (None, None) => break,
            };
            let Some((folded, i)) = next else { break };
            if folded.is_nan() {
                return false;
            }
            self.merged.push((order_key(folded), i));
        }
        std::mem::swap(&mut self.sorted, &mut self.merged);
        true
    }

    /// Writes `Φ⁻¹((r − 3/8) / (S − 3/4 + 1))` into `out[i]` for the average rank
    /// `r` of value `i` among the `S` sorted values.
    fn normal_scores(&self, out: &mut [f64]) {
        let size = self.sorted.len();
        let denominator = (size as f64 - 2.0 * BLOM_OFFSET) + 1.0;
        let mut start = 0;
        while start < size {
            let key = self.sorted[start].0;
            let mut end = start + 1;
            while end < size && self.sorted[end].0 == key {
                end += 1;
            }
            // 1-based ranks start+1 ..= end share their average.
            let rank = (start + 1 + end) as f64 * 0.5;
            let z = inverse_normal_cdf((rank - BLOM_OFFSET) / denominator);
            for &(_, i) in &self.sorted[start..end] {
                out[i] = z;
            }
            start = end;
        }
    }
}

/// Order-preserving map of a non-NaN `f64` to `u64`, with `-0.0` and `0.0` equal.
fn order_key(v: f64) -> u64 {
    let bits = (v + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Inverse of [`order_key`] (giving `0.0` for `-0.0`).
fn key_value(key: u64) -> f64 {
    if key >> 63 == 1 {
        f64::from_bits(key & !(1 << 63))
    } else {
        f64::from_bits(!key)
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
fn mean_and_variance(x: &[f64]) -> (f64, f64) {
    let mean = shifted_mean(x);
    let ss: f64 = x.iter().map(|&v| (v - mean) * (v - mean)).sum();
    (mean, ss / (x.len() as f64 - 1.0))
}

/// `x_0 + Σ(x_i − x_0)/len`: exact for constant `x` (non-empty).
fn shifted_mean(x: &[f64]) -> f64 {
    let first = x[0];
    first + x.iter().map(|&v| v - first).sum::<f64>() / x.len() as f64
}

/// R's type-7 quantile (`scipy.stats.mstats.mquantiles` with `alphap = betap = 1`)
/// of the values in `x` (at least 2, no NaN); reorders `x`.
pub(crate) fn quantile_type7(x: &mut [f64], p: f64) -> f64 {
    let n = x.len();
    let m = 1.0 - p;
    let aleph = n as f64 * p + m;
    // `aleph` is clamped to [1, n − 1], so the cast is exact and k ∈ [1, n − 1].
    let k = aleph.clamp(1.0, (n - 1) as f64).floor() as usize;
    let gamma = (aleph - k as f64).clamp(0.0, 1.0);
    let (_, &mut below, above) = x.select_nth_unstable_by(k - 1, f64::total_cmp);
    let next = above.iter().copied().fold(f64::INFINITY, f64::min);
    (1.0 - gamma) * below + gamma * next
}

/// Smallest `2^a 3^b 5^c ≥ target` (SciPy's `fftpack.next_fast_len`).
fn next_fast_len(target: usize) -> usize {
    let mut best = usize::MAX;
    let mut p5 = 1usize;
    while p5 < best {
        let mut p35 = p5;
        while p35 < best {
            let mut candidate = p35;
            while candidate < target {
                candidate *= 2;
            }
            best = best.min(candidate);
            if p35 >= target {
                break;
            }
            p35 *= 3;
        }
        if p5 >= target {
            break;
        }
        p5 *= 5;
    }
    best
}

/// Mean autocovariance over many chains of one length, by FFT, with the FFT
/// planned once and buffers reused across calls.
struct Autocov {
    len: usize,
    fft_len: usize,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    buffer: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    power: Vec<f64>,
    means: Vec<f64>,
    mean_acov: Vec<f64>,
    rho: Vec<f64>,
}

impl Autocov {
    /// About this many complex values go through one batched FFT call.
    const BATCH_VALUES: usize = 1 << 14;

    fn new(len: usize) -> Self {
        let fft_len = next_fast_len(2 * len);
        let mut planner = FftPlanner::new();
        let forward = planner.plan_fft_forward(fft_len);
        let inverse = planner.plan_fft_inverse(fft_len);
        let scratch_len = forward
            .get_inplace_scratch_len()
            .max(inverse.get_inplace_scratch_len());
        Autocov {
            len,
            fft_len,
            forward,
            inverse,
            buffer: Vec::new(),
            scratch: vec![Complex::default(); scratch_len],
            power: vec![0.0; fft_len],
            means: Vec::new(),
            mean_acov: vec![0.0; len],
            rho: vec![0.0; len],
        }
    }

    /// Fills `self.means` with the chain means of chain-major `x` and
    /// `self.mean_acov[t]` with `(1/chains) Σ_m (1/n) Σ_j (x_{m,j} − x̄_m)(x_{m,j+t} − x̄_m)`.
    ///
    /// The mean over chains is taken on the power spectra, so only one inverse FFT
    /// is needed; two real chains share one complex forward FFT (`a + i·b`), since
    /// `|A_k|² + |B_k|² = (|Z_k|² + |Z_{m−k}|²) / 2` for `Z = FFT(a + i·b)`.
    fn mean_autocov(&mut self, x: &[f64], chains: usize) {
        let (len, fft_len) = (self.len, self.fft_len);
        self.means.clear();
        self.means.extend(x.chunks_exact(len).map(shifted_mean));
        self.power.fill(0.0);

        let pairs = chains.div_ceil(2);
        let batch = (Self::BATCH_VALUES / fft_len).clamp(1, pairs);
        self.buffer.resize(batch * fft_len, Complex::default());
        for first_pair in (0..pairs).step_by(batch) {
            let in_batch = batch.min(pairs - first_pair);
            let buffer = &mut self.buffer[..in_batch * fft_len];
            for (b, signal) in buffer.chunks_exact_mut(fft_len).enumerate() {
                let re = 2 * (first_pair + b);
                let im = re + 1;
                signal.fill(Complex::default());
                for (out, &v) in signal.iter_mut().zip(&x[re * len..(re + 1) * len]) {
                    out.re = v - self.means[re];
                }
                if im < chains {
                    for (out, &v) in signal.iter_mut().zip(&x[im * len..(im + 1) * len]) {
                        out.im = v - self.means[im];
                    }
                }
            }
            self.forward.process_with_scratch(buffer, &mut self.scratch);
            for signal in buffer.chunks_exact(fft_len) {
                for (p, z) in self.power.iter_mut().zip(signal) {
                    *p += z.norm_sqr();
                }
            }
        }

        let spectrum = &mut self.buffer[..fft_len];
        for (k, out) in spectrum.iter_mut().enumerate() {
            let mirror = (fft_len - k) % fft_len;
            *out = Complex::new(0.5 * (self.power[k] + self.power[mirror]), 0.0);
        }
        self.inverse
            .process_with_scratch(spectrum, &mut self.scratch);
        let norm = fft_len as f64 * len as f64 * chains as f64;
        for (acov, z) in self.mean_acov.iter_mut().zip(spectrum.iter()) {
            *acov = z.re / norm;
        }
    }

    /// Multi-chain ESS (Vehtari et al. 2021, with Geyer's initial
    /// positive and monotone sequences) of chain-major `x`: `chains ≥ 2` chains of
    /// `self.len ≥ 2` draws. Follows ArviZ step by step, including where the
    /// truncation lands and the `1/log10(S)` floor on `τ̂`.
    fn ess(&mut self, x: &[f64], chains: usize) -> f64 {
        let len = self.len;
        let size = x.len() as f64;
        if x.iter().any(|v| v.is_nan()) {
            return f64::NAN;
        }
        let (min, max) = x
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        if max - min < CONSTANT_SPREAD {
            return size;
        }

        self.mean_autocov(x, chains);
        let n = len as f64;
        let acov = &self.mean_acov;
        let mean_var = acov[0] * n / (n - 1.0);
        let mut var_plus = mean_var * (n - 1.0) / n;
        if chains > 1 {
            var_plus += mean_and_variance(&self.means).1;
        }
        let rho_at = |t: usize| 1.0 - (mean_var - acov[t]) / var_plus;

        let rho = &mut self.rho;
        rho.fill(0.0);
        let mut rho_even = 1.0;
        let mut rho_odd = rho_at(1);
        rho[0] = rho_even;
        rho[1] = rho_odd;

        // Geyer's initial positive sequence: keep pairs (ρ̂_{t+1}, ρ̂_{t+2}) while
        // the previous pair's sum is positive.
        let mut t = 1;
        while t + 3 < len && rho_even + rho_odd > 0.0 {
            rho_even = rho_at(t + 1);
            rho_odd = rho_at(t + 2);
            if rho_even + rho_odd >= 0.0 {
                rho[t + 1] = rho_even;
                rho[t + 2] = rho_odd;
            }
            t += 2;
        }
        // τ̂ sums ρ̂_0 ..= ρ̂_{t−2} twice (none when t = 1) and the half-pair term
        // ρ̂_{t−1} once; the latter is the last even lag examined when positive.
        let half_term = t - 1;
        if rho_even > 0.0 {
            rho[half_term] = rho_even;
        }

        // Geyer's initial monotone sequence: pair sums may not increase.
        let mut k = 1;
        while k + 4 <= t {
            let previous = rho[k - 1] + rho[k];
            if rho[k + 1] + rho[k + 2] > previous {
                rho[k + 1] = previous / 2.0;
                rho[k + 2] = rho[k + 1];
            }
            k += 2;
        }

        let kept: f64 = rho[..half_term].iter().sum();
        let tau = -1.0 + 2.0 * kept + rho[half_term];
        let tau = python_max(tau, 1.0 / size.log10());
        if rho.iter().any(|r| r.is_nan()) {
            return f64::NAN;
        }
        size / tau
    }
}

/// Standard normal quantile `Φ⁻¹(p)` for `0 < p < 1`, by Wichura's algorithm AS 241
/// (PPND16, *Applied Statistics* 37(3), 1988), accurate to about 1e-16 relative.
// The coefficients are the published AS 241 digits, more than f64 holds.
#[allow(clippy::excessive_precision)]
fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 8] = [
        3.387_132_872_796_366_608,
        1.331_416_678_917_843_774_5e2,
        1.971_590_950_306_551_442_7e3,
        1.373_169_376_550_946_112_5e4,
        4.592_195_393_154_987_145_7e4,
        6.726_577_092_700_870_085_3e4,
        3.343_057_558_358_812_810_5e4,
        2.509_080_928_730_122_672_7e3,
    ];
    const B: [f64; 8] = [
        1.0,
        4.231_333_070_160_091_125_2e1,
        6.871_870_074_920_579_083e2,
        5.394_196_021_424_751_107_7e3,
        2.121_379_430_158_659_586_7e4,
        3.930_789_580_009_271_061e4,
        2.872_908_573_572_194_267_4e4,
        5.226_495_278_852_854_561e3,
    ];
    const C: [f64; 8] = [
        1.423_437_110_749_683_577_34,
        4.630_337_846_156_545_295_9,
        5.769_497_221_460_691_405_5,
        3.647_848_324_763_204_605_04,
        1.270_458_252_452_368_382_58,
        2.417_807_251_774_506_117_7e-1,
        2.272_384_498_926_918_458_33e-2,
        7.745_450_142_783_414_076_4e-4,
    ];
    const D: [f64; 8] = [
        1.0,
        2.053_191_626_637_758_821_87,
        1.676_384_830_183_803_849_4,
        6.897_673_349_851_000_045_5e-1,
        1.481_039_764_274_800_745_9e-1,
        1.519_866_656_361_645_719_66e-2,
        5.475_938_084_995_344_946e-4,
        1.050_750_071_644_416_843_24e-9,
    ];
    const E: [f64; 8] = [
        6.657_904_643_501_103_777_2,
        5.463_784_911_164_114_369_9,
        1.784_826_539_917_291_335_8,
        2.965_605_718_285_048_912_3e-1,
        2.653_218_952_657_612_309_3e-2,
        1.242_660_947_388_078_438_6e-3,
        2.711_555_568_743_487_578_15e-5,
        2.010_334_399_292_288_132_65e-7,
    ];
    const F: [f64; 8] = [
        1.0,
        5.998_322_065_558_879_376_9e-1,
        1.369_298_809_227_358_053_1e-1,
        1.487_536_129_085_061_485_25e-2,
        7.868_691_311_456_132_591e-4,
        1.846_318_317_510_054_681_8e-5,
        1.421_511_758_316_445_888_7e-7,
        2.044_263_103_389_939_785_64e-15,
    ];
    fn poly(c: &[f64; 8], x: f64) -> f64 {
        c.iter().rev().fold(0.0, |acc, &ci| acc * x + ci)
    }

    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180_625 - q * q;
        return q * poly(&A, r) / poly(&B, r);
    }
    let r = (-(p.min(1.0 - p)).ln()).sqrt();
    let magnitude = if r <= 5.0 {
        poly(&C, r - 1.6) / poly(&D, r - 1.6)
    } else {
        poly(&E, r - 5.0) / poly(&F, r - 5.0)
    };
    if q < 0.0 {
        -magnitude
    } else {
        magnitude
    }
}

// ─── Nested R-hat (Margossian et al. 2024): many short chains in superchains ───

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
/// superchains have forgotten their starting points and agree. Unlike [`rhat`],
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

#[cfg(test)]
mod tests {
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
        assert!(ranker.sort_folded(median));
        let merged: Vec<f64> = ranker.sorted.iter().map(|&(k, _)| key_value(k)).collect();
        let mut direct: Vec<f64> = x.iter().map(|&v| (v - median).abs()).collect();
        direct.sort_by(f64::total_cmp);
        assert_eq!(merged, direct);
        for &(key, i) in &ranker.sorted {
            assert_eq!(key_value(key), (x[i] - median).abs(), "index {i}");
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
}
