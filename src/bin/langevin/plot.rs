//! `langevin plot`: trace plots and marginal histograms of a draws file, with a model's
//! exact marginal density drawn over them, or a predictive file's reliability diagram.

use anyhow::{bail, Result};
use langevin::model::toys;

use crate::args::{PlotArgs, ReferenceModel};
use crate::checks;
use crate::console::{note, say};

pub(crate) fn plot(args: &PlotArgs) -> Result<()> {
    checks::single_output(
        "--out",
        &args.out,
        &[
            ("the input file".into(), args.input.clone()),
            (
                "the predictive's uncertainty file".into(),
                langevin::predictive::uncertainty_path(&args.input),
            ),
        ],
    )?;
    if args.reliability {
        if args.dims.is_some() || args.reference.is_some() {
            bail!("--dims and --reference are for trace plots; --reliability draws a predictive file's calibration");
        }
        let report = langevin::plot::plot_reliability(&args.input, &args.out)?;
        for warning in &report.warnings {
            note!("warning: {warning}");
        }
        say!(
            "{}: reliability of {} test examples (accuracy {:.4}, ECE {:.4})",
            args.out.display(),
            report.examples,
            report.accuracy,
            report.ece
        );
        return Ok(());
    }
    let reference = reference_density(args)?;
    let options = langevin::plot::PlotOptions {
        dims: args.dims.clone(),
        max_chains: args.max_chains,
        ..Default::default()
    };
    let report = langevin::plot::plot_npy(&args.input, &args.out, &options, reference.as_deref())?;
    for warning in &report.warnings {
        note!("warning: {warning}");
    }
    say!(
        "{}: dimensions {:?} of {} draws, {} of {} chains traced",
        args.out.display(),
        report.dims,
        report.draws,
        report.chains_shown,
        report.chains
    );
    Ok(())
}

/// The marginal density of `--reference`, as `(dimension, x) ↦ p(x)`.
type Marginal = Box<dyn Fn(usize, f64) -> f64>;

fn reference_density(args: &PlotArgs) -> Result<Option<Marginal>> {
    let normal = |x: f64, mean: f64, var: f64| {
        (-(x - mean).powi(2) / (2.0 * var)).exp() / (2.0 * std::f64::consts::PI * var).sqrt()
    };
    Ok(match args.reference {
        None => None,
        Some(ReferenceModel::Gaussian) => {
            if let Some(v) = args.var.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
                bail!("--var {v}: variances must be positive");
            }
            let (means, vars) = (args.mean.clone(), args.var.clone());
            let pick = |values: &[f64], d: usize| values[d.min(values.len() - 1)];
            Some(Box::new(move |d, x| {
                normal(x, pick(&means, d), pick(&vars, d))
            }))
        }
        Some(ReferenceModel::GridMixture) => {
            let centres: Vec<f64> = (0..toys::GRID_PER_AXIS)
                .map(|i| {
                    (f64::from(i) - f64::from(toys::GRID_PER_AXIS - 1) / 2.0) * toys::GRID_SPACING
                })
                .collect();
            Some(Box::new(move |_, x| {
                centres
                    .iter()
                    .map(|&m| normal(x, m, toys::GRID_VARIANCE))
                    .sum::<f64>()
                    / centres.len() as f64
            }))
        }
        Some(ReferenceModel::DoubleWell) => {
            // exp(−U) is negligible outside [−3, 3] (U(±3) = 63); Simpson's rule there.
            let n = 6000;
            let h = 6.0 / f64::from(n);
            let z: f64 = (0..=n)
                .map(|i| {
                    let w = if i == 0 || i == n {
                        1.0
                    } else if i % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    w * (-toys::double_well_potential(-3.0 + f64::from(i) * h)).exp()
                })
                .sum::<f64>()
                * h
                / 3.0;
            Some(Box::new(move |_, x| {
                (-toys::double_well_potential(x)).exp() / z
            }))
        }
    })
}
