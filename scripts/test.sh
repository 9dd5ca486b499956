#!/usr/bin/env bash
# Installs strongroom with its test dependencies into .venv and runs the whole suite:
# ruff and mypy on src/, then pytest (unit, conformance, and end-to-end against the real server).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
# SoftHSM2 backs the PKCS#11 auto-unseal tests; Chromium and its WebDriver open the transparency page
# (Debian packages; the tests fail, never skip, without them); Prometheus scrapes the metrics endpoints
if ! command -v softhsm2-util >/dev/null 2>&1 || ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ] \
  || ! [ -x /usr/bin/prometheus ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 chromium chromium-driver prometheus >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 chromium chromium-driver prometheus >/dev/null
  fi
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/ruff check src tests bench
.venv/bin/mypy
exec .venv/bin/pytest -n "${STRONGROOM_TEST_WORKERS:-2}" "$@"
