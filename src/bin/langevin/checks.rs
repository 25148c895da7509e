//! Checks made before any work: whole numbers as users write them, options the chosen model
//! or rule would ignore, and output paths that would overwrite an input or each other.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use langevin::output::{check_output_path, check_separate, with_suffix};

use crate::args::{Model, OutputArg, SampleArgs, SamplerKind, Schedule, StepSizeArg};

/// Parses a count written as `4096`, `4_096` or `4e3` (an exact whole number in range).
pub(crate) fn count<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    let plain = text.trim().replace('_', "");
    let value: u64 = match plain.parse::<u64>() {
        Ok(value) => value,
        Err(_) => {
            let float: f64 = plain
                .parse()
                .map_err(|_| format!("`{}` is not a whole number", langevin::error::quote(text)))?;
            if !(float.is_finite() && float >= 0.0 && float.fract() == 0.0) {
                return Err(format!(
                    "`{}` is not a whole number ≥ 0",
                    langevin::error::quote(text)
                ));
            }
            if float > u64::MAX as f64 {
                return Err(format!("{} is too large", langevin::error::quote(text)));
            }
            float as u64
        }
    };
    T::try_from(value).map_err(|_| {
        format!(
            "{value} is too large here (at most {})",
            std::any::type_name::<T>()
                .rsplit("::")
                .next()
                .map_or("u32::MAX".to_owned(), |t| format!("{t}::MAX"))
        )
    })
}

/// Whether `--data` names the Fashion-MNIST shortcut.
pub(crate) fn is_fashion_mnist(args: &SampleArgs) -> bool {
    args.data
        .as_deref()
        .is_some_and(|d| d.as_os_str() == langevin::data::FASHION_MNIST_SHORTCUT)
}

