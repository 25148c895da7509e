//! A fixed dense preconditioner for SGLD: Langevin dynamics in the metric `M = L Lᵀ`, its
//! construction from a covariance, a precision or the curvature at a mode, and the CPU
//! reference step the kernels are held to.
//!
//! With a constant symmetric positive definite `M`, the step
//!
//! `θ ← θ − η_t M ∇Ũ(θ) + sqrt(2 η_t T) L ξ  =  θ + L (sqrt(2 η_t T) ξ − η_t Lᵀ ∇Ũ(θ))`
//!
//! discretises a Langevin diffusion that leaves the posterior invariant: Ma, Chen & Fox
//! (2015), "A Complete Recipe for Stochastic Gradient MCMC", with diffusion matrix `M` and no
//! curl; the correction term `Γ` they add for a position-dependent `M` vanishes for a constant
//! one. Any such `M` is exact as `η → 0`; a good one makes the chain fast. With `M = H⁻¹`, the
//! inverse Hessian of `U` at the mode (the Laplace approximation's covariance,
//! [`Preconditioner::at`]), the chain moves as plain SGLD in the whitened coordinates
//! `z = L⁻¹ θ`, where the posterior is close to `N(·, I)`: every direction relaxes in about
//! `1/η` steps. Plain SGLD's step is held below `2/λ_max` by the stiffest direction, and its
//! flattest direction then takes `λ_max/λ_min` times longer — 2.7·10⁴ on a9a. This is the
//! whitening of stochastic-gradient Fisher scoring (Ahn, Korattikara & Welling 2012) with the
//! metric fixed at the mode.
//!
//! The discretisation error is plain SGLD's in `z`: on a Gaussian with covariance `Σ = M` the
//! chain's stationary covariance is `Σ / (1 − η/2)` exactly (`z ← (1 − η) z + sqrt(2η) ξ` has
//! variance `2η / (1 − (1 − η)²)`), so `η = 0.05` widens every sd by 1.3%. Mini-batch noise
//! adds `η/2` times the gradient estimator's covariance in `z`; control variates
//! ([`super::control_variate`]) keep it small.
//!
//! The kernels read `L` and `Lᵀ` row by row from the rule-state buffer, each row padded to
//! `4 ⌈D/4⌉` entries with zeros, and form `v = s ξ − η Lᵀ g` in place of the gradient, then
//! `θ ← θ + L v`; [`reference_step`] does the same in f32 in the same order.

use crate::error::{Error, Result};
use crate::linalg;
use crate::model::Target;
use crate::rng::{self, Stream};
use crate::sampler::sgld::StepScalars;

/// A constant metric `M = L Lᵀ` for SGLD (`L` lower-triangular). Set it with
/// [`super::SamplerBuilder::preconditioner`].
#[derive(Debug, Clone, PartialEq)]
pub struct Preconditioner {
    dim: usize,
    /// `L`, row-major `D × D`, rounded to f32 once.
    factor: Vec<f32>,
}

impl Preconditioner {
    /// The most dimensions a preconditioner may have: each step costs `D²` multiply-adds per
    /// chain, and the two padded factors are `8 D²` bytes.
    pub const MAX_DIM: usize = 1024;

    /// `M = covariance` (row-major `D × D`, symmetric positive definite).
    pub fn from_covariance(covariance: &[f64], dim: usize) -> Result<Preconditioner> {
        check_matrix("covariance", covariance, dim)?;
        let factor = linalg::cholesky(covariance, dim).ok_or_else(|| {
            Error::invalid(
                "preconditioner",
                "the covariance is not positive definite (its Cholesky factorisation failed)",
            )
        })?;
        Preconditioner::from_factor(factor, dim)
    }

    /// `M = precision⁻¹` (row-major `D × D`, symmetric positive definite).
    pub fn from_precision(precision: &[f64], dim: usize) -> Result<Preconditioner> {
        check_matrix("precision", precision, dim)?;
        let covariance = linalg::spd_inverse(precision, dim).ok_or_else(|| {
            Error::invalid(
                "preconditioner",
                "the precision is not positive definite (its Cholesky factorisation failed)",
            )
        })?;
        // The inverse is symmetric up to rounding; the factorisation reads its lower half.
        Preconditioner::from_covariance(&symmetrised(covariance, dim), dim)
    }

