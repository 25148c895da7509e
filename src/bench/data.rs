//! W2–W4 and W6: data models. W2 and W3: SGLD for Bayesian logistic regression with a9a's
//! shape, batches shared by all chains (W2) or drawn per chain (W3), on every data path; W4:
//! the one-kernel MLP (a custom model); W6: the 784-100-10 network on Fashion-MNIST's shape.

use super::w1::all_methods;
use super::{time, timing_batch, Profile, MIN_TIMED_STEPS};
use crate::engine::choice::steps_per_dispatch;
use crate::engine::state::ChainState;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::sampler::{DataPath, Method, Sampler, Settings, Tuning};
use crate::schedule::StepSize;

/// Workloads W2–W4. W2 and W3: SGLD for Bayesian logistic regression with a9a's shape (N = 32561,
/// 123 features plus an intercept), mini-batches of 100 shared by all chains (W2) or drawn per
/// chain (W3). FLOPs are counted as the dense equivalent, 4·n·D per chain-step (a dot product
/// and a gradient accumulation over every coefficient of every example), as the JAX peer does.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RegressionRow {
    /// `W2` (shared batch) or `W3` (per-chain batch).
    pub workload: &'static str,
    /// The update rule.
    pub sampler: &'static str,
    /// `dense` (synthetic, 123 stored features per row) or `sparse` (a9a itself, ~14 per row);
    /// W6: `fashion-mnist-shape` (synthetic bytes, 784 per row).
    pub data: &'static str,
    /// Chains.
    pub chains: u32,
    /// Examples per mini-batch.
    pub batch: u32,
    /// The data path that ran: `global` (each chain reads its rows), `staged` (a shared batch
    /// in workgroup memory), `fused` (also θ of a few chains in workgroup memory across steps)
    /// `tiled` (two tiled products over the chain axis, features dense) or `register` (a few
    /// chains' θ and ∇ in private memory, every loop's trip count a constant).
    pub data_path: &'static str,
    /// Whether `DataPath::Auto` chose the path (the row is what a user gets by default).
    pub auto: bool,
    /// Chain-steps per second (median of the repeats).
    pub chain_steps_per_s: f64,
    /// Microseconds per step of all chains.
    pub us_per_step: f64,
    /// Dense-equivalent FLOP/s.
    pub flop_per_s: f64,
}

/// What W2–W4 measure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RegressionConfig {
    /// Chain counts for W2 (shared batches): SGLD on `DataPath::Auto` at each.
    pub shared_chains: Vec<u32>,
    /// W2 chain counts at which SGLD also runs on every data path and the other rules run
    /// on `Auto`.
    pub every_path_chains: Vec<u32>,
    /// Chain counts for W3 (per-chain batches): SGLD on `Auto` and on the global path.
    pub per_chain_chains: Vec<u32>,
    /// Chain counts for W4 (the MLP, shared batches).
    pub mlp_chains: Vec<u32>,
    /// Chain counts for W6 (the 784-100-10 ReLU network, shared batches of 100).
    #[serde(default)]
    pub network_chains: Vec<u32>,
    /// Steps timed per repeat.
    pub steps: u32,
    /// Timed repeats; the median is reported.
    pub repeats: usize,
}

impl RegressionConfig {
    /// The sizes of `profile`. GPU: W2 at 1024, 10240 and 102400 chains (every path at
    /// 1024), W3 at 1024 and 10240, W4 at 256 and 4096, W6 at 64 and 1024. Software: the CPU
    /// yardstick's jobs, W2 at 4096 chains and W3 at 256, with every path at 256 chains; no
    /// W6 (llvmpipe runs the network at ~20 chain-steps/s: 1000 steps of 64 chains would take
    /// most of an hour).
    pub fn of(profile: Profile) -> RegressionConfig {
        match profile {
            Profile::Gpu => RegressionConfig {
                shared_chains: vec![1024, 10240, 102_400],
                every_path_chains: vec![1024],
                per_chain_chains: vec![1024, 10240],
                mlp_chains: vec![256, 4096],
                network_chains: vec![64, 1024],
                steps: MIN_TIMED_STEPS,
                repeats: 3,
            },
            Profile::Software => RegressionConfig {
                shared_chains: vec![256, 4096],
                every_path_chains: vec![256],
                per_chain_chains: vec![256],
                mlp_chains: vec![64],
                network_chains: Vec::new(),
                steps: MIN_TIMED_STEPS,
                repeats: 1,
            },
            Profile::Smoke => RegressionConfig {
                shared_chains: vec![64],
                every_path_chains: vec![64],
                per_chain_chains: vec![64],
                mlp_chains: vec![16],
                network_chains: vec![2],
                steps: 8,
                repeats: 1,
            },
        }
    }
}

