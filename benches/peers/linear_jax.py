#!/usr/bin/env python3
"""The JAX peer of the linear-regression job: full-batch SGLD for Bayesian linear regression,
4096 chains x 6000 steps on 500 examples of 4 features plus an intercept, the loop a JAX user
writes by hand (the gradient over every row as one matrix product per step, `vmap`-free).

    python3 benches/peers/linear_jax.py --write-data lin.csv   # the job's data (seeded)
    python3 benches/peers/linear_jax.py lin.csv                # time the JAX loop on it

and beside it, on the same machine in the same sitting:

    langevin sample --model linear --data lin.csv --label y --chains 4096 --steps 6000 \\
        --step-size 1e-4

The model is langevin's `--model linear` with its defaults: noise variance 1, prior N(0, 1) on
every coefficient, intercept first. The timing is the jitted scan of every step, compiled
beforehand, median of three; it keeps no draws, so it compares with langevin's sampling time,
not with its wall time (which also summarises 3000 kept draws of every chain).
"""
import argparse
import csv
import math
import statistics
import time

import numpy as np

ROWS, FEATURES, CHAINS, STEPS, ETA = 500, 4, 4096, 6000, 1e-4


def write_data(path):
    """500 rows of 4 standard-normal features and y = 0.7 + xᵀ(1, −2, 0.5, 0.3) + N(0, 1)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((ROWS, FEATURES))
    y = 0.7 + x @ np.array([1.0, -2.0, 0.5, 0.3]) + rng.standard_normal(ROWS)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["a", "b", "c", "d", "y"])
        for row, label in zip(x, y):
            out.writerow([f"{v:.6f}" for v in row] + [f"{label:.6f}"])


def read_data(path):
    """Features with the intercept as column 0, and labels, as float32."""
    with open(path) as f:
        rows = list(csv.reader(f))[1:]
    table = np.array(rows, np.float32)
    x = np.hstack([np.ones((len(table), 1), np.float32), table[:, :-1]])
    return x, table[:, -1]


def time_sgld(x, y):
    import jax
    import jax.numpy as jnp

    x, y = jnp.asarray(x), jnp.asarray(y)

    @jax.jit
    def run(key, theta):
        def step(theta, k):
            # −∇U = −θ (prior) + (y − θX̃ᵀ) X̃ (likelihood, noise variance 1), every chain at once.
            grad = -theta + (y - theta @ x.T) @ x
            noise = jax.random.normal(k, theta.shape)
            return theta + ETA * grad + math.sqrt(2 * ETA) * noise, None

        return jax.lax.scan(step, theta, jax.random.split(key, STEPS))[0]

    theta = jnp.zeros((CHAINS, x.shape[1]), jnp.float32)
    jax.block_until_ready(run(jax.random.PRNGKey(0), theta))
    times = []
    for repeat in range(3):
        start = time.perf_counter()
        jax.block_until_ready(run(jax.random.PRNGKey(repeat + 1), theta))
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}: {CHAINS * STEPS} chain-steps "
        f"in {seconds:.2f} s ({CHAINS * STEPS / seconds:.3e} chain-steps/s)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", help="the job's CSV (header a,b,c,d,y)")
    parser.add_argument("--write-data", metavar="FILE", help="write the job's data and exit")
    args = parser.parse_args()
    if args.write_data:
        write_data(args.write_data)
        return
    if not args.data:
        parser.error("give the data file, or --write-data FILE")
    time_sgld(*read_data(args.data))


if __name__ == "__main__":
    main()
