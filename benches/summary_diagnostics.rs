//! `cargo bench --bench summary_diagnostics`: the host's cost of a run's summary, R-hat and
//! bulk ESS of one dimension at the linear job's shape (4096 chains × 3000 kept draws; the
//! job summarises five such dimensions after its sampling), on one thread.

use std::time::Instant;

use langevin::diagnostics::rhat_and_ess_bulk;
use rand::{Rng, SeedableRng};

const CHAINS: usize = 4096;
const DRAWS: usize = 3000;
const REPEATS: usize = 3;

/// Draws of an AR(1) process with coefficient 0.9 in every chain, rounded to `f32` as a run's
/// draws are, laid out `values[i * CHAINS + c]`.
fn autoregressive_draws(seed: u64) -> Vec<f64> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut state = vec![0.0f64; CHAINS];
    let mut values = Vec::with_capacity(CHAINS * DRAWS);
    for _ in 0..DRAWS {
        for x in &mut state {
            // A sum of four uniforms: near-normal innovations, cheap to draw.
            let innovation: f64 = (0..4).map(|_| rng.random::<f64>() - 0.5).sum();
            *x = 0.9 * *x + innovation;
            values.push(f64::from(*x as f32));
        }
    }
    values
}

fn main() {
    let values = autoregressive_draws(7);
    let mut seconds = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let start = Instant::now();
        let (rhat, ess) = rhat_and_ess_bulk(&values, DRAWS, CHAINS);
        seconds.push(start.elapsed().as_secs_f64());
        // Printed so that the work cannot be optimised away, and to show it is unchanged.
        println!("R-hat {rhat:.6}, bulk ESS {ess:.1}");
    }
    let best = seconds.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "{CHAINS} chains × {DRAWS} draws: best {best:.3} s of {REPEATS} ({:.1} ns per value)",
        best * 1e9 / (CHAINS * DRAWS) as f64
    );
}
