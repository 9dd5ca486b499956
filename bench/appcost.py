"""What one small request costs the S3 app itself, measured so that two commits can be compared on a noisy machine.

The full benchmark (bench/run.py) measures throughput over TLS, which on these shared 2-core machines drifts by
±20% from one minute to the next. This tool takes the network, TLS and uvicorn out: it starts a real strongroom
(`--workers 1`, defaults) to own the database, the blobs and the vault, writes a few hundred 4 KiB objects through
it, then builds a second copy of the S3 ASGI app in this process (same data directory, same vault, the gateway's
own environment) and sends it presigned GETs or PUTs as ASGI calls, one at a time, checking every status (and
every GET body).

It reports CPU microseconds per request (user and system, from getrusage), and with ``--callgrind`` the number of
instructions per request counted by valgrind's callgrind over exactly the timed loop. Instruction counts do not
depend on what else the machine is doing: the same code gives the same count within about 1%, so a change of a
few percent is visible (docs/BENCHMARKS.md, "Measuring a change").

Usage (from the repository root, after ``bash bench/run.sh --quick`` or ``pip install -e . -r bench/requirements.txt``):

    .venv/bin/python -m bench.appcost get                 # CPU µs per 4 KiB GET, 3,000 requests
    .venv/bin/python -m bench.appcost put --callgrind     # instructions per 4 KiB PUT, 300 requests
    PYTHONPATH=/path/to/other/checkout/src .venv/bin/python -m bench.appcost get --callgrind   # another commit
    .venv/bin/python -m bench.appcost get --callgrind --audit-off   # the same with the audit log off
    .venv/bin/python -m bench.appcost get -c 16                     # 16 requests in flight (group commit)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
READY, DONE = "APPCOST-READY", "APPCOST-DONE"
KIB = 1024
POOL = 200  # objects written first; GETs cycle over them


def gateway_environment(pid: int) -> dict[str, str]:
    """The S3 gateway's STRONGROOM_* settings and internal vault token (Linux /proc)."""
    out: dict[str, str] = {}
    for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep and name.startswith(b"STRONGROOM"):
            out[name.decode()] = value.decode()
    return out


