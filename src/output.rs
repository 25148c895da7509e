//! Files that are either complete or absent: write under a temporary name, then rename.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `dir/.name.partial` for `dir/name`: where a file is written before it is complete.
fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_owned());
    path.with_file_name(format!(".{name}.partial"))
}

/// `path` with `suffix` appended to its file name (`draws.npy` → `draws.npy.partial`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes `path` through `fill`: the bytes go to a hidden temporary file beside it, which is
/// synced and renamed to `path` only when `fill` succeeds. On any error the temporary file is
/// removed and `path` is left as it was, so a reader never sees a partial file under `path`.
pub fn write_atomically(
    path: impl AsRef<Path>,
    fill: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let path = path.as_ref();
    let partial = partial_path(path);
    let written = (|| -> std::io::Result<()> {
        let mut out = BufWriter::new(std::fs::File::create(&partial)?);
        fill(&mut out)?;
        out.flush()?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&partial, path)
    })();
    written.map_err(|source| {
        let _ = std::fs::remove_file(&partial);
        Error::Io {
            path: path.to_owned(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_writes_leave_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("langevin-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("x.json");
        let failed = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("interrupted"))
        });
        assert!(failed.is_err());
        assert!(!path.exists() && !partial_path(&path).exists());
        write_atomically(&path, |w| w.write_all(b"whole")).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"whole");
        assert!(!partial_path(&path).exists());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
