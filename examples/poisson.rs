//! Your own model: Poisson regression on synthetic counts, its gradients in WGSL
//! (`examples/poisson.wgsl`) composed into langevin's data kernel, with a CPU twin.
//!
//! Run: `cargo run --release --example poisson`

use langevin::data::Dataset;
use langevin::minibatch::Minibatch;
use langevin::model::CustomModel;
use langevin::{Gpu, Sampler, StepSize};

/// The coefficients the counts are drawn from: intercept, then two slopes.
const TRUE_THETA: [f32; 3] = [0.5, 0.8, -0.4];
/// Prior variance σ².
const PRIOR_VARIANCE: f32 = 4.0;

/// Poisson regression on `data` (features x, labels y = counts) with its CPU gradient.
pub fn poisson_model(data: Dataset) -> langevin::Result<CustomModel> {
    let dim = data.features() + 1;
    let model = CustomModel::new(
        "poisson_regression",
        dim,
        data,
        include_str!("poisson.wgsl"),
        vec![PRIOR_VARIANCE],
    )?;
    Ok(model.with_cpu_gradient(
        |theta, out| {
            for (g, t) in out.iter_mut().zip(theta) {
                *g = t / PRIOR_VARIANCE;
            }
        },
        |data, row, theta, out| {
            let mut eta = theta[0];
            data.for_row(row, |j, x| eta = x.mul_add(theta[j + 1], eta));
            let g = data.labels()[row] - eta.exp();
            out[0] += g;
            data.for_row(row, |j, x| out[j + 1] += g * x);
        },
    ))
}

/// `rows` examples with x ~ U(−1, 1)² and y ~ Poisson(exp(θ·x)), from a fixed seed.
pub fn synthetic_counts(rows: usize) -> langevin::Result<Dataset> {
    let key = langevin::rng::key_for_seed(42);
    let uniform = |i: u32, lane: usize| {
        langevin::rng::uniform_open(
            langevin::rng::words(key, i, 0, 0, langevin::rng::Stream::Batch)[lane],
        )
    };
    let mut x = Vec::with_capacity(rows * 2);
    let mut y = Vec::with_capacity(rows);
    for r in 0..rows as u32 {
        let (x1, x2) = (2.0 * uniform(r, 0) - 1.0, 2.0 * uniform(r, 1) - 1.0);
        let rate = (TRUE_THETA[0] + TRUE_THETA[1] * x1 + TRUE_THETA[2] * x2).exp();
        // Poisson by inversion of its CDF from one uniform.
        let (u, mut k, mut p) = (uniform(r, 2), 0u32, (-rate).exp());
        let mut cdf = p;
        while u > cdf && k < 1000 {
            k += 1;
            p *= rate / k as f32;
            cdf += p;
        }
        x.extend([x1, x2]);
        y.push(k as f32);
    }
    Dataset::from_dense(x, 2, y)
}

fn main() -> anyhow::Result<()> {
    let gpu = Gpu::from_env()?;
    println!("adapter: {}", gpu.describe());
    let model = poisson_model(synthetic_counts(2000)?)?;
    let draws = Sampler::builder(model)
        .chains(256)
        .steps(3000)
        .burn_in(1000)
        .thin(50)
        .step_size(StepSize::constant(2e-4)?)
        .minibatch(Minibatch::per_chain(50).expect("valid"))
        .build()?
        .run(&gpu)?;
    let summary = draws.summary();
    print!("{summary}");
    println!("true θ: {TRUE_THETA:?}");
    Ok(())
}
