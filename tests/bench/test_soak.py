"""bench/soak.py end to end, short: ~15 s at a small rate against a real server.

Checks the harness itself (not the RSS verdict, which needs minutes): exit status 0, the markdown table's columns
and at least 2 sample rows, 0 errors, and one series per server process in the JSON and the CSV.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_short_soak(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # the RSS threshold is out of reach on purpose: 15 s is warm-up, not a soak
    cmd = [sys.executable, "-m", "bench.soak", "--seconds", "15", "--interval", "5", "--rate", "20"]
    cmd += ["--workers", "2", "--keys", "20", "--threshold-mib", "1000", "--out", str(out)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr

    (md_path,) = out.glob("soak-*.md")
    stem = md_path.with_suffix("")
    assert stem.with_suffix(".png").stat().st_size > 0
    md = md_path.read_text()
    assert "**PASS**" in md and "Command: `python -m bench.soak --seconds 15" in md
    table = md.split("## Samples", 1)[1].strip().splitlines()
    head = [c.strip() for c in table[0].strip("|").split("|")]
    assert head[0] == "t (s)"
    assert head[-10:] == ["ops", "ops/s", "PUT", "GET", "LIST", "DELETE", "err", "p50 ms", "p95 ms", "p99 ms"]
    assert any(c.startswith("gateway ") and c.endswith(" RSS MiB") for c in head)
    assert any(c.startswith("vault ") and c.endswith(" RSS MiB") for c in head)
    assert {"fds", "thr"} <= set(head)
    rows = [line for line in table[2:] if line.startswith("|")]
    assert len(rows) >= 3  # t=0 plus at least 2 intervals
    assert all(len(row.strip("|").split("|")) == len(head) for row in rows)

    result = json.loads(stem.with_suffix(".json").read_text())
    assert result["totals"]["errors"] == 0, result["totals"]["error_samples"]
    assert result["totals"]["ops"] > 100
    assert result["verdict"]["exit_code"] == 0
    roles = sorted(p["role"] for p in result["processes"].values())
    assert roles == ["gateway", "vault"]  # --workers 1: the gateway and its vault child, one series each
    for p in result["processes"].values():
        assert len(p["samples"]) >= 3 and all(s["rss_kib"] > 0 and s["fds"] > 0 for s in p["samples"])
    assert len(result["intervals"]) >= 2 and all(iv["errors"] == 0 for iv in result["intervals"])

    with stem.with_suffix(".csv").open() as f:
        by_pid: dict[str, int] = {}
        for row in csv.DictReader(f):
            by_pid[row["pid"]] = by_pid.get(row["pid"], 0) + 1
    assert set(by_pid) == set(result["processes"])
    assert all(n >= 3 for n in by_pid.values())
