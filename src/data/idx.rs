//! IDX files, the format of MNIST and Fashion-MNIST (raw or gzip): an image file of unsigned
//! bytes `[count, rows, columns]` and a label file `[count]`, read into a dense dataset with
//! pixels scaled to [0, 1] and class labels 0..K−1.
//!
//! Format (LeCun et al.): a big-endian magic word `0x0000_08NN` (`08`: unsigned bytes, `NN`:
//! the number of dimensions), one big-endian u32 per dimension, then the values row-major.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{data_error, Dataset, Features, Origin};
use crate::error::{Error, Result};

/// Where the Debian package `dataset-fashion-mnist` installs Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// Environment variable that points `--data fashion-mnist` at another directory holding the
/// same four files.
pub const FASHION_MNIST_ENV: &str = "LANGEVIN_FASHION_MNIST";
/// What `--data` takes to mean the installed Fashion-MNIST.
pub const FASHION_MNIST_SHORTCUT: &str = "fashion-mnist";

/// Fashion-MNIST's classes.
pub const FASHION_MNIST_CLASSES: usize = 10;

/// The four files of Fashion-MNIST (or MNIST) in `dir`: (training images, training labels,
/// test images, test labels).
pub fn fashion_mnist_files(dir: &Path) -> [PathBuf; 4] {
    [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    .map(|name| dir.join(name))
}

/// The directory `--data fashion-mnist` reads: `$LANGEVIN_FASHION_MNIST`, else the Debian
/// package's. An error saying what to install when its files are missing.
pub fn fashion_mnist_dir() -> Result<PathBuf> {
    let dir = std::env::var_os(FASHION_MNIST_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(FASHION_MNIST_DIR));
    let missing: Vec<String> = fashion_mnist_files(&dir)
        .iter()
        .filter(|file| !file.is_file())
        .map(|file| file.display().to_string())
        .collect();
    if missing.is_empty() {
        return Ok(dir);
    }
    Err(Error::invalid(
        "data",
        format!(
            "Fashion-MNIST is not installed: {} missing. Install it with `apt-get install \
             dataset-fashion-mnist` (Debian/Ubuntu), or download the four files from \
             https://github.com/zalandoresearch/fashion-mnist into a directory and set \
             {FASHION_MNIST_ENV} to it",
            missing.join(", ")
        ),
    ))
}

/// The label file beside an image file: `…-images-idx3-ubyte[.gz]` → `…-labels-idx1-ubyte[.gz]`.
pub fn labels_beside(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    let labels = name.replace("images-idx3", "labels-idx1");
    (labels != name).then(|| images.with_file_name(labels))
}

/// Whether `path` looks like an IDX file (by its name: `…idx1-ubyte`, `…idx3-ubyte`, with or
/// without `.gz`).
pub fn is_idx(path: &Path) -> bool {
    let name = path.to_string_lossy();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.ends_with("-ubyte") && name.contains("idx")
}

/// The bytes of `path`, gunzipped when they start with gzip's magic number.
fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|source| Error::io(path.to_owned(), source))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|error| {
            data_error(
                path,
                None,
                format!("the gzip stream is truncated or corrupt ({error})"),
            )
        })?;
    Ok(out)
}

/// The dimensions and values of an IDX file of unsigned bytes with `dims` dimensions.
fn read_idx_bytes(path: &Path, dims: usize, what: &str) -> Result<(Vec<usize>, Vec<u8>)> {
    let bytes = read_maybe_gzip(path)?;
    let expected_magic = 0x0800 | dims as u32;
    let header = 4 + 4 * dims;
    if bytes.len() < header {
        return Err(data_error(
            path,
            None,
            format!(
                "{} bytes: too short for an IDX header ({header} bytes)",
                bytes.len()
            ),
        ));
    }
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let magic = word(0);
    if magic != expected_magic {
        return Err(data_error(
            path,
            None,
            format!(
                "magic number {magic:#010x} is not an IDX file of {what} ({expected_magic:#010x}: \
                 unsigned bytes, {dims} dimension(s))"
            ),
        ));
    }
    let shape: Vec<usize> = (0..dims).map(|d| word(4 + 4 * d) as usize).collect();
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .unwrap_or(usize::MAX);
    let body = bytes.len() - header;
    if body != count {
        return Err(data_error(
            path,
            None,
            format!(
                "the header declares {shape:?} = {count} values but the file holds {body} \
                 (truncated or padded)"
            ),
        ));
    }
    Ok((shape, bytes[header..].to_vec()))
}

impl Dataset {
    /// Images and labels from IDX files (raw or gzip): each image flattened row-major into
    /// `rows × columns` features scaled to [0, 1], labels the class numbers 0..K−1. `classes`
    /// (K) is checked when given, else taken as the largest label plus one. Refused, naming the
    /// file: a wrong magic number, a header that disagrees with the file's length (truncated),
    /// a corrupt gzip stream, image and label counts that differ, a label ≥ K.
    pub fn read_idx(images: &Path, labels: &Path, classes: Option<usize>) -> Result<Dataset> {
        let (shape, pixels) = read_idx_bytes(images, 3, "images")?;
        let (label_shape, label_bytes) = read_idx_bytes(labels, 1, "labels")?;
        let (count, height, width) = (shape[0], shape[1], shape[2]);
        if label_shape[0] != count {
            return Err(data_error(
                labels,
                None,
                format!(
                    "{} labels for the {count} images of {}",
                    label_shape[0],
                    images.display()
                ),
            ));
        }
        if let Some(k) = classes {
            if let Some(i) = label_bytes.iter().position(|&l| usize::from(l) >= k) {
                return Err(data_error(
                    labels,
                    None,
                    format!(
                        "label {} of example {i} is not a class of 0..{k}",
                        label_bytes[i]
                    ),
                ));
            }
        }
        // k · (1/255), as the network kernels decode packed bytes: the same f32 on both sides.
        let x: Vec<f32> = pixels
            .iter()
            .map(|&p| f32::from(p) * (1.0 / 255.0))
            .collect();
        let origin = Origin {
            path: images.to_owned(),
            lines: Vec::new(),
        };
        Dataset::checked(
            origin,
            height * width,
            label_bytes.iter().map(|&l| f32::from(l)).collect(),
            Features::Dense(x),
        )
    }

