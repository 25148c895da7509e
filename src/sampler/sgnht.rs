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

use super::method::{for_each_coordinate, StepContext};

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
    for_each_coordinate(theta, momentum, gradient, context, |x, v, g, z| {
        let next = scalars
            .noise_scale
            .mul_add(z, (-h).mul_add(g, friction.mul_add(*v, *v)));
        *v = next;
        *x = h.mul_add(next, *x);
        kinetic = next.mul_add(next, kinetic);
    });
    let dim = theta.len() as f32;
    *thermostat = (kinetic / dim - scalars.temperature).mul_add(h, *thermostat);
}

#[cfg(test)]
mod tests {
    use crate::driver::run_keeping_state;
    use crate::model::Gaussian;
    use crate::sampler::{Method, Sampler};
    use crate::schedule::StepSize;

    /// At stationarity the thermostat's increment has mean zero, so the mean kinetic energy
    /// per dimension `E[vᵀv/D]` equals `T` exactly, for the discretised chain too. 2048 chains
    /// of a 16-dimensional Gaussian (curvatures 0.5–8, h = 0.02, A = 1) after 4000 steps: each
    /// chain's vᵀv/D has sd ≈ T·sqrt(2/16), so the mean over chains has sd ≈ 0.008·T; the test
    /// allows 5 sd. The positions' pooled variance must match the target's within 6% (the
    /// discretisation bias is O(h·λ) ≈ 2–4% for the stiffest coordinates; Monte Carlo error
    /// ≈ 1% per coordinate with 2048 chains × 20 draws).
    #[test]
    fn sgnht_keeps_the_temperature_and_the_target_variance() {
        let gpu = crate::gpu::tests::shared_gpu();
        let precision: Vec<f64> = (0..16).map(|d| 0.5 * 1.2f64.powi(d)).collect();
        let target = Gaussian::diagonal(&[0.0; 16], &precision).expect("valid");
        for temperature in [1.0, 0.5] {
            let sampler = Sampler::builder(target.clone())
                .chains(2048)
                .steps(4000)
                .burn_in(3000)
                .thin(50)
                .step_size(StepSize::constant(0.02).expect("valid"))
                .temperature(temperature)
                .method(Method::sgnht(1.0))
                .seed(17)
                .build()
                .expect("valid");
            let (draws, state) = run_keeping_state(gpu, &sampler).expect("run");
            let auxiliary = state[0].read_state(gpu).expect("read back").swap_remove(1);
            let velocities = &auxiliary[..2048 * 16];
            let kinetic =
                velocities.iter().map(|v| f64::from(v * v)).sum::<f64>() / velocities.len() as f64;
            assert!(
                (kinetic - temperature).abs() < 5.0 * 0.008 * temperature,
                "T = {temperature}: mean kinetic energy per dimension {kinetic}"
            );
            let summary = draws.summary();
            for (d, lambda) in precision.iter().enumerate() {
                let want = temperature / lambda;
                let got = summary.sd[d].powi(2);
                assert!(
                    (got / want - 1.0).abs() < 0.06,
                    "T = {temperature}, dim {d}: variance {got} vs {want}"
                );
            }
        }
    }
}
