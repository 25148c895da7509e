//! Where kept draws go while a run produces them: memory ([`crate::Run::draws`]), an NPY
//! file that grows ([`NpyStream`]), or a [`Sink`] of your own (a channel, a database).
//!
//! A run hands its sink consecutive blocks of kept draws, in order, each block holding every
//! chain of the run (`[draws][chains][dim]`, the layout of [`Draws`]). Draw readback overlaps
//! sampling: the GPU keeps running while the sink consumes a block.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::draws::Draws;
use crate::error::{Error, Result};

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

/// A consumer of kept draws.
///
/// A sink that sends each block's chain means down a channel, for a consumer thread:
///
/// ```
/// use langevin::sink::{DrawBlock, DrawLayout, Sink};
///
/// struct MeanOfChains {
///     dim: usize,
///     to: std::sync::mpsc::Sender<Vec<f32>>,
/// }
///
/// impl Sink for MeanOfChains {
///     fn begin(&mut self, layout: &DrawLayout, _delivered: usize) -> langevin::Result<()> {
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
/// sink.begin(&DrawLayout { draws: 1, chains: 2, dim: 2 }, 0)?;
/// sink.write(DrawBlock { first_draw: 0, steps: &[10], values: &[1.0, 2.0, 3.0, 4.0] })?;
/// assert_eq!(from.recv().unwrap(), vec![2.0, 3.0]);
/// # Ok::<(), langevin::Error>(())
/// ```
///
/// The run calls [`Sink::begin`] once, [`Sink::write`] for each block in order, [`Sink::flush`]
/// before it writes a checkpoint, and [`Sink::finish`] after the last block. A run resumed from
/// a checkpoint calls `begin` with the number of draws the sink had durably received when the
/// checkpoint was written; the sink must drop anything it holds past that point, so that no
/// draw is lost or delivered twice.
pub trait Sink {
    /// Prepares for a run of `layout`, `delivered` draws of which were received before a
    /// resume (0 for a fresh run).
    fn begin(&mut self, layout: &DrawLayout, delivered: usize) -> Result<()>;
    /// Consumes the next block.
    fn write(&mut self, block: DrawBlock<'_>) -> Result<()>;
    /// Makes everything written so far durable (a checkpoint follows).
    fn flush(&mut self) -> Result<()> {
        Ok(())
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
    fn begin(&mut self, layout: &DrawLayout, delivered: usize) -> Result<()> {
        if delivered > 0 {
            return Err(Error::invalid(
                "resume",
                "draws kept in memory do not survive the process; resume into the NPY file the \
                 interrupted run was writing",
            ));
        }
        let total = layout.draws as u64 * layout.chains as u64 * layout.dim as u64;
        self.values
            .try_reserve_exact(total as usize)
            .map_err(|_| Error::HostMemory { bytes: total * 4 })?;
        self.steps.reserve(layout.draws);
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

/// Header bytes of the NPY files [`NpyStream`] writes: fixed, so the shape can be rewritten in
/// place as draws are appended.
const NPY_HEADER_BYTES: usize = 128;

/// The NPY v1.0 header of an f32 array of `shape`, padded to [`NPY_HEADER_BYTES`].
pub(crate) fn npy_header(shape: [usize; 3]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}, {}), }}",
        shape[0], shape[1], shape[2]
    );
    let mut header = b"\x93NUMPY\x01\x00".to_vec();
    let text_len = NPY_HEADER_BYTES - header.len() - 2;
    header.extend_from_slice(&(text_len as u16).to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    header.resize(NPY_HEADER_BYTES - 1, b' ');
    header.push(b'\n');
    header
}

/// Reads the shape back from a header [`npy_header`] wrote; `None` if it is not one.
fn parse_npy_header(header: &[u8]) -> Option<[usize; 3]> {
    if header.len() != NPY_HEADER_BYTES || !header.starts_with(b"\x93NUMPY\x01\x00") {
        return None;
    }
    let text = std::str::from_utf8(&header[10..]).ok()?;
    if !text.contains("'descr': '<f4'") || !text.contains("'fortran_order': False") {
        return None;
    }
    let inner = text.split("'shape': (").nth(1)?.split(')').next()?;
    let numbers: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    numbers.try_into().ok()
}

/// Streams draws into an NPY file (f32, shape `[draws, chains, dim]`) as they arrive.
///
/// While the run goes on the file is `PATH.partial`: a valid NPY file at every moment, whose
/// shape counts the draws appended so far (the data go first, then the header is rewritten),
/// so `numpy.load("draws.npy.partial")` reads whatever an interrupted run produced. When the
/// run finishes the file is renamed to `PATH`; a file at `PATH` is therefore always complete.
#[derive(Debug)]
pub struct NpyStream {
    path: PathBuf,
    partial: PathBuf,
    file: Option<File>,
    chains: usize,
    dim: usize,
    written: usize,
}

impl NpyStream {
    /// A stream that will write `path` (through `path.partial`).
    pub fn new(path: impl AsRef<Path>) -> NpyStream {
        let path = path.as_ref().to_owned();
        NpyStream {
            partial: partial_path(&path),
            path,
            file: None,
            chains: 0,
            dim: 0,
            written: 0,
        }
    }

