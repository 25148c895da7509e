//! Generalised linear models with a Gaussian prior: η = θ₀·[intercept] + Σ_j x_j θ_{j+intercept},
//! log p(y | η) from `dloglik_deta` (glm_linear.wgsl or glm_logistic.wgsl).
//! Parameters: param(0) = 1/σ² (prior), param(1) = 1/s² (noise), param(2) = 1 with intercept.

fn intercept() -> u32 {
    return u32(param(2u));
}

fn prior_gradient(d: u32) -> f32 {
    return param(0u) * theta_at(d);
}

fn likelihood_gradient(row: u32) {
    let offset = intercept();
    var eta = 0.0;
    if (offset == 1u) {
        eta = theta_at(0u);
    }
    for (var k = row_start(row); k < row_end(row); k++) {
        eta = fma(value(k), theta_at(column(k) + offset), eta);
    }
    let g = dloglik_deta(label(row), eta);
    if (offset == 1u) {
        add_loglik_gradient(0u, g);
    }
    for (var k = row_start(row); k < row_end(row); k++) {
        add_loglik_gradient(column(k) + offset, g * value(k));
    }
}
