//! A step size chosen for the user: the largest curvature `λ_max` of `U` at its mode, by power
//! iteration on Hessian-vector products, and a stated fraction of the rule's stability limit.
//!
//! Each rule, linearised on a quadratic `U = λ x²/2` at T = 0, is stable when:
//! * SGLD, `x ← x − ηλx`: `|1 − ηλ| < 1`, so `η < 2/λ`;
//! * pSGLD, `x ← x − ηGλx` with the preconditioner `G = 1/(ε + √V)` frozen: `η < 2/λ_max(GH)`,
//!   the largest eigenvalue of the preconditioned Hessian (`V` from mini-batch gradients at the
//!   mode, as the run's running mean square would hold there);
//! * SGHMC, `v ← (1 − α)v − ηλx, x ← x + v`: the map's trace is `2 − α − ηλ` and its
//!   determinant `1 − α`, and Jury's conditions give `ηλ < 2(2 − α)`, so `η < 2(2 − α)/λ`;
//! * SGNHT, `v ← (1 − ζh)v − hλx, x ← x + hv`: with `u = hv` it is SGHMC with `α = ζh` and
//!   `η = h²`, so `h²λ + 2ζh < 4`, i.e. `h < (√(ζ² + 4λ) − ζ)/λ`, at the thermostat's start
//!   `ζ = A`.
//!
//! The chosen `η` is `fraction ×` that limit. SGLD's stationary variance along an eigenvector
//! of curvature `λ` is `1/(λ(1 − ηλ/2))`: at the default fraction 0.2 the stiffest direction's
//! variance is inflated by 1/(1 − 0.2) = 25% and every softer one by less; a smaller fraction
//! buys less bias with slower mixing.
//!
//! In a dense metric `M = L Lᵀ` ([`super::Preconditioner`]) SGLD is SGLD in `z = L⁻¹θ`, whose
//! Hessian `Lᵀ H L` has the eigenvalues of `M H`: the limit is `η < 2/λ_max(MH)`, which is 2
//! for the Laplace metric at the mode (`M H = I` there). There every direction has unit
//! curvature, so the fraction sets the bias of all of them alike — the variance widens by
//! `1/(1 − η λ/2)` — and [`AutoStep::IN_METRIC_FRACTION`] (η ≈ 0.05, 2.5%) is the fraction
//! the command line and Python use there unless told otherwise. With a metric `H v` comes
//! from the full-data gradient, so that rare features' curvature is not a subsample's guess.
//!
//! `H v` is the central difference `(∇U(θ + εv) − ∇U(θ − εv)) / 2ε` of the CPU twin's
//! gradient, over every example, or over 4096 evenly spaced examples scaled by `N/n` for
//! larger data (a large-batch estimate of the same curvature).

use crate::error::{Error, Result};
use crate::model::Target;
use crate::sampler::Method;

/// How [`crate::Sampler::choose_step_size`] chooses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoStep {
    /// The fraction of the rule's stability limit, in (0, 1). Default 0.2.
    pub fraction: f64,
    /// SGD steps that find the mode (on the GPU, one chain). Default 1000.
    pub mode_steps: u32,
    /// Most power iterations. Default 100 (stopping earlier at a relative change below 10⁻⁴).
    pub iterations: u32,
}

impl AutoStep {
    /// The fraction of the stability limit the command line and Python take in a dense metric
    /// unless given one: η ≈ 0.05 in the Laplace metric, whose variances it widens by 2.5%.
    pub const IN_METRIC_FRACTION: f64 = 0.025;
}

impl Default for AutoStep {
    fn default() -> Self {
        AutoStep {
            fraction: 0.2,
            mode_steps: 1000,
            iterations: 100,
        }
    }
}

/// What [`crate::Sampler::choose_step_size`] chose, and why.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct StepSizeChoice {
    /// The step size η.
    pub eta: f64,
    /// The largest curvature of `U` at the mode (of the preconditioned Hessian for pSGLD).
    pub lambda_max: f64,
    /// The rule's stability limit at that curvature.
    pub limit: f64,
    /// `eta / limit`.
    pub fraction: f64,
    /// The SGD step size that found the mode (`None` for a Gaussian, whose mode is known).
    pub mode_step_size: Option<f64>,
}

/// Examples a curvature estimate reads at most.
const CURVATURE_ROWS: usize = 4096;

/// `∇U(θ)` on the CPU (prior and likelihood, f64), over every example or
/// [`CURVATURE_ROWS`] evenly spaced ones.
pub(crate) fn potential_gradient(target: &Target) -> Result<impl Fn(&[f32]) -> Vec<f64> + '_> {
    let rows: Vec<u32> = match target.data() {
        None => Vec::new(),
        Some(data) => {
            let n = data.rows().min(CURVATURE_ROWS);
            (0..n).map(|i| (i * data.rows() / n) as u32).collect()
        }
    };
    if let Target::Custom(model) = target {
        if !model.has_cpu_gradient() {
            return Err(Error::invalid(
                "step size",
                format!(
                    "an automatic step size needs the gradient on the CPU, which custom model \
                     `{}` has not; add one with CustomModel::with_cpu_gradient or give a step size",
                    model.name()
                ),
            ));
        }
    }
    Ok(move |theta: &[f32]| {
        let mut out = vec![0.0f32; theta.len()];
        match target {
            Target::Gaussian(g) => g.gradient(theta, &mut out),
            Target::Regression(r) => r.gradient(theta, &rows, &mut out),
            Target::Network(n) => n.gradient(theta, &rows, &mut out),
            Target::Custom(c) => {
                let _ = c.gradient(theta, &rows, &mut out);
            }
        }
        out.iter().map(|&g| f64::from(g)).collect()
    })
}

