//! SGLD, the update rule: its equation, and the CPU reference step the GPU kernels are held to.
//!
//! Welling & Teh (2011), "Bayesian Learning via Stochastic Gradient Langevin Dynamics", in the
//! form of the crate's conventions:
//!
//! `θ ← θ − η_t ∇U(θ) + sqrt(2 η_t T) ξ`,  `ξ ~ N(0, I)`,
//!
//! with `ξ`'s coordinate `d` of chain `c` at step `t` the normal `k = d mod 4` of the Philox
//! block `(c, t, ⌊d/4⌋, Stream::Noise)` under the run's key.

use crate::rng::{self, Stream};

pub use crate::gpu::contract::StepScalars;

/// One SGLD step of one chain on the CPU, given the gradient `∇Ũ(θ)` at the current state, in
/// f32 with the kernels' order of operations: `θ_d ← fma(−η, g_d, θ_d)` then
/// `θ_d ← fma(s, ξ_d, θ_d)`. With `noise_scale = 0` it is the GPU's gradient-descent step
/// exactly, up to the one freedom Vulkan leaves a driver: evaluating WGSL's `fma` fused or as
/// multiply-then-add.
pub fn reference_step(
    theta: &mut [f32],
    gradient: &[f32],
    scalars: StepScalars,
    seed: u64,
    chain: u32,
    step: u32,
) {
    let key = rng::key_for_seed(seed);
    for (block, (coords, grads)) in theta.chunks_mut(4).zip(gradient.chunks(4)).enumerate() {
        let noise = if scalars.noise_scale > 0.0 {
            rng::normals(key, chain, step, block as u32, Stream::Noise)
        } else {
            [0.0; 4]
        };
        for (lane, (x, g)) in coords.iter_mut().zip(grads).enumerate() {
            let moved = (-scalars.eta).mul_add(*g, *x);
            *x = if scalars.noise_scale > 0.0 {
                scalars.noise_scale.mul_add(noise[lane], moved)
            } else {
                moved
            };
        }
    }
}

/// The initial position of one chain under `Init::Normal { scale }`: `σ₀ z` with `z` from the
/// Philox blocks `(c, 0, b, Stream::Init)`.
pub fn reference_init(dim: usize, scale: f32, seed: u64, chain: u32) -> Vec<f32> {
    let key = rng::key_for_seed(seed);
    (0..dim)
        .map(|d| {
            let z = rng::normals(key, chain, 0, (d / 4) as u32, Stream::Init);
            scale * z[d % 4]
        })
        .collect()
}
