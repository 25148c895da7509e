//! The run loop: submits batches of steps, streams the kept draws through a ring of staging
//! buffers into a [`Sink`] while the GPU keeps going, writes checkpoints at a cadence and
//! resumes from them.
//!
//! Readback overlaps sampling: each submit copies its draw slots into the next staging buffer
//! of a ring of [`READBACK_RING`], and the host maps a buffer only when the ring is full, so the
//! GPU waits for the host only when the host falls behind by a whole ring. A checkpoint drains
//! the ring first, so that the state it records and the draws the sink holds agree.
//!
//! Submits are sized by measured time: each holds as many steps as the last ones ran in
//! [`SUBMIT_SECONDS`], so that checkpoints keep their cadence, progress moves and a stop
//! request is answered within about a second, whatever one step costs on this device.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod queue;

use crate::checkpoint::{Checkpoint, STATE_ARRAYS};
use crate::draws::Draws;
use crate::engine::choice::steps_per_dispatch;
use crate::engine::groups::{chain_groups, check_device_memory};
use crate::engine::job::Job;
use crate::engine::plan::Planner;
use crate::engine::state::{ChainState, READBACK_RING};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::identity::RunIdentity;
use crate::output::OutputLock;
use crate::predictive::Predictive;
use crate::sink::{DrawLayout, MemorySink, Received, Sink};

/// The time one submit aims to take: short enough that a checkpoint, a progress update or a
/// stop request waits at most a few of them, long enough that recording a submit costs
/// nothing next to running it.
pub(crate) const SUBMIT_SECONDS: f64 = 0.25;
use crate::statistics::ChainStatistics;
use queue::{InFlight, Pace, Queued};

/// Where a run stands, as reported to [`Run::on_progress`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Steps completed (submitted to the GPU) of `steps`.
    pub step: u32,
    /// The run's total steps.
    pub steps: u32,
    /// Kept draws handed to the sink, of `draws`.
    pub delivered: usize,
    /// The run's total kept draws per chain.
    pub draws: usize,
    /// Time since this process started the run (a resumed run counts from its resume).
    pub elapsed: Duration,
    /// The step this process started from (0, or a checkpoint's step).
    pub start_step: u32,
}

/// What a finished run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// Steps this process ran (all of them, less those before a resume).
    pub steps_run: u32,
    /// Kept draws per chain handed to the sink by this process.
    pub draws_delivered: usize,
    /// Checkpoints written.
    pub checkpoints: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Submits to the GPU (each a batch of steps sized to take about a quarter second).
    pub submits: usize,
    /// The step at which a stop request ([`Run::stop_when`]) ended the run early; `None` for
    /// a run that went to its last step. The sink then holds the draws up to it, unfinished.
    pub stopped_at: Option<u32>,
    /// Running means and variances and divergences of every chain, kept on the GPU.
    pub statistics: ChainStatistics,
    /// Kernel dispatches of the step kernel per chain group (each advances its chains by up
    /// to [`crate::Tuning::max_steps_per_dispatch`] steps).
    pub dispatches: usize,
    /// How the chains were laid out: one entry per chain group, in chain order.
    pub groups: Vec<GroupReport>,
    /// A network's posterior predictive on its test set, accumulated on the device over every
    /// kept draw of every chain at T = 1; `None` without a test set.
    pub predictive: Option<crate::predictive::Predictive>,
}

/// One group of chains held in one set of GPU buffers, as [`RunReport::groups`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReport {
    /// The device it ran on: 0 for the run's own, `i` for the `i`-th of
    /// [`Run::split_across`].
    pub device: usize,
    /// Its run-wide chain ids.
    pub chains: std::ops::Range<u32>,
    /// The data kernel's path (`global`, `staged`, `fused`, `tiled`, `register`, or
    /// `register-gram` where full-batch linear regression runs on its sufficient statistics);
    /// `None` for targets without data.
    pub data_path: Option<&'static str>,
    /// Threads per workgroup of its step kernel.
    pub workgroup_size: u32,
}

