//! The per-chain data kernels' gradient, plain or with control variates (Baker, Fearnhead,
//! Fox & Nemeth 2019): ∇Ũ_cv(θ) = −∇ log p(θ) + ∇L(θ̂) + (N/n) Σ_{i∈S} [−∇ log p(yᵢ | θ) +
//! ∇ log p(yᵢ | θ̂)], twin of `sampler::control_variate`. The model's two functions serve both
//! terms: at_mode makes them read θ̂ and subtract (data_target.wgsl).

/// Coordinate d of the gradient before the batch: the prior's, plus ∇L(θ̂) with control
/// variates (Baker et al. 2019).
fn gradient_before_batch(d: u32) -> f32 {
    if (data.control_variates == 1u) {
        return prior_gradient(d) + control_variate[run.dim + d];
    }
    return prior_gradient(d);
}

/// Adds example `row`'s term: −(N/n) ∇ log p(y | θ), and with control variates
/// +(N/n) ∇ log p(y | θ̂).
fn add_example(row: u32) {
    likelihood_gradient(row);
    if (data.control_variates == 1u) {
        at_mode = true;
        likelihood_gradient(row);
        at_mode = false;
    }
}
