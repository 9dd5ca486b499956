"""Soak: a steady mixed S3 workload for N minutes, watching every server process for growth.

Starts a strongroom server on a temp data dir (strongroom.devserver.start_server), then --workers client threads
(one boto3 client each) send PUT / GET / LIST / DELETE at a steady total of --rate ops/s. Object sizes are
log-uniform between 4 KiB and 1 MiB from a seeded RNG; each thread owns the key prefix ``w<i>/`` (at most --keys
live keys), so no two threads race on a key and every 404 is a real error. Every GET is checked byte for byte
(sha256 of the body against what was PUT) and every LIST against the thread's own key set.

Every --interval s (default 10) it samples, for each server process (the main process and every descendant: gateway
workers, vault): VmRSS and Threads from /proc/PID/status and the number of open descriptors (/proc/PID/fd), plus
the interval's op counts, errors and latency p50/p95/p99.

Writes OUT/soak-<timestamp>.{md,csv,json,png}: the markdown table (also printed), the raw per-process samples
(CSV, long format), everything as JSON (config, per-process series, intervals, verdict) and a plot (RSS per process
over time, p99 latency per interval).

Verdict: the RSS growth of each gateway process (every server process but the vault) over the last 2/3 of the run
(last sample minus the first sample in that window) must stay below --threshold-mib (5), with 0 errors.
Exit status: 0 pass, 1 errors (a wrong byte, a failed request, a wrong listing), 2 RSS growth over the threshold.

Usage: python -m bench.soak --minutes 30 [--rate 100] [--workers 4] [--out bench/results]
       python -m bench.soak --seconds 20 --rate 20 --out /tmp/soak   # a smoke run
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import platform
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procstat import process_tree

ROOT = Path(__file__).resolve().parents[1]
KIB, MIB = 1024, 1024 * 1024
BUCKET = "soak"
OPS = ("PUT", "GET", "LIST", "DELETE")


# ---------------------------------------------------------------------------------------------------- /proc reads


def proc_status(pid: int) -> dict[str, int] | None:
    """VmRSS (KiB), Threads and open descriptors of one process, or None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    out = {"rss_kib": 0, "threads": 0, "fds": fds}
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            out["rss_kib"] = int(line.split()[1])
        elif line.startswith("Threads:"):
            out["threads"] = int(line.split()[1])
    return out


