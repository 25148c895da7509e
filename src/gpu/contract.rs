//! The host↔shader contract, written once: the structs both sides read, the numbers both sides
//! agree on (rule codes, counter streams, batch modes, sentinels) and every kernel's binding
//! slots. The WGSL declarations are generated from these Rust definitions and put in front of
//! each composed module, and the bind group layouts are made from the same tables, so neither
//! side can drift from the other; `shaders/` holds code, not declarations.

use crate::rng::Stream;

/// A `#[repr(C)]` struct the host uploads and a shader reads, declared once: the macro makes
/// the Rust struct and its WGSL twin (`Self::WGSL`) from the same field list. Fields are
/// 4-byte scalars, so the layouts agree without padding rules.
macro_rules! shared_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ident ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        #[repr(C)]
        $vis struct $name {
            $( $(#[$field_meta])* $field_vis $field: $ty ),*
        }

        impl $name {
            /// The WGSL declaration of this struct.
            pub(crate) const WGSL: &'static str = concat!(
                "struct ", stringify!($name), " {\n",
                $( "    ", stringify!($field), ": ", stringify!($ty), ",\n", )*
                "}\n"
            );
        }
    };
}

shared_struct! {
    /// Constants of one run, written once.
    pub(crate) struct RunParams {
        pub(crate) chains: u32,
        pub(crate) dim: u32,
        /// ⌈dim / 4⌉: dimensions 4b .. 4b+3 form block b and share one Philox call.
        pub(crate) blocks: u32,
        pub(crate) key_lo: u32,
        pub(crate) key_hi: u32,
        /// Where the initial positions' kernel reads coordinate d's σ: `init_scales[d ·
        /// init_scale_stride]`, so 1 for a scale per coordinate, 0 for one σ₀ for all.
        pub(crate) init_scale_stride: u32,
        /// The update rule's constants (rules.wgsl): pSGLD α and λ, SGHMC α, SGNHT A.
        pub(crate) method_a: f32,
        pub(crate) method_b: f32,
        /// 1/N for a data model of N examples, else 1: pSGLD's per-datum mean gradient.
        pub(crate) per_datum: f32,
        /// σ of the synthetic gradient noise N(0, σ²) added to ∇Ũ (0: none).
        pub(crate) gradient_noise: f32,
        /// Index in `auxiliary` of chain 0's temperature under a ladder, or NO_LADDER.
        pub(crate) ladder_offset: u32,
        /// The run-wide id of this state's chain 0 (a shard or group of chains runs a window).
        pub(crate) chain_offset: u32,
        /// Index in `auxiliary` of a dense metric's padded factors (`L` then `Lᵀ`, see
        /// `sampler::preconditioner`), or NO_PRECONDITIONER.
        pub(crate) preconditioner_offset: u32,
    }
}

impl RunParams {
    /// A run of `chains` chains of `dim` dimensions keyed by `seed`, the rest at rest values.
    pub(crate) fn new(chains: u32, dim: u32, seed: u64) -> RunParams {
        let [key_lo, key_hi] = crate::rng::key_for_seed(seed);
        RunParams {
            chains,
            dim,
            blocks: dim.div_ceil(4),
            key_lo,
            key_hi,
            init_scale_stride: 0,
            method_a: 0.0,
            method_b: 0.0,
            per_datum: 1.0,
            gradient_noise: 0.0,
            ladder_offset: NO_LADDER,
            chain_offset: 0,
            preconditioner_offset: NO_PRECONDITIONER,
        }
    }
}

