"""strongroom benchmarks: run with `bash bench/run.sh` (see bench/run.py)."""
