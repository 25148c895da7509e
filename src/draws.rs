//! The kept draws of a run (draws × chains × dimensions) and their export to NPY.

use std::io::Write;
use std::path::Path;

use crate::error::Result;
use crate::npy::{draws_header, DrawsFile, Extent};

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
    /// Each chain's temperature under a ladder; empty without one.
    pub(crate) temperatures: Vec<f32>,
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

    /// The values, draw-major then chain then dimension, without a copy (the Python package
    /// hands them to numpy this way).
    pub fn into_values(self) -> Vec<f32> {
        self.values
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
        let mut out = Vec::new();
        self.dimension_into(dim, &mut out);
        out
    }

    /// [`Draws::dimension`] written into `out`, whose capacity is reused.
    pub(crate) fn dimension_into(&self, dim: usize, out: &mut Vec<f64>) {
        assert!(dim < self.dim, "dimension {dim} out of range");
        out.clear();
        out.extend(
            self.values
                .iter()
                .skip(dim)
                .step_by(self.dim)
                .map(|&v| f64::from(v)),
        );
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

    /// [`Draws::is_divergent`] of every chain, from one pass over the draws in memory order
    /// (asking chain by chain strides through all of them once per chain).
    pub fn divergent_chains(&self) -> Vec<bool> {
        let mut divergent = vec![false; self.chains];
        if self.dim == 0 || self.chains == 0 {
            return divergent;
        }
        for row in self.values.chunks_exact(self.dim * self.chains) {
            for (flag, draw) in divergent.iter_mut().zip(row.chunks_exact(self.dim)) {
                *flag |= draw.iter().any(|v| !v.is_finite());
            }
        }
        divergent
    }

    /// Each chain's temperature under the run's ladder, or `None` without one.
    pub fn chain_temperatures(&self) -> Option<&[f32]> {
        (!self.temperatures.is_empty()).then_some(&self.temperatures[..])
    }

    /// The chains at temperature 1: all of them without a ladder.
    pub fn posterior_chains(&self) -> Vec<usize> {
        match self.chain_temperatures() {
            None => (0..self.chains).collect(),
            Some(temperatures) => (0..self.chains)
                .filter(|&c| temperatures[c] == 1.0)
                .collect(),
        }
    }

    /// Reads draws of `shape` (`[draws, chains, dim]`) back from an NPY file that
    /// [`Draws::write_npy`] or a [`crate::sink::NpyStream`] wrote, checking its dtype and
    /// shape; `steps` and `temperatures` are the run's (see [`crate::Sampler::read_draws`],
    /// which knows them).
    pub(crate) fn read_npy(
        path: &Path,
        shape: [u64; 3],
        steps: Vec<u32>,
        temperatures: Vec<f32>,
    ) -> Result<Draws> {
        let file = DrawsFile::open(path, Extent::Complete, false)?;
        if file.shape != shape {
            return Err(crate::Error::Data {
                path: path.to_owned(),
                line: None,
                message: format!(
                    "has shape {:?}; this run's draws are {shape:?} (draws, chains, dim)",
                    file.shape
                ),
            });
        }
        Ok(Draws {
            draws: shape[0] as usize,
            chains: shape[1] as usize,
            dim: shape[2] as usize,
            values: file.read_all()?,
            steps,
            temperatures,
        })
    }

    /// Writes the draws as an NPY file of little-endian f32 with shape `[draws, chains, dim]`
    /// (`numpy.load(path)` reads it).
    ///
    /// The file is written under a temporary name beside `path` and renamed when complete, so
    /// `path` never holds a partial file (see [`crate::output::write_atomically`]).
    pub fn write_npy(&self, path: impl AsRef<Path>) -> Result<()> {
        let shape = [self.draws as u64, self.chains as u64, self.dim as u64];
        crate::output::write_atomically(path, |out| {
            out.write_all(&draws_header(shape))?;
            if cfg!(target_endian = "little") {
                out.write_all(bytemuck::cast_slice(&self.values))
            } else {
                self.values
                    .iter()
                    .try_for_each(|v| out.write_all(&v.to_le_bytes()))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Draws;

    #[test]
    fn divergent_chains_match_chain_by_chain() {
        let (draws, chains, dim) = (4, 5, 3);
        let mut values: Vec<f32> = (0..draws * chains * dim).map(|v| v as f32).collect();
        // Chain 1 at draw 0, dimension 2; chain 3 at the last draw, dimension 0; chain 4 ±∞.
        values[dim + 2] = f32::NAN;
        values[((draws - 1) * chains + 3) * dim] = f32::NAN;
        values[(2 * chains + 4) * dim + 1] = f32::NEG_INFINITY;
        let run = Draws {
            draws,
            chains,
            dim,
            values,
            steps: (1..=draws as u32).collect(),
            temperatures: Vec::new(),
        };
        let each: Vec<bool> = (0..chains).map(|c| run.is_divergent(c)).collect();
        assert_eq!(each, [false, true, false, true, true]);
        assert_eq!(run.divergent_chains(), each);
    }
}
