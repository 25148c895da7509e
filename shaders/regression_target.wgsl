//! A regression target: model constants, the training data as CSR rows, labels, and the
//! per-chain gradient scratch (dimension-major like θ).

struct RegressionParams {
    /// N, examples in the training set.
    rows: u32,
    /// n, examples per mini-batch.
    batch: u32,
    /// 1: coefficient 0 is an intercept; features start at coefficient 1.
    intercept: u32,
    /// BATCH_FULL, BATCH_WITH_REPLACEMENT or BATCH_WITHOUT_REPLACEMENT (minibatch.wgsl).
    mode: u32,
    /// 1: each chain draws its own batch; 0: one batch shared by all chains.
    per_chain: u32,
    /// 1/σ² of the Gaussian prior N(0, σ² I).
    prior_precision: f32,
    /// 1/s² of the Gaussian noise (linear regression only).
    noise_precision: f32,
    /// N/n, the mini-batch scale of the likelihood gradient.
    scale: f32,
}

@group(0) @binding(5) var<uniform> model: RegressionParams;
@group(0) @binding(6) var<storage, read> row_offsets: array<u32>;
@group(0) @binding(7) var<storage, read> columns: array<u32>;
@group(0) @binding(8) var<storage, read> values: array<f32>;
@group(0) @binding(9) var<storage, read> labels: array<f32>;
@group(0) @binding(10) var<storage, read_write> gradient: array<f32>;
