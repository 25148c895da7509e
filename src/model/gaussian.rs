//! Multivariate Gaussian targets `N(μ, P⁻¹)`, with a diagonal or a dense precision `P`.

use crate::error::{Error, Result};
use crate::linalg;

/// The precision matrix of a [`Gaussian`], as the GPU stores it (f32).
#[derive(Debug, Clone, PartialEq)]
pub enum Precision {
    /// `P = diag(λ₁ … λ_D)`; the gradient is elementwise and the kernel keeps each chain's
    /// coordinates in registers across steps.
    Diagonal(Vec<f32>),
    /// A symmetric positive definite `D × D` matrix, row-major.
    Dense(Vec<f32>),
}

/// A Gaussian target `N(μ, P⁻¹)` with potential `U(θ) = ½ (θ − μ)ᵀ P (θ − μ)` and gradient
/// `∇U(θ) = P (θ − μ)`.
///
/// Constructors validate: every entry finite, the lengths consistent, `P` symmetric positive
/// definite. The f64 values given are kept for exact answers ([`Gaussian::covariance`],
/// [`Gaussian::sgld_stationary_covariance`]); the GPU uses them rounded to f32. A diagonal
/// target stays diagonal everywhere: `D` values, never a `D × D` matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Gaussian {
    mean: Vec<f64>,
    /// `D` values when diagonal, row-major `D × D` when dense.
    precision: Vec<f64>,
    gpu_mean: Vec<f32>,
    gpu_precision: Precision,
}

/// Host bytes a Gaussian target holds per dimension when diagonal (mean and precision in
/// f64 and f32), for callers that check a size before building one.
pub const DIAGONAL_BYTES_PER_DIMENSION: u64 = 24;

fn check_finite(name: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::invalid(
            name,
            format!("entry {i} is {}; every entry must be finite", values[i]),
        )),
        None => Ok(()),
    }
}

