//! Which kernel runs a job and how much of it one dispatch may do: the data path
//! (`DataPath::Auto`'s rule and the refusals of forced paths), the workgroup size, and the loop
//! budget of software adapters.

use crate::engine::job::Job;
use crate::engine::target::batch_law;
use crate::error::{Error, Result};
use crate::gpu::contract::{BATCH_FULL, BATCH_WITHOUT_REPLACEMENT, TILE, TILE_DEPTH, TILE_ROWS};
use crate::gpu::kernels::{
    DataShape, FusedShape, Kernel, RegisterShape, TiledShape, DEFAULT_WORKGROUP_SIZE,
};
use crate::gpu::Gpu;
use crate::model::{DataKernelParts, Precision, Target};
use crate::sampler::settings::DataPath;
use crate::sampler::{Method, Preconditioner};

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
    // The register, fused and tiled kernels step every rule whose step is per coordinate (not
    // SGNHT's whole-chain thermostat); the fused and tiled ones form the plain estimator only
    // (no control variates) in the identity metric.
    let registrable = !matches!(job.settings.method, Method::Sgnht { .. });
    let fusable = registrable
        && job.settings.control_variate.is_none()
        && job.settings.preconditioner.is_none();
    let width = data.max_row_entries().max(1) as u64;
    let memory = u64::from(gpu.limits().max_compute_workgroup_storage_size);
    // Per slot: length, start and label (12 bytes) and width × (column, value).
    let staged_bytes = |rows: u32| u64::from(rows) * (12 + 8 * width);
    let staged = shared_batch
        .filter(|&rows| staged_bytes(rows) <= memory)
        .map(|rows| DataShape::Staged {
            rows,
            width: width as u32,
        });
    let dim = job.target.dim() as u64;
    let (batch, mode, per_chain) = batch_law(job, data.rows());
    // The fused kernel: a shared batch for G chains, G as large as workgroup memory holds and
    // as leaves FUSED_MIN_WORKGROUPS workgroups (so that every multiprocessor has work); or a
    // workgroup per chain drawing its own batch.
    let fused = [8u32, 4, 2, 1]
        .into_iter()
        .filter(|&g| g == 1 || !per_chain)
        .map(|g| FusedShape {
            rows: batch,
            width: width as u32,
            chains: g,
            dim: dim as u32,
            features: data.features() as u32,
            per_chain,
        })
        .filter(|shape| shape.workgroup_bytes() <= memory)
        .find(|shape| {
            shape.chains == 1 || chains.div_ceil(u64::from(shape.chains)) >= FUSED_MIN_WORKGROUPS
        })
        .filter(|_| glm)
        .map(DataShape::Fused);
    // The tiled kernel holds the features dense in one binding, and R (n × C) in another
    // where it does not fit in workgroup memory.
    let features = data.features() as u64;
    let tiled_fits = |batch: u32| -> Result<DataShape> {
        let dense = data.rows() as u64 * features * 4;
        gpu.check_binding(
            &format!(
                "the training data dense ({} rows × {features} features × 4 bytes)",
                data.rows()
            ),
            dense,
        )?;
        let Some(shape) = TiledShape::fitting(batch, memory) else {
            return Err(Error::invalid(
                "data path",
                format!(
                    "the tiled path keeps the batch's {batch} row indices in workgroup memory, \
                     more than the adapter's {memory} bytes hold; use a smaller batch"
                ),
            ));
        };
        gpu.check_binding(
            &format!("the tiled kernel's batch × chains scratch ({batch} × {chains} × 4 bytes)"),
            shape.scratch_bytes(chains),
        )?;
        Ok(DataShape::Tiled(shape))
    };
    // The register kernel keeps a few chains' θ and ∇ in private memory. A shared batch's
    // rows serve every chain of an invocation, so as many chains as keep every core busy
    // (register_min_invocations) and one step's loops within a software adapter's budget;
    // per-chain batches share nothing, so one chain each.
    // Full-batch linear regression on `Auto`: the batch's gradient is −(Xᵀy − XᵀX θ)/s²
    // from the sufficient statistics, D² products per chain-step in place of the rows'
    // 2·n·w; taken where that is fewer.
    let linear = matches!(&*job.target, Target::Regression(r) if r.is_linear());
    let gram = job.tuning.data_path == DataPath::Auto
        && linear
        && mode == BATCH_FULL
        && job.settings.control_variate.is_none()
        && dim * dim < 2 * u64::from(batch) * width;
    let binary = data.is_sparse_indicators();
    // With the statistics first; if no chain count keeps those loops within a software
    // adapter's budget, the rows.
    let register = [gram, false]
        .into_iter()
        .flat_map(|gram| {
            register_chains_per_invocation(per_chain, chains, gpu.is_software())
                .into_iter()
                .map(move |k| (gram, k))
        })
        .map(|(gram, k)| RegisterShape {
            chains: k,
            dim: dim as u32,
            width: width as u32,
            batch,
            per_chain,
            mode,
            dense: matches!(data.storage(), crate::data::Features::Dense(_)),
            binary,
            intercept: parts.params.get(2).is_some_and(|&flag| flag == 1.0),
            control_variates: job.settings.control_variate.is_some(),
            metric: job.settings.preconditioner.is_some(),
            gram,
        })
        .find(|shape| {
            let (per_step, fixed) = register_loop_iterations(shape);
            !gpu.is_software() || per_step + fixed <= SOFTWARE_LOOP_BUDGET
        })
        .filter(|_| glm && dim <= MAX_REGISTER_DIM)
        .map(DataShape::Register);
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
            let register = register.clone().filter(|_| registrable);
            if let Some(DataShape::Register(shape @ RegisterShape { gram: true, .. })) = register {
                return Ok(DataShape::Register(shape));
            }
            let fused = fused.clone().filter(|_| fusable);
            let choice = auto_path(
                gpu.is_software(),
                Applicable {
                    register: register.is_some(),
                    fused: fused.is_some(),
                    tiled: tiled.is_some(),
                    staged: staged.is_some(),
                },
            );
            return Ok(match choice {
                DataPath::Register => register.unwrap_or(DataShape::Global),
                DataPath::Fused => fused.unwrap_or(DataShape::Global),
                DataPath::Tiled => tiled.unwrap_or(DataShape::Global),
                DataPath::Staged => staged.unwrap_or(DataShape::Global),
                _ => DataShape::Global,
            });
        }
        (DataPath::Register | DataPath::Fused | DataPath::Tiled, _) if !glm => {
            return refuse(
                path.name(),
                "is written for linear and logistic regression only".into(),
            )
        }
        (DataPath::Register, _) if !registrable => {
            return refuse(
                path.name(),
                "does not run SGNHT (its thermostat needs the whole chain); use \
                 DataPath::Global, Staged or Auto"
                    .into(),
            )
        }
        (DataPath::Fused | DataPath::Tiled, _) if !fusable => {
            return refuse(
                path.name(),
                format!(
                    "runs neither SGNHT (its thermostat needs the whole chain), control \
                     variates nor a dense metric (asked: {}, control variate {}, \
                     preconditioner {}); use DataPath::Global, Staged or Auto",
                    job.settings.method.name(),
                    if job.settings.control_variate.is_some() {
                        "yes"
                    } else {
                        "no"
                    },
                    if job.settings.preconditioner.is_some() {
                        "yes"
                    } else {
                        "no"
                    },
                ),
            )
        }
        (DataPath::Register, _) => {
            return register.ok_or_else(|| {
                Error::invalid(
                    "data path",
                    format!(
                        "the register path holds θ of a few chains in private memory, at most \
                         {MAX_REGISTER_DIM} coordinates each, with one step's loops within \
                         the software adapter's budget; this model has {dim} coordinates and \
                         batches of {batch}; use DataPath::Global or Auto"
                    ),
                )
            })
        }
        (DataPath::Fused, _) => {
            return fused.ok_or_else(|| {
                Error::invalid(
                    "data path",
                    format!(
                        "the fused path needs the batch's {batch} rows × {width} entries, \
                         their column-major copy and θ of at least one chain in workgroup \
                         memory, more than the {memory} bytes of adapter `{}`; use \
                         DataPath::Global or Auto",
                        gpu.name()
                    ),
                )
            })
        }
        (_, None) => {
            return refuse(
                path.name(),
                "needs one mini-batch shared by all chains".into(),
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
        _ => tiled_fits(rows),
    }
}

