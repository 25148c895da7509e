//! Where kept draws go while a run produces them: memory ([`crate::Run::draws`]), an NPY
//! file that grows ([`NpyStream`]), or a [`Sink`] of your own (a channel, a database).
//!
//! A run hands its sink consecutive blocks of kept draws, in order, each block holding every
//! chain of the run (`[draws][chains][dim]`, the layout of [`Draws`]). Draw readback overlaps
//! sampling: the GPU keeps running while the sink consumes a block.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3;

use crate::draws::Draws;
use crate::error::{Error, Result};
use crate::npy::{draws_header, DrawsFile, Extent, DRAWS_HEADER_BYTES};
use crate::output::{Commit, OutputLock};

/// The shape of what a run delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawLayout {
    /// Kept draws per chain when the run is complete.
    pub draws: usize,
    /// Chains in each block (a shard's chains only, when sharded).
    pub chains: usize,
    /// Dimensions per draw.
    pub dim: usize,
}

/// Consecutive kept draws of every chain.
#[derive(Debug, Clone, Copy)]
pub struct DrawBlock<'a> {
    /// Index of the block's first draw among all kept draws of the run.
    pub first_draw: usize,
    /// For each draw of the block, the updates applied before it (step index + 1).
    pub steps: &'a [u32],
    /// `steps.len() × chains × dim` values, draw-major then chain then dimension.
    pub values: &'a [f32],
}

/// What a sink holds already when a run begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Received {
    /// Whether the run resumes a checkpoint (possibly one taken before any draw was kept).
    pub resuming: bool,
    /// Kept draws the sink had durably received when that checkpoint was written (0 for a
    /// fresh run).
    pub draws: usize,
    /// [`Sink::checksum`] of those draws as the sink reported it then; `None` for a fresh
    /// run or a sink that keeps none. A sink that keeps one refuses to resume draws that are
    /// not those.
    pub checksum: Option<u64>,
}

/// A consumer of kept draws.
///
/// A sink that sends each block's chain means down a channel, for a consumer thread:
///
/// ```
/// use langevin::sink::{DrawBlock, DrawLayout, Received, Sink};
///
/// struct MeanOfChains {
///     dim: usize,
///     to: std::sync::mpsc::Sender<Vec<f32>>,
/// }
///
/// impl Sink for MeanOfChains {
///     fn begin(&mut self, layout: &DrawLayout, _: Received) -> langevin::Result<()> {
///         self.dim = layout.dim;
///         Ok(())
///     }
///     fn write(&mut self, block: DrawBlock<'_>) -> langevin::Result<()> {
///         for draw in block.values.chunks(block.values.len() / block.steps.len()) {
///             let chains = draw.len() / self.dim;
///             let mean = (0..self.dim)
///                 .map(|d| draw.iter().skip(d).step_by(self.dim).sum::<f32>() / chains as f32)
///                 .collect();
///             let _ = self.to.send(mean); // the consumer may have gone; keep sampling
///         }
///         Ok(())
///     }
///     fn finish(&mut self) -> langevin::Result<()> {
///         Ok(())
///     }
/// }
///
/// let (to, from) = std::sync::mpsc::channel();
/// let mut sink = MeanOfChains { dim: 0, to };
/// sink.begin(&DrawLayout { draws: 1, chains: 2, dim: 2 }, Received::default())?;
/// sink.write(DrawBlock { first_draw: 0, steps: &[10], values: &[1.0, 2.0, 3.0, 4.0] })?;
/// assert_eq!(from.recv().unwrap(), vec![2.0, 3.0]);
/// # Ok::<(), langevin::Error>(())
/// ```
///
/// The run calls [`Sink::begin`] once, [`Sink::write`] for each block in order, [`Sink::flush`]
/// before it writes a checkpoint, and [`Sink::finish`] after the last block. A run resumed from
/// a checkpoint calls `begin` with the number of draws the sink had durably received when the
/// checkpoint was written (and their checksum, if the sink reported one); the sink must drop
/// anything it holds past that point, so that no draw is lost or delivered twice.
pub trait Sink {
    /// Prepares for a run of `layout`, of whose draws the sink holds `received` already.
    fn begin(&mut self, layout: &DrawLayout, received: Received) -> Result<()>;
    /// Consumes the next block.
    fn write(&mut self, block: DrawBlock<'_>) -> Result<()>;
    /// Makes everything written so far durable (a checkpoint follows).
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    /// A checksum of every draw received so far, recorded in checkpoints so that a resume
    /// can tell these draws from another run's; `None` (the default) keeps none.
    fn checksum(&self) -> Option<u64> {
        None
    }
    /// The run is complete.
    fn finish(&mut self) -> Result<()>;
}

/// Keeps every draw in memory for [`crate::Run::draws`].
#[derive(Debug, Default)]
pub(crate) struct MemorySink {
    layout: Option<DrawLayout>,
    values: Vec<f32>,
    steps: Vec<u32>,
}

impl MemorySink {
    /// An empty sink.
    pub(crate) fn new() -> MemorySink {
        MemorySink::default()
    }

