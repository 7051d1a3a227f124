#!/usr/bin/env bash
# One command for the benchmarks: bash benchmarks/run.sh [bench_run.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" benchmarks/bench_run.py "$@"
