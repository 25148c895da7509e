//! `langevin bench`: W1–W5, printed as tables and written as JSON.

use anyhow::Result;
use langevin::bench::{
    run_readback, run_regression, run_w1, synthetic_a9a_dense, RegressionConfig, W1Config,
};
use langevin::data::{Dataset, ExtraFeatures};
use langevin::Gpu;

use crate::args::BenchArgs;
use crate::console::{note, say};

pub(crate) fn bench(gpu: Gpu, args: &BenchArgs) -> Result<()> {
    let config = if args.quick || gpu.is_software() {
        if !args.quick {
            note!("software adapter: running the quick sizes (pass a GPU with --adapter for the full run)");
        }
        W1Config::quick()
    } else {
        W1Config::full()
    };
    let rows = run_w1(&gpu, &config)?;
    say!(
        "W1: fused update of each sampler, Gaussian target, {} steps, median of {}",
        config.steps,
        config.repeats
    );
    say!(
        "{:>7} {:>12} {:>10} {:>7} {:>8} {:>14} {:>5} {:>10} {:>10} {:>8}",
        "sampler",
        "params",
        "chains",
        "steps/d",
        "multiply",
        "updates/s",
        "B/upd",
        "GB/s",
        "copy GB/s",
        "ratio"
    );
    for r in &rows {
        say!(
            "{:>7} {:>12} {:>10} {:>7} {:>8} {:>14.3e} {:>5} {:>10.1} {:>10.1} {:>8.3}",
            r.sampler,
            r.params,
            r.chains,
            r.steps_per_dispatch,
            r.rng_multiply,
            r.updates_per_s,
            r.bytes_per_update,
            r.effective_gb_per_s,
            r.copy_gb_per_s,
            r.ratio_to_copy
        );
    }
    let regression_config = if args.quick || gpu.is_software() {
        RegressionConfig::quick()
    } else {
        RegressionConfig::full()
    };
    let mut datasets = vec![("dense", synthetic_a9a_dense()?)];
    match Dataset::read_libsvm(&args.a9a, None, ExtraFeatures::Error) {
        Ok(a9a) => datasets.push(("sparse", a9a)),
        Err(error) => note!("skipping the sparse rows: {error}"),
    }
    let regression_rows = run_regression(&gpu, &regression_config, &datasets)?;
    say!(
        "W2–W4: logistic regression (and the MLP), a9a shape (N = 32561, D = 124), batch 100, {} steps",
        regression_config.steps
    );
    say!(
        "{:>8} {:>7} {:>7} {:>7} {:>8} {:>16} {:>12} {:>12}",
        "workload",
        "sampler",
        "data",
        "path",
        "chains",
        "chain-steps/s",
        "µs/step",
        "FLOP/s"
    );
    for r in &regression_rows {
        say!(
            "{:>8} {:>7} {:>7} {:>7} {:>8} {:>16.3e} {:>12.1} {:>12.3e}",
            r.workload,
            r.sampler,
            r.data,
            r.data_path,
            r.chains,
            r.chain_steps_per_s,
            r.us_per_step,
            r.flop_per_s
        );
    }
    // Readback: a draw of every chain every THIN steps streamed to the host, against none.
    // On one wgpu queue the copy to the host runs after the steps it follows, so the ratio is
    // compute / (compute + copy): rows over THIN show where readback stops mattering.
    let (chains, dim, steps, thins) = if args.quick || gpu.is_software() {
        (4096, 16, 400, vec![4, 40])
    } else {
        (262_144, 32, 4000, vec![10, 100, 1000])
    };
    let readback = thins
        .iter()
        .map(|&thin| run_readback(&gpu, chains, dim, steps, thin, 3))
        .collect::<langevin::Result<Vec<_>>>()?;
    say!("W5: readback ring, {chains} chains × {dim} dims, {steps} steps, median of 3");
    say!(
        "{:>6} {:>16} {:>12} {:>16} {:>7}",
        "thin",
        "with readback",
        "GB/s host",
        "without",
        "ratio"
    );
    for row in &readback {
        say!(
            "{:>6} {:>16.3e} {:>12.2} {:>16.3e} {:>7.3}",
            row.thin,
            row.with_readback,
            row.readback_gb_per_s,
            row.without_readback,
            row.ratio
        );
    }
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "adapter": gpu.describe(),
            "workload": "W1",
            "readback": readback,
            "steps": config.steps,
            "repeats": config.repeats,
            "rows": rows,
            "regression": regression_rows,
        });
        langevin::output::write_atomically(path, |w| {
            serde_json::to_writer_pretty(&mut *w, &report)?;
            Ok(())
        })?;
    }
    Ok(())
}
