//! Step size over time (constant, Welling & Teh's polynomial decay, Zhang et al.'s cyclical
//! cosine with its exploration stage, a warm-up in front of any of them) and temperature over
//! time (annealing).

use crate::error::{Error, Result};

/// The step size `η_t` of step `t = 0, 1, 2, …` (our `η`; Welling & Teh's `ε = 2η`).
///
/// A schedule is a pure function of the step, so a run split into any number of submits sees
/// the same values.
#[derive(Debug, Clone, PartialEq)]
pub enum StepSize {
    /// `η_t = η`.
    #[non_exhaustive]
    Constant(f64),
    /// `η_t = a (b + t)^(−γ)` (Welling & Teh 2011), with `a > 0`, `b ≥ 0`, `γ ∈ (0.5, 1]` so
    /// that `Σ η_t = ∞` and `Σ η_t² < ∞`.
    #[non_exhaustive]
    Polynomial {
        /// Scale `a`.
        a: f64,
        /// Offset `b`, which sets the first step size `a b^(−γ)`.
        b: f64,
        /// Decay exponent `γ`.
        gamma: f64,
    },
    /// Cyclical cosine (Zhang, Li, Zhang, Chen & Wilson 2020, eq. 1): with `L = ⌈K/M⌉` steps
    /// per cycle, `η_t = (η₀/2) (cos(π · (t mod L) / L) + 1)`. Steps whose cycle fraction
    /// `r = (t mod L)/L` is below `β` *explore*: they inject no noise (the rule runs as its
    /// optimiser: SGD, RMSprop, SGD with momentum) and keep no draw; steps with `r ≥ β`
    /// sample.
    #[non_exhaustive]
    Cyclical {
        /// `η₀ > 0`, the step size at the start of each cycle.
        initial: f64,
        /// `M ≥ 1` cycles.
        cycles: u32,
        /// `K`, the steps the cycles span (normally the run's steps).
        total_steps: u64,
        /// `β ∈ [0, 1)`: the exploration fraction of each cycle.
        explore: f64,
    },
    /// `steps` steps at the constant `eta`, then `then` with its own step counter starting
    /// from 0.
    #[non_exhaustive]
    Warmup {
        /// Steps of warm-up.
        steps: u64,
        /// The warm-up's step size.
        eta: f64,
        /// The schedule after the warm-up.
        then: Box<StepSize>,
    },
}

/// As JSON for programs: `{"schedule": "constant", "eta": 0.0001}`, `{"schedule": "polynomial",
/// "a", "b", "gamma"}`, `{"schedule": "cyclical", "initial", "cycles", "total_steps",
/// "explore"}` or `{"schedule": "warmup", "steps", "eta", "then": {…}}`, numbers as numbers.
impl serde::Serialize for StepSize {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        match self {
            StepSize::Constant(eta) => {
                map.serialize_entry("schedule", "constant")?;
                map.serialize_entry("eta", eta)?;
            }
            StepSize::Polynomial { a, b, gamma } => {
                map.serialize_entry("schedule", "polynomial")?;
                map.serialize_entry("a", a)?;
                map.serialize_entry("b", b)?;
                map.serialize_entry("gamma", gamma)?;
            }
            StepSize::Cyclical {
                initial,
                cycles,
                total_steps,
                explore,
            } => {
                map.serialize_entry("schedule", "cyclical")?;
                map.serialize_entry("initial", initial)?;
                map.serialize_entry("cycles", cycles)?;
                map.serialize_entry("total_steps", total_steps)?;
                map.serialize_entry("explore", explore)?;
            }
            StepSize::Warmup { steps, eta, then } => {
                map.serialize_entry("schedule", "warmup")?;
                map.serialize_entry("steps", steps)?;
                map.serialize_entry("eta", eta)?;
                map.serialize_entry("then", then)?;
            }
        }
        map.end()
    }
}

/// The step size a run gets unless it says otherwise (library and command line).
pub const DEFAULT_STEP_SIZE: f64 = 1e-3;

