//! Stochastic gradient Hamiltonian Monte Carlo: its equation and CPU reference step.
//!
//! Chen, Fox & Guestrin (2014), "Stochastic Gradient Hamiltonian Monte Carlo", eq. 15, in its
//! practical form with friction `α = 1 − momentum decay` and gradient-noise estimate `β̂`:
//!
//! `v ← (1 − α) v − η_t ∇Ũ(θ) + sqrt(2 (α − β̂) η_t T) ξ`,  `θ ← θ + v`,
//!
//! with `v = 0` at the start. With the paper's step `ε`, friction `C` and noise estimate `B̂`
//! (unit mass): `η = ε²`, `α = ε C`, `β̂ = ε B̂`. At `T = 0` the step is SGD with momentum
//! `1 − α` and learning rate `η`.

use super::method::{for_each_coordinate, StepContext};

/// One SGHMC step of one chain on the CPU, twin of case `METHOD_SGHMC` of `step_block` in `shaders/rules.wgsl`:
/// `v_d ← fma(−η, g_d, (1 − α) v_d)`, `v_d ← fma(s, ξ_d, v_d)`, `θ_d ← θ_d + v_d`.
pub fn reference_step(
    theta: &mut [f32],
    momentum: &mut [f32],
    gradient: &[f32],
    friction: f32,
    context: &StepContext,
) {
    let scalars = context.scalars;
    for_each_coordinate(theta, momentum, gradient, context, |x, v, g, z| {
        let next = scalars
            .noise_scale
            .mul_add(z, (-scalars.eta).mul_add(g, (1.0 - friction) * *v));
        *v = next;
        *x += next;
    });
}
