#!/usr/bin/env bash
# Installs strongroom into .venv and starts the server on the embedded defaults
# (./strongroom-data, SQLite, local disk, TLS on port 8443). Extra arguments go to `strongroom serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/strongroom serve "$@"
