//! `langevin sample`: builds the run, finds a control-variate centre first if asked, runs it
//! (streaming to `--out`, checkpointing, resuming, stopping on a signal), prints the summary
//! and commits every output together.

use std::time::Instant;

use anyhow::{bail, Result};
use langevin::model::Target;
use langevin::predictive::{Predictive, PredictiveMetrics};
use langevin::sampler::{Centre, ModeSearch};
use langevin::{Gpu, Sampler};

use crate::args::{DivergenceArg, SampleArgs};
use crate::console::{note, say, say_text};
use crate::target::{model_name, plan, Planned};
use crate::{progress, signals, EXIT_ALL_DIVERGED};

/// The end of the control variates' note: where the chains start.
fn starts_there(args: &SampleArgs) -> &'static str {
    match args.init_scale {
        Some(_) => "; chains start from N(0, --init-scale²)",
        None => "; chains start there",
    }
}

/// Runs `sample`; returns the exit code.
pub(crate) fn sample(gpu: Gpu, args: &SampleArgs) -> Result<i32> {
    // Held until the summary is in place, so no other run writes it meanwhile.
    let _json_lock = match &args.json {
        Some(path) => Some(langevin::output::OutputLock::acquire(path)?),
        None => None,
    };
    let Planned {
        target,
        test,
        mut builder,
        step_size,
        step_choice,
        laplace_mode,
    } = plan(&gpu, args)?;
    if args.cv {
        // The centre first, explicitly: SGD on one chain (or the Laplace mode), then ∇L(θ̂) on
        // the CPU.
        let centre = match laplace_mode {
            Some(mode) => {
                note!(
                    "control variates: θ̂ is the metric's mode{}",
                    starts_there(args)
                );
                Centre::at(&target, mode)?
            }
            None => {
                let search =
                    ModeSearch::new(args.cv_steps, args.cv_step_size.unwrap_or(step_size))?;
                note!(
                    "control variates: θ̂ from {} SGD steps at η = {}{}",
                    search.steps(),
                    search.step_size(),
                    starts_there(args)
                );
                builder.clone().build()?.find_centre(&gpu, &search)?
            }
        };
        builder = builder.control_variate(centre);
    }
    let sampler = builder.build()?;
    let stop = signals::StopRequest::install()?;
    if args.statistics_only {
        return statistics_only(&gpu, &sampler, args, &stop);
    }
    let start = Instant::now();
    let Some(finished) = run_sampler(&gpu, &sampler, args, &stop)? else {
        return Ok(stop.exit_code());
    };
    let Finished {
        draws,
        report,
        stream,
    } = finished;
    let seconds = start.elapsed().as_secs_f64();
    let summary = if args.all_temperatures {
        draws.summary_all_chains()
    } else {
        draws.summary()
    };
    let chain_steps = f64::from(args.chains) * f64::from(args.steps);
    say!(
        "{} chain-steps in {seconds:.2} s ({:.3e} chain-steps/s)",
        chain_steps,
        chain_steps / seconds
    );
    say_text!("{}", summary.table(table_rows(args)));
    if let Some(k) = args.superchains {
        let nested = report.statistics.nested_rhat(k);
        if nested.iter().all(|r| r.is_nan()) {
            bail!(
                "--superchains {k}: nested R-hat needs at least 2 superchains of equal size; \
                 the {} summarised chains do not divide into {k}",
                report.statistics.summary().chains
            );
        }
        let values: Vec<String> = nested.iter().map(|r| format!("{r:.4}")).collect();
        say!("nested R-hat ({k} superchains): {}", values.join(" "));
    }
    let divergences = report.statistics.divergences();
    if let Some(first) = divergences.iter().min_by_key(|d| d.first_step) {
        say!(
            "divergences: {} chains (first: chain {} after {} steps; policy {})",
            divergences.len(),
            first.chain,
            first.first_step,
            match args.divergence {
                DivergenceArg::Freeze => "freeze",
                DivergenceArg::Reset => "reset",
            }
        );
    }
    let thetas = spread_draws(&draws, PREDICTIVE_DRAWS);
    let slices: Vec<&[f32]> = thetas.iter().map(Vec::as_slice).collect();
    let predictive = match (&target, &test) {
        (Target::Regression(model), Some(test)) => model.predictive(test, &slices),
        _ => None,
    };
    if let Some((accuracy, log_likelihood)) = predictive {
        say!("test: accuracy {accuracy:.4}, mean log-likelihood {log_likelihood:.4} (posterior predictive over {} draws)", PREDICTIVE_DRAWS.min(draws.values().len() / summary.dim));
    }
    // Every output of the run appears together: the summary and the manifest are staged
    // beside the finished draws, then all are renamed into place.
    let mut commit = langevin::output::Commit::new();
    let mut locks = Vec::new();
    let mut draws_checksum = None;
    if let Some(stream) = stream {
        draws_checksum = langevin::sink::Sink::checksum(&stream);
        locks.push(stream.stage(&mut commit)?);
    }
    let kept = |e: anyhow::Error| match &args.out {
        Some(out) => anyhow::anyhow!(
            "{e:#}; nothing was replaced: the draws are kept in {}",
            langevin::output::with_suffix(out, ".partial").display()
        ),
        None => e,
    };
    let network =
        network_outputs(&target, report.predictive.as_ref(), args, &mut commit).map_err(&kept)?;
    if let (Some(out), Some(checksum)) = (&args.out, draws_checksum) {
        if let Some(manifest) =
            langevin::shard::ShardManifest::of(sampler.target(), sampler.settings(), checksum)
        {
            manifest
                .stage(out, &mut commit)
                .map_err(|e| kept(e.into()))?;
        }
    }
    if let Some(path) = &args.json {
        let mut json = serde_json::to_value(&summary)?;
        let extra = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "adapter": gpu.describe(),
            "model": model_name(args.model),
            "test_accuracy": predictive.map(|p| p.0),
            "test_log_likelihood": predictive.map(|p| p.1),
            "sampler": sampler.settings().method.name(),
            "steps": args.steps,
            "burn_in": sampler.settings().burn_in,
            "thin": args.thin,
            "seed": args.seed,
            "temperature": args.temperature,
            "step_size": sampler.settings().step_size,
            "step_size_choice": step_choice,
            "metric": if args.precondition { "laplace" } else { "identity" },
            "control_variate": args.cv,
            "seconds": seconds,
            "divergences": report.statistics.divergences(),
            "running_statistics": report.statistics.summary(),
            "submits": report.submits,
            "dispatches": report.dispatches,
            "groups": report.groups.iter().map(|g| serde_json::json!({
                "device": g.device,
                "chains": [g.chains.start, g.chains.end],
                "data_path": g.data_path,
                "workgroup_size": g.workgroup_size,
            })).collect::<Vec<_>>(),
        });
        for extra in [extra, network] {
            if let (Some(json), Some(extra)) = (json.as_object_mut(), extra.as_object()) {
                json.extend(extra.clone());
            }
        }
        commit
            .stage(path, |w| {
                serde_json::to_writer_pretty(&mut *w, &json)?;
                std::io::Write::write_all(w, b"\n")
            })
            .map_err(|e| kept(anyhow::anyhow!("writing the summary: {e}")))?;
    }
    commit.commit().map_err(|e| kept(e.into()))?;
    drop(locks);
    // The run is complete and its outputs are in place: its checkpoint has nothing left to
    // resume.
    if let Some(dir) = args.checkpoint.as_ref().or(args.resume.as_ref()) {
        let _ = std::fs::remove_file(dir.join(langevin::checkpoint::CHECKPOINT_FILE));
    }
    // Divergent chains leave the statistics (under `freeze`): none left, no finite draw left.
    if !divergences.is_empty() && report.statistics.summary().chains == 0 {
        note!(
            "error: every chain diverged (NaN or infinite draws); the files are written for \
             inspection. Use a smaller step size"
        );
        return Ok(EXIT_ALL_DIVERGED);
    }
    Ok(0)
}