async def measure(mode: str, n: int, workdir: Path, audit: bool = True, concurrency: int = 1) -> dict[str, float]:
    from bench import peers
    from bench.loadgen import Conn, Presigner, expect, put_op, run_phase

    srv = peers.start_strongroom(workdir, 1, audit=audit)
    ep = srv.ep
    try:
        signer = Presigner(ep)
        conn = Conn(ep, ep.ssl_context())
        made = signer.one("PUT", "/appcost")
        expect(await conn.request("PUT", made.target, made.headers, b""), 200)
        conn.close()
        bodies = [os.urandom(4 * KIB) for _ in range(POOL)]
        urls = signer.many([("PUT", f"/appcost/pool{k:05d}", None, None) for k in range(POOL)])
        filled = await run_phase("fill", ep, 4, put_op(urls, bodies), count=POOL)
        if filled.errors or filled.ops != POOL:
            raise SystemExit(f"could not write the object pool: {filled.samples[:3]}")
        os.environ.update(gateway_environment(srv.pid))
        from strongroom.http.app import create_app

        app = create_app()
        host = f"{ep.host}:{ep.port}".encode()
        method = "GET" if mode == "get" else "PUT"
        body = os.urandom(4 * KIB)

        def signed(count: int, prefix: str) -> list[Any]:
            if mode == "get":
                return signer.many([("GET", f"/appcost/pool{k % POOL:05d}", None, None) for k in range(count)])
            return signer.many([("PUT", f"/appcost/{prefix}{k:06d}", None, None) for k in range(count)])

        async def one(s: Any, k: int) -> None:
            path, _, query = s.target.partition("?")
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": method,
                "scheme": "https",
                "path": urllib.parse.unquote(path),
                "raw_path": path.encode(),
                "query_string": query.encode(),
                "root_path": "",
                "headers": [(b"host", host)] + ([(b"content-length", b"4096")] if method == "PUT" else []),
                "server": ("127.0.0.1", ep.port),
                "client": ("127.0.0.1", 50000),
            }
            delivered = False

            async def receive() -> dict[str, Any]:
                nonlocal delivered
                if not delivered:
                    delivered = True
                    return {"type": "http.request", "body": body if method == "PUT" else b"", "more_body": False}
                await asyncio.Event().wait()  # never: one request per call
                raise AssertionError

            sent: list[dict[str, Any]] = []

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            await app(scope, receive, send)
            if sent[0]["status"] != 200:
                raise SystemExit(f"{method} answered {sent[0]['status']}: {sent[1:2]}")
            if method == "GET":
                got = b"".join(m.get("body", b"") for m in sent[1:])
                if got != bodies[k % POOL]:
                    raise SystemExit(f"GET pool{k % POOL:05d}: wrong bytes")

        warm = signed(50, "warm")
        for k, s in enumerate(warm):
            await one(s, k)
        timed = signed(n, "timed")
        controlled = "APPCOST_PAUSE" in os.environ  # under --callgrind: the parent toggles instrumentation
        if controlled:
            print(READY, os.getpid(), flush=True)
        await asyncio.sleep(float(os.environ.get("APPCOST_PAUSE", "0")))
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        if concurrency == 1:
            for k, s in enumerate(timed):
                await one(s, k)
        else:  # that many requests in flight at once (as many connections would keep)
            todo = iter(enumerate(timed))

            async def lane() -> None:
                for k, s in todo:
                    await one(s, k)

            await asyncio.gather(*(lane() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        if controlled:
            print(DONE, flush=True)
        await asyncio.sleep(float(os.environ.get("APPCOST_PAUSE", "0")))
        return {
            "ops_per_s": n / wall,
            "user_us": (r1.ru_utime - r0.ru_utime) / n * 1e6,
            "sys_us": (r1.ru_stime - r0.ru_stime) / n * 1e6,
        }
    finally:
        srv.stop()


def run_inline(mode: str, n: int, audit: bool = True, concurrency: int = 1) -> None:
    import uvloop

    workdir = Path(tempfile.mkdtemp(prefix="appcost-"))
    try:
        got = uvloop.run(measure(mode, n, workdir, audit, concurrency))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    how = "one at a time" if concurrency == 1 else f"{concurrency} at a time"
    print(
        f"{mode}: {got['user_us'] + got['sys_us']:.0f} µs CPU per 4 KiB request "
        f"(user {got['user_us']:.0f}, system {got['sys_us']:.0f}; {got['ops_per_s']:.0f} requests/s, {how})"
        + ("" if audit else "; audit log OFF")
    )


def run_callgrind(mode: str, n: int, audit: bool = True, keep: Path | None = None) -> None:
    """Re-run this tool under callgrind with instrumentation on only between READY and DONE (``keep``: copy the
    dumps there, for ``callgrind_annotate``)."""
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found (Debian: apt-get install valgrind)")
    out_dir = Path(tempfile.mkdtemp(prefix="appcost-cg-"))
    env = dict(os.environ, APPCOST_PAUSE="1")
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_dir}/callgrind.out.%p",
        sys.executable,
        "-m",
        "bench.appcost",
        mode,
        "-n",
        str(n),
        *([] if audit else ["--audit-off"]),
    ]
    child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout is not None
    pid = None
    try:
        for line in child.stdout:
            if line.startswith(READY):
                pid = line.split()[1]
                subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
            elif line.startswith(DONE) and pid is not None:
                subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
                subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
            elif line.strip():
                print(f"  (child) {line.rstrip()}")
        if child.wait() != 0 or pid is None:
            raise SystemExit("the measured run failed")
        total = 0
        for dump in out_dir.glob(f"callgrind.out.{pid}*"):
            counts = re.findall(r"^(?:summary|totals): (\d+)", dump.read_text(errors="replace"), re.M)
            total += max((int(c) for c in counts), default=0)  # a dump's header summary may read 0
        off = "" if audit else ", audit log OFF"
        print(f"{mode}: {total / n:,.0f} instructions per 4 KiB request (callgrind, {n} requests{off})")
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for dump in out_dir.glob(f"callgrind.out.{pid}*"):
                shutil.copy(dump, keep / dump.name)
            print(f"  callgrind dumps kept in {keep} (callgrind_annotate --inclusive=yes FILE)")
    finally:
        if child.poll() is None:
            child.kill()
        shutil.rmtree(out_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("get", "put"))
    ap.add_argument("-n", type=int, default=None, help="timed requests (default 3,000; 300 under --callgrind)")
    ap.add_argument("--callgrind", action="store_true", help="count instructions with valgrind (deterministic)")
    ap.add_argument("--keep", type=Path, default=None, help="with --callgrind: keep the dumps in this directory")
    ap.add_argument("-c", "--concurrency", type=int, default=1, help="requests in flight at once (default 1)")
    ap.add_argument(
        "--audit-off", action="store_true", help="the audit log off (STRONGROOM_AUDIT_LOG=false), to see its cost"
    )
    args = ap.parse_args()
    if args.callgrind:
        run_callgrind(args.mode, args.n or 300, not args.audit_off, args.keep)
    else:
        run_inline(args.mode, args.n or 3000, not args.audit_off, args.concurrency)


if __name__ == "__main__":
    main()