/// Refuses options given on the command line (or in the environment) that the chosen model,
/// rule or schedule would ignore: a run must do what its command says.
pub(crate) fn refuse_ignored_options(args: &SampleArgs, given: &HashSet<String>) -> Result<()> {
    let is = |id: &str| given.contains(id);
    let model = args.model;
    let data_model = !matches!(
        model,
        Model::Gaussian | Model::DoubleWell | Model::GridMixture
    );
    let csv = args
        .data
        .as_deref()
        .and_then(Path::extension)
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let rules: &[(&str, bool, &str)] = &[
        (
            "dim",
            model == Model::Gaussian,
            "--dim sets a Gaussian's dimensions (--model gaussian)",
        ),
        (
            "mean",
            model == Model::Gaussian,
            "--mean is a Gaussian's (--model gaussian)",
        ),
        (
            "var",
            model == Model::Gaussian,
            "--var is a Gaussian's (--model gaussian)",
        ),
        (
            "corr",
            model == Model::Gaussian,
            "--corr is a Gaussian's (--model gaussian)",
        ),
        (
            "data",
            data_model,
            "--data is for models on data (linear, logistic, softmax, mlp, mixture)",
        ),
        (
            "test",
            matches!(model, Model::Logistic | Model::Softmax | Model::Mlp),
            "--test reports a classifier's or network's test metrics (--model logistic, \
             softmax or mlp); this model computes none",
        ),
        (
            "label",
            csv,
            "--label names a CSV column; the data are not a .csv file",
        ),
        (
            "features",
            data_model && !csv,
            "--features declares a LIBSVM file's feature count",
        ),
        (
            "noise_var",
            model == Model::Linear || (model == Model::Mlp && args.output == OutputArg::Gaussian),
            "--noise-var is the Gaussian likelihood's (--model linear, or mlp --output gaussian)",
        ),
        (
            "hidden",
            model == Model::Mlp,
            "--hidden sets the MLP's widths (--model mlp)",
        ),
        (
            "activation",
            model == Model::Mlp,
            "--activation is the MLP's hidden nonlinearity (--model mlp)",
        ),
        (
            "output",
            model == Model::Mlp,
            "--output is the MLP's likelihood (--model mlp; softmax is always categorical)",
        ),
        (
            "classes",
            matches!(model, Model::Softmax | Model::Mlp)
                && matches!(args.output, OutputArg::Auto | OutputArg::Categorical),
            "--classes is a categorical output's (--model softmax, or mlp with a categorical \
             output)",
        ),
        (
            "prior",
            matches!(model, Model::Softmax | Model::Mlp),
            "--prior chooses a network's prior (--model softmax or mlp)",
        ),
        (
            "prior_var",
            matches!(
                model,
                Model::Linear | Model::Logistic | Model::Softmax | Model::Mlp
            ),
            "--prior-var is the prior of the linear, logistic, softmax and MLP models",
        ),
        (
            "train_rows",
            data_model,
            "--train-rows limits the training data; this target has none",
        ),
        (
            "test_rows",
            args.test.is_some() || is_fashion_mnist(args),
            "--test-rows limits --test, which is not given",
        ),
        (
            "predictive",
            matches!(model, Model::Softmax | Model::Mlp)
                && (args.test.is_some() || is_fashion_mnist(args)),
            "--predictive writes a network's posterior predictive on --test (--model softmax or \
             mlp, with --test)",
        ),
        (
            "no_intercept",
            matches!(model, Model::Linear | Model::Logistic),
            "--no-intercept is for linear and logistic regression",
        ),
        (
            "batch",
            data_model,
            "--batch draws mini-batches of data; this target has none",
        ),
        (
            "batch_mode",
            args.batch.is_some(),
            "--batch-mode needs --batch",
        ),
        (
            "replacement",
            args.batch.is_some(),
            "--replacement needs --batch",
        ),
        (
            "data_path",
            data_model,
            "--data-path chooses how a data model reads its batch; this target has no data",
        ),
        (
            "decay",
            args.sampler == SamplerKind::Psgld,
            "--decay is pSGLD's (--sampler psgld)",
        ),
        (
            "rms_epsilon",
            args.sampler == SamplerKind::Psgld,
            "--rms-epsilon is pSGLD's (--sampler psgld)",
        ),
        (
            "friction",
            args.sampler == SamplerKind::Sghmc,
            "--friction is SGHMC's (--sampler sghmc)",
        ),
        (
            "momentum_decay",
            args.sampler == SamplerKind::Sghmc,
            "--momentum-decay is SGHMC's (--sampler sghmc)",
        ),
        (
            "noise_estimate",
            args.sampler == SamplerKind::Sghmc,
            "--noise-estimate is SGHMC's (--sampler sghmc)",
        ),
        (
            "diffusion",
            args.sampler == SamplerKind::Sgnht,
            "--diffusion is SGNHT's (--sampler sgnht)",
        ),
        (
            "a",
            args.schedule == Schedule::Poly,
            "--a is for --schedule poly",
        ),
        (
            "b",
            args.schedule == Schedule::Poly,
            "--b is for --schedule poly",
        ),
        (
            "gamma",
            args.schedule == Schedule::Poly,
            "--gamma is for --schedule poly",
        ),
        (
            "cycles",
            args.schedule == Schedule::Cyclical,
            "--cycles is for --schedule cyclical",
        ),
        (
            "explore",
            args.schedule == Schedule::Cyclical,
            "--explore is for --schedule cyclical",
        ),
        (
            "step_size",
            args.schedule != Schedule::Poly
                || (args.warmup_steps.is_some() && args.warmup_step_size.is_none())
                || (args.cv && args.cv_step_size.is_none()),
            "--schedule poly sets every step size from --a, --b and --gamma",
        ),
        (
            "step_fraction",
            args.step_size == StepSizeArg::Auto,
            "--step-fraction is for --step-size auto",
        ),
        (
            "warmup_step_size",
            args.warmup_steps.is_some(),
            "--warmup-step-size needs --warmup-steps",
        ),
        (
            "rungs",
            args.temperature_ladder.is_some(),
            "--rungs needs --temperature-ladder",
        ),
        (
            "all_temperatures",
            args.temperature_ladder.is_some(),
            "--all-temperatures needs --temperature-ladder",
        ),
        (
            "cv_steps",
            args.cv || args.precondition,
            "--cv-steps needs --cv or --precondition",
        ),
        (
            "cv_step_size",
            args.cv && !args.precondition,
            "--cv-step-size needs --cv, and --precondition's mode search chooses its own SGD \
             step size",
        ),
        (
            "out",
            !args.statistics_only,
            "--statistics-only keeps no draws to write to --out",
        ),
        (
            "test",
            !args.statistics_only || matches!(model, Model::Softmax | Model::Mlp),
            "--test with logistic regression needs draws, which --statistics-only does not keep \
             (a network's predictive is summed on the device and works without them)",
        ),
        (
            "checkpoint_every",
            args.checkpoint.is_some() || args.resume.is_some(),
            "--checkpoint-every needs --checkpoint DIR",
        ),
    ];
    for (id, applies, why) in rules {
        if is(id) && !applies {
            bail!("{why}: it would be ignored here, so it is refused");
        }
    }
    Ok(())
}

