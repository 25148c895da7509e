//! Step size over time: constant, or Welling & Teh's polynomial decay.

use crate::error::{Error, Result};

/// The step size `η_t` of step `t = 0, 1, 2, …` (our `η`; Welling & Teh's `ε = 2η`).
///
/// A schedule is a pure function of the step, so a run split into any number of submits sees
/// the same values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepSize {
    /// `η_t = η`.
    Constant(f64),
    /// `η_t = a (b + t)^(−γ)` (Welling & Teh 2011), with `a > 0`, `b ≥ 0`, `γ ∈ (0.5, 1]` so
    /// that `Σ η_t = ∞` and `Σ η_t² < ∞`.
    Polynomial {
        /// Scale `a`.
        a: f64,
        /// Offset `b`, which sets the first step size `a b^(−γ)`.
        b: f64,
        /// Decay exponent `γ`.
        gamma: f64,
    },
}

impl Default for StepSize {
    fn default() -> Self {
        StepSize::Constant(1e-3)
    }
}

impl StepSize {
    /// A constant step size; it must be positive and finite.
    pub fn constant(eta: f64) -> Result<StepSize> {
        let schedule = StepSize::Constant(eta);
        schedule.validate()?;
        Ok(schedule)
    }

    /// `η_t = a (b + t)^(−γ)`; see [`StepSize::Polynomial`] for the valid ranges.
    pub fn polynomial(a: f64, b: f64, gamma: f64) -> Result<StepSize> {
        let schedule = StepSize::Polynomial { a, b, gamma };
        schedule.validate()?;
        Ok(schedule)
    }

    /// Checks the parameters (the enum's fields are public, so a value may be built directly).
    pub fn validate(&self) -> Result<()> {
        match *self {
            StepSize::Constant(eta) => {
                if !(eta.is_finite() && eta > 0.0) {
                    return Err(Error::invalid(
                        "step size",
                        format!("{eta} must be positive and finite"),
                    ));
                }
            }
            StepSize::Polynomial { a, b, gamma } => {
                if !(a.is_finite() && a > 0.0) {
                    return Err(Error::invalid(
                        "step size",
                        format!("polynomial scale a = {a} must be positive and finite"),
                    ));
                }
                if !(b.is_finite() && b >= 0.0) {
                    return Err(Error::invalid(
                        "step size",
                        format!("polynomial offset b = {b} must be finite and ≥ 0"),
                    ));
                }
                if !(gamma > 0.5 && gamma <= 1.0) {
                    return Err(Error::invalid(
                        "step size",
                        format!(
                            "polynomial exponent γ = {gamma} must lie in (0.5, 1] \
                             (Welling & Teh's conditions Σ η_t = ∞, Σ η_t² < ∞)"
                        ),
                    ));
                }
                if b == 0.0 {
                    return Err(Error::invalid(
                        "step size",
                        "polynomial offset b = 0 makes the first step size a·0^(−γ) infinite; use b > 0",
                    ));
                }
            }
        }
        Ok(())
    }

    /// `η_t` for step `t`.
    pub fn at(&self, step: u64) -> f64 {
        match *self {
            StepSize::Constant(eta) => eta,
            StepSize::Polynomial { a, b, gamma } => a * (b + step as f64).powf(-gamma),
        }
    }

    /// The largest step size over the whole run (the first, for a decaying schedule).
    pub fn max(&self) -> f64 {
        self.at(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_values_at_boundaries() {
        // Welling & Teh's mixture schedule: 0.01 at t = 0 down to 1e-4 at t = 10⁶.
        let s = StepSize::polynomial(0.1996, 231.07, 0.55).expect("valid");
        assert!((s.at(0) - 0.01).abs() < 1e-5, "{}", s.at(0));
        assert!((s.at(1_000_000) - 1e-4).abs() < 2e-6, "{}", s.at(1_000_000));
        let c = StepSize::constant(0.5).expect("valid");
        assert_eq!(c.at(0), 0.5);
        assert_eq!(c.at(u64::from(u32::MAX)), 0.5);
    }

    #[test]
    fn bad_schedules_are_refused() {
        for eta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(StepSize::constant(eta).is_err(), "{eta}");
        }
        assert!(StepSize::polynomial(0.0, 1.0, 0.6).is_err());
        assert!(StepSize::polynomial(1.0, -1.0, 0.6).is_err());
        assert!(StepSize::polynomial(1.0, 0.0, 0.6).is_err());
        assert!(StepSize::polynomial(1.0, 1.0, 0.5).is_err());
        assert!(StepSize::polynomial(1.0, 1.0, 1.5).is_err());
        assert!(StepSize::polynomial(1.0, 1.0, 1.0).is_ok());
    }
}
