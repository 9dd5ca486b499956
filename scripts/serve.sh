#!/usr/bin/env bash
# Installs strongroom into .venv and starts the server on the embedded defaults
# (./strongroom-data, SQLite, local disk, TLS on port 8443). Extra arguments go to `strongroom serve`.
# It installs only when the pinned dependencies changed (a stamp of pyproject.toml in .venv), so a start
# that finds everything installed touches no network and works offline.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=".venv/.strongroom-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -x .venv/bin/strongroom ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e .
  echo "$want" > "$stamp"
fi
exec .venv/bin/strongroom serve "$@"