    /// The first `count` examples (all of them if there are fewer).
    pub fn head(&self, count: usize) -> Dataset {
        let rows = count.min(self.rows);
        let x = match &self.x {
            Features::Dense(x) => Features::Dense(x[..rows * self.features].to_vec()),
            Features::Sparse {
                offsets,
                columns,
                values,
            } => {
                let end = offsets[rows] as usize;
                Features::Sparse {
                    offsets: offsets[..=rows].to_vec(),
                    columns: columns[..end].to_vec(),
                    values: values[..end].to_vec(),
                }
            }
        };
        Dataset {
            rows,
            features: self.features,
            labels: self.labels[..rows].to_vec(),
            x,
            origin: Origin {
                path: self.origin.path.clone(),
                lines: self.origin.lines.iter().take(rows).copied().collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(body);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).expect("gzip");
        encoder.finish().expect("gzip")
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("langevin-idx-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[test]
    fn reads_raw_and_gzip_images_scaled_with_their_labels() {
        let dir = scratch("good");
        let pixels = [0u8, 255, 51, 102, 0, 0, 255, 255, 1, 2, 3, 4];
        let images = idx(0x0803, &[3, 2, 2], &pixels);
        let labels = idx(0x0801, &[3], &[2, 0, 9]);
        for (suffix, pack) in [("", false), (".gz", true)] {
            let (i, l) = if pack {
                (gzip(&images), gzip(&labels))
            } else {
                (images.clone(), labels.clone())
            };
            let i = write(&dir, &format!("x-images-idx3-ubyte{suffix}"), &i);
            let l = write(&dir, &format!("x-labels-idx1-ubyte{suffix}"), &l);
            assert_eq!(labels_beside(&i).as_deref(), Some(l.as_path()));
            assert!(is_idx(&i) && is_idx(&l));
            let data = Dataset::read_idx(&i, &l, Some(10)).expect("valid");
            assert_eq!((data.rows(), data.features()), (3, 4));
            assert_eq!(data.labels(), &[2.0, 0.0, 9.0]);
            // k · (1/255), the network kernels' decoding, within an ulp of k/255.
            let scaled = [0.0f32, 255.0, 51.0, 102.0].map(|k| k * (1.0 / 255.0));
            assert_eq!(data.to_dense()[..4], scaled);
            assert!((scaled[2] - 0.2).abs() <= f32::EPSILON && scaled[1] == 1.0);
            assert_eq!(data.head(2).rows(), 2);
        }
    }

    #[test]
    fn bad_files_are_refused_naming_the_file() {
        let dir = scratch("bad");
        let good_images = write(&dir, "g-images", &idx(0x0803, &[2, 1, 2], &[1, 2, 3, 4]));
        let good_labels = write(&dir, "g-labels", &idx(0x0801, &[2], &[0, 1]));
        let cases: Vec<(&str, PathBuf, PathBuf, &str)> = vec![
            (
                "magic",
                write(&dir, "m-images", &idx(0x0801, &[2, 1, 2], &[1, 2, 3, 4])),
                good_labels.clone(),
                "magic number",
            ),
            (
                "truncated",
                write(&dir, "t-images", &idx(0x0803, &[2, 1, 2], &[1, 2, 3])),
                good_labels.clone(),
                "truncated",
            ),
            (
                "counts",
                good_images.clone(),
                write(&dir, "c-labels", &idx(0x0801, &[3], &[0, 1, 1])),
                "3 labels for the 2 images",
            ),
            (
                "label",
                good_images.clone(),
                write(&dir, "k-labels", &idx(0x0801, &[2], &[0, 10])),
                "label 10 of example 1",
            ),
            (
                "gzip",
                write(&dir, "z-images", &{
                    let full = gzip(&idx(0x0803, &[2, 1, 2], &[1, 2, 3, 4]));
                    full[..full.len() - 6].to_vec()
                }),
                good_labels.clone(),
                "gzip stream is truncated or corrupt",
            ),
            (
                "short",
                write(&dir, "s-images", &[0, 0, 8]),
                good_labels.clone(),
                "too short",
            ),
        ];
        for (name, images, labels, says) in cases {
            let message = Dataset::read_idx(&images, &labels, Some(10))
                .expect_err(name)
                .to_string();
            assert!(message.contains(says), "{name}: {message}");
            let named = if name == "counts" || name == "label" {
                &labels
            } else {
                &images
            };
            assert!(
                message.contains(&named.display().to_string()),
                "{name}: {message}"
            );
        }
    }
}