/// What [`Run::on_progress`] calls.
type ProgressCallback<'a> = Box<dyn FnMut(&Progress) + 'a>;

/// A configured run of a [`crate::Sampler`]: where its draws go, whether it checkpoints,
/// whether it resumes, whether it keeps statistics only. Made by [`crate::Sampler::runner`].
///
/// ```no_run
/// # fn main() -> langevin::Result<()> {
/// use langevin::{sink::NpyStream, Gaussian, Gpu, Sampler};
/// let gpu = Gpu::from_env()?;
/// let sampler = Sampler::builder(Gaussian::isotropic(4, 0.0, 1.0)?).chains(100_000).build()?;
/// let mut out = NpyStream::new("draws.npy");
/// sampler
///     .runner(&gpu)
///     .checkpoint_every("run.ckpt", std::time::Duration::from_secs(60))
///     .into_sink(&mut out)?;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct Run<'a> {
    job: Job,
    gpu: &'a Gpu,
    /// Further devices that share the chains with `gpu`.
    others: Vec<&'a Gpu>,
    checkpoint: Option<(PathBuf, Duration)>,
    resume: Option<Checkpoint>,
    progress: Option<ProgressCallback<'a>>,
    readback: bool,
    stop: Option<Arc<AtomicBool>>,
}

