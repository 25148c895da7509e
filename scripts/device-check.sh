#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, after scripts/stage-gpu.sh staged target/gpu.
# Confirms the adapter, runs the test binaries on it, then W1–W4 and the JAX peers on the same card.
# Results go to $OUT (the device tool returns them) or ./gpu-out.
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
run=target/gpu/run
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
$run target/gpu/langevin adapters | tee "$out/adapters.txt"
export LANGEVIN_ADAPTER=${LANGEVIN_ADAPTER:-nvidia}
# The CLI tests run the staged binary (they would look for it in this machine's build tree).
export LANGEVIN_BIN=$PWD/target/gpu/langevin
# Test binaries need the source tree for fixtures; they run from the repository root.
for t in target/gpu/tests/*; do
  echo "== $t"; $run "$t" --test-threads 4 2>&1 | grep -E "test result|FAILED|panicked|adapter:"
done | tee "$out/tests.txt"
$run target/gpu/langevin bench --a9a data/a9a --json "$out/bench.json" 2>&1 | tee "$out/bench.txt"
# The peers: JAX's W1 and JAX/BlackJAX's W2/W3 on the same card.
if [ -f target/gpu/jax_gaussian.py ]; then
  PYTHONUNBUFFERED=1 timeout 180 python3 target/gpu/jax_gaussian.py 2>&1 | tee "$out/jax_gaussian.txt"
fi
if [ -f target/gpu/jax_logreg.py ]; then
  PYTHONUNBUFFERED=1 timeout 180 python3 target/gpu/jax_logreg.py 1024 10240 102400 2>&1 | tee "$out/jax_logreg.txt"
fi
