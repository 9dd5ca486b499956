"""Where the server spends its time: py-spy samples a strongroom server (--workers 1) under the bench load.

Scenarios (each py-spy view on its own fresh server):

- ``put-4k``: 4 KiB PUTs of new keys over 16 connections; ``get-4k``: 4 KiB GETs of those keys;
  ``overwrite-4k``: 4 KiB PUTs over those same keys (each leaves the old blob as garbage);
- ``put-256m``: 256 MiB single-stream presigned PUTs, one after another; ``get-256m``: the same object, GET.

Each scenario runs twice, once per py-spy view (all busy threads; GIL holder only), on fresh keys each time.

py-spy (``record --nonblocking --format raw``, 200 Hz, threads that are not idle) writes collapsed stacks to
``<out>/profile/<scenario>-{busy,gil}.folded`` (``busy``: every thread that is not idle; ``gil``: with
``--gil``, only the thread holding the GIL); this module folds them into ``<out>/profile/PROFILE.md``: per scenario the
functions with the most samples on top of the stack ("self", C calls such as AEAD encryption or ``ssl`` reads count
to the Python function that made them) and in the stack at all ("total"), and self time by source file.

Usage: python -m bench.run --profile [--quick]   (or bash bench/run.sh --profile)
       python -m bench.run --profile --scenarios get-4k --profile-server strongroom-w1-noaudit --out /tmp/p
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import loadgen, peers
from bench.loadgen import (
    MIB,
    Conn,
    Presigner,
    expect,
    get_op,
    get_verified,
    pseudo_random,
    put_large,
    put_op,
    run_phase,
)

PYSPY = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy") or "py-spy"
RATE = 200
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
# leaf frames of a thread that is waiting, not working (py-spy's own idle detection misses some of them)
IDLE_LEAVES = {
    ("wait", "threading.py"),
    ("get", "queue.py"),
    ("select", "selectors.py"),
    ("_worker", "concurrent/futures/thread.py"),
}


def short_file(path: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def boring(key: str) -> bool:
    """Frames every stack has (thread bootstrap, the CLI and uvicorn entry points): no information in a total %."""
    return key.startswith(
        ("Thread._bootstrap", "WorkerThread.run", "_run_module_as_main", "_run_code", "<module> (strongroom/__main")
    ) or any(
        part in key
        for part in ("(typer/", "(click/", "strongroom/cli.py", "(strongroom/server.py", "uvicorn/server.py")
    )


def fold(folded: Path) -> dict:
    """Self and total samples per function, self samples per file, from py-spy's raw (collapsed) output."""
    self_fn: collections.Counter[str] = collections.Counter()
    total_fn: collections.Counter[str] = collections.Counter()
    self_file: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in folded.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = []
        for raw in stack.split(";"):
            m = FRAME.match(raw.strip())
            if m is None:
                continue  # "process 123: ..." / "thread ..." roots
            frames.append((m.group("func"), short_file(m.group("file"))))
        if not frames:
            continue
        func, file = frames[-1]
        if (func.rsplit(".", 1)[-1], file) in IDLE_LEAVES:
            idle += count
            continue
        total += count
        self_fn[f"{func} ({file})"] += count
        self_file[file] += count
        for key in {f"{f} ({p})" for f, p in frames}:
            total_fn[key] += count
    return {"samples": total, "idle": idle, "self": self_fn, "total": total_fn, "self_file": self_file}