impl<'a> Run<'a> {
    pub(crate) fn new(job: Job, gpu: &'a Gpu) -> Run<'a> {
        Run {
            job,
            gpu,
            others: Vec::new(),
            checkpoint: None,
            resume: None,
            progress: None,
            readback: true,
            stop: None,
        }
    }

    /// Ends the run early, soon after `flag` turns true (within about a second: between
    /// submits): the draws delivered so far stay in the sink, which is flushed but not
    /// finished; a checkpointing run writes a checkpoint at that step first, so it can be
    /// resumed. [`RunReport::stopped_at`] says where it stopped.
    pub fn stop_when(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// Writes a checkpoint to `dir` whenever `every` has passed since the last one (and never
    /// more than once per submit); `Duration::ZERO` checkpoints after every submit. A fresh
    /// run refuses a `dir` that holds a checkpoint already (resume it, or remove it), and the
    /// run holds a lock on it, so two runs never write the same checkpoint.
    pub fn checkpoint_every(mut self, dir: impl Into<PathBuf>, every: Duration) -> Self {
        self.checkpoint = Some((dir.into(), every));
        self
    }

    /// Continues the run `checkpoint` was taken from; it is refused if another version of
    /// langevin or another model or settings wrote it.
    pub fn resume(mut self, checkpoint: Checkpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }

    /// Splits the chains between this run's device and `others` (contiguous parts of about
    /// equal size, in device order); every chain draws exactly what it draws on one device.
    pub fn split_across(mut self, others: &[&'a Gpu]) -> Self {
        self.others = others.to_vec();
        self
    }

    /// Calls `report` after every submit.
    pub fn on_progress(mut self, report: impl FnMut(&Progress) + 'a) -> Self {
        self.progress = Some(Box::new(report));
        self
    }

    /// Skips the readback of draws (the sink receives none): what [`Run::statistics`] runs,
    /// and the benchmarks time.
    pub(crate) fn without_readback(mut self) -> Self {
        self.readback = false;
        self
    }

    /// Runs to the end keeping no draw: nothing is read back, and the report's running
    /// statistics (pooled means and sds, R-hat from each chain's moments, nested R-hat,
    /// divergences; [`ChainStatistics`]) are the run's summary. For runs whose draws would
    /// not fit the host, or are not needed.
    pub fn statistics(self) -> Result<RunReport> {
        let mut sink = NoDraws;
        self.without_readback().into_sink(&mut sink)
    }

    /// Runs to the end with the draws kept in memory.
    pub fn draws(self) -> Result<Draws> {
        self.draws_and_report().map(|(draws, _)| draws)
    }

    /// Runs to the end with the draws kept in memory; also returns the run's report (its
    /// running statistics and divergences).
    pub fn draws_and_report(self) -> Result<(Draws, RunReport)> {
        let temperatures = self.job.chain_temperatures();
        let mut sink = MemorySink::new();
        let report = self.into_sink(&mut sink)?;
        Ok((sink.into_draws(temperatures), report))
    }

    /// Runs to the end, handing the draws to `sink` as they come.
    pub fn into_sink(self, sink: &mut dyn Sink) -> Result<RunReport> {
        self.execute(sink)
    }

    fn execute(mut self, sink: &mut dyn Sink) -> Result<RunReport> {
        let gpu = self.gpu;
        let job = self.job.clone();
        let devices: Vec<&Gpu> = std::iter::once(gpu)
            .chain(self.others.iter().copied())
            .collect();
        let resume = self.resume.take();
        if let crate::model::Target::Network(network) = &*job.target {
            if network.test_set().is_some() && (resume.is_some() || self.checkpoint.is_some()) {
                return Err(Error::invalid(
                    "checkpoint",
                    "a network's test-set predictive is summed on the device and not saved in \
                     checkpoints yet; run it without checkpoints, or checkpoint without a test \
                     set",
                ));
            }
        }
        // Who this run is, for its checkpoints: computed once (it describes the whole target).
        let identity = (resume.is_some() || self.checkpoint.is_some())
            .then(|| RunIdentity::of(&job.target, &job.settings));
        if let (Some(checkpoint), Some(identity)) = (&resume, &identity) {
            checkpoint.check_matches(identity)?;
        }
        let settings = &job.settings;
        let (chains, dim) = (job.chains() as usize, job.target.dim());
        // The chains are cut into one contiguous part per device, and each part into groups
        // that fit its bindings.
        let mut groups: Vec<(usize, &Gpu, Job)> = Vec::new();
        let window = job.window.clone();
        let count = devices.len() as u64;
        for (i, device) in devices.iter().enumerate() {
            let cut =
                |k: u64| window.start + (k * u64::from(window.end - window.start) / count) as u32;
            let part = job.with_window(cut(i as u64)..cut(i as u64 + 1));
            if part.chains() == 0 {
                continue;
            }
            check_device_memory(device, &part)?;
            for group in chain_groups(device, &part)? {
                groups.push((i, device, job.with_window(group)));
            }
        }
        let per_dispatch = groups
            .iter()
            .map(|(_, device, group)| steps_per_dispatch(device, group))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .min()
            .unwrap_or(1);
        settings.warn_if_unstable(&job.target);
        // The sink first: it refuses what it cannot hold before the GPU allocates anything.
        let layout = DrawLayout {
            draws: settings.kept_draws() as usize,
            chains,
            dim,
        };
        let checkpoint_lock = match &self.checkpoint {
            Some((dir, _)) => Some(lock_checkpoint_dir(dir, resume.is_some())?),
            None => None,
        };
        let received = match &resume {
            Some(checkpoint) => Received {
                resuming: true,
                draws: checkpoint.delivered(),
                checksum: checkpoint.draws_checksum(),
            },
            None => Received::default(),
        };
        sink.begin(&layout, received)?;
        let states = groups
            .iter()
            .map(|(index, device, group)| {
                Ok(Member {
                    gpu: device,
                    device: *index,
                    chains: group.window.clone(),
                    state: ChainState::new(device, group)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let device_bytes: u64 = states.iter().map(|m| m.state.device_bytes()).sum();
        for device in &devices {
            device.take_errors().map_err(|e| {
                Error::Gpu(format!(
                    "{e}; the run needs about {} MiB of GPU memory for its chains ({} groups); \
                     run fewer chains per process (--shard) or keep fewer draws between \
                     readbacks",
                    device_bytes >> 20,
                    states.len()
                ))
            })?;
        }
        log::info!(
            "{} chains in {} group(s), {} MiB of GPU memory for chains and draws",
            chains,
            states.len(),
            device_bytes >> 20
        );
        let (start, mut delivered) = match &resume {
            Some(checkpoint) => {
                restore(&states, checkpoint)?;
                (checkpoint.next_step(), checkpoint.delivered())
            }
            None => (0, 0),
        };
        let slots = states.iter().map(|m| m.state.slots).min().unwrap_or(1);

        let started = Instant::now();
        let mut last_checkpoint = started;
        let mut checkpoints = 0;
        let mut submits = 0;
        let mut dispatches = 0;
        let mut stopped_at = None;
        // Every submit not yet known to be done, oldest first; those with draws carry them.
        let mut queued: VecDeque<Queued> = VecDeque::with_capacity(READBACK_RING);
        let mut next_ring = 0;
        let mut step = start;
        let first_delivered = delivered;
        let mut planner = Planner::new(settings, start, per_dispatch, slots);
        let mut pace = Pace::new(per_dispatch);
        loop {
            if queued.len() == READBACK_RING {
                if let Some(oldest) = queued.pop_front() {
                    delivered += oldest.complete(&states, delivered, sink, &mut pace)?;
                }
            }
            let Some(batch) = planner.next_batch(pace.steps_per_submit()) else {
                break;
            };
            let readback = (self.readback && !batch.draw_steps.is_empty()).then_some(next_ring);
            let submissions = states
                .iter()
                .map(|m| m.state.submit(m.gpu, &batch, readback))
                .collect::<Result<Vec<_>>>()?;
            submits += 1;
            dispatches += batch.records.len();
            step += batch.schedule.len() as u32;
            queued.push_back(Queued {
                submissions,
                steps: batch.schedule.len() as u32,
                submitted: Instant::now(),
                draws: readback.map(|ring| InFlight {
                    ring,
                    steps: batch.draw_steps.iter().map(|t| t + 1).collect(),
                }),
            });
            if readback.is_some() {
                next_ring = (next_ring + 1) % READBACK_RING;
            }
            let stop = self
                .stop
                .as_ref()
                .is_some_and(|f| f.load(Ordering::Relaxed))
                && step < settings.steps;
            let due = last_checkpoint.elapsed()
                >= self.checkpoint.as_ref().map_or(Duration::MAX, |c| c.1);
            if let (Some((dir, _)), Some(identity)) = (&self.checkpoint, &identity) {
                if (due || stop) && step < settings.steps {
                    while let Some(pending) = queued.pop_front() {
                        delivered += pending.complete(&states, delivered, sink, &mut pace)?;
                    }
                    sink.flush()?;
                    let mut saved: [Vec<f32>; STATE_ARRAYS] = Default::default();
                    for member in &states {
                        let group = member.state.read_state(member.gpu)?;
                        for (all, part) in saved.iter_mut().zip(group) {
                            all.extend(part);
                        }
                    }
                    Checkpoint::new(identity, step, (delivered, sink.checksum()), saved)
                        .write(dir)?;
                    checkpoints += 1;
                    last_checkpoint = Instant::now();
                }
            }
            if let Some(report) = self.progress.as_mut() {
                report(&Progress {
                    step,
                    steps: settings.steps,
                    delivered: delivered
                        + queued
                            .iter()
                            .filter_map(|q| q.draws.as_ref())
                            .map(|d| d.steps.len())
                            .sum::<usize>(),
                    draws: layout.draws,
                    elapsed: started.elapsed(),
                    start_step: start,
                });
            }
            if stop {
                stopped_at = Some(step);
                break;
            }
        }
        while let Some(pending) = queued.pop_front() {
            delivered += pending.complete(&states, delivered, sink, &mut pace)?;
        }
        for device in &devices {
            device.wait()?;
        }
        match stopped_at {
            Some(_) => sink.flush()?,
            None => sink.finish()?,
        }
        drop(checkpoint_lock);
        let statistics = gather_statistics(&job, &states)?;
        let predictive = gather_predictive(&job, &states)?;
        let report = RunReport {
            predictive,
            statistics,
            steps_run: step - start,
            draws_delivered: delivered - first_delivered,
            checkpoints,
            seconds: started.elapsed().as_secs_f64(),
            submits,
            stopped_at,
            dispatches,
            groups: states
                .iter()
                .map(|m| GroupReport {
                    device: m.device,
                    chains: m.chains.clone(),
                    data_path: m.state.data_path,
                    workgroup_size: m.state.workgroup_size(),
                })
                .collect(),
        };
        Ok(report)
    }
}

/// The sink of a statistics-only run: it receives no draw and keeps none.
struct NoDraws;

impl Sink for NoDraws {
    fn begin(&mut self, _: &DrawLayout, _: Received) -> Result<()> {
        Ok(())
    }

    fn write(&mut self, _: crate::sink::DrawBlock<'_>) -> Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A group of chains and the device it runs on.
pub(crate) struct Member<'a> {
    pub(crate) gpu: &'a Gpu,
    /// The device's place among the run's devices.
    device: usize,
    chains: std::ops::Range<u32>,
    pub(crate) state: ChainState,
}

/// A network's predictive sums from every group, added (f64), as a [`Predictive`].
fn gather_predictive(job: &Job, states: &[Member]) -> Result<Option<Predictive>> {
    let crate::model::Target::Network(network) = &*job.target else {
        return Ok(None);
    };
    let Some(test) = network.test_set() else {
        return Ok(None);
    };
    let mut total: Vec<f64> = Vec::new();
    for member in states {
        if let Some(sums) = member.state.read_predictive(member.gpu)? {
            total.resize(sums.len(), 0.0);
            for (t, s) in total.iter_mut().zip(sums) {
                *t += f64::from(s);
            }
        }
    }
    Predictive::from_sums(&total, test, network).map(Some)
}

/// The running statistics of every group, joined in chain order.
fn gather_statistics(job: &Job, states: &[Member]) -> Result<ChainStatistics> {
    let dim = job.target.dim();
    let temperatures = job.chain_temperatures();
    let mut all = ChainStatistics::from_gpu(dim, &[], &[], Vec::new());
    for member in states {
        let (moments, status) = member.state.read_statistics(member.gpu)?;
        let first = all.chains;
        let group_temperatures = temperatures
            .get(first..first + status.len())
            .map(<[f32]>::to_vec)
            .unwrap_or_default();
        all.append(ChainStatistics::from_gpu(
            dim,
            &moments,
            &status,
            group_temperatures,
        ));
    }
    Ok(all)
}

/// Writes a checkpoint's state back, group by group (each group's part of every array
/// follows the previous group's, as the checkpoint was written).
fn restore(states: &[Member], checkpoint: &Checkpoint) -> Result<()> {
    let mut rest: Vec<&[f32]> = checkpoint.state.iter().map(Vec::as_slice).collect();
    for member in states {
        let lengths = member.state.state_lengths();
        if rest.iter().zip(lengths).any(|(r, n)| r.len() < n) {
            return Err(Error::Checkpoint {
                path: crate::checkpoint::CHECKPOINT_FILE.into(),
                message: "holds less state than this run's chains need; was it written with \
                          another max_chains_per_group?"
                    .into(),
            });
        }
        let parts: Vec<&[f32]> = rest.iter().zip(lengths).map(|(r, n)| &r[..n]).collect();
        member.state.write_state(member.gpu, &parts)?;
        for (r, n) in rest.iter_mut().zip(lengths) {
            *r = &r[n..];
        }
    }
    Ok(())
}

/// Refuses a fresh run whose checkpoint folder holds a checkpoint already (an interrupted
/// run's, which it would overwrite), then locks the folder's checkpoint for this run.
fn lock_checkpoint_dir(dir: &std::path::Path, resuming: bool) -> Result<OutputLock> {
    let file = dir.join(crate::checkpoint::CHECKPOINT_FILE);
    if dir.exists() && !dir.is_dir() {
        return Err(Error::invalid_output(
            "checkpoint folder",
            dir,
            "is a file, not a folder; give a folder for the checkpoints",
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let lock = OutputLock::acquire(&file)?;
    if !resuming && file.exists() {
        return Err(Error::invalid_output(
            "checkpoint folder",
            dir,
            "holds the checkpoint of an earlier run, which this run would overwrite; continue \
             that run with `--resume` (Run::resume), or remove the file to start over",
        ));
    }
    Ok(lock)
}
