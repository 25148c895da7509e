//! Which kernel runs a job and how much of it one dispatch may do: the data path
//! (`DataPath::Auto`'s rule and the refusals of forced paths), the workgroup size, and the loop
//! budget of software adapters.

use crate::engine::job::Job;
use crate::error::{Error, Result};
use crate::gpu::contract::TILE;
use crate::gpu::kernels::{DataShape, Kernel, DEFAULT_WORKGROUP_SIZE};
use crate::gpu::Gpu;
use crate::model::{DataKernelParts, Precision, Target};
use crate::sampler::settings::DataPath;
use crate::sampler::Method;

/// The data kernel's shape: the tuning's path where it applies (else an error saying why), or
/// the library's pick for `DataPath::Auto`.
fn data_shape(gpu: &Gpu, job: &Job, parts: &DataKernelParts) -> Result<DataShape> {
    let data = parts.data;
    let chains = u64::from(job.chains());
    let whole_run = u64::from(job.settings.chains);
    let shared_batch = match job.settings.minibatch {
        Some(batch) if !batch.per_chain => Some(batch.size),
        None => Some(data.rows() as u32),
        Some(_) => None,
    };
    let glm = parts.glm_likelihood.is_some();
    // The fused and tiled kernels step every rule whose step is per coordinate (not SGNHT's
    // whole-chain thermostat) and form the plain estimator only (no control variates).
    let fusable = !matches!(job.settings.method, Method::Sgnht { .. })
        && job.settings.control_variate.is_none();
    let width = data.max_row_entries().max(1) as u64;
    let memory = u64::from(gpu.limits().max_compute_workgroup_storage_size);
    // Per slot: length and label (8 bytes) and width × (column, value).
    let staged_bytes = |rows: u32| u64::from(rows) * (8 + 8 * width);
    let staged = shared_batch
        .filter(|&rows| staged_bytes(rows) <= memory)
        .map(|rows| DataShape::Staged {
            rows,
            width: width as u32,
        });
    let dim = job.target.dim() as u64;
    // The fused kernel adds the batch column-major ((F + 1) starts, n·w entries of slot and
    // value), θ and ∇ (G × D each) and g (G × n); the most chains that fit.
    let features = data.features() as u64;
    let fused = match (shared_batch, &staged) {
        (Some(rows), Some(_)) if glm => [8u32, 4, 2, 1]
            .into_iter()
            .find(|&g| {
                let columns = 4 * (features + 1) + 8 * u64::from(rows) * width;
                let state = 4 * u64::from(g) * (2 * dim + u64::from(rows));
                staged_bytes(rows) + columns + state <= memory
            })
            .map(|g| DataShape::Fused {
                rows,
                width: width as u32,
                chains: g,
                dim: dim as u32,
                features: features as u32,
            }),
        _ => None,
    };
    // The tiled kernel holds the features dense in one binding and R (n × C) in another.
    let tiled_fits = |batch: u32| -> Result<DataShape> {
        let dense = data.rows() as u64 * features * 4;
        gpu.check_binding(
            &format!(
                "the training data dense ({} rows × {features} features × 4 bytes)",
                data.rows()
            ),
            dense,
        )?;
        gpu.check_binding(
            &format!("the tiled kernel's batch × chains scratch ({batch} × {chains} × 4 bytes)"),
            u64::from(batch) * chains * 4,
        )?;
        Ok(DataShape::Tiled { batch })
    };
    let refuse = |path: &str, why: String| {
        Err(Error::invalid(
            "data path",
            format!("the {path} path {why}"),
        ))
    };
    let path = job.tuning.data_path;
    match (path, shared_batch) {
        (DataPath::Global, _) => return Ok(DataShape::Global),
        (DataPath::Auto, _) => {
            let tiled = shared_batch
                // The whole run's chain count, so every shard and group takes the same path
                // and the draws stay bit-identical to a single run's.
                .filter(|_| auto_tiles(glm && fusable, whole_run, data.density()))
                .and_then(|batch| tiled_fits(batch).ok());
            return Ok(
                match auto_path(gpu.is_software(), tiled.is_some(), staged.is_some()) {
                    DataPath::Tiled => tiled.unwrap_or(DataShape::Global),
                    DataPath::Staged => staged.unwrap_or(DataShape::Global),
                    _ => DataShape::Global,
                },
            );
        }
        (_, None) => {
            return refuse(
                path.name(),
                "needs one mini-batch shared by all chains".into(),
            )
        }
        (DataPath::Fused | DataPath::Tiled, _) if !glm => {
            return refuse(
                path.name(),
                "is written for linear and logistic regression only".into(),
            )
        }
        (DataPath::Fused | DataPath::Tiled, _) if !fusable => {
            return refuse(
                path.name(),
                format!(
                    "runs neither SGNHT (its thermostat needs a thread per chain) nor control \
                     variates (asked: {}, control variate {:?}); use DataPath::Global, Staged \
                     or Auto",
                    job.settings.method.name(),
                    job.settings.control_variate
                ),
            )
        }
        _ => {}
    }
    let too_big = |what: String| {
        refuse(
            path.name(),
            format!(
                "needs {what} in workgroup memory, more than the {memory} bytes of adapter \
                 `{}`; use DataPath::Global or Auto",
                gpu.name()
            ),
        )
    };
    let rows = shared_batch.unwrap_or(0);
    match path {
        DataPath::Staged => staged.map_or_else(
            || too_big(format!("the batch's {rows} rows × {width} entries")),
            Ok,
        ),
        DataPath::Fused => fused.map_or_else(
            || {
                too_big(format!(
                    "the batch's {rows} rows × {width} entries and θ of at least one chain"
                ))
            },
            Ok,
        ),
        _ => tiled_fits(rows),
    }
}