impl Default for StepSize {
    fn default() -> Self {
        StepSize::Constant(DEFAULT_STEP_SIZE)
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

    /// `M` cycles of Zhang et al.'s cosine over `total_steps` steps from `η₀ = initial`, each
    /// exploring (no noise, no draws) for its first fraction `explore`; see
    /// [`StepSize::Cyclical`].
    pub fn cyclical(initial: f64, cycles: u32, total_steps: u64, explore: f64) -> Result<StepSize> {
        let schedule = StepSize::Cyclical {
            initial,
            cycles,
            total_steps,
            explore,
        };
        schedule.validate()?;
        Ok(schedule)
    }

    /// `steps` steps at `eta`, then this schedule (its step counter restarting at 0).
    pub fn after_warmup(self, steps: u64, eta: f64) -> Result<StepSize> {
        let schedule = StepSize::Warmup {
            steps,
            eta,
            then: Box::new(self),
        };
        schedule.validate()?;
        Ok(schedule)
    }

    /// Checks the parameters (the enum's fields are public, so a value may be built directly).
    pub fn validate(&self) -> Result<()> {
        match *self {
            StepSize::Cyclical {
                initial,
                cycles,
                total_steps,
                explore,
            } => {
                if !(initial.is_finite() && initial > 0.0) {
                    return Err(Error::invalid(
                        "step size",
                        format!("cyclical η₀ = {initial} must be positive and finite"),
                    ));
                }
                if cycles == 0 {
                    return Err(Error::invalid(
                        "cycles",
                        "M = 0: a cyclical schedule needs at least one cycle",
                    ));
                }
                if total_steps < u64::from(cycles) {
                    return Err(Error::invalid(
                        "cycles",
                        format!(
                            "M = {cycles} cycles need at least {cycles} steps, not {total_steps}"
                        ),
                    ));
                }
                if !(0.0..1.0).contains(&explore) {
                    return Err(Error::invalid(
                        "exploration fraction",
                        format!(
                            "β = {explore} must lie in [0, 1): a cycle explores for its first \
                             fraction β and samples for the rest (Zhang et al. use 0.9 on CIFAR)"
                        ),
                    ));
                }
            }
            StepSize::Warmup {
                steps,
                eta,
                ref then,
            } => {
                if steps == 0 {
                    return Err(Error::invalid("warm-up", "needs at least one step"));
                }
                StepSize::Constant(eta).validate()?;
                then.validate()?;
            }
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
            StepSize::Cyclical { initial, .. } => {
                let (position, length) = self.cycle_position(step);
                let fraction = position as f64 / length as f64;
                initial / 2.0 * ((std::f64::consts::PI * fraction).cos() + 1.0)
            }
            StepSize::Warmup {
                steps,
                eta,
                ref then,
            } => {
                if step < steps {
                    eta
                } else {
                    then.at(step - steps)
                }
            }
        }
    }

    /// Whether step `t` explores: it injects no noise and keeps no draw (the exploration stage
    /// of a cyclical schedule).
    pub fn explores(&self, step: u64) -> bool {
        match *self {
            StepSize::Cyclical { explore, .. } => {
                let (position, length) = self.cycle_position(step);
                (position as f64) < explore * length as f64
            }
            StepSize::Warmup {
                steps, ref then, ..
            } => step >= steps && then.explores(step - steps),
            _ => false,
        }
    }

    /// For a cyclical schedule, `(t mod L, L)` with `L = ⌈K/M⌉`; `(0, 1)` otherwise.
    fn cycle_position(&self, step: u64) -> (u64, u64) {
        match *self {
            StepSize::Cyclical {
                cycles,
                total_steps,
                ..
            } => {
                let length = total_steps.div_ceil(u64::from(cycles)).max(1);
                (step % length, length)
            }
            _ => (0, 1),
        }
    }

    /// The largest step size over the whole run.
    pub fn max(&self) -> f64 {
        match *self {
            StepSize::Constant(eta) => eta,
            StepSize::Polynomial { .. } | StepSize::Cyclical { .. } => self.at(0),
            StepSize::Warmup { eta, ref then, .. } => eta.max(then.max()),
        }
    }
}

/// The temperature `T_t` of step `t`, when it changes over the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TemperatureSchedule {
    /// Geometric annealing: `T_t = from · (to/from)^(t/steps)` for `t < steps`, then `to`.
    /// Starting hot lets chains cross barriers early; `to = 1` then samples the posterior.
    #[non_exhaustive]
    Anneal {
        /// `T_0 > 0`.
        from: f64,
        /// `T` from step `steps` on, `> 0`.
        to: f64,
        /// Steps the annealing takes, `≥ 1`.
        steps: u64,
    },
}

