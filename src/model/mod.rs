//! What is sampled: target distributions with gradients computed inside the GPU kernels.

mod custom;
mod gaussian;
mod mixture;
mod mlp;
mod network;
mod regression;
pub(crate) mod shaders;
pub mod toys;

pub use custom::{CpuLikelihoodGradient, CpuPriorGradient, CustomModel};
pub use gaussian::{Gaussian, Precision, DIAGONAL_BYTES_PER_DIMENSION};
pub use mixture::{welling_teh_log_posterior, welling_teh_mixture};
pub use mlp::{mlp_classifier, MlpShape};
pub use network::{Activation, Layer, Network, NetworkSpec, Output, Prior};
pub use regression::{binary_labels, Likelihood, Regression};

use std::borrow::Cow;

use crate::data::Dataset;

/// Anything a [`crate::Sampler`] can run on.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A Gaussian with a diagonal or dense precision; the gradient is exact.
    Gaussian(Gaussian),
    /// A regression model on data; the gradient comes from mini-batches.
    Regression(Regression),
    /// A model on data with the user's WGSL gradients.
    Custom(CustomModel),
    /// A feed-forward network on data (its passes are the library's own kernels).
    Network(Network),
}

/// What the data kernel needs of a model: its WGSL, constants and data.
pub(crate) struct DataKernelParts<'a> {
    pub(crate) label: String,
    pub(crate) wgsl: Vec<Cow<'static, str>>,
    pub(crate) params: Vec<f32>,
    pub(crate) data: &'a Dataset,
    /// For generalised linear models, the likelihood file alone (the fused kernel's model).
    pub(crate) glm_likelihood: Option<Cow<'static, str>>,
}

impl Target {
    /// Dimensions of θ.
    pub fn dim(&self) -> usize {
        match self {
            Target::Gaussian(g) => g.dim(),
            Target::Regression(r) => r.dim(),
            Target::Custom(c) => c.dim(),
            Target::Network(n) => n.dim(),
        }
    }

    /// The training data, for targets on data.
    pub(crate) fn data(&self) -> Option<&Dataset> {
        match self {
            Target::Gaussian(_) => None,
            Target::Regression(r) => Some(&r.data),
            Target::Custom(c) => Some(&c.data),
            Target::Network(n) => Some(n.data()),
        }
    }

    /// The data kernel's parts, for targets on data that run in one kernel (not networks).
    pub(crate) fn data_kernel(&self) -> Option<DataKernelParts<'_>> {
        match self {
            Target::Gaussian(_) | Target::Network(_) => None,
            Target::Regression(r) => Some(r.data_kernel()),
            Target::Custom(c) => Some(DataKernelParts {
                label: c.name.clone(),
                wgsl: c.wgsl.clone(),
                params: c.params.clone(),
                data: &c.data,
                glm_likelihood: None,
            }),
        }
    }
}

impl Target {
    /// The full-data part of `∇U` on the CPU, `Σᵢ −∇ log p(yᵢ | θ)` (f64 sums): what control
    /// variates need once at θ̂. `None` for targets without data, or custom models without a
    /// CPU twin.
    pub(crate) fn data_gradient(&self, theta: &[f32]) -> Option<Vec<f64>> {
        match self {
            Target::Gaussian(_) | Target::Network(_) => None,
            Target::Regression(r) => Some(r.data_gradient(theta)),
            Target::Custom(c) => c.data_gradient(theta),
        }
    }
}

impl Target {
    /// `∇U(θ)` over every example on the CPU in f64 sums (prior included): what a Newton
    /// search for the mode needs. `None` for networks and custom models without a CPU twin.
    pub(crate) fn potential_gradient(&self, theta: &[f32]) -> Option<Vec<f64>> {
        match self {
            Target::Gaussian(g) => {
                let mut out = vec![0.0f32; g.dim()];
                g.gradient(theta, &mut out);
                Some(out.into_iter().map(f64::from).collect())
            }
            Target::Regression(r) => {
                let mut total = r.data_gradient(theta);
                for (t, x) in total.iter_mut().zip(theta) {
                    *t += f64::from(*x) / r.prior_variance;
                }
                Some(total)
            }
            Target::Network(_) => None,
            Target::Custom(c) => {
                let rows: Vec<u32> = (0..c.data.rows() as u32).collect();
                let mut out = vec![0.0f32; c.dim()];
                c.gradient(theta, &rows, &mut out)?;
                Some(out.into_iter().map(f64::from).collect())
            }
        }
    }

