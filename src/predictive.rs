//! A network's posterior predictive on a test set — the Bayesian model average of its class
//! probabilities (or Gaussian means) over every kept draw of every chain at T = 1, summed on
//! the device during the run — and the measures a user checks it by.
//!
//! For classification, with `p̄ᵢ = (1/S) Σₛ p(· | xᵢ, θₛ)`:
//! * accuracy: how often `argmax p̄ᵢ` is the label;
//! * NLL: `−(1/N) Σᵢ log p̄ᵢ(yᵢ)`;
//! * Brier score: `(1/N) Σᵢ Σₖ (p̄ᵢₖ − 1[yᵢ = k])²`;
//! * expected calibration error (Guo et al. 2017): examples binned by confidence `max p̄ᵢ` into
//!   15 equal-width bins, `ECE = Σ_b (n_b/N) |accuracy_b − confidence_b|`;
//! * predictive entropy `H[p̄ᵢ]` and mutual information `H[p̄ᵢ] − (1/S) Σₛ H[pₛ]`, the part of
//!   the uncertainty that comes from not knowing θ (epistemic).
//!
//! For regression (`y ~ N(f(x, θ), s²)`): RMSE of the predictive mean; NLL of the predictive
//! mixture `(1/S) Σₛ N(yᵢ; f(xᵢ, θₛ), s²)`; and the share of test labels inside the central
//! 90% interval of a normal with the mixture's mean and variance (`s²` plus the variance of
//! the means across draws).

use std::path::{Path, PathBuf};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::{Network, Output};

/// Confidence bins of the expected calibration error.
pub const CALIBRATION_BINS: usize = 15;

/// The posterior predictive on a test set.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictive {
    labels: Vec<f32>,
    /// Per example: the K averaged class probabilities, or (mean, variance of the means,
    /// mean of exp(−r²/2s²)) for regression.
    values: Vec<f64>,
    /// Per example: the average entropy of the draws' distributions (classification).
    mean_entropy: Vec<f64>,
    /// Draws averaged per example (chains at T = 1 × kept draws, less non-finite ones).
    draws: Vec<f64>,
    classes: Option<usize>,
    noise_variance: f64,
}

/// What [`Predictive::metrics`] reports.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum PredictiveMetrics {
    /// A categorical or Bernoulli output.
    Classification {
        /// Share of test examples whose most probable class is the label.
        test_accuracy: f64,
        /// Mean negative log predictive probability of the label.
        test_nll: f64,
        /// Mean squared distance of the predictive probabilities from the one-hot label.
        test_brier: f64,
        /// Expected calibration error over 15 equal-width confidence bins.
        test_ece: f64,
        /// Mean predictive entropy.
        test_entropy: f64,
        /// Mean mutual information between the label and θ (epistemic uncertainty).
        test_mutual_information: f64,
        /// Draws averaged per example (the least over examples).
        test_draws: f64,
    },
    /// A Gaussian output.
    Regression {
        /// Root mean squared error of the predictive mean.
        test_rmse: f64,
        /// Mean negative log density of the label under the predictive mixture.
        test_nll: f64,
        /// Share of labels inside the central 90% predictive interval.
        test_coverage_90: f64,
        /// Draws averaged per example (the least over examples).
        test_draws: f64,
    },
}

impl Predictive {
    /// From the device's sums over a test set (`stride` values per example: K class sums,
    /// the entropy sum and the count; or Σμ, Σμ², Σ exp(−r²/2s²) and the count).
    pub(crate) fn from_sums(sums: &[f64], test: &Dataset, network: &Network) -> Result<Predictive> {
        let output = network.spec().output;
        let classes = output.classes();
        let stride = classes.map_or(4, |k| k + 2);
        if sums.len() != test.rows() * stride {
            return Err(Error::Gpu(format!(
                "predictive sums hold {} values for {} test examples × {stride}",
                sums.len(),
                test.rows()
            )));
        }
        let noise_variance = match output {
            Output::Gaussian { noise_variance } => noise_variance,
            _ => 0.0,
        };
        let mut predictive = Predictive {
            labels: test.labels().to_vec(),
            values: Vec::with_capacity(test.rows() * classes.unwrap_or(3)),
            mean_entropy: Vec::new(),
            draws: Vec::with_capacity(test.rows()),
            classes,
            noise_variance,
        };
        for example in sums.chunks_exact(stride) {
            let count = example[stride - 1];
            if count == 0.0 {
                return Err(Error::invalid(
                    "predictive",
                    "no finite draw of a chain at temperature 1 reached the test set; every \
                     chain diverged (lower the step size) or none runs at T = 1",
                ));
            }
            predictive.draws.push(count);
            match classes {
                Some(k) => {
                    predictive
                        .values
                        .extend(example[..k].iter().map(|p| p / count));
                    predictive.mean_entropy.push(example[k] / count);
                }
                None => {
                    let mean = example[0] / count;
                    let spread = (example[1] / count - mean * mean).max(0.0);
                    predictive.values.extend([mean, spread, example[2] / count]);
                }
            }
        }
        Ok(predictive)
    }

