//! Welling & Teh's (2011) two-parameter Gaussian mixture, the bimodal toy of their SGLD paper.

use crate::data::Dataset;
use crate::error::Result;
use crate::model::shaders::MIXTURE;
use crate::model::CustomModel;

/// Prior variances of θ₁ and θ₂ and the component variance σₓ².
const VARIANCES: [f32; 3] = [10.0, 1.0, 2.0];

/// `θ₁ ~ N(0, 10)`, `θ₂ ~ N(0, 1)`, `xᵢ ~ ½ N(θ₁, 2) + ½ N(θ₁ + θ₂, 2)`, with the observations
/// `xᵢ` as the data's labels (features are ignored). With 100 points drawn at θ = (0, 1) the
/// posterior has modes near (0, 1) and (1, −1).
pub fn welling_teh_mixture(data: Dataset) -> Result<CustomModel> {
    let model = CustomModel::new("welling_teh_mixture", 2, data, MIXTURE, VARIANCES.to_vec())?;
    Ok(model.with_cpu_gradient(
        |theta, out| {
            out[0] = theta[0] / VARIANCES[0];
            out[1] = theta[1] / VARIANCES[1];
        },
        |data, row, theta, out| {
            let (r1, noise) = (data.labels()[row] - theta[0], VARIANCES[2]);
            let r2 = r1 - theta[1];
            let w = 1.0 / (1.0 + ((r2 * r2 - r1 * r1) / (2.0 * noise)).exp());
            out[0] += ((1.0 - w) * r1 + w * r2) / noise;
            out[1] += w * r2 / noise;
        },
    ))
}

/// The unnormalised log posterior of the mixture, for quadrature checks.
pub fn welling_teh_log_posterior(observations: &[f64], theta: [f64; 2]) -> f64 {
    let [v1, v2, noise] = VARIANCES.map(f64::from);
    let normal = |x: f64, mean: f64| (-(x - mean).powi(2) / (2.0 * noise)).exp();
    let prior = -theta[0].powi(2) / (2.0 * v1) - theta[1].powi(2) / (2.0 * v2);
    prior
        + observations
            .iter()
            .map(|&x| (0.5 * normal(x, theta[0]) + 0.5 * normal(x, theta[0] + theta[1])).ln())
            .sum::<f64>()
}
