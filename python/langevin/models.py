"""Models from numpy arrays. Each calls the Rust crate's constructor, which validates it.

Features are float32 (converted if needed); labels as each model says.
"""
import numpy as np

from . import _langevin


def _data(x, y):
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    y = np.ascontiguousarray(np.asarray(y, dtype=np.float32).reshape(-1))
    if x.ndim != 2:
        raise ValueError(f"X must be a 2-D array (examples × features), not {x.ndim}-D")
    return x, y


def logistic(x, y, *, prior_var=1.0, intercept=True):
    """Bayesian logistic regression: labels ±1 or 0/1, prior N(0, prior_var·I) on the
    coefficients (an intercept first unless intercept=False)."""
    return _langevin.logistic(*_data(x, y), float(prior_var), bool(intercept))


def linear(x, y, *, noise_var=1.0, prior_var=1.0, intercept=True):
    """Bayesian linear regression with known noise variance and prior N(0, prior_var·I)."""
    return _langevin.linear(*_data(x, y), float(noise_var), float(prior_var), bool(intercept))


def gaussian(mean, cov=None, *, var=None):
    """A multivariate Gaussian N(mean, cov): `cov` a matrix (dense precision), or `var` a
    vector of variances (diagonal), or neither (identity)."""
    mean = np.ascontiguousarray(np.asarray(mean, dtype=np.float64).reshape(-1))
    if cov is not None and var is not None:
        raise ValueError("give cov or var, not both")
    if cov is not None:
        cov = np.asarray(cov, dtype=np.float64)
        if cov.shape != (mean.size, mean.size):
            raise ValueError(f"cov has shape {cov.shape}; expected {(mean.size, mean.size)}")
        try:
            precision = np.linalg.inv(cov)
        except np.linalg.LinAlgError as error:
            raise ValueError(f"cov is not invertible: {error}") from None
        return _langevin.gaussian(mean, None, np.ascontiguousarray(precision))
    var = np.ones(mean.size) if var is None else np.broadcast_to(np.asarray(var, dtype=np.float64), mean.shape)
    with np.errstate(divide="ignore"):
        precision = np.ascontiguousarray(1.0 / var)
    return _langevin.gaussian(mean, precision, None)


def mlp(x, y, *, hidden=(50,), activation="relu", output="categorical", classes=None,
        noise_var=1.0, prior="isotropic", prior_var=1.0, x_test=None, y_test=None):
    """A feed-forward network: `hidden` widths (empty: multinomial logistic regression),
    `activation` "relu" or "tanh", `output` "categorical" (labels 0..classes−1),
    "bernoulli" (±1 or 0/1) or "gaussian" (regression with noise_var), `prior` "isotropic"
    (N(0, prior_var)) or "fan-in" (weights N(0, prior_var/fan_in)). With x_test and y_test
    the run reports the posterior predictive on them (`result.predictive`)."""
    test = (None, None)
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    if x_test is not None:
        test = _data(x_test, y_test)
    return _langevin.mlp(*_data(x, y), [int(h) for h in hidden], activation, output,
                         None if classes is None else int(classes), float(noise_var), prior,
                         float(prior_var), *test)


def custom(wgsl, dim, x, y, *, params=(), name="custom"):
    """Your own model: WGSL for the prior's and each example's log-likelihood gradients
    against the interface in `shaders/data_target.wgsl` (see the Rust `CustomModel`), `dim`
    parameters, data (x, y), and constants the WGSL reads with param(i). Compile errors raise
    ValueError with the compiler's message and the line in your code."""
    return _langevin.custom(str(wgsl), int(dim), *_data(x, y),
                            [float(p) for p in params], str(name))
