#!/usr/bin/env python3
"""The JAX peer of `langevin bench`: the same jobs at the same sizes, written as the JSON that
`langevin bench --peers FILE` reads.

    langevin bench --plan > plan.json
    python3 benches/peers/sgld_jax.py plan.json peers.json [--a9a data/a9a]

W1: a fused SGLD update on a standard Gaussian (jit + fori_loop), updates/s per size.
W2: SGLD for Bayesian logistic regression with a9a's shape (N = 32561, 123 binary features plus
an intercept, prior N(0, 1), batch 100 shared by all chains), the loop a JAX user writes by hand
(`jax-hand`), and BlackJAX's `sgld` under `vmap` when BlackJAX is importable (`blackjax`).
W3: the same with every chain drawing its own batch.
W6: SGLD for the 784-100-10 ReLU network (categorical output, prior N(0, 1)) on data of
Fashion-MNIST's shape (60000 images, pixels k/255), batch 100 shared by all chains: the
log-posterior's gradient by `jax.grad`, `vmap` over chains (`jax-hand`).

Features are stored dense, as a JAX user would; the data are a9a itself when --a9a is given,
else synthetic at a9a's density (timing depends on the shape only). Every timing runs the
plan's steps (at least 1000 in a measurement) inside one jitted scan, compiled beforehand;
the median of the plan's repeats is reported.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np

import jax
import jax.numpy as jnp

N, D, BATCH, ETA = 32561, 124, 100, 5e-5


def load(a9a):
    """Dense features with the intercept as column 0, labels in {0, 1}."""
    if a9a is None:
        rng = np.random.default_rng(0)
        x = (rng.random((N, D)) < 0.11).astype(np.float32)
        x[:, 0] = 1.0
        y = (rng.random(N) < 0.24).astype(np.float32)
        return jnp.asarray(x), jnp.asarray(y)
    rows, labels = [], []
    with open(a9a) as f:
        for line in f:
            parts = line.split()
            labels.append(1.0 if float(parts[0]) > 0 else 0.0)
            rows.append([int(p.split(":")[0]) for p in parts[1:]])
    x = np.zeros((len(rows), D), np.float32)
    x[:, 0] = 1.0
    for i, r in enumerate(rows):
        x[i, r] = 1.0
    return jnp.asarray(x), jnp.asarray(np.array(labels, np.float32))


def timed(run, repeats):
    """Median seconds of `run()` after one call that compiles it."""
    jax.block_until_ready(run())
    times = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        jax.block_until_ready(run())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def hand_sgld(x, y, chains, steps, shared):
    rows = x.shape[0]

    @jax.jit
    def run(key, theta):
        def step(theta, k):
            k_batch, k_noise = jax.random.split(k)
            if shared:
                idx = jax.random.randint(k_batch, (BATCH,), 0, rows)
                xb, yb = x[idx], y[idx]
                z = theta @ xb.T
                grad = -theta + (rows / BATCH) * (yb - jax.nn.sigmoid(z)) @ xb
            else:
                idx = jax.random.randint(k_batch, (chains, BATCH), 0, rows)
                xb, yb = x[idx], y[idx]
                z = jnp.einsum("cnd,cd->cn", xb, theta)
                grad = -theta + (rows / BATCH) * jnp.einsum("cn,cnd->cd", yb - jax.nn.sigmoid(z), xb)
            noise = jax.random.normal(k_noise, theta.shape)
            return theta + ETA * grad + math.sqrt(2 * ETA) * noise, None

        return jax.lax.scan(step, theta, jax.random.split(key, steps))[0]

    theta = jnp.zeros((chains, D), jnp.float32)
    return lambda: run(jax.random.PRNGKey(0), theta)


def blackjax_sgld(x, y, chains, steps, shared):
    import blackjax

    rows = x.shape[0]

    def loglik(theta, batch):
        xb, yb = batch
        z = xb @ theta
        return yb * z - jnp.logaddexp(0.0, z)

    def logprior(theta):
        return -0.5 * jnp.sum(theta**2)

    sgld = blackjax.sgld(blackjax.sgmcmc.gradients.grad_estimator(logprior, loglik, rows))

    @jax.jit
    def run(key, theta):
        def step(theta, k):
            k_batch, k_noise = jax.random.split(k)
            keys = jax.random.split(k_noise, chains)
            if shared:
                idx = jax.random.randint(k_batch, (BATCH,), 0, rows)
                batch = (x[idx], y[idx])
                theta = jax.vmap(lambda kk, p: sgld.step(kk, p, batch, ETA))(keys, theta)
            else:
                idx = jax.random.randint(k_batch, (chains, BATCH), 0, rows)
                theta = jax.vmap(lambda kk, p, i: sgld.step(kk, p, (x[i], y[i]), ETA))(keys, theta, idx)
            return theta, None

        return jax.lax.scan(step, theta, jax.random.split(key, steps))[0]

    theta = jnp.zeros((chains, D), jnp.float32)
    return lambda: run(jax.random.PRNGKey(0), theta)


def fashion_shape():
    """Synthetic images of Fashion-MNIST's shape (timing depends on the shape only)."""
    rng = np.random.default_rng(1)
    x = (rng.integers(0, 256, (60000, 784)) / 255.0).astype(np.float32)
    y = rng.integers(0, 10, 60000)
    return jnp.asarray(x), jnp.asarray(y)