/// The files `sample` writes and reads, checked before any work: each output writable and a
/// file (the draws a regular one), none the same file as another or as an input.
pub(crate) fn sample_paths(args: &SampleArgs) -> Result<()> {
    let mut outputs: Vec<(String, PathBuf)> = Vec::new();
    if let Some(out) = &args.out {
        check_output_path("--out", out, false)?;
        outputs.push(("--out".into(), out.clone()));
        let partial = with_suffix(out, ".partial");
        outputs.push(("--out's .partial file".into(), partial));
        if args.shard.is_some() {
            outputs.push((
                "--out's manifest".into(),
                langevin::shard::manifest_path(out),
            ));
        }
    }
    if let Some(json) = &args.json {
        check_output_path("--json", json, true)?;
        outputs.push(("--json".into(), json.clone()));
    }
    if let Some(predictive) = &args.predictive {
        let uncertainty = langevin::predictive::uncertainty_path(predictive);
        check_output_path("--predictive", predictive, false)?;
        check_output_path("--predictive's uncertainty file", &uncertainty, false)?;
        outputs.push(("--predictive".into(), predictive.clone()));
        outputs.push(("--predictive's uncertainty file".into(), uncertainty));
    }
    for (flag, dir) in [
        ("--checkpoint", &args.checkpoint),
        ("--resume", &args.resume),
    ] {
        let Some(dir) = dir else { continue };
        if dir.exists() && !dir.is_dir() {
            bail!(
                "{flag} {}: is a file, not a folder; give a folder for the checkpoints",
                dir.display()
            );
        }
        if flag == "--checkpoint" {
            let file = dir.join(langevin::checkpoint::CHECKPOINT_FILE);
            if !dir.exists() {
                let parent = dir
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                if !parent.is_dir() {
                    bail!(
                        "{flag} {}: the folder {} does not exist",
                        dir.display(),
                        parent.display()
                    );
                }
            } else {
                check_output_path(flag, &file, false)?;
            }
            outputs.push((format!("{flag}'s checkpoint"), file));
        }
    }
    let mut inputs: Vec<(String, PathBuf)> = Vec::new();
    for (flag, path) in [("--data", &args.data), ("--test", &args.test)] {
        let Some(path) = path else { continue };
        if flag == "--data" && is_fashion_mnist(args) {
            if let Ok(dir) = langevin::data::fashion_mnist_dir() {
                for file in langevin::data::fashion_mnist_files(&dir) {
                    inputs.push(("Fashion-MNIST".into(), file));
                }
            }
            continue;
        }
        inputs.push((flag.into(), path.clone()));
        if let Some(labels) = langevin::data::is_idx(path)
            .then(|| langevin::data::labels_beside(path))
            .flatten()
        {
            inputs.push((format!("{flag}'s labels"), labels));
        }
    }
    if let Some(dir) = &args.resume {
        inputs.push((
            "--resume's checkpoint".into(),
            dir.join(langevin::checkpoint::CHECKPOINT_FILE),
        ));
        // Resuming reads the checkpoint it then replaces: the same file, by design.
        outputs.retain(|(flag, _)| flag != "--checkpoint's checkpoint");
    }
    check_separate(&outputs, &inputs)?;
    Ok(())
}

/// An output of `plot`, `merge` or `bench`, checked against its inputs before any work.
pub(crate) fn single_output(flag: &str, out: &Path, inputs: &[(String, PathBuf)]) -> Result<()> {
    check_output_path(flag, out, true)?;
    check_separate(&[(flag.to_owned(), out.to_owned())], inputs)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_plain_grouped_and_scientific_forms() {
        assert_eq!(count::<u32>("4096"), Ok(4096));
        assert_eq!(count::<u32>("4_096"), Ok(4096));
        assert_eq!(count::<usize>("1e9"), Ok(1_000_000_000));
        assert!(count::<u32>("1e10")
            .expect_err("too large")
            .contains("too large"));
        assert!(count::<u32>("1.5").is_err());
        assert!(count::<u32>("-1").is_err());
        assert!(count::<u32>("x")
            .expect_err("not a number")
            .contains("not a whole number"));
    }
}
