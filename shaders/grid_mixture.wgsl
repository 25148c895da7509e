//! Zhang et al.'s (2020, §5.1) 25-component Gaussian mixture in two dimensions, a potential
//! without data: equal weights, means on the grid {−4, −2, 0, 2, 4}², covariance σ² I.
//! Parameters: param(0) = σ², param(1) = grid spacing, param(2) = components per axis.
//!
//! U(θ) = −log Σ_k exp(−|θ − μ_k|²/(2σ²)), so ∇U = Σ_k w_k (θ − μ_k)/σ² with w the softmax of
//! the exponents (computed from their maximum, so far from every mode nothing overflows).
//! The single data row is unused.

/// Mean of component `k` along axis `d` (row-major over the grid).
fn grid_mean(k: u32, d: u32) -> f32 {
    let per_axis = u32(param(2u));
    var index = k % per_axis;
    if (d == 1u) {
        index = k / per_axis;
    }
    let half = f32(per_axis - 1u) * 0.5;
    return (f32(index) - half) * param(1u);
}

fn grid_exponent(k: u32) -> f32 {
    let a = theta_at(0u) - grid_mean(k, 0u);
    let b = theta_at(1u) - grid_mean(k, 1u);
    return -(a * a + b * b) / (2.0 * param(0u));
}

fn prior_gradient(d: u32) -> f32 {
    let per_axis = u32(param(2u));
    let components = per_axis * per_axis;
    var largest = grid_exponent(0u);
    for (var k = 1u; k < components; k++) {
        largest = max(largest, grid_exponent(k));
    }
    var total = 0.0;
    var weighted = 0.0;
    for (var k = 0u; k < components; k++) {
        let w = exp(grid_exponent(k) - largest);
        total += w;
        weighted += w * (theta_at(d) - grid_mean(k, d));
    }
    return weighted / (total * param(0u));
}

fn likelihood_gradient(row: u32) {
}
