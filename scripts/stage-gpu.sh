#!/usr/bin/env bash
# Builds the release binary and test binaries here and stages them, with the Vulkan loader and
# libGLdispatch that the GPU machine's image lacks, into target/gpu/ (see ../shared/gpu/stage.sh).
# The JAX peer (benches/peers/sgld_jax.py) travels with the working tree.
# Then, on the GPU machine:  scripts/device-check.sh   (carry: target/gpu)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins
tests=$(cargo test --release --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        print(m["executable"])')
../shared/gpu/stage.sh target/release/langevin $tests
mkdir -p target/gpu/tests
for t in $tests; do mv "target/gpu/$(basename "$t")" target/gpu/tests/; done
# The device call carries at most 64 MiB: drop debug info.
strip target/gpu/langevin target/gpu/tests/*
du -sh target/gpu | sed "s/^/stripped: /"
# Fashion-MNIST (31 MB of gzip) for the network tests and the BMA-vs-SGD run, when installed
# here and the carry stays under 64 MiB; without it those tests fail there, saying what to do.
fashion=/usr/share/datasets/fashion-mnist
if [ -d "$fashion" ]; then
  mkdir -p target/gpu/fashion-mnist
  cp "$fashion"/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz target/gpu/fashion-mnist/
  if [ "$(du -sm target/gpu | cut -f1)" -gt 63 ]; then
    echo "Fashion-MNIST would take the carry past 64 MiB; left out" >&2
    rm -rf target/gpu/fashion-mnist
  fi
fi
du -sh target/gpu | sed "s/^/with data: /"
