//! The data kernels' shapes: which kernel steps a data model's chains, and the constants each
//! shape compiles its kernel with.

use crate::gpu::contract;

/// How a data kernel reads its mini-batch and where the chains' state lives during a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DataShape {
    /// A thread per chain draws its batch and reads the rows from device memory.
    Global,
    /// A shared batch of `rows` rows, at most `width` entries each, staged in workgroup memory.
    Staged { rows: u32, width: u32 },
    /// Staged, with θ of a few chains in workgroup memory across the steps of a dispatch and
    /// the gradient through the batch's column-major copy (GLMs).
    Fused(FusedShape),
    /// The gradient as two tiled products over the chain axis, features dense (GLMs).
    Tiled(TiledShape),
    /// A few chains per invocation with θ and ∇ in private memory, every trip count a
    /// constant (GLMs).
    Register(RegisterShape),
}

/// The tiled GLM kernel's shape (`sgld_glm_tiled.wgsl`): a batch of n examples, and where R
/// (the batch's dlog p/dη for the workgroup's chains) lives between the two products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TiledShape {
    /// The batch size n.
    pub(crate) batch: u32,
    /// R (n × TILE) stays in workgroup memory through the step; otherwise it goes through the
    /// device-memory scratch (n × C), for batches too large for the workgroup's memory.
    pub(crate) r_on_chip: bool,
}

impl TiledShape {
    /// The shape for a batch of `batch`: R on chip where `memory` bytes of workgroup memory
    /// hold it, else in device memory; `None` where not even that fits.
    pub(crate) fn fitting(batch: u32, memory: u64) -> Option<TiledShape> {
        [true, false]
            .map(|r_on_chip| TiledShape { batch, r_on_chip })
            .into_iter()
            .find(|shape| shape.workgroup_bytes() <= memory)
    }

    /// Vec4 entries of the workgroup's R: n × TILE / 4 on chip, else one (unused).
    fn r_vec4s(&self) -> u64 {
        match self.r_on_chip {
            true => u64::from(self.batch) * u64::from(contract::TILE / 4),
            false => 1,
        }
    }

    /// Workgroup memory the kernel declares: the batch's row indices, a slice of features
    /// (TILE_ROWS × TILE_DEPTH) and of chains (TILE_DEPTH × TILE), and R.
    pub(crate) fn workgroup_bytes(&self) -> u64 {
        let features = u64::from(contract::TILE_ROWS * contract::TILE_DEPTH) * 4;
        let chains = u64::from(contract::TILE_DEPTH * contract::TILE) * 4;
        4 * u64::from(self.batch) + features + chains + 16 * self.r_vec4s()
    }

    /// Bytes of the device-memory scratch: R for every chain when it is not on chip.
    pub(crate) fn scratch_bytes(&self, chains: u64) -> u64 {
        match self.r_on_chip {
            true => 4,
            false => u64::from(self.batch) * chains * 4,
        }
    }

    /// The pipeline constants of `sgld_glm_tiled.wgsl`.
    pub(crate) fn constants(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("TILE_BATCH", f64::from(self.batch)),
            ("TILE_R_ON_CHIP", f64::from(u8::from(self.r_on_chip))),
            ("TILE_R_VEC4S", self.r_vec4s() as f64),
        ]
    }
}

/// The register GLM kernel's shape (`sgld_glm_register.wgsl`): `chains` chains per invocation
/// with θ and ∇ in private memory, rows padded to `width` entries, every trip count a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegisterShape {
    /// Chains per invocation, K.
    pub(crate) chains: u32,
    /// Coordinates, D.
    pub(crate) dim: u32,
    /// Entries per padded row, W.
    pub(crate) width: u32,
    /// Examples per batch, n.
    pub(crate) batch: u32,
    /// Whether each chain draws its own batch (then K = 1).
    pub(crate) per_chain: bool,
    /// The batch mode, numbered as in the contract (`BATCH_FULL`, …).
    pub(crate) mode: u32,
    /// Whether the features are dense (entry j is column j).
    pub(crate) dense: bool,
    /// Whether the features are sparse with every stored value 1, so that only their columns
    /// are read.
    pub(crate) binary: bool,
    /// Whether coordinate 0 is an intercept.
    pub(crate) intercept: bool,
    /// Whether the run has control variates.
    pub(crate) control_variates: bool,
    /// Whether the run moves in a dense metric.
    pub(crate) metric: bool,
    /// Whether the batch's gradient comes from the data's sufficient statistics (full-batch
    /// linear regression): `model_params` carries X̃ᵀX̃ and X̃ᵀy after the GLM's constants.
    pub(crate) gram: bool,
}

/// The most coordinates for which the register kernel gives the move its own copies of θ and
/// ∇, so that the batch's are indexed only by constants (dense features): measured on
/// llvmpipe, about 8% faster at D = 5 and 8% slower when the batch indexes them anyway
/// (a9a's sparse rows, D = 124).
const REGISTER_SPLIT_MOVE_DIM: u32 = 16;

