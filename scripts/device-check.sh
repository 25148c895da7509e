#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, after scripts/stage-gpu.sh staged target/gpu.
# Confirms the adapter, runs the test binaries on it, then W1–W6 with the JAX peer's figures for
# the same jobs on the same card, then the Fashion-MNIST comparison.
# Results go to $OUT (the device tool returns them) or ./gpu-out.
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
run=target/gpu/run
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
$run target/gpu/langevin adapters | tee "$out/adapters.txt"
export LANGEVIN_ADAPTER=${LANGEVIN_ADAPTER:-nvidia}
# Fashion-MNIST, when stage-gpu.sh could carry it.
[ -d target/gpu/fashion-mnist ] && export LANGEVIN_FASHION_MNIST=$PWD/target/gpu/fashion-mnist
# The CLI tests run the staged binary (they would look for it in this machine's build tree).
export LANGEVIN_BIN=$PWD/target/gpu/langevin
# Test binaries need the source tree for fixtures; they run from the repository root.
for t in target/gpu/tests/*; do
  echo "== $t"; $run "$t" --test-threads 4 2>&1 | grep -E "test result|FAILED|panicked|adapter:"
done | tee "$out/tests.txt"
# The bench's plan first, then the JAX peer on exactly those jobs, then the bench with the
# peer's figures joined as ratios: one machine, one sitting (scripts/bench-vs-jax.sh, staged).
$run target/gpu/langevin bench --plan "$out/plan.json" 2>&1 | tee "$out/plan.txt"
PYTHONUNBUFFERED=1 timeout 300 python3 benches/peers/sgld_jax.py "$out/plan.json" "$out/peers.json" \
  --a9a data/a9a 2>&1 | tee "$out/peers.txt"
peers=()
[ -f "$out/peers.json" ] && peers=(--peers "$out/peers.json")
$run target/gpu/langevin bench --a9a data/a9a "${peers[@]}" --json "$out/bench.json" 2>&1 \
  | tee "$out/bench.txt"
# The README's main job as written (128 chains) and at GPU scale (16384 chains, every 20th
# step kept so the draws fit the host), with wall times.
for shape in "128 10" "16384 20"; do
  set -- $shape
  start=$SECONDS
  $run target/gpu/langevin sample --model logistic --data data/a9a --test data/a9a.t \
    --precondition --cv --init-scale 1 --chains "$1" --steps 2500 --burn-in 500 --thin "$2" \
    --step-size auto --batch 500 --json "$out/main-$1.json" --quiet 2>&1 | grep -vE "^ +[0-9]" \
    | tee "$out/main-$1.txt"
  echo "main job, $1 chains: $((SECONDS - start)) s wall" | tee -a "$out/main-$1.txt"
done
# Fashion-MNIST: the SGLD model average against the SGD point estimate (the README's
# commands), with the GPU's times.
if [ -n "${LANGEVIN_FASHION_MNIST:-}" ]; then
  for job in "sgd --chains 1 --burn-in 8999 --step-size 3e-6 --temperature 0" \
    "sgld --chains 4 --burn-in 0 --thin 30 --schedule cyclical --step-size 6e-6 --cycles 1 --explore 0.8"; do
    set -- $job
    name=$1; shift
    start=$SECONDS
    $run target/gpu/langevin sample --model mlp \
      --data fashion-mnist --hidden 100 --steps 9000 --batch 100 --seed 1 "$@" \
      --predictive "$out/$name.npy" --json "$out/$name.json" --quiet 2>&1 | grep -vE "^ +[0-9]" \
      | tee "$out/fashion-$name.txt"
    echo "$name: $((SECONDS - start)) s wall" | tee -a "$out/fashion-$name.txt"
  done
fi