    /// The draws received, with the chains' temperatures under a ladder (empty without one).
    pub(crate) fn into_draws(self, temperatures: Vec<f32>) -> Draws {
        let layout = self.layout.unwrap_or(DrawLayout {
            draws: 0,
            chains: 0,
            dim: 0,
        });
        Draws {
            draws: self.steps.len(),
            chains: layout.chains,
            dim: layout.dim,
            values: self.values,
            steps: self.steps,
            temperatures,
        }
    }
}

impl Sink for MemorySink {
    fn begin(&mut self, layout: &DrawLayout, received: Received) -> Result<()> {
        if received.resuming {
            return Err(Error::invalid(
                "resume",
                "draws kept in memory do not survive the process; resume into the NPY file the \
                 interrupted run was writing",
            ));
        }
        let total = layout.draws as u64 * layout.chains as u64 * layout.dim as u64;
        self.values = crate::error::try_vec(total, "the draws kept in memory")?;
        self.steps = crate::error::try_vec(layout.draws as u64, "the draws' step numbers")?;
        self.layout = Some(layout.clone());
        Ok(())
    }

    fn write(&mut self, block: DrawBlock<'_>) -> Result<()> {
        self.values.extend_from_slice(block.values);
        self.steps.extend_from_slice(block.steps);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Streams draws into an NPY file (f32, shape `[draws, chains, dim]`) as they arrive.
///
/// While the run goes on the file is `PATH.partial`: a valid NPY file at every moment, whose
/// shape counts the draws appended so far (the data go first, then the header is rewritten),
/// so `numpy.load("draws.npy.partial")` reads whatever an interrupted run produced. When the
/// run finishes the file is renamed to `PATH` ([`NpyStream::new`]), or left for the caller to
/// commit together with its other outputs ([`NpyStream::deferred`]); a file at `PATH` is
/// therefore always complete.
///
/// The stream holds `PATH`'s [`OutputLock`] from [`Sink::begin`] on, so a second run on the
/// same path is refused. A fresh run refuses a `PATH.partial` left by an interrupted run (it
/// may be resumable); a resumed run checks that the partial file holds exactly the draws its
/// checkpoint recorded (by their checksum) before it cuts anything off. A fresh run that ends
/// before its first kept draw (a failure, or a stop during burn-in) removes the partial file it
/// created, which holds nothing, so the next run on `PATH` is not refused; resuming such a
/// run starts a new one.
pub struct NpyStream {
    path: PathBuf,
    partial: PathBuf,
    file: Option<File>,
    lock: Option<OutputLock>,
    deferred: bool,
    /// Whether this stream created the partial file (and so may remove it while it holds no
    /// draw).
    created: bool,
    chains: usize,
    dim: usize,
    written: usize,
    hasher: Xxh3,
}

impl std::fmt::Debug for NpyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpyStream")
            .field("path", &self.path)
            .field("deferred", &self.deferred)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl NpyStream {
    /// A stream that will write `path` (through `path.partial`), renamed into place when the
    /// run finishes.
    pub fn new(path: impl AsRef<Path>) -> NpyStream {
        let path = path.as_ref().to_owned();
        NpyStream {
            partial: partial_path(&path),
            path,
            file: None,
            lock: None,
            deferred: false,
            created: false,
            chains: 0,
            dim: 0,
            written: 0,
            hasher: Xxh3::new(),
        }
    }

    /// A stream whose finished `.partial` file stays where it is until
    /// [`NpyStream::stage`] hands it to a [`Commit`] with the run's other outputs.
    pub fn deferred(path: impl AsRef<Path>) -> NpyStream {
        let mut stream = NpyStream::new(path);
        stream.deferred = true;
        stream
    }

    /// Where draws go until the run finishes.
    pub fn partial_path(&self) -> &Path {
        &self.partial
    }

    /// Kept draws written so far (a resumed run counts those before it).
    pub fn draws_written(&self) -> usize {
        self.written
    }

    /// Adds the finished draws file of a [`NpyStream::deferred`] stream to `commit`; the
    /// returned lock must be held until the commit is done.
    pub fn stage(mut self, commit: &mut Commit) -> Result<OutputLock> {
        if self.file.is_some() {
            return Err(Error::invalid(
                "draw sink",
                "staged before the run finished",
            ));
        }
        let lock = self
            .lock
            .take()
            .ok_or_else(|| Error::invalid("draw sink", "staged before the run began"))?;
        commit.adopt(self.partial.clone(), self.path.clone());
        Ok(lock)
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::io(self.partial.clone(), source)
    }

    /// Creates the partial file of a run with no draws yet.
    fn create(&mut self) -> Result<File> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&self.partial)
            .map_err(|e| self.io(e))?;
        self.created = true;
        self.hasher = Xxh3::new();
        Ok(file)
    }