shared_struct! {
    /// One dispatch advances every chain through steps first_step .. first_step + step_count.
    /// Bound at a dynamic offset, so a whole batch of dispatches shares one bind group.
    pub(crate) struct DispatchRecord {
        pub(crate) first_step: u32,
        pub(crate) step_count: u32,
        /// Index into the schedule table of first_step.
        pub(crate) table_offset: u32,
        /// Where the state after the last step is stored in the draws buffer, or NO_DRAW.
        pub(crate) draw_slot: u32,
        /// The draws the statistics kernel folds, from draw_slot on: 1 after a step dispatch
        /// that kept one, or every kept draw of a submit at once (`ChainState::submit`).
        pub(crate) draw_count: u32,
        /// Steps between the draws it folds: draw k was taken after step
        /// first_step + step_count + k · draw_stride − 1.
        pub(crate) draw_stride: u32,
    }
}

shared_struct! {
    /// The per-step scalars the host uploads for step `t`: `η_t`, the noise scale
    /// `sqrt(2 c η_t T)` (`c` = 1 for SGLD and pSGLD, `α − β̂` for SGHMC, `A` for SGNHT) and
    /// `T`, rounded to f32 once on the host so the GPU and the reference use the same values.
    pub struct StepScalars {
        /// `η_t`.
        pub eta: f32,
        /// `sqrt(2 c η_t T)`; zero makes the step its optimiser's and skips the generator.
        pub noise_scale: f32,
        /// `T` at this step (SGNHT's thermostat target).
        pub temperature: f32,
        /// Padding to 16 bytes.
        pub _pad: f32,
    }
}

impl StepScalars {
    /// SGLD's scalars for step size `eta` and temperature `temperature`, computed in f64.
    pub fn new(eta: f64, temperature: f64) -> StepScalars {
        StepScalars::with_noise_factor(eta, temperature, 1.0)
    }

    /// The scalars with noise scale `sqrt(2 c η T)` for the rule's factor `c`.
    pub fn with_noise_factor(eta: f64, temperature: f64, factor: f64) -> StepScalars {
        StepScalars {
            eta: eta as f32,
            noise_scale: (2.0 * factor * eta * temperature).sqrt() as f32,
            temperature: temperature as f32,
            _pad: 0.0,
        }
    }
}

shared_struct! {
    /// A data model's constants (`data_target.wgsl`).
    pub(crate) struct DataParams {
        /// N, examples in the training set.
        pub(crate) rows: u32,
        /// n, examples per mini-batch.
        pub(crate) batch: u32,
        /// BATCH_FULL, BATCH_WITH_REPLACEMENT or BATCH_WITHOUT_REPLACEMENT.
        pub(crate) mode: u32,
        /// 1: each chain draws its own batch; 0: one batch shared by all chains.
        pub(crate) per_chain: u32,
        /// N/n, the mini-batch scale of the likelihood gradient.
        pub(crate) scale: f32,
        /// 1: control variates (`control_variate` holds θ̂ and ∇L(θ̂)); 0: the plain estimator.
        pub(crate) control_variates: u32,
        pub(crate) _pad1: u32,
        pub(crate) _pad2: u32,
    }
}

shared_struct! {
    /// A network's constants (`network.wgsl`), one set for training and one for the test set.
    pub(crate) struct NetParams {
        /// N, examples in the bound data set.
        pub(crate) rows: u32,
        /// n, examples per training batch (and per test chunk).
        pub(crate) batch: u32,
        /// BATCH_FULL, BATCH_WITH_REPLACEMENT or BATCH_WITHOUT_REPLACEMENT.
        pub(crate) mode: u32,
        /// 1: each chain draws its own batch.
        pub(crate) per_chain: u32,
        /// N/n, the mini-batch scale of the likelihood gradient.
        pub(crate) scale: f32,
        /// L, layers (hidden layers plus the output layer).
        pub(crate) layers: u32,
        /// The output (`Output::code`: categorical, Bernoulli, Gaussian).
        pub(crate) output: u32,
        /// Units of the last layer.
        pub(crate) units: u32,
        /// F, features per example (stored dense).
        pub(crate) features: u32,
        /// 1/s² of a Gaussian output.
        pub(crate) noise_precision: f32,
        /// 1: the rows are the test set's, example i of a pass is chunk.first + i.
        pub(crate) testing: u32,
        /// The hidden layers' nonlinearity (`Activation::code`).
        pub(crate) activation: u32,
        /// Values per test example in `predictive`: K class sums, the entropy sum and the
        /// count (K + 2), or for a Gaussian output Σμ, Σμ², Σ exp(−r²/2s²) and the count (4).
        pub(crate) predictive_stride: u32,
        /// 1: `values` holds each feature as a byte k, four to a word, meaning k · (1/255)
        /// (images scaled to [0, 1]: a quarter of the memory, the same values); 0: f32 bits.
        pub(crate) byte_features: u32,
        pub(crate) _pad1: u32,
        pub(crate) _pad2: u32,
    }
}

