//! Per-dimension posterior summaries of a run: mean, sd, quantiles, R-hat and bulk ESS.

use std::fmt;

use crate::diagnostics;
use crate::draws::Draws;

/// Summary of every dimension, over the chains that stayed finite. Columnar: entry `d` of each
/// vector belongs to dimension `d`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Dimensions `D`.
    pub dim: usize,
    /// Chains run.
    pub chains: usize,
    /// Draws kept per chain.
    pub draws: usize,
    /// Chains with a non-finite value in any kept draw; they are left out of every statistic.
    pub divergent_chains: usize,
    /// Posterior mean.
    pub mean: Vec<f64>,
    /// Posterior standard deviation (pooled over chains and draws, divisor `n − 1`).
    pub sd: Vec<f64>,
    /// 5% quantile.
    pub q05: Vec<f64>,
    /// Median.
    pub q50: Vec<f64>,
    /// 95% quantile.
    pub q95: Vec<f64>,
    /// Rank-normalised split R-hat (Vehtari et al. 2021), the larger of bulk and folded.
    pub rhat: Vec<f64>,
    /// Bulk effective sample size (Vehtari et al. 2021).
    pub ess_bulk: Vec<f64>,
}

/// Memory the summary's threads may use together (see [`Summary::of`]).
const SUMMARY_MEMORY: usize = 2 << 30;

/// A summary thread's buffers, reused from one dimension to the next.
#[derive(Default)]
struct DimensionWork {
    /// The dimension's values over the finite chains.
    values: Vec<f64>,
    /// The dimension's values over all chains, when some are left out.
    all: Vec<f64>,
    diagnostics: diagnostics::Workspace,
}

/// The `p` quantile by linear interpolation between order statistics (Hyndman & Fan type 7,
/// numpy's default); NaN for no values. Reorders `values`.
fn quantile(values: &mut [f64], p: f64) -> f64 {
    match values.len() {
        0 => f64::NAN,
        1 => values[0],
        _ => diagnostics::quantile_type7(values, p),
    }
}

impl Summary {
    /// The summary of `chains` (indices into the draws' chains).
    pub(crate) fn of(draws: &Draws, chains: &[usize]) -> Summary {
        let (n_draws, n_chains, dim) = draws.shape();
        let divergent = draws.divergent_chains();
        let finite: Vec<usize> = chains.iter().copied().filter(|&c| !divergent[c]).collect();
        let kept = finite.len();
        let mut summary = Summary {
            dim,
            chains: chains.len(),
            draws: n_draws,
            divergent_chains: chains.len() - kept,
            mean: Vec::with_capacity(dim),
            sd: Vec::with_capacity(dim),
            q05: Vec::with_capacity(dim),
            q50: Vec::with_capacity(dim),
            q95: Vec::with_capacity(dim),
            rhat: Vec::with_capacity(dim),
            ess_bulk: Vec::with_capacity(dim),
        };
        // Dimensions are independent: summarise them on every core (each dimension's
        // arithmetic is the same whichever thread does it, so the figures do not depend on
        // the core count), as many at once as SUMMARY_MEMORY holds: a dimension's values
        // (twice when chains are left out), their split copy and normal scores take 8 bytes
        // per draw each, and the ranking 16 (24 for values that are not all f32s). The
        // table of normal scores, 8 bytes per draw, is shared.
        let per_dimension = 56 * n_draws * n_chains;
        let at_once = (SUMMARY_MEMORY / per_dimension.max(1)).max(1);
        // Each thread keeps its buffers from one dimension to the next (`Workspace`), and
        // every dimension ranks as many values, so all share one table of normal scores.
        let template = diagnostics::Workspace::for_quantities(n_draws, kept);
        let work = || DimensionWork {
            diagnostics: template.sharing(),
            ..DimensionWork::default()
        };
        let rows = diagnostics::parallel_map(dim, at_once, work, |work, d| {
            let values = &mut work.values;
            if kept == n_chains {
                draws.dimension_into(d, values);
            } else {
                draws.dimension_into(d, &mut work.all);
                let all = &work.all;
                values.clear();
                values.extend(
                    (0..n_draws)
                        .flat_map(|i| finite.iter().map(move |&c| (i, c)))
                        .map(|(i, c)| all[i * n_chains + c]),
                );
            }
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
            let (rhat, ess_bulk) =
                diagnostics::rhat_and_ess_bulk_in(values, n_draws, kept, &mut work.diagnostics);
            // The ranking R-hat made has the order statistics, where it holds every value.
            let [q05, q50, q95] = [0.05, 0.50, 0.95].map(|p| {
                work.diagnostics
                    .ranked_quantile(p)
                    .unwrap_or_else(|| quantile(values, p))
            });
            [mean, var.sqrt(), q05, q50, q95, rhat, ess_bulk]
        });
        for [mean, sd, q05, q50, q95, rhat, ess] in rows {
            summary.mean.push(mean);
            summary.sd.push(sd);
            summary.q05.push(q05);
            summary.q50.push(q50);
            summary.q95.push(q95);
            summary.rhat.push(rhat);
            summary.ess_bulk.push(ess);
        }
        summary
    }
}

