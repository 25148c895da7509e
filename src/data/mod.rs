//! Datasets: features and labels loaded from LIBSVM, CSV or IDX files or given in memory,
//! checked for malformed lines and non-finite values, kept dense or sparse (CSR) in f32.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::error::{quote, Error, Result};

mod idx;
pub use idx::{
    fashion_mnist_dir, fashion_mnist_files, is_idx, labels_beside, FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIR, FASHION_MNIST_ENV, FASHION_MNIST_SHORTCUT,
};

/// Feature storage, row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum Features {
    /// `x[r · features + j]`.
    Dense(Vec<f32>),
    /// Compressed sparse rows: row `r` holds `values[offsets[r]..offsets[r+1]]` at columns
    /// `columns[..]` (0-based, strictly increasing within a row).
    Sparse {
        /// `rows + 1` offsets into `columns` and `values`.
        offsets: Vec<u32>,
        /// 0-based column of each stored value.
        columns: Vec<u32>,
        /// The stored values.
        values: Vec<f32>,
    },
}

/// A dataset: `rows` examples of `features` features with one label each.
#[derive(Clone, PartialEq)]
pub struct Dataset {
    rows: usize,
    features: usize,
    labels: Vec<f32>,
    x: Features,
    /// Where the rows came from, for messages about one of them.
    origin: Origin,
}

/// Shape, origin and a checksum of the values rather than the values: a data set can hold
/// tens of millions (and its `Debug` text names the run in checkpoints).
impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(bytemuck::cast_slice(&self.labels));
        match &self.x {
            Features::Dense(x) => hasher.update(bytemuck::cast_slice(x)),
            Features::Sparse {
                offsets,
                columns,
                values,
            } => {
                hasher.update(bytemuck::cast_slice(offsets));
                hasher.update(bytemuck::cast_slice(columns));
                hasher.update(bytemuck::cast_slice(values));
            }
        }
        let storage = match self.x {
            Features::Dense(_) => "dense",
            Features::Sparse { .. } => "sparse",
        };
        f.debug_struct("Dataset")
            .field("rows", &self.rows)
            .field("features", &self.features)
            .field("storage", &storage)
            .field("path", &self.origin.path)
            .field("checksum", &format_args!("{:016x}", hasher.digest()))
            .finish()
    }
}

/// The file (and its line of each row) a dataset was read from, or memory.
#[derive(Debug, Clone, PartialEq)]
struct Origin {
    path: PathBuf,
    /// 1-based line of each row in the file; empty for arrays given in memory.
    lines: Vec<u32>,
}

/// The most features (and so coefficients) a data model can have: 2³⁰, the largest target
/// langevin runs.
pub const MAX_FEATURES: usize = 1 << 30;

/// What to do with a LIBSVM feature index beyond the declared number of features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraFeatures {
    /// Refuse the file, naming the line.
    Error,
    /// Drop such features, as LIBSVM does when predicting with a model trained on fewer
    /// features (they would meet a weight of zero). The count dropped is logged.
    Ignore,
}

/// Which CSV column holds the label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelColumn {
    /// The column with this header name (the file must have a header row).
    Named(String),
    /// The last column.
    Last,
}

fn data_error(path: &Path, line: Option<usize>, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_owned(),
        line,
        message: message.into(),
    }
}

fn parse_finite(path: &Path, line: usize, what: &str, text: &str) -> Result<f32> {
    let shown = quote(text);
    let value: f32 = text.trim().parse().map_err(|_| {
        data_error(
            path,
            Some(line),
            format!("{what} `{shown}` is not a number"),
        )
    })?;
    if !value.is_finite() {
        return Err(data_error(
            path,
            Some(line),
            format!("{what} `{shown}` is not finite; NaN and infinities are refused"),
        ));
    }
    Ok(value)
}

