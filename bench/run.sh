#!/usr/bin/env bash
# make bench / make bench-smoke: runs bench/bench.py with the project's venv
# (.cache/pyenv, made by `make pydeps`; the Keras/PyTorch packages come from
# bench/requirements.txt via `make benchdeps`). Arguments go to bench.py
# (--help lists them). bin/tlearn must be built (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${TLEARN_PYTHON:-.cache/pyenv/bin/python}
if [[ ! -x $PY ]]; then
  echo "bench: $PY not found: run make pydeps" >&2
  exit 1
fi
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
if ! "$PY" -c 'import psutil' 2>/dev/null; then
  # psutil samples the process trees' memory; the smoke run installs only it
  # (small) when the bench requirements are missing.
  "$PY" -m pip install --quiet psutil==7.2.2
fi
exec "$PY" bench/bench.py "$@"
