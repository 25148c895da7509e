//! Helpers shared by the integration tests: one GPU per test binary, seeded random inputs.

#![allow(dead_code)]

use std::sync::OnceLock;

use langevin::Gpu;
use rand::{Rng, SeedableRng};

/// One device per test binary; opening one per test is slow on lavapipe.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        let gpu = Gpu::from_env().expect("the tests need an adapter; lavapipe will do");
        eprintln!("adapter: {}", gpu.describe());
        gpu
    })
}

/// Reproducible random values in `[lo, hi)`.
pub fn uniform(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Mean and (divisor n) covariance of draws `[draw][chain][dim]` pooled over draws and chains.
pub fn pooled_moments(values: &[f32], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (values.len() / dim) as f64;
    let mut mean = vec![0.0; dim];
    for point in values.chunks_exact(dim) {
        for d in 0..dim {
            mean[d] += f64::from(point[d]) / n;
        }
    }
    let mut cov = vec![0.0; dim * dim];
    for point in values.chunks_exact(dim) {
        for i in 0..dim {
            for j in 0..dim {
                cov[i * dim + j] +=
                    (f64::from(point[i]) - mean[i]) * (f64::from(point[j]) - mean[j]) / n;
            }
        }
    }
    (mean, cov)
}
