#!/usr/bin/env bash
# Installs strongroom and the benchmark dependencies into .venv, then runs the benchmark suite.
#   bash bench/run.sh            full run (~10-15 minutes on 2 cores): bench/results/results.{md,json,png}
#   bash bench/run.sh --quick    smoke run (~2 minutes): bench/results/quick-results.*
#   bash bench/run.sh --profile  py-spy profiles of the server under load: bench/results/profile/
# Any other arguments go to `python -m bench.run` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e . -r bench/requirements.txt
export PATH="$PWD/.venv/bin:$PATH"
export BENCH_COMMAND="bash bench/run.sh${*:+ $*}"
exec .venv/bin/python -m bench.run "$@"
