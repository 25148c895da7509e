#!/usr/bin/env bash
# The test command (README, .ci/run): the crate's tests on the default adapter, then the
# Python package built from this clone into a virtual environment, and its tests.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --release

venv="${LANGEVIN_TEST_VENV:-target/python-venv}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet ./python pytest arviz
"$venv/bin/python" -m pytest -q python/tests
