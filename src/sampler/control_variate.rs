//! Control variates for the mini-batch gradient (Baker, Fearnhead, Fox & Nemeth 2019).
//!
//! With a mode `θ̂` of the posterior, found first by SGD on the GPU, and the full-data
//! gradient `∇L(θ̂) = Σᵢ −∇ log p(yᵢ | θ̂)` computed once, the estimator
//!
//! `∇Ũ_cv(θ) = −∇ log p(θ) + ∇L(θ̂) + (N/n) Σ_{i∈S} [−∇ log p(yᵢ | θ) + ∇ log p(yᵢ | θ̂)]`
//!
//! is unbiased for `∇U(θ)` like the plain one, and its variance shrinks as `θ` nears `θ̂`
//! (Baker et al.'s form spreads the prior over the examples; the prior's terms cancel to the
//! same estimator). Any rule runs with it: SGLD-CV, SGHMC-CV, and so on.

use crate::error::{Error, Result};

/// How the control variate is prepared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlVariate {
    /// SGD steps (SGLD at T = 0 on one chain, with the run's mini-batches) that find `θ̂`.
    pub sgd_steps: u32,
    /// SGD's constant step size.
    pub sgd_step_size: f64,
    /// Start every chain at `θ̂`, as Baker et al. do (default true); otherwise the run's
    /// `init` applies.
    pub start_at_mode: bool,
}

impl ControlVariate {
    /// `sgd_steps` of SGD at `sgd_step_size`, chains starting at the mode.
    pub fn new(sgd_steps: u32, sgd_step_size: f64) -> Result<ControlVariate> {
        let cv = ControlVariate {
            sgd_steps,
            sgd_step_size,
            start_at_mode: true,
        };
        cv.validate()?;
        Ok(cv)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.sgd_steps == 0 {
            return Err(Error::invalid(
                "control variate",
                "needs at least one SGD step to find the mode θ̂",
            ));
        }
        if !(self.sgd_step_size.is_finite() && self.sgd_step_size > 0.0) {
            return Err(Error::invalid(
                "control variate",
                format!(
                    "SGD step size {} must be positive and finite",
                    self.sgd_step_size
                ),
            ));
        }
        Ok(())
    }
}