fn to_f32(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

impl Gaussian {
    /// `N(μ, diag(λ)⁻¹)`: mean `μ` and per-dimension precisions `λ` (inverse variances).
    pub fn diagonal(mean: &[f64], precision: &[f64]) -> Result<Gaussian> {
        Self::check_mean(mean)?;
        check_finite("precision", precision)?;
        if precision.len() != mean.len() {
            return Err(Error::invalid(
                "precision",
                format!(
                    "has {} entries but the mean has {}; give one precision per dimension",
                    precision.len(),
                    mean.len()
                ),
            ));
        }
        if let Some(i) = precision.iter().position(|&p| p <= 0.0) {
            return Err(Error::invalid(
                "precision",
                format!("entry {i} is {}; precisions must be positive", precision[i]),
            ));
        }
        Ok(Gaussian {
            mean: mean.to_vec(),
            precision: precision.to_vec(),
            gpu_mean: to_f32(mean),
            gpu_precision: Precision::Diagonal(to_f32(precision)),
        })
    }

    /// `N(μ·1, v·I)` in `dim` dimensions.
    pub fn isotropic(dim: usize, mean: f64, variance: f64) -> Result<Gaussian> {
        Self::check_variance(variance)?;
        Self::diagonal(&vec![mean; dim], &vec![1.0 / variance; dim])
    }

    /// `N(μ, P⁻¹)` with a dense precision `P`, row-major `D × D`, symmetric positive definite.
    pub fn dense(mean: &[f64], precision: &[f64]) -> Result<Gaussian> {
        Self::check_mean(mean)?;
        check_finite("precision", precision)?;
        let dim = mean.len();
        if Some(precision.len()) != dim.checked_mul(dim) {
            return Err(Error::invalid(
                "precision",
                format!(
                    "has {} entries; a dense precision for {dim} dimensions needs {dim}×{dim} = {}",
                    precision.len(),
                    dim * dim
                ),
            ));
        }
        let scale = precision.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for i in 0..dim {
            for j in 0..i {
                let (a, b) = (precision[i * dim + j], precision[j * dim + i]);
                if (a - b).abs() > 1e-9 * scale {
                    return Err(Error::invalid(
                        "precision",
                        format!("is not symmetric: P[{i}][{j}] = {a} but P[{j}][{i}] = {b}"),
                    ));
                }
            }
        }
        if linalg::cholesky(precision, dim).is_none() {
            return Err(Error::invalid(
                "precision",
                "is not positive definite (its Cholesky factorisation fails); \
                 a precision matrix must be symmetric positive definite",
            ));
        }
        Ok(Gaussian {
            mean: mean.to_vec(),
            precision: precision.to_vec(),
            gpu_mean: to_f32(mean),
            gpu_precision: Precision::Dense(to_f32(precision)),
        })
    }

    /// The equicorrelated Gaussian: every marginal `N(μ, v)`, every pair correlated `ρ`.
    ///
    /// `Σ = v ((1 − ρ) I + ρ 11ᵀ)`, so `P = Σ⁻¹ = (I − ρ/(1 + (D−1)ρ) 11ᵀ) / (v (1 − ρ))`,
    /// positive definite for `−1/(D − 1) < ρ < 1`. With `ρ = 0` the target is diagonal.
    pub fn equicorrelated(dim: usize, mean: f64, variance: f64, corr: f64) -> Result<Gaussian> {
        Self::check_variance(variance)?;
        if dim == 0 {
            return Err(Error::invalid("dimension", "must be at least 1"));
        }
        let lower = if dim > 1 {
            -1.0 / (dim as f64 - 1.0)
        } else {
            -1.0
        };
        if !(corr.is_finite() && corr > lower && corr < 1.0) {
            return Err(Error::invalid(
                "correlation",
                format!("{corr} is outside ({lower}, 1), where a {dim}-dimensional equicorrelated covariance is positive definite"),
            ));
        }
        if corr == 0.0 {
            return Self::isotropic(dim, mean, variance);
        }
        let diagonal_scale = 1.0 / (variance * (1.0 - corr));
        let off = corr / (1.0 + (dim as f64 - 1.0) * corr);
        let entries = (dim as u64).saturating_mul(dim as u64);
        crate::error::check_host_memory(
            entries.saturating_mul(8 + 4 + 8),
            &format!("a dense precision of {dim} × {dim}"),
        )?;
        let precision: Vec<f64> = (0..dim * dim)
            .map(|k| {
                let identity = if k / dim == k % dim { 1.0 } else { 0.0 };
                diagonal_scale * (identity - off)
            })
            .collect();
        Self::dense(&vec![mean; dim], &precision)
    }

    /// `N(μ, Σ)` with `Σ = diag(σ) R diag(σ)`: marginal variances `σ²` and correlation `ρ`
    /// between every pair (`R = (1 − ρ) I + ρ 11ᵀ`), sampled through the dense precision `Σ⁻¹`.
    pub fn correlated(mean: &[f64], variance: &[f64], corr: f64) -> Result<Gaussian> {
        Self::check_mean(mean)?;
        let dim = mean.len();
        if variance.len() != dim {
            return Err(Error::invalid(
                "variance",
                format!("has {} entries but the mean has {dim}", variance.len()),
            ));
        }
        for &v in variance {
            Self::check_variance(v)?;
        }
        if dim == 1 || corr == 0.0 {
            let diagonal: Vec<f64> = variance.iter().map(|v| 1.0 / v).collect();
            return Self::diagonal(mean, &diagonal);
        }
        let unit = Self::equicorrelated(dim, 0.0, 1.0, corr)?;
        let sd: Vec<f64> = variance.iter().map(|v| v.sqrt()).collect();
        // Σ⁻¹ = diag(1/σ) R⁻¹ diag(1/σ), and R⁻¹ is the unit equicorrelated precision.
        let precision: Vec<f64> = unit
            .precision
            .iter()
            .enumerate()
            .map(|(k, p)| p / (sd[k / dim] * sd[k % dim]))
            .collect();
        Self::dense(mean, &precision)
    }

    fn check_mean(mean: &[f64]) -> Result<()> {
        if mean.is_empty() {
            return Err(Error::invalid(
                "dimension",
                "the mean is empty; a target needs at least one dimension",
            ));
        }
        if mean.len() > u32::MAX as usize / 4 {
            return Err(Error::invalid("dimension", "is larger than 2³⁰"));
        }
        check_finite("mean", mean)
    }

    fn check_variance(variance: f64) -> Result<()> {
        if !(variance.is_finite() && variance > 0.0) {
            return Err(Error::invalid(
                "variance",
                format!("{variance} must be positive and finite"),
            ));
        }
        Ok(())
    }

    /// The number of dimensions `D`.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The mean `μ`.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Whether the precision is diagonal.
    pub fn is_diagonal(&self) -> bool {
        matches!(self.gpu_precision, Precision::Diagonal(_))
    }

    /// The precision `P` as a dense row-major `D × D` matrix (built on demand for a diagonal
    /// target: `D²` values).
    pub fn precision_matrix(&self) -> Vec<f64> {
        let n = self.dim();
        if !self.is_diagonal() {
            return self.precision.clone();
        }
        let mut dense = vec![0.0; n * n];
        for (d, &p) in self.precision.iter().enumerate() {
            dense[d * n + d] = p;
        }
        dense
    }

    /// The precision as the GPU holds it.
    pub fn precision(&self) -> &Precision {
        &self.gpu_precision
    }

    pub(crate) fn gpu_mean(&self) -> &[f32] {
        &self.gpu_mean
    }

    /// The covariance `Σ = P⁻¹`, row-major `D × D`.
    pub fn covariance(&self) -> Vec<f64> {
        let n = self.dim();
        if self.is_diagonal() {
            let mut dense = vec![0.0; n * n];
            for (d, &p) in self.precision.iter().enumerate() {
                dense[d * n + d] = 1.0 / p;
            }
            return dense;
        }
        linalg::spd_inverse(&self.precision, n)
            .expect("the constructor checked that the precision is positive definite")
    }

    /// The exact stationary covariance of the discretised SGLD chain with full gradient,
    /// `θ ← θ − η P (θ − μ) + sqrt(2ηT) ξ`.
    ///
    /// With `A = I − ηP`, the stationary `Σ_η` solves `Σ_η = A Σ_η Aᵀ + 2ηT I`; as `P` is
    /// symmetric, `Σ_η = T (P − η P²/2)⁻¹`, which for a scalar precision `λ` is the familiar
    /// `T / (λ (1 − ηλ/2))`. It exists while `η < 2/λ_max`; `None` beyond.
    pub fn sgld_stationary_covariance(&self, step_size: f64, temperature: f64) -> Option<Vec<f64>> {
        let n = self.dim();
        let precision = self.precision_matrix();
        let squared = linalg::matmul(&precision, &precision, n);
        let shrunk: Vec<f64> = precision
            .iter()
            .zip(&squared)
            .map(|(p, p2)| p - 0.5 * step_size * p2)
            .collect();
        let inverse = linalg::spd_inverse(&shrunk, n)?;
        Some(inverse.into_iter().map(|v| temperature * v).collect())
    }

    /// An upper bound on the largest eigenvalue of `P` (exact when diagonal; Gershgorin's
    /// row-sum bound when dense). SGLD with full gradient is stable for `η < 2/λ_max`.
    pub fn max_curvature_bound(&self) -> f64 {
        let n = self.dim();
        if self.is_diagonal() {
            return self.precision.iter().fold(0.0, |m, &p| m.max(p));
        }
        (0..n)
            .map(|i| (0..n).map(|j| self.precision[i * n + j].abs()).sum::<f64>())
            .fold(0.0, f64::max)
    }

    /// CPU twin of the kernels' gradient `∇U(θ) = P (θ − μ)` for one chain, in f32 with the
    /// kernels' order of operations (dense rows accumulate `fma(P[d][j], θ_j − μ_j, acc)` for
    /// `j = 0, 1, …`).
    pub fn gradient(&self, theta: &[f32], out: &mut [f32]) {
        let dim = self.dim();
        assert_eq!(theta.len(), dim, "theta has the target's dimension");
        assert_eq!(out.len(), dim, "out has the target's dimension");
        match &self.gpu_precision {
            Precision::Diagonal(lambda) => {
                for d in 0..dim {
                    out[d] = lambda[d] * (theta[d] - self.gpu_mean[d]);
                }
            }
            Precision::Dense(p) => {
                for d in 0..dim {
                    let mut acc = 0.0f32;
                    for j in 0..dim {
                        acc = p[d * dim + j].mul_add(theta[j] - self.gpu_mean[j], acc);
                    }
                    out[d] = acc;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equicorrelated_precision_inverts_the_covariance() {
        let (dim, var, rho) = (5, 0.5, 0.3);
        let g = Gaussian::equicorrelated(dim, 1.0, var, rho).expect("valid");
        let cov = g.covariance();
        for i in 0..dim {
            for j in 0..dim {
                let want = if i == j { var } else { var * rho };
                assert!((cov[i * dim + j] - want).abs() < 1e-12, "Σ[{i}][{j}]");
            }
        }
    }

    #[test]
    fn stationary_variance_matches_the_scalar_formula() {
        let (lambda, eta) = (4.0, 0.05);
        let g = Gaussian::diagonal(&[0.0], &[lambda]).expect("valid");
        let got = g.sgld_stationary_covariance(eta, 1.0).expect("stable")[0];
        assert!((got - 1.0 / (lambda * (1.0 - eta * lambda / 2.0))).abs() < 1e-12);
        assert!(g
            .sgld_stationary_covariance(2.0 / lambda + 0.01, 1.0)
            .is_none());
    }

    #[test]
    fn a_diagonal_target_stays_diagonal_however_large() {
        // 10⁵ dimensions: a dense precision would be 80 GB.
        let g = Gaussian::isotropic(100_000, 0.0, 2.0).expect("valid");
        assert!(g.is_diagonal());
        assert_eq!(g.max_curvature_bound(), 0.5);
        let g = Gaussian::correlated(&vec![0.0; 100_000], &vec![2.0; 100_000], 0.0).expect("valid");
        assert!(g.is_diagonal());
        let refused = Gaussian::equicorrelated(1 << 24, 0.0, 1.0, 0.5).expect_err("2⁴⁸ entries");
        assert!(matches!(refused, Error::HostMemory { .. }), "{refused}");
    }

    #[test]
    fn bad_targets_are_refused() {
        assert!(Gaussian::diagonal(&[], &[]).is_err());
        assert!(Gaussian::diagonal(&[0.0, 1.0], &[1.0]).is_err());
        assert!(Gaussian::diagonal(&[0.0], &[0.0]).is_err());
        assert!(Gaussian::diagonal(&[f64::NAN], &[1.0]).is_err());
        assert!(Gaussian::dense(&[0.0, 0.0], &[1.0, 0.5, 0.4, 1.0]).is_err());
        assert!(Gaussian::dense(&[0.0, 0.0], &[1.0, 2.0, 2.0, 1.0]).is_err());
        assert!(Gaussian::dense(&[0.0, 0.0], &[1.0, 0.0, 0.0]).is_err());
        assert!(Gaussian::equicorrelated(3, 0.0, 1.0, -0.5).is_err());
        assert!(Gaussian::equicorrelated(3, 0.0, 1.0, 1.0).is_err());
        assert!(Gaussian::isotropic(2, 0.0, 0.0).is_err());
    }
}