/// Synthetic data of a9a's shape stored dense: binary features at a9a's density (0.11),
/// labels ±1, from the counter-based generator (seeded, so every run times the same data).
pub fn synthetic_a9a_dense() -> Result<crate::data::Dataset> {
    let (rows, features) = (32_561usize, 123usize);
    let key = crate::rng::key_for_seed(0xa9a);
    let word = |row: usize, index: usize| {
        crate::rng::words(
            key,
            row as u32,
            index as u32 / 4,
            0,
            crate::rng::Stream::Batch,
        )[index % 4]
    };
    let threshold = (0.11 * f64::from(u32::MAX)) as u32;
    let x = (0..rows * features)
        .map(|k| f32::from(u8::from(word(k / features, k % features) < threshold)))
        .collect();
    let labels = (0..rows)
        .map(|r| {
            if word(r, features) < u32::MAX / 4 {
                1.0
            } else {
                -1.0
            }
        })
        .collect();
    crate::data::Dataset::from_dense(x, features, labels)
}

/// Synthetic data of Fashion-MNIST's shape: 60000 images of 28 × 28 byte pixels (k/255) and
/// labels 0..9, from the counter-based generator (seeded, so every run times the same data;
/// the bench needs no installed data set).
pub fn synthetic_fashion_mnist() -> Result<crate::data::Dataset> {
    let (rows, features) = (60_000usize, 784usize);
    let key = crate::rng::key_for_seed(0xfa5);
    let x = (0..rows * features / 4)
        .flat_map(|k| crate::rng::words(key, k as u32, 0, 0, crate::rng::Stream::Batch))
        .map(|w| (w >> 24) as f32 * (1.0 / 255.0))
        .collect();
    let labels = (0..rows)
        .map(|r| (crate::rng::words(key, r as u32, 1, 0, crate::rng::Stream::Batch)[0] % 10) as f32)
        .collect();
    crate::data::Dataset::from_dense(x, features, labels)
}

/// W6's network: 784-100-10, ReLU, categorical, prior N(0, 1).
fn w6_network(data: crate::data::Dataset) -> Result<crate::model::Network> {
    use crate::model::{Activation, Network, NetworkSpec, Output, Prior};
    Network::new(
        data,
        NetworkSpec {
            hidden: vec![100],
            activation: Activation::Relu,
            output: Output::Categorical { classes: 10 },
            prior: Prior::Isotropic { variance: 1.0 },
        },
    )
}

/// One data-model case of W2–W4.
struct DataCase {
    workload: &'static str,
    data: &'static str,
    target: crate::model::Target,
    chains: u32,
    per_chain: bool,
    data_path: DataPath,
    method: Method,
    /// Dense-equivalent FLOPs of one chain-step.
    flop_per_chain_step: f64,
}

const BATCH: u32 = 100;

/// Times one case; `None` when the adapter cannot run it (llvmpipe's loop limit, or a staged
/// batch that does not fit workgroup memory), with a log line saying why.
fn time_data_case(
    gpu: &Gpu,
    case: DataCase,
    steps: u32,
    repeats: usize,
) -> Result<Option<RegressionRow>> {
    use crate::minibatch::Minibatch;
    let settings = Settings {
        chains: case.chains,
        steps: 1,
        burn_in: 0,
        thin: 1,
        step_size: StepSize::constant(1e-5)?,
        minibatch: Some(Minibatch {
            size: BATCH,
            per_chain: case.per_chain,
            replacement: true,
        }),
        method: case.method,
        ..Settings::default()
    };
    let sampler = Sampler::new(case.target, settings)?.with_tuning(Tuning {
        draws_buffer_bytes: 0,
        data_path: case.data_path,
        ..Tuning::default()
    })?;
    let skipped = |error: crate::Error| {
        log::warn!(
            "{} {} at {} chains skipped: {error}",
            case.workload,
            case.data,
            case.chains
        );
        Ok(None)
    };
    let per_dispatch = match steps_per_dispatch(gpu, &sampler.job()) {
        Ok(n) => n,
        Err(error) if gpu.is_software() => return skipped(error),
        Err(error) => return Err(error),
    };
    let state = match ChainState::new(gpu, &sampler.job()) {
        Ok(state) => state,
        Err(
            error @ crate::Error::InvalidSetting {
                name: "data path", ..
            },
        ) => return skipped(error),
        Err(error) => return Err(error),
    };
    let timing = timing_batch(steps, per_dispatch);
    let seconds = time(gpu, repeats, || {
        state.submit(gpu, &timing, None).map(|_| ())
    })?;
    let chain_steps = f64::from(case.chains) * f64::from(steps);
    Ok(Some(RegressionRow {
        workload: case.workload,
        sampler: case.method.name(),
        data: if case.workload == "W6" {
            "fashion-mnist-shape"
        } else {
            case.data
        },
        chains: case.chains,
        batch: BATCH,
        data_path: state.data_path.unwrap_or("network"),
        auto: case.data_path == DataPath::Auto,
        chain_steps_per_s: chain_steps / seconds,
        us_per_step: seconds / f64::from(steps) * 1e6,
        flop_per_s: chain_steps * case.flop_per_chain_step / seconds,
    }))
}