    /// The Laplace metric at `theta`: `M = H⁻¹` with `H` the Hessian of `U = −log p(θ | data)`
    /// there, computed on the CPU (exact for Gaussians and regressions; central differences of
    /// a custom model's CPU twin). `theta` should be a mode — [`newton_mode`] finds one —
    /// where `H` is positive definite. An error for networks (too many dimensions), custom
    /// models without a CPU twin, and a `theta` where `H` is not positive definite.
    pub fn at(target: &Target, theta: &[f32]) -> Result<Preconditioner> {
        let dim = target.dim();
        if theta.len() != dim {
            return Err(Error::invalid(
                "preconditioner",
                format!(
                    "θ has {} values; the model has {dim} dimensions",
                    theta.len()
                ),
            ));
        }
        if dim > Preconditioner::MAX_DIM {
            return Err(too_many(dim));
        }
        if let Some(d) = theta.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "preconditioner",
                format!("θ is not finite (coordinate {d} is {})", theta[d]),
            ));
        }
        let hessian = target.hessian(theta).ok_or_else(|| {
            Error::invalid(
                "preconditioner",
                "needs the Hessian of U on the CPU, which this model has not: networks are too \
                 large for a dense metric, and a custom model needs a CPU twin \
                 (CustomModel::with_cpu_gradient)",
            )
        })?;
        Preconditioner::from_precision(&hessian, dim).map_err(|_| {
            Error::invalid(
                "preconditioner",
                "the Hessian of U at θ is not positive definite, so θ is not a mode of a \
                 log-concave region; find the mode first (a longer mode search)",
            )
        })
    }

    fn from_factor(factor: Vec<f64>, dim: usize) -> Result<Preconditioner> {
        let factor: Vec<f32> = factor.iter().map(|&v| v as f32).collect();
        if factor.iter().any(|v| !v.is_finite()) || (0..dim).any(|d| factor[d * dim + d] <= 0.0) {
            return Err(Error::invalid(
                "preconditioner",
                "the metric's Cholesky factor does not fit f32 (entries overflow or its \
                 diagonal underflows); rescale the model",
            ));
        }
        Ok(Preconditioner { dim, factor })
    }

    /// Dimensions `D`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// `L`, row-major `D × D`, lower-triangular, in f32 as the kernels use it.
    pub fn factor(&self) -> &[f32] {
        &self.factor
    }

    /// `w ← M w = L (Lᵀ w)` in f64, with the f32 factor the kernels use.
    pub(crate) fn apply(&self, w: &mut [f64]) {
        let (dim, l) = (self.dim, &self.factor);
        let u: Vec<f64> = (0..dim)
            .map(|i| (i..dim).map(|d| f64::from(l[d * dim + i]) * w[d]).sum())
            .collect();
        for (d, wd) in w.iter_mut().enumerate() {
            *wd = (0..=d).map(|i| f64::from(l[d * dim + i]) * u[i]).sum();
        }
    }

    /// Entries of a padded row: `4 ⌈D/4⌉`.
    fn stride(dim: usize) -> usize {
        dim.div_ceil(4) * 4
    }

    /// What the kernels read: `L` then `Lᵀ`, each `D` rows of [`Self::stride`] entries.
    pub(crate) fn kernel_values(&self) -> Vec<f32> {
        let (dim, stride) = (self.dim, Preconditioner::stride(self.dim));
        let mut values = vec![0.0f32; 2 * dim * stride];
        for i in 0..dim {
            for j in 0..=i {
                let l = self.factor[i * dim + j];
                values[i * stride + j] = l;
                values[(dim + j) * stride + i] = l;
            }
        }
        values
    }

    /// Upper bound on the loop iterations of one preconditioned move of one chain, for the
    /// software adapter's loop budget: `D` rows of at most `⌈D/4⌉ + 1` blocks, twice, and the
    /// loops over rows and blocks around them.
    pub(crate) fn loop_iterations_per_step(dim: u64) -> u64 {
        2 * dim * (dim.div_ceil(4) + 2)
    }
}

/// Newton's method for the mode of `U` from `start` on the CPU, with the full-data gradient
/// and the Hessian of [`Preconditioner::at`]: `θ ← θ − t H⁻¹ ∇U(θ)`, `t` halved until `|∇U|`
/// falls, until the Newton decrement `∇Uᵀ H⁻¹ ∇U` is below `10⁻⁶ D` or f32 can go no
/// further. SGD's mode search leaves the flat directions of an ill-conditioned posterior
/// barely moved; a few Newton steps from there reach the mode that the metric and a
/// control variate's centre should sit at. An error when `start` is not finite, the model has
/// no CPU Hessian, or the Hessian on the way is not positive definite.
pub fn newton_mode(target: &Target, start: &[f32]) -> Result<Vec<f32>> {
    let dim = target.dim();
    Preconditioner::at(target, start)?;
    let gradient_at = |theta: &[f32]| -> Result<Vec<f64>> {
        target.potential_gradient(theta).ok_or_else(|| {
            Error::invalid(
                "mode search",
                "the model has no CPU gradient for Newton's method",
            )
        })
    };
    let norm = |g: &[f64]| g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut theta = start.to_vec();
    let mut gradient = gradient_at(&theta)?;
    for _ in 0..NEWTON_ITERATIONS {
        let hessian = target.hessian(&theta).unwrap_or_default();
        let Some(inverse) = linalg::spd_inverse(&hessian, dim) else {
            return Err(Error::invalid(
                "mode search",
                "the Hessian of U is not positive definite on Newton's path; start nearer the                  mode (a longer SGD search)",
            ));
        };
        let direction: Vec<f64> = (0..dim)
            .map(|i| (0..dim).map(|j| inverse[i * dim + j] * gradient[j]).sum())
            .collect();
        let decrement: f64 = direction.iter().zip(&gradient).map(|(a, b)| a * b).sum();
        if decrement < 1e-6 * dim as f64 {
            break;
        }
        let mut scale = 1.0;
        let improved = loop {
            let trial: Vec<f32> = theta
                .iter()
                .zip(&direction)
                .map(|(&x, &d)| (f64::from(x) - scale * d) as f32)
                .collect();
            let trial_gradient = gradient_at(&trial)?;
            if trial.iter().all(|v| v.is_finite()) && norm(&trial_gradient) < norm(&gradient) {
                break Some((trial, trial_gradient));
            }
            scale *= 0.5;
            if scale < 1e-6 {
                break None;
            }
        };
        match improved {
            Some((next, next_gradient)) => (theta, gradient) = (next, next_gradient),
            None => break,
        }
    }
    Ok(theta)
}

