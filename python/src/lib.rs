//! `langevin._langevin`: the Python extension over the Rust crate. Models are built from numpy
//! arrays by the crate's own constructors and a run goes through the same `SamplerBuilder`, so
//! validation and draws are the Rust API's; this file only converts. The Python package
//! (`langevin/__init__.py`) wraps it with keyword defaults, progress bars and ArviZ.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use langevin::data::Dataset;
use langevin::model::{
    Activation, CustomModel, Network, NetworkSpec, Output, Prior, Regression, Target,
};
use langevin::sampler::{Method, Sampler};
use langevin::{Gaussian, Gpu, Minibatch, StepSize};
use numpy::{IntoPyArray, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

create_exception!(
    _langevin,
    GpuError,
    PyRuntimeError,
    "No usable adapter, a device lost or out of memory, or a limit of the adapter exceeded."
);

/// The library's error as a Python exception: `GpuError` for the adapter and device,
/// `ValueError` for everything a caller's input caused.
fn to_py(error: langevin::Error) -> PyErr {
    use langevin::Error as E;
    match error {
        E::NoAdapter { .. }
        | E::AdapterNotFound { .. }
        | E::RequestDevice { .. }
        | E::ExceedsLimits { .. }
        | E::DeviceMemory { .. }
        | E::Gpu(_) => GpuError::new_err(error.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// A target to sample: built by `langevin.models`.
#[pyclass(module = "langevin._langevin", frozen)]
struct Model {
    target: Target,
    kind: &'static str,
}

#[pymethods]
impl Model {
    /// Parameters per chain.
    #[getter]
    fn dim(&self) -> usize {
        self.target.dim()
    }

    /// The model's kind: "logistic", "linear", "gaussian", "mlp" or "custom".
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn __repr__(&self) -> String {
        format!(
            "<langevin model {} with {} parameters>",
            self.kind,
            self.target.dim()
        )
    }
}

/// Rows of `x` (examples × features, float32) with labels `y`, as a data set.
fn dataset(x: PyReadonlyArray2<'_, f32>, y: PyReadonlyArray1<'_, f32>) -> PyResult<Dataset> {
    let (rows, features) = x.as_array().dim();
    let labels = y.as_array().len();
    if labels != rows {
        return Err(PyValueError::new_err(format!(
            "X has {rows} rows but y has {labels} labels"
        )));
    }
    let values: Vec<f32> = x.as_array().iter().copied().collect();
    let labels = y.as_array().iter().copied().collect();
    // Mostly-zero features (one-hot columns) are stored as the LIBSVM reader stores them.
    let nonzero = values.iter().filter(|&&v| v != 0.0).count();
    if nonzero * 4 <= values.len() {
        return Dataset::from_dense_as_sparse(values, features, labels).map_err(to_py);
    }
    Dataset::from_dense(values, features, labels).map_err(to_py)
}

#[pyfunction]
#[pyo3(signature = (x, y, prior_var, intercept))]
fn logistic(
    x: PyReadonlyArray2<'_, f32>,
    y: PyReadonlyArray1<'_, f32>,
    prior_var: f64,
    intercept: bool,
) -> PyResult<Model> {
    let model = Regression::logistic(dataset(x, y)?, prior_var).map_err(to_py)?;
    let model = if intercept {
        model
    } else {
        model.without_intercept()
    };
    Ok(Model {
        target: model.into(),
        kind: "logistic",
    })
}

#[pyfunction]
#[pyo3(signature = (x, y, noise_var, prior_var, intercept))]
fn linear(
    x: PyReadonlyArray2<'_, f32>,
    y: PyReadonlyArray1<'_, f32>,
    noise_var: f64,
    prior_var: f64,
    intercept: bool,
) -> PyResult<Model> {
    let model = Regression::linear(dataset(x, y)?, noise_var, prior_var).map_err(to_py)?;
    let model = if intercept {
        model
    } else {
        model.without_intercept()
    };
    Ok(Model {
        target: model.into(),
        kind: "linear",
    })
}

/// A Gaussian from its mean and precision: a vector (diagonal) or a matrix (dense).
#[pyfunction]
#[pyo3(signature = (mean, precision_diagonal=None, precision_matrix=None))]
fn gaussian(
    mean: PyReadonlyArray1<'_, f64>,
    precision_diagonal: Option<PyReadonlyArray1<'_, f64>>,
    precision_matrix: Option<PyReadonlyArray2<'_, f64>>,
) -> PyResult<Model> {
    let mean: Vec<f64> = mean.as_array().to_vec();
    let model = match (precision_diagonal, precision_matrix) {
        (Some(p), None) => Gaussian::diagonal(&mean, &p.as_array().to_vec()),
        (None, Some(p)) => {
            Gaussian::dense(&mean, &p.as_array().iter().copied().collect::<Vec<_>>())
        }
        _ => {
            return Err(PyValueError::new_err(
                "give exactly one of a diagonal precision and a precision matrix",
            ))
        }
    }
    .map_err(to_py)?;
    Ok(Model {
        target: model.into(),
        kind: "gaussian",
    })
}

#[pyfunction]
#[pyo3(signature = (x, y, hidden, activation, output, classes, noise_var, prior, prior_var, x_test=None, y_test=None))]
#[allow(clippy::too_many_arguments)]
fn mlp(
    x: PyReadonlyArray2<'_, f32>,
    y: PyReadonlyArray1<'_, f32>,
    hidden: Vec<usize>,
    activation: &str,
    output: &str,
    classes: Option<usize>,
    noise_var: f64,
    prior: &str,
    prior_var: f64,
    x_test: Option<PyReadonlyArray2<'_, f32>>,
    y_test: Option<PyReadonlyArray1<'_, f32>>,
) -> PyResult<Model> {
    let data = dataset(x, y)?;
    let activation = match activation {
        "relu" => Activation::Relu,
        "tanh" => Activation::Tanh,
        other => {
            return Err(PyValueError::new_err(format!(
                "activation {other:?}: use \"relu\" or \"tanh\""
            )))
        }
    };
    let output = match (output, classes) {
        ("categorical", Some(classes)) => Output::Categorical { classes },
        ("categorical", None) => Output::Categorical {
            classes: data.labels().iter().copied().fold(0.0f32, f32::max) as usize + 1,
        },
        ("bernoulli", _) => Output::Bernoulli,
        ("gaussian", _) => Output::Gaussian {
            noise_variance: noise_var,
        },
        (other, _) => {
            return Err(PyValueError::new_err(format!(
                "output {other:?}: use \"categorical\", \"bernoulli\" or \"gaussian\""
            )))
        }
    };
    let prior = match prior {
        "isotropic" => Prior::Isotropic {
            variance: prior_var,
        },
        "fan-in" | "fan_in" => Prior::FanIn { scale: prior_var },
        other => {
            return Err(PyValueError::new_err(format!(
                "prior {other:?}: use \"isotropic\" or \"fan-in\""
            )))
        }
    };
    let spec = NetworkSpec {
        hidden,
        activation,
        output,
        prior,
    };
    let mut network = Network::new(data, spec).map_err(to_py)?;
    match (x_test, y_test) {
        (Some(x), Some(y)) => network = network.with_test_set(dataset(x, y)?).map_err(to_py)?,
        (None, None) => {}
        _ => {
            return Err(PyValueError::new_err(
                "give both x_test and y_test, or neither",
            ))
        }
    }
    Ok(Model {
        target: network.into(),
        kind: "mlp",
    })
}

#[pyfunction]
#[pyo3(signature = (wgsl, dim, x, y, params, name))]
fn custom(
    wgsl: String,
    dim: usize,
    x: PyReadonlyArray2<'_, f32>,
    y: PyReadonlyArray1<'_, f32>,
    params: Vec<f32>,
    name: String,
) -> PyResult<Model> {
    let model = CustomModel::new(name, dim, dataset(x, y)?, wgsl, params).map_err(to_py)?;
    Ok(Model {
        target: model.into(),
        kind: "custom",
    })
}

/// Adapters opened so far, by the name asked for: opening one takes a moment, and a notebook
/// samples many times.
static ADAPTERS: Mutex<Vec<(Option<String>, &'static Gpu)>> = Mutex::new(Vec::new());

fn adapter(name: Option<String>) -> PyResult<&'static Gpu> {
    let mut open = ADAPTERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, gpu)) = open.iter().find(|(n, _)| *n == name) {
        return Ok(gpu);
    }
    let gpu: &'static Gpu = Box::leak(Box::new(Gpu::new(name.as_deref()).map_err(to_py)?));
    open.push((name, gpu));
    Ok(gpu)
}

/// The update rule from its name and constants.
fn method(sampler: &str, options: &Bound<'_, PyDict>) -> PyResult<Method> {
    let get = |key: &str, default: f64| -> PyResult<f64> {
        match options.get_item(key)? {
            Some(value) => value.extract(),
            None => Ok(default),
        }
    };
    match sampler {
        "sgld" => Ok(Method::Sgld),
        "psgld" => Method::psgld_with(get("decay", 0.99)?, get("rms_epsilon", 1e-5)?),
        "sghmc" => Method::sghmc_with(get("friction", 0.1)?, get("noise_estimate", 0.0)?),
        "sgnht" => Method::sgnht(get("diffusion", 1.0)?),
        other => {
            return Err(PyValueError::new_err(format!(
                "sampler {other:?}: use \"sgld\", \"psgld\", \"sghmc\" or \"sgnht\""
            )))
        }
    }
    .map_err(to_py)
}

/// Option `key` as a bool (false when absent).
fn flag(options: &Bound<'_, PyDict>, key: &str) -> PyResult<bool> {
    Ok(match options.get_item(key)? {
        Some(value) => value.extract()?,
        None => false,
    })
}

/// `control_variates`, as the CLI's `--cv` sets them: centred at the metric's mode with
/// `precondition`, else at SGD's mode at the run's step size.
fn with_control_variates(
    py: Python<'_>,
    builder: langevin::sampler::SamplerBuilder,
    model: &Model,
    gpu: &'static Gpu,
    laplace_mode: Option<Vec<f32>>,
    eta: f64,
) -> PyResult<langevin::sampler::SamplerBuilder> {
    let centre = match laplace_mode {
        Some(mode) => langevin::sampler::Centre::at(&model.target, mode),
        None => {
            let search = langevin::sampler::ModeSearch::new(1000, eta).map_err(to_py)?;
            let probe = builder.clone().build().map_err(to_py)?;
            py.allow_threads(|| probe.find_centre(gpu, &search))
        }
    }
    .map_err(to_py)?;
    Ok(builder.control_variate(centre))
}

/// Runs the sampler; the Python wrapper documents the arguments. Returns a dict of numpy
/// arrays and numbers. The GIL is released while the GPU works; `progress(step, steps)` is
/// called a few times a second, and Ctrl-C (KeyboardInterrupt) stops the run at the next
/// submit, returning what was drawn with `stopped_at` set.
#[pyfunction]
#[pyo3(signature = (model, chains, steps, burn_in, thin, sampler, step_size, batch, per_chain_batch, seed, temperature, adapter_name, progress, options))]
#[allow(clippy::too_many_arguments)]
fn sample<'py>(
    py: Python<'py>,
    model: &Model,
    chains: u32,
    steps: u32,
    burn_in: Option<u32>,
    thin: u32,
    sampler: &str,
    step_size: Option<f64>,
    batch: Option<u32>,
    per_chain_batch: bool,
    seed: u64,
    temperature: f64,
    adapter_name: Option<String>,
    progress: Option<PyObject>,
    options: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut builder = Sampler::builder(model.target.clone())
        .chains(chains)
        .steps(steps)
        .burn_in(burn_in.unwrap_or(langevin::sampler::default_burn_in(steps)))
        .thin(thin)
        .step_size(
            StepSize::constant(step_size.unwrap_or(langevin::schedule::DEFAULT_STEP_SIZE))
                .map_err(to_py)?,
        )
        .method(method(sampler, options)?)
        .seed(seed)
        .temperature(temperature);
    if let Some(size) = batch {
        let batch = if per_chain_batch {
            Minibatch::per_chain(size)
        } else {
            Minibatch::shared(size)
        };
        builder = builder.minibatch(batch.map_err(to_py)?);
    }
    let gpu = adapter(adapter_name)?;
    // The metric first (`precondition`, the CLI's `--precondition`): an automatic step size
    // is a fraction of the limit in it.
    let precondition = flag(options, "precondition")?;
    let mut laplace_mode = None;
    if precondition {
        let probe = builder.clone().build().map_err(to_py)?;
        let (mode, metric) = py
            .allow_threads(|| probe.laplace_metric(gpu, &langevin::sampler::AutoStep::default()))
            .map_err(to_py)?;
        builder = builder.preconditioner(metric);
        laplace_mode = Some(mode);
    }
    // step_size None: chosen from the curvature at the mode (`Sampler::choose_step_size`).
    let mut choice = None;
    if step_size.is_none() {
        let auto = langevin::sampler::AutoStep {
            fraction: match options.get_item("step_fraction")? {
                Some(value) => value.extract()?,
                None if precondition => langevin::sampler::AutoStep::IN_METRIC_FRACTION,
                None => langevin::sampler::AutoStep::default().fraction,
            },
            ..langevin::sampler::AutoStep::default()
        };
        let (chosen, made) = py
            .allow_threads(|| builder.auto_step_size(gpu, &auto))
            .map_err(to_py)?;
        builder = chosen;
        choice = Some(made);
    }
    if flag(options, "control_variates")? {
        let eta = choice.map_or(step_size, |c| Some(c.eta));
        builder = with_control_variates(
            py,
            builder,
            model,
            gpu,
            laplace_mode,
            eta.unwrap_or(langevin::schedule::DEFAULT_STEP_SIZE),
        )?;
    }
    let sampler = builder.build().map_err(to_py)?;
    let stop = Arc::new(AtomicBool::new(false));
    let interrupted = AtomicBool::new(false);
    let outcome = py.allow_threads(|| {
        sampler
            .runner(gpu)
            .stop_when(Arc::clone(&stop))
            .on_progress(|p| {
                Python::with_gil(|py| {
                    // Ctrl-C shows up either here or, when it lands while the progress
                    // callback runs Python code, as that call's KeyboardInterrupt.
                    let mut ctrl_c = py.check_signals().is_err();
                    if let Some(callback) = &progress {
                        // Any other failure of a progress bar must not lose the run.
                        if let Err(error) = callback.call1(py, (p.step, p.steps)) {
                            ctrl_c |= error.is_instance_of::<PyKeyboardInterrupt>(py);
                        }
                    }
                    if ctrl_c {
                        interrupted.store(true, Ordering::SeqCst);
                        stop.store(true, Ordering::SeqCst);
                    }
                })
            })
            .draws_and_report()
    });
    let (draws, report) = outcome.map_err(to_py)?;
    let out = PyDict::new(py);
    let (kept, chain_count, dim) = draws.shape();
    let divergent: Vec<bool> = (0..chain_count).map(|c| draws.is_divergent(c)).collect();
    let steps_of_draws = draws.steps().to_vec();
    let temperatures = draws.chain_temperatures().map(<[f32]>::to_vec);
    let summary = draws.summary();
    let values = draws.into_values().into_pyarray(py);
    out.set_item("draws", values.reshape([kept, chain_count, dim])?)?;
    out.set_item("draw_steps", steps_of_draws)?;
    out.set_item("divergent", divergent)?;
    out.set_item("temperatures", temperatures)?;
    out.set_item(
        "divergences",
        report
            .statistics
            .divergences()
            .iter()
            .map(|d| (d.chain, d.first_step))
            .collect::<Vec<_>>(),
    )?;
    let table = PyDict::new(py);
    table.set_item("mean", summary.mean.clone())?;
    table.set_item("sd", summary.sd.clone())?;
    table.set_item("q05", summary.q05.clone())?;
    table.set_item("q50", summary.q50.clone())?;
    table.set_item("q95", summary.q95.clone())?;
    table.set_item("rhat", summary.rhat.clone())?;
    table.set_item("ess_bulk", summary.ess_bulk.clone())?;
    table.set_item("chains", summary.chains)?;
    table.set_item(
        "text",
        summary.table(Some(langevin::summary::DEFAULT_TABLE_ROWS)),
    )?;
    out.set_item("summary", table)?;
    let running = report.statistics.summary();
    let statistics = PyDict::new(py);
    statistics.set_item("mean", running.mean.clone())?;
    statistics.set_item("sd", running.sd.clone())?;
    statistics.set_item("rhat", running.rhat.clone())?;
    out.set_item("running_statistics", statistics)?;
    out.set_item("stopped_at", report.stopped_at)?;
    out.set_item("interrupted", interrupted.load(Ordering::SeqCst))?;
    out.set_item("seconds", report.seconds)?;
    out.set_item("adapter", gpu.describe())?;
    if let Some(choice) = choice {
        let chosen = PyDict::new(py);
        chosen.set_item("eta", choice.eta)?;
        chosen.set_item("lambda_max", choice.lambda_max)?;
        chosen.set_item("limit", choice.limit)?;
        chosen.set_item("fraction", choice.fraction)?;
        chosen.set_item("mode_step_size", choice.mode_step_size)?;
        out.set_item("step_size_choice", chosen)?;
    }
    if let Some(predictive) = &report.predictive {
        let metrics = PyDict::new(py);
        match predictive.metrics() {
            langevin::predictive::PredictiveMetrics::Classification {
                test_accuracy,
                test_nll,
                test_brier,
                test_ece,
                test_entropy,
                test_mutual_information,
                test_draws,
            } => {
                metrics.set_item("accuracy", test_accuracy)?;
                metrics.set_item("nll", test_nll)?;
                metrics.set_item("brier", test_brier)?;
                metrics.set_item("ece", test_ece)?;
                metrics.set_item("entropy", test_entropy)?;
                metrics.set_item("mutual_information", test_mutual_information)?;
                metrics.set_item("draws", test_draws)?;
                let classes = predictive.classes().unwrap_or(2);
                let p: Vec<f64> = predictive.values().to_vec();
                let rows = p.len() / classes;
                metrics.set_item(
                    "probabilities",
                    p.into_pyarray(py).reshape([rows, classes])?,
                )?;
            }
            langevin::predictive::PredictiveMetrics::Regression {
                test_rmse,
                test_nll,
                test_coverage_90,
                test_draws,
            } => {
                metrics.set_item("rmse", test_rmse)?;
                metrics.set_item("nll", test_nll)?;
                metrics.set_item("coverage_90", test_coverage_90)?;
                metrics.set_item("draws", test_draws)?;
            }
        }
        out.set_item("predictive", metrics)?;
    }
    Ok(out)
}

/// Every adapter: (name, backend, type, is default).
#[pyfunction]
fn adapters() -> PyResult<Vec<(String, String, String, bool)>> {
    Ok(langevin::gpu::list_adapters()
        .map_err(to_py)?
        .into_iter()
        .map(|a| (a.name, a.backend, a.device_type, a.is_default))
        .collect())
}

#[pymodule]
fn _langevin(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(logistic, m)?)?;
    m.add_function(wrap_pyfunction!(linear, m)?)?;
    m.add_function(wrap_pyfunction!(gaussian, m)?)?;
    m.add_function(wrap_pyfunction!(mlp, m)?)?;
    m.add_function(wrap_pyfunction!(custom, m)?)?;
    m.add_function(wrap_pyfunction!(sample, m)?)?;
    m.add_function(wrap_pyfunction!(adapters, m)?)?;
    m.add("GpuError", m.py().get_type::<GpuError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
