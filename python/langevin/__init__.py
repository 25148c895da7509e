"""langevin: many-chain stochastic-gradient MCMC on the GPU (wgpu), from Python.

    import numpy as np, langevin
    model = langevin.models.logistic(X, y, prior_var=1.0)
    result = langevin.sample(model, chains=256, steps=2000, step_size=5e-5, batch=100)
    result.draws                  # numpy array [draws, chains, dim]
    print(result.summary_text)    # the same table as the command line
    idata = result.to_arviz()     # az.summary(idata), az.plot_trace(idata)

Models come from numpy arrays (`langevin.models`); a run goes through the Rust crate's own
builder and validation. Bad input raises ValueError with the library's message; adapter and
device problems raise `langevin.GpuError`.
"""
import os
import sys

# Mesa's software adapter prints "XDG_RUNTIME_DIR is invalid" without a private runtime
# folder; compute needs no display, so give it one before the extension opens an adapter.
if not os.path.isdir(os.environ.get("XDG_RUNTIME_DIR", "") or "/nonexistent"):
    _runtime = os.path.join(__import__("tempfile").gettempdir(), f"langevin-runtime-{os.getuid()}")
    try:
        os.makedirs(_runtime, mode=0o700, exist_ok=True)
        if os.stat(_runtime).st_uid == os.getuid() and not os.stat(_runtime).st_mode & 0o077:
            os.environ["XDG_RUNTIME_DIR"] = _runtime
    except OSError:
        pass

from . import _langevin
from . import models
from ._result import Result
from ._langevin import GpuError, __version__

__all__ = ["sample", "models", "adapters", "Result", "GpuError", "__version__"]

SAMPLERS = ("sgld", "psgld", "sghmc", "sgnht")

# The keyword options each sampler takes beyond sample()'s own; any other keyword is a typo
# that would otherwise be ignored.
SAMPLER_OPTIONS = {
    "sgld": (),
    "psgld": ("decay", "rms_epsilon"),
    "sghmc": ("friction", "noise_estimate"),
    "sgnht": ("diffusion",),
}


def adapters():
    """Every adapter wgpu finds, as dicts: name, backend, type, default."""
    return [dict(name=n, backend=b, type=t, default=d) for n, b, t, d in _langevin.adapters()]


def sample(model, *, chains=256, steps=1000, burn_in=None, thin=1, sampler="sgld",
           step_size=1e-3, batch=None, per_chain_batch=False, seed=0, temperature=1.0,
           adapter=None, progress=True, precondition=False, control_variates=False,
           **sampler_options):
    """Runs `chains` chains of `sampler` for `steps` steps and returns a `Result`.

    model: from `langevin.models`. burn_in: steps before the first kept draw (default
    steps // 2); thin: keep every thin-th step after it. sampler: "sgld", "psgld" (options
    decay, rms_epsilon), "sghmc" (friction, noise_estimate) or "sgnht" (diffusion).
    step_size: the constant η of θ ← θ − η∇Ũ(θ) + sqrt(2ηT)ξ, or "auto": step_fraction
    (default 0.2) of the rule's stability limit at the largest curvature of U at the mode
    (SGD finds the mode, power iteration the curvature; `result.step_size_choice` says what
    was chosen). batch: examples per mini-batch
    (None: every example each step), one batch for all chains unless per_chain_batch.
    seed: fixed-seed draws are bit-identical run to run. temperature: T (0 is SGD).
    adapter: a substring of the adapter's name (None: the default GPU, else the software
    one). progress: a bar in a terminal or Jupyter (tqdm when installed), False for none, or
    a callable progress(step, steps).

    precondition: SGLD in the Laplace metric, the inverse Hessian of U at the mode (SGD then
    Newton's method find it), so every direction mixes alike; there step_size="auto" takes
    step_fraction 0.025 of the limit by default (η ≈ 0.05, variances 2.5% wide).
    control_variates: the mini-batch gradient centred at the mode (Baker et al. 2019); the
    chains start there.

    The GIL is released while the GPU runs. Ctrl-C stops the run at the next submit and
    returns what was drawn so far (`result.stopped_at` says where).
    """
    if not isinstance(model, _langevin.Model):
        raise TypeError("model must come from langevin.models (e.g. langevin.models.logistic(X, y))")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler {sampler!r}: use one of {', '.join(SAMPLERS)}")
    allowed = SAMPLER_OPTIONS[sampler] + (("step_fraction",) if step_size == "auto" else ())
    unknown = sorted(set(sampler_options) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no options"
        raise TypeError(f"sample() got unexpected keyword argument(s) {', '.join(unknown)}: "
                        f"sampler {sampler!r} with step_size={step_size!r} takes {takes}")
    if isinstance(step_size, str):
        if step_size != "auto":
            raise ValueError(f"step_size {step_size!r}: a number or \"auto\"")
        step_size = None
    else:
        step_size = float(step_size)
    bar = _progress_bar(progress, steps)
    try:
        raw = _langevin.sample(model, int(chains), int(steps),
                               None if burn_in is None else int(burn_in), int(thin), sampler,
                               step_size, None if batch is None else int(batch),
                               bool(per_chain_batch), int(seed), float(temperature), adapter,
                               bar.update if bar is not None else None,
                               dict(sampler_options, precondition=bool(precondition),
                                    control_variates=bool(control_variates)))
    finally:
        if bar is not None:
            bar.close()
    chosen = raw.get("step_size_choice")
    result = Result(raw, model_kind=model.kind, sampler=sampler,
                    step_size=chosen["eta"] if chosen else step_size)
    if result.stopped_at is not None:
        print(f"langevin: stopped by KeyboardInterrupt after {result.stopped_at} of {steps} "
              f"steps; the result holds the {result.draws.shape[0]} draws per chain kept so far",
              file=sys.stderr)
    return result


class _TextBar:
    """A bar on stderr when tqdm is not installed."""

    def __init__(self, steps):
        self.steps, self.shown = steps, -1

    def update(self, step, steps):
        percent = int(100 * step / max(steps, 1))
        if percent != self.shown:
            self.shown = percent
            sys.stderr.write(f"\rlangevin: step {step}/{steps} ({percent}%)")
            sys.stderr.flush()

    def close(self):
        sys.stderr.write("\n")


class _TqdmBar:
    def __init__(self, steps):
        from tqdm.auto import tqdm

        self.bar, self.done = tqdm(total=steps, desc="langevin", unit="step"), 0

    def update(self, step, steps):
        self.bar.update(step - self.done)
        self.done = step

    def close(self):
        self.bar.close()


class _CallbackBar:
    def __init__(self, callback):
        self.update, self.close = callback, lambda: None


def _progress_bar(progress, steps):
    if progress is False or progress is None:
        return None
    if callable(progress):
        return _CallbackBar(progress)
    try:
        return _TqdmBar(steps)
    except ImportError:
        return _TextBar(steps) if sys.stderr.isatty() else None
