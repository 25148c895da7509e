//! The library's error type: every failure a user can cause, with a message that says what to do.

use std::path::PathBuf;

/// Everything that can go wrong in langevin.
///
/// Settings are validated before any GPU work starts, so an [`Error::InvalidSetting`] or an
/// [`Error::ExceedsLimits`] never leaves a half-finished run behind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting or model parameter is out of its valid range.
    #[error("invalid {name}: {reason}")]
    InvalidSetting {
        /// The setting, as the user names it (e.g. `step size`, `mean`).
        name: &'static str,
        /// What is wrong and what would be valid.
        reason: String,
    },

    /// wgpu found no adapter at all.
    #[error(
        "no GPU adapter found (backends tried: {backends}). Install a Vulkan, Metal or DX12 \
         driver; on a machine without a GPU, the Mesa software adapter lavapipe works \
         (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers libvulkan1`)"
    )]
    NoAdapter {
        /// The backends that were searched.
        backends: String,
    },

    /// No adapter's name contains the requested name.
    #[error("no adapter matches `{requested}`; adapters found: {found}")]
    AdapterNotFound {
        /// The name asked for (by `--adapter` or `LANGEVIN_ADAPTER`).
        requested: String,
        /// Every adapter that was found, with backend and type.
        found: String,
    },

    /// The adapter refused to open a device.
    #[error("adapter `{adapter}` could not open a device: {reason}")]
    RequestDevice {
        /// The adapter's name.
        adapter: String,
        /// What wgpu reported.
        reason: String,
    },

    /// The problem needs more than the adapter allows.
    #[error(
        "{what} needs {needed} bytes but adapter `{adapter}` allows at most {limit} ({limit_name}); \
         use fewer chains or dimensions, or an adapter with larger limits"
    )]
    ExceedsLimits {
        /// What does not fit (e.g. `the chain state`).
        what: String,
        /// Bytes required.
        needed: u64,
        /// The adapter's limit in bytes.
        limit: u64,
        /// Which wgpu limit it is.
        limit_name: &'static str,
        /// The adapter's name.
        adapter: String,
    },

    /// The run needs more memory than the adapter has.
    #[error(
        "the run needs {needed} bytes of device memory but adapter `{adapter}` has {available} \
         available; run fewer chains per process (`--shard i/n`, `Settings::shard`), fewer \
         dimensions, or keep fewer draws between readbacks"
    )]
    DeviceMemory {
        /// Bytes the chains, their statistics and the draw buffers need.
        needed: u64,
        /// Bytes available (for a software adapter, the host's available memory).
        available: u64,
        /// The adapter's name.
        adapter: String,
    },

    /// The host cannot hold something the run's sizes ask for; refused before allocating.
    #[error(
        "{what} need {bytes} bytes of host memory, more than this machine can give \
         ({available}); use smaller sizes (fewer dimensions, chains or kept draws)"
    )]
    HostMemory {
        /// What was to be allocated, e.g. `the draws kept in memory`.
        what: String,
        /// Bytes requested.
        bytes: u64,
        /// What the host has available, in words.
        available: String,
    },

    /// A shader failed to compile or a pipeline failed to build.
    #[error("shader `{shader}` failed to build: {message}")]
    Shader {
        /// The shader's label.
        shader: String,
        /// The compiler's message, with line numbers.
        message: String,
    },

    /// The GPU reported an error while running (validation, out of memory, device lost).
    #[error("GPU error: {0}")]
    Gpu(String),

    /// A data file is malformed or holds a value the model cannot use.
    #[error("{}: {message}", location(path, *line))]
    Data {
        /// The file (or `<memory>` for arrays passed in).
        path: PathBuf,
        /// 1-based line number, when the problem is on one line.
        line: Option<usize>,
        /// What is wrong, with the offending text.
        message: String,
    },

    /// Drawing a figure failed inside the plotting library.
    #[error(
        "could not draw the figure: {0}. This is a bug in langevin's plotting; please report \
         it with the draws file's shape and the plot options"
    )]
    Plot(String),

    /// A checkpoint cannot be used: damaged, from another version, or from another run.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },

    /// Reading or writing a file failed.
    ///
    /// The message holds the operating system's error once; it is not also chained as a
    /// `source`, so reports that print the chain do not repeat it.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        error: std::io::Error,
    },

    /// An output path cannot be used: a directory, a missing folder, an input's file.
    #[error("{what} {}: {reason}", path.display())]
    Output {
        /// The output, as the user names it (e.g. `--out`).
        what: String,
        /// The path given.
        path: PathBuf,
        /// What is wrong and what would do.
        reason: String,
    },

    /// Another process is writing the same output.
    #[error("{}: {owner} is writing it; wait for that run to finish or choose another path", path.display())]
    Busy {
        /// The output.
        path: PathBuf,
        /// The other run, as it described itself (process id, start time, command).
        owner: String,
    },
}