/// A line as read, without the UTF-8 byte order mark an editor may put before the first.
fn strip_bom(number: usize, line: String) -> String {
    match (number, line.strip_prefix('\u{feff}')) {
        (0, Some(rest)) => rest.to_owned(),
        _ => line,
    }
}

fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|source| Error::io(path.to_owned(), source))?;
    Ok(std::io::BufReader::new(file))
}

fn read_error(path: &Path, source: std::io::Error) -> Error {
    Error::io(path.to_owned(), source)
}

impl Dataset {
    /// A dense dataset from row-major features `x` (`rows × features`) and `labels`.
    pub fn from_dense(x: Vec<f32>, features: usize, labels: Vec<f32>) -> Result<Dataset> {
        let memory = PathBuf::from("<memory>");
        let rows = labels.len();
        if x.len() != rows * features {
            return Err(data_error(
                &memory,
                None,
                format!(
                    "{} feature values for {rows} labels × {features} features",
                    x.len()
                ),
            ));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(data_error(
                &memory,
                None,
                format!(
                    "feature {} of row {} is {}",
                    i % features.max(1),
                    i / features.max(1),
                    x[i]
                ),
            ));
        }
        let origin = Origin {
            path: memory,
            lines: Vec::new(),
        };
        Self::checked(origin, features, labels, Features::Dense(x))
    }

    /// The same data as [`Dataset::from_dense`], stored compressed by row (CSR: only the
    /// nonzero features), as the LIBSVM reader stores it. For mostly-zero features (one-hot
    /// columns, a9a's 11% density) this is what the data kernels run fastest on, and what a
    /// software adapter's loop limit admits at larger batches.
    pub fn from_dense_as_sparse(x: Vec<f32>, features: usize, labels: Vec<f32>) -> Result<Dataset> {
        let dense = Self::from_dense(x, features, labels)?;
        let Features::Dense(x) = &dense.x else {
            return Ok(dense);
        };
        let (mut offsets, mut columns, mut values) = (vec![0u32], Vec::new(), Vec::new());
        for row in x.chunks_exact(features.max(1)) {
            for (j, &v) in row.iter().enumerate().filter(|(_, &v)| v != 0.0) {
                columns.push(j as u32);
                values.push(v);
            }
            let stored = u32::try_from(values.len()).map_err(|_| {
                data_error(&dense.origin.path, None, "more than 2³² nonzero features")
            })?;
            offsets.push(stored);
        }
        let Dataset { origin, labels, .. } = dense;
        Self::checked(
            origin,
            features,
            labels,
            Features::Sparse {
                offsets,
                columns,
                values,
            },
        )
    }

    fn checked(origin: Origin, features: usize, labels: Vec<f32>, x: Features) -> Result<Dataset> {
        let rows = labels.len();
        if rows == 0 {
            return Err(data_error(&origin.path, None, "the data set is empty"));
        }
        if features > MAX_FEATURES {
            return Err(data_error(
                &origin.path,
                None,
                format!("{features} features are more than the {MAX_FEATURES} a model can have"),
            ));
        }
        let dataset = Dataset {
            rows,
            features,
            labels,
            x,
            origin,
        };
        if let Some(r) = dataset.labels.iter().position(|v| !v.is_finite()) {
            return Err(dataset.row_error(r, format!("label {} is not finite", dataset.labels[r])));
        }
        Ok(dataset)
    }

    /// An error about row `row` (0-based), naming its file and line, or its row number for
    /// data given in memory.
    pub(crate) fn row_error(&self, row: usize, message: impl Into<String>) -> Error {
        let message = message.into();
        match self.origin.lines.get(row) {
            Some(&line) => data_error(&self.origin.path, Some(line as usize), message),
            None => data_error(
                &self.origin.path,
                None,
                format!("row {row} (0-based): {message}"),
            ),
        }
    }

    /// The file the data came from (`<memory>` for arrays).
    pub fn path(&self) -> &Path {
        &self.origin.path
    }

