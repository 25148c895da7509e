//! Bayesian linear and logistic regression with a Gaussian prior `θ ~ N(0, σ² I)`: models whose
//! log-likelihood depends on θ through `η = xᵀθ` (plus an intercept as coefficient 0).

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg;

/// The likelihood `p(y | η)` of one example.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Likelihood {
    /// `y ~ N(η, s²)` with known noise variance `s²`: `d log p/dη = (y − η)/s²`.
    Linear {
        /// `s²`.
        noise_variance: f64,
    },
    /// `P(y = 1) = σ(η)` with labels stored as ±1: `d log p/dη = y σ(−yη)`.
    Logistic,
}

/// A regression target: likelihood, training data, prior variance and intercept.
///
/// `U(θ) = |θ|²/(2σ²) − Σᵢ log p(yᵢ | xᵢᵀθ)`; the coefficient vector is
/// `(intercept, w₁ … w_F)` unless built [`Regression::without_intercept`].
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    pub(crate) likelihood: Likelihood,
    pub(crate) data: Dataset,
    pub(crate) prior_variance: f64,
    pub(crate) intercept: bool,
}

fn check_prior(prior_variance: f64) -> Result<()> {
    if !(prior_variance.is_finite() && prior_variance > 0.0) {
        return Err(Error::invalid(
            "prior variance",
            format!("{prior_variance} must be positive and finite"),
        ));
    }
    Ok(())
}

/// Labels for a binary classifier as ±1: they must all be in `{−1, +1}` or all in `{0, 1}`.
/// The first label that is not 1 sets which; an error names the first row that breaks it
/// (its file and line), and the row that set the convention.
pub fn binary_labels(data: Dataset) -> Result<Dataset> {
    let labels = data.labels();
    let convention = labels.iter().position(|&y| y != 1.0);
    let Some(first) = convention else {
        return Ok(data);
    };
    let zero_one = match labels[first] {
        0.0 => true,
        -1.0 => false,
        bad => {
            return Err(data.row_error(
                first,
                format!("label {bad}: a binary classifier needs labels in {{−1, +1}} or {{0, 1}}"),
            ))
        }
    };
    let allowed = |y: f32| y == 1.0 || y == if zero_one { 0.0 } else { -1.0 };
    if let Some(row) = labels.iter().position(|&y| !allowed(y)) {
        let set = if zero_one { "{0, 1}" } else { "{−1, +1}" };
        return Err(data.row_error(
            row,
            format!(
                "label {}: a binary classifier needs labels in {{−1, +1}} or {{0, 1}} \
                 throughout, and an earlier row (with {}) set {set}",
                labels[row], labels[first]
            ),
        ));
    }
    Ok(if zero_one {
        data.map_labels(|y| 2.0 * y - 1.0)
    } else {
        data
    })
}

impl Regression {
    /// Linear regression `y ~ N(xᵀθ, s²)`, prior `N(0, σ² I)`.
    pub fn linear(data: Dataset, noise_variance: f64, prior_variance: f64) -> Result<Regression> {
        check_prior(prior_variance)?;
        if !(noise_variance.is_finite() && noise_variance > 0.0) {
            return Err(Error::invalid(
                "noise variance",
                format!("{noise_variance} must be positive and finite"),
            ));
        }
        Ok(Regression {
            likelihood: Likelihood::Linear { noise_variance },
            data,
            prior_variance,
            intercept: true,
        })
    }

    /// Logistic regression, prior `N(0, σ² I)`. Labels must all be in `{−1, +1}` or all in
    /// `{0, 1}`; they are stored as ±1.
    pub fn logistic(data: Dataset, prior_variance: f64) -> Result<Regression> {
        check_prior(prior_variance)?;
        let data = binary_labels(data)?;
        Ok(Regression {
            likelihood: Likelihood::Logistic,
            data,
            prior_variance,
            intercept: true,
        })
    }

    /// The same model with no intercept: coefficient `d` is feature `d`.
    pub fn without_intercept(mut self) -> Regression {
        self.intercept = false;
        self
    }

    /// Coefficients `D`: features, plus one for the intercept.
    pub fn dim(&self) -> usize {
        self.data.features() + usize::from(self.intercept)
    }