fn location(path: &std::path::Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", path.display()),
        None => path.display().to_string(),
    }
}

/// `Result` with langevin's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: source,
        }
    }

    /// An [`Error::Output`].
    pub(crate) fn invalid_output(
        what: &str,
        path: &std::path::Path,
        reason: impl Into<String>,
    ) -> Self {
        Error::Output {
            what: what.to_owned(),
            path: path.to_owned(),
            reason: reason.into(),
        }
    }

    /// An [`Error::InvalidSetting`].
    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidSetting {
            name,
            reason: reason.into(),
        }
    }
}

/// Characters of a user's text quoted in a message; longer text is cut (a 1 GB token must not
/// become a 1 GB message).
const QUOTE_CHARS: usize = 40;

/// `text` for a message: at most `QUOTE_CHARS` characters, control characters escaped, and
/// a note of how long it really was when cut.
pub fn quote(text: &str) -> String {
    cut(text, QUOTE_CHARS)
}

/// [`quote`] for text that is ours to show at length (a command line): 200 characters.
pub(crate) fn quote_long(text: &str) -> String {
    cut(text, 200)
}

fn cut(text: &str, chars: usize) -> String {
    let mut shown: String = text
        .chars()
        .take(chars)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(chars).is_some() {
        shown.push_str(&format!("… ({} bytes)", text.len()));
    }
    shown
}

/// `MemAvailable` of `/proc/meminfo`, in bytes (Linux; `None` elsewhere).
pub(crate) fn host_memory_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses, as [`Error::HostMemory`] naming `what`, `bytes` of host memory beyond what the
/// host has available; for sizes a user's numbers set, checked before anything is allocated.
pub fn check_host_memory(bytes: u64, what: &str) -> Result<()> {
    match host_memory_available() {
        Some(available) if bytes > available => Err(Error::HostMemory {
            what: what.to_owned(),
            bytes,
            available: format!("{available} bytes available"),
        }),
        _ => Ok(()),
    }
}

/// An empty vector with room for `count` values, or [`Error::HostMemory`] naming `what` when
/// the host cannot give that much: checked against the memory available (an allocation the
/// kernel would grant lazily and then kill the process for) before trying to reserve.
pub(crate) fn try_vec<T>(count: u64, what: &str) -> Result<Vec<T>> {
    let bytes = count.saturating_mul(std::mem::size_of::<T>() as u64);
    let refuse = |available: String| Error::HostMemory {
        what: what.to_owned(),
        bytes,
        available,
    };
    check_host_memory(bytes, what)?;
    let count = usize::try_from(count).map_err(|_| refuse("beyond the address space".into()))?;
    let mut values = Vec::new();
    values
        .try_reserve_exact(count)
        .map_err(|_| refuse("the allocation failed".into()))?;
    Ok(values)
}

/// `value` repeated `count` times, or [`Error::HostMemory`] (see [`try_vec`]).
pub(crate) fn try_filled<T: Clone>(count: u64, value: T, what: &str) -> Result<Vec<T>> {
    let mut values = try_vec(count, what)?;
    values.resize(count as usize, value);
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_is_cut_and_escaped() {
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote("a\nb"), "a\\nb");
        let long = "x".repeat(1000);
        let shown = quote(&long);
        assert!(shown.starts_with(&"x".repeat(QUOTE_CHARS)), "{shown}");
        assert!(shown.ends_with("… (1000 bytes)"), "{shown}");
        assert!(shown.len() < 60);
    }

    #[test]
    fn io_errors_name_the_os_error_once_in_a_chain() {
        let error = Error::io("/tmp/x", std::io::Error::from_raw_os_error(21));
        let mut chain = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(s) = source {
            chain.push_str(&format!(": {s}"));
            source = s.source();
        }
        assert_eq!(chain.matches("os error 21").count(), 1, "{chain}");
    }

    #[test]
    fn impossible_allocations_are_typed_errors() {
        let refused = try_vec::<f64>(1 << 60, "a test array").expect_err("too large");
        assert!(matches!(refused, Error::HostMemory { .. }), "{refused}");
        assert!(refused.to_string().contains("a test array"), "{refused}");
        assert_eq!(try_filled(3, 1.5f32, "small").expect("fits"), vec![1.5; 3]);
    }
}
