//! The kept draws of a run (draws × chains × dimensions) and their export to NPY.

use std::path::Path;

use npyz::WriterBuilder;

use crate::error::Result;
use crate::summary::Summary;

/// Draws kept from every chain: `values[(i · C + c) · D + d]` is dimension `d` of chain `c` at
/// kept draw `i`. The same layout as the NPY export, shape `[draws, chains, dim]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Draws {
    pub(crate) draws: usize,
    pub(crate) chains: usize,
    pub(crate) dim: usize,
    pub(crate) values: Vec<f32>,
    /// Updates applied before each kept draw (`t + 1` for the state after step `t`).
    pub(crate) steps: Vec<u32>,
}

impl Draws {
    /// `(draws, chains, dim)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.draws, self.chains, self.dim)
    }

    /// All values, draw-major then chain then dimension.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Coordinate `dim` of `chain` at kept draw `draw`.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn get(&self, draw: usize, chain: usize, dim: usize) -> f32 {
        assert!(draw < self.draws && chain < self.chains && dim < self.dim);
        self.values[(draw * self.chains + chain) * self.dim + dim]
    }

    /// The number of updates each kept draw follows (its step index plus one).
    pub fn steps(&self) -> &[u32] {
        &self.steps
    }

    /// One dimension as f64, draw-major (`out[i · C + c]`), the layout of
    /// [`crate::diagnostics`].
    pub fn dimension(&self, dim: usize) -> Vec<f64> {
        assert!(dim < self.dim, "dimension {dim} out of range");
        self.values
            .iter()
            .skip(dim)
            .step_by(self.dim)
            .map(|&v| f64::from(v))
            .collect()
    }

    /// Whether `chain` ever left the finite numbers (NaN or ±∞ in any kept draw).
    pub fn is_divergent(&self, chain: usize) -> bool {
        (0..self.draws).any(|i| {
            let start = (i * self.chains + chain) * self.dim;
            self.values[start..start + self.dim]
                .iter()
                .any(|v| !v.is_finite())
        })
    }

    /// Per-dimension summaries with R-hat and ESS over the chains that stayed finite.
    pub fn summary(&self) -> Summary {
        Summary::of(self)
    }

    /// Writes the draws as an NPY file of f32 with shape `[draws, chains, dim]`
    /// (`numpy.load(path)` reads it).
    ///
    /// The file is written under a temporary name beside `path` and renamed when complete, so
    /// `path` never holds a partial file.
    pub fn write_npy(&self, path: impl AsRef<Path>) -> Result<()> {
        let shape = [self.draws as u64, self.chains as u64, self.dim as u64];
        crate::output::write_atomically(path, |out| {
            let mut writer = npyz::WriteOptions::new()
                .default_dtype()
                .shape(&shape)
                .writer(out)
                .begin_nd()?;
            writer.extend(self.values.iter().copied())?;
            writer.finish()
        })
    }
}
