//! Checkpoint and resume: a run killed with SIGKILL and resumed gives the uninterrupted run's
//! draws bit for bit, its partial NPY file is readable at the moment of the kill, and
//! checkpoints that do not belong to the run are refused without touching anything.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use langevin::sink::NpyStream;
use langevin::{Checkpoint, Gaussian, Sampler, StepSize};

use common::scratch;

fn npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).expect("read npy");
    let file = npyz::NpyFile::new(&bytes[..]).expect("a valid NPY file");
    (file.shape().to_vec(), file.into_vec().expect("f32"))
}

/// SGHMC (momentum is state the checkpoint must carry) with gradient noise (its own counter
/// stream) on a Gaussian; 20 000 steps in submits of 4 draws, which takes ~10 s on lavapipe.
const RUN: &[&str] = &[
    "sample",
    "--model",
    "gaussian",
    "--dim",
    "8",
    "--chains",
    "256",
    "--steps",
    "20000",
    "--burn-in",
    "0",
    "--thin",
    "10",
    "--sampler",
    "sghmc",
    "--friction",
    "0.1",
    "--gradient-noise",
    "0.5",
    "--step-size",
    "0.01",
    "--quiet",
    "--draws-buffer-mib",
    "0.1",
];

fn langevin(extra: &[&str]) -> Command {
    let mut command = common::command();
    command
        .args(RUN)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    command
}

