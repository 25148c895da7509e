//! Output files: written whole or not at all, committed together, never over an input, and
//! never by two runs at once.
//!
//! * A file is written under a temporary name beside it, synced, and renamed over its path
//!   only when complete ([`write_atomically`]); a reader never sees half a file, and a failed
//!   write leaves the earlier file as it was.
//! * Several outputs of one run are staged first and renamed together once every one of them
//!   is complete ([`Commit`]), so a failure in the last (a full disk under the summary) does
//!   not leave the first replaced.
//! * A path that names a FIFO or a device (`/dev/stdout`, a named pipe) is written as a
//!   stream: opened and written in place, never unlinked or replaced by a regular file. A
//!   directory is refused.
//! * An output is locked for as long as a run writes it ([`OutputLock`]): a second run on the
//!   same path is refused with a message naming the first.
//! * [`check_separate`] refuses, before any work, outputs that name the same file as each
//!   other or as an input, comparing resolved paths and file identities, not strings.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// `path` with `suffix` appended to its file name (`draws.npy` → `draws.npy.partial`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// What is at a path that an output will be written to (symbolic links followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// Nothing yet.
    Absent,
    /// A regular file, to be replaced when the new one is complete.
    Regular,
    /// A FIFO, character or block device or socket: written in place as a stream.
    Stream,
    /// A directory: refused.
    Directory,
}

impl Destination {
    /// What is at `path`.
    pub fn of(path: &Path) -> Result<Destination> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Destination::Absent),
            Err(e) => Err(Error::io(path, e)),
            Ok(meta) if meta.is_dir() => Ok(Destination::Directory),
            Ok(meta) if meta.is_file() => Ok(Destination::Regular),
            Ok(_) => Ok(Destination::Stream),
        }
    }
}

/// The folder a file at `path` goes in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Refuses, before any work, an output `path` (given as `flag`) that cannot be written: a
/// directory, a folder that does not exist or cannot be written, or a stream (FIFO, device)
/// where `stream_ok` is false.
pub fn check_output_path(flag: &str, path: &Path, stream_ok: bool) -> Result<()> {
    let refuse = |reason: String| Error::invalid_output(flag, path, reason);
    match Destination::of(path)? {
        Destination::Directory => {
            return Err(refuse("is a directory; give the name of a file".into()))
        }
        Destination::Stream if !stream_ok => {
            return Err(refuse(
                "is not a regular file (a FIFO or a device); this output grows during the run \
                 and must be a regular file it can rewrite and resume"
                    .into(),
            ))
        }
        Destination::Stream => return Ok(()),
        Destination::Absent | Destination::Regular => {}
    }
    let folder = parent(path);
    if !folder.is_dir() {
        return Err(refuse(format!(
            "the folder {} does not exist",
            folder.display()
        )));
    }
    // Write access is what matters, and only a write tells (permissions, read-only mounts).
    let probe = temporary_beside(path);
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(file) => {
            drop(file);
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(refuse(format!(
            "cannot create a file in {}: {e}",
            folder.display()
        ))),
    }
}

/// A unique hidden name beside `path` for a file being written: `.name.PID.N.partial`.
fn temporary_beside(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_owned());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    parent(path).join(format!(".{name}.{}.{n}.partial", std::process::id()))
}