/// The fused GLM kernel's shape (`sgld_glm_fused.wgsl`): a workgroup of
/// [`contract::FUSED_THREADS`] per `chains` chains, the batch of `rows` examples staged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FusedShape {
    /// Examples per batch, n.
    pub(crate) rows: u32,
    /// The most stored entries of any row, w.
    pub(crate) width: u32,
    /// Chains per workgroup, G.
    pub(crate) chains: u32,
    /// Coordinates, D.
    pub(crate) dim: u32,
    /// Features, F.
    pub(crate) features: u32,
    /// Whether each chain draws its own batch (then G = 1).
    pub(crate) per_chain: bool,
}

impl FusedShape {
    /// The most chunks one step's gradient can have: the intercept's, one per column, and
    /// one more per FUSED_CHUNK stored entries.
    fn chunks(&self) -> u64 {
        let chunk = u64::from(contract::FUSED_CHUNK);
        u64::from(self.rows).div_ceil(chunk)
            + u64::from(self.features)
            + u64::from(self.rows) * u64::from(self.width) / chunk
    }

    fn mask_words(&self) -> u64 {
        u64::from(self.features) * u64::from(self.rows).div_ceil(32)
    }

    /// Workgroup memory the kernel declares: the staged batch (length, start and label per
    /// slot, column and value per entry), its column-major copy and masks, the column and
    /// chunk starts, the scan's totals, and per chain θ, ∇, g and the chunk sums.
    pub(crate) fn workgroup_bytes(&self) -> u64 {
        let rows = u64::from(self.rows);
        let entries = rows * u64::from(self.width);
        let staged = 12 * rows + 8 * entries;
        let columns = 2 * 4 * (u64::from(self.features) + 1) + 8 * entries + 4 * self.mask_words();
        let chunks = 4 * self.chunks();
        let scan = 8 * u64::from(contract::FUSED_THREADS);
        let per_chain = 4 * (2 * u64::from(self.dim) + rows + self.chunks());
        staged + columns + chunks + scan + u64::from(self.chains) * per_chain
    }

    /// The pipeline constants of `sgld_glm_fused.wgsl` (the staged ones apart).
    pub(crate) fn constants(&self) -> Vec<(&'static str, f64)> {
        let chains = f64::from(self.chains);
        vec![
            ("FUSED_CHAINS", chains),
            ("FUSED_PER_CHAIN", f64::from(u8::from(self.per_chain))),
            ("FUSED_STATE", chains * f64::from(self.dim)),
            ("FUSED_PAIRS", chains * f64::from(self.rows)),
            ("FUSED_COLUMNS", f64::from(self.features) + 1.0),
            ("FUSED_MASK_WORDS", self.mask_words().max(1) as f64),
            ("FUSED_CHUNKS", self.chunks() as f64),
            ("FUSED_PARTIALS", chains * self.chunks() as f64),
        ]
    }
}

impl DataShape {
    /// The name of the `DataPath` that runs this shape (`register-gram`: the register path on
    /// full-batch linear regression's sufficient statistics).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            DataShape::Global => "global",
            DataShape::Staged { .. } => "staged",
            DataShape::Fused(_) => "fused",
            DataShape::Tiled(_) => "tiled",
            DataShape::Register(RegisterShape { gram: true, .. }) => "register-gram",
            DataShape::Register(_) => "register",
        }
    }
}

impl RegisterShape {
    /// The constants `sgld_glm_register.wgsl` is generated with (WGSL declarations, so that
    /// every loop over them folds).
    pub(crate) fn constants(&self) -> String {
        let RegisterShape {
            chains,
            dim,
            width,
            batch,
            per_chain,
            mode,
            dense,
            binary,
            intercept,
            control_variates,
            metric,
            gram,
        } = *self;
        format!(
            "const REG_CHAINS: u32 = {chains}u;\nconst REG_DIM: u32 = {dim}u;\n\
             const REG_STATE: u32 = {}u;\nconst REG_WIDTH: u32 = {}u;\n\
             const REG_BATCH: u32 = {batch}u;\n\
             const REG_PER_CHAIN: bool = {per_chain};\n\
             const REG_MODE: u32 = {mode}u;\n\
             const REG_DENSE: bool = {dense};\n\
             const REG_BINARY: bool = {binary};\n\
             const REG_INTERCEPT: u32 = {}u;\n\
             const REG_BLOCKS: u32 = {}u;\n\
             const REG_CONTROL_VARIATES: bool = {control_variates};\n\
             const REG_METRIC: bool = {metric};\n\
             const REG_SPLIT_MOVE: bool = {};\n\
             const REG_GRAM: bool = {gram};\n",
            chains * dim,
            width.max(1),
            u32::from(intercept),
            dim.div_ceil(4),
            dense && dim <= REGISTER_SPLIT_MOVE_DIM,
        )
    }
}
