//! Models the crate does not ship: the user's WGSL for the gradients, composed into the data
//! kernel, with an optional CPU twin to check it against.

use std::borrow::Cow;
use std::sync::Arc;

use crate::data::Dataset;
use crate::error::{Error, Result};

/// CPU prior gradient: writes `∇θ(−log p(θ))` into `out`.
pub type CpuPriorGradient = Arc<dyn Fn(&[f32], &mut [f32]) + Send + Sync>;
/// CPU likelihood gradient of one example: adds `∇θ log p(y_row | x_row, θ)` into `out`.
pub type CpuLikelihoodGradient = Arc<dyn Fn(&Dataset, usize, &[f32], &mut [f32]) + Send + Sync>;

/// A model on data with user-written WGSL gradients.
///
/// The WGSL defines two functions against the interface documented in
/// `shaders/data_target.wgsl`:
///
/// ```wgsl
/// fn prior_gradient(d: u32) -> f32      // coordinate d of ∇θ(−log p(θ))
/// fn likelihood_gradient(row: u32)      // add ∇θ log p(y_row | x_row, θ) with add_loglik_gradient(d, v)
/// ```
///
/// reading the state with `theta_at(d)`, the data with `row_start(row)`, `row_end(row)`,
/// `column(k)`, `value(k)`, `label(row)`, and the model's constants with `param(i)`. The kernel
/// scales the likelihood by `N/n` for mini-batches and runs SGLD on
/// `U(θ) = −log p(θ) − Σᵢ log p(yᵢ | xᵢ, θ)`. A compile error in the WGSL comes back as
/// [`Error::Shader`] with the compiler's message; the user's code is placed first in the
/// module, so its line numbers are the user's own.
#[derive(Clone)]
pub struct CustomModel {
    pub(crate) name: String,
    pub(crate) dim: usize,
    pub(crate) data: Dataset,
    pub(crate) wgsl: Vec<Cow<'static, str>>,
    pub(crate) params: Vec<f32>,
    /// Loop iterations `likelihood_gradient` runs per example, where known.
    pub(crate) loops_per_example: Option<u64>,
    cpu: Option<(CpuPriorGradient, CpuLikelihoodGradient)>,
}

impl std::fmt::Debug for CustomModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomModel")
            .field("name", &self.name)
            .field("dim", &self.dim)
            .field("rows", &self.data.rows())
            .field("params", &self.params)
            .field("cpu_gradient", &self.cpu.is_some())
            .finish()
    }
}

impl PartialEq for CustomModel {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.dim == other.dim
            && self.data == other.data
            && self.wgsl == other.wgsl
            && self.params == other.params
    }
}

impl CustomModel {
    /// A model named `name` (a label in errors and GPU tools) with `dim` parameters on `data`,
    /// its gradients in `wgsl`, and constants `params` that the WGSL reads with `param(i)`.
    pub fn new(
        name: impl Into<String>,
        dim: usize,
        data: Dataset,
        wgsl: impl Into<Cow<'static, str>>,
        params: Vec<f32>,
    ) -> Result<CustomModel> {
        let name = name.into();
        if dim == 0 {
            return Err(Error::invalid(
                "dimension",
                "a model needs at least one parameter",
            ));
        }
        if let Some(i) = params.iter().position(|p| !p.is_finite()) {
            return Err(Error::invalid(
                "model parameters",
                format!("param({i}) is {}; every constant must be finite", params[i]),
            ));
        }
        let label: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        Ok(CustomModel {
            name: label,
            dim,
            data,
            wgsl: vec![wgsl.into()],
            params,
            loops_per_example: None,
            cpu: None,
        })
    }

    /// Adds the CPU twin of the two gradients, so [`CustomModel::gradient`] can check the GPU.
    pub fn with_cpu_gradient(
        mut self,
        prior: impl Fn(&[f32], &mut [f32]) + Send + Sync + 'static,
        likelihood: impl Fn(&Dataset, usize, &[f32], &mut [f32]) + Send + Sync + 'static,
    ) -> CustomModel {
        self.cpu = Some((Arc::new(prior), Arc::new(likelihood)));
        self
    }

    /// Declares how many loop iterations `likelihood_gradient` runs per example. Software
    /// adapters (llvmpipe) end a shader invocation's loops after a fixed count, so langevin
    /// sizes dispatches on them from this; without it, one pass over the row's entries and one
    /// over the parameters per example are assumed.
    pub fn with_loops_per_example(mut self, loops: u64) -> CustomModel {
        self.loops_per_example = Some(loops);
        self
    }

    /// Parameters `D`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The data.
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// Whether a CPU twin was given ([`CustomModel::with_cpu_gradient`]).
    pub fn has_cpu_gradient(&self) -> bool {
        self.cpu.is_some()
    }

    /// The model's name (its kernels' label).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Σᵢ −∇ log p(yᵢ | θ)` over every example, accumulated in f64, from the CPU twin; `None`
    /// without one.
    pub(crate) fn data_gradient(&self, theta: &[f32]) -> Option<Vec<f64>> {
        let (_, likelihood) = self.cpu.as_ref()?;
        let mut total = vec![0.0f64; self.dim];
        let mut example = vec![0.0f32; self.dim];
        for row in 0..self.data.rows() {
            example.iter_mut().for_each(|v| *v = 0.0);
            likelihood(&self.data, row, theta, &mut example);
            for (t, e) in total.iter_mut().zip(&example) {
                *t -= f64::from(*e);
            }
        }
        Some(total)
    }

    /// The mini-batch gradient `∇Ũ(θ) = ∇(−log p(θ)) − (N/n) Σ_{i ∈ rows} ∇ log p(yᵢ | θ)` from
    /// the CPU twin, or `None` when none was given.
    pub fn gradient(&self, theta: &[f32], rows: &[u32], out: &mut [f32]) -> Option<()> {
        let (prior, likelihood) = self.cpu.as_ref()?;
        prior(theta, out);
        let scale = (self.data.rows() as f64 / rows.len() as f64) as f32;
        let mut example = vec![0.0f32; self.dim];
        for &row in rows {
            example.iter_mut().for_each(|v| *v = 0.0);
            likelihood(&self.data, row as usize, theta, &mut example);
            for (g, e) in out.iter_mut().zip(&example) {
                *g = (-scale).mul_add(*e, *g);
            }
        }
        Some(())
    }
}
