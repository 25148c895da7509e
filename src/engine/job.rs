//! The engine's input: one group of chains of one run, as plain values — the target, the
//! validated settings (with the control-variate centre, if any), the tuning and the chain
//! window. The engine
//! never sees the [`crate::Sampler`] front.

use std::ops::Range;
use std::sync::Arc;

use crate::model::Target;
use crate::sampler::settings::{Settings, Tuning};

/// A group of chains to run: what the engine needs, and nothing the front keeps for itself.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// Shared, so that a run's chain groups do not copy a large model.
    pub(crate) target: Arc<Target>,
    pub(crate) settings: Settings,
    pub(crate) tuning: Tuning,
    /// The run-wide ids of the chains this job holds.
    pub(crate) window: Range<u32>,
}

impl Job {
    /// The number of chains in the window.
    pub(crate) fn chains(&self) -> u32 {
        self.window.end - self.window.start
    }

    /// The same run over another window of its chains.
    pub(crate) fn with_window(&self, window: Range<u32>) -> Job {
        Job {
            window,
            ..self.clone()
        }
    }

    /// The temperature of each chain of the window under the run's ladder (by run-wide chain
    /// id), or none without one.
    pub(crate) fn chain_temperatures(&self) -> Vec<f32> {
        let settings = &self.settings;
        settings
            .temperature_ladder
            .map(|ladder| {
                self.window
                    .clone()
                    .map(|c| ladder.chain_temperature(c, settings.chains) as f32)
                    .collect()
            })
            .unwrap_or_default()
    }
}
