//! The NPY format, once: the header langevin writes for draws files, and a strict reader that
//! every consumer of draws (resume, merge, plot, [`crate::Draws::read_npy`]) goes through.
//!
//! NPY (NumPy's `.npy`, format versions 1–3) is a magic string, a version, a header length
//! and a Python dict literal `{'descr': …, 'fortran_order': …, 'shape': (…), }`, padded so
//! the data start on a 16- or 64-byte boundary. A draws file is `'<f4'` (little-endian f32),
//! C order, shape `[draws, chains, dim]`. The reader says what it found when a file is not
//! that (`float64 ('<f8')`, a 2-D shape, a truncated body) instead of reinterpreting bytes.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// Header bytes of the draws files langevin writes: fixed, so the shape of a file that grows
/// can be rewritten in place.
pub(crate) const DRAWS_HEADER_BYTES: u64 = 128;

/// The NPY 1.0 header of a little-endian f32 array of `shape` in C order, padded to
/// [`DRAWS_HEADER_BYTES`].
pub(crate) fn draws_header(shape: [u64; 3]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}, {}), }}",
        shape[0], shape[1], shape[2]
    );
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&[1, 0]);
    let text_len = DRAWS_HEADER_BYTES as usize - header.len() - 2;
    header.extend_from_slice(&(text_len as u16).to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    header.resize(DRAWS_HEADER_BYTES as usize - 1, b' ');
    header.push(b'\n');
    header
}

/// The NPY 1.0 header of a little-endian f32 matrix `[rows, columns]` in C order, padded to a
/// multiple of 64 bytes as NumPy writes it.
fn matrix_header(rows: usize, columns: usize) -> Vec<u8> {
    let dict =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}");
    let unpadded = MAGIC.len() + 4 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&[1, 0]);
    header.extend_from_slice(&((total - MAGIC.len() - 4) as u16).to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    header.resize(total - 1, b' ');
    header.push(b'\n');
    header
}

/// Writes `values` (row-major, `columns` per row) as an NPY f32 matrix.
pub(crate) fn write_matrix(
    out: &mut dyn std::io::Write,
    columns: usize,
    values: &[f32],
) -> std::io::Result<()> {
    let rows = values.len() / columns.max(1);
    out.write_all(&matrix_header(rows, columns))?;
    for value in values {
        out.write_all(&value.to_le_bytes())?;
    }
    Ok(())
}

/// Reads an NPY f32 matrix `[rows, columns]` (C order, little-endian) written by
/// [`write_matrix`] or NumPy; anything else is refused with what was found.
pub(crate) fn read_matrix(path: &Path) -> Result<(usize, usize, Vec<f32>)> {
    let bad = |message: String| Error::Data {
        path: path.to_owned(),
        line: None,
        message,
    };
    let file = File::open(path).map_err(|source| Error::io(path.to_owned(), source))?;
    let length = file
        .metadata()
        .map_err(|source| Error::io(path.to_owned(), source))?
        .len();
    let mut reader = BufReader::new(file);
    let header = read_header(&mut reader, path)?;
    if header.descr != "<f4" || header.fortran_order || header.shape.len() != 2 {
        return Err(bad(format!(
            "holds {} {}in shape {:?}; expected a float32 ('<f4') matrix in C order",
            describe_dtype(&header.descr),
            if header.fortran_order {
                "in Fortran order "
            } else {
                ""
            },
            header.shape
        )));
    }
    let (rows, columns) = (header.shape[0], header.shape[1]);
    let count = rows
        .checked_mul(columns)
        .filter(|&n| header.data_offset.checked_add(n * 4) == Some(length))
        .ok_or_else(|| {
            bad(format!(
                "its header declares {rows} × {columns} values, but {} bytes of data follow it",
                length.saturating_sub(header.data_offset)
            ))
        })?;
    let mut bytes: Vec<u8> = crate::error::try_vec(count * 4, "the matrix's values")?;
    bytes.resize((count * 4) as usize, 0);
    reader
        .read_exact(&mut bytes)
        .map_err(|source| Error::io(path.to_owned(), source))?;
    let values = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((rows as usize, columns as usize, values))
}

