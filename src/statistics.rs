//! Running statistics kept on the GPU while a run goes — per chain and dimension, the mean and
//! variance of the kept draws (Welford 1962, in f32), and each chain's divergence record —
//! and the cross-chain summary made from them without reading a single draw back.
//!
//! In f32 each update rounds at ~6·10⁻⁸ relative, so over `n` draws the means and variances
//! drift by about `sqrt(n) · 6·10⁻⁸` relative: ~10⁻⁵ after 10⁵ draws per chain, far below the
//! Monte Carlo error of any such summary.

use crate::diagnostics::nested_rhat_from_moments;

/// What the GPU accumulated over a run's kept draws (for the chains this process ran).
#[derive(Debug, Clone, PartialEq)]
pub struct ChainStatistics {
    pub(crate) chains: usize,
    pub(crate) dim: usize,
    /// Draws folded in, per chain.
    pub(crate) counts: Vec<u32>,
    /// Chain-major: `mean[c · D + d]`.
    pub(crate) mean: Vec<f64>,
    /// Chain-major sums of squared deviations.
    pub(crate) m2: Vec<f64>,
    /// Per chain: the updates before the first divergent draw, if any.
    pub(crate) first_divergence: Vec<Option<u32>>,
    /// Per chain: divergent draws found.
    pub(crate) divergences: Vec<u32>,
    /// Per chain: excluded after a divergence under the freeze policy.
    pub(crate) frozen: Vec<bool>,
    /// Per chain: its temperature under a ladder (empty without one).
    pub(crate) temperatures: Vec<f32>,
}

/// One divergent chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Divergence {
    /// The chain (index among this process's chains).
    pub chain: usize,
    /// Updates before the first kept draw found NaN or infinite.
    pub first_step: u32,
    /// Divergent draws found (more than one only under [`crate::sampler::DivergencePolicy::Reset`]).
    pub count: u32,
}

/// The cross-chain summary of [`ChainStatistics`]: over the chains at temperature 1 that
/// were never frozen.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MomentSummary {
    /// Chains summarised.
    pub chains: usize,
    /// Pooled mean per dimension.
    pub mean: Vec<f64>,
    /// Pooled standard deviation per dimension (all draws of all summarised chains).
    pub sd: Vec<f64>,
    /// R-hat per dimension from chain means and variances, `sqrt(1 + B/W)` with `B` the
    /// variance of the chain means and `W` the mean within-chain variance (nested R-hat with
    /// one chain per superchain; not split, not rank-normalised: that needs the draws).
    pub rhat: Vec<f64>,
    /// Chains flagged divergent (all of this process's chains).
    pub divergent_chains: usize,
}

impl MomentSummary {
    /// The table [`Display`](std::fmt::Display) prints, with at most `max_rows` dimensions
    /// (all with `None`), as [`crate::summary::Summary::table`].
    pub fn table(&self, max_rows: Option<usize>) -> String {
        let mut out = format!(
            "{} chains (running statistics, no draws kept); {} divergent chains\n",
            self.chains, self.divergent_chains
        );
        out += &format!("{:>5} {:>11} {:>10} {:>7}\n", "dim", "mean", "sd", "R-hat");
        let shown = max_rows.unwrap_or(self.mean.len()).min(self.mean.len());
        for d in 0..shown {
            out += &format!(
                "{:>5} {:>11.5} {:>10.5} {:>7.4}\n",
                d, self.mean[d], self.sd[d], self.rhat[d]
            );
        }
        out + &crate::summary::omitted_rows(shown, &self.rhat, None)
    }
}

impl std::fmt::Display for MomentSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.table(None))
    }
}

impl ChainStatistics {
    /// Builds them from the GPU's arrays (means then sums of squares laid out like θ,
    /// `[d · C + c]`; status words `[count, first divergence, divergences, frozen]`).
    pub(crate) fn from_gpu(
        dim: usize,
        statistics: &[f32],
        status: &[[u32; 4]],
        temperatures: Vec<f32>,
    ) -> ChainStatistics {
        let chains = status.len();
        let size = chains * dim;
        let chain_major = |offset: usize| -> Vec<f64> {
            (0..size)
                .map(|k| f64::from(statistics[offset + (k % dim) * chains + k / dim]))
                .collect()
        };
        ChainStatistics {
            chains,
            dim,
            counts: status.iter().map(|s| s[0]).collect(),
            mean: chain_major(0),
            m2: chain_major(size),
            first_divergence: status
                .iter()
                .map(|s| (s[1] != u32::MAX).then_some(s[1]))
                .collect(),
            divergences: status.iter().map(|s| s[2]).collect(),
            frozen: status.iter().map(|s| s[3] == 1).collect(),
            temperatures,
        }
    }

