//! Nothing lost, nothing overwritten: the faults and bad inputs a hostile user can produce are
//! refused before any work, or leave every input and earlier good output as it was, and never
//! exit 0 after a failure. One test per class of issue 10; each failed before its fix.

mod common;

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{command, langevin, scratch};

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A Gaussian run that takes a fraction of a second.
const QUICK: &[&str] = &[
    "sample",
    "--chains",
    "64",
    "--steps",
    "200",
    "--burn-in",
    "100",
    "--quiet",
];

fn quick(extra: &[&str]) -> Output {
    let mut args = QUICK.to_vec();
    args.extend_from_slice(extra);
    langevin(&args)
}

fn assert_refused(output: &Output, expected: &str) {
    let message = stderr(output);
    assert!(
        !output.status.success(),
        "succeeded; expected `{expected}`: {message}"
    );
    assert!(
        message.contains(expected),
        "expected `{expected}` in: {message}"
    );
    assert!(!message.contains("panicked"), "{message}");
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_failed_summary_replaces_nothing_and_keeps_the_new_draws() {
    let dir = scratch("nothing-lost-commit");
    let out = dir.join("o.npy");
    assert!(quick(&["--out", text(&out), "--seed", "1"])
        .status
        .success());
    let earlier = std::fs::read(&out).expect("draws");

    // A summary path that is a folder is refused before any work.
    let folder = dir.join("summaries");
    std::fs::create_dir(&folder).expect("mkdir");
    let refused = quick(&["--out", text(&out), "--json", text(&folder), "--seed", "2"]);
    assert_refused(&refused, "is a directory");
    assert_eq!(std::fs::read(&out).expect("draws"), earlier);
    assert_eq!(files_in(&dir), vec!["o.npy", "summaries"]);

    // A summary that fails while it is written (a full disk) replaces nothing; the new draws
    // are kept beside, and say so.
    let full = quick(&["--out", text(&out), "--json", "/dev/full", "--seed", "2"]);
    assert_refused(&full, "o.npy.partial");
    assert_eq!(std::fs::read(&out).expect("draws"), earlier);
    let partial = dir.join("o.npy.partial");
    let kept = std::fs::read(&partial).expect("the new draws are kept");
    assert_eq!(kept.len(), earlier.len());
    assert_ne!(kept, earlier, "seed 2's draws");

    // A fresh run does not overwrite them either.
    let again = quick(&["--out", text(&out), "--seed", "3"]);
    assert_refused(&again, "interrupted run");
    assert_eq!(std::fs::read(&partial).expect("kept"), kept);
}

/// A small LIBSVM data set for the logistic model.
fn svm(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

const SVM: &str = "1 1:1 2:0.5\n-1 2:1\n1 1:0.3\n-1 1:-0.2 2:0.1\n";

fn logistic(data: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "sample",
        "--model",
        "logistic",
        "--data",
        text(data),
        "--chains",
        "8",
        "--steps",
        "40",
        "--burn-in",
        "20",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    langevin(&args)
}

#[test]
fn outputs_onto_inputs_or_onto_each_other_are_refused_before_any_work() {
    let dir = scratch("nothing-lost-separate");
    let data = svm(&dir, "d.svm", SVM);
    let test = svm(&dir, "t.svm", SVM);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--out".into(), text(&data).into()], "--data"),
        (
            vec!["--out".into(), format!("{}/./d.svm", dir.display())],
            "--data",
        ),
        (
            vec![
                "--test".into(),
                text(&test).into(),
                "--json".into(),
                text(&test).into(),
            ],
            "--test",
        ),
        (
            vec![
                "--out".into(),
                text(&dir.join("x.npy")).into(),
                "--json".into(),
                format!("{}/./x.npy", dir.display()),
            ],
            "is also --json",
        ),
        (
            vec![
                "--checkpoint".into(),
                text(&data).into(),
                "--out".into(),
                text(&dir.join("y.npy")).into(),
            ],
            "is a file, not a folder",
        ),
    ];
    for (extra, expected) in cases {
        let refs: Vec<&str> = extra.iter().map(String::as_str).collect();
        assert_refused(&logistic(&data, &refs), expected);
        assert_eq!(
            std::fs::read_to_string(&data).expect("data"),
            SVM,
            "{extra:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&test).expect("test"),
            SVM,
            "{extra:?}"
        );
    }
    #[cfg(unix)]
    {
        let hard = dir.join("hard.npy");
        std::fs::hard_link(&data, &hard).expect("hard link");
        assert_refused(&logistic(&data, &["--out", text(&hard)]), "--data");
        assert_eq!(std::fs::read_to_string(&data).expect("data"), SVM);
    }

    // plot and merge: their output may not be one of their inputs.
    let draws = dir.join("g.npy");
    assert!(quick(&["--out", text(&draws)]).status.success());
    let before = std::fs::read(&draws).expect("draws");
    assert_refused(
        &langevin(&["plot", text(&draws), "--out", text(&draws)]),
        "destroy",
    );
    assert_eq!(std::fs::read(&draws).expect("draws"), before);
    let (s0, s1) = (dir.join("s0.npy"), dir.join("s1.npy"));
    assert!(quick(&["--out", text(&s0), "--shard", "0/2"])
        .status
        .success());
    assert!(quick(&["--out", text(&s1), "--shard", "1/2"])
        .status
        .success());
    let shard = std::fs::read(&s0).expect("shard");
    let merge = langevin(&["merge", "--out", text(&s0), text(&s0), text(&s1)]);
    assert_refused(&merge, "destroy");
    assert_eq!(std::fs::read(&s0).expect("shard"), shard);
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_are_streamed_or_refused_never_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch("nothing-lost-fifo");
    let fifo = dir.join("f");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let is_fifo = |p: &Path| std::fs::metadata(p).expect("meta").file_type().is_fifo();

    // Draws grow and resume: a FIFO cannot hold them, so it is refused and left alone.
    assert_refused(&quick(&["--out", text(&fifo)]), "not a regular file");
    assert!(is_fifo(&fifo));

    // A summary is a stream: written into the FIFO for the reader on the other end.
    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || {
        let mut json = String::new();
        std::fs::File::open(&reader_path)
            .expect("open the FIFO")
            .read_to_string(&mut json)
            .expect("read");
        json
    });
    let streamed = quick(&["--json", text(&fifo)]);
    assert!(streamed.status.success(), "{}", stderr(&streamed));
    let json: serde_json::Value =
        serde_json::from_str(&reader.join().expect("reader")).expect("JSON");
    assert_eq!(json["chains"], 64);
    assert!(is_fifo(&fifo));

    let null = quick(&["--json", "/dev/null"]);
    assert!(null.status.success(), "{}", stderr(&null));
    assert!(std::fs::metadata("/dev/null")
        .expect("meta")
        .file_type()
        .is_char_device());
}