/// `DataPath::Auto`'s choice among the paths that apply: software adapters run workgroups one
/// after another on a core, where barriers only cost, and the global path measured fastest;
/// on GPUs the tiled products where they apply (see [`auto_tiles`]), else a shared batch
/// drawn once per workgroup where it fits, else global. (A provisional rule until the paths
/// are timed on an NVIDIA card.)
fn auto_path(software: bool, tiled_applies: bool, staged_fits: bool) -> DataPath {
    match (software, tiled_applies, staged_fits) {
        (true, _, _) => DataPath::Global,
        (false, true, _) => DataPath::Tiled,
        (false, false, true) => DataPath::Staged,
        (false, false, false) => DataPath::Global,
    }
}

/// Whether `DataPath::Auto` takes the tiled kernel for a GLM the fused kernels can step: with
/// many chains on dense features, where it wastes little arithmetic on zeros.
fn auto_tiles(fusable_glm: bool, whole_run_chains: u64, density: f64) -> bool {
    fusable_glm
        && whole_run_chains >= u64::from(TILED_AUTO_MIN_CHAINS)
        && density >= TILED_AUTO_MIN_DENSITY
}

/// The least chains for which `DataPath::Auto` picks the tiled kernel: 128 workgroups.
const TILED_AUTO_MIN_CHAINS: u32 = 128 * TILE;
/// The least density of the features for which `DataPath::Auto` picks the tiled kernel, which
/// multiplies by every zero.
const TILED_AUTO_MIN_DENSITY: f64 = 0.25;

/// Threads per workgroup: the tuning's, or 256 reduced (to no less than 32) until `threads`
/// fill at least 128 workgroups, so that small runs still reach many multiprocessors.
pub(crate) fn workgroup_size(job: &Job, threads: u64) -> u32 {
    job.tuning.workgroup_size.unwrap_or_else(|| {
        let mut size = DEFAULT_WORKGROUP_SIZE;
        while size > 32 && threads.div_ceil(u64::from(size)) < 128 {
            size /= 2;
        }
        size
    })
}

/// The step kernel for a target.
pub(crate) fn kernel_for(gpu: &Gpu, job: &Job) -> Result<Kernel> {
    let target = &*job.target;
    Ok(match target.data_kernel() {
        Some(parts) => {
            let shape = data_shape(gpu, job, &parts)?;
            let model = match (&shape, parts.glm_likelihood) {
                (DataShape::Fused { .. } | DataShape::Tiled { .. }, Some(likelihood)) => {
                    vec![likelihood]
                }
                (_, _) => parts.wgsl,
            };
            Kernel::SgldData {
                shape,
                label: parts.label,
                model,
            }
        }
        None => match target {
            Target::Gaussian(g) if matches!(g.precision(), Precision::Dense(_)) => {
                Kernel::SgldGaussianChain { dense: true }
            }
            // SGNHT's thermostat sums over the whole chain.
            _ if matches!(job.settings.method, Method::Sgnht { .. }) => {
                Kernel::SgldGaussianChain { dense: false }
            }
            _ => Kernel::SgldGaussianDiagonal,
        },
    })
}

/// Loop iterations one invocation may run on a software adapter. llvmpipe (behind lavapipe)
/// counts the loop iterations of a shader invocation and silently ends its loops past 65535
/// (gallivm's loop limiter); measured here, thread-per-chain kernels went wrong from about
/// 37 000 counted iterations, so the budget keeps a safety factor of 1.5 below that.
const SOFTWARE_LOOP_BUDGET: u64 = 24_000;

