//! The submits in flight: how many steps the next one gets ([`Pace`], sized by measured
//! time), and waiting for one to finish and handing its draws to the sink.

use std::time::Instant;

use crate::error::Result;
use crate::run::{Member, SUBMIT_SECONDS};
use crate::sink::{DrawBlock, Sink};

/// Learns how many steps fill [`SUBMIT_SECONDS`] on this device from the submits that
/// finished, starting from one dispatch's worth and growing at most fourfold per submit.
pub(super) struct Pace {
    steps: f64,
    /// When the last submit known to be done finished.
    last_done: Option<Instant>,
}

impl Pace {
    pub(super) fn new(first: u32) -> Pace {
        Pace {
            steps: f64::from(first.max(1)),
            last_done: None,
        }
    }

    pub(super) fn steps_per_submit(&self) -> u32 {
        self.steps.clamp(1.0, f64::from(u32::MAX)) as u32
    }

    /// A submit of `steps` steps, queued at `submitted`, was found done now. It ran from the
    /// later of its submission and the previous submit's end (the GPU runs one at a time).
    fn done(&mut self, steps: u32, submitted: Instant) {
        let now = Instant::now();
        let began = match self.last_done {
            Some(previous) if previous > submitted => previous,
            _ => submitted,
        };
        self.last_done = Some(now);
        let seconds = now.duration_since(began).as_secs_f64().max(1e-6);
        let fit = f64::from(steps) * SUBMIT_SECONDS / seconds;
        self.steps = fit.min(4.0 * self.steps).max(1.0);
    }
}

/// A submit not yet known to be done.
pub(super) struct Queued {
    /// Each group's submit, on its device.
    pub(super) submissions: Vec<wgpu::SubmissionIndex>,
    pub(super) steps: u32,
    pub(super) submitted: Instant,
    /// Its kept draws, on their way to a staging buffer of the ring.
    pub(super) draws: Option<InFlight>,
}

impl Queued {
    /// Waits for the submit; hands its draws (if any) to the sink; returns how many it had.
    pub(super) fn complete(
        self,
        states: &[Member],
        first_draw: usize,
        sink: &mut dyn Sink,
        pace: &mut Pace,
    ) -> Result<usize> {
        let delivered = match self.draws {
            Some(draws) => deliver(states, draws, &self.submissions, first_draw, sink)?,
            None => {
                for (member, submission) in states.iter().zip(&self.submissions) {
                    member.gpu.wait_for(submission.clone())?;
                }
                0
            }
        };
        pace.done(self.steps, self.submitted);
        Ok(delivered)
    }
}

/// Kept draws on their way to staging buffer `ring`.
pub(super) struct InFlight {
    pub(super) ring: usize,
    /// Updates before each of its draws.
    pub(super) steps: Vec<u32>,
}

/// Waits for a submit's draws, joins the groups' and hands them to the sink; returns how many
/// draws that was.
fn deliver(
    states: &[Member],
    pending: InFlight,
    submissions: &[wgpu::SubmissionIndex],
    first_draw: usize,
    sink: &mut dyn Sink,
) -> Result<usize> {
    let count = pending.steps.len();
    // Each group's slots are `[draw][chain][dim]` already; a draw of the run is the groups'
    // rows of that draw, one after another.
    let mut groups = Vec::with_capacity(states.len());
    for (member, submission) in states.iter().zip(submissions) {
        groups.push(member.state.read_slots(
            member.gpu,
            pending.ring,
            count,
            submission.clone(),
        )?);
    }
    let values = if groups.len() == 1 {
        groups.pop().unwrap_or_default()
    } else {
        let mut values = Vec::with_capacity(groups.iter().map(Vec::len).sum());
        for draw in 0..count {
            for group in &groups {
                let row = group.len() / count;
                values.extend_from_slice(&group[draw * row..(draw + 1) * row]);
            }
        }
        values
    };
    sink.write(DrawBlock {
        first_draw,
        steps: &pending.steps,
        values: &values,
    })?;
    Ok(count)
}