def role_of(pid: int, root: int) -> str:
    """'vault' for the key vault, 'gateway' for the main process, 'worker' for a uvicorn worker, else the argv[0..2]."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    text = b" ".join(cmdline).decode(errors="replace")
    if "strongroom.vaultserver" in text:
        return "vault"
    if pid == root:
        return "gateway"
    if "multiprocessing" in text and "resource_tracker" in text:
        return "resource-tracker"
    return "worker"


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


# ---------------------------------------------------------------------------------------------------- the workload


@dataclass
class Tally:
    """Per-interval op counts, errors and latencies, shared by the client threads (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    total_counts: Counter[str] = field(default_factory=Counter)
    total_errors: Counter[str] = field(default_factory=Counter)
    all_latencies: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    late: int = 0  # ops that started more than 1 s behind schedule (the schedule was then reset)

    def record(self, op: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.counts[op] += 1
            self.total_counts[op] += 1
            self.latencies.append(seconds)
            self.all_latencies.append(seconds)
            if error is not None:
                self.errors[op] += 1
                self.total_errors[op] += 1
                if len(self.error_samples) < 20:
                    self.error_samples.append(f"{op}: {error}")

    def take(self) -> tuple[Counter[str], Counter[str], list[float]]:
        with self.lock:
            out = self.counts, self.errors, self.latencies
            self.counts, self.errors, self.latencies = Counter(), Counter(), []
        return out


def object_size(rng: random.Random) -> int:
    """Log-uniform in [4 KiB, 1 MiB]."""
    return int(round(math.exp(rng.uniform(math.log(4 * KIB), math.log(MIB)))))


class Client(threading.Thread):
    """One client thread: its own boto3 client, its own key prefix, ``rate`` ops/s on a fixed schedule."""

    def __init__(self, index: int, server: Any, rate: float, keys: int, seed: int, tally: Tally, stop: threading.Event):
        super().__init__(daemon=True, name=f"soak-client-{index}")
        self.index, self.rate, self.keys, self.tally, self.stop_event = index, rate, keys, tally, stop
        self.rng = random.Random(seed * 1000 + index)
        self.s3 = server.client(max_pool_connections=2, connect_timeout=10, read_timeout=60)
        self.prefix = f"w{index}/"
        self.live: dict[str, tuple[str, int]] = {}  # key -> (sha256 hex, size)

    def choose(self) -> str:
        if not self.live:
            return "PUT"
        r = self.rng.random()
        # steady state near keys/2 live keys: PUTs and DELETEs balance once the pool is half full
        fill = len(self.live) / self.keys
        put_share = 0.30 if fill < 0.5 else 0.20
        if r < put_share:
            return "PUT"
        if r < put_share + 0.55:
            return "GET"
        if r < put_share + 0.65:
            return "LIST"
        return "DELETE"

    def one(self, op: str) -> None:
        t0 = time.perf_counter()
        try:
            error = getattr(self, f"do_{op.lower()}")()
        except Exception as exc:  # every failure is counted, none stops the soak
            error = f"{type(exc).__name__}: {exc}"[:300]
        self.tally.record(op, time.perf_counter() - t0, error)

    def do_put(self) -> str | None:
        key = f"{self.prefix}{self.rng.randrange(self.keys):05d}"
        size = object_size(self.rng)
        body = self.rng.randbytes(size)
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        self.live[key] = (hashlib.sha256(body).hexdigest(), size)
        return None

    def do_get(self) -> str | None:
        key = self.rng.choice(sorted(self.live))
        want, size = self.live[key]
        body = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        got = hashlib.sha256(body).hexdigest()
        if len(body) != size or got != want:
            return f"{key}: {len(body)} bytes sha256 {got[:16]}, want {size} bytes {want[:16]}"
        return None

    def do_list(self) -> str | None:
        got: set[str] = set()
        kwargs: dict[str, Any] = {"Bucket": BUCKET, "Prefix": self.prefix, "MaxKeys": 1000}
        while True:
            page = self.s3.list_objects_v2(**kwargs)
            got.update(o["Key"] for o in page.get("Contents", []))
            if not page.get("IsTruncated"):
                break
            kwargs["ContinuationToken"] = page["NextContinuationToken"]
        if got != set(self.live):
            return f"listing of {self.prefix}: {len(got - set(self.live))} extra, {len(set(self.live) - got)} missing"
        return None

    def do_delete(self) -> str | None:
        key = self.rng.choice(sorted(self.live))
        self.s3.delete_object(Bucket=BUCKET, Key=key)
        del self.live[key]
        return None

    def run(self) -> None:
        period = 1.0 / self.rate
        due = time.monotonic() + self.rng.uniform(0, period)  # spread the threads' phases
        while not self.stop_event.is_set():
            now = time.monotonic()
            if due > now:
                if self.stop_event.wait(due - now):
                    break
            elif now - due > 1.0:  # more than 1 s behind: do not burst to catch up
                with self.tally.lock:
                    self.tally.late += 1
                due = now
            self.one(self.choose())
            due += period


# ---------------------------------------------------------------------------------------------------- sampling


@dataclass
class Series:
    pid: int
    role: str
    samples: list[dict[str, Any]] = field(default_factory=list)  # {t, rss_kib, fds, threads}


def sample_processes(root: int, t: float, series: dict[int, Series]) -> None:
    for pid in process_tree(root):
        st = proc_status(pid)
        if st is None:
            continue
        if pid not in series:
            series[pid] = Series(pid, role_of(pid, root))
        series[pid].samples.append({"t": round(t, 2), **st})


def summarise_interval(t: float, dt: float, counts: Counter[str], errors: Counter[str], lat: list[float]) -> dict:
    lat = sorted(lat)
    total = sum(counts.values())
    return {
        "t": round(t, 2),
        "ops": total,
        "ops_per_s": round(total / dt, 1) if dt > 0 else 0.0,
        **{op: counts.get(op, 0) for op in OPS},
        "errors": sum(errors.values()),
        **{f"p{q}_ms": (round(v * 1000, 2) if (v := percentile(lat, q)) is not None else None) for q in (50, 95, 99)},
    }


# ---------------------------------------------------------------------------------------------------- verdict


def growth(s: Series, window_start: float) -> tuple[float, float, float] | None:
    """(RSS MiB at the window's first sample, at the last sample, growth MiB), or None if too few samples."""
    inside = [x for x in s.samples if x["t"] >= window_start]
    if len(inside) < 2:
        return None
    a, b = inside[0]["rss_kib"] / KIB, inside[-1]["rss_kib"] / KIB
    return a, b, b - a


def slope_mib_per_hour(s: Series, window_start: float) -> float | None:
    pts = [(x["t"], x["rss_kib"] / KIB) for x in s.samples if x["t"] >= window_start]
    if len(pts) < 3:
        return None
    n = len(pts)
    mt, mr = sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
    var = sum((p[0] - mt) ** 2 for p in pts)
    return sum((p[0] - mt) * (p[1] - mr) for p in pts) / var * 3600 if var else None


# ---------------------------------------------------------------------------------------------------- output


def fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def label(s: Series) -> str:
    return f"{s.role} {s.pid}"


def markdown(result: dict[str, Any], series: dict[int, Series], intervals: list[dict[str, Any]]) -> str:
    procs = sorted(series.values(), key=lambda s: (s.role != "gateway", s.role, s.pid))
    cfg, v = result["config"], result["verdict"]
    lines = [
        f"# Soak {result['started']}",
        "",
        f"Command: `{result['command']}`",
        "",
        f"strongroom {result['git']}, Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"{cfg['seconds']:.0f} s at a target of {cfg['rate']} ops/s over {cfg['workers']} boto3 threads, "
        f"objects 4 KiB-1 MiB log-uniform, seed {cfg['seed']}, at most {cfg['keys']} keys per thread, "
        f"server `--workers {cfg['server_workers']}`.",
        "",
        "## Verdict",
        "",
        f"**{'PASS' if v['pass'] else 'FAIL'}**: {v['reason']}",
        "",
        f"Window: the last 2/3 of the run (t >= {v['window_start_s']:.0f} s); threshold {cfg['threshold_mib']} MiB.",
        "",
        "| process | RSS start MiB | RSS at window start MiB | RSS end MiB | growth in window MiB | slope MiB/h "
        "| fds start/end | threads start/end |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in procs:
        g = result["processes"][str(s.pid)]
        first, last = s.samples[0], s.samples[-1]
        lines.append(
            f"| {label(s)} | {first['rss_kib'] / KIB:.1f} | {fmt(g['window_start_mib'])} | {last['rss_kib'] / KIB:.1f} "
            f"| {fmt(g['growth_mib'], 2)} | {fmt(g['slope_mib_per_h'], 2)} | {first['fds']}/{last['fds']} "
            f"| {first['threads']}/{last['threads']} |"
        )
    tot = result["totals"]
    lines += [
        "",
        f"Ops: {tot['ops']:,} ({tot['ops_per_s']:.1f}/s; "
        + ", ".join(f"{op} {tot['counts'].get(op, 0):,}" for op in OPS)
        + f"); errors: {tot['errors']}; late (> 1 s behind schedule): {tot['late']}; "
        f"latency p50 {fmt(tot['p50_ms'], 2)} ms, p95 {fmt(tot['p95_ms'], 2)} ms, p99 {fmt(tot['p99_ms'], 2)} ms.",
    ]
    if tot["error_samples"]:
        lines += ["", "First errors:", "", *[f"- `{e}`" for e in tot["error_samples"]]]
    head = ["t (s)"]
    for s in procs:
        head += [f"{label(s)} RSS MiB", "fds", "thr"]
    head += ["ops", "ops/s", *OPS, "err", "p50 ms", "p95 ms", "p99 ms"]
    lines += ["", "## Samples", "", "| " + " | ".join(head) + " |", "|" + " ---: |" * len(head)]
    by_t = {iv["t"]: iv for iv in intervals}
    for t in sorted({x["t"] for s in procs for x in s.samples}):
        row = [f"{t:.0f}"]
        for s in procs:
            x = next((x for x in s.samples if x["t"] == t), None)
            row += [f"{x['rss_kib'] / KIB:.1f}", str(x["fds"]), str(x["threads"])] if x else ["-", "-", "-"]
        iv = by_t.get(t)
        if iv:
            row += [fmt(iv["ops"]), fmt(iv["ops_per_s"]), *[fmt(iv[op]) for op in OPS], fmt(iv["errors"])]
            row += [fmt(iv[f"p{q}_ms"], 2) for q in (50, 95, 99)]
        else:
            row += ["-"] * (len(head) - len(row))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], series: dict[int, Series], intervals: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    for s in sorted(series.values(), key=lambda s: (s.role, s.pid)):
        ax1.plot([x["t"] / 60 for x in s.samples], [x["rss_kib"] / KIB for x in s.samples], label=label(s))
    w = result["verdict"]["window_start_s"] / 60
    for ax in (ax1, ax2):
        ax.axvline(w, color="grey", linestyle=":", linewidth=1)
        ax.grid(True, alpha=0.3)
    ax1.set_ylabel("RSS (MiB)")
    ax1.set_title(f"strongroom soak {result['started']} ({result['git']}): {result['verdict']['reason']}", fontsize=9)
    ax1.legend(fontsize=8)
    pts = [(iv["t"] / 60, iv["p99_ms"]) for iv in intervals if iv["p99_ms"] is not None]
    ax2.plot([p[0] for p in pts], [p[1] for p in pts], color="tab:red", label="p99 latency")
    ax2.set_ylabel("p99 (ms)")
    ax2.set_xlabel("minutes (dotted: start of the verdict window)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True)
        return rev.stdout.strip() + ("+dirty src" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


# ---------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--seconds", type=float, help="run length in seconds (overrides --minutes)")
    ap.add_argument("--rate", type=float, default=100.0, help="target ops/s over all client threads")
    ap.add_argument("--workers", type=int, default=4, help="client threads")
    ap.add_argument("--server-workers", type=int, default=1, help="strongroom serve --workers")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--keys", type=int, default=200, help="key space per client thread")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threshold-mib", type=float, default=5.0, help="allowed gateway RSS growth in the window")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--keep", action="store_true", help="keep the temp data dir and the server log")
    args = ap.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    shown = argv if argv is not None else sys.argv[1:]
    command = "python -m bench.soak " + " ".join(shlex.quote(a) for a in shown)

    from strongroom import devserver

    started = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    rev = git_rev()  # at the start: the code the server runs
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"soak-{started}"
    tmp = Path(tempfile.mkdtemp(prefix="strongroom-soak-"))
    extra = ["--workers", str(args.server_workers)] if args.server_workers != 1 else []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a `kill` still stops the server (finally below)
    server = devserver.start_server(tmp / "data", extra)
    root = server.proc.pid
    tally, stop = Tally(), threading.Event()
    series: dict[int, Series] = {}
    intervals: list[dict[str, Any]] = []
    try:
        server.client().create_bucket(Bucket=BUCKET)
        clients = [
            Client(i, server, args.rate / args.workers, args.keys, args.seed, tally, stop) for i in range(args.workers)
        ]
        t0 = time.monotonic()
        sample_processes(root, 0.0, series)
        for c in clients:
            c.start()
        last = t0
        next_sample = t0 + args.interval
        end = t0 + seconds
        while True:
            time.sleep(max(0.0, min(next_sample, end) - time.monotonic()))
            now = time.monotonic()
            if server.proc.poll() is not None:
                tally.record("SERVER", 0.0, f"server exited with {server.proc.returncode}")
                break
            counts, errors, lat = tally.take()
            sample_processes(root, now - t0, series)
            iv = summarise_interval(now - t0, now - last, counts, errors, lat)
            intervals.append(iv)
            last = now
            print(
                f"t={iv['t']:7.1f}s ops/s={iv['ops_per_s']:6.1f} err={iv['errors']} p99={fmt(iv['p99_ms'], 1)}ms "
                + " ".join(f"{label(s)}={s.samples[-1]['rss_kib'] / KIB:.1f}MiB" for s in series.values()),
                flush=True,
            )
            if now >= end - 0.01:
                break
            next_sample += args.interval
        stop.set()
        for c in clients:
            c.join(timeout=120)
        elapsed = time.monotonic() - t0  # ops that finished after the last sample count in the totals only
    except BaseException:  # an interrupted soak (SIGTERM, ^C, a crash) leaves no data dir behind unless --keep
        if not args.keep:
            stop.set()
            server.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        stop.set()
        server.stop()

    window_start = seconds / 3
    processes: dict[str, Any] = {}
    failures = []
    for s in series.values():
        g = growth(s, window_start)
        processes[str(s.pid)] = {
            "role": s.role,
            "window_start_mib": round(g[0], 2) if g else None,
            "end_mib": round(g[1], 2) if g else None,
            "growth_mib": round(g[2], 2) if g else None,
            "slope_mib_per_h": (round(v, 2) if (v := slope_mib_per_hour(s, window_start)) is not None else None),
            "samples": s.samples,
        }
        if s.role != "vault" and g is not None and g[2] >= args.threshold_mib:
            failures.append(f"{label(s)} grew {g[2]:.2f} MiB")
    all_lat = sorted(tally.all_latencies)
    total_ops = sum(tally.total_counts.values())
    n_errors = sum(tally.total_errors.values())
    gateways = [p for p in processes.values() if p["role"] != "vault" and p["growth_mib"] is not None]
    worst = max((p["growth_mib"] for p in gateways), default=None)
    if n_errors:
        reason, code = f"{n_errors} errors", 1
    elif failures:
        reason, code = "; ".join(failures) + f" (threshold {args.threshold_mib} MiB)", 2
    elif worst is None:
        reason, code = "too few samples for the RSS verdict", 0
    else:
        reason, code = f"0 errors; gateway RSS grew {worst:.2f} MiB in the window (< {args.threshold_mib} MiB)", 0
    result: dict[str, Any] = {
        "started": started,
        "command": command,
        "git": rev,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "config": {
            "seconds": seconds,
            "rate": args.rate,
            "workers": args.workers,
            "server_workers": args.server_workers,
            "interval": args.interval,
            "keys": args.keys,
            "seed": args.seed,
            "threshold_mib": args.threshold_mib,
        },
        "verdict": {
            "pass": code == 0,
            "exit_code": code,
            "reason": reason,
            "window_start_s": window_start,
            "gateway_growth_mib": worst,
        },
        "totals": {
            "ops": total_ops,
            "ops_per_s": total_ops / elapsed if elapsed else 0.0,
            "counts": dict(tally.total_counts),
            "errors": n_errors,
            "errors_by_op": dict(tally.total_errors),
            "error_samples": tally.error_samples,
            "late": tally.late,
            **{
                f"p{q}_ms": (round(v * 1000, 2) if (v := percentile(all_lat, q)) is not None else None)
                for q in (50, 95, 99)
            },
        },
        "processes": processes,
        "intervals": intervals,
    }
    md = markdown(result, series, intervals)
    stem.with_suffix(".md").write_text(md)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    with stem.with_suffix(".csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_s", "pid", "role", "rss_kib", "fds", "threads"])
        for s in sorted(series.values(), key=lambda s: s.pid):
            for x in s.samples:
                w.writerow([x["t"], s.pid, s.role, x["rss_kib"], x["fds"], x["threads"]])
    plot(result, series, intervals, stem.with_suffix(".png"))
    print(md)
    print(f"wrote {stem}.md .json .csv .png")
    if n_errors:
        shutil.copy(server.log_path, stem.with_name(stem.name + "-server.log"))
        print(f"server log: {stem}-server.log")
    if args.keep:
        print(f"data dir and server log kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