    /// Appends the chains of `next` (the following group of the same run) after these.
    pub(crate) fn append(&mut self, next: ChainStatistics) {
        self.chains += next.chains;
        self.dim = next.dim;
        self.counts.extend(next.counts);
        self.mean.extend(next.mean);
        self.m2.extend(next.m2);
        self.first_divergence.extend(next.first_divergence);
        self.divergences.extend(next.divergences);
        self.frozen.extend(next.frozen);
        self.temperatures.extend(next.temperatures);
    }

    /// `(chains, dim)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.chains, self.dim)
    }

    /// Draws folded into `chain`'s statistics (a frozen chain stops counting).
    pub fn count(&self, chain: usize) -> u32 {
        self.counts[chain]
    }

    /// The mean of `chain`'s kept draws in dimension `dim`.
    pub fn mean(&self, chain: usize, dim: usize) -> f64 {
        self.mean[chain * self.dim + dim]
    }

    /// The sample variance (divisor n − 1) of `chain`'s kept draws in dimension `dim`; NaN
    /// with fewer than 2 draws.
    pub fn variance(&self, chain: usize, dim: usize) -> f64 {
        let n = f64::from(self.counts[chain]);
        if n < 2.0 {
            return f64::NAN;
        }
        self.m2[chain * self.dim + dim] / (n - 1.0)
    }

    /// Every chain flagged divergent, in chain order.
    pub fn divergences(&self) -> Vec<Divergence> {
        (0..self.chains)
            .filter_map(|c| {
                self.first_divergence[c].map(|first_step| Divergence {
                    chain: c,
                    first_step,
                    count: self.divergences[c],
                })
            })
            .collect()
    }

    /// The chains a summary covers: at temperature 1, never frozen, with at least 2 draws.
    pub fn summarised_chains(&self) -> Vec<usize> {
        (0..self.chains)
            .filter(|&c| self.temperatures.get(c).is_none_or(|&t| t == 1.0))
            .filter(|&c| !self.frozen[c] && self.counts[c] >= 2)
            .collect()
    }

    /// Nested R-hat per dimension (Margossian et al. 2022) over the summarised chains cut
    /// into `superchains` contiguous superchains of equal size, from the running moments;
    /// NaN where [`crate::diagnostics::nested_rhat_from_moments`] gives NaN (for example when
    /// the chains do not divide into `superchains`, or a chain was excluded so that they no
    /// longer do).
    pub fn nested_rhat(&self, superchains: usize) -> Vec<f64> {
        let chains = self.summarised_chains();
        let draws = chains.iter().map(|&c| self.counts[c]).min().unwrap_or(0) as usize;
        (0..self.dim)
            .map(|d| {
                let means: Vec<f64> = chains.iter().map(|&c| self.mean(c, d)).collect();
                let variances: Vec<f64> = chains.iter().map(|&c| self.variance(c, d)).collect();
                nested_rhat_from_moments(&means, &variances, draws, superchains)
            })
            .collect()
    }

    /// The cross-chain summary (see [`MomentSummary`]).
    pub fn summary(&self) -> MomentSummary {
        let chains = self.summarised_chains();
        let k = chains.len();
        let mut summary = MomentSummary {
            chains: k,
            mean: vec![f64::NAN; self.dim],
            sd: vec![f64::NAN; self.dim],
            rhat: vec![f64::NAN; self.dim],
            divergent_chains: self.divergences().len(),
        };
        if k == 0 {
            return summary;
        }
        for d in 0..self.dim {
            let total: f64 = chains.iter().map(|&c| f64::from(self.counts[c])).sum();
            let mean = chains
                .iter()
                .map(|&c| f64::from(self.counts[c]) * self.mean(c, d))
                .sum::<f64>()
                / total;
            let squares: f64 = chains
                .iter()
                .map(|&c| {
                    self.m2[c * self.dim + d]
                        + f64::from(self.counts[c]) * (self.mean(c, d) - mean).powi(2)
                })
                .sum();
            summary.mean[d] = mean;
            summary.sd[d] = (squares / (total - 1.0)).sqrt();
            let means: Vec<f64> = chains.iter().map(|&c| self.mean(c, d)).collect();
            let variances: Vec<f64> = chains.iter().map(|&c| self.variance(c, d)).collect();
            let draws = chains.iter().map(|&c| self.counts[c]).min().unwrap_or(0);
            summary.rhat[d] = if k >= 2 {
                nested_rhat_from_moments(&means, &variances, draws as usize, k)
            } else {
                f64::NAN
            };
        }
        summary
    }
}