/// A run that went to its last step: its draws, report, and the draws file waiting to be
/// committed.
struct Finished {
    draws: langevin::Draws,
    report: langevin::RunReport,
    stream: Option<langevin::sink::NpyStream>,
}

/// Runs the sampler: in memory, or streaming to `--out` with checkpoints and resume. `None`
/// when a signal stopped it, after saying where its draws are and how to resume.
fn run_sampler(
    gpu: &Gpu,
    sampler: &Sampler,
    args: &SampleArgs,
    stop: &signals::StopRequest,
) -> Result<Option<Finished>> {
    // Further devices share the chains with the first.
    let others = args
        .also_adapter
        .iter()
        .map(|name| {
            let device = Gpu::new(Some(name))?;
            say!("also: {}", device.describe());
            Ok(device)
        })
        .collect::<Result<Vec<Gpu>>>()?;
    let others: Vec<&Gpu> = others.iter().collect();
    let mut bar = progress::Bar::new(args.quiet);
    let mut runner = sampler
        .runner(gpu)
        .split_across(&others)
        .stop_when(std::sync::Arc::clone(&stop.flag))
        .on_progress(|p| bar.update(p));
    let Some(out) = &args.out else {
        if args.checkpoint.is_some() || args.resume.is_some() {
            bail!(
                "--checkpoint and --resume need --out: the draws before an interruption live in \
                 its file"
            );
        }
        if args.shard.is_some() {
            bail!("--shard needs --out: `langevin merge` joins the shards' files");
        }
        let (draws, report) = runner.draws_and_report()?;
        if let Some(step) = report.stopped_at {
            note!(
                "stopped by {} after {step} of {} steps; without --out nothing was saved",
                stop.name(),
                args.steps
            );
            return Ok(None);
        }
        return Ok(Some(Finished {
            draws,
            report,
            stream: None,
        }));
    };
    if !(args.checkpoint_every.is_finite() && args.checkpoint_every >= 0.0) {
        bail!(
            "--checkpoint-every {} must be a number of seconds ≥ 0",
            args.checkpoint_every
        );
    }
    if let Some(dir) = &args.resume {
        let checkpoint = langevin::Checkpoint::load(dir)?;
        // Refused here, before anything is said or touched, if it is another run's.
        checkpoint.check_compatible(sampler)?;
        note!(
            "resuming at step {} with {} draws already in {}",
            checkpoint.next_step(),
            checkpoint.delivered(),
            langevin::output::with_suffix(out, ".partial").display()
        );
        runner = runner.resume(checkpoint);
    }
    let checkpoints = args.checkpoint.as_ref().or(args.resume.as_ref());
    if let Some(dir) = checkpoints {
        let every = std::time::Duration::from_secs_f64(args.checkpoint_every);
        runner = runner.checkpoint_every(dir, every);
    }
    let mut stream = langevin::sink::NpyStream::deferred(out);
    let report = runner.into_sink(&mut stream)?;
    let partial = stream.partial_path().to_owned();
    if let Some(step) = report.stopped_at {
        let held = stream.draws_written();
        match held {
            // The stream removes its partial file, which holds no draw, when it is dropped.
            0 => note!(
                "stopped by {} after {step} of {} steps, before the first kept draw: {} held \
                 no draw and is removed",
                stop.name(),
                args.steps,
                partial.display()
            ),
            _ => note!(
                "stopped by {} after {step} of {} steps; {held} draws per chain are in {}",
                stop.name(),
                args.steps,
                partial.display()
            ),
        }
        match checkpoints {
            Some(dir) => note!(
                "a checkpoint at step {step} is in {}; continue with:\n  {}",
                dir.display(),
                signals::resume_command(dir)
            ),
            None => note!("run with --checkpoint DIR to be able to resume an interrupted run"),
        }
        return Ok(None);
    }
    let draws = sampler.read_draws(&partial)?;
    Ok(Some(Finished {
        draws,
        report,
        stream: Some(stream),
    }))
}