/// Rows a summary table prints by default (`langevin sample` without `--print-all`).
pub const DEFAULT_TABLE_ROWS: usize = 20;

impl Summary {
    /// The table [`Display`](fmt::Display) prints, with at most `max_rows` dimensions (all
    /// with `None`); when rows are left out, a last line says how many and where the largest
    /// R-hat and the smallest bulk ESS are, so a problem in a hidden row is not missed.
    pub fn table(&self, max_rows: Option<usize>) -> String {
        let mut out = format!(
            "{} chains × {} draws × {} dimensions; {} divergent chains\n",
            self.chains, self.draws, self.dim, self.divergent_chains
        );
        out += &format!(
            "{:>5} {:>11} {:>10} {:>11} {:>11} {:>11} {:>7} {:>10}\n",
            "dim", "mean", "sd", "5%", "50%", "95%", "R-hat", "ESS bulk"
        );
        let shown = max_rows.unwrap_or(self.dim).min(self.dim);
        for d in 0..shown {
            out += &format!(
                "{:>5} {:>11.5} {:>10.5} {:>11.5} {:>11.5} {:>11.5} {:>7.4} {:>10.0}\n",
                d,
                self.mean[d],
                self.sd[d],
                self.q05[d],
                self.q50[d],
                self.q95[d],
                self.rhat[d],
                self.ess_bulk[d]
            );
        }
        out += &omitted_rows(shown, &self.rhat, Some(&self.ess_bulk));
        out
    }
}

/// The line that ends a table showing `shown` of `rhat.len()` dimensions: how many are left
/// out, the largest R-hat and the smallest bulk ESS among all of them (NaN skipped); empty when
/// every row is shown.
pub(crate) fn omitted_rows(shown: usize, rhat: &[f64], ess_bulk: Option<&[f64]>) -> String {
    let total = rhat.len();
    if shown >= total {
        return String::new();
    }
    let extreme = |values: &[f64], largest: bool| {
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .reduce(|a, b| if (b.1 > a.1) == largest { b } else { a })
            .map(|(d, v)| (d, *v))
    };
    let mut line = format!("… {} more dimensions not shown", total - shown);
    if let Some((d, r)) = extreme(rhat, true) {
        line += &format!("; largest R-hat {r:.4} (dim {d})");
    }
    if let Some((d, e)) = ess_bulk.and_then(|ess| extreme(ess, false)) {
        line += &format!(", smallest ESS bulk {e:.0} (dim {d})");
    }
    line + "; --print-all prints every dimension, --json writes them all\n"
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.table(None))
    }
}

impl Draws {
    /// Per-dimension summaries with R-hat and ESS over the chains at temperature 1 (all
    /// chains without a ladder; all chains, with a warning, when no rung is at 1) that stayed
    /// finite.
    pub fn summary(&self) -> Summary {
        let chains = self.posterior_chains();
        if chains.is_empty() {
            log::warn!("no chain of the temperature ladder is at T = 1; summarising all chains");
            return self.summary_all_chains();
        }
        Summary::of(self, &chains)
    }

    /// Per-dimension summaries over every chain, whatever its temperature.
    pub fn summary_all_chains(&self) -> Summary {
        Summary::of(self, &(0..self.chains).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let mut values = [4.0, 10.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&mut values, 0.5), 3.0);
        assert_eq!(quantile(&mut values, 0.0), 1.0);
        assert_eq!(quantile(&mut values, 1.0), 10.0);
        // numpy.quantile([1, 2, 3, 4, 10], 0.95) = 8.8
        assert!((quantile(&mut values, 0.95) - 8.8).abs() < 1e-12);
        assert_eq!(quantile(&mut [2.5], 0.05), 2.5);
        assert!(quantile(&mut [], 0.5).is_nan());
    }
}