/// Runs W2 and W3 (logistic regression) and W4 (an MLP with 50 hidden units, C ∈ {256, 4096};
/// FLOPs counted as 6·n·H·F, forward and backward through the first layer) on `gpu` for each
/// data set given (`(name, data)`).
pub fn run_regression(
    gpu: &Gpu,
    config: &RegressionConfig,
    datasets: &[(&'static str, crate::data::Dataset)],
) -> Result<Vec<RegressionRow>> {
    use crate::model::{mlp_classifier, Regression, Target};
    let mut rows = Vec::new();
    for (name, data) in datasets {
        let logistic: Target = Regression::logistic(data.clone(), 1.0)?.into();
        let glm_flops = 4.0 * f64::from(BATCH) * logistic.dim() as f64;
        let hidden = 50;
        let (mlp, _) = mlp_classifier(data.clone(), hidden, 1.0)?;
        let mlp_flops = 6.0 * f64::from(BATCH) * (hidden * data.features()) as f64;
        let mut cases = Vec::new();
        let mut glm = |workload, chains, per_chain, data_path, method| {
            cases.push((
                workload,
                logistic.clone(),
                chains,
                per_chain,
                data_path,
                glm_flops,
                method,
            ))
        };
        for &chains in &config.shared_chains {
            glm("W2", chains, false, DataPath::Auto, Method::Sgld);
            if !config.every_path_chains.contains(&chains) {
                continue;
            }
            // Every path with SGLD, each measured against the global one, and every other
            // rule where Auto puts it.
            for data_path in [
                DataPath::Global,
                DataPath::Staged,
                DataPath::Fused,
                DataPath::Tiled,
                DataPath::Register,
            ] {
                glm("W2", chains, false, data_path, Method::Sgld);
            }
            for method in all_methods().into_iter().skip(1) {
                glm("W2", chains, false, DataPath::Auto, method);
            }
        }
        for &chains in &config.per_chain_chains {
            glm("W3", chains, true, DataPath::Auto, Method::Sgld);
            glm("W3", chains, true, DataPath::Global, Method::Sgld);
        }
        for &chains in &config.mlp_chains {
            cases.push((
                "W4",
                mlp.clone().into(),
                chains,
                false,
                DataPath::Auto,
                mlp_flops,
                Method::Sgld,
            ));
        }
        if *name == datasets[0].0 && !config.network_chains.is_empty() {
            // W6 once per bench, on its own data: FLOPs 6·n·Σ inputs·outputs (forward, the
            // weights' gradient and the deltas carried down: three products per layer).
            let network = w6_network(synthetic_fashion_mnist()?)?;
            let flops = 6.0
                * f64::from(BATCH)
                * network
                    .layers()
                    .iter()
                    .map(|l| (l.inputs * l.outputs) as f64)
                    .sum::<f64>();
            // On a hardware adapter Auto tiles the first layer: the blocked passes beside it
            // give the before/after of that kernel in one run.
            let paths: &[DataPath] = match gpu.is_software() {
                true => &[DataPath::Auto],
                false => &[DataPath::Auto, DataPath::Global],
            };
            for &chains in &config.network_chains {
                for &data_path in paths {
                    cases.push((
                        "W6",
                        network.clone().into(),
                        chains,
                        false,
                        data_path,
                        flops,
                        Method::Sgld,
                    ));
                }
            }
        }
        for (workload, target, chains, per_chain, data_path, flops, method) in cases {
            let case = DataCase {
                workload,
                data: name,
                target,
                chains,
                per_chain,
                data_path,
                method,
                flop_per_chain_step: flops,
            };
            rows.extend(time_data_case(gpu, case, config.steps, config.repeats)?);
        }
    }
    Ok(rows)
}