/// Applies a preconditioner `P` in place: `w ← P w`.
pub(crate) type ApplyPreconditioner<'a> = &'a dyn Fn(&mut [f64]);

/// The largest eigenvalue of `P · H(θ)` (`H` alone without `precondition`, which applies `P`
/// in place) by power iteration on central-difference Hessian-vector products of `gradient`.
pub(crate) fn largest_curvature(
    gradient: &dyn Fn(&[f32]) -> Vec<f64>,
    theta: &[f32],
    precondition: Option<ApplyPreconditioner<'_>>,
    iterations: u32,
) -> Result<f64> {
    let dim = theta.len();
    let scale = (theta.iter().map(|&t| f64::from(t).powi(2)).sum::<f64>() / dim as f64).sqrt();
    let epsilon = 1e-3 * scale.max(1.0);
    // A fixed start with every coordinate present (a start orthogonal to the top eigenvector
    // would never find it; this one is not orthogonal to any axis).
    let mut v: Vec<f64> = (0..dim)
        .map(|d| 1.0 + 0.5 * ((d as f64) * 0.618_034).fract())
        .collect();
    normalise(&mut v);
    let mut lambda = 0.0f64;
    for _ in 0..iterations.max(1) {
        let shifted = |sign: f64| -> Vec<f32> {
            theta
                .iter()
                .zip(&v)
                .map(|(&t, &vd)| (f64::from(t) + sign * epsilon * vd) as f32)
                .collect()
        };
        let (up, down) = (gradient(&shifted(1.0)), gradient(&shifted(-1.0)));
        let mut w: Vec<f64> = up
            .iter()
            .zip(&down)
            .map(|(a, b)| (a - b) / (2.0 * epsilon))
            .collect();
        if let Some(apply) = precondition {
            apply(&mut w);
        }
        let next = normalise(&mut w);
        if !next.is_finite() {
            return Err(Error::invalid(
                "step size",
                "the curvature at the mode is not finite; give a step size",
            ));
        }
        v = w;
        let converged = (next - lambda).abs() <= 1e-4 * next;
        lambda = next;
        if converged {
            break;
        }
    }
    Ok(lambda)
}

/// Scales `v` to unit length; returns its length.
fn normalise(v: &mut [f64]) -> f64 {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    norm
}

/// The rule's largest stable step at curvature `lambda` (the module docs derive each).
pub fn stability_limit(method: &Method, lambda: f64) -> f64 {
    match *method {
        Method::Sgld | Method::Psgld { .. } => 2.0 / lambda,
        Method::Sghmc { friction, .. } => 2.0 * (2.0 - friction) / lambda,
        Method::Sgnht { diffusion } => {
            ((diffusion * diffusion + 4.0 * lambda).sqrt() - diffusion) / lambda
        }
    }
}

/// pSGLD's preconditioner `G = 1/(ε + √V)` at `theta`, with `V` the mean over 16 mini-batches
/// of `batch` examples of `(∇Ũ/N)²`, as the run's running mean square would hold there.
pub(crate) fn psgld_preconditioner(
    target: &Target,
    theta: &[f32],
    batch: Option<u32>,
    epsilon: f64,
) -> Vec<f64> {
    let dim = theta.len();
    let Some(data) = target.data() else {
        // No data: the gradient is exact, V is its square.
        let g = potential_gradient(target)
            .map(|f| f(theta))
            .unwrap_or_default();
        return g.iter().map(|gd| 1.0 / (epsilon + gd.abs())).collect();
    };
    let rows = data.rows();
    let n = batch.map_or(rows, |b| (b as usize).min(rows));
    let batches = 16usize;
    let mut mean_square = vec![0.0f64; dim];
    for b in 0..batches {
        let chosen: Vec<u32> = (0..n)
            .map(|i| (((b * n + i) * 7919) % rows) as u32)
            .collect();
        let mut out = vec![0.0f32; dim];
        match target {
            Target::Regression(r) => r.gradient(theta, &chosen, &mut out),
            Target::Network(net) => net.gradient(theta, &chosen, &mut out),
            Target::Custom(c) => {
                let _ = c.gradient(theta, &chosen, &mut out);
            }
            Target::Gaussian(_) => {}
        }
        for (m, g) in mean_square.iter_mut().zip(&out) {
            *m += (f64::from(*g) / rows as f64).powi(2) / batches as f64;
        }
    }
    mean_square
        .iter()
        .map(|v| 1.0 / (epsilon + v.sqrt()))
        .collect()
}