    /// The likelihood.
    pub fn likelihood(&self) -> Likelihood {
        self.likelihood
    }

    /// The training data.
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// `η = xᵀθ` of example `row` (with the intercept), in f32 with the kernel's order.
    fn linear_predictor(&self, theta: &[f32], row: usize) -> f32 {
        let offset = usize::from(self.intercept);
        let mut eta = if self.intercept { theta[0] } else { 0.0 };
        self.data.for_row(row, |column, value| {
            eta = value.mul_add(theta[column + offset], eta);
        });
        eta
    }

    fn dloglik_deta(&self, y: f32, eta: f32) -> f32 {
        match self.likelihood {
            Likelihood::Linear { noise_variance } => (y - eta) * (1.0 / noise_variance) as f32,
            Likelihood::Logistic => y / (1.0 + (y * eta).exp()),
        }
    }

    /// CPU twin of the kernel's mini-batch gradient
    /// `∇Ũ(θ) = θ/σ² − (N/n) Σ_{i ∈ rows} xᵢ d log p(yᵢ | η)/dη` for one chain.
    pub fn gradient(&self, theta: &[f32], rows: &[u32], out: &mut [f32]) {
        let prior_precision = (1.0 / self.prior_variance) as f32;
        for (g, t) in out.iter_mut().zip(theta) {
            *g = prior_precision * t;
        }
        let scale = (self.data.rows() as f64 / rows.len() as f64) as f32;
        let offset = usize::from(self.intercept);
        for &row in rows {
            let row = row as usize;
            let eta = self.linear_predictor(theta, row);
            let g = -scale * self.dloglik_deta(self.data.labels()[row], eta);
            if self.intercept {
                out[0] += g;
            }
            self.data.for_row(row, |column, value| {
                out[column + offset] = g.mul_add(value, out[column + offset]);
            });
        }
    }

    /// `Σᵢ −∇ log p(yᵢ | θ)` over every example, accumulated in f64.
    pub(crate) fn data_gradient(&self, theta: &[f32]) -> Vec<f64> {
        let offset = usize::from(self.intercept);
        let mut total = vec![0.0f64; self.dim()];
        for row in 0..self.data.rows() {
            let eta = self.linear_predictor(theta, row);
            let g = -f64::from(self.dloglik_deta(self.data.labels()[row], eta));
            if self.intercept {
                total[0] += g;
            }
            self.data.for_row(row, |column, value| {
                total[column + offset] += g * f64::from(value);
            });
        }
        total
    }

    /// The Hessian of `U(θ) = −log p(θ) − Σᵢ log p(yᵢ | θ)` over every example, row-major
    /// `D × D` in f64: `I/σ² + Σᵢ wᵢ x̃ᵢ x̃ᵢᵀ` with `x̃ᵢ` the row with its intercept, `wᵢ = 1/s²`
    /// (linear) or `σ(ηᵢ)(1 − σ(ηᵢ))` (logistic). What [`crate::sampler::Preconditioner`] takes
    /// at the mode.
    pub(crate) fn hessian(&self, theta: &[f32]) -> Vec<f64> {
        let dim = self.dim();
        let mut hessian = vec![0.0f64; dim * dim];
        for d in 0..dim {
            hessian[d * dim + d] = 1.0 / self.prior_variance;
        }
        self.for_each_example(|entries, _| {
            let eta: f64 = entries.iter().map(|&(d, x)| x * f64::from(theta[d])).sum();
            let weight = match self.likelihood {
                Likelihood::Linear { noise_variance } => 1.0 / noise_variance,
                Likelihood::Logistic => {
                    let p = 1.0 / (1.0 + (-eta).exp());
                    p * (1.0 - p)
                }
            };
            for &(i, xi) in entries {
                for &(j, xj) in entries {
                    hessian[i * dim + j] += weight * xi * xj;
                }
            }
        });
        hessian
    }