shared_struct! {
    /// One layer of a network (`model::Layer`) and where its outputs live in `activations`.
    pub(crate) struct NetLayer {
        pub(crate) inputs: u32,
        pub(crate) outputs: u32,
        /// Index in θ of W[0][0].
        pub(crate) weights: u32,
        /// Index in θ of b[0].
        pub(crate) biases: u32,
        pub(crate) weight_precision: f32,
        pub(crate) bias_precision: f32,
        /// Index in `activations` (and `deltas`) of this layer's first output.
        pub(crate) offset: u32,
        pub(crate) _pad: u32,
    }
}

shared_struct! {
    /// The test examples one predictive pass covers, bound at a dynamic offset.
    pub(crate) struct ChunkRecord {
        pub(crate) first: u32,
        pub(crate) count: u32,
        pub(crate) _pad0: u32,
        pub(crate) _pad1: u32,
    }
}

shared_struct! {
    /// One chain's record of the running statistics (`chain_statistics.wgsl`).
    pub(crate) struct ChainStatus {
        /// Draws folded into the statistics.
        pub(crate) count: u32,
        /// Updates before the first draw found divergent, or NOT_DIVERGED.
        pub(crate) first_divergence: u32,
        /// Draws found divergent (under the reset policy a chain can diverge again).
        pub(crate) divergences: u32,
        /// 1 once a frozen chain is excluded.
        pub(crate) frozen: u32,
    }
}

impl ChainStatus {
    /// Before any draw: nothing counted, not diverged.
    pub(crate) const FRESH: ChainStatus = ChainStatus {
        count: 0,
        first_divergence: NOT_DIVERGED,
        divergences: 0,
        frozen: 0,
    };
}

/// `DispatchRecord::draw_slot` of a dispatch that keeps no draw.
pub(crate) const NO_DRAW: u32 = u32::MAX;
/// `RunParams::ladder_offset` of a run without a temperature ladder.
pub(crate) const NO_LADDER: u32 = u32::MAX;
/// `RunParams::preconditioner_offset` of a run in the identity metric.
pub(crate) const NO_PRECONDITIONER: u32 = u32::MAX;
/// `ChainStatus::first_divergence` of a chain that never diverged.
pub(crate) const NOT_DIVERGED: u32 = u32::MAX;
/// The owner of a mini-batch every chain shares (`minibatch::SHARED`).
pub(crate) const SHARED_BATCH: u32 = crate::minibatch::SHARED;

/// The update rules' codes (`METHOD`): each kernel is compiled for one.
pub(crate) const RULE_SGLD: u32 = 0;
pub(crate) const RULE_PSGLD: u32 = 1;
pub(crate) const RULE_SGHMC: u32 = 2;
pub(crate) const RULE_SGNHT: u32 = 3;

/// How a batch is drawn (`DataParams::mode`).
pub(crate) const BATCH_FULL: u32 = 0;
pub(crate) const BATCH_WITH_REPLACEMENT: u32 = 1;
pub(crate) const BATCH_WITHOUT_REPLACEMENT: u32 = 2;

