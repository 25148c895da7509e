//! `langevin bench`: W1–W5 (and the peers' figures beside them), printed as tables and written
//! as JSON.

use anyhow::Result;
use langevin::bench::{
    compare, run_readback, run_regression, run_w1, synthetic_a9a_dense, BenchPlan, Peers,
};
use langevin::data::{Dataset, ExtraFeatures};
use langevin::Gpu;

use crate::args::BenchArgs;
use crate::console::{note, say};

pub(crate) fn bench(gpu: Gpu, args: &BenchArgs) -> Result<()> {
    let plan = BenchPlan::for_adapter(&gpu, args.quick);
    if let Some(path) = &args.plan {
        langevin::output::write_atomically(path, |w| {
            serde_json::to_writer_pretty(&mut *w, &plan)?;
            Ok(())
        })?;
        say!(
            "wrote the {:?} bench plan to {}",
            plan.profile,
            path.display()
        );
        return Ok(());
    }
    // Read the peers first: a bad file should fail before minutes of timing.
    let peers = args.peers.as_deref().map(Peers::read).transpose()?;
    if !plan.measures() {
        note!("smoke run (--quick): a few steps of small sizes; the figures are not measurements");
    } else if gpu.is_software() {
        note!("software adapter: running the software sizes (pass a GPU with --adapter for the GPU sizes)");
    }
    let config = &plan.w1;
    let rows = run_w1(&gpu, config)?;
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
    let regression_config = &plan.regression;
    let mut datasets = vec![("dense", synthetic_a9a_dense()?)];
    match Dataset::read_libsvm(&args.a9a, None, ExtraFeatures::Error) {
        Ok(a9a) => datasets.push(("sparse", a9a)),
        Err(error) => note!("skipping the sparse rows: {error}"),
    }
    let regression_rows = run_regression(&gpu, regression_config, &datasets)?;
    say!(
        "W2–W4: logistic regression (and the MLP), a9a shape (N = 32561, D = 124); W6: the 784-100-10 network, Fashion-MNIST shape (N = 60000); batch 100, {} steps, median of {}",
        regression_config.steps,
        regression_config.repeats
    );
    say!(
        "{:>8} {:>7} {:>7} {:>9} {:>8} {:>16} {:>12} {:>12}",
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
        let path = if r.auto {
            format!("{}*", r.data_path)
        } else {
            r.data_path.to_owned()
        };
        say!(
            "{:>8} {:>7} {:>7} {:>9} {:>8} {:>16.3e} {:>12.1} {:>12.3e}",
            r.workload,
            r.sampler,
            r.data,
            path,
            r.chains,
            r.chain_steps_per_s,
            r.us_per_step,
            r.flop_per_s
        );
    }
    say!("(* DataPath::Auto's choice)");
    let readback_config = &plan.readback;
    let readback = readback_config
        .thins
        .iter()
        .map(|&thin| {
            run_readback(
                &gpu,
                readback_config.chains,
                readback_config.dim,
                readback_config.steps,
                thin,
                readback_config.repeats,
            )
        })
        .collect::<langevin::Result<Vec<_>>>()?;
    say!(
        "W5: readback ring, {} chains × {} dims, {} steps, median of {}",
        readback_config.chains,
        readback_config.dim,
        readback_config.steps,
        readback_config.repeats
    );
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
    let comparisons = peers
        .as_ref()
        .map(|peers| compare(&rows, &regression_rows, peers));
    if let (Some(peers), Some(comparisons)) = (&peers, &comparisons) {
        say!(
            "Against {} on {} (rates per second: updates for W1, chain-steps for W2/W3)",
            peers.peer,
            peers.device
        );
        say!(
            "{:>8} {:>10} {:>34} {:>12} {:>10} {:>12} {:>8}",
            "workload",
            "size",
            "langevin",
            "rate",
            "peer",
            "rate",
            "ratio"
        );
        for c in comparisons {
            say!(
                "{:>8} {:>10} {:>34} {:>12.3e} {:>10} {:>12.3e} {:>8.3}",
                c.workload,
                c.size,
                c.ours,
                c.our_rate,
                c.implementation,
                c.peer_rate,
                c.ratio
            );
        }
        if comparisons.is_empty() {
            note!("the peers file holds none of this bench's sizes; write it from `langevin bench --plan`");
        }
    }
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "adapter": gpu.describe(),
            "version": env!("CARGO_PKG_VERSION"),
            "profile": plan.profile,
            "measurement": plan.measures(),
            "workload": "W1",
            "readback": readback,
            "steps": config.steps,
            "repeats": config.repeats,
            "rows": rows,
            "regression": regression_rows,
            "peers": peers,
            "comparisons": comparisons,
        });
        langevin::output::write_atomically(path, |w| {
            serde_json::to_writer_pretty(&mut *w, &report)?;
            Ok(())
        })?;
    }
    Ok(())
}