/// The file a path finally names: symbolic links resolved, so that writing through a link
/// replaces the file it points to and keeps the link.
fn final_target(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Writes `temporary` through `fill` and syncs it.
fn fill_file(
    temporary: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temporary)?;
    let mut out = BufWriter::new(file);
    fill(&mut out)?;
    out.flush()?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// Writes `path` through `fill`: complete or not at all, as [`write_atomically`], without
/// taking the output's lock (for callers that hold it).
pub(crate) fn write_file(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let mut commit = Commit::new();
    commit.stage(path, fill)?;
    commit.commit()
}

/// Writes `path` through `fill`, holding its lock: the bytes go to a hidden temporary file
/// beside it, which is synced and renamed to `path` only when `fill` succeeds. On any error
/// the temporary file is removed and `path` is left as it was, so a reader never sees a
/// partial file under `path`. A FIFO or device at `path` is written in place, as a stream.
pub fn write_atomically(
    path: impl AsRef<Path>,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let path = path.as_ref();
    let _lock = OutputLock::acquire(path)?;
    write_file(path, fill)
}

/// One staged output: complete under `temporary`, to be moved to `target` by the commit.
#[derive(Debug)]
struct Staged {
    temporary: PathBuf,
    target: PathBuf,
    /// Copied into the target instead of renamed (a FIFO or device).
    stream: bool,
    /// Left in place when the commit does not happen (a draws file's `.partial`, which an
    /// interrupted run resumes).
    keep_on_failure: bool,
}

/// Outputs that appear together or not at all: each is written whole under a temporary name
/// first ([`Commit::stage`]); [`Commit::commit`] then moves them all into place. Dropped
/// without a commit, it removes what it staged (but keeps what [`Commit::adopt`] was given).
#[derive(Debug, Default)]
#[must_use]
pub struct Commit {
    staged: Vec<Staged>,
}

impl Commit {
    /// Nothing staged yet.
    pub fn new() -> Commit {
        Commit::default()
    }

    /// Writes `path`'s new content through `fill` under a temporary name, now; `path` itself
    /// is untouched until [`Commit::commit`].
    pub fn stage(
        &mut self,
        path: &Path,
        fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
    ) -> Result<()> {
        let (target, stream) = match Destination::of(path)? {
            Destination::Directory => {
                return Err(Error::io(
                    path,
                    std::io::Error::new(
                        std::io::ErrorKind::IsADirectory,
                        "is a directory, not a file",
                    ),
                ))
            }
            Destination::Stream => (path.to_owned(), true),
            _ => (final_target(path), false),
        };
        // A stream's bytes wait in the temporary folder: nothing is created beside a device.
        let temporary = if stream {
            temporary_beside(&std::env::temp_dir().join("langevin-stream"))
        } else {
            temporary_beside(&target)
        };
        if let Err(e) = fill_file(&temporary, fill) {
            let _ = std::fs::remove_file(&temporary);
            return Err(Error::io(path, e));
        }
        self.staged.push(Staged {
            temporary,
            target,
            stream,
            keep_on_failure: false,
        });
        Ok(())
    }

    /// Adds a file that is already complete under `temporary` (a draws stream's `.partial`)
    /// to be renamed to `target` with the rest; it is kept if the commit does not happen.
    pub fn adopt(&mut self, temporary: PathBuf, target: PathBuf) {
        self.staged.push(Staged {
            temporary,
            target,
            stream: false,
            keep_on_failure: true,
        });
    }

    /// Moves every staged file into place: first the copies into streams (which can fail, a
    /// full disk behind a device), then the renames (atomic per file, and with everything
    /// already written and synced, in practice all or nothing).
    pub fn commit(mut self) -> Result<()> {
        let mut staged = std::mem::take(&mut self.staged);
        staged.sort_by_key(|file| !file.stream);
        let folders: Vec<PathBuf> = staged
            .iter()
            .filter(|f| !f.stream)
            .map(|f| parent(&f.target).to_owned())
            .collect();
        let mut rest = staged.into_iter();
        while let Some(file) = rest.next() {
            let moved = if file.stream {
                copy_into_stream(&file.temporary, &file.target)
            } else {
                std::fs::rename(&file.temporary, &file.target)
            };
            if let Err(e) = moved {
                // What is not yet in place stays out of it; the caller's error names the file.
                self.staged = std::iter::once(file).chain(rest).collect();
                let target = self.staged[0].target.clone();
                return Err(Error::io(target, e));
            }
            if file.stream {
                let _ = std::fs::remove_file(&file.temporary);
            }
        }
        sync_folders(&folders);
        Ok(())
    }
}

/// Copies a staged file into a FIFO or device, opened for writing without truncation.
fn copy_into_stream(temporary: &Path, target: &Path) -> std::io::Result<()> {
    let mut source = File::open(temporary)?;
    let mut sink = OpenOptions::new().write(true).open(target)?;
    std::io::copy(&mut source, &mut sink)?;
    sink.flush()
}

/// Renames are durable once their folder is synced: best effort, since not every platform or
/// file system can sync a folder, and the files themselves are synced already.
fn sync_folders(folders: &[PathBuf]) {
    #[cfg(unix)]
    for folder in folders {
        if let Ok(handle) = File::open(folder) {
            let _ = handle.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = folders;
}

impl Drop for Commit {
    fn drop(&mut self) {
        for file in &self.staged {
            if !file.keep_on_failure {
                let _ = std::fs::remove_file(&file.temporary);
            }
        }
    }
}

/// Whether two paths name the same file: the same resolved path, or (for files that exist)
/// the same device and inode, so hard links and `./x` against `x` are caught.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if resolve(a) == resolve(b) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    false
}

/// `path` made absolute with every link resolved, as far as it exists: the folder is resolved
/// and the name kept for a file that does not exist yet.
fn resolve(path: &Path) -> PathBuf {
    if let Ok(full) = std::fs::canonicalize(path) {
        return full;
    }
    let name = path.file_name().map(PathBuf::from).unwrap_or_default();
    match std::fs::canonicalize(parent(path)) {
        Ok(folder) => folder.join(name),
        Err(_) => std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_owned()),
    }
}

/// Refuses outputs that name the same file as each other, or as an input, before any work.
/// Each entry is a flag (as the user wrote it) and its path.
pub fn check_separate(outputs: &[(String, PathBuf)], inputs: &[(String, PathBuf)]) -> Result<()> {
    for (i, (flag, path)) in outputs.iter().enumerate() {
        for (other_flag, other) in &outputs[i + 1..] {
            if same_file(path, other) {
                return Err(Error::invalid_output(
                    flag,
                    path,
                    format!(
                        "is also {other_flag} ({}); give each output its own file",
                        other.display()
                    ),
                ));
            }
        }
        for (input_flag, input) in inputs {
            if same_file(path, input) {
                return Err(Error::invalid_output(
                    flag,
                    path,
                    format!(
                        "is the input {input_flag} ({}); writing it would destroy that input",
                        input.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// An exclusive lock on an output, held while a run writes it: the lock file `PATH.lock`
/// records who holds it; the operating system releases the lock when the process ends
/// however it ends, so a killed run never blocks the next one.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
    file: Option<File>,
}

impl OutputLock {
    /// Locks the output at `path`, or returns [`Error::Busy`] naming the process that holds
    /// it. A FIFO or device is not locked (several writers to a stream are the user's
    /// choice).
    pub fn acquire(path: &Path) -> Result<OutputLock> {
        let lock_path = with_suffix(&final_target(path), ".lock");
        if Destination::of(path)? == Destination::Stream {
            return Ok(OutputLock {
                path: lock_path,
                file: None,
            });
        }
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock_path)
                .map_err(|e| Error::io(path, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut owner = String::new();
                    let _ = file.read_to_string(&mut owner);
                    let owner = owner.trim();
                    return Err(Error::Busy {
                        path: path.to_owned(),
                        owner: if owner.is_empty() {
                            "another process".to_owned()
                        } else {
                            crate::error::quote_long(owner)
                        },
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    // A file system without locks (some network mounts): go on unlocked.
                    log::warn!(
                        "{}: cannot lock ({e}); not guarding against a second run",
                        lock_path.display()
                    );
                    return Ok(OutputLock {
                        path: lock_path,
                        file: None,
                    });
                }
            }
            // The holder before us may have removed the file after we opened it; a lock on
            // an unlinked file guards nothing, so try again on the file now at the path.
            if !is_same_open_file(&file, &lock_path) {
                continue;
            }
            let written = file
                .set_len(0)
                .and_then(|()| file.write_all(owner_description().as_bytes()))
                .and_then(|()| file.flush());
            written.map_err(|e| Error::io(path, e))?;
            return Ok(OutputLock {
                path: lock_path,
                file: Some(file),
            });
        }
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Removed while still held, so that no one locks the file just before it goes.
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(unix)]
fn is_same_open_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn is_same_open_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// This process in words, for a lock file: "langevin run, process 1234, started
/// 2026-12-01 20:30:01 UTC: langevin sample --out …".
fn owner_description() -> String {
    let command: Vec<String> = std::env::args().collect();
    format!(
        "langevin run, process {}, started {}: {}",
        std::process::id(),
        utc_now(),
        crate::error::quote_long(&command.join(" "))
    )
}

/// The current time as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn utc_now() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = ((seconds / 86_400) as i64, seconds % 86_400);
    // Civil date from days since 1970-01-01 (Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("langevin-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn failed_writes_leave_nothing_behind() {
        let dir = scratch("failed");
        let path = dir.join("x.json");
        let failed = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("interrupted"))
        });
        assert!(failed.is_err());
        assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
        write_atomically(&path, |w| w.write_all(b"whole")).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"whole");
        assert_eq!(leftovers(&dir), vec!["x.json".to_owned()]);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn a_commit_moves_everything_or_nothing() {
        let dir = scratch("commit");
        let (a, b) = (dir.join("a.npy"), dir.join("b.json"));
        std::fs::write(&a, b"old a").expect("write");
        let mut commit = Commit::new();
        commit.stage(&a, |w| w.write_all(b"new a")).expect("stage");
        let failed = commit.stage(&b, |_| Err(std::io::Error::other("disk full")));
        assert!(failed.is_err());
        drop(commit);
        assert_eq!(std::fs::read(&a).expect("read"), b"old a");
        assert_eq!(leftovers(&dir), vec!["a.npy".to_owned()]);
        let mut commit = Commit::new();
        commit.stage(&a, |w| w.write_all(b"new a")).expect("stage");
        commit.stage(&b, |w| w.write_all(b"new b")).expect("stage");
        assert_eq!(std::fs::read(&a).expect("read"), b"old a");
        commit.commit().expect("commit");
        assert_eq!(std::fs::read(&a).expect("read"), b"new a");
        assert_eq!(std::fs::read(&b).expect("read"), b"new b");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn a_link_is_written_through_and_kept() {
        let dir = scratch("link");
        let (real, link) = (dir.join("real.json"), dir.join("link.json"));
        std::fs::write(&real, b"old").expect("write");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&real, &link).expect("link");
            write_atomically(&link, |w| w.write_all(b"new")).expect("write");
            assert!(std::fs::symlink_metadata(&link)
                .expect("meta")
                .file_type()
                .is_symlink());
            assert_eq!(std::fs::read(&real).expect("read"), b"new");
            assert!(same_file(&link, &real));
        }
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn a_second_lock_names_the_first_holder() {
        let dir = scratch("lock");
        let path = dir.join("draws.npy");
        let first = OutputLock::acquire(&path).expect("first");
        let refused = OutputLock::acquire(&path).expect_err("second");
        let message = refused.to_string();
        assert!(
            message.contains(&format!("process {}", std::process::id())),
            "{message}"
        );
        drop(first);
        assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
        let _again = OutputLock::acquire(&path).expect("free again");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn outputs_onto_inputs_or_each_other_are_refused() {
        let dir = scratch("separate");
        let data = dir.join("data.svm");
        std::fs::write(&data, b"1 1:1\n").expect("write");
        let flags = |pairs: &[(&str, PathBuf)]| -> Vec<(String, PathBuf)> {
            pairs
                .iter()
                .map(|(f, p)| (f.to_string(), p.clone()))
                .collect()
        };
        let dotted = dir.join(".").join("data.svm");
        let refused = check_separate(
            &flags(&[("--out", dotted)]),
            &flags(&[("--data", data.clone())]),
        )
        .expect_err("onto an input");
        assert!(refused.to_string().contains("--data"), "{refused}");
        let twice = check_separate(
            &flags(&[("--out", dir.join("x")), ("--json", dir.join("x"))]),
            &[],
        )
        .expect_err("the same output twice");
        assert!(twice.to_string().contains("--json"), "{twice}");
        #[cfg(unix)]
        {
            let hard = dir.join("hard.svm");
            std::fs::hard_link(&data, &hard).expect("hard link");
            assert!(check_separate(
                &flags(&[("--out", hard)]),
                &flags(&[("--data", data.clone())])
            )
            .is_err());
        }
        check_separate(
            &flags(&[("--out", dir.join("o.npy")), ("--json", dir.join("o.json"))]),
            &flags(&[("--data", data)]),
        )
        .expect("separate files");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn utc_dates_are_civil() {
        let now = utc_now();
        assert!(now.starts_with("20") && now.ends_with(" UTC"), "{now}");
    }
}