/// Rows of the printed summary: all with `--print-all`, else the first
/// [`langevin::summary::DEFAULT_TABLE_ROWS`].
fn table_rows(args: &SampleArgs) -> Option<usize> {
    (!args.print_all).then_some(langevin::summary::DEFAULT_TABLE_ROWS)
}

/// A network's description and its test-set predictive: printed, staged to `--predictive`
/// (and its uncertainty file), and returned as the summary's JSON fields (`null` for a target
/// that is not a network).
fn network_outputs(
    target: &Target,
    predictive: Option<&Predictive>,
    args: &SampleArgs,
    commit: &mut langevin::output::Commit,
) -> Result<serde_json::Value> {
    let Target::Network(network) = target else {
        return Ok(serde_json::Value::Null);
    };
    let spec = network.spec();
    let mut json = serde_json::json!({
        "network": network.describe(),
        "activation": if spec.hidden.is_empty() { None } else { Some(spec.activation.name()) },
        "output": spec.output.name(),
        "prior": spec.prior.describe(),
    });
    let Some(predictive) = predictive else {
        return Ok(json);
    };
    let metrics = predictive.metrics();
    match metrics {
        PredictiveMetrics::Classification {
            test_accuracy,
            test_nll,
            test_brier,
            test_ece,
            test_entropy,
            test_mutual_information,
            test_draws: draws,
        } => say!(
            "test ({} examples, posterior predictive over {draws} draws): accuracy \
             {test_accuracy:.4}, NLL {test_nll:.4}, Brier {test_brier:.4}, ECE {test_ece:.4}, \
             entropy {test_entropy:.4}, mutual information {test_mutual_information:.4}",
            predictive.examples()
        ),
        PredictiveMetrics::Regression {
            test_rmse,
            test_nll,
            test_coverage_90,
            test_draws: draws,
        } => say!(
            "test ({} examples, posterior predictive over {draws} draws): RMSE {test_rmse:.4}, \
             NLL {test_nll:.4}, 90% interval coverage {test_coverage_90:.4}",
            predictive.examples()
        ),
    }
    if let (Some(json), serde_json::Value::Object(extra)) =
        (json.as_object_mut(), serde_json::to_value(metrics)?)
    {
        json.extend(extra);
        json.insert("test_examples".into(), predictive.examples().into());
    }
    if let Some(path) = &args.predictive {
        commit.stage(path, |w| predictive.write_npy(w))?;
        let uncertainty = langevin::predictive::uncertainty_path(path);
        commit.stage(&uncertainty, |w| predictive.write_uncertainty_npy(w))?;
    }
    Ok(json)
}

