//! Ctrl-C and SIGTERM: the first asks the run to stop at the next submit (it drains its
//! draws, writes a checkpoint when it has a checkpoint folder, and exits 130 or 143 with the
//! command that resumes it); a second Ctrl-C ends the process at once.

use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};

/// A stop request raised by a signal, and which signal it was.
pub(crate) struct StopRequest {
    pub(crate) flag: Arc<AtomicBool>,
    signal: Arc<AtomicUsize>,
}

impl StopRequest {
    /// Installs the handlers.
    pub(crate) fn install() -> Result<StopRequest> {
        let flag = Arc::new(AtomicBool::new(false));
        let signal = Arc::new(AtomicUsize::new(0));
        for sig in [SIGINT, SIGTERM] {
            // A second signal, with the flag already set, ends the process at once.
            signal_hook::flag::register_conditional_shutdown(
                sig,
                exit_code(sig),
                Arc::clone(&flag),
            )
            .context("installing the signal handlers")?;
            signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)
                .context("installing the signal handlers")?;
            signal_hook::flag::register(sig, Arc::clone(&flag))
                .context("installing the signal handlers")?;
        }
        Ok(StopRequest { flag, signal })
    }

    /// The exit code for the signal received: 128 + its number (130 for SIGINT, 143 for
    /// SIGTERM), as a shell reports a process that a signal ended.
    pub(crate) fn exit_code(&self) -> i32 {
        match self.signal.load(Ordering::Relaxed) {
            0 => exit_code(SIGINT),
            sig => exit_code(sig as i32),
        }
    }

    /// The signal's name.
    pub(crate) fn name(&self) -> &'static str {
        match self.signal.load(Ordering::Relaxed) as i32 {
            SIGTERM => "SIGTERM",
            _ => "Ctrl-C (SIGINT)",
        }
    }
}

fn exit_code(signal: i32) -> i32 {
    128 + signal
}

/// This process's command line with `--checkpoint DIR` and `--resume DIR` replaced by
/// `--resume dir`: the command that continues an interrupted run, quoted for a POSIX shell.
pub(crate) fn resume_command(dir: &Path) -> String {
    let mut args: Vec<OsString> = Vec::new();
    let mut skip_value = false;
    for arg in std::env::args_os() {
        if skip_value {
            skip_value = false;
            continue;
        }
        let text = arg.to_string_lossy();
        if text == "--checkpoint" || text == "--resume" {
            skip_value = true;
            continue;
        }
        if text.starts_with("--checkpoint=") || text.starts_with("--resume=") {
            continue;
        }
        args.push(arg);
    }
    args.push("--resume".into());
    args.push(dir.as_os_str().to_owned());
    args.iter()
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` as one word for a POSIX shell.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_a_shell() {
        assert_eq!(shell_quote("draws.npy"), "draws.npy");
        assert_eq!(shell_quote("my draws.npy"), "'my draws.npy'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