/// What an NPY header declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// The dtype string, e.g. `<f4`.
    pub(crate) descr: String,
    /// Whether the data are stored column-major.
    pub(crate) fortran_order: bool,
    /// The array's shape.
    pub(crate) shape: Vec<u64>,
    /// Where the data start in the file.
    pub(crate) data_offset: u64,
}

/// A dtype string in words, for messages: `<f8` is "float64 ('<f8')".
fn describe_dtype(descr: &str) -> String {
    let order = match descr.as_bytes().first() {
        Some(b'>') => "big-endian ",
        _ => "",
    };
    let kind = descr.trim_start_matches(['<', '>', '=', '|']);
    let name = match kind {
        "f2" => "float16",
        "f4" => "float32",
        "f8" => "float64",
        "i1" | "i2" | "i4" | "i8" => {
            return format!(
                "{order}int{} ('{descr}')",
                8 * kind[1..].parse::<u32>().unwrap_or(0)
            )
        }
        "u1" | "u2" | "u4" | "u8" => {
            return format!(
                "{order}uint{} ('{descr}')",
                8 * kind[1..].parse::<u32>().unwrap_or(0)
            )
        }
        "b1" => "bool",
        _ => return format!("dtype '{}'", crate::error::quote(descr)),
    };
    format!("{order}{name} ('{descr}')")
}

/// The value of `key` in the header dict text: the text after `'key':` up to its end.
fn field<'a>(dict: &'a str, key: &str) -> Option<&'a str> {
    ["'", "\""].iter().find_map(|q| {
        let start = dict.find(&format!("{q}{key}{q}"))? + key.len() + 2;
        let rest = dict[start..].trim_start();
        Some(rest.strip_prefix(':')?.trim_start())
    })
}

fn parse_dict(dict: &str) -> std::result::Result<(String, bool, Vec<u64>), String> {
    let descr = field(dict, "descr").ok_or("its header has no 'descr'")?;
    let quote = descr.chars().next().filter(|c| *c == '\'' || *c == '"');
    let descr = match quote {
        Some(q) => descr[1..]
            .split(q)
            .next()
            .ok_or("its 'descr' is not a string")?,
        None => return Err("it holds a structured dtype; draws are plain float32 ('<f4')".into()),
    };
    let fortran = field(dict, "fortran_order").ok_or("its header has no 'fortran_order'")?;
    let fortran_order = if fortran.starts_with("True") {
        true
    } else if fortran.starts_with("False") {
        false
    } else {
        return Err("its 'fortran_order' is neither True nor False".into());
    };
    let shape = field(dict, "shape").ok_or("its header has no 'shape'")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("its 'shape' is not a tuple")?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<u64>())
        .collect::<std::result::Result<Vec<u64>, _>>()
        .map_err(|_| {
            format!(
                "its shape ({}) is not a tuple of sizes",
                crate::error::quote(inner)
            )
        })?;
    Ok((descr.to_owned(), fortran_order, shape))
}

