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

    /// The host cannot hold the draws that were asked for.
    #[error(
        "the draws need {bytes} bytes of host memory, which could not be allocated; \
         keep fewer draws (larger thin, fewer steps) or fewer chains"
    )]
    HostMemory {
        /// Bytes requested.
        bytes: u64,
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
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
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
    /// An [`Error::InvalidSetting`].
    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidSetting {
            name,
            reason: reason.into(),
        }
    }
}
