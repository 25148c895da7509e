//! Potentials without data from the sampler papers, for checking and comparing samplers:
//! Chen et al.'s double well and Zhang et al.'s 25-component grid mixture.

use crate::data::Dataset;
use crate::error::Result;
use crate::model::shaders::{DOUBLE_WELL, GRID_MIXTURE};
use crate::model::CustomModel;

/// A data set of one unused row: a potential's gradient is all prior, and `N = 1`.
fn no_data() -> Result<Dataset> {
    Dataset::from_dense(Vec::new(), 0, vec![0.0])
}

/// Chen, Fox & Guestrin (2014, Fig. 1): `U(θ) = −2θ² + θ⁴` in one dimension, modes at ±1.
/// Under `exp(−U)`, `E θ² ≈ 0.83275`.
pub fn double_well() -> Result<CustomModel> {
    let model = CustomModel::new("double_well", 1, no_data()?, DOUBLE_WELL, Vec::new())?;
    Ok(model.with_cpu_gradient(
        |theta, out| out[0] = 4.0 * theta[0].powi(3) - 4.0 * theta[0],
        |_, _, _, _| {},
    ))
}

/// The double well's `U(θ) = −2θ² + θ⁴`.
pub fn double_well_potential(theta: f64) -> f64 {
    -2.0 * theta * theta + theta.powi(4)
}

/// Component variance σ² of Zhang et al.'s grid mixture.
pub const GRID_VARIANCE: f64 = 0.03;
/// Spacing of the grid of means.
pub const GRID_SPACING: f64 = 2.0;
/// Components per axis: 5 × 5 = 25.
pub const GRID_PER_AXIS: u32 = 5;

/// Zhang, Li, Zhang, Chen & Wilson (2020, §5.1): 25 equally weighted Gaussians
/// `N(μ_k, 0.03 I)` with means on `{−4, −2, 0, 2, 4}²`. Its covariance is `8.03 I` (8 from
/// the grid, 0.03 within a component).
pub fn grid_mixture() -> Result<CustomModel> {
    let params = vec![
        GRID_VARIANCE as f32,
        GRID_SPACING as f32,
        GRID_PER_AXIS as f32,
    ];
    let model = CustomModel::new("grid_mixture", 2, no_data()?, GRID_MIXTURE, params)?;
    // The prior's two passes over the 25 components for each coordinate, charged to the one
    // (unused) example a step reads.
    let model = model.with_loops_per_example(150);
    Ok(model.with_cpu_gradient(
        |theta, out| {
            let point = [f64::from(theta[0]), f64::from(theta[1])];
            let gradient = grid_mixture_gradient(point);
            out[0] = gradient[0] as f32;
            out[1] = gradient[1] as f32;
        },
        |_, _, _, _| {},
    ))
}

/// The grid mixture's component means, row-major over the grid.
pub fn grid_means() -> Vec<[f64; 2]> {
    let half = f64::from(GRID_PER_AXIS - 1) / 2.0;
    (0..GRID_PER_AXIS * GRID_PER_AXIS)
        .map(|k| {
            let (i, j) = (k % GRID_PER_AXIS, k / GRID_PER_AXIS);
            [
                (f64::from(i) - half) * GRID_SPACING,
                (f64::from(j) - half) * GRID_SPACING,
            ]
        })
        .collect()
}

/// `∇U` of the grid mixture.
fn grid_mixture_gradient(theta: [f64; 2]) -> [f64; 2] {
    let means = grid_means();
    let exponents: Vec<f64> = means
        .iter()
        .map(|m| -((theta[0] - m[0]).powi(2) + (theta[1] - m[1]).powi(2)) / (2.0 * GRID_VARIANCE))
        .collect();
    let largest = exponents.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    let mut weighted = [0.0; 2];
    for (m, e) in means.iter().zip(&exponents) {
        let w = (e - largest).exp();
        total += w;
        weighted[0] += w * (theta[0] - m[0]);
        weighted[1] += w * (theta[1] - m[1]);
    }
    weighted.map(|v| v / (total * GRID_VARIANCE))
}
