//! The compute kernels, one table: each [`Kernel`] says in one place ([`Kernel::spec`]) which
//! WGSL files make it, its bindings, entry point, pipeline constants and any fixed workgroup
//! size; [`Pipeline`] compiles it behind the declarations generated from
//! [`super::contract`], and covers a number of threads with a grid.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::gpu::contract::{self, Binding};
use crate::gpu::Gpu;

pub(crate) use super::data_shape::{DataShape, FusedShape, RegisterShape, TiledShape};

const MULHILO_PORTABLE: &str = include_str!("../../shaders/mulhilo_portable.wgsl");
const MULHILO_INT64: &str = include_str!("../../shaders/mulhilo_int64.wgsl");
const PHILOX: &str = include_str!("../../shaders/philox.wgsl");
const NORMAL: &str = include_str!("../../shaders/normal.wgsl");
const CHAIN_LAYOUT: &str = include_str!("../../shaders/chain_layout.wgsl");
const INIT: &str = include_str!("../../shaders/init.wgsl");
const CHAIN_STATISTICS: &str = include_str!("../../shaders/chain_statistics.wgsl");
const RULES: &str = include_str!("../../shaders/rules.wgsl");
const MOVE_CHAIN: &str = include_str!("../../shaders/move_chain.wgsl");
const GAUSSIAN_TARGET: &str = include_str!("../../shaders/gaussian_target.wgsl");
const DATA_TARGET: &str = include_str!("../../shaders/data_target.wgsl");
const MINIBATCH: &str = include_str!("../../shaders/minibatch.wgsl");
const CONTROL_VARIATE: &str = include_str!("../../shaders/control_variate.wgsl");
const SGLD_DATA: &str = include_str!("../../shaders/sgld_data.wgsl");
const SGLD_DATA_STAGED: &str = include_str!("../../shaders/sgld_data_staged.wgsl");
const SGLD_GLM_FUSED: &str = include_str!("../../shaders/sgld_glm_fused.wgsl");
const SGLD_GLM_TILED: &str = include_str!("../../shaders/sgld_glm_tiled.wgsl");
const SGLD_GLM_REGISTER: &str = include_str!("../../shaders/sgld_glm_register.wgsl");
const DATA_ACCESS_GLOBAL: &str = include_str!("../../shaders/data_access_global.wgsl");
const DATA_ACCESS_STAGED: &str = include_str!("../../shaders/data_access_staged.wgsl");
const SGLD_GAUSSIAN_DIAGONAL: &str = include_str!("../../shaders/sgld_gaussian_diagonal.wgsl");
const SGLD_GAUSSIAN_CHAIN: &str = include_str!("../../shaders/sgld_gaussian_chain.wgsl");
const NETWORK: &str = include_str!("../../shaders/network.wgsl");
const NETWORK_TILED: &str = include_str!("../../shaders/network_tiled.wgsl");
#[cfg(test)]
const RNG_PROBE: &str = include_str!("../../shaders/rng_probe.wgsl");

/// Default threads per workgroup.
pub(crate) const DEFAULT_WORKGROUP_SIZE: u32 = 256;

/// How Philox's 32×32 → 64-bit products are computed on the GPU. Both give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RngMultiply {
    /// Native 64-bit integers where the adapter has `SHADER_INT64`, else portable.
    #[default]
    Auto,
    /// Four 16-bit partial products: runs on every adapter.
    Portable,
    /// One 64-bit product; an error on adapters without `SHADER_INT64`.
    Int64,
}

impl RngMultiply {
    /// Resolves `Auto` against what `gpu` supports.
    pub(crate) fn resolve(self, gpu: &Gpu) -> Result<RngMultiply> {
        match (self, gpu.has_int64()) {
            (RngMultiply::Auto, true) | (RngMultiply::Int64, true) => Ok(RngMultiply::Int64),
            (RngMultiply::Auto, false) | (RngMultiply::Portable, _) => Ok(RngMultiply::Portable),
            (RngMultiply::Int64, false) => Err(Error::invalid(
                "RNG multiply",
                format!(
                    "adapter `{}` lacks SHADER_INT64; use RngMultiply::Portable or Auto",
                    gpu.name()
                ),
            )),
        }
    }

