#!/usr/bin/env bash
# One command for the ratio table: the JAX peer and `langevin bench` on the same jobs, on this
# machine, in one sitting. The bench's plan (sizes and steps for this adapter) is written
# first so that the peer times exactly those jobs.
#
#   scripts/bench-vs-jax.sh [OUT_DIR] [langevin global options, e.g. --adapter nvidia]
#
# Needs python3 with jax (and numpy); BlackJAX is timed too when importable. Writes
# OUT_DIR/{plan,peers,bench}.json (default OUT_DIR: bench-out) and prints the tables.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-out}
shift $(( $# > 0 ? 1 : 0 ))
langevin=${LANGEVIN:-target/release/langevin}
if [ ! -x "$langevin" ]; then
    cargo build --release
fi
mkdir -p "$out"
"$langevin" "$@" bench --plan "$out/plan.json"
python3 benches/peers/sgld_jax.py "$out/plan.json" "$out/peers.json" --a9a data/a9a
"$langevin" "$@" bench --peers "$out/peers.json" --json "$out/bench.json"