    /// The same from draws on the CPU (`draws[s]` a θ): the twin the device's sums are
    /// checked against.
    pub fn from_draws(network: &Network, test: &Dataset, draws: &[&[f32]]) -> Result<Predictive> {
        let output = network.spec().output;
        let stride = output.classes().map_or(4, |k| k + 2);
        let mut sums = vec![0.0f64; test.rows() * stride];
        for theta in draws {
            for row in 0..test.rows() {
                let at = &mut sums[row * stride..(row + 1) * stride];
                let p = network.predict(test, row, theta);
                if p.iter().any(|v| !v.is_finite()) {
                    continue;
                }
                match output {
                    Output::Gaussian { noise_variance } => {
                        let (mean, y) = (f64::from(p[0]), f64::from(test.labels()[row]));
                        at[0] += mean;
                        at[1] += mean * mean;
                        at[2] += (-0.5 * (y - mean).powi(2) / noise_variance).exp();
                    }
                    _ => {
                        for (k, &pk) in p.iter().enumerate() {
                            at[k] += f64::from(pk);
                            if pk > 0.0 {
                                at[p.len()] -= f64::from(pk) * f64::from(pk).ln();
                            }
                        }
                    }
                }
                at[stride - 1] += 1.0;
            }
        }
        Predictive::from_sums(&sums, test, network)
    }

    /// Test examples.
    pub fn examples(&self) -> usize {
        self.labels.len()
    }

    /// Classes (2 for a Bernoulli output); `None` for regression.
    pub fn classes(&self) -> Option<usize> {
        self.classes
    }

    /// The test labels.
    pub fn labels(&self) -> &[f32] {
        &self.labels
    }

    /// The averaged class probabilities, `[examples][classes]` row-major (classification);
    /// for regression `[examples][3]`: predictive mean, variance of the draws' means, mean
    /// of `exp(−r²/2s²)`.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Per example, the entropy of the averaged probabilities `H[p̄]` (classification).
    pub fn entropy(&self) -> Vec<f64> {
        match self.classes {
            Some(k) => self.values.chunks_exact(k).map(entropy).collect(),
            None => Vec::new(),
        }
    }

    /// Per example, the mutual information `H[p̄] − mean H[pₛ]` (classification), ≥ 0 up to
    /// rounding.
    pub fn mutual_information(&self) -> Vec<f64> {
        self.entropy()
            .iter()
            .zip(&self.mean_entropy)
            .map(|(h, mean)| (h - mean).max(0.0))
            .collect()
    }