    /// The Hessian of `U = −log p(θ | data)` at `theta` on the CPU, row-major `D × D` in f64:
    /// exact for Gaussians and regressions; for a custom model with a CPU twin, central
    /// differences of its full-data gradient (step `10⁻³·max(1, |θ_d|)`, then symmetrised).
    /// `None` for networks and custom models without a CPU twin.
    pub(crate) fn hessian(&self, theta: &[f32]) -> Option<Vec<f64>> {
        match self {
            Target::Gaussian(g) => Some(g.precision_matrix()),
            Target::Regression(r) => Some(r.hessian(theta)),
            Target::Network(_) => None,
            Target::Custom(c) => {
                let dim = c.dim();
                let rows: Vec<u32> = (0..c.data.rows() as u32).collect();
                let gradient_at = |point: &[f32]| -> Option<Vec<f32>> {
                    let mut out = vec![0.0f32; dim];
                    c.gradient(point, &rows, &mut out)?;
                    Some(out)
                };
                let mut hessian = vec![0.0f64; dim * dim];
                for d in 0..dim {
                    let step = 1e-3 * theta[d].abs().max(1.0);
                    let (mut up, mut down) = (theta.to_vec(), theta.to_vec());
                    up[d] += step;
                    down[d] -= step;
                    let width = f64::from(up[d]) - f64::from(down[d]);
                    let (plus, minus) = (gradient_at(&up)?, gradient_at(&down)?);
                    for j in 0..dim {
                        hessian[j * dim + d] = (f64::from(plus[j]) - f64::from(minus[j])) / width;
                    }
                }
                for i in 0..dim {
                    for j in 0..i {
                        let mean = 0.5 * (hessian[i * dim + j] + hessian[j * dim + i]);
                        hessian[i * dim + j] = mean;
                        hessian[j * dim + i] = mean;
                    }
                }
                Some(hessian)
            }
        }
    }
}

impl From<CustomModel> for Target {
    fn from(target: CustomModel) -> Target {
        Target::Custom(target)
    }
}

impl From<Gaussian> for Target {
    fn from(target: Gaussian) -> Target {
        Target::Gaussian(target)
    }
}

impl From<Network> for Target {
    fn from(target: Network) -> Target {
        Target::Network(target)
    }
}

impl From<Regression> for Target {
    fn from(target: Regression) -> Target {
        Target::Regression(target)
    }
}

/// Posterior-predictive accuracy and mean log-likelihood per example of a binary classifier on
/// `test` (labels > 0 count as +1): `p̂ᵢ = mean_s σ(ηᵢ(θ_s))` over the coefficient `draws`, with
/// `η` from `output(test, row, θ)`; an example is correct when `p̂` of its label exceeds ½.
pub fn classifier_predictive(
    test: &Dataset,
    draws: &[&[f32]],
    output: impl Fn(&Dataset, usize, &[f32]) -> f32,
) -> Option<(f64, f64)> {
    if draws.is_empty() || test.rows() == 0 {
        return None;
    }
    let (mut correct, mut log_lik) = (0usize, 0.0f64);
    for row in 0..test.rows() {
        let p_one = draws
            .iter()
            .map(|theta| 1.0 / (1.0 + (-f64::from(output(test, row, theta))).exp()))
            .sum::<f64>()
            / draws.len() as f64;
        let p_label = if test.labels()[row] > 0.0 {
            p_one
        } else {
            1.0 - p_one
        };
        correct += usize::from(p_label > 0.5);
        log_lik += p_label.max(f64::MIN_POSITIVE).ln();
    }
    let n = test.rows() as f64;
    Some((correct as f64 / n, log_lik / n))
}