    /// Calls `f(entries, y)` for every example in order: its stored entries `(coordinate,
    /// value)` in f64, the intercept's `(0, 1)` first, and its label.
    fn for_each_example(&self, mut f: impl FnMut(&[(usize, f64)], f64)) {
        let offset = usize::from(self.intercept);
        let mut entries: Vec<(usize, f64)> = Vec::with_capacity(self.dim());
        for row in 0..self.data.rows() {
            entries.clear();
            if self.intercept {
                entries.push((0, 1.0));
            }
            self.data.for_row(row, |column, value| {
                entries.push((column + offset, f64::from(value)));
            });
            f(&entries, f64::from(self.data.labels()[row]));
        }
    }

    /// Whether the likelihood is Gaussian (linear regression).
    pub(crate) fn is_linear(&self) -> bool {
        matches!(self.likelihood, Likelihood::Linear { .. })
    }

    /// The data's sufficient statistics for linear regression, in f64: `(X̃ᵀX̃, X̃ᵀy)`, the
    /// first row-major `D × D`, with `X̃` the rows with their intercept column. Over every
    /// example, `−Σᵢ ∇ log p(yᵢ | θ) = (X̃ᵀX̃ θ − X̃ᵀy)/s²`.
    pub(crate) fn sufficient_statistics(&self) -> (Vec<f64>, Vec<f64>) {
        let d = self.dim();
        let mut gram = vec![0.0; d * d];
        let mut xty = vec![0.0; d];
        // Over the stored entries only: N·w² products for rows of w entries.
        self.for_each_example(|entries, y| {
            for &(i, xi) in entries {
                xty[i] += xi * y;
                for &(j, xj) in entries {
                    gram[i * d + j] += xi * xj;
                }
            }
        });
        (gram, xty)
    }

    /// The exact posterior `N(m, S)` of linear regression (conjugate):
    /// `S = (XᵀX/s² + I/σ²)⁻¹`, `m = S Xᵀy/s²`, with `X` holding the intercept column.
    /// `None` for logistic regression.
    pub fn exact_posterior(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        let Likelihood::Linear { noise_variance } = self.likelihood else {
            return None;
        };
        let d = self.dim();
        let (gram, xty) = self.sufficient_statistics();
        let mut precision: Vec<f64> = gram.iter().map(|g| g / noise_variance).collect();
        let xty: Vec<f64> = xty.iter().map(|v| v / noise_variance).collect();
        for i in 0..d {
            precision[i * d + i] += 1.0 / self.prior_variance;
        }
        let covariance = linalg::spd_inverse(&precision, d)?;
        let mean = (0..d)
            .map(|i| (0..d).map(|j| covariance[i * d + j] * xty[j]).sum())
            .collect();
        Some((mean, covariance))
    }

    /// Posterior-predictive accuracy and mean log-likelihood per example of `test` (logistic
    /// only; see [`super::classifier_predictive`]). Test features beyond the model's are ignored.
    pub fn predictive(&self, test: &Dataset, draws: &[&[f32]]) -> Option<(f64, f64)> {
        if self.likelihood != Likelihood::Logistic {
            return None;
        }
        let offset = usize::from(self.intercept);
        super::classifier_predictive(test, draws, |data, row, theta| {
            let mut eta = if self.intercept { theta[0] } else { 0.0 };
            data.for_row(row, |column, value| {
                if column + offset < theta.len() {
                    eta = value.mul_add(theta[column + offset], eta);
                }
            });
            eta
        })
    }

    /// The GLM's WGSL and constants: 1/σ², 1/s², intercept flag (see `shaders/glm.wgsl`).
    pub(crate) fn data_kernel(&self) -> super::DataKernelParts<'_> {
        use super::shaders::{GLM, GLM_LINEAR, GLM_LOGISTIC};
        let (likelihood, noise_precision, label) = match self.likelihood {
            Likelihood::Linear { noise_variance } => (
                GLM_LINEAR,
                (1.0 / noise_variance) as f32,
                "sgld_linear_regression",
            ),
            Likelihood::Logistic => (GLM_LOGISTIC, 0.0, "sgld_logistic_regression"),
        };
        super::DataKernelParts {
            label: label.to_owned(),
            wgsl: vec![GLM.into(), likelihood.into()],
            params: vec![
                (1.0 / self.prior_variance) as f32,
                noise_precision,
                f32::from(u8::from(self.intercept)),
            ],
            data: &self.data,
            glm_likelihood: Some(likelihood.into()),
        }
    }
}