/// Reads and parses the header at the start of `reader`.
pub(crate) fn read_header(reader: &mut impl Read, path: &Path) -> Result<Header> {
    let bad = |message: String| Error::Data {
        path: path.to_owned(),
        line: None,
        message,
    };
    let io = |source: std::io::Error| Error::io(path.to_owned(), source);
    let mut start = [0u8; 8];
    reader.read_exact(&mut start).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            bad("not a readable NPY file: shorter than its magic string".into())
        }
        _ => io(e),
    })?;
    if &start[..6] != MAGIC {
        return Err(bad(
            "not a readable NPY file (no \\x93NUMPY magic string at its start)".into(),
        ));
    }
    let (length_bytes, major) = match start[6] {
        1 => (2usize, 1),
        2 | 3 => (4, start[6]),
        v => {
            return Err(bad(format!(
                "NPY format version {v}.{} is not one this program reads (1–3)",
                start[7]
            )))
        }
    };
    let mut length = [0u8; 4];
    reader
        .read_exact(&mut length[..length_bytes])
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => bad("truncated inside its NPY header".into()),
            _ => io(e),
        })?;
    let text_len = u32::from_le_bytes(length) as usize;
    if text_len > 1 << 20 {
        return Err(bad(format!(
            "declares an NPY header of {text_len} bytes; not a draws file"
        )));
    }
    let mut text = vec![0u8; text_len];
    reader.read_exact(&mut text).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => bad("truncated inside its NPY header".into()),
        _ => io(e),
    })?;
    let dict: String = if major == 3 {
        String::from_utf8_lossy(&text).into_owned()
    } else {
        text.iter().map(|&b| char::from(b)).collect()
    };
    let (descr, fortran_order, shape) =
        parse_dict(&dict).map_err(|why| bad(format!("not a readable NPY file: {why}")))?;
    Ok(Header {
        descr,
        fortran_order,
        shape,
        data_offset: (8 + length_bytes + text_len) as u64,
    })
}

/// How much of a draws file must be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extent {
    /// Exactly the values its header declares (a finished file).
    Complete,
    /// At least the values its header declares (a `.partial` file that grows: a block may be
    /// written before the header counts it).
    AtLeastDeclared,
    /// Any whole number of draws, up to what the header declares (a file to plot as far as it
    /// goes).
    #[cfg_attr(not(feature = "plot"), allow(dead_code))]
    Prefix,
}

/// An open draws file whose header has been checked: f32 little-endian, three dimensions.
#[derive(Debug)]
pub(crate) struct DrawsFile {
    pub(crate) path: PathBuf,
    /// `[draws, chains, dim]` as the header declares it.
    pub(crate) shape: [u64; 3],
    /// Whole draws of data present in the file (at most `shape[0]` for [`Extent::Prefix`]).
    pub(crate) draws_present: u64,
    #[cfg_attr(not(feature = "plot"), allow(dead_code))]
    pub(crate) fortran_order: bool,
    pub(crate) data_offset: u64,
    pub(crate) file: File,
}

impl DrawsFile {
    /// Opens `path` and checks that it is a draws file; `fortran` allows column-major files
    /// (the plot reads them), `extent` says how much data must follow the header. A file that
    /// is not one is refused with what was found and what was expected.
    pub(crate) fn open(path: &Path, extent: Extent, fortran: bool) -> Result<DrawsFile> {
        Self::open_unexplained(path, extent, fortran).map_err(|e| match e {
            Error::Data {
                path,
                line,
                message,
            } => Error::Data {
                path,
                line,
                message: format!(
                    "{message}; expected a draws file from `langevin sample --out` (NPY, f32, \
                     shape [draws, chains, dim])"
                ),
            },
            other => other,
        })
    }