class Spy:
    """py-spy record on a pid for the duration of a ``with`` block."""

    def __init__(self, pid: int, out: Path, gil: bool) -> None:
        self.pid, self.out, self.gil = pid, out, gil

    def __enter__(self) -> Spy:
        self.proc = subprocess.Popen(
            [PYSPY, "record", "--pid", str(self.pid), "--subprocesses", "--nonblocking", "--rate", str(RATE)]
            + (["--gil"] if self.gil else [])
            + ["--format", "raw", "--output", str(self.out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)  # attach
        if self.proc.poll() is not None:
            raise RuntimeError(f"py-spy exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


SCENARIOS = ("put-4k", "get-4k", "put-256m", "get-256m", "overwrite-4k")
SERVERS = ("strongroom-w1", "strongroom-w1-noaudit")  # the audit log on (the default) or off


async def scenarios(
    workdir: Path, outdir: Path, quick: bool, only: tuple[str, ...] = SCENARIOS, server: str = SERVERS[0]
) -> tuple[list[dict], str]:
    """Each view on a fresh server, so one view's garbage (overwrites) cannot slow the next view's PUTs."""
    duration = 4.0 if quick else 10.0
    n_keys = 1500 if quick else 3000
    large = 64 * MIB if quick else 256 * MIB
    rounds = 2 if quick else 5
    small = pseudo_random(n_keys * 4096, seed=3)
    bodies = [small[k * 4096 : (k + 1) * 4096] for k in range(n_keys)]
    big = pseudo_random(large, seed=4)
    out = []
    label = ""
    for view in ("busy", "gil"):
        srv = peers.start_strongroom(workdir / view, 1, audit=server != "strongroom-w1-noaudit")
        label = srv.label
        try:
            out += await one_view(srv, view, outdir, duration, n_keys, large, rounds, bodies, big, only)
        finally:
            srv.stop()
    return out, label


async def one_view(
    srv: peers.Running,
    view: str,
    outdir: Path,
    duration: float,
    n_keys: int,
    large: int,
    rounds: int,
    bodies: list[bytes],
    big: bytes,
    only: tuple[str, ...] = SCENARIOS,
) -> list[dict]:
    ep, pid = srv.ep, srv.pid
    signer = Presigner(ep)
    conn = Conn(ep, ep.ssl_context())
    s = signer.one("PUT", "/prof")
    expect(await conn.request("PUT", s.target, s.headers, b""))
    conn.close()
    out: list[dict] = []
    put_urls = signer.many([("PUT", f"/prof/{view}/{k:06d}", None, None) for k in range(n_keys)])
    get_urls = signer.many([("GET", f"/prof/{view}/{k:06d}", None, None) for k in range(n_keys)])
    lp, lg = signer.one("PUT", f"/prof/{view}/large"), signer.one("GET", f"/prof/{view}/large")
    written = n_keys

    async def large_put(c: Conn, i: int, lp=lp) -> int:
        await put_large(c, lp, big)
        return large

    async def large_get(c: Conn, i: int, lg=lg) -> int:
        return await get_verified(c, lg, big)

    def overwrite() -> loadgen.Op:
        return put_op(put_urls[:written], bodies[:written])

    plan = [
        ("put-4k", "4 KiB PUT of new keys, 16 connections", 16, lambda: put_op(put_urls, bodies), duration),
        ("get-4k", "4 KiB GET, 16 connections", 16, lambda: get_op(get_urls, bodies, written), duration),
        ("put-256m", f"{large // MIB} MiB PUT, 1 stream, x{rounds}", 1, lambda: large_put, rounds),
        ("get-256m", f"{large // MIB} MiB GET, 1 stream, x{rounds}", 1, lambda: large_get, rounds),
        # last: its superseded blobs stay queued as garbage for GARBAGE_GRACE_SECONDS
        ("overwrite-4k", "4 KiB PUT over existing keys, 16 connections", 16, overwrite, duration),
    ]
    for name, label, conc, make_op, amount in plan:
        if name not in only and not (name == "put-4k" and "get-4k" in only):
            continue  # the GETs read what put-4k wrote: it runs (unprofiled) when only get-4k is asked for
        if name not in only:
            r = await run_phase(name, ep, conc, make_op(), server_pid=pid, duration=amount, count=n_keys)
            written = max(1, min(r.ops, n_keys))
            continue
        folded = outdir / f"{name}-{view}.folded"
        limit = (
            {"count": amount} if "256m" in name else {"duration": amount, "count": n_keys if "put" in name else None}
        )
        with Spy(pid, folded, gil=view == "gil"):
            r = await run_phase(name, ep, conc, make_op(), server_pid=pid, **limit)  # type: ignore[arg-type]
        if name == "put-4k":
            written = max(1, min(r.ops, n_keys))
        rate = f"{r.ops_per_s:,.0f} ops/s" if "4k" in name else f"{r.mb_per_s:,.0f} MB/s"
        print(f"  {name} [{view}]: {rate} under py-spy, server CPU {r.server_cpu:.2f} cores, {r.void_reason()}")
        out.append({"name": name, "view": view, "label": label, "rate": rate, "result": r, "fold": fold(folded)})
    return out


VIEWS = {
    "busy": "all busy threads (wall-clock view: includes threads blocked in sqlite, fsync, file I/O)",
    "gil": "GIL holder only (`py-spy --gil`: CPU spent in Python, and in C code that keeps the GIL)",
}


def render(runs: list[dict], command: str, srv_label: str, top: int = 20) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Server profile — {now}",
        "",
        f"Command: `{command}` · strongroom code: {peers.SOURCE['desc']} · server: {srv_label}"
        f" · py-spy {RATE} Hz, non-idle threads of the server process"
        " (event loop and anyio worker threads). Percentages are of the busy samples in the scenario (samples"
        " whose leaf is a thread waiting in `threading` `wait`, `queue.get` or `selectors.select` are left out)."
        " *Self* = the"
        " function was on top of the stack (time in C code it called, such as AEAD, ssl or sqlite3, counts here);"
        " *total* = anywhere in the stack. Raw collapsed stacks: `<scenario>-<view>.folded` beside this file"
        " (e.g. `flamegraph.pl` or speedscope can draw them).",
        "",
    ]
    for run in runs:
        f = run["fold"]
        n = f["samples"] or 1
        r = run["result"]
        what = VIEWS[run["view"]]
        lines += [
            f"## {run['name']}: {run['label']} — {what}",
            "",
            f"{run['rate']} while profiled · server CPU {r.server_cpu:.2f} cores · {f['samples']:,} busy samples"
            f" ({f['idle']:,} more of threads waiting on a lock, queue or selector left out)"
            + (f" · VOID: {r.void_reason()}" if r.void_reason() else ""),
            "",
            "| self % | function (file) |",
            "| ---: | --- |",
        ]
        lines += [f"| {c / n:.1%} | `{k}` |" for k, c in f["self"].most_common(top)]
        lines += ["", "| total % | function (file) |", "| ---: | --- |"]
        lines += [f"| {c / n:.1%} | `{k}` |" for k, c in f["total"].most_common(top) if not boring(k)]
        lines += ["", "| self % | file |", "| ---: | --- |"]
        lines += [f"| {c / n:.1%} | `{k}` |" for k, c in f["self_file"].most_common(12)]
        lines.append("")
    return "\n".join(lines)


def main_profile(
    mode: str, out: Path, workdir: str | None, only: tuple[str, ...] = SCENARIOS, server: str = SERVERS[0]
) -> None:
    quick = mode == "quick"
    outdir = out / "profile"
    outdir.mkdir(parents=True, exist_ok=True)
    wd = Path(tempfile.mkdtemp(prefix="strongroom-profile-", dir=workdir))
    try:
        import uvloop

        runs, label = uvloop.run(scenarios(wd, outdir, quick, only, server))
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    command = os.environ.get("BENCH_COMMAND") or "python -m bench.run " + " ".join(sys.argv[1:])
    md = render(runs, command, label)
    (outdir / "PROFILE.md").write_text(md)
    print(md)


if __name__ == "__main__":
    raise SystemExit("run it through the suite: python -m bench.run --profile [--quick]")