/// Posterior draws used for predictions on a test set (spread evenly over draws and chains).
pub(crate) const PREDICTIVE_DRAWS: usize = 1000;

/// Up to `count` parameter vectors spread evenly over all kept (draw, chain) pairs.
fn spread_draws(draws: &langevin::Draws, count: usize) -> Vec<Vec<f32>> {
    let (n_draws, _, _) = draws.shape();
    let chains = draws.posterior_chains();
    let total = n_draws * chains.len();
    let take = count.min(total).max(1);
    (0..take.min(total))
        .map(|k| {
            let flat = k * total / take;
            let (draw, chain) = (flat / chains.len(), chains[flat % chains.len()]);
            (0..draws.shape().2)
                .map(|d| draws.get(draw, chain, d))
                .collect::<Vec<f32>>()
        })
        .filter(|theta| theta.iter().all(|v| v.is_finite()))
        .collect()
}

/// `--statistics-only`: the run keeps no draws; its summary is the GPU's running statistics.
fn statistics_only(
    gpu: &Gpu,
    sampler: &Sampler,
    args: &SampleArgs,
    stop: &signals::StopRequest,
) -> Result<i32> {
    if args.checkpoint.is_some() || args.resume.is_some() || args.shard.is_some() {
        bail!("--statistics-only runs keep no draws file: they take no --checkpoint, --resume or --shard");
    }
    let start = Instant::now();
    let mut bar = progress::Bar::new(args.quiet);
    let report = sampler
        .runner(gpu)
        .stop_when(std::sync::Arc::clone(&stop.flag))
        .on_progress(|p| bar.update(p))
        .statistics()?;
    drop(bar);
    if let Some(step) = report.stopped_at {
        note!(
            "stopped by {} after {step} of {} steps",
            stop.name(),
            args.steps
        );
        return Ok(stop.exit_code());
    }
    let seconds = start.elapsed().as_secs_f64();
    let chain_steps = f64::from(args.chains) * f64::from(args.steps);
    say!(
        "{} chain-steps in {seconds:.2} s ({:.3e} chain-steps/s)",
        chain_steps,
        chain_steps / seconds
    );
    let summary = report.statistics.summary();
    say_text!("{}", summary.table(table_rows(args)));
    if let Some(k) = args.superchains {
        let values: Vec<String> = report
            .statistics
            .nested_rhat(k)
            .iter()
            .map(|r| format!("{r:.4}"))
            .collect();
        say!("nested R-hat ({k} superchains): {}", values.join(" "));
    }
    let mut commit = langevin::output::Commit::new();
    let network = network_outputs(
        sampler.target(),
        report.predictive.as_ref(),
        args,
        &mut commit,
    )?;
    if let Some(path) = &args.json {
        let mut json = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "adapter": gpu.describe(),
            "model": model_name(args.model),
            "statistics_only": true,
            "chains": summary.chains,
            "mean": summary.mean,
            "sd": summary.sd,
            "rhat": summary.rhat,
            "divergent_chains": summary.divergent_chains,
            "divergences": report.statistics.divergences(),
            "seconds": seconds,
        });
        if let (Some(json), Some(extra)) = (json.as_object_mut(), network.as_object()) {
            json.extend(extra.clone());
        }
        commit.stage(path, |w| {
            serde_json::to_writer_pretty(&mut *w, &json)?;
            std::io::Write::write_all(w, b"\n")
        })?;
    }
    commit.commit()?;
    if summary.divergent_chains > 0 && summary.chains == 0 {
        note!("error: every chain diverged; use a smaller step size");
        return Ok(EXIT_ALL_DIVERGED);
    }
    Ok(0)
}
