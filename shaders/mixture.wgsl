//! Welling & Teh's (2011) two-parameter Gaussian mixture: θ₁ ~ N(0, σ₁²), θ₂ ~ N(0, σ₂²),
//! xᵢ ~ ½ N(θ₁, σₓ²) + ½ N(θ₁ + θ₂, σₓ²), with xᵢ the label of row i.
//! Parameters: param(0) = σ₁², param(1) = σ₂², param(2) = σₓ².
//!
//! With a = N(x; θ₁, σₓ²), b = N(x; θ₁+θ₂, σₓ²) and w = b/(a+b):
//! ∂ log p/∂θ₁ = ((1−w)(x−θ₁) + w(x−θ₁−θ₂))/σₓ², ∂ log p/∂θ₂ = w(x−θ₁−θ₂)/σₓ².

fn prior_gradient(d: u32) -> f32 {
    return theta_at(d) / param(d);
}

fn likelihood_gradient(row: u32) {
    let x = label(row);
    let r1 = x - theta_at(0u);
    let r2 = r1 - theta_at(1u);
    let noise = param(2u);
    // w = 1 / (1 + a/b), log(a/b) = (r2² − r1²) / (2σₓ²); exp overflow gives w = 0, not NaN.
    let w = 1.0 / (1.0 + exp((r2 * r2 - r1 * r1) / (2.0 * noise)));
    add_loglik_gradient(0u, ((1.0 - w) * r1 + w * r2) / noise);
    add_loglik_gradient(1u, w * r2 / noise);
}