    /// Reads a LIBSVM sparse file: one example per line, `label index:value …`, 1-based
    /// indices in increasing order; `#` starts a comment. The number of features is
    /// `features` when given (indices beyond it handled by `extra`), else the largest index.
    pub fn read_libsvm(
        path: impl AsRef<Path>,
        features: Option<usize>,
        extra: ExtraFeatures,
    ) -> Result<Dataset> {
        let path = path.as_ref();
        let mut labels = Vec::new();
        let mut offsets = vec![0u32];
        let mut columns = Vec::new();
        let mut values = Vec::new();
        let mut largest = 0usize;
        let mut dropped = 0usize;
        let mut lines = Vec::new();
        if let Some(limit) = features.filter(|&f| f > MAX_FEATURES) {
            return Err(data_error(
                path,
                None,
                format!(
                    "{limit} declared features are more than the {MAX_FEATURES} a model can have"
                ),
            ));
        }
        for (number, line) in open(path)?.lines().enumerate() {
            let line = strip_bom(number, line.map_err(|e| read_error(path, e))?);
            let number = number + 1;
            let content = line.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let mut fields = content.split_whitespace();
            let label = fields.next().unwrap_or("");
            labels.push(parse_finite(path, number, "label", label)?);
            lines.push(u32::try_from(number).unwrap_or(u32::MAX));
            let mut previous = 0usize;
            for field in fields {
                let (index, value) = field.split_once(':').ok_or_else(|| {
                    data_error(
                        path,
                        Some(number),
                        format!("`{}` is not `index:value`", quote(field)),
                    )
                })?;
                let index: usize = index.parse().map_err(|_| {
                    data_error(
                        path,
                        Some(number),
                        format!("feature index `{}` is not a positive integer", quote(index)),
                    )
                })?;
                if index > MAX_FEATURES && features.is_none_or(|f| index <= f) {
                    return Err(data_error(
                        path,
                        Some(number),
                        format!(
                            "feature index {index} is beyond {MAX_FEATURES}, the most features a \
                             model can have"
                        ),
                    ));
                }
                if index == 0 {
                    return Err(data_error(
                        path,
                        Some(number),
                        "feature indices start at 1; found 0",
                    ));
                }
                if index <= previous {
                    return Err(data_error(
                        path,
                        Some(number),
                        format!("feature index {index} follows {previous}; indices must increase"),
                    ));
                }
                previous = index;
                let value = parse_finite(path, number, "feature value", value)?;
                if let Some(limit) = features {
                    if index > limit {
                        match extra {
                            ExtraFeatures::Error => {
                                return Err(data_error(
                                    path,
                                    Some(number),
                                    format!(
                                    "feature index {index} is beyond the declared {limit} features"
                                ),
                                ))
                            }
                            ExtraFeatures::Ignore => {
                                dropped += 1;
                                continue;
                            }
                        }
                    }
                }
                largest = largest.max(index);
                columns.push((index - 1) as u32);
                values.push(value);
            }
            let stored = u32::try_from(columns.len())
                .map_err(|_| data_error(path, Some(number), "more than 2³² stored values"))?;
            offsets.push(stored);
        }
        if dropped > 0 {
            log::info!(
                "{}: dropped {dropped} values at feature indices beyond {}",
                path.display(),
                features.unwrap_or(largest)
            );
        }
        let origin = Origin {
            path: path.to_owned(),
            lines,
        };
        Self::checked(
            origin,
            features.unwrap_or(largest),
            labels,
            Features::Sparse {
                offsets,
                columns,
                values,
            },
        )
    }