/// Which data paths can run a job (see [`auto_path`]).
#[derive(Debug, Clone, Copy)]
struct Applicable {
    register: bool,
    fused: bool,
    tiled: bool,
    staged: bool,
}

/// `DataPath::Auto`'s choice among the paths that apply. On software adapters (llvmpipe:
/// workgroups run one after another on a core, loads with computed addresses cost a loop over
/// the lanes, barriers a pass over the workgroup) the register kernel where it applies, else
/// global: the order `langevin bench` measured (README, Performance). On GPUs the fused
/// kernel (a shared batch staged once for a few chains, or a workgroup per chain), else the
/// tiled products (see [`auto_tiles`]), else a shared batch staged per workgroup, else
/// global: the order the arithmetic in docs/performance-notes.md predicts, until the paths
/// are timed on an NVIDIA card.
fn auto_path(software: bool, applicable: Applicable) -> DataPath {
    let Applicable {
        register,
        fused,
        tiled,
        staged,
    } = applicable;
    match software {
        true if register => DataPath::Register,
        true => DataPath::Global,
        false if fused => DataPath::Fused,
        false if tiled => DataPath::Tiled,
        false if staged => DataPath::Staged,
        false => DataPath::Global,
    }
}

/// Loop iterations budgeted for one index drawn without replacement: cycle-walking a domain
/// under 4N takes 4 walks on average, 5 loop iterations each; twice that.
const PERMUTATION_WALKS: u64 = 40;

