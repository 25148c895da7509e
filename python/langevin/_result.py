"""What `langevin.sample` returns."""
import numpy as np


class Result:
    """A run's draws and diagnostics.

    draws: numpy float32 [draws, chains, dim] (the library's buffer, not a copy).
    draw_steps: the step of each kept draw. divergent: per chain, whether it left the finite
    numbers. summary: per dimension mean, sd, q05, q50, q95, rhat (rank-normalised split
    R-hat), ess_bulk, over the finite chains at T = 1. running_statistics: the GPU's running
    means, sds and R-hat. predictive: a network's test-set metrics, if it had a test set.
    stopped_at: the step a KeyboardInterrupt stopped the run at, else None.
    step_size: the η the run used; step_size_choice: with step_size="auto", eta, lambda_max,
    limit, fraction and the SGD step that found the mode.
    """

    def __init__(self, raw, *, model_kind, sampler, step_size):
        self.draws = raw["draws"]
        self.draw_steps = np.asarray(raw["draw_steps"])
        self.divergent = np.asarray(raw["divergent"], dtype=bool)
        self.divergences = raw["divergences"]
        self.temperatures = raw["temperatures"]
        self.summary = {k: (np.asarray(v) if isinstance(v, list) else v)
                        for k, v in raw["summary"].items() if k != "text"}
        self.summary_text = raw["summary"]["text"]
        self.running_statistics = {k: np.asarray(v) for k, v in raw["running_statistics"].items()}
        self.predictive = raw.get("predictive")
        self.stopped_at = raw["stopped_at"]
        self.seconds = raw["seconds"]
        self.adapter = raw["adapter"]
        self.model_kind, self.sampler, self.step_size = model_kind, sampler, step_size
        self.step_size_choice = raw.get("step_size_choice")

    def __repr__(self):
        d, c, n = self.draws.shape
        return f"<langevin.Result {self.sampler} on {self.model_kind}: {d} draws × {c} chains × {n} dims>"

    def to_arviz(self, var_name="theta"):
        """An ArviZ InferenceData: posterior `var_name` with dims (chain, draw, dim), and
        sample_stats `diverging` (chain, draw) true from each divergent chain's first
        non-finite draw. `az.summary` and `az.plot_trace` work on it directly."""
        import arviz as az

        posterior = np.transpose(self.draws, (1, 0, 2))
        diverging = np.zeros(posterior.shape[:2], dtype=bool)
        for chain, first_step in self.divergences:
            diverging[chain] = self.draw_steps >= first_step
        return az.from_dict(
            posterior={var_name: posterior},
            sample_stats={"diverging": diverging},
            coords={f"{var_name}_dim": np.arange(posterior.shape[2])},
            dims={var_name: [f"{var_name}_dim"]},
        )