    /// The name reported by benchmarks.
    pub fn name(self) -> &'static str {
        match self {
            RngMultiply::Auto => "auto",
            RngMultiply::Portable => "portable",
            RngMultiply::Int64 => "int64",
        }
    }
}

/// The kernels langevin runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// θ₀ ~ N(0, σ₀²).
    Init,
    /// After a kept draw: divergence check and policy, running mean and variance per chain.
    ChainStatistics {
        /// Whether a divergent chain is reset to its last finite draw (else frozen).
        reset: bool,
    },
    /// Steps of the run's rule on a Gaussian with diagonal precision, a thread per
    /// (chain, block of 4) with the state in registers (not SGNHT).
    SgldGaussianDiagonal,
    /// Steps on a Gaussian, a thread per chain: a dense precision matrix, or a diagonal one
    /// for rules that need the whole chain (SGNHT).
    SgldGaussianChain {
        /// Whether the precision is a dense D × D matrix.
        dense: bool,
    },
    /// Steps on a data model: its WGSL (the `data_target.wgsl` interface) and a label.
    SgldData {
        /// The model's name, used as the label.
        label: String,
        /// The model's WGSL, placed first so its line numbers are its own.
        model: Vec<Cow<'static, str>>,
        /// How the kernel reads its batch; for the fused and tiled GLM kernels `model` is the
        /// likelihood file alone.
        shape: DataShape,
    },
    /// One pass of a feed-forward network's step (`network.wgsl`).
    Network {
        /// Which pass.
        pass: NetPass,
        /// The most class probabilities one example has (its private arrays' size).
        classes: u32,
    },
    /// Raw Philox words and normals for given counters (tests only).
    #[cfg(test)]
    RngProbe,
}

/// Examples one invocation of a network's forward or backward pass carries in registers
/// (`LANES` in `shaders/network.wgsl`, generated from this).
pub(crate) const NET_EXAMPLES_PER_INVOCATION: u64 = 4;

/// Units (forward) or inputs (backward) one invocation of a network's pass carries in
/// registers beside its examples (`UNIT_LANES` in `shaders/network.wgsl`).
pub(crate) const NET_UNITS_PER_INVOCATION: u64 = 4;

/// The passes of a network's step, and the predictive pass after a kept draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NetPass {
    /// The step's batch rows.
    Batch,
    /// Layer l forward.
    Forward(u32),
    /// The first layer forward as one tiled product over the chains, for rows every chain
    /// shares (`network_tiled.wgsl`).
    ForwardTiled,
    /// The last layer's δ.
    Output,
    /// Layer l's δ carried to layer l − 1.
    Backward(u32),
    /// Gradient and move of every parameter from block `first_block` on (those before it
    /// are the first layer's weights when `UpdateTiled` runs them).
    Update { first_block: u32 },
    /// Gradient and move of the first layer's weights as one tiled product over the chains,
    /// for a batch every chain shares (`network_tiled.wgsl`).
    UpdateTiled,
    /// The test chunk's predictive sums.
    Predict,
}

impl NetPass {
    fn entry_point(self) -> &'static str {
        match self {
            NetPass::Batch => "net_batch",
            NetPass::Forward(_) => "net_forward",
            NetPass::ForwardTiled => "net_forward_tiled",
            NetPass::Output => "net_output",
            NetPass::Backward(_) => "net_backward",
            NetPass::Update { .. } => "net_update",
            NetPass::UpdateTiled => "net_update_tiled",
            NetPass::Predict => "net_predict",
        }
    }
}