/// The divergence policies (`DIVERGENCE_POLICY`).
pub(crate) const POLICY_FREEZE: u32 = 0;
pub(crate) const POLICY_RESET: u32 = 1;

/// Chains per workgroup of the tiled GLM kernel.
pub(crate) const TILE: u32 = 64;
/// Threads per workgroup of the tiled GLM kernel: TILE / 4 groups of four chains times
/// sixteen bands, each thread with an 8 × 4 register block (8 rows or coordinates × 4 chains).
pub(crate) const TILE_THREADS: u32 = 256;
/// Rows (examples for H, coordinates for G) per output tile of the tiled GLM kernel: eight
/// per band.
pub(crate) const TILE_ROWS: u32 = 8 * (TILE_THREADS / (TILE / 4));
/// Contraction depth of one slice the tiled GLM kernel stages in workgroup memory.
pub(crate) const TILE_DEPTH: u32 = 8;
// The kernel's slice loads: four features per thread, and one vec4 of chains per thread for
// the first TILE_DEPTH · TILE / 4 threads.
const _: () = assert!(TILE_ROWS * TILE_DEPTH == 4 * TILE_THREADS);
const _: () = assert!(TILE_DEPTH * (TILE / 4) <= TILE_THREADS);

/// Chains per workgroup of a network's tiled first-layer products (`network_tiled.wgsl`).
pub(crate) const NET_TILE_CHAINS: u32 = 64;
/// Units per workgroup of the tiled products.
pub(crate) const NET_TILE_UNITS: u32 = 4;
/// Threads per workgroup of the tiled products: NET_TILE_CHAINS / 4 groups of four chains ×
/// NET_TILE_UNITS units × four bands of eight examples (forward) or inputs (gradient).
pub(crate) const NET_TILE_THREADS: u32 = 256;
/// Examples per tile of the tiled forward: eight per band.
pub(crate) const NET_TILE_EXAMPLES: u32 =
    8 * NET_TILE_THREADS / (NET_TILE_CHAINS / 4 * NET_TILE_UNITS);
/// Inputs per tile of the tiled weight gradient: eight per band.
pub(crate) const NET_TILE_INPUTS: u32 = NET_TILE_EXAMPLES;
/// Inputs (forward) or examples (gradient) per slice the tiled products stage in workgroup
/// memory.
pub(crate) const NET_TILE_DEPTH: u32 = 8;
// The tiled products' slice loads: one input and two vec4 of weights or deltas per thread.
const _: () = assert!(NET_TILE_EXAMPLES * NET_TILE_DEPTH == NET_TILE_THREADS);
const _: () = assert!(NET_TILE_INPUTS * NET_TILE_DEPTH == NET_TILE_THREADS);
const _: () =
    assert!(NET_TILE_UNITS * NET_TILE_DEPTH * (NET_TILE_CHAINS / 4) == 2 * NET_TILE_THREADS);

/// Threads per workgroup of the fused GLM kernel.
pub(crate) const FUSED_THREADS: u32 = 256;
/// Entries per chunk of a column in the fused GLM kernel's gradient.
pub(crate) const FUSED_CHUNK: u32 = 16;

/// A GLM's constants at the head of `model_params` (1/σ², 1/s², intercept flag;
/// `shaders/glm.wgsl`): with sufficient statistics, X̃ᵀX̃ and X̃ᵀy follow them.
pub(crate) const GLM_CONSTANTS: u32 = 3;