    fn open_unexplained(path: &Path, extent: Extent, fortran: bool) -> Result<DrawsFile> {
        let io = |source: std::io::Error| Error::io(path.to_owned(), source);
        let bad = |message: String| Error::Data {
            path: path.to_owned(),
            line: None,
            message,
        };
        let file = File::open(path).map_err(io)?;
        let header = read_header(&mut BufReader::new(&file), path)?;
        if header.descr != "<f4" && !(header.descr == "=f4" && cfg!(target_endian = "little")) {
            return Err(bad(format!(
                "holds {}, not little-endian float32 ('<f4') (numpy: `a.astype('<f4')`)",
                describe_dtype(&header.descr)
            )));
        }
        if header.fortran_order && !fortran {
            return Err(bad(
                "is stored in Fortran (column-major) order; draws files are C order \
                 (numpy: `np.ascontiguousarray(a)`)"
                    .into(),
            ));
        }
        let shape: [u64; 3] = header.shape.clone().try_into().map_err(|_| {
            bad(format!(
                "has shape {:?}; draws files have three dimensions [draws, chains, dim]",
                header.shape
            ))
        })?;
        let per_draw = shape[1]
            .checked_mul(shape[2])
            .and_then(|n| n.checked_mul(4))
            .ok_or_else(|| bad(format!("declares an impossible shape {shape:?}")))?;
        let declared = shape[0]
            .checked_mul(per_draw)
            .ok_or_else(|| bad(format!("declares an impossible shape {shape:?}")))?;
        let length = file.metadata().map_err(io)?.len();
        let data = length.saturating_sub(header.data_offset);
        let draws_present = match extent {
            Extent::Complete if data != declared => {
                return Err(bad(format!(
                    "holds {data} bytes of data where its shape {shape:?} needs {declared}: the \
                     file is truncated or was written by something else"
                )))
            }
            Extent::AtLeastDeclared if data < declared => {
                return Err(bad(format!(
                    "holds {data} bytes of data, less than the {declared} its shape {shape:?} \
                     declares: the file is damaged"
                )))
            }
            Extent::Prefix if !header.fortran_order && per_draw > 0 => {
                (data / per_draw).min(shape[0])
            }
            Extent::Prefix if data < declared => {
                return Err(bad(format!(
                    "ends after {data} of {declared} bytes of data: a Fortran-order file must be \
                     complete"
                )))
            }
            _ => shape[0],
        };
        Ok(DrawsFile {
            path: path.to_owned(),
            shape,
            draws_present,
            fortran_order: header.fortran_order,
            data_offset: header.data_offset,
            file,
        })
    }

    /// A reader positioned at the first value.
    pub(crate) fn data(&self) -> Result<BufReader<&File>> {
        let mut reader = BufReader::with_capacity(1 << 20, &self.file);
        reader
            .seek(SeekFrom::Start(self.data_offset))
            .map_err(|source| Error::io(self.path.clone(), source))?;
        Ok(reader)
    }

    /// Every value of the draws present, in file order; the allocation is refused with a
    /// typed error when the host cannot hold it.
    pub(crate) fn read_all(&self) -> Result<Vec<f32>> {
        let count = self.draws_present * self.shape[1] * self.shape[2];
        let mut values: Vec<f32> = crate::error::try_vec(count, "the draws file's values")?;
        values.resize(count as usize, 0.0);
        self.data()?
            .read_exact(bytemuck::cast_slice_mut(&mut values))
            .map_err(|source| Error::io(self.path.clone(), source))?;
        if cfg!(target_endian = "big") {
            values
                .iter_mut()
                .for_each(|v| *v = f32::from_bits(v.to_bits().swap_bytes()));
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draws_header_round_trips_and_keeps_its_length() {
        for shape in [[0, 1, 1], [123_456_789_012, 4_000_000, 1_000_000]] {
            let header = draws_header(shape);
            assert_eq!(header.len() as u64, DRAWS_HEADER_BYTES);
            let parsed = read_header(&mut &header[..], Path::new("x")).expect("parses");
            assert_eq!(parsed.shape, shape.to_vec());
            assert_eq!(parsed.descr, "<f4");
            assert!(!parsed.fortran_order);
            assert_eq!(parsed.data_offset, DRAWS_HEADER_BYTES);
        }
    }

    #[test]
    fn numpy_headers_of_every_version_parse() {
        let dict = "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 4), }";
        for (version, length_bytes) in [(1u8, 2usize), (2, 4), (3, 4)] {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&[version, 0]);
            bytes.extend_from_slice(&(dict.len() as u32).to_le_bytes()[..length_bytes]);
            bytes.extend_from_slice(dict.as_bytes());
            let header = read_header(&mut &bytes[..], Path::new("x")).expect("parses");
            assert_eq!(header.descr, "<f8");
            assert!(header.fortran_order);
            assert_eq!(header.shape, vec![3, 4]);
        }
    }

    #[test]
    fn dtypes_are_named_in_words() {
        assert_eq!(describe_dtype("<f8"), "float64 ('<f8')");
        assert_eq!(describe_dtype(">f4"), "big-endian float32 ('>f4')");
        assert_eq!(describe_dtype("<i8"), "int64 ('<i8')");
    }
}