/// Everything about one kernel: its row of the table.
pub(crate) struct KernelSpec<'a> {
    pub(crate) label: &'a str,
    pub(crate) entry_point: &'static str,
    /// The model's code (first, so its line numbers are its own), then the kernel's files.
    pub(crate) code: Vec<&'a str>,
    pub(crate) bindings: Vec<Binding>,
    /// Pipeline-overridable constants beyond the workgroup size and the rule.
    pub(crate) constants: Vec<(&'static str, f64)>,
    /// Threads per workgroup when the kernel's shape fixes them.
    pub(crate) fixed_workgroup_size: Option<u32>,
    /// WGSL constants generated for this kernel (sizes its loops and private arrays use).
    pub(crate) generated: String,
}

impl Kernel {
    /// The kernel's row of the table.
    pub(crate) fn spec(&self) -> KernelSpec<'_> {
        let step_and = |target: &[Binding]| [&contract::STEP[..], target].concat();
        let spec = |label, entry_point, code: Vec<&'static str>, bindings| KernelSpec {
            label,
            entry_point,
            code: code.into_iter().collect(),
            bindings,
            constants: Vec::new(),
            fixed_workgroup_size: None,
            generated: String::new(),
        };
        match self {
            Kernel::Init => spec(
                "init_positions",
                "init_positions",
                vec![INIT],
                contract::INIT.to_vec(),
            ),
            Kernel::ChainStatistics { reset } => KernelSpec {
                constants: vec![(
                    "DIVERGENCE_POLICY",
                    f64::from(match reset {
                        true => contract::POLICY_RESET,
                        false => contract::POLICY_FREEZE,
                    }),
                )],
                ..spec(
                    "chain_statistics",
                    "chain_statistics",
                    vec![CHAIN_STATISTICS],
                    contract::STATISTICS.to_vec(),
                )
            },
            Kernel::SgldGaussianDiagonal => spec(
                "sgld_gaussian_diagonal",
                "sgld_gaussian_diagonal",
                vec![GAUSSIAN_TARGET, RULES, SGLD_GAUSSIAN_DIAGONAL],
                step_and(&contract::GAUSSIAN),
            ),
            Kernel::SgldGaussianChain { dense } => KernelSpec {
                constants: vec![("DENSE_PRECISION", f64::from(u8::from(*dense)))],
                ..spec(
                    "sgld_gaussian_chain",
                    "sgld_gaussian_chain",
                    vec![GAUSSIAN_TARGET, RULES, MOVE_CHAIN, SGLD_GAUSSIAN_CHAIN],
                    [
                        &contract::STEP[..],
                        &contract::GAUSSIAN,
                        &contract::GRADIENT_SCRATCH,
                    ]
                    .concat(),
                )
            },
            Kernel::SgldData {
                label,
                model,
                shape,
            } => {
                let staged = |rows: u32, width: u32| {
                    vec![
                        ("STAGE_ROWS", f64::from(rows)),
                        ("STAGE_ROW_WIDTH", f64::from(width)),
                        ("STAGE_ENTRIES", f64::from(rows) * f64::from(width)),
                    ]
                };
                let mut generated = String::new();
                let (entry_point, files, constants, fixed) = match *shape {
                    DataShape::Global => (
                        "sgld_data",
                        vec![
                            DATA_ACCESS_GLOBAL,
                            CONTROL_VARIATE,
                            RULES,
                            MOVE_CHAIN,
                            SGLD_DATA,
                        ],
                        Vec::new(),
                        None,
                    ),
                    DataShape::Staged { rows, width } => (
                        "sgld_data_staged",
                        vec![
                            DATA_ACCESS_STAGED,
                            CONTROL_VARIATE,
                            RULES,
                            MOVE_CHAIN,
                            SGLD_DATA_STAGED,
                        ],
                        staged(rows, width),
                        None,
                    ),
                    DataShape::Fused(fused) => (
                        "sgld_glm_fused",
                        vec![DATA_ACCESS_STAGED, RULES, SGLD_GLM_FUSED],
                        [staged(fused.rows, fused.width), fused.constants()].concat(),
                        Some(contract::FUSED_THREADS),
                    ),
                    DataShape::Tiled(tiled) => (
                        "sgld_glm_tiled",
                        vec![RULES, SGLD_GLM_TILED],
                        tiled.constants(),
                        Some(contract::TILE_THREADS),
                    ),
                    DataShape::Register(register) => {
                        generated = register.constants();
                        (
                            "sgld_glm_register",
                            vec![RULES, SGLD_GLM_REGISTER],
                            Vec::new(),
                            None,
                        )
                    }
                };
                KernelSpec {
                    label,
                    entry_point,
                    code: model
                        .iter()
                        .map(|c| c.as_ref())
                        .chain([DATA_TARGET, MINIBATCH])
                        .chain(files)
                        .collect(),
                    bindings: step_and(&contract::DATA),
                    constants,
                    fixed_workgroup_size: fixed,
                    generated,
                }
            }
            Kernel::Network { pass, classes } => {
                let layer = match *pass {
                    NetPass::Forward(l) | NetPass::Backward(l) => l,
                    _ => 0,
                };
                let first_block = match *pass {
                    NetPass::Update { first_block } => first_block,
                    _ => 0,
                };
                let (files, fixed) = match pass {
                    NetPass::ForwardTiled | NetPass::UpdateTiled => (
                        vec![MINIBATCH, RULES, NETWORK, NETWORK_TILED],
                        Some(contract::NET_TILE_THREADS),
                    ),
                    _ => (vec![MINIBATCH, RULES, NETWORK], None),
                };
                KernelSpec {
                    constants: vec![
                        ("LAYER", f64::from(layer)),
                        ("UPDATE_FIRST_BLOCK", f64::from(first_block)),
                    ],
                    generated: format!(
                        "const MAX_CLASSES: u32 = {}u;\nconst LANES: u32 = {NET_EXAMPLES_PER_INVOCATION}u;\nconst UNIT_LANES: u32 = {NET_UNITS_PER_INVOCATION}u;\n",
                        classes.max(&2)
                    ),
                    fixed_workgroup_size: fixed,
                    ..spec(
                        "network",
                        pass.entry_point(),
                        files,
                        step_and(&contract::NETWORK),
                    )
                }
            }
            #[cfg(test)]
            Kernel::RngProbe => spec(
                "rng_probe",
                "rng_probe",
                vec![RNG_PROBE],
                contract::RNG_PROBE.to_vec(),
            ),
        }
    }

    /// Threads per workgroup when the kernel's shape fixes them.
    pub(crate) fn fixed_workgroup_size(&self) -> Option<u32> {
        self.spec().fixed_workgroup_size
    }

    /// The WGSL module: the model's code, the generated declarations and bindings, the shared
    /// pieces, then the kernel's own files.
    pub(crate) fn source(&self, multiply: RngMultiply) -> String {
        let spec = self.spec();
        let mulhilo = match multiply {
            RngMultiply::Int64 => MULHILO_INT64,
            RngMultiply::Auto | RngMultiply::Portable => MULHILO_PORTABLE,
        };
        let model_files = match self {
            Kernel::SgldData { model, .. } => model.len(),
            _ => 0,
        };
        let (model, own) = spec.code.split_at(model_files);
        let generated = contract::declarations()
            + &contract::binding_declarations(&spec.bindings)
            + &spec.generated;
        [
            model,
            &[generated.as_str(), mulhilo, PHILOX, NORMAL, CHAIN_LAYOUT][..],
            own,
        ]
        .concat()
        .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::contract::Access;
    use crate::gpu::contract::RunParams;
    use crate::gpu::pipeline::{Pipeline, Threads};
    use crate::model::shaders::{GLM, GLM_LINEAR, GLM_LOGISTIC, MIXTURE, MLP};
    use crate::rng;
    use wgpu::BufferUsages as U;

    /// Runs the probe kernel: GPU words and normals for each counter under `seed`'s key.
    fn probe(
        gpu: &Gpu,
        seed: u64,
        counters: &[[u32; 4]],
        workgroup_size: u32,
        multiply: RngMultiply,
    ) -> (Vec<u32>, Vec<f32>) {
        let pipeline = Pipeline::new(gpu, &Kernel::RngProbe, workgroup_size, multiply, 0)
            .expect("probe builds");
        let params = RunParams::new(1, 4, seed);
        let make = |label: &str, size: u64, usage: U| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        let bytes = (counters.len() * 16) as u64;
        let uniform = make(
            "probe params",
            std::mem::size_of::<RunParams>() as u64,
            U::UNIFORM | U::COPY_DST,
        );
        let input = make("probe counters", bytes, U::STORAGE | U::COPY_DST);
        let words = make("probe words", bytes, U::STORAGE | U::COPY_SRC);
        let normals = make("probe normals", bytes, U::STORAGE | U::COPY_SRC);
        gpu.queue
            .write_buffer(&uniform, 0, bytemuck::bytes_of(&params));
        gpu.queue
            .write_buffer(&input, 0, bytemuck::cast_slice(counters));
        let group = pipeline.bind(gpu, &[&uniform, &input, &words, &normals], &[]);
        let grid = pipeline
            .grid(gpu, Threads::Linear(counters.len() as u64))
            .expect("grid");
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(grid.x, grid.y, grid.z);
        }
        gpu.queue.submit([encoder.finish()]);
        let w = gpu.read_buffer(&words, bytes).expect("words");
        let z = gpu.read_buffer(&normals, bytes).expect("normals");
        (
            bytemuck::pod_collect_to_vec(&w),
            bytemuck::pod_collect_to_vec(&z),
        )
    }

    fn counters(n: u32) -> Vec<[u32; 4]> {
        let mut list: Vec<[u32; 4]> = (0..n)
            .map(|i| [i % 1000, i / 1000, i.wrapping_mul(2_654_435_761), i % 2])
            .collect();
        list.push([u32::MAX; 4]);
        list.push([0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344]);
        list
    }

    /// One of every kernel shape, with every built-in model's code.
    fn all_kernels() -> Vec<Kernel> {
        vec![
            Kernel::Init,
            Kernel::ChainStatistics { reset: false },
            Kernel::ChainStatistics { reset: true },
            Kernel::SgldGaussianDiagonal,
            Kernel::SgldGaussianChain { dense: true },
            Kernel::SgldGaussianChain { dense: false },
            Kernel::Network {
                pass: NetPass::ForwardTiled,
                classes: 10,
            },
            Kernel::Network {
                pass: NetPass::UpdateTiled,
                classes: 10,
            },
            Kernel::SgldData {
                label: "linear".into(),
                model: vec![GLM.into(), GLM_LINEAR.into()],
                shape: DataShape::Global,
            },
            Kernel::SgldData {
                label: "linear_staged".into(),
                model: vec![GLM.into(), GLM_LINEAR.into()],
                shape: DataShape::Staged {
                    rows: 100,
                    width: 14,
                },
            },
            Kernel::SgldData {
                label: "logistic_fused".into(),
                model: vec![GLM_LOGISTIC.into()],
                shape: DataShape::Fused(FusedShape {
                    rows: 100,
                    width: 14,
                    chains: 4,
                    dim: 124,
                    features: 123,
                    per_chain: false,
                }),
            },
            Kernel::SgldData {
                label: "logistic_fused_per_chain".into(),
                model: vec![GLM_LOGISTIC.into()],
                shape: DataShape::Fused(FusedShape {
                    rows: 100,
                    width: 14,
                    chains: 1,
                    dim: 124,
                    features: 123,
                    per_chain: true,
                }),
            },
            Kernel::SgldData {
                label: "logistic_register".into(),
                model: vec![GLM_LOGISTIC.into()],
                shape: DataShape::Register(RegisterShape {
                    chains: 8,
                    dim: 124,
                    width: 14,
                    batch: 100,
                    per_chain: false,
                    mode: contract::BATCH_WITH_REPLACEMENT,
                    dense: false,
                    binary: true,
                    intercept: true,
                    control_variates: true,
                    metric: true,
                    gram: false,
                }),
            },
            Kernel::SgldData {
                label: "linear_register_gram".into(),
                model: vec![GLM_LINEAR.into()],
                shape: DataShape::Register(RegisterShape {
                    chains: 8,
                    dim: 5,
                    width: 4,
                    batch: 500,
                    per_chain: false,
                    mode: contract::BATCH_FULL,
                    dense: true,
                    binary: false,
                    intercept: true,
                    control_variates: false,
                    metric: false,
                    gram: true,
                }),
            },
            Kernel::SgldData {
                label: "logistic_tiled".into(),
                model: vec![GLM_LOGISTIC.into()],
                shape: DataShape::Tiled(TiledShape {
                    batch: 100,
                    r_on_chip: true,
                }),
            },
            Kernel::SgldData {
                label: "logistic_tiled_r_in_device_memory".into(),
                model: vec![GLM_LOGISTIC.into()],
                shape: DataShape::Tiled(TiledShape {
                    batch: 1000,
                    r_on_chip: false,
                }),
            },
            Kernel::SgldData {
                label: "logistic".into(),
                model: vec![GLM.into(), GLM_LOGISTIC.into()],
                shape: DataShape::Global,
            },
            Kernel::SgldData {
                label: "mixture".into(),
                model: vec![MIXTURE.into()],
                shape: DataShape::Global,
            },
            Kernel::SgldData {
                label: "mlp".into(),
                model: vec![MLP.into()],
                shape: DataShape::Global,
            },
            Kernel::RngProbe,
        ]
    }

    #[test]
    fn every_kernel_builds_with_both_multiplies() {
        let gpu = crate::gpu::tests::shared_gpu();
        for kernel in &all_kernels() {
            for multiply in [RngMultiply::Portable, RngMultiply::Auto] {
                for method in 0..4 {
                    if let Err(error) = Pipeline::new(gpu, kernel, 64, multiply, method) {
                        panic!("{kernel:?} with {multiply:?}, rule {method}: {error}");
                    }
                }
            }
        }
    }

    /// Every composed kernel parses, declares exactly the bindings its table row lists (name,
    /// slot, address space and type), and has its entry point; and no file of `shaders/`
    /// declares a binding or a contract struct of its own (they are generated).
    #[test]
    fn every_composed_kernel_matches_the_contract() {
        for kernel in all_kernels() {
            for multiply in [RngMultiply::Portable, RngMultiply::Int64] {
                let source = kernel.source(multiply);
                let module = naga::front::wgsl::parse_str(&source)
                    .unwrap_or_else(|e| panic!("{kernel:?}: {}", e.emit_to_string(&source)));
                let spec = kernel.spec();
                let mut bound: Vec<(u32, String, bool)> = module
                    .global_variables
                    .iter()
                    .filter_map(|(_, var)| {
                        let binding = var.binding.as_ref()?;
                        assert_eq!(binding.group, 0, "{kernel:?}");
                        let uniform = matches!(var.space, naga::AddressSpace::Uniform);
                        Some((
                            binding.binding,
                            var.name.clone().unwrap_or_default(),
                            uniform,
                        ))
                    })
                    .collect();
                bound.sort();
                let want: Vec<(u32, String, bool)> = spec
                    .bindings
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let uniform = matches!(b.access, Access::Uniform | Access::DynamicUniform);
                        (i as u32, b.name.to_owned(), uniform)
                    })
                    .collect();
                assert_eq!(bound, want, "{kernel:?}");
                assert!(
                    module
                        .entry_points
                        .iter()
                        .any(|e| e.name == spec.entry_point),
                    "{kernel:?} lacks {}",
                    spec.entry_point
                );
            }
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
        for entry in std::fs::read_dir(dir).expect("shaders") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            assert!(
                !text.contains("@binding"),
                "{}: bindings are generated",
                path.display()
            );
            for name in [
                "RunParams",
                "DispatchRecord",
                "StepScalars",
                "DataParams",
                "ChainStatus",
            ] {
                assert!(
                    !text.contains(&format!("struct {name}")),
                    "{}: {name} is generated from gpu/contract.rs",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn gpu_philox_is_bit_exact_with_the_cpu_twin() {
        let gpu = crate::gpu::tests::shared_gpu();
        let mut multiplies = vec![RngMultiply::Portable];
        if gpu.has_int64() {
            multiplies.push(RngMultiply::Int64);
        } else {
            eprintln!("adapter lacks SHADER_INT64: only the portable multiply is checked");
        }
        for (seed, multiply) in [0u64, 7, u64::MAX, 0x299f_31d0_a409_3822]
            .into_iter()
            .flat_map(|seed| multiplies.iter().map(move |m| (seed, *m)))
        {
            let list = counters(5000);
            let (words, normals) = probe(gpu, seed, &list, 64, multiply);
            let key = rng::key_for_seed(seed);
            for (i, counter) in list.iter().enumerate() {
                let cpu = rng::philox4x32_10(*counter, key);
                assert_eq!(
                    &words[i * 4..i * 4 + 4],
                    &cpu,
                    "{multiply:?} seed {seed} counter {counter:x?}"
                );
                let z = rng::normals_from_words(cpu);
                for k in 0..4 {
                    // Vulkan allows sin/cos an absolute error of 2⁻¹¹ on [−π, π] and log about
                    // 2⁻²¹; times a radius ≤ 5.9 that bounds the difference by ~3·10⁻³.
                    let diff = (normals[i * 4 + k] - z[k]).abs();
                    assert!(
                        diff < 3e-3,
                        "normal {k} of {counter:x?}: {} vs {}",
                        normals[i * 4 + k],
                        z[k]
                    );
                }
            }
        }
    }

    #[test]
    fn gpu_normals_have_standard_moments_and_pass_ks() {
        let gpu = crate::gpu::tests::shared_gpu();
        let n_blocks = 1u32 << 16;
        let list: Vec<[u32; 4]> = (0..n_blocks).map(|i| [i, 3, 1, 0]).collect();
        let (_, normals) = probe(gpu, 2024, &list, 256, RngMultiply::Auto);
        let n = normals.len() as f64;
        let mean = normals.iter().map(|&z| f64::from(z)).sum::<f64>() / n;
        let var = normals
            .iter()
            .map(|&z| (f64::from(z) - mean).powi(2))
            .sum::<f64>()
            / n;
        let kurt = normals
            .iter()
            .map(|&z| (f64::from(z) - mean).powi(4))
            .sum::<f64>()
            / n
            / var.powi(2);
        // n = 262144 iid N(0,1): sd(mean) = 1/√n ≈ 0.002, sd(var) = √(2/n) ≈ 0.0028,
        // sd(kurtosis) ≈ √(24/n) ≈ 0.0096. Five standard errors each.
        assert!(mean.abs() < 5.0 / n.sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * (2.0 / n).sqrt(), "variance {var}");
        assert!(
            (kurt - 3.0).abs() < 5.0 * (24.0 / n).sqrt(),
            "kurtosis {kurt}"
        );
        // Kolmogorov–Smirnov against Φ; the critical value at α = 10⁻⁴ is √(−ln(α/2)/2)/√n.
        let mut sorted: Vec<f64> = normals.iter().map(|&z| f64::from(z)).collect();
        sorted.sort_by(f64::total_cmp);
        let distance = sorted
            .iter()
            .enumerate()
            .map(|(i, &z)| {
                let cdf = 0.5 * libm::erfc(-z / std::f64::consts::SQRT_2);
                (cdf - i as f64 / n)
                    .abs()
                    .max(((i + 1) as f64 / n - cdf).abs())
            })
            .fold(0.0, f64::max);
        let critical = (-(1e-4f64 / 2.0).ln() / 2.0).sqrt() / n.sqrt();
        assert!(distance < critical, "KS distance {distance} ≥ {critical}");
    }
}