/// Upper bounds on one invocation's loop iterations in a dispatch: (per step, once per
/// dispatch).
fn loop_iterations(job: &Job, kernel: &Kernel) -> (u64, u64) {
    let dim = job.target.dim() as u64;
    let blocks = dim.div_ceil(4);
    // The noise-and-move loop over blocks and lanes, and the step loop itself.
    let moves = 5 * blocks + 1;
    match &*job.target {
        Target::Gaussian(g) => match (g.precision(), kernel) {
            (Precision::Dense(_), _) => (dim * (dim + 1) + moves, dim),
            (Precision::Diagonal(_), Kernel::SgldGaussianChain { .. }) => (dim + moves, dim),
            (Precision::Diagonal(_), _) => (1, 8),
        },
        Target::Regression(_) | Target::Custom(_) => {
            let Some(parts) = job.target.data_kernel() else {
                return (dim, dim);
            };
            let (size, walks) = match job.settings.minibatch {
                None => (parts.data.rows() as u64, 0),
                Some(b) if b.replacement => (u64::from(b.size), 0),
                // Cycle-walking a domain under 4N takes 4 walks on average, 5 loop iterations
                // each; budget twice that.
                Some(b) => (u64::from(b.size), 40),
            };
            if let Kernel::SgldData {
                shape: DataShape::Tiled { .. },
                ..
            } = kernel
            {
                return (tiled_loop_iterations(size, walks, dim), 1);
            }
            // A GLM runs two loops over a row's entries; a custom model says, or is charged
            // one pass over the row's entries and one over the parameters.
            let width = parts.data.max_row_entries() as u64;
            let model_loops = match &*job.target {
                Target::Custom(model) => model.loops_per_example.unwrap_or(width + dim),
                _ => 2 * width,
            };
            let per_row = 1 + model_loops + walks;
            (dim + size * per_row + moves, dim)
        }
    }
}

/// One step of the tiled kernel per thread: the batch indices, then for H each 64-example tile
/// runs ⌈D/16⌉ slices (4 loads, 16 × (1 + 4) products, the loop itself) and a 4 × 4 epilogue,
/// and for G each 64-coordinate tile runs ⌈n/16⌉ slices, a 4 × 4 prologue and a move of 4
/// chains (4 × (Philox's 10 rounds + 4 lanes + 1)).
fn tiled_loop_iterations(batch: u64, walks: u64, dim: u64) -> u64 {
    let slice = 4 + 16 * 5 + 1;
    let products = batch.div_ceil(64) * (dim.div_ceil(16) * slice + 20)
        + dim.div_ceil(64) * (20 + batch.div_ceil(16) * slice + 4 * 15);
    1 + batch.div_ceil(256) * (1 + walks) + products
}

/// Steps per dispatch: the tuning's cap, cut on software adapters to the loop budget.
pub(crate) fn steps_per_dispatch(gpu: &Gpu, job: &Job) -> Result<u32> {
    let cap = job.tuning.max_steps_per_dispatch;
    if !gpu.is_software() {
        return Ok(cap);
    }
    let (per_step, fixed) = loop_iterations(job, &kernel_for(gpu, job)?);
    let fit = SOFTWARE_LOOP_BUDGET.saturating_sub(fixed) / per_step;
    if fit == 0 {
        return Err(Error::invalid(
            "problem size for a software adapter",
            format!(
                "one step needs about {per_step} loop iterations per chain, more than the \
                 {SOFTWARE_LOOP_BUDGET} that adapter `{}` runs reliably in one invocation \
                 (llvmpipe's loop limit); use smaller mini-batches or fewer dimensions, or a GPU",
                gpu.name()
            ),
        ));
    }
    Ok(cap.min(u32::try_from(fit).unwrap_or(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Auto rule as the README states it, on every combination.
    #[test]
    fn the_auto_data_path_follows_its_rule() {
        for tiled in [false, true] {
            for staged in [false, true] {
                assert_eq!(auto_path(true, tiled, staged), DataPath::Global);
            }
        }
        assert_eq!(auto_path(false, true, true), DataPath::Tiled);
        assert_eq!(auto_path(false, true, false), DataPath::Tiled);
        assert_eq!(auto_path(false, false, true), DataPath::Staged);
        assert_eq!(auto_path(false, false, false), DataPath::Global);
        assert!(auto_tiles(true, 8192, 0.25));
        assert!(!auto_tiles(true, 8191, 1.0), "too few chains");
        assert!(!auto_tiles(true, 1 << 20, 0.24), "too sparse");
        assert!(
            !auto_tiles(false, 1 << 20, 1.0),
            "not a GLM the tiled kernel steps"
        );
    }
}
