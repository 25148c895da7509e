//! Stochastic gradient Nosé–Hoover thermostat: its equation and CPU reference step.
//!
//! Ding, Fang, Babbush, Chen, Skeel & Neven (2014), "Bayesian Sampling Using Stochastic
//! Gradient Thermostats", Algorithm 2, with step `h = η_t`, a thermostat `ζ` per chain and
//! temperature `T` (the kinetic energy per dimension it maintains):
//!
//! `v ← v − ζ v h − ∇Ũ(θ) h + sqrt(2 A h T) ξ`,  `θ ← θ + v h`,  `ζ ← ζ + (vᵀv / D − T) h`,
//!
//! with `v = 0` and `ζ = A` at the start. The thermostat absorbs the unknown gradient noise:
//! whatever it adds, `ζ` rises until the mean kinetic energy per dimension is `T`.

use super::method::StepContext;

/// One SGNHT step of one chain on the CPU, twin of `sgnht_move` in `shaders/move.wgsl`:
/// per coordinate `v_d ← fma(−h, g_d, fma(−ζh, v_d, v_d))`, `v_d ← fma(s, ξ_d, v_d)`,
/// `θ_d ← fma(h, v_d, θ_d)`, summing `v_d²` in coordinate order; then
/// `ζ ← fma(Σ/D − T, h, ζ)`.
pub fn reference_step(
    theta: &mut [f32],
    momentum: &mut [f32],
    thermostat: &mut f32,
    gradient: &[f32],
    context: &StepContext,
) {
    let scalars = context.scalars;
    let h = scalars.eta;
    let friction = -*thermostat * h;
    let mut kinetic = 0.0f32;
    for (block, ((coords, velocities), grads)) in theta
        .chunks_mut(4)
        .zip(momentum.chunks_mut(4))
        .zip(gradient.chunks(4))
        .enumerate()
    {
        let noise = context.noise(block);
        for (lane, ((x, v), g)) in coords.iter_mut().zip(velocities).zip(grads).enumerate() {
            let mut next = (-h).mul_add(*g, friction.mul_add(*v, *v));
            if scalars.noise_scale > 0.0 {
                next = scalars.noise_scale.mul_add(noise[lane], next);
            }
            *v = next;
            *x = h.mul_add(next, *x);
            kinetic = next.mul_add(next, kinetic);
        }
    }
    let dim = theta.len() as f32;
    *thermostat = (kinetic / dim - scalars.temperature).mul_add(h, *thermostat);
}