    /// Where draws go until the run finishes.
    pub fn partial_path(&self) -> &Path {
        &self.partial
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.partial.clone(),
            source,
        }
    }

    /// Opens the partial file of an interrupted run and cuts it back to `delivered` draws.
    fn reopen(&mut self, layout: &DrawLayout, delivered: usize) -> Result<File> {
        if !self.partial.exists() && self.path.exists() {
            return Err(Error::Data {
                path: self.path.clone(),
                line: None,
                message: "is complete: the run this checkpoint belongs to has finished, so \
                          there is nothing to resume"
                    .into(),
            });
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.partial)
            .map_err(|e| self.io(e))?;
        let mut header = vec![0u8; NPY_HEADER_BYTES];
        file.read_exact(&mut header).map_err(|e| self.io(e))?;
        let shape = parse_npy_header(&header).ok_or_else(|| Error::Data {
            path: self.partial.clone(),
            line: None,
            message: "not a draws file this program streamed; it cannot be resumed".into(),
        })?;
        let bytes = file.metadata().map_err(|e| self.io(e))?.len();
        let per_draw = (layout.chains * layout.dim * 4) as u64;
        let held = (bytes - NPY_HEADER_BYTES as u64) / per_draw.max(1);
        if shape[1..] != [layout.chains, layout.dim] || held < delivered as u64 {
            return Err(Error::Data {
                path: self.partial.clone(),
                line: None,
                message: format!(
                    "holds {held} draws of {} chains × {} dimensions; the checkpoint needs {delivered} \
                     draws of {} × {}",
                    shape[1], shape[2], layout.chains, layout.dim
                ),
            });
        }
        file.set_len(NPY_HEADER_BYTES as u64 + delivered as u64 * per_draw)
            .map_err(|e| self.io(e))?;
        Ok(file)
    }
}

/// `PATH.partial`.
fn partial_path(path: &Path) -> PathBuf {
    crate::output::with_suffix(path, ".partial")
}

impl Sink for NpyStream {
    fn begin(&mut self, layout: &DrawLayout, delivered: usize) -> Result<()> {
        self.chains = layout.chains;
        self.dim = layout.dim;
        let mut file = if delivered > 0 {
            self.reopen(layout, delivered)?
        } else {
            File::create(&self.partial).map_err(|e| self.io(e))?
        };
        file.seek(SeekFrom::Start(0)).map_err(|e| self.io(e))?;
        file.write_all(&npy_header([delivered, layout.chains, layout.dim]))
            .map_err(|e| self.io(e))?;
        self.written = delivered;
        self.file = Some(file);
        Ok(())
    }

    fn write(&mut self, block: DrawBlock<'_>) -> Result<()> {
        let (chains, dim) = (self.chains, self.dim);
        let Some(file) = self.file.as_mut() else {
            return Err(Error::invalid("draw sink", "written before the run began"));
        };
        let at = NPY_HEADER_BYTES as u64 + (self.written * chains * dim * 4) as u64;
        let appended = (|| -> std::io::Result<()> {
            file.seek(SeekFrom::Start(at))?;
            file.write_all(bytemuck::cast_slice(block.values))?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&npy_header([self.written + block.steps.len(), chains, dim]))
        })();
        appended.map_err(|e| self.io(e))?;
        self.written += block.steps.len();
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(file) = &self.file {
            file.sync_data().map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()?;
        self.file = None;
        std::fs::rename(&self.partial, &self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_round_trips_and_keeps_its_length() {
        for shape in [[0, 1, 1], [123_456_789_012, 4_000_000, 1_000_000]] {
            let header = npy_header(shape);
            assert_eq!(header.len(), NPY_HEADER_BYTES);
            assert_eq!(parse_npy_header(&header), Some(shape));
        }
    }

    #[test]
    fn a_streamed_file_is_valid_npy_while_it_grows_and_after_a_resume() {
        let dir = std::env::temp_dir().join(format!("langevin-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("draws.npy");
        let layout = DrawLayout {
            draws: 5,
            chains: 2,
            dim: 3,
        };
        let values: Vec<f32> = (0..30).map(|v| v as f32).collect();
        let mut sink = NpyStream::new(&path);
        sink.begin(&layout, 0).expect("begin");
        sink.write(DrawBlock {
            first_draw: 0,
            steps: &[1, 2, 3],
            values: &values[..18],
        })
        .expect("write");
        let read = |p: &Path| -> (Vec<u64>, Vec<f32>) {
            let bytes = std::fs::read(p).expect("read");
            let npy = npyz::NpyFile::new(&bytes[..]).expect("valid npy");
            (npy.shape().to_vec(), npy.into_vec().expect("f32"))
        };
        assert_eq!(
            read(sink.partial_path()),
            (vec![3, 2, 3], values[..18].to_vec())
        );
        drop(sink);
        // An interrupted run checkpointed after two draws: the third is dropped, then resumed.
        let mut sink = NpyStream::new(&path);
        sink.begin(&layout, 2).expect("resume");
        sink.write(DrawBlock {
            first_draw: 2,
            steps: &[3, 4, 5],
            values: &values[12..],
        })
        .expect("write");
        sink.finish().expect("finish");
        assert_eq!(read(&path), (vec![5, 2, 3], values));
        assert!(!partial_path(&path).exists());
        let mut other = NpyStream::new(&path);
        let wrong = DrawLayout {
            chains: 3,
            ..layout
        };
        std::fs::copy(&path, partial_path(&path)).expect("copy");
        assert!(other.begin(&wrong, 1).is_err());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
