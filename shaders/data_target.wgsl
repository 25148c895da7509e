//! A data model's bindings and the interface its WGSL is written against. The data accessors
//! come from data_access_global.wgsl or data_access_staged.wgsl, chosen by the host.
//!
//! A model supplies two functions (see `model::DataModel`):
//!
//! * `fn prior_gradient(d: u32) -> f32` — coordinate d of ∇θ(−log p(θ));
//! * `fn likelihood_gradient(row: u32)` — adds ∇θ log p(y_row | x_row, θ) through
//!   `add_loglik_gradient(d, value)`.
//!
//! and may read: `theta_at(d)`, `dim()`, `row_start(row)`, `row_end(row)` with `column(k)` and
//! `value(k)` for the stored features of a row (k from start to end), `label(row)`, and
//! `param(i)`, the model's constants.

struct DataParams {
    /// N, examples in the training set.
    rows: u32,
    /// n, examples per mini-batch.
    batch: u32,
    /// BATCH_FULL, BATCH_WITH_REPLACEMENT or BATCH_WITHOUT_REPLACEMENT (minibatch.wgsl).
    mode: u32,
    /// 1: each chain draws its own batch; 0: one batch shared by all chains.
    per_chain: u32,
    /// N/n, the mini-batch scale of the likelihood gradient.
    scale: f32,
    /// 1: control variates (`control_variate` holds θ̂ and ∇L(θ̂)); 0: the plain estimator.
    control_variates: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(6) var<uniform> data: DataParams;
@group(0) @binding(7) var<storage, read> row_offsets: array<u32>;
@group(0) @binding(8) var<storage, read> columns: array<u32>;
@group(0) @binding(9) var<storage, read> values: array<f32>;
@group(0) @binding(10) var<storage, read> labels: array<f32>;
@group(0) @binding(11) var<storage, read_write> gradient: array<f32>;
@group(0) @binding(12) var<storage, read> model_params: array<f32>;
/// Control variates: θ̂ (D values), then ∇L(θ̂) = Σᵢ −∇ log p(yᵢ | θ̂) (D values).
@group(0) @binding(13) var<storage, read> control_variate: array<f32>;

/// The chain this invocation advances.
var<private> current_chain: u32;
/// While true the model reads θ̂ instead of the chain, and its likelihood terms are subtracted
/// (the control variate's (N/n) Σ ∇ log p(yᵢ | θ̂) part).
var<private> at_mode: bool;

fn dim() -> u32 {
    return run.dim;
}

fn theta_at(d: u32) -> f32 {
    if (at_mode) {
        return control_variate[d];
    }
    return theta[state_index(run, d, current_chain)];
}

fn param(i: u32) -> f32 {
    return model_params[i];
}

/// ∇U gets −(N/n)·value in coordinate d: the potential is minus the log-likelihood.
fn add_loglik_gradient(d: u32, value: f32) {
    let i = state_index(run, d, current_chain);
    var term = value;
    if (at_mode) {
        term = -value;
    }
    gradient[i] = fma(-data.scale, term, gradient[i]);
}
