//! A one-hidden-layer MLP classifier with a Gaussian prior: a Bayesian neural network on data,
//! built on the custom-model interface (`shaders/mlp.wgsl`) with a CPU twin.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::shaders::MLP;
use crate::model::CustomModel;

/// Where each weight of the MLP lives in θ: `(W₁ row-major H×F, b₁, w₂, b₂)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MlpShape {
    /// Hidden units `H`.
    pub hidden: usize,
    /// Input features `F`.
    pub features: usize,
}

impl MlpShape {
    /// Parameters `D = H(F + 2) + 1`.
    pub fn dim(&self) -> usize {
        self.hidden * (self.features + 2) + 1
    }

    fn b1(&self, h: usize) -> usize {
        self.hidden * self.features + h
    }

    fn w2(&self, h: usize) -> usize {
        self.hidden * (self.features + 1) + h
    }

    fn b2(&self) -> usize {
        self.hidden * (self.features + 2)
    }

    fn hidden_activation(&self, data: &Dataset, row: usize, theta: &[f32], h: usize) -> f32 {
        let mut pre = theta[self.b1(h)];
        data.for_row(row, |j, x| {
            if j < self.features {
                pre = x.mul_add(theta[h * self.features + j], pre);
            }
        });
        pre.tanh()
    }

    /// The network's output `η` for example `row` of `data` (features beyond `F` ignored).
    pub fn output(&self, data: &Dataset, row: usize, theta: &[f32]) -> f32 {
        let mut eta = theta[self.b2()];
        for h in 0..self.hidden {
            eta = theta[self.w2(h)].mul_add(self.hidden_activation(data, row, theta, h), eta);
        }
        eta
    }
}

/// `P(y = 1 | x) = σ(b₂ + w₂ᵀ tanh(W₁x + b₁))` with every weight `~ N(0, σ²)`; labels in
/// `{−1, +1}` or `{0, 1}`. Returns the model and its parameter layout.
pub fn mlp_classifier(
    data: Dataset,
    hidden: usize,
    prior_variance: f64,
) -> Result<(CustomModel, MlpShape)> {
    if hidden == 0 {
        return Err(Error::invalid(
            "hidden width",
            "an MLP needs at least one hidden unit",
        ));
    }
    if !(prior_variance.is_finite() && prior_variance > 0.0) {
        return Err(Error::invalid(
            "prior variance",
            format!("{prior_variance} must be positive and finite"),
        ));
    }
    let data = super::regression::binary_labels(data)?;
    let shape = MlpShape {
        hidden,
        features: data.features(),
    };
    let variance = prior_variance as f32;
    let params = vec![variance, hidden as f32, shape.features as f32];
    // Forward and backward each run H activations over a row's entries, plus the W₁ update.
    let width = data.max_row_entries() as u64;
    let loops = 3 * hidden as u64 * (width + 1) + 2 * hidden as u64;
    let model = CustomModel::new("mlp_classifier", shape.dim(), data, MLP, params)?
        .with_loops_per_example(loops);
    let model = model.with_cpu_gradient(
        move |theta, out| {
            for (g, t) in out.iter_mut().zip(theta) {
                *g = t / variance;
            }
        },
        move |data, row, theta, out| {
            let y = data.labels()[row];
            let g = y / (1.0 + (y * shape.output(data, row, theta)).exp());
            out[shape.b2()] += g;
            for h in 0..shape.hidden {
                let a = shape.hidden_activation(data, row, theta, h);
                out[shape.w2(h)] += g * a;
                let back = g * theta[shape.w2(h)] * (1.0 - a * a);
                out[shape.b1(h)] += back;
                data.for_row(row, |j, x| out[h * shape.features + j] += back * x);
            }
        },
    );
    Ok((model, shape))
}