/// Chains per invocation of the register kernel on a shared batch, where there are enough.
/// Measured on llvmpipe (2 cores, a9a, batch 100, alternated runs): 4 as fast as 8 at 1024
/// and 4096 chains and on the linear job, 16 slower (θ and ∇ no longer fit in registers); 2
/// slower than 1 at 256 chains (0.9·10⁵ against 1.2·10⁵ chain-steps/s), 4 faster
/// (1.5·10⁵).
const REGISTER_CHAINS: u32 = 4;

/// The fewest invocations the register kernel is given [`REGISTER_CHAINS`] chains each for.
/// llvmpipe runs a thread per core and each workgroup (32 invocations at these sizes) on one
/// of them, so on a software adapter one workgroup per core of this host; on a GPU, eight
/// workgroups of 32.
fn register_min_invocations(software: bool) -> u64 {
    if software {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        32 * cores as u64
    } else {
        256
    }
}

/// The register kernel's candidate chains per invocation, most first: for a shared batch
/// [`REGISTER_CHAINS`] where that leaves [`register_min_invocations`], then 1.
fn register_chains_per_invocation(per_chain: bool, chains: u64, software: bool) -> Vec<u32> {
    let mut candidates = Vec::new();
    if !per_chain
        && chains.div_ceil(u64::from(REGISTER_CHAINS)) >= register_min_invocations(software)
    {
        candidates.push(REGISTER_CHAINS);
    }
    candidates.push(1);
    candidates
}
/// The most coordinates the register kernel holds per chain (twice, θ and ∇, per chain).
const MAX_REGISTER_DIM: u64 = 512;

/// Whether `DataPath::Auto` takes the tiled kernel for a GLM the fused kernels can step: with
/// many chains on dense features, where it wastes little arithmetic on zeros.
fn auto_tiles(fusable_glm: bool, whole_run_chains: u64, density: f64) -> bool {
    fusable_glm
        && whole_run_chains >= u64::from(TILED_AUTO_MIN_CHAINS)
        && density >= TILED_AUTO_MIN_DENSITY
}

