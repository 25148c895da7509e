//! Step planning: a run is cut into *batches*, one queue submit each. A batch holds many
//! dispatches, each advancing every chain by up to `max_steps_per_dispatch` steps with the
//! state on-chip; a dispatch ends exactly where a draw is kept and then also stores the state
//! into a draw slot. Per-step scalars (η_t, sqrt(2cη_tT), T) go up once per batch as a table,
//! and each dispatch's record is reached through a dynamic offset into one uniform buffer, so
//! the whole run uses a single bind group.

use crate::gpu::contract::{DispatchRecord, StepScalars, NO_DRAW};
use crate::sampler::settings::Settings;

/// Most dispatches in one submit (bounds the record buffer: 4096 × 256 B = 1 MiB).
pub(crate) const MAX_DISPATCHES_PER_BATCH: usize = 4096;
/// Most steps in one submit's schedule table (512 KiB).
pub(crate) const MAX_STEPS_PER_BATCH: usize = 1 << 16;

/// The work of one submit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Batch {
    pub(crate) records: Vec<DispatchRecord>,
    pub(crate) schedule: Vec<StepScalars>,
    /// The step index (0-based) after which each slot's draw was taken.
    pub(crate) draw_steps: Vec<u32>,
}

/// Cuts steps `start..settings.steps` into batches, lazily (a long run never holds its whole
/// schedule): a dispatch never crosses a kept draw or exceeds `max_steps_per_dispatch`; a
/// batch holds at most `slots` draws and as many steps as its caller asks for.
pub(crate) struct Planner<'a> {
    settings: &'a Settings,
    step: u32,
    max_steps_per_dispatch: u32,
    slots: usize,
}

impl<'a> Planner<'a> {
    pub(crate) fn new(
        settings: &'a Settings,
        start: u32,
        max_steps_per_dispatch: u32,
        slots: usize,
    ) -> Planner<'a> {
        Planner {
            settings,
            step: start,
            max_steps_per_dispatch,
            slots,
        }
    }

    /// The next submit's work, of at most `most_steps` steps (at least one); `None` at the end.
    pub(crate) fn next_batch(&mut self, most_steps: u32) -> Option<Batch> {
        let settings = self.settings;
        if self.step >= settings.steps {
            return None;
        }
        let most_steps = (most_steps.max(1) as usize).min(MAX_STEPS_PER_BATCH);
        let mut batch = Batch {
            records: Vec::new(),
            schedule: Vec::new(),
            draw_steps: Vec::new(),
        };
        while self.step < settings.steps
            && batch.records.len() < MAX_DISPATCHES_PER_BATCH
            && batch.draw_steps.len() < self.slots
            && batch.schedule.len() < most_steps
        {
            let step = self.step;
            let room = (most_steps - batch.schedule.len()) as u32;
            let limit = (settings.steps - step)
                .min(self.max_steps_per_dispatch)
                .min(room);
            let mut count = 1;
            while count < limit && !settings.keeps(step + count - 1) {
                count += 1;
            }
            let last = step + count - 1;
            let draw_slot = if settings.keeps(last) {
                batch.draw_steps.push(last);
                (batch.draw_steps.len() - 1) as u32
            } else {
                NO_DRAW
            };
            batch.records.push(DispatchRecord {
                first_step: step,
                step_count: count,
                table_offset: batch.schedule.len() as u32,
                draw_slot,
                draw_count: u32::from(draw_slot != NO_DRAW),
                draw_stride: 0,
            });
            // Exploration steps inject no noise: the rule runs as its optimiser.
            let factor = settings.method.noise_factor();
            batch.schedule.extend((step..=last).map(|t| {
                let t = u64::from(t);
                let temperature = if settings.step_size.explores(t) {
                    0.0
                } else {
                    settings.temperature_at(t)
                };
                StepScalars::with_noise_factor(settings.step_size.at(t), temperature, factor)
            }));
            self.step += count;
        }
        Some(batch)
    }
}