#[test]
fn a_run_killed_with_sigkill_resumes_bit_identically() {
    let dir = scratch("kill-and-resume");
    let (full, killed, checkpoints) =
        (dir.join("full.npy"), dir.join("killed.npy"), dir.join("ck"));
    let whole = langevin(&["--out", full.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(
        whole.status.success(),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );

    let mut child = langevin(&[
        "--out",
        killed.to_str().expect("utf-8"),
        "--checkpoint",
        checkpoints.to_str().expect("utf-8"),
        "--checkpoint-every",
        "0",
    ])
    .spawn()
    .expect("starts");
    // Kill once a checkpoint with some draws exists, well before the end.
    let deadline = Instant::now() + Duration::from_secs(300);
    let at_kill = loop {
        if let Ok(checkpoint) = Checkpoint::load(&checkpoints) {
            if checkpoint.delivered() >= 100 {
                break checkpoint;
            }
        }
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        assert!(
            child.try_wait().expect("poll").is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert!(
        !killed.exists(),
        "an interrupted run must not leave a complete-looking file"
    );
    assert!(at_kill.delivered() < 2000, "killed after the end");

    // The partial file is valid NPY at the moment of the kill and holds a prefix of the run.
    let (full_shape, full_values) = npy(&full);
    let partial = PathBuf::from(format!("{}.partial", killed.display()));
    let (shape, values) = npy(&partial);
    assert_eq!(shape[1..], full_shape[1..]);
    assert!(shape[0] as usize >= at_kill.delivered(), "{shape:?}");
    assert_eq!(values[..], full_values[..values.len()]);

    let resumed = langevin(&[
        "--out",
        killed.to_str().expect("utf-8"),
        "--resume",
        checkpoints.to_str().expect("utf-8"),
    ])
    .output()
    .expect("runs");
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let (shape, values) = npy(&killed);
    assert_eq!(shape, full_shape);
    assert!(
        values
            .iter()
            .zip(&full_values)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "resumed draws differ from the uninterrupted run's"
    );
    assert!(!partial.exists());
}

fn gaussian_sampler(seed: u64) -> Sampler {
    Sampler::builder(Gaussian::isotropic(3, 0.5, 1.0).expect("valid"))
        .chains(64)
        .steps(400)
        .burn_in(100)
        .thin(5)
        .step_size(StepSize::constant(0.05).expect("valid"))
        .seed(seed)
        .tuning(langevin::Tuning {
            draws_buffer_bytes: 64 * 3 * 4 * 3 * 4,
            ..langevin::Tuning::default()
        })
        .build()
        .expect("valid")
}

#[test]
fn checkpoints_of_other_runs_and_damaged_checkpoints_are_refused_and_nothing_is_overwritten() {
    let gpu = common::gpu();
    let dir = scratch("refusals");
    let checkpoints = dir.join("ck");
    let out = dir.join("draws.npy");
    let sampler = gaussian_sampler(1);
    let mut sink = NpyStream::new(&out);
    sampler
        .runner(gpu)
        .checkpoint_every(&checkpoints, Duration::ZERO)
        .into_sink(&mut sink)
        .expect("run");
    let checkpoint = Checkpoint::load(&checkpoints).expect("a checkpoint");
    let finished = std::fs::read(&out).expect("draws");

    // The run finished: its draws file is complete and nothing is left to resume.
    let finished_run = sampler
        .runner(gpu)
        .resume(checkpoint.clone())
        .into_sink(&mut NpyStream::new(&out))
        .expect_err("finished");
    assert!(
        finished_run.to_string().contains("nothing to resume"),
        "{finished_run}"
    );

    // Another seed is another run.
    let other = gaussian_sampler(2);
    let mut sink = NpyStream::new(&out);
    let refused = other
        .runner(gpu)
        .resume(checkpoint.clone())
        .into_sink(&mut sink)
        .expect_err("another run");
    assert!(refused.to_string().contains("another run"), "{refused}");

    // Another version of langevin: rewrite the metadata's version, keep the payload.
    let file = checkpoints.join(langevin::checkpoint::CHECKPOINT_FILE);
    let bytes = std::fs::read(&file).expect("read");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let version = format!("\"version\":\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(text.contains(&version));
    let edited = bytes
        .windows(version.len())
        .position(|w| w == version.as_bytes())
        .expect("version field");
    let mut older = bytes.clone();
    older[edited + 11] = b'9';
    std::fs::write(&file, &older).expect("write");
    let refused = Checkpoint::load(&checkpoints)
        .and_then(|c| {
            sampler
                .runner(gpu)
                .resume(c)
                .into_sink(&mut NpyStream::new(&out))
        })
        .expect_err("another version");
    assert!(refused.to_string().contains("version"), "{refused}");

    // Truncated and corrupted files.
    std::fs::write(&file, &bytes[..bytes.len() / 2]).expect("write");
    let truncated = Checkpoint::load(&checkpoints).expect_err("truncated");
    assert!(truncated.to_string().contains("truncated"), "{truncated}");
    let mut flipped = bytes.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x40;
    std::fs::write(&file, &flipped).expect("write");
    let corrupted = Checkpoint::load(&checkpoints).expect_err("corrupted");
    assert!(corrupted.to_string().contains("checksum"), "{corrupted}");

    assert_eq!(
        std::fs::read(&out).expect("draws"),
        finished,
        "the draws were touched"
    );
}

#[test]
fn a_resumed_library_run_equals_the_uninterrupted_one_for_a_data_model() {
    use langevin::minibatch::Minibatch;
    let model = langevin::model::Regression::logistic(common::a9a(), 1.0).expect("valid");
    let dim = model.dim() as u64;
    let sampler = Sampler::builder(model)
        .chains(32)
        .steps(300)
        .burn_in(0)
        .thin(3)
        .step_size(StepSize::constant(1e-3).expect("valid"))
        .method(langevin::sampler::Method::psgld())
        .minibatch(
            Minibatch::per_chain(8)
                .expect("valid")
                .without_replacement(),
        )
        .tuning(langevin::Tuning {
            draws_buffer_bytes: 32 * dim * 4 * 3 * 5,
            ..langevin::Tuning::default()
        })
        .build()
        .expect("valid");
    assert_resumes_exactly(&sampler, "library-resume");
}

/// Chain groups, each with its own buffers, checkpoint and resume like one: SGNHT (thermostats
/// after the per-coordinate state) in groups of 7 chains.
#[test]
fn a_run_in_chain_groups_resumes_bit_identically() {
    let sampler = Sampler::builder(Gaussian::isotropic(3, 0.5, 1.0).expect("valid"))
        .chains(30)
        .steps(300)
        .burn_in(0)
        .thin(5)
        .step_size(StepSize::constant(0.05).expect("valid"))
        .method(langevin::sampler::Method::sgnht(1.0).expect("valid"))
        .tuning(langevin::Tuning {
            max_chains_per_group: Some(7),
            draws_buffer_bytes: 7 * 3 * 4 * 3 * 4,
            ..langevin::Tuning::default()
        })
        .build()
        .expect("valid");
    assert_resumes_exactly(&sampler, "groups-resume");
}

/// Runs `sampler` whole, then again writing a checkpoint after every submit until a stop
/// request halfway (what Ctrl-C does), which leaves a genuine partial draws file and a
/// checkpoint; then resumes into that file. The resumed draws and running statistics must
/// equal the whole run's bit for bit.
fn assert_resumes_exactly(sampler: &Sampler, name: &str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let gpu = common::gpu();
    let dir = scratch(name);
    let steps = sampler.settings().steps;
    let (whole, whole_report) = sampler.runner(gpu).draws_and_report().expect("run");
    let (out, checkpoints) = (dir.join("draws.npy"), dir.join("ck"));
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&stop);
    let interrupted = sampler
        .runner(gpu)
        .checkpoint_every(&checkpoints, Duration::ZERO)
        .stop_when(std::sync::Arc::clone(&stop))
        .on_progress(move |p| flag.store(p.step >= steps / 2, Ordering::Relaxed))
        .into_sink(&mut NpyStream::new(&out))
        .expect("run");
    let stopped = interrupted.stopped_at.expect("stopped halfway");
    assert!(stopped < steps, "{interrupted:?}");
    assert!(!out.exists(), "an interrupted run leaves no complete file");
    let checkpoint = Checkpoint::load(&checkpoints).expect("checkpoint");
    assert_eq!(checkpoint.next_step(), stopped);
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let (shape, _) = npy(&partial);
    assert_eq!(shape[0] as usize, checkpoint.delivered());
    assert!(checkpoint.delivered() > 0 && checkpoint.delivered() < whole.shape().0);
    let report = sampler
        .runner(gpu)
        .resume(checkpoint.clone())
        .into_sink(&mut NpyStream::new(&out))
        .expect("resume");
    assert_eq!(report.steps_run, steps - checkpoint.next_step());
    let (_, values) = npy(&out);
    assert_eq!(values.len(), whole.values().len());
    assert!(values
        .iter()
        .zip(whole.values())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(report.statistics, whole_report.statistics);
}
