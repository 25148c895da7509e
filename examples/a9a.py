"""Bayesian logistic regression on a9a from Python: sample, summarise with ArviZ, plot traces.

    pip install ./python arviz matplotlib
    python examples/a9a.py            # writes a9a_trace.png
"""
import os

import numpy as np

import langevin

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def read_libsvm(path, features=123):
    rows, labels = [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            labels.append(float(parts[0]))
            rows.append([int(p.split(":")[0]) - 1 for p in parts[1:]])
    x = np.zeros((len(rows), features), np.float32)
    for i, r in enumerate(rows):
        x[i, r] = 1.0
    return x, np.array(labels, np.float32)


def main():
    import arviz as az

    x, y = read_libsvm(os.path.join(ROOT, "data", "a9a"))
    xt, yt = read_libsvm(os.path.join(ROOT, "data", "a9a.t"))
    model = langevin.models.logistic(x, y, prior_var=1.0)
    # The README's main job: SGLD in the Laplace metric with control variates, so every
    # direction of this ill-conditioned posterior mixes alike (the chains start at the mode).
    result = langevin.sample(model, chains=128, steps=2500, burn_in=500, thin=10, step_size=0.05,
                             batch=500, precondition=True, control_variates=True, seed=1)
    print(result, f"in {result.seconds:.1f} s on {result.adapter}")
    theta = result.draws.reshape(-1, model.dim)
    probability = 1 / (1 + np.exp(-(theta[:, :1] + theta[:, 1:] @ xt.T)))
    accuracy = np.mean((probability.mean(axis=0) > 0.5) == (yt > 0))
    print(f"test accuracy of the posterior predictive: {accuracy:.4f}")
    idata = result.to_arviz()
    print(az.summary(idata, var_names=["theta"]).head(10))
    az.plot_trace(idata, var_names=["theta"], coords={"theta_dim": [0, 1, 2]})
    import matplotlib.pyplot as plt

    plt.savefig("a9a_trace.png", dpi=80)
    print("wrote a9a_trace.png")


if __name__ == "__main__":
    main()
