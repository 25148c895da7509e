//! Chen, Fox & Guestrin's (2014, Fig. 1) double well, a potential without data:
//! U(θ) = −2θ² + θ⁴, so ∇U = 4θ³ − 4θ. The single data row is unused.

fn prior_gradient(d: u32) -> f32 {
    let x = theta_at(d);
    return 4.0 * x * x * x - 4.0 * x;
}

fn likelihood_gradient(row: u32) {
}