    /// Reads a numeric CSV file into dense features. A first row with any non-numeric field
    /// is a header. The label is the column named by `label` (needs a header) or the last.
    pub fn read_csv(path: impl AsRef<Path>, label: &LabelColumn) -> Result<Dataset> {
        let path = path.as_ref();
        let mut lines = open(path)?.lines().enumerate();
        let mut header: Option<Vec<String>> = None;
        let mut first_data: Option<(usize, String)> = None;
        for (number, line) in lines.by_ref() {
            let line = strip_bom(number, line.map_err(|e| read_error(path, e))?);
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.iter().any(|f| f.parse::<f64>().is_err()) {
                header = Some(
                    fields
                        .iter()
                        .map(|f| f.trim_matches('"').to_owned())
                        .collect(),
                );
            } else {
                first_data = Some((number, line));
            }
            break;
        }
        let width = match (&header, &first_data) {
            (Some(h), _) => h.len(),
            (None, Some((_, line))) => line.split(',').count(),
            (None, None) => return Err(data_error(path, None, "the data set is empty")),
        };
        // A single column is all labels: observations without covariates (e.g. a mixture).
        let label_column = match label {
            LabelColumn::Last => width - 1,
            LabelColumn::Named(name) => {
                let header = header.as_ref().ok_or_else(|| {
                    data_error(
                        path,
                        Some(1),
                        format!(
                            "label column `{}` asked for, but the file has no header row",
                            quote(name)
                        ),
                    )
                })?;
                header.iter().position(|h| h == name).ok_or_else(|| {
                    data_error(
                        path,
                        Some(1),
                        format!(
                            "no column named `{}`; columns: {}",
                            quote(name),
                            crate::error::quote_long(&header.join(", "))
                        ),
                    )
                })?
            }
        };
        let mut labels = Vec::new();
        let mut x = Vec::new();
        let mut numbers = Vec::new();
        let rest = lines.map(|(n, l)| l.map(|l| (n, l)).map_err(|e| read_error(path, e)));
        for item in first_data.map(Ok).into_iter().chain(rest) {
            let (number, line) = item?;
            let number = number + 1;
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != width {
                return Err(data_error(
                    path,
                    Some(number),
                    format!("{} fields where the file has {width} columns", fields.len()),
                ));
            }
            for (column, field) in fields.iter().enumerate() {
                let what = if column == label_column {
                    "label"
                } else {
                    "value"
                };
                let value = parse_finite(path, number, what, field)?;
                if column == label_column {
                    labels.push(value);
                } else {
                    x.push(value);
                }
            }
            numbers.push(u32::try_from(number).unwrap_or(u32::MAX));
        }
        let origin = Origin {
            path: path.to_owned(),
            lines: numbers,
        };
        Self::checked(origin, width - 1, labels, Features::Dense(x))
    }

    /// Number of examples `N`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of features.
    pub fn features(&self) -> usize {
        self.features
    }

    /// One label per example.
    pub fn labels(&self) -> &[f32] {
        &self.labels
    }

    /// The features as stored.
    pub fn storage(&self) -> &Features {
        &self.x
    }

    /// Fraction of feature entries that are stored (1 for dense data).
    pub fn density(&self) -> f64 {
        match &self.x {
            Features::Dense(_) => 1.0,
            Features::Sparse { values, .. } => {
                values.len() as f64 / (self.rows * self.features) as f64
            }
        }
    }

    /// Whether the features are sparse with every stored value 1 (indicators: one-hot
    /// categories, bag-of-words presence), so that a row is its columns alone.
    pub(crate) fn is_sparse_indicators(&self) -> bool {
        matches!(&self.x, Features::Sparse { values, .. } if values.iter().all(|&v| v == 1.0))
    }

    /// The features as a dense row-major `rows × features` matrix.
    pub fn to_dense(&self) -> Vec<f32> {
        match &self.x {
            Features::Dense(x) => x.clone(),
            Features::Sparse {
                offsets,
                columns,
                values,
            } => {
                let mut dense = vec![0.0; self.rows * self.features];
                for r in 0..self.rows {
                    for k in offsets[r] as usize..offsets[r + 1] as usize {
                        dense[r * self.features + columns[k] as usize] = values[k];
                    }
                }
                dense
            }
        }
    }