    fn refuse(&self, message: String) -> Error {
        Error::Data {
            path: self.partial.clone(),
            line: None,
            message,
        }
    }

    /// Opens the partial file of an interrupted run, checks that its first `received.draws`
    /// draws are the checkpoint's, and cuts it back to them.
    fn reopen(&mut self, layout: &DrawLayout, received: Received) -> Result<File> {
        if !self.partial.exists() && self.path.exists() {
            return Err(Error::Data {
                path: self.path.clone(),
                line: None,
                message: "is complete: the run this checkpoint belongs to has finished, so \
                          there is nothing to resume"
                    .into(),
            });
        }
        if !self.partial.exists() && received.draws == 0 {
            // Stopped before its first kept draw, the run removed its empty partial file.
            return self.create();
        }
        let existing = DrawsFile::open(&self.partial, Extent::AtLeastDeclared, false)?;
        let per_draw = (layout.chains * layout.dim * 4) as u64;
        let data = existing.file.metadata().map_err(|e| self.io(e))?.len() - existing.data_offset;
        let held = data / per_draw.max(1);
        let delivered = received.draws;
        if existing.shape[1..] != [layout.chains as u64, layout.dim as u64]
            || held < delivered as u64
        {
            return Err(self.refuse(format!(
                "holds {held} draws of {} chains × {} dimensions; the checkpoint needs {delivered} \
                 draws of {} × {}",
                existing.shape[1], existing.shape[2], layout.chains, layout.dim
            )));
        }
        if existing.data_offset != DRAWS_HEADER_BYTES {
            return Err(self.refuse(
                "was not written by `langevin sample --out`; it cannot be resumed".into(),
            ));
        }
        let mut hasher = Xxh3::new();
        let mut prefix = std::io::Read::take(existing.data()?, delivered as u64 * per_draw);
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = prefix.read(&mut buffer).map_err(|e| self.io(e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        if let Some(want) = received.checksum {
            if hasher.digest() != want {
                return Err(self.refuse(format!(
                    "its first {delivered} draws are not the ones the checkpoint recorded \
                     (checksum {:016x}, expected {want:016x}): it belongs to another run or was \
                     changed. Resume with the --out the checkpointed run was writing",
                    hasher.digest()
                )));
            }
        }
        self.hasher = hasher;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.partial)
            .map_err(|e| self.io(e))?;
        file.set_len(DRAWS_HEADER_BYTES + delivered as u64 * per_draw)
            .map_err(|e| self.io(e))?;
        Ok(file)
    }
}

/// `PATH.partial`.
fn partial_path(path: &Path) -> PathBuf {
    crate::output::with_suffix(path, ".partial")
}

impl Sink for NpyStream {
    fn begin(&mut self, layout: &DrawLayout, received: Received) -> Result<()> {
        crate::output::check_output_path("draws file", &self.path, false)?;
        if self.lock.is_none() {
            self.lock = Some(OutputLock::acquire(&self.path)?);
        }
        self.chains = layout.chains;
        self.dim = layout.dim;
        let mut file = if received.resuming {
            self.reopen(layout, received)?
        } else {
            if self.partial.exists() {
                return Err(self.refuse(
                    "holds the draws of an interrupted run; continue that run with its \
                     checkpoint (`--resume DIR`), or remove the file to start over"
                        .into(),
                ));
            }
            self.create()?
        };
        file.seek(SeekFrom::Start(0)).map_err(|e| self.io(e))?;
        file.write_all(&draws_header([
            received.draws as u64,
            layout.chains as u64,
            layout.dim as u64,
        ]))
        .map_err(|e| self.io(e))?;
        self.written = received.draws;
        self.file = Some(file);
        Ok(())
    }