#[test]
fn a_diagonal_target_stays_diagonal_and_impossible_sizes_are_clear_errors() {
    // 10⁵ dimensions: a dense precision would need 80 GB and aborted the process.
    let wide = langevin(&[
        "sample",
        "--dim",
        "100000",
        "--chains",
        "1",
        "--steps",
        "20",
        "--burn-in",
        "10",
        "--quiet",
    ]);
    assert!(wide.status.success(), "{}", stderr(&wide));
    for (dim, expected) in [("1e9", "1000000000 dimensions"), ("2e9", "more than")] {
        let output = langevin(&[
            "sample",
            "--dim",
            dim,
            "--chains",
            "1",
            "--steps",
            "20",
            "--burn-in",
            "10",
        ]);
        assert_refused(&output, expected);
        assert_eq!(output.status.code(), Some(1), "a typed error, not an abort");
        assert!(!stderr(&output).contains("memory allocation of"));
    }
    let chains = langevin(&["sample", "--chains", "1e10"]);
    assert_refused(&chains, "too large");
}

#[test]
fn a_closed_stdout_loses_no_file_and_raises_no_panic() {
    let dir = scratch("nothing-lost-pipe");
    let (out, json) = (dir.join("o.npy"), dir.join("j.json"));
    let mut args = QUICK.to_vec();
    args.extend_from_slice(&["--dim", "40", "--out", text(&out), "--json", text(&json)]);
    let mut child = command()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    // Read the first line, then close the pipe as `| head -1` does.
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a line");
    assert!(first.starts_with("adapter:"), "{first}");
    let output = child.wait_with_output().expect("ends");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"));
    assert!(out.exists() && json.exists());
}

