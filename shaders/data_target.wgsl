//! The interface a data model's WGSL is written against (its bindings and `DataParams` are
//! generated from `gpu/contract.rs`). The data accessors
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