    /// The most entries stored in any one row (the features, for dense data).
    pub fn max_row_entries(&self) -> usize {
        match &self.x {
            Features::Dense(_) => self.features,
            Features::Sparse { offsets, .. } => offsets
                .windows(2)
                .map(|w| (w[1] - w[0]) as usize)
                .max()
                .unwrap_or(0),
        }
    }

    /// Calls `visit(column, value)` for every stored entry of `row`, in column order.
    pub fn for_row(&self, row: usize, mut visit: impl FnMut(usize, f32)) {
        match &self.x {
            Features::Dense(x) => {
                for (column, &value) in x[row * self.features..(row + 1) * self.features]
                    .iter()
                    .enumerate()
                {
                    visit(column, value);
                }
            }
            Features::Sparse {
                offsets,
                columns,
                values,
            } => {
                for k in offsets[row] as usize..offsets[row + 1] as usize {
                    visit(columns[k] as usize, values[k]);
                }
            }
        }
    }

    /// Example `row`'s features, dense.
    pub fn dense_row(&self, row: usize) -> Vec<f32> {
        let mut x = vec![0.0; self.features];
        self.for_row(row, |j, v| x[j] = v);
        x
    }

    /// The same data with every label passed through `f`.
    pub(crate) fn map_labels(mut self, f: impl Fn(f32) -> f32) -> Dataset {
        self.labels.iter_mut().for_each(|y| *y = f(*y));
        self
    }

    /// The same data with `features` columns: extra columns are zero (LIBSVM's reading of a
    /// file that never mentions them). Fewer columns than stored is refused.
    pub fn with_features(mut self, features: usize) -> Result<Dataset> {
        if features > MAX_FEATURES {
            return Err(data_error(
                &self.origin.path,
                None,
                format!("{features} features are more than the {MAX_FEATURES} a model can have"),
            ));
        }
        if features < self.features {
            return Err(data_error(
                Path::new("<memory>"),
                None,
                format!("cannot shrink {} features to {features}", self.features),
            ));
        }
        if let Features::Dense(x) = &self.x {
            let mut wide = crate::error::try_filled(
                self.rows as u64 * features as u64,
                0.0,
                "the data widened to the declared features",
            )?;
            for r in 0..self.rows {
                wide[r * features..r * features + self.features]
                    .copy_from_slice(&x[r * self.features..(r + 1) * self.features]);
            }
            self.x = Features::Dense(wide);
        }
        self.features = features;
        Ok(self)
    }
}

impl Dataset {
    /// The features with every row padded to `width ≥ max_row_entries` entries, for kernels
    /// whose loops need a constant trip count: (each row's stored length, columns, values),
    /// the padding entries column 0 and value 0.
    pub(crate) fn padded_rows(&self, width: usize) -> (Vec<u32>, Vec<u32>, Vec<f32>) {
        let width = width.max(1);
        let mut lengths = Vec::with_capacity(self.rows);
        let mut columns = vec![0u32; self.rows * width];
        let mut values = vec![0.0f32; self.rows * width];
        for row in 0..self.rows {
            let mut j = 0;
            self.for_row(row, |column, value| {
                columns[row * width + j] = column as u32;
                values[row * width + j] = value;
                j += 1;
            });
            lengths.push(j as u32);
        }
        (lengths, columns, values)
    }

    /// The features in CSR form for the GPU: (offsets, columns, values).
    pub(crate) fn csr(&self) -> (Vec<u32>, Vec<u32>, Vec<f32>) {
        match self.storage() {
            Features::Sparse {
                offsets,
                columns,
                values,
            } => (offsets.clone(), columns.clone(), values.clone()),
            Features::Dense(x) => {
                let f = self.features();
                let offsets = (0..=self.rows()).map(|r| (r * f) as u32).collect();
                let columns = (0..self.rows()).flat_map(|_| 0..f as u32).collect();
                (offsets, columns, x.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests;
