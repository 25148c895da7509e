//! Preconditioned SGLD with an RMSprop preconditioner: its equation and CPU reference step.
//!
//! Li, Chen, Carlson & Carin (2016), "Preconditioned Stochastic Gradient Langevin Dynamics for
//! Deep Neural Networks", eq. 4–5, in the crate's conventions, with `ḡ = ∇Ũ(θ)/N` the mean
//! per-datum gradient (`N = 1` for a target without data):
//!
//! `V ← α V + (1 − α) ḡ ⊙ ḡ`,  `G = 1 ⊘ (λ + sqrt(V))`,
//! `θ ← θ − η_t G ⊙ ∇Ũ(θ) + sqrt(2 η_t T) sqrt(G) ⊙ ξ`,
//!
//! with `V = 0` at the start. **The Γ correction term is dropped**, as in the paper's
//! experiments: `Γ_d = Σ_j ∂G_dj/∂θ_j` is zero only when `G` does not depend on `θ`. With `α`
//! near 1, `V` averages over many steps and depends little on the current `θ`, so the bias is
//! small; with `α` near 0 it is not, and a test shows the stationary variance it leaves on a
//! Gaussian. At `T = 0` the step is RMSprop on `U`.

use super::method::{for_each_coordinate, StepContext};

/// One pSGLD step of one chain on the CPU, twin of case `METHOD_PSGLD` of `step_block` in `shaders/rules.wgsl`:
/// `V_d ← fma(α, V_d, (1 − α)(ḡ_d ḡ_d))`, `G_d = 1/(λ + sqrt(V_d))`,
/// `θ_d ← fma(−η G_d, g_d, θ_d)`, then `θ_d ← fma(s sqrt(G_d), ξ_d, θ_d)`.
/// `constants` = `[α, λ]`.
pub fn reference_step(
    theta: &mut [f32],
    mean_square: &mut [f32],
    gradient: &[f32],
    constants: [f32; 2],
    context: &StepContext,
) {
    let [decay, epsilon] = constants;
    let scalars = context.scalars;
    for_each_coordinate(theta, mean_square, gradient, context, |x, v, g, z| {
        let per_datum = g * context.per_datum;
        *v = decay.mul_add(*v, (1.0 - decay) * (per_datum * per_datum));
        let preconditioner = 1.0 / (epsilon + v.sqrt());
        let moved = (-scalars.eta * preconditioner).mul_add(g, *x);
        // z is zero when the step injects no noise, so this adds exactly nothing then.
        *x = (scalars.noise_scale * preconditioner.sqrt()).mul_add(z, moved);
    });
}
