// Poisson regression, a model langevin does not ship: y ~ Poisson(exp(θ₀ + Σ_j x_j θ_{j+1})),
// θ ~ N(0, σ² I) with σ² = param(0). d log p(y | η)/dη = y − e^η.

fn prior_gradient(d: u32) -> f32 {
    return theta_at(d) / param(0u);
}

fn likelihood_gradient(row: u32) {
    var eta = theta_at(0u);
    for (var k = row_start(row); k < row_end(row); k++) {
        eta = fma(value(k), theta_at(column(k) + 1u), eta);
    }
    let g = label(row) - exp(eta);
    add_loglik_gradient(0u, g);
    for (var k = row_start(row); k < row_end(row); k++) {
        add_loglik_gradient(column(k) + 1u, g * value(k));
    }
}