/// [`Planner`]'s batches at their largest.
#[cfg(test)]
pub(crate) fn plan(
    settings: &Settings,
    start: u32,
    max_steps_per_dispatch: u32,
    slots: usize,
) -> impl Iterator<Item = Batch> + '_ {
    let mut planner = Planner::new(settings, start, max_steps_per_dispatch, slots);
    std::iter::from_fn(move || planner.next_batch(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::Method;

    /// Settings whose scalars change from step to step: a cyclical step size with exploring
    /// steps, an annealed temperature, and SGHMC's noise factor α − β̂.
    fn settings(steps: u32, burn_in: u32, thin: u32) -> Settings {
        use crate::schedule::TemperatureSchedule;
        Settings {
            steps,
            burn_in,
            thin,
            step_size: crate::StepSize::cyclical(0.1, 2, u64::from(steps), 0.25).expect("valid"),
            temperature_schedule: Some(TemperatureSchedule::anneal(4.0, 1.0, 50).expect("valid")),
            method: Method::sghmc_with(0.3, 0.1).expect("valid"),
            ..Settings::default()
        }
    }

    #[test]
    fn plan_covers_every_step_once_and_keeps_the_right_draws() {
        for (steps, burn_in, thin, max, slots) in [
            (3000, 1000, 10, 64, 7),
            (10, 0, 1, 4, 100),
            (17, 3, 5, 1, 1),
            (100, 99, 1, 1000, 2),
        ] {
            let s = settings(steps, burn_in, thin);
            let batches: Vec<Batch> = plan(&s, 0, max, slots).collect();
            let mut next = 0;
            let mut kept: Vec<u32> = Vec::new();
            for batch in &batches {
                assert!(batch.draw_steps.len() <= slots);
                for record in &batch.records {
                    assert_eq!(record.first_step, next);
                    assert!(record.step_count >= 1 && record.step_count <= max);
                    let last = record.first_step + record.step_count - 1;
                    if record.draw_slot != NO_DRAW {
                        assert_eq!(batch.draw_steps[record.draw_slot as usize], last);
                    }
                    // The table's values, from the schedules' equations: η_t of Zhang et al.'s
                    // cosine (L = ⌈steps/2⌉), T_t = 4·(1/4)^(t/50) then 1, zero noise on the
                    // first quarter of each cycle, and noise √(2(α − β̂)η_tT_t).
                    let length = steps.div_ceil(2);
                    for j in 0..record.step_count {
                        let t = record.first_step + j;
                        let position = f64::from(t % length) / f64::from(length);
                        let eta = 0.05 * ((std::f64::consts::PI * position).cos() + 1.0);
                        let hot = if t < 50 {
                            4.0 * 0.25f64.powf(f64::from(t) / 50.0)
                        } else {
                            1.0
                        };
                        let temperature = if position < 0.25 { 0.0 } else { hot };
                        let got = batch.schedule[(record.table_offset + j) as usize];
                        let noise = (2.0 * 0.2 * eta * temperature).sqrt();
                        assert!((f64::from(got.eta) - eta).abs() <= 1e-6 * eta, "η at {t}");
                        assert!(
                            (f64::from(got.noise_scale) - noise).abs() <= 1e-6 * noise.max(1e-30),
                            "noise at {t}"
                        );
                        assert!(
                            (f64::from(got.temperature) - temperature).abs() <= 1e-6 * temperature,
                            "T at {t}"
                        );
                    }
                    next += record.step_count;
                }
                assert_eq!(
                    batch.schedule.len() as u32,
                    batch.records.iter().map(|r| r.step_count).sum::<u32>()
                );
                kept.extend(&batch.draw_steps);
            }
            assert_eq!(next, steps);
            let want: Vec<u32> = (0..steps).filter(|&t| s.keeps(t)).collect();
            assert_eq!(kept, want);
            assert_eq!(kept.len() as u32, s.kept_draws());
        }
    }
}