/// Newton iterations at most: from SGD's end a logistic regression needs about ten.
const NEWTON_ITERATIONS: usize = 50;

fn too_many(dim: usize) -> Error {
    Error::invalid(
        "preconditioner",
        format!(
            "the model has {dim} dimensions; a dense metric is for at most {} (it costs D² per \
             chain and step)",
            Preconditioner::MAX_DIM
        ),
    )
}

fn check_matrix(what: &str, matrix: &[f64], dim: usize) -> Result<()> {
    if dim == 0 {
        return Err(Error::invalid(
            "preconditioner",
            "needs at least one dimension",
        ));
    }
    if dim > Preconditioner::MAX_DIM {
        return Err(too_many(dim));
    }
    if matrix.len() != dim * dim {
        return Err(Error::invalid(
            "preconditioner",
            format!(
                "the {what} has {} values; a {dim} × {dim} matrix has {}",
                matrix.len(),
                dim * dim
            ),
        ));
    }
    if let Some(k) = matrix.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "preconditioner",
            format!(
                "the {what}'s entry ({}, {}) is {}",
                k / dim,
                k % dim,
                matrix[k]
            ),
        ));
    }
    for i in 0..dim {
        for j in 0..i {
            let (a, b) = (matrix[i * dim + j], matrix[j * dim + i]);
            if (a - b).abs() > 1e-9 * (a.abs() + b.abs()) {
                return Err(Error::invalid(
                    "preconditioner",
                    format!(
                        "the {what} is not symmetric: entry ({i}, {j}) is {a}, ({j}, {i}) is {b}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn symmetrised(mut matrix: Vec<f64>, dim: usize) -> Vec<f64> {
    for i in 0..dim {
        for j in 0..i {
            let mean = 0.5 * (matrix[i * dim + j] + matrix[j * dim + i]);
            matrix[i * dim + j] = mean;
            matrix[j * dim + i] = mean;
        }
    }
    matrix
}

/// One preconditioned SGLD step of one chain on the CPU, given the gradient `∇Ũ(θ)` (noise
/// included), in f32 in the kernels' order: `v_i = fma(s, ξ_i, −η Σ_d Lᵀ[i][d] g_d)` over
/// blocks of four from `i`'s own, each sum `fma(a, b, acc)` from 0, then
/// `θ_d += Σ_i L[d][i] v_i` over blocks up to `d`'s. `ξ` is plain SGLD's noise (the blocks
/// `(c, t, b, Stream::Noise)`), so with `L = I` the move is SGLD's up to rounding.
pub fn reference_step(
    theta: &mut [f32],
    gradient: &[f32],
    preconditioner: &Preconditioner,
    scalars: StepScalars,
    seed: u64,
    chain: u32,
    step: u32,
) {
    let dim = preconditioner.dim;
    let stride = Preconditioner::stride(dim);
    let values = preconditioner.kernel_values();
    let (lower, transposed) = values.split_at(dim * stride);
    let key = rng::key_for_seed(seed);
    // The gradient's column, overwritten by v as the kernel does (zeros past D).
    let mut column = vec![0.0f32; stride];
    column[..dim].copy_from_slice(gradient);
    for block in 0..stride / 4 {
        let noise = if scalars.noise_scale > 0.0 {
            rng::normals(key, chain, step, block as u32, Stream::Noise)
        } else {
            [0.0; 4]
        };
        for (lane, z) in noise.iter().enumerate() {
            let i = block * 4 + lane;
            if i >= dim {
                break;
            }
            let row = &transposed[i * stride..(i + 1) * stride];
            let sum = (block * 4..stride).fold(0.0f32, |acc, d| row[d].mul_add(column[d], acc));
            column[i] = scalars.noise_scale.mul_add(*z, -scalars.eta * sum);
        }
    }
    for (d, x) in theta.iter_mut().enumerate() {
        let row = &lower[d * stride..(d + 1) * stride];
        let moved = (0..(d / 4 + 1) * 4).fold(0.0f32, |acc, i| row[i].mul_add(column[i], acc));
        *x += moved;
    }
}
