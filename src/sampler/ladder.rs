//! Temperatures over the chain axis: a ladder of rungs, the ground for replica exchange.

use crate::error::{Error, Result};

/// Chains split into `rungs` equal groups in chain order (chain `c` of `C` is on rung
/// `⌊c R / C⌋`), rung `r` at `T_r = T_min (T_max/T_min)^(r/(R−1))`, geometric as replica
/// exchange usually spaces them. Each chain samples `exp(−U/T_r)`; [`crate::Draws::summary`]
/// then reports the chains at `T = 1` only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemperatureLadder {
    /// `T_min > 0`, the first rung's temperature (1 to sample the posterior there).
    pub(crate) min: f64,
    /// `T_max ≥ T_min`, the last rung's.
    pub(crate) max: f64,
    /// `R ≥ 1` rungs; `R = 1` needs `T_min = T_max`.
    pub(crate) rungs: u32,
}

impl TemperatureLadder {
    /// The number of rungs `R`.
    pub fn rungs(&self) -> u32 {
        self.rungs
    }

    /// A validated ladder; see the type's docs.
    pub fn new(min: f64, max: f64, rungs: u32) -> Result<TemperatureLadder> {
        let ladder = TemperatureLadder { min, max, rungs };
        ladder.validate()?;
        Ok(ladder)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let TemperatureLadder { min, max, rungs } = *self;
        if !(min.is_finite() && min > 0.0 && max.is_finite() && max > 0.0) {
            return Err(Error::invalid(
                "temperature ladder",
                format!("T_MIN = {min} and T_MAX = {max} must be positive and finite"),
            ));
        }
        if min > max {
            return Err(Error::invalid(
                "temperature ladder",
                format!("T_MIN = {min} exceeds T_MAX = {max}"),
            ));
        }
        if rungs == 0 || (rungs == 1 && min != max) {
            return Err(Error::invalid(
                "temperature ladder",
                format!("{rungs} rungs cannot span T_MIN = {min} to T_MAX = {max}; use at least 2"),
            ));
        }
        Ok(())
    }

    /// The temperature of rung `rung`.
    pub fn rung_temperature(&self, rung: u32) -> f64 {
        if self.rungs == 1 || rung == 0 {
            return self.min;
        }
        if rung + 1 == self.rungs {
            return self.max;
        }
        let fraction = f64::from(rung) / f64::from(self.rungs - 1);
        self.min * (self.max / self.min).powf(fraction)
    }

    /// The temperature of chain `chain` of `chains`.
    pub fn chain_temperature(&self, chain: u32, chains: u32) -> f64 {
        let rung = u64::from(chain) * u64::from(self.rungs) / u64::from(chains.max(1));
        self.rung_temperature(rung as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_split_the_chains_and_span_the_range() {
        let ladder = TemperatureLadder::new(1.0, 8.0, 4).expect("valid");
        let temperatures: Vec<f64> = (0..8).map(|c| ladder.chain_temperature(c, 8)).collect();
        assert_eq!(temperatures[0], 1.0);
        assert_eq!(temperatures[1], 1.0);
        assert!((temperatures[2] - 2.0).abs() < 1e-12);
        assert!((temperatures[4] - 4.0).abs() < 1e-12);
        assert_eq!(temperatures[7], 8.0);
    }

    #[test]
    fn bad_ladders_are_refused() {
        for (min, max, rungs, words) in [
            (2.0, 1.0, 4, "exceeds"),
            (0.0, 1.0, 4, "positive"),
            (-1.0, 1.0, 4, "positive"),
            (1.0, f64::INFINITY, 4, "finite"),
            (1.0, 2.0, 1, "at least 2"),
            (1.0, 2.0, 0, "at least 2"),
        ] {
            let error = TemperatureLadder::new(min, max, rungs).expect_err("refused");
            assert!(
                error.to_string().contains(words),
                "{min} {max} {rungs}: {error}"
            );
        }
    }
}
