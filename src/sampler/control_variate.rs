//! Control variates for the mini-batch gradient (Baker, Fearnhead, Fox & Nemeth 2019).
//!
//! With a mode `θ̂` of the posterior and the full-data gradient `∇L(θ̂) = Σᵢ −∇ log p(yᵢ | θ̂)`
//! computed once — the [`Centre`] — the estimator
//!
//! `∇Ũ_cv(θ) = −∇ log p(θ) + ∇L(θ̂) + (N/n) Σ_{i∈S} [−∇ log p(yᵢ | θ) + ∇ log p(yᵢ | θ̂)]`
//!
//! is unbiased for `∇U(θ)` like the plain one, and its variance shrinks as `θ` nears `θ̂`
//! (Baker et al.'s form spreads the prior over the examples; the prior's terms cancel to the
//! same estimator). Any rule runs with it: SGLD-CV, SGHMC-CV, and so on.
//!
//! Finding the centre is an explicit step, as BlackJAX passes its `centering_position`:
//! [`crate::Sampler::find_centre`] runs a [`ModeSearch`] (plain SGD on the GPU) and returns the
//! centre, which [`crate::sampler::SamplerBuilder::control_variate`] takes.

use crate::error::{Error, Result};
use crate::model::Target;

/// How [`crate::Sampler::find_centre`] finds the mode θ̂: `steps` of SGD at a constant step
/// size (SGLD at T = 0 on one chain, with the run's mini-batches).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModeSearch {
    steps: u32,
    step_size: f64,
}

impl ModeSearch {
    /// `steps ≥ 1` of SGD at `step_size > 0`.
    pub fn new(steps: u32, step_size: f64) -> Result<ModeSearch> {
        if steps == 0 {
            return Err(Error::invalid(
                "control variate",
                "needs at least one SGD step to find the mode θ̂",
            ));
        }
        if !(step_size.is_finite() && step_size > 0.0) {
            return Err(Error::invalid(
                "control variate",
                format!("SGD step size {step_size} must be positive and finite"),
            ));
        }
        Ok(ModeSearch { steps, step_size })
    }

    /// SGD steps.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// SGD's constant step size.
    pub fn step_size(&self) -> f64 {
        self.step_size
    }
}

/// The centre of control variates: the mode θ̂ and the full-data gradient `∇L(θ̂)` there.
#[derive(Debug, Clone, PartialEq)]
pub struct Centre {
    theta: Vec<f32>,
    gradient: Vec<f32>,
}

impl Centre {
    /// The centre at `theta` for `target`: its full-data gradient computed on the CPU. An
    /// error for targets without data or without a CPU gradient, or a `theta` that is not
    /// finite or of the target's dimension.
    pub fn at(target: &Target, theta: Vec<f32>) -> Result<Centre> {
        if theta.len() != target.dim() {
            return Err(Error::invalid(
                "control variate",
                format!(
                    "θ̂ has {} values; the model has {} dimensions",
                    theta.len(),
                    target.dim()
                ),
            ));
        }
        if let Some(d) = theta.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "control variate",
                format!(
                    "θ̂ is not finite (coordinate {d} is {}); if SGD found it, use a smaller SGD \
                     step size",
                    theta[d]
                ),
            ));
        }
        let gradient = match target {
            Target::Gaussian(_) => {
                return Err(Error::invalid(
                    "control variate",
                    "needs a data model: a Gaussian's gradient is exact already",
                ))
            }
            Target::Custom(model) if !model.has_cpu_gradient() => {
                return Err(Error::invalid(
                    "control variate",
                    format!(
                        "needs the full-data gradient at θ̂, which custom model `{}` cannot give \
                         without a CPU twin; add one with CustomModel::with_cpu_gradient",
                        model.name()
                    ),
                ))
            }
            _ => target.data_gradient(&theta).ok_or_else(|| {
                Error::invalid("control variate", "the model has no CPU full-data gradient")
            })?,
        };
        Ok(Centre {
            theta,
            gradient: gradient.iter().map(|&g| g as f32).collect(),
        })
    }

    /// θ̂.
    pub fn theta(&self) -> &[f32] {
        &self.theta
    }

    /// `∇L(θ̂) = Σᵢ −∇ log p(yᵢ | θ̂)`, rounded to f32.
    pub fn gradient(&self) -> &[f32] {
        &self.gradient
    }

    /// What the kernels read: θ̂ then ∇L(θ̂).
    pub(crate) fn kernel_values(&self) -> Vec<f32> {
        [&self.theta[..], &self.gradient].concat()
    }
}