/// A run of issue 10's shape, 60 000 steps of 1024 chains in 16 dimensions, a few seconds on a
/// software adapter; before submits were sized by time it was a single submit, so it never
/// wrote a checkpoint.
fn long_run(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "sample",
        "--dim",
        "16",
        "--chains",
        "1024",
        "--steps",
        "60000",
        "--burn-in",
        "0",
        "--thin",
        "1000",
        "--step-size",
        "0.01",
        "--seed",
        "11",
        "--quiet",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(text(out).to_owned());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The uninterrupted run's draws, computed once per test binary.
fn reference_draws() -> &'static [u8] {
    static DRAWS: OnceLock<Vec<u8>> = OnceLock::new();
    DRAWS.get_or_init(|| {
        let dir = scratch("nothing-lost-reference");
        let out = dir.join("whole.npy");
        let whole = command().args(long_run(&out, &[])).output().expect("runs");
        assert!(whole.status.success(), "{}", stderr(&whole));
        std::fs::read(&out).expect("draws")
    })
}

/// Starts the long run (with `extra` options) and a checkpoint folder, and waits for its
/// first checkpoint.
fn start_checkpointed(out: &Path, checkpoints: &Path, extra: &[&str]) -> Child {
    let mut extra = extra.to_vec();
    extra.extend_from_slice(&[
        "--checkpoint",
        text(checkpoints),
        "--checkpoint-every",
        "0.5",
    ]);
    let args = long_run(out, &extra);
    let mut child = command()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while langevin::Checkpoint::load(checkpoints).is_err() {
        assert!(
            child.try_wait().expect("poll").is_none(),
            "the run ended before its first checkpoint"
        );
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Sends a signal through the shell's `kill` builtin (no procps needed).
fn signal(child: &Child, name: &str) {
    let sent = std::process::Command::new("sh")
        .args(["-c", &format!("kill {name} {}", child.id())])
        .status()
        .expect("sh runs");
    assert!(sent.success());
}

#[test]
fn a_run_killed_seconds_in_resumes_bit_identically() {
    let reference = reference_draws();
    let dir = scratch("nothing-lost-kill");
    let (out, checkpoints) = (dir.join("k.npy"), dir.join("ck"));
    let mut child = start_checkpointed(&out, &checkpoints, &[]);
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let at = langevin::Checkpoint::load(&checkpoints).expect("a checkpoint survives");
    assert!(at.next_step() < 60_000, "killed before the end");
    let resumed = command()
        .args(long_run(&out, &["--resume", text(&checkpoints)]))
        .output()
        .expect("runs");
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(std::fs::read(&out).expect("draws"), reference);
}

#[test]
fn ctrl_c_and_sigterm_stop_the_run_and_print_the_command_that_resumes_it() {
    let reference = reference_draws();
    for (name, code) in [("-INT", 130), ("-TERM", 143)] {
        let dir = scratch(&format!("nothing-lost-signal{name}"));
        let (out, checkpoints) = (dir.join("s.npy"), dir.join("ck"));
        let child = start_checkpointed(&out, &checkpoints, &[]);
        signal(&child, name);
        let stopped = child.wait_with_output().expect("ends");
        let message = stderr(&stopped);
        assert_eq!(stopped.status.code(), Some(code), "{message}");
        assert!(message.contains("s.npy.partial"), "{message}");
        assert!(
            !out.exists(),
            "an interrupted run leaves no complete-looking file"
        );
        let resume = message
            .split("continue with:\n")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .unwrap_or_else(|| panic!("no resume command in: {message}"))
            .trim();
        assert!(resume.contains("--resume"), "{resume}");
        // The printed command, run by a shell as a user would paste it.
        let resumed = std::process::Command::new("sh")
            .args(["-c", resume])
            .env_remove("LANGEVIN_ADAPTER")
            .output()
            .expect("sh runs");
        assert!(resumed.status.success(), "{resume}: {}", stderr(&resumed));
        assert_eq!(std::fs::read(&out).expect("draws"), reference, "{name}");
        assert!(
            !checkpoints.join("checkpoint.bin").exists(),
            "a finished run's checkpoint is removed"
        );
    }
}

/// A run stopped before its first kept draw (during burn-in) leaves no `.partial` file to
/// refuse the next run, and its checkpoint still resumes it to the end.
#[test]
fn a_run_stopped_during_burn_in_leaves_no_partial_file_and_resumes() {
    let dir = scratch("nothing-lost-burn-in");
    let (out, checkpoints) = (dir.join("b.npy"), dir.join("ck"));
    // 199 000 burn-in steps of 200 000: about 13 s of work on 2 cores, so the stop (half a
    // second in, at the first checkpoint) lands well before the first kept draw even on a
    // machine many times faster.
    let burn_in = ["--steps", "200000", "--burn-in", "199000"];
    let child = start_checkpointed(&out, &checkpoints, &burn_in);
    signal(&child, "-INT");
    let stopped = child.wait_with_output().expect("ends");
    let message = stderr(&stopped);
    assert_eq!(stopped.status.code(), Some(130), "{message}");
    assert!(message.contains("before the first kept draw"), "{message}");
    let partial = dir.join("b.npy.partial");
    assert!(!partial.exists(), "an empty partial file stayed: {message}");
    assert!(!out.exists());
    let mut resume = burn_in.to_vec();
    resume.extend_from_slice(&["--resume", text(&checkpoints)]);
    let resumed = command()
        .args(long_run(&out, &resume))
        .output()
        .expect("runs");
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(out.exists() && !partial.exists());
}

#[test]
fn a_second_run_on_the_same_output_is_refused_naming_the_first() {
    let dir = scratch("nothing-lost-lock");
    let out = dir.join("o.npy");
    let mut first = command()
        .args(long_run(&out, &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let lock = dir.join("o.npy.lock");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lock.exists() {
        assert!(
            Instant::now() < deadline,
            "the first run never took its lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = quick(&["--out", text(&out), "--dim", "16"]);
    assert_refused(&second, &format!("process {}", first.id()));
    assert!(first.wait().expect("ends").success());
    assert_eq!(
        std::fs::read(&out).expect("draws"),
        reference_draws(),
        "the first run's draws"
    );
    assert!(!lock.exists(), "the lock goes with its run");
}

/// Two shards of a quick run, with manifests.
fn shards(dir: &Path) -> (PathBuf, PathBuf) {
    let (s0, s1) = (dir.join("s0.npy"), dir.join("s1.npy"));
    assert!(quick(&["--out", text(&s0), "--shard", "0/2"])
        .status
        .success());
    assert!(quick(&["--out", text(&s1), "--shard", "1/2"])
        .status
        .success());
    (s0, s1)
}

/// Rewrites an f32 draws file as `<f8` (or `>f4`), same shape and values.
fn retype(path: &Path, descr: &str) {
    let bytes = std::fs::read(path).expect("read");
    let npy = npyz::NpyFile::new(&bytes[..]).expect("npy");
    let shape = npy.shape().to_vec();
    let values: Vec<f32> = npy.into_vec().expect("f32");
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({}, {}, {}), }}",
        shape[0], shape[1], shape[2]
    );
    let mut header = b"\x93NUMPY\x01\x00".to_vec();
    let padded = (dict.len() + 11).next_multiple_of(64) - 10;
    header.extend_from_slice(&(padded as u16).to_le_bytes());
    let mut text = dict.into_bytes();
    text.resize(padded - 1, b' ');
    text.push(b'\n');
    header.extend(text);
    for v in values {
        match descr {
            "<f8" => header.extend(f64::from(v).to_le_bytes()),
            _ => header.extend(v.to_be_bytes()),
        }
    }
    std::fs::write(path, header).expect("write");
}

#[test]
fn every_npy_reader_checks_dtype_and_says_what_it_found() {
    let dir = scratch("nothing-lost-dtype");
    let (s0, s1) = shards(&dir);
    retype(&s1, "<f8");
    let merged = dir.join("all.npy");
    assert_refused(
        &langevin(&["merge", "--out", text(&merged), text(&s0), text(&s1)]),
        "float64 ('<f8')",
    );
    assert!(!merged.exists());
    retype(&s0, ">f4");
    let plot = langevin(&["plot", text(&s0), "--out", text(&dir.join("p.png"))]);
    assert_refused(&plot, "big-endian float32");
}

#[test]
fn draws_are_tied_to_their_manifest_and_their_checkpoint() {
    let dir = scratch("nothing-lost-tied");
    let (s0, s1) = shards(&dir);
    // Shard 1's draws under shard 0's manifest (same shape): refused by the checksum.
    std::fs::copy(&s1, &s0).expect("copy");
    let merged = dir.join("all.npy");
    assert_refused(
        &langevin(&["merge", "--out", text(&merged), text(&s0), text(&s1)]),
        "checksum",
    );
    assert!(!merged.exists());

    // A partial file of another run, of the right shape, is refused by the resume and left
    // as it was.
    let (a, b) = (dir.join("a.npy"), dir.join("b.npy"));
    let (ck_a, ck_b) = (dir.join("ck-a"), dir.join("ck-b"));
    for (out, ck, seed) in [(&a, &ck_a, "11"), (&b, &ck_b, "12")] {
        let child = start_checkpointed(out, ck, &["--seed", seed]);
        signal(&child, "-INT");
        assert_eq!(
            child.wait_with_output().expect("ends").status.code(),
            Some(130)
        );
    }
    // The run that kept fewer draws resumes with the other's file, which holds at least as
    // many: only their checksum tells them apart.
    let kept = |ck: &Path| {
        langevin::Checkpoint::load(ck)
            .expect("checkpoint")
            .delivered()
    };
    let (out, ck, other) = match kept(&ck_a) <= kept(&ck_b) {
        true => (&a, &ck_a, &b),
        false => (&b, &ck_b, &a),
    };
    let partial = langevin::output::with_suffix(out, ".partial");
    std::fs::copy(langevin::output::with_suffix(other, ".partial"), &partial).expect("swap");
    let foreign = std::fs::read(&partial).expect("read");
    let seed = if out == &a { "11" } else { "12" };
    let resumed = command()
        .args(long_run(out, &["--resume", text(ck), "--seed", seed]))
        .output()
        .expect("runs");
    assert_refused(&resumed, "not the ones the checkpoint recorded");
    assert_eq!(std::fs::read(&partial).expect("read"), foreign);
}

#[test]
fn quoted_input_in_messages_is_cut_short() {
    let dir = scratch("nothing-lost-quote");
    let token = "x".repeat(1 << 20);
    let data = svm(&dir, "long.svm", &format!("{token} 1:1\n"));
    let output = logistic(&data, &[]);
    assert_refused(&output, "bytes)");
    assert!(
        stderr(&output).len() < 2000,
        "{} bytes of message",
        stderr(&output).len()
    );
}

#[test]
fn test_data_is_checked_like_training_data_and_ignored_options_are_refused() {
    let dir = scratch("nothing-lost-options");
    let data = svm(&dir, "d.svm", SVM);
    let sevens = svm(&dir, "sevens.svm", "7 1:1\n7 2:1\n");
    assert_refused(&logistic(&data, &["--test", text(&sevens)]), "sevens.svm:1");
    let cases: &[&[&str]] = &[
        &["--model", "linear", "--test", "T"],
        &["--hidden", "10"],
        &["--noise-var", "2"],
        &["--decay", "0.9"],
        &["--cycles", "3"],
        &["--batch-mode", "per-chain"],
        &["--mean", "1"],
        &["--rungs", "3"],
        &["--cv-steps", "5"],
        &["--checkpoint-every", "5"],
        &[
            "--schedule",
            "poly",
            "--a",
            "1",
            "--b",
            "1",
            "--gamma",
            "0.6",
            "--step-size",
            "0.1",
        ],
    ];
    for case in cases {
        let case: Vec<&str> = case
            .iter()
            .map(|a| if *a == "T" { text(&data) } else { a })
            .collect();
        assert_refused(&logistic(&data, &case), "ignored");
    }
}

#[test]
fn data_errors_name_the_right_file_line_and_value() {
    let dir = scratch("nothing-lost-data");
    let mixed = svm(&dir, "mixed.svm", "1 1:1\n0 1:1\n1 1:1\n-1 1:1\n");
    let output = logistic(&mixed, &[]);
    assert_refused(&output, "mixed.svm:4");
    assert!(stderr(&output).contains("label -1"), "{}", stderr(&output));
    let huge = svm(&dir, "huge.svm", "1 1:1\n-1 99999999999:1\n");
    let output = logistic(&huge, &[]);
    assert_refused(&output, "huge.svm:2");
    assert!(
        stderr(&output).contains("99999999999"),
        "{}",
        stderr(&output)
    );
    let bom = svm(&dir, "bom.svm", &format!("\u{feff}{SVM}"));
    let read = logistic(&bom, &[]);
    assert!(
        read.status.success(),
        "a leading BOM is not data: {}",
        stderr(&read)
    );
    let bad = svm(&dir, "badbom.svm", "\u{feff}x 1:1\n");
    let output = logistic(&bad, &[]);
    assert_refused(&output, "label `x`");
    assert!(!stderr(&output).contains('\u{feff}'));
}

#[test]
fn a_resume_refusal_names_what_differs_and_says_nothing_before() {
    let dir = scratch("nothing-lost-differs");
    let (out, checkpoints) = (dir.join("r.npy"), dir.join("ck"));
    let child = start_checkpointed(&out, &checkpoints, &[]);
    signal(&child, "-INT");
    assert_eq!(
        child.wait_with_output().expect("ends").status.code(),
        Some(130)
    );
    let partial = std::fs::read(dir.join("r.npy.partial")).expect("partial");
    let other = command()
        .args(long_run(
            &out,
            &["--resume", text(&checkpoints), "--step-size", "0.02"],
        ))
        .output()
        .expect("runs");
    let message = stderr(&other);
    assert_refused(
        &other,
        "step size (Constant(0.01) in the checkpoint, Constant(0.02) in this run)",
    );
    assert!(!message.contains("resuming at step"), "{message}");
    assert!(!message.contains("seed ("), "only what differs: {message}");
    assert_eq!(
        std::fs::read(dir.join("r.npy.partial")).expect("partial"),
        partial
    );
}

#[test]
fn a_run_whose_every_chain_diverges_exits_3_and_keeps_its_files() {
    let dir = scratch("nothing-lost-diverged");
    let (out, json) = (dir.join("o.npy"), dir.join("j.json"));
    // Precision 100 with η = 1: far past the stability limit 2/λ = 0.02.
    let output = quick(&[
        "--var",
        "0.01",
        "--step-size",
        "1",
        "--out",
        text(&out),
        "--json",
        text(&json),
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("every chain diverged"));
    assert!(out.exists() && json.exists(), "kept for inspection");
}

#[test]
fn os_errors_are_reported_once() {
    let dir = scratch("nothing-lost-os");
    let output = logistic(&dir, &[]);
    let message = stderr(&output);
    assert!(!output.status.success());
    assert_eq!(message.matches("os error 21").count(), 1, "{message}");
}