/// The fewest workgroups the fused kernel is given chains for: about two per multiprocessor
/// of an H100 (132), so that every one has work at 1024 chains (G = 4 there).
const FUSED_MIN_WORKGROUPS: u64 = 256;

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
                (
                    DataShape::Fused(_) | DataShape::Tiled(_) | DataShape::Register(_),
                    Some(likelihood),
                ) => {
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
            // SGNHT's thermostat and a dense metric need the whole chain.
            _ if matches!(job.settings.method, Method::Sgnht { .. })
                || job.settings.preconditioner.is_some() =>
            {
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

/// The kept draws one dispatch of the statistics kernel may fold (`chain_statistics.wgsl`
/// walks a chain's `dim` coordinates twice per draw): any number on hardware, and within the
/// loop budget (at least one) on a software adapter.
pub(crate) fn statistics_draws_per_dispatch(gpu: &Gpu, dim: u64) -> u32 {
    if !gpu.is_software() {
        return u32::MAX;
    }
    let per_draw = 2 * dim + 1;
    u32::try_from(SOFTWARE_LOOP_BUDGET / per_draw)
        .unwrap_or(u32::MAX)
        .max(1)
}

/// Upper bounds on one invocation's loop iterations in a dispatch: (per step, once per
/// dispatch).
fn loop_iterations(job: &Job, kernel: &Kernel) -> (u64, u64) {
    let dim = job.target.dim() as u64;
    let blocks = dim.div_ceil(4);
    // The noise-and-move loop over blocks and lanes, and the step loop itself; in a dense
    // metric, its two triangular products.
    let metric = job
        .settings
        .preconditioner
        .as_ref()
        .map_or(0, |_| Preconditioner::loop_iterations_per_step(dim));
    let moves = 5 * blocks + 1 + metric;
    match &*job.target {
        Target::Gaussian(g) => match (g.precision(), kernel) {
            (Precision::Dense(_), _) => (dim * (dim + 1) + moves, dim),
            (Precision::Diagonal(_), Kernel::SgldGaussianChain { .. }) => (dim + moves, dim),
            (Precision::Diagonal(_), _) => (1, 8),
        },
        // A network's step is a sequence of passes, one step per record; its longest loop is
        // the update's walk over the batch for each of a thread's four parameters.
        Target::Network(network) => {
            let batch = job
                .settings
                .minibatch
                .map_or(network.data().rows() as u64, |b| u64::from(b.size));
            let widest = network
                .layers()
                .iter()
                .map(|l| l.inputs.max(l.outputs) as u64)
                .max()
                .unwrap_or(1);
            let layers = network.layers().len() as u64;
            (widest.max(4 * (batch + layers)), 0)
        }
        Target::Regression(_) | Target::Custom(_) => {
            let Some(parts) = job.target.data_kernel() else {
                return (dim, dim);
            };
            let (size, walks) = match job.settings.minibatch {
                None => (parts.data.rows() as u64, 0),
                Some(b) if b.replacement => (u64::from(b.size), 0),
                Some(b) => (u64::from(b.size), PERMUTATION_WALKS),
            };
            if let Kernel::SgldData { shape, .. } = kernel {
                match *shape {
                    DataShape::Tiled(_) => return (tiled_loop_iterations(size, walks, dim), 1),
                    DataShape::Register(ref register) => return register_loop_iterations(register),
                    _ => {}
                }
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

/// Iterations llvmpipe's loop limiter counts for a loop of `trip` iterations whose body
/// counts `body`: NIR unrolls loops with a constant trip count of at most
/// [`UNROLLED_TRIP_COUNT`] (llvmpipe's `max_unroll_iterations`), which then count nothing
/// themselves.
fn counted(trip: u64, body: u64) -> u64 {
    let own = if trip > UNROLLED_TRIP_COUNT { trip } else { 0 };
    own + trip * body
}

/// The longest constant-count loop NIR unrolls for llvmpipe.
const UNROLLED_TRIP_COUNT: u64 = 32;

/// (Per step, per dispatch) loop iterations of the register kernel's `shape` per invocation of
/// K chains (every trip count but the steps' a constant): the prior over K·D values; the
/// batch (quads of four indices from one Philox call, or one index at a time, with its walks
/// for the permutation), each example's row load, the control variate's centre term, and per
/// chain its two passes over W entries and the centre's two; or with sufficient statistics
/// D rows of D products per chain; the move of each chain, ⌈D/4⌉ blocks, or in a dense
/// metric its two products of D rows of ⌈D/4⌉ blocks; per dispatch, the loads and stores of
/// θ.
fn register_loop_iterations(shape: &RegisterShape) -> (u64, u64) {
    let RegisterShape {
        per_chain,
        mode,
        metric,
        gram,
        ..
    } = *shape;
    let [chains, dim, width, batch] =
        [shape.chains, shape.dim, shape.width, shape.batch].map(u64::from);
    let walks = match mode {
        BATCH_WITHOUT_REPLACEMENT => PERMUTATION_WALKS,
        _ => 0,
    };
    let row = counted(width, 0);
    let example = |k: u64| 2 * row + counted(k, 4 * row + 1);
    let draws = |k: u64| match walks {
        0 => counted(batch.div_ceil(4), counted(4, example(k)) + 1),
        _ => counted(batch, walks + example(k)),
    };
    let batches = match (gram, per_chain) {
        (true, _) => counted(chains, counted(dim, counted(dim, 1))),
        (false, true) => counted(chains, draws(1)),
        (false, false) => draws(chains),
    };
    let blocks = dim.div_ceil(4);
    let move_one = match metric {
        true => counted(blocks, 1) + 2 * counted(dim, counted(blocks, 0)),
        false => counted(blocks, 1),
    };
    let moves = counted(chains, move_one);
    let per_step = 1 + counted(chains, counted(dim, 0)) + batches + moves;
    (per_step, 2 * counted(chains, counted(dim, 0)))
}

/// One step of the tiled kernel per thread: the batch indices, then for H each tile of
/// TILE_ROWS examples runs ⌈D/TILE_DEPTH⌉ slices (4 loads, TILE_DEPTH × (1 + 8) products, the
/// loop itself) and an 8 × 4 epilogue, and for G each tile of TILE_ROWS coordinates runs
/// ⌈n/TILE_DEPTH⌉ slices, an 8 × 4 prologue and the move of two blocks of 4 chains
/// (8 × (Philox's 10 rounds + 4 lanes + 1)).
fn tiled_loop_iterations(batch: u64, walks: u64, dim: u64) -> u64 {
    let (rows, depth) = (u64::from(TILE_ROWS), u64::from(TILE_DEPTH));
    let slice = 4 + depth * 9 + 1;
    let products = batch.div_ceil(rows) * (dim.div_ceil(depth) * slice + 40)
        + dim.div_ceil(rows) * (40 + batch.div_ceil(depth) * slice + 8 * 15);
    1 + batch.div_ceil(256) * (1 + walks) + products
}

/// Whether a network's first layer runs as tiled products (`network_tiled.wgsl`) where its
/// rows are shared: `DataPath::Tiled` asks for them (and refuses per-chain batches, whose rows
/// are not shared), `Global` keeps the blocked passes, and `Auto` tiles on hardware adapters,
/// where each weight and each delta is read once per 32 examples or inputs instead of once per
/// 4 (see docs/performance-notes.md, W6), and not on software ones, where the tiled passes
/// measured slower (a workgroup-memory load costs a loop over the lanes there).
pub(crate) fn network_first_layer_tiled(gpu: &Gpu, job: &Job) -> Result<bool> {
    let per_chain = job.settings.minibatch.is_some_and(|batch| batch.per_chain);
    match job.tuning.data_path {
        DataPath::Auto => Ok(!gpu.is_software()),
        DataPath::Global => Ok(false),
        DataPath::Tiled if per_chain => Err(Error::invalid(
            "data path",
            "the tiled path multiplies rows shared by all chains; per-chain mini-batches draw \
             each chain its own (use DataPath::Global or Auto)",
        )),
        DataPath::Tiled => Ok(true),
        other => Err(Error::invalid(
            "data path",
            format!(
                "the {} path is for linear and logistic regression; a network runs Auto, \
                 Global or Tiled",
                other.name()
            ),
        )),
    }
}

/// Steps per dispatch: the tuning's cap, cut on software adapters to the loop budget.
pub(crate) fn steps_per_dispatch(gpu: &Gpu, job: &Job) -> Result<u32> {
    let network = matches!(&*job.target, Target::Network(_));
    if network {
        // A path the network cannot run is refused before its size is judged.
        network_first_layer_tiled(gpu, job)?;
    }
    // A network's record is one step (its passes are the step's dispatches).
    let cap = match network {
        true => 1,
        false => job.tuning.max_steps_per_dispatch,
    };
    if !gpu.is_software() {
        return Ok(cap);
    }
    let (per_step, fixed) = match network {
        true => loop_iterations(job, &Kernel::Init),
        false => loop_iterations(job, &kernel_for(gpu, job)?),
    };
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
        let all = |register, fused, tiled, staged| Applicable {
            register,
            fused,
            tiled,
            staged,
        };
        for fused in [false, true] {
            for tiled in [false, true] {
                for staged in [false, true] {
                    let software = |register| auto_path(true, all(register, fused, tiled, staged));
                    assert_eq!(software(true), DataPath::Register);
                    assert_eq!(software(false), DataPath::Global);
                }
            }
        }
        for register in [false, true] {
            let gpu = |fused, tiled, staged| auto_path(false, all(register, fused, tiled, staged));
            assert_eq!(gpu(true, true, true), DataPath::Fused);
            assert_eq!(gpu(true, false, false), DataPath::Fused);
            assert_eq!(gpu(false, true, true), DataPath::Tiled);
            assert_eq!(gpu(false, true, false), DataPath::Tiled);
            assert_eq!(gpu(false, false, true), DataPath::Staged);
            assert_eq!(gpu(false, false, false), DataPath::Global);
        }
        assert!(auto_tiles(true, 8192, 0.25));
        assert!(!auto_tiles(true, 8191, 1.0), "too few chains");
        assert!(!auto_tiles(true, 1 << 20, 0.24), "too sparse");
        assert!(
            !auto_tiles(false, 1 << 20, 1.0),
            "not a GLM the tiled kernel steps"
        );
    }
}