    fn write(&mut self, block: DrawBlock<'_>) -> Result<()> {
        let (chains, dim) = (self.chains, self.dim);
        let Some(file) = self.file.as_mut() else {
            return Err(Error::invalid("draw sink", "written before the run began"));
        };
        let bytes: &[u8] = bytemuck::cast_slice(block.values);
        let at = DRAWS_HEADER_BYTES + (self.written * chains * dim * 4) as u64;
        let appended = (|| -> std::io::Result<()> {
            file.seek(SeekFrom::Start(at))?;
            file.write_all(bytes)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&draws_header([
                (self.written + block.steps.len()) as u64,
                chains as u64,
                dim as u64,
            ]))
        })();
        appended.map_err(|e| self.io(e))?;
        self.hasher.update(bytes);
        self.written += block.steps.len();
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(file) = &self.file {
            file.sync_data().map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn checksum(&self) -> Option<u64> {
        Some(self.hasher.digest())
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()?;
        self.file = None;
        if self.deferred {
            return Ok(());
        }
        let mut commit = Commit::new();
        commit.adopt(self.partial.clone(), self.path.clone());
        commit.commit()?;
        self.lock = None;
        Ok(())
    }
}

impl Drop for NpyStream {
    /// A run that ends unfinished before its first kept draw leaves no partial file behind:
    /// the one it created holds only a header.
    fn drop(&mut self) {
        if self.created && self.written == 0 && self.file.take().is_some() {
            // Nothing to lose: at worst the empty file stays and the next run says so.
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> (Vec<u64>, Vec<f32>) {
        let bytes = std::fs::read(p).expect("read");
        let npy = npyz::NpyFile::new(&bytes[..]).expect("valid npy");
        (npy.shape().to_vec(), npy.into_vec().expect("f32"))
    }

    #[test]
    fn a_streamed_file_is_valid_npy_while_it_grows_and_after_a_resume() {
        let dir = std::env::temp_dir().join(format!("langevin-sink-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("draws.npy");
        let layout = DrawLayout {
            draws: 5,
            chains: 2,
            dim: 3,
        };
        let values: Vec<f32> = (0..30).map(|v| v as f32).collect();
        let mut sink = NpyStream::new(&path);
        sink.begin(&layout, Received::default()).expect("begin");
        sink.write(DrawBlock {
            first_draw: 0,
            steps: &[1, 2],
            values: &values[..12],
        })
        .expect("write");
        let checksum_after_two = sink.checksum();
        sink.write(DrawBlock {
            first_draw: 2,
            steps: &[3],
            values: &values[12..18],
        })
        .expect("write");
        assert_eq!(
            read(sink.partial_path()),
            (vec![3, 2, 3], values[..18].to_vec())
        );
        // A second stream on the same file is refused while the first holds it.
        let busy = NpyStream::new(&path)
            .begin(&layout, Received::default())
            .expect_err("busy");
        assert!(matches!(busy, Error::Busy { .. }), "{busy}");
        drop(sink);
        // A fresh run does not overwrite the interrupted run's draws.
        let refused = NpyStream::new(&path)
            .begin(&layout, Received::default())
            .expect_err("stale partial");
        assert!(refused.to_string().contains("interrupted run"), "{refused}");
        // Another run's checksum is refused before anything is cut off.
        let foreign = Received {
            resuming: true,
            draws: 2,
            checksum: Some(checksum_after_two.expect("kept") ^ 1),
        };
        let refused = NpyStream::new(&path)
            .begin(&layout, foreign)
            .expect_err("foreign");
        assert!(refused.to_string().contains("not the ones"), "{refused}");
        assert_eq!(read(&partial_path(&path)).0, vec![3, 2, 3]);
        // The interrupted run checkpointed after two draws: the third is dropped, then resumed.
        let mut sink = NpyStream::new(&path);
        let resumed = Received {
            resuming: true,
            draws: 2,
            checksum: checksum_after_two,
        };
        sink.begin(&layout, resumed).expect("resume");
        sink.write(DrawBlock {
            first_draw: 2,
            steps: &[3, 4, 5],
            values: &values[12..],
        })
        .expect("write");
        let whole = sink.checksum();
        sink.finish().expect("finish");
        assert_eq!(read(&path), (vec![5, 2, 3], values.clone()));
        assert_eq!(
            whole,
            Some(xxhash_rust::xxh3::xxh3_64(bytemuck::cast_slice(&values)))
        );
        assert!(!partial_path(&path).exists());
        let mut other = NpyStream::new(&path);
        let wrong = DrawLayout {
            chains: 3,
            ..layout
        };
        std::fs::copy(&path, partial_path(&path)).expect("copy");
        let resume_one = Received {
            resuming: true,
            draws: 1,
            checksum: None,
        };
        assert!(other.begin(&wrong, resume_one).is_err());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    /// A run that fails or stops before its first kept draw leaves no partial file to refuse
    /// the next run (and resuming it starts one); a run with draws keeps them, and a stream
    /// refused by another run's partial file leaves that file alone.
    #[test]
    fn only_a_partial_file_without_draws_goes_when_its_run_ends_unfinished() {
        let dir = std::env::temp_dir().join(format!("langevin-empty-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("draws.npy");
        let layout = DrawLayout {
            draws: 2,
            chains: 1,
            dim: 3,
        };
        let values = [1.0f32, 2.0, 3.0];
        let mut failed = NpyStream::new(&path);
        failed.begin(&layout, Received::default()).expect("begin");
        assert!(partial_path(&path).exists());
        drop(failed);
        assert!(
            !partial_path(&path).exists(),
            "an empty partial file stayed"
        );
        let nothing_yet = Received {
            resuming: true,
            draws: 0,
            checksum: Some(Xxh3::new().digest()),
        };
        let mut resumed = NpyStream::new(&path);
        resumed
            .begin(&layout, nothing_yet)
            .expect("resume before the first draw");
        resumed
            .write(DrawBlock {
                first_draw: 0,
                steps: &[7],
                values: &values,
            })
            .expect("write");
        drop(resumed);
        assert_eq!(read(&partial_path(&path)), (vec![1, 1, 3], values.to_vec()));
        let refused = NpyStream::new(&path)
            .begin(&layout, Received::default())
            .expect_err("stale partial");
        assert!(refused.to_string().contains("interrupted run"), "{refused}");
        assert!(
            partial_path(&path).exists(),
            "another run's draws were removed"
        );
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