impl TemperatureSchedule {
    /// Geometric annealing from `from` to `to` over `steps` steps.
    pub fn anneal(from: f64, to: f64, steps: u64) -> Result<TemperatureSchedule> {
        let schedule = TemperatureSchedule::Anneal { from, to, steps };
        schedule.validate()?;
        Ok(schedule)
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        let TemperatureSchedule::Anneal { from, to, steps } = *self;
        if !(from.is_finite() && from > 0.0 && to.is_finite() && to > 0.0) {
            return Err(Error::invalid(
                "temperature schedule",
                format!("annealing from {from} to {to}: both must be positive and finite"),
            ));
        }
        if steps == 0 {
            return Err(Error::invalid(
                "temperature schedule",
                "annealing needs at least one step",
            ));
        }
        Ok(())
    }

    /// `T_t` for step `t`.
    pub fn at(&self, step: u64) -> f64 {
        let TemperatureSchedule::Anneal { from, to, steps } = *self;
        if step >= steps {
            return to;
        }
        from * (to / from).powf(step as f64 / steps as f64)
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

    /// Zhang et al.'s cosine: η₀ at each cycle's first step, η₀/2 at its middle, and the
    /// exploration stage ends exactly at fraction β.
    #[test]
    fn cyclical_values_and_stages_at_boundaries() {
        // K = 1000 steps, M = 4 cycles: L = 250.
        let s = StepSize::cyclical(0.5, 4, 1000, 0.8).expect("valid");
        for start in [0u64, 250, 500, 750] {
            assert_eq!(s.at(start), 0.5);
            assert!(s.explores(start));
            assert!((s.at(start + 125) - 0.25).abs() < 1e-12);
            // r = 199/250 < 0.8 explores; r = 200/250 = 0.8 samples.
            assert!(s.explores(start + 199));
            assert!(!s.explores(start + 200));
            assert!(!s.explores(start + 249));
            let last = 0.25 * ((std::f64::consts::PI * 249.0 / 250.0).cos() + 1.0);
            assert!((s.at(start + 249) - last).abs() < 1e-15);
        }
        // K not a multiple of M: L = ⌈1001/4⌉ = 251.
        let t = StepSize::cyclical(1.0, 4, 1001, 0.0).expect("valid");
        assert_eq!(t.at(251), 1.0);
        assert!(!t.explores(0));
        assert_eq!(s.max(), 0.5);
    }

    /// A warm-up runs its constant step, then the schedule from its own step 0.
    #[test]
    fn warmup_then_schedule_at_the_boundary() {
        let s = StepSize::cyclical(0.5, 2, 100, 0.5)
            .expect("valid")
            .after_warmup(10, 0.01)
            .expect("valid");
        assert_eq!(s.at(0), 0.01);
        assert_eq!(s.at(9), 0.01);
        assert!(!s.explores(9));
        assert_eq!(s.at(10), 0.5);
        assert!(s.explores(10));
        assert!(!s.explores(10 + 25));
        assert_eq!(s.at(60), 0.5);
        assert_eq!(s.max(), 0.5);
    }

    #[test]
    fn annealing_values_at_boundaries() {
        let s = TemperatureSchedule::anneal(16.0, 1.0, 4).expect("valid");
        assert_eq!(s.at(0), 16.0);
        assert!((s.at(1) - 8.0).abs() < 1e-12);
        assert!((s.at(3) - 2.0).abs() < 1e-12);
        assert_eq!(s.at(4), 1.0);
        assert_eq!(s.at(1_000_000), 1.0);
        assert!(TemperatureSchedule::anneal(0.0, 1.0, 4).is_err());
        assert!(TemperatureSchedule::anneal(2.0, -1.0, 4).is_err());
        assert!(TemperatureSchedule::anneal(2.0, 1.0, 0).is_err());
    }

    #[test]
    fn bad_schedules_are_refused() {
        for (bad, words) in [
            (StepSize::cyclical(0.1, 0, 100, 0.5), "M = 0"),
            (StepSize::cyclical(0.1, 10, 5, 0.5), "at least 10 steps"),
            (StepSize::cyclical(0.1, 2, 100, 1.0), "[0, 1)"),
            (StepSize::cyclical(0.1, 2, 100, -0.1), "[0, 1)"),
            (StepSize::cyclical(0.0, 2, 100, 0.5), "positive"),
            (
                StepSize::Constant(0.1).after_warmup(0, 0.1),
                "at least one step",
            ),
        ] {
            let error = bad.expect_err("refused");
            assert!(error.to_string().contains(words), "{error}");
        }
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