/// Every shared constant as a WGSL `const` declaration.
fn constants() -> String {
    let u32s: [(&str, u32); 33] = [
        ("NO_DRAW", NO_DRAW),
        ("NO_LADDER", NO_LADDER),
        ("NO_PRECONDITIONER", NO_PRECONDITIONER),
        ("NOT_DIVERGED", NOT_DIVERGED),
        ("SHARED_BATCH", SHARED_BATCH),
        ("METHOD_SGLD", RULE_SGLD),
        ("METHOD_PSGLD", RULE_PSGLD),
        ("METHOD_SGHMC", RULE_SGHMC),
        ("METHOD_SGNHT", RULE_SGNHT),
        ("BATCH_FULL", BATCH_FULL),
        ("BATCH_WITH_REPLACEMENT", BATCH_WITH_REPLACEMENT),
        ("BATCH_WITHOUT_REPLACEMENT", BATCH_WITHOUT_REPLACEMENT),
        ("POLICY_FREEZE", POLICY_FREEZE),
        ("POLICY_RESET", POLICY_RESET),
        ("STREAM_NOISE", Stream::Noise as u32),
        ("STREAM_INIT", Stream::Init as u32),
        ("STREAM_BATCH", Stream::Batch as u32),
        ("STREAM_PERMUTATION", Stream::Permutation as u32),
        ("STREAM_GRADIENT_NOISE", Stream::GradientNoise as u32),
        ("TILE", TILE),
        ("TILE_THREADS", TILE_THREADS),
        ("QUADS", TILE / 4),
        ("TILE_ROWS", TILE_ROWS),
        ("TILE_DEPTH", TILE_DEPTH),
        ("NET_TILE_CHAINS", NET_TILE_CHAINS),
        ("NET_TILE_QUADS", NET_TILE_CHAINS / 4),
        ("NET_TILE_UNITS", NET_TILE_UNITS),
        ("NET_TILE_THREADS", NET_TILE_THREADS),
        ("NET_TILE_EXAMPLES", NET_TILE_EXAMPLES),
        ("NET_TILE_INPUTS", NET_TILE_INPUTS),
        ("NET_TILE_DEPTH", NET_TILE_DEPTH),
        ("FUSED_CHUNK", FUSED_CHUNK),
        ("GLM_CONSTANTS", GLM_CONSTANTS),
    ];
    u32s.iter()
        .map(|(name, value)| format!("const {name}: u32 = {value}u;\n"))
        .collect()
}

/// The declarations every composed module starts with: the shared structs and constants.
pub(crate) fn declarations() -> String {
    [
        RunParams::WGSL,
        DispatchRecord::WGSL,
        StepScalars::WGSL,
        DataParams::WGSL,
        ChainStatus::WGSL,
        NetParams::WGSL,
        NetLayer::WGSL,
        ChunkRecord::WGSL,
        &constants(),
    ]
    .concat()
}

/// How a kernel sees one binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Constants of the run.
    Uniform,
    /// The per-dispatch record, bound at a dynamic offset.
    DynamicUniform,
    /// Read-only data (schedule table, target parameters).
    Read,
    /// State the kernel writes.
    ReadWrite,
}

/// One binding slot: its WGSL name, type and access. A kernel's slots are numbered in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Binding {
    pub(crate) name: &'static str,
    pub(crate) ty: &'static str,
    pub(crate) access: Access,
}

const fn slot(name: &'static str, ty: &'static str, access: Access) -> Binding {
    Binding { name, ty, access }
}

/// The run, the dispatch record, the step table, θ, the draw slots and the rule's state: what
/// every step kernel binds first.
pub(crate) const STEP: [Binding; 6] = [
    slot("run", "RunParams", Access::Uniform),
    slot("dispatch", "DispatchRecord", Access::DynamicUniform),
    slot("schedule", "array<StepScalars>", Access::Read),
    slot("theta", "array<f32>", Access::ReadWrite),
    slot("draws", "array<f32>", Access::ReadWrite),
    // The rule's per-coordinate state laid out like θ, then one thermostat per chain, then
    // the ladder's temperatures.
    slot("auxiliary", "array<f32>", Access::ReadWrite),
];

/// A Gaussian target's mean and precision (diagonal, or dense row-major).
pub(crate) const GAUSSIAN: [Binding; 2] = [
    slot("target_mean", "array<f32>", Access::Read),
    slot("target_precision", "array<f32>", Access::Read),
];