    /// Per confidence bin: (examples, mean confidence, accuracy), for the reliability diagram
    /// and the ECE; empty for regression.
    pub fn reliability(&self) -> Vec<(usize, f64, f64)> {
        let Some(k) = self.classes else {
            return Vec::new();
        };
        let mut bins = vec![(0usize, 0.0f64, 0.0f64); CALIBRATION_BINS];
        for (p, &y) in self.values.chunks_exact(k).zip(&self.labels) {
            let (best, confidence) = argmax(p);
            let bin = ((confidence * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
            bins[bin].0 += 1;
            bins[bin].1 += confidence;
            bins[bin].2 += f64::from(u8::from(best as f32 == y));
        }
        bins.into_iter()
            .map(|(n, confidence, correct)| match n {
                0 => (0, 0.0, 0.0),
                _ => (n, confidence / n as f64, correct / n as f64),
            })
            .collect()
    }

    /// The test-set measures (see the module docs).
    pub fn metrics(&self) -> PredictiveMetrics {
        let n = self.labels.len() as f64;
        let draws = self.draws.iter().copied().fold(f64::INFINITY, f64::min);
        let Some(k) = self.classes else {
            let (mut squared, mut nll, mut covered) = (0.0, 0.0, 0.0);
            let s2 = self.noise_variance;
            for (v, &y) in self.values.chunks_exact(3).zip(&self.labels) {
                let (mean, spread, likelihood) = (v[0], v[1], v[2]);
                let r = f64::from(y) - mean;
                squared += r * r;
                nll += -likelihood.max(f64::MIN_POSITIVE).ln()
                    + 0.5 * (2.0 * std::f64::consts::PI * s2).ln();
                covered += f64::from(u8::from(r.abs() <= Z_90 * (s2 + spread).sqrt()));
            }
            return PredictiveMetrics::Regression {
                test_rmse: (squared / n).sqrt(),
                test_nll: nll / n,
                test_coverage_90: covered / n,
                test_draws: draws,
            };
        };
        let (mut correct, mut nll, mut brier) = (0.0, 0.0, 0.0);
        for (p, &y) in self.values.chunks_exact(k).zip(&self.labels) {
            let label = y as usize;
            correct += f64::from(u8::from(argmax(p).0 == label));
            nll -= p[label].max(f64::MIN_POSITIVE).ln();
            brier += p
                .iter()
                .enumerate()
                .map(|(c, &pc)| (pc - f64::from(u8::from(c == label))).powi(2))
                .sum::<f64>();
        }
        let ece = self
            .reliability()
            .iter()
            .map(|&(count, confidence, accuracy)| count as f64 / n * (accuracy - confidence).abs())
            .sum();
        PredictiveMetrics::Classification {
            test_accuracy: correct / n,
            test_nll: nll / n,
            test_brier: brier / n,
            test_ece: ece,
            test_entropy: self.entropy().iter().sum::<f64>() / n,
            test_mutual_information: self.mutual_information().iter().sum::<f64>() / n,
            test_draws: draws,
        }
    }
}

impl Predictive {
    /// Writes the predictive as NPY f32: for classification the averaged probabilities
    /// `[examples, classes]`; for regression `[examples, 2]`, the predictive mean and variance
    /// (`s²` plus the variance of the draws' means).
    pub fn write_npy(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self.classes {
            Some(k) => {
                let values: Vec<f32> = self.values.iter().map(|&v| v as f32).collect();
                crate::npy::write_matrix(out, k, &values)
            }
            None => {
                let values: Vec<f32> = self
                    .values
                    .chunks_exact(3)
                    .flat_map(|v| [v[0] as f32, (self.noise_variance + v[1]) as f32])
                    .collect();
                crate::npy::write_matrix(out, 2, &values)
            }
        }
    }

    /// Writes the per-example uncertainty as NPY f32 `[examples, 3]`: the label, then for
    /// classification the predictive entropy `H[p̄]` and the mutual information (epistemic
    /// part), for regression the variance of the draws' means (epistemic part) and the log
    /// predictive density of the label.
    pub fn write_uncertainty_npy(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let rows: Vec<[f64; 2]> = match self.classes {
            Some(_) => self
                .entropy()
                .into_iter()
                .zip(self.mutual_information())
                .map(|(h, mi)| [h, mi])
                .collect(),
            None => self
                .values
                .chunks_exact(3)
                .map(|v| {
                    let normaliser = 0.5 * (2.0 * std::f64::consts::PI * self.noise_variance).ln();
                    [v[1], v[2].max(f64::MIN_POSITIVE).ln() - normaliser]
                })
                .collect(),
        };
        let values: Vec<f32> = rows
            .iter()
            .zip(&self.labels)
            .flat_map(|(r, &y)| [y, r[0] as f32, r[1] as f32])
            .collect();
        crate::npy::write_matrix(out, 3, &values)
    }

    /// Reads a classification predictive back from the files [`Predictive::write_npy`] and
    /// [`Predictive::write_uncertainty_npy`] wrote (the second at [`uncertainty_path`]), for
    /// the reliability diagram and the metrics; the count of draws is not kept (0).
    pub fn read_npy(path: &Path) -> Result<Predictive> {
        let companion = uncertainty_path(path);
        let (rows, classes, probabilities) = crate::npy::read_matrix(path)?;
        let (label_rows, columns, uncertainty) = crate::npy::read_matrix(&companion)?;
        if label_rows != rows || columns != 3 || classes < 2 {
            return Err(Error::Data {
                path: companion,
                line: None,
                message: format!(
                    "{label_rows} × {columns} values beside {rows} × {classes} probabilities in \
                     {}; expected the `[examples, 3]` uncertainty file `langevin sample \
                     --predictive` writes beside a classifier's probabilities",
                    path.display()
                ),
            });
        }
        let labels: Vec<f32> = uncertainty.chunks_exact(3).map(|r| r[0]).collect();
        if let Some(i) = labels
            .iter()
            .position(|&y| !(y >= 0.0 && y.fract() == 0.0 && (y as usize) < classes))
        {
            return Err(Error::Data {
                path: companion,
                line: None,
                message: format!(
                    "label {} of example {i} is not a class of 0..{classes}",
                    labels[i]
                ),
            });
        }
        Ok(Predictive {
            mean_entropy: uncertainty
                .chunks_exact(3)
                .map(|r| f64::from(r[1]) - f64::from(r[2]))
                .collect(),
            draws: vec![0.0; rows],
            values: probabilities.iter().map(|&p| f64::from(p)).collect(),
            labels,
            classes: Some(classes),
            noise_variance: 0.0,
        })
    }
}

/// Where the uncertainty file beside a predictive file goes: `p.npy` → `p.uncertainty.npy`.
pub fn uncertainty_path(predictive: &Path) -> PathBuf {
    predictive.with_extension("uncertainty.npy")
}

/// The 95th percentile of the standard normal: the half-width of a central 90% interval.
const Z_90: f64 = 1.644_853_626_951_472_2;

fn argmax(p: &[f64]) -> (usize, f64) {
    p.iter()
        .copied()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (k, v)| {
            if v > best.1 {
                (k, v)
            } else {
                best
            }
        })
}

fn entropy(p: &[f64]) -> f64 {
    -p.iter()
        .filter(|&&v| v > 0.0)
        .map(|v| v * v.ln())
        .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, NetworkSpec, Prior};