def network_sgld(x, y, chains, steps):
    rows = x.shape[0]
    shapes = [(784, 100), (100,), (100, 10), (10,)]

    def log_posterior(params, xb, yb):
        w1, b1, w2, b2 = params
        logits = jax.nn.relu(xb @ w1 + b1) @ w2 + b2
        loglik = jnp.sum(jax.nn.log_softmax(logits)[jnp.arange(BATCH), yb])
        prior = sum(jnp.sum(p**2) for p in params)
        return (rows / BATCH) * loglik - 0.5 * prior

    grad = jax.vmap(jax.grad(log_posterior), in_axes=(0, None, None))

    @jax.jit
    def run(key, params):
        def step(params, k):
            k_batch, k_noise = jax.random.split(k)
            idx = jax.random.randint(k_batch, (BATCH,), 0, rows)
            g = grad(params, x[idx], y[idx])
            keys = jax.random.split(k_noise, len(params))
            return [p + ETA_NET * gp + math.sqrt(2 * ETA_NET) * jax.random.normal(kk, p.shape)
                    for p, gp, kk in zip(params, g, keys)], None

        return jax.lax.scan(step, params, jax.random.split(key, steps))[0]

    params = [0.01 * jnp.ones((chains,) + s, jnp.float32) for s in shapes]
    return lambda: run(jax.random.PRNGKey(0), params)


ETA_NET = 1e-6


def gaussian_sgld(params, steps):
    @jax.jit
    def run(key, theta):
        def step(i, theta):
            noise = jax.random.normal(jax.random.fold_in(key, i), theta.shape)
            return theta - 1e-3 * theta + math.sqrt(2e-3) * noise

        return jax.lax.fori_loop(0, steps, step, theta)

    theta = jnp.zeros((params,), jnp.float32)
    return lambda: run(jax.random.PRNGKey(0), theta)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", help="the JSON `langevin bench --plan` prints")
    parser.add_argument("out", help="where to write the peers JSON")
    parser.add_argument("--a9a", help="the a9a training file (else synthetic data of its shape)")
    args = parser.parse_args()
    with open(args.plan) as f:
        plan = json.load(f)
    x, y = load(args.a9a)
    try:
        import blackjax  # noqa: F401

        implementations = [("jax-hand", hand_sgld), ("blackjax", blackjax_sgld)]
    except ImportError:
        implementations = [("jax-hand", hand_sgld)]
    rows = []

    def record(row):
        rows.append(row)
        size = row.get("chains", row.get("params"))
        print(f"{row['workload']} {row['implementation']:>9} {size:>10}: {row['rate']:.3e}/s", flush=True)

    w1 = plan["w1"]
    for params in w1["sizes"]:
        seconds = timed(gaussian_sgld(params, w1["steps"]), w1["repeats"])
        record({"workload": "W1", "implementation": "jax-fused", "params": params,
                "steps": w1["steps"], "rate": params * w1["steps"] / seconds})
    regression = plan["regression"]
    steps, repeats = regression["steps"], regression["repeats"]
    jobs = [("W2", c, True) for c in regression["shared_chains"]]
    jobs += [("W3", c, False) for c in regression["per_chain_chains"]]
    for workload, chains, shared in jobs:
        for name, build in implementations:
            try:
                seconds = timed(build(x, y, chains, steps, shared), repeats)
            except Exception as error:  # out of memory at the largest sizes: say so, go on
                print(f"{workload} {name} {chains}: failed: {type(error).__name__}: {str(error)[:200]}",
                      file=sys.stderr, flush=True)
                continue
            record({"workload": workload, "implementation": name, "chains": chains,
                    "steps": steps, "rate": chains * steps / seconds})
    network_chains = regression.get("network_chains", [])
    if network_chains:
        fx, fy = fashion_shape()
        flops = 6 * BATCH * (784 * 100 + 100 * 10)
        for chains in network_chains:
            try:
                seconds = timed(network_sgld(fx, fy, chains, steps), repeats)
            except Exception as error:
                print(f"W6 jax-hand {chains}: failed: {type(error).__name__}: {str(error)[:200]}",
                      file=sys.stderr, flush=True)
                continue
            record({"workload": "W6", "implementation": "jax-hand", "chains": chains,
                    "steps": steps, "rate": chains * steps / seconds,
                    "flop_per_s": chains * steps * flops / seconds})
    device = jax.devices()[0]
    report = {"peer": f"jax {jax.__version__}",
              "device": f"{device.platform}: {getattr(device, 'device_kind', device)}",
              "rows": rows}
    with open(args.out + ".partial", "w") as f:
        json.dump(report, f, indent=1)
    os.replace(args.out + ".partial", args.out)


if __name__ == "__main__":
    main()
