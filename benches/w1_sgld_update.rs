//! `cargo bench`: workload W1 (fused SGLD update against a device copy) on the default adapter.
//! Set `LANGEVIN_ADAPTER` to pick one; software adapters run the software sizes.

use langevin::bench::{run_w1, BenchPlan};
use langevin::Gpu;

fn main() -> langevin::Result<()> {
    let gpu = Gpu::from_env()?;
    println!("adapter: {}", gpu.describe());
    for row in run_w1(&gpu, &BenchPlan::for_adapter(&gpu, false).w1)? {
        println!(
            "{:>11} params, {:>2} steps/dispatch, {:>8}: {:.3e} updates/s, {:7.1} GB/s, copy {:7.1} GB/s, ratio {:.3}",
            row.params,
            row.steps_per_dispatch,
            row.rng_multiply,
            row.updates_per_s,
            row.effective_gb_per_s,
            row.copy_gb_per_s,
            row.ratio_to_copy
        );
    }
    Ok(())
}