    fn predictive(values: Vec<f64>, labels: Vec<f32>, mean_entropy: Vec<f64>) -> Predictive {
        Predictive {
            draws: vec![1.0; labels.len()],
            labels,
            values,
            mean_entropy,
            classes: Some(2),
            noise_variance: 0.0,
        }
    }

    /// Hand-computed values: two examples, one right with 0.9, one wrong with 0.6.
    #[test]
    fn classification_metrics_by_hand() {
        let p = predictive(vec![0.1, 0.9, 0.6, 0.4], vec![1.0, 1.0], vec![0.2, 0.5]);
        let PredictiveMetrics::Classification {
            test_accuracy,
            test_nll,
            test_brier,
            test_ece,
            test_mutual_information,
            ..
        } = p.metrics()
        else {
            panic!("classification");
        };
        assert_eq!(test_accuracy, 0.5);
        assert!((test_nll - (-(0.9f64.ln()) - 0.4f64.ln()) / 2.0).abs() < 1e-12);
        assert!((test_brier - (0.02 + 0.72) / 2.0).abs() < 1e-12);
        // Bins: 0.9 → bin 13 (accuracy 1), 0.6 → bin 9 (accuracy 0).
        assert!((test_ece - (0.5 * 0.1 + 0.5 * 0.6)).abs() < 1e-12);
        let h = |a: f64, b: f64| -(a * a.ln() + b * b.ln());
        let mi = ((h(0.1, 0.9) - 0.2) + (h(0.6, 0.4) - 0.5)) / 2.0;
        assert!((test_mutual_information - mi).abs() < 1e-12);
    }

    /// The device's layout of sums and the CPU twin agree on a small network.
    #[test]
    fn sums_from_draws_average_the_draws() {
        let x = vec![0.2, -0.1, 0.5, 0.3, -0.4, 0.9];
        let data = Dataset::from_dense(x, 2, vec![0.0, 2.0, 1.0]).expect("data");
        let network = Network::new(
            data.clone(),
            NetworkSpec {
                hidden: vec![3],
                activation: Activation::Tanh,
                output: Output::Categorical { classes: 3 },
                prior: Prior::Isotropic { variance: 1.0 },
            },
        )
        .expect("network");
        let a: Vec<f32> = (0..network.dim())
            .map(|d| (d as f32 * 0.37).sin())
            .collect();
        let b: Vec<f32> = (0..network.dim())
            .map(|d| (d as f32 * 0.71).cos())
            .collect();
        let both = Predictive::from_draws(&network, &data, &[&a, &b]).expect("predictive");
        for row in 0..3 {
            let pa = network.predict(&data, row, &a);
            let pb = network.predict(&data, row, &b);
            for k in 0..3 {
                let mean = (f64::from(pa[k]) + f64::from(pb[k])) / 2.0;
                assert!((both.values()[row * 3 + k] - mean).abs() < 1e-7);
            }
        }
        assert!(both.mutual_information().iter().all(|&m| m >= 0.0));
    }
}
