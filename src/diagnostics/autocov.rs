//! Autocovariance by FFT and the effective sample size it gives (Geyer's initial monotone
//! sequence), and the inverse normal CDF for rank-normalisation.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::{mean_and_variance, python_max, shifted_mean, CONSTANT_SPREAD};

/// Smallest `2^a 3^b 5^c ≥ target` (SciPy's `fftpack.next_fast_len`).
pub(super) fn next_fast_len(target: usize) -> usize {
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
pub(super) struct Autocov {
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

    pub(super) fn new(len: usize) -> Self {
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
    pub(super) fn ess(&mut self, x: &[f64], chains: usize) -> f64 {
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
pub(super) fn inverse_normal_cdf(p: f64) -> f64 {
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