/// A thread-per-chain Gaussian kernel's gradient scratch, laid out like θ.
pub(crate) const GRADIENT_SCRATCH: [Binding; 1] =
    [slot("gradient", "array<f32>", Access::ReadWrite)];

/// A data model's constants, data (CSR, or dense for the tiled kernel), scratch, model
/// constants and control-variate centre (θ̂ then ∇L(θ̂)).
pub(crate) const DATA: [Binding; 8] = [
    slot("data", "DataParams", Access::Uniform),
    slot("row_offsets", "array<u32>", Access::Read),
    slot("columns", "array<u32>", Access::Read),
    slot("values", "array<f32>", Access::Read),
    slot("labels", "array<f32>", Access::Read),
    slot("gradient", "array<f32>", Access::ReadWrite),
    slot("model_params", "array<f32>", Access::Read),
    slot("control_variate", "array<f32>", Access::Read),
];

/// A network's passes (`network.wgsl`): the step's bindings, then its constants, the test
/// chunk (dynamic), the layers, the features (dense) and labels, the batch's rows, the
/// activations and deltas, and the test set's predictive sums.
pub(crate) const NETWORK: [Binding; 9] = [
    slot("net", "NetParams", Access::Uniform),
    slot("chunk", "ChunkRecord", Access::DynamicUniform),
    slot("net_layers", "array<NetLayer>", Access::Read),
    slot("values", "array<u32>", Access::Read),
    slot("labels", "array<f32>", Access::Read),
    slot("batch_rows", "array<u32>", Access::ReadWrite),
    slot("activations", "array<f32>", Access::ReadWrite),
    slot("deltas", "array<f32>", Access::ReadWrite),
    slot("predictive", "array<f32>", Access::ReadWrite),
];

/// The initial positions' kernel: θ and the standard deviations it draws with (see
/// `RunParams::init_scale_stride`).
pub(crate) const INIT: [Binding; 3] = [
    slot("run", "RunParams", Access::Uniform),
    slot("theta", "array<f32>", Access::ReadWrite),
    slot("init_scales", "array<f32>", Access::Read),
];

/// The statistics kernel after a kept draw: it shares the step's first bindings but θ, and
/// adds the running statistics (C × D means then C × D sums of squared deviations, laid out
/// like θ), each chain's status and its last finite draw (laid out like θ).
pub(crate) const STATISTICS: [Binding; 8] = [
    slot("run", "RunParams", Access::Uniform),
    slot("dispatch", "DispatchRecord", Access::DynamicUniform),
    slot("theta", "array<f32>", Access::ReadWrite),
    slot("draws", "array<f32>", Access::ReadWrite),
    slot("auxiliary", "array<f32>", Access::ReadWrite),
    slot("statistics", "array<f32>", Access::ReadWrite),
    slot("status", "array<ChainStatus>", Access::ReadWrite),
    slot("last_good", "array<f32>", Access::ReadWrite),
];

/// The generator probe (tests): counters in, words and normals out.
#[cfg(test)]
pub(crate) const RNG_PROBE: [Binding; 4] = [
    slot("run", "RunParams", Access::Uniform),
    slot("counters", "array<vec4<u32>>", Access::Read),
    slot("words", "array<vec4<u32>>", Access::ReadWrite),
    slot("normals", "array<vec4<f32>>", Access::ReadWrite),
];

/// The WGSL declarations of `bindings`, numbered from 0 in group 0.
pub(crate) fn binding_declarations(bindings: &[Binding]) -> String {
    bindings
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let space = match b.access {
                Access::Uniform | Access::DynamicUniform => "uniform",
                Access::Read => "storage, read",
                Access::ReadWrite => "storage, read_write",
            };
            format!(
                "@group(0) @binding({i}) var<{space}> {}: {};\n",
                b.name, b.ty
            )
        })
        .collect()
}
