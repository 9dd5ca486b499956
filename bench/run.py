"""strongroom benchmark suite: limits, strongroom (1 and 2 workers) and its peers under one load generator.

Usage (from the project root; ``bash bench/run.sh`` installs what this needs first):

    python -m bench.run [--quick] [--targets null,strongroom-w1,...] [--out bench/results] [--keep]
    python -m bench.run --only small --repeat 3 --targets strongroom-w1,strongroom-w1-noaudit   # 4 KiB phases only
    python -m bench.run --profile [--quick]      # py-spy profiles of the server (bench/profile.py)

Writes results.{md,json,png} (``quick-results.*`` with --quick) under --out and appends a summary of the run, with
the exact command, to README.md there (``--only small`` writes ``small-results.*`` / ``quick-small-results.*``).
What each figure means: bench/results/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench import loadgen, peers, report
from bench.loadgen import (
    KIB,
    MIB,
    Conn,
    PhaseResult,
    Presigner,
    Signed,
    expect,
    get_op,
    get_verified,
    list_all,
    multipart_upload,
    pseudo_random,
    put_large,
    put_op,
    run_phase,
)
from bench.procstat import RssSampler

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "bench"
SMALL = 4 * KIB
CLIENT_BOUND_CPU = 0.85  # client process busier than this share of one core: the figure is client-bound
DISTURBED_CPU = 0.25  # other processes on the machine used this share of a core during the figure: flagged
# strongroom-w1-noaudit right after strongroom-w1, so the audit log's cost is measured under similar noise
ALL_TARGETS = [
    "null",
    "strongroom-w1",
    "strongroom-w1-noaudit",
    "strongroom-w2",
    "rclone-crypt",
    "rclone-plain",
    "moto",
]


@dataclass(frozen=True)
class Config:
    """Sizes and durations of one run."""

    mode: str
    duration: float  # seconds per small-object phase
    sweep_duration: float  # seconds per size-sweep phase
    small_keys: int  # 4 KiB key pool (PUTs beyond it overwrite)
    sweep_sizes: tuple[int, ...]
    large: int  # the "256 MiB" object
    part: int  # multipart part size
    range_src: int  # the "1 GiB" object ranged GETs read from
    ranges: int
    range_max_s: float  # stop the ranged GETs after this long (moto reads the whole object for each range)
    range_len: int
    list_keys: int
    crypto_mib: int
    crypto_repeat: int
    tls_bytes: int
    quiet_budget: float  # seconds the run may spend waiting for other processes to calm down (see Quiet)
    only: str = ""  # "small": the four 4 KiB PUT/GET phases only (--only small)


FULL = Config(
    mode="full",
    duration=5.0,
    sweep_duration=2.0,
    small_keys=4000,
    sweep_sizes=(64 * KIB, 1 * MIB, 16 * MIB),
    large=256 * MIB,
    part=16 * MIB,
    range_src=1024 * MIB,
    ranges=200,
    range_max_s=30.0,
    range_len=1 * MIB,
    list_keys=10_000,
    crypto_mib=256,
    crypto_repeat=3,
    tls_bytes=256 * MIB,
    quiet_budget=120.0,
)
QUICK = Config(
    mode="quick",
    duration=1.0,
    sweep_duration=0.4,
    small_keys=1000,
    sweep_sizes=(64 * KIB, 1 * MIB, 8 * MIB),
    large=32 * MIB,
    part=8 * MIB,
    range_src=64 * MIB,
    ranges=50,
    range_max_s=5.0,
    range_len=1 * MIB,
    list_keys=500,
    crypto_mib=32,
    crypto_repeat=2,
    tls_bytes=64 * MIB,
    quiet_budget=10.0,
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- machine


def machine_info() -> dict[str, Any]:
    import cryptography

    cpu = "?"
    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and cpu == "?":
            cpu = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())

    def git(*args: str) -> str:
        r = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return r.stdout.strip()

    import ssl

    mem_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    rev = str(peers.SOURCE["desc"])
    snapshot = rev.startswith("git archive")
    commit = git("rev-parse", rev.split()[2]) if snapshot else git("rev-parse", "HEAD")
    return {
        "source": rev,
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "cpu_flags": sorted(flags & {"aes", "vaes", "avx2", "avx512f", "sha_ni", "pclmulqdq", "vpclmulqdq"}),
        "mem_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "openssl": ssl.OPENSSL_VERSION,
        "git_commit": commit,
        "git_dirty": False if snapshot else bool(git("status", "--porcelain", "--untracked-files=no")),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }


# --------------------------------------------------------------------------- limits


CRYPTO_ROWS = {
    "AESGCM.encrypt alone": "aes_gcm",
    "ChaCha20Poly1305.encrypt alone": "chacha",
    "raw two-layer loop": "two_layer_raw",
    "PartSealer (seal)": "sealer",
    "PartOpener (open": "opener",
}


def crypto_limits(cfg: Config) -> dict[str, Any]:
    """bench/crypto_limit.py as it is (default allocator and --tune-malloc); the best of both per row."""
    out: dict[str, Any] = {"runs": {}}
    for variant, extra in (("default", []), ("tune-malloc", ["--tune-malloc"])):
        cmd = [
            sys.executable,
            str(ROOT / "bench" / "crypto_limit.py"),
            "--mib",
            str(cfg.crypto_mib),
            "--repeat",
            str(cfg.crypto_repeat),
            *extra,
        ]
        text = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
        rows: dict[str, float] = {}
        for line in text.splitlines():
            m = re.match(r"\s+(.+?)\s+(\d+) MB/s$", line)
            if not m:
                continue
            for prefix, key in CRYPTO_ROWS.items():
                if m.group(1).startswith(prefix):
                    rows[key] = float(m.group(2))
        out["runs"][variant] = {"command": " ".join(cmd[1:]), "mb_per_s": rows, "output": text}
        for key, value in rows.items():
            out[key] = max(out.get(key, 0.0), value)
    return out


async def tls_limits(workdir: Path, cfg: Config, data: bytes) -> dict[str, Any]:
    """Loopback TLS: one stream of cfg.tls_bytes up (verified by the sink) and down (verified here)."""
    srv = peers.start_null(workdir)
    try:
        ep = srv.ep
        n = cfg.tls_bytes
        conn = Conn(ep, ep.ssl_context())
        await conn.connect()
        expect(await conn.request("GET", f"/_prepare/1/{n}"))
        best_up, verdicts = 0.0, []
        for _ in range(3):
            await QUIET.wait(None)
            t = time.perf_counter()
            r = expect(await conn.request("PUT", f"/_sink/1/{n}", (), memoryview(data)[:n]))
            best_up = max(best_up, n / (time.perf_counter() - t) / 1e6)
            verdicts.append(r.headers.get("x-verified", "?"))
        expect(await conn.request("PUT", "/tls/down", (), memoryview(data)[:n]))
        best_down = 0.0
        for _ in range(3):
            await QUIET.wait(None)
            t = time.perf_counter()
            await get_verified(conn, Signed("GET", "/tls/down"), data, 0, n)
            best_down = max(best_down, n / (time.perf_counter() - t) / 1e6)
        conn.close()
        ok = all(v == "ok" for v in verdicts)
        return {
            "tls_up": best_up if ok else None,
            "tls_down": best_down,
            "tls_up_void": None if ok else f"sink verdicts {verdicts}",
            "tls_cipher": conn.cipher,
            "bytes": n,
        }
    finally:
        srv.stop()


# --------------------------------------------------------------------------- a shared machine


class Quiet:
    """Before a phase, wait (up to ``per_phase`` s, ``budget`` s over the run) until the rest of the machine uses less
    than ``threshold`` of a core; other sessions' test suites otherwise land in the middle of figures."""

    def __init__(self, budget: float, per_phase: float = 10.0, threshold: float = 0.3) -> None:
        self.budget, self.per_phase, self.threshold = budget, per_phase, threshold
        self.waited = 0.0
        self.last = 0.0

    async def wait(self, pid: int | None, cap: float | None = None) -> float:
        """Seconds waited beyond one short probe (0.0 on a quiet machine); the last probe's share is ``last``."""
        start = time.perf_counter()
        first = True
        while True:
            meter = loadgen.CpuMeter(pid)
            await asyncio.sleep(0.25)
            probe = PhaseResult("quiet", 0)
            meter.stop(probe)
            self.last = probe.other_cpu
            if first and self.last < self.threshold:
                return 0.0
            first = False
            spent = time.perf_counter() - start
            limit = self.per_phase if cap is None else cap
            if self.last < self.threshold or spent >= limit or self.waited + spent >= self.budget:
                self.waited += spent
                return spent


QUIET = Quiet(budget=0.0)


# --------------------------------------------------------------------------- one target


class Recorder:
    """Figures of one target: value, unit, whether void, CPU shares, and the raw phase summaries."""

    def __init__(self, sampler: RssSampler | None) -> None:
        self.figures: dict[str, dict[str, Any]] = {}
        self.phases: list[dict[str, Any]] = []
        self.extras: dict[str, Any] = {}
        self.notes: list[str] = []
        self.sampler = sampler

    async def mark(self, phase: str, pid: int | None = None) -> None:
        """A phase starts: wait for a quiet machine, then label RSS samples with the phase."""
        waited = await QUIET.wait(pid)
        if waited > 0.6:
            self.extras.setdefault("quiet_wait_s", {})[phase] = round(waited, 1)
        if self.sampler is not None:
            self.sampler.mark(phase)

    def add(self, fid: str, res: PhaseResult, value: float, unit: str) -> None:
        void = res.void_reason()
        self.figures[fid] = {
            "value": None if void else round(value, 3),
            "unit": unit,
            "void": void,
            "client_cpu": round(res.client_cpu, 3),
            "server_cpu": round(res.server_cpu, 3),
            "other_cpu": round(res.other_cpu, 3),
            "client_bound": res.client_cpu >= CLIENT_BOUND_CPU,
            "disturbed": res.other_cpu >= DISTURBED_CPU,
            "ops": res.ops,
        }
        self.phases.append({"figure": fid, **res.summary()})
        state = f"VOID ({void})" if void else f"{value:,.4g} {unit}"
        log(
            f"    {fid:<22} {state}  [CPU in cores: client {res.client_cpu:.2f}, server {res.server_cpu:.2f},"
            f" others {res.other_cpu:.2f}]"
        )

    def error(self, fid: str, message: str) -> None:
        self.figures[fid] = {"value": None, "unit": "", "void": message}
        log(f"    {fid:<22} VOID ({message})")


def sse_headers(mode: str, customer_key: bytes) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """(PUT headers, GET headers) that select an encryption mode; signed into the presigned URLs."""
    if mode == "sse-kms":
        return {
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": peers.KMS_KEY,
        }, None
    if mode == "sse-c":
        h = {
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": base64.b64encode(customer_key).decode(),
            "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(
                hashlib.md5(customer_key).digest()
            ).decode(),
        }
        return h, h
    return None, None


async def bench_target(srv: peers.Running, cfg: Config, pool: ProcessPoolExecutor, big: bytes, small: bytes) -> dict:
    ep, pid = srv.ep, srv.pid
    sampler = RssSampler(pid)
    sampler.start()
    rec = Recorder(sampler)
    signer = Presigner(ep, pool)
    loadgen.QUIRKS.clear()
    t_start = time.perf_counter()
    try:
        await _bench_target(srv, cfg, signer, big, small, rec)
    except Exception as exc:  # a crashed target voids what it did not reach, the run goes on
        rec.extras["error"] = f"{type(exc).__name__}: {exc}"
        log(f"  !! {srv.name} failed: {exc}\n{traceback.format_exc()}\n{srv.log_tail(2000)}")
    sampler.stop()
    rec.figures["peak_rss"] = {
        "value": round(sampler.peak_kib / 1024, 1),
        "unit": "MiB",
        "void": None,
    }
    rec.extras["rss_by_phase_mib"] = {k: round(v / 1024, 1) for k, v in sampler.phase_peak_kib.items()}
    log(f"    peak_rss               {sampler.peak_kib / 1024:,.0f} MiB")
    notes = list(srv.notes) + rec.notes + [f"{srv.name} {q}" for q in sorted(loadgen.QUIRKS)]
    return {
        "label": srv.label,
        "version": srv.version,
        "endpoint": ep.base,
        "notes": notes,
        "figures": rec.figures,
        "phases": rec.phases,
        "extras": rec.extras,
        "seconds": round(time.perf_counter() - t_start, 1),
    }


async def _bench_target(
    srv: peers.Running, cfg: Config, signer: Presigner, big: bytes, small: bytes, rec: Recorder
) -> None:
    ep, pid, caps = srv.ep, srv.pid, srv.caps
    conn = Conn(ep, ep.ssl_context())
    s = signer.one("PUT", f"/{BUCKET}")
    expect(await conn.request("PUT", s.target, s.headers, b""))
    rec.extras["tls"] = conn.cipher or "none (plain HTTP)"
    conn.close()
    view = memoryview(big)

    async def phase(name: str, conc: int, op: loadgen.Op, count: int | None = None, dur: float | None = None):
        await rec.mark(name, pid)
        return await run_phase(name, ep, conc, op, count=count, duration=dur, server_pid=pid)

    # ---- 4 KiB objects: PUT then GET, 1 and 16 connections, time-boxed
    m = cfg.small_keys
    bodies = [small[k * SMALL : (k + 1) * SMALL] for k in range(m)]
    put_urls = signer.many([("PUT", f"/{BUCKET}/small/{k:06d}", None, None) for k in range(m)])
    get_urls = signer.many([("GET", f"/{BUCKET}/small/{k:06d}", None, None) for k in range(m)])
    cursor = 0
    for c in (1, 16):
        base = cursor
        inner = put_op(put_urls, bodies)

        async def op(conn: Conn, i: int, inner=inner, base=base) -> int:
            return await inner(conn, base + i)

        r = await phase(f"put4k-c{c}", c, op, dur=cfg.duration)
        rec.add(f"put_4k_c{c}", r, r.ops_per_s, "ops/s")
        cursor += r.ops
    written = min(cursor, m)
    for c in (1, 16):
        r = await phase(f"get4k-c{c}", c, get_op(get_urls, bodies, written), dur=cfg.duration)
        rec.add(f"get_4k_c{c}", r, r.ops_per_s, "ops/s")
    if cfg.only == "small":
        return

    # ---- object-size sweep, 1 connection (for the plot)
    for size in cfg.sweep_sizes:
        n = max(2, min(64 * MIB // size * 4, len(big) // size, 400))
        offsets = [(k * size) % (len(big) - size + 1) for k in range(n)]
        urls_p = signer.many([("PUT", f"/{BUCKET}/sweep/{size}/{k:05d}", None, None) for k in range(n)])
        urls_g = signer.many([("GET", f"/{BUCKET}/sweep/{size}/{k:05d}", None, None) for k in range(n)])
        sweep_bodies = [view[o : o + size] for o in offsets]
        r = await phase(f"sweep-put-{size}", 1, put_op(urls_p, sweep_bodies), count=n, dur=cfg.sweep_duration)
        rec.add(f"sweep_put_{size}", r, r.mb_per_s, "MB/s")
        done = max(1, min(r.ops, n))

        async def sweep_get(conn: Conn, i: int, urls_g=urls_g, offsets=offsets, done=done, size=size) -> int:
            k = i % done
            return await get_verified(conn, urls_g[k], big, offsets[k], size)

        r = await phase(f"sweep-get-{size}", 1, sweep_get, count=4 * n, dur=cfg.sweep_duration)
        rec.add(f"sweep_get_{size}", r, r.mb_per_s, "MB/s")

    # ---- large object, one stream each way
    single = signer.one("PUT", f"/{BUCKET}/large/single")
    single_get = signer.one("GET", f"/{BUCKET}/large/single")

    async def large_put(conn: Conn, i: int) -> int:
        await put_large(conn, single, view[: cfg.large])
        return cfg.large

    async def large_get(conn: Conn, i: int) -> int:
        return await get_verified(conn, single_get, big, 0, cfg.large)

    r = await phase("put-large-1", 1, large_put, count=1)
    rec.add("put_large_1", r, r.mb_per_s, "MB/s")
    r = await phase("get-large-1", 1, large_get, count=1)
    rec.add("get_large_1", r, r.mb_per_s, "MB/s")

    # ---- large object, 4 streams: multipart upload, 4 ranged GETs
    quarter = cfg.large // 4
    four_key = "large/single"
    if "mpu" in caps:
        await rec.mark("put-large-4", pid)
        r = await multipart_upload(ep, signer, BUCKET, "large/mpu", view[: cfg.large], cfg.part, 4, server_pid=pid)
        r.concurrency = 4
        rec.add("put_large_4", r, r.mb_per_s, "MB/s")
        if r.ok:
            four_key = "large/mpu"
        else:
            rec.notes.append("the multipart upload failed, so the 4-stream GET read the single-PUT object")
    four_get = signer.one("GET", f"/{BUCKET}/{four_key}")

    async def ranged_quarter(conn: Conn, i: int) -> int:
        return await get_verified(conn, four_get, big, i * quarter, quarter, ranged=True)

    r = await phase("get-large-4", 4, ranged_quarter, count=4)
    rec.add("get_large_4", r, r.mb_per_s, "MB/s")

    # ---- 1 MiB ranged GET latency from the big object (uploaded by one streaming PUT)
    await rec.mark("range-src-upload", pid)
    src_key = "large/range-src"
    src_put = signer.one("PUT", f"/{BUCKET}/{src_key}")

    async def put_src(conn: Conn, i: int) -> int:
        await put_large(conn, src_put, view[: cfg.range_src])
        return cfg.range_src

    up = await run_phase("range-src", ep, 1, put_src, count=1, server_pid=pid)
    rec.extras["range_src_upload_mb_per_s"] = round(up.mb_per_s, 1)
    if up.void_reason():
        rec.error("range_p50", f"uploading the source failed: {up.void_reason()}")
        rec.error("range_p99", f"uploading the source failed: {up.void_reason()}")
    else:
        rng = random.Random(7)
        starts = [rng.randrange(0, cfg.range_src - cfg.range_len + 1) for _ in range(cfg.ranges)]
        src_get = signer.one("GET", f"/{BUCKET}/{src_key}")

        async def ranged(conn: Conn, i: int) -> int:
            return await get_verified(conn, src_get, big, starts[i], cfg.range_len, ranged=True)

        r = await phase("range-1m", 1, ranged, count=cfg.ranges, dur=cfg.range_max_s)
        rec.add("range_p50", r, r.pct(50) * 1e3, "ms")
        rec.add("range_p99", r, r.pct(99) * 1e3, "ms")

    # ---- ListObjectsV2 over N keys
    if "list" in caps:
        n = cfg.list_keys
        names = [f"list/{k:06d}" for k in range(n)]
        urls = signer.many([("PUT", f"/{BUCKET}/{name}", None, None) for name in names])
        r = await phase("list-create", 16, put_op(urls, [b""] * n), count=n)
        rec.extras["list_create_ops_per_s"] = round(r.ops_per_s, 1)
        if r.void_reason():
            rec.error("list_seconds", f"creating the keys failed: {r.void_reason()}")
        else:
            await rec.mark("list", pid)
            best: PhaseResult | None = None
            for _ in range(2):
                res = PhaseResult("list", 1)
                meter = loadgen.CpuMeter(pid)
                try:
                    keys, pages = await list_all(ep, signer, BUCKET, "list/")
                except (loadgen.HttpStatusError, OSError) as exc:
                    res.errors, res.samples = 1, [str(exc)[:300]]
                    keys, pages = [], 0
                meter.stop(res)
                res.ops, res.nbytes = pages, 0
                if not res.errors and keys != names:
                    res.wrong = 1
                    res.samples = [f"listed {len(keys)} keys, expected {n} in order"]
                if best is None or (res.ok and res.seconds < best.seconds):
                    best = res
            assert best is not None
            rec.add("list_seconds", best, best.seconds, "s")
            rec.add("list_keys_per_s", best, n / best.seconds if best.seconds else 0.0, "keys/s")

    # ---- SSE-KMS and SSE-C against the SSE-S3 figures above (strongroom only)
    if "sse" in caps:
        customer_key = os.urandom(32)
        for mode in ("sse-kms", "sse-c"):
            put_h, get_h = sse_headers(mode, customer_key)
            tag = mode.replace("-", "")
            mm = min(m, 2000)
            p_urls = signer.many([("PUT", f"/{BUCKET}/{tag}/{k:06d}", None, put_h) for k in range(mm)])
            g_urls = signer.many([("GET", f"/{BUCKET}/{tag}/{k:06d}", None, get_h) for k in range(mm)])
            r = await phase(f"put4k-c16-{tag}", 16, put_op(p_urls, bodies), dur=cfg.duration)
            rec.add(f"put_4k_c16_{tag}", r, r.ops_per_s, "ops/s")
            got = max(1, min(r.ops, mm))
            r = await phase(f"get4k-c16-{tag}", 16, get_op(g_urls, bodies, got), dur=cfg.duration)
            rec.add(f"get_4k_c16_{tag}", r, r.ops_per_s, "ops/s")
            lp = signer.one("PUT", f"/{BUCKET}/{tag}/large", None, put_h)
            lg = signer.one("GET", f"/{BUCKET}/{tag}/large", None, get_h)

            async def sse_put(conn: Conn, i: int, lp=lp) -> int:
                await put_large(conn, lp, view[: cfg.large])
                return cfg.large

            async def sse_get(conn: Conn, i: int, lg=lg) -> int:
                return await get_verified(conn, lg, big, 0, cfg.large)

            r = await phase(f"put-large-1-{tag}", 1, sse_put, count=1)
            rec.add(f"put_large_1_{tag}", r, r.mb_per_s, "MB/s")
            r = await phase(f"get-large-1-{tag}", 1, sse_get, count=1)
            rec.add(f"get_large_1_{tag}", r, r.mb_per_s, "MB/s")


# --------------------------------------------------------------------------- main


STARTERS: dict[str, Callable[[Path], peers.Running]] = {
    "null": lambda wd: peers.start_null(wd),
    "strongroom-w1": lambda wd: peers.start_strongroom(wd, 1),
    "strongroom-w1-noaudit": lambda wd: peers.start_strongroom(wd, 1, audit=False),
    "strongroom-w2": lambda wd: peers.start_strongroom(wd, 2),
    "rclone-crypt": lambda wd: peers.start_rclone(wd, True, *peers.credentials()),
    "rclone-plain": lambda wd: peers.start_rclone(wd, False, *peers.credentials()),
    "moto": lambda wd: peers.start_moto(wd, *peers.credentials()),
}


async def one_target(
    name: str, workdir: Path, cfg: Config, pool: ProcessPoolExecutor, big: bytes, small: bytes
) -> dict[str, Any]:
    waited = await QUIET.wait(None, cap=180.0)
    if waited:
        log(f"waited {waited:.0f} s for other processes to calm down (now {QUIET.last:.2f} of a core)")
    log(f"target {name}: starting")
    try:
        srv = STARTERS[name](workdir)
    except Exception as exc:
        log(f"  !! {name} did not start: {exc}")
        return {"label": name, "figures": {}, "notes": [f"did not start: {exc}"]}
    log(f"  {srv.label} at {srv.ep.base}")
    try:
        out = await bench_target(srv, cfg, pool, big, small)
    finally:
        srv.stop()
    log(f"  {name} done in {out['seconds']} s")
    return out


def merge_rounds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One target's results over --repeat rounds: each figure is the round with the median value (the lower of the
    two middle ones for an even count, so a figure and its CPU shares and marks come from one real phase), with
    ``values`` (every round's value, None where void, in round order) and ``round`` (1-based) added; the rest of
    the first round's results stay as they are, ``seconds`` is the sum."""
    merged = dict(runs[0])
    figures: dict[str, Any] = {}
    for fid in dict.fromkeys(k for r in runs for k in r.get("figures", {})):
        per = [r.get("figures", {}).get(fid) for r in runs]
        values = [None if f is None or f.get("void") else f.get("value") for f in per]
        good = sorted((v, i) for i, v in enumerate(values) if v is not None)
        if not good:
            figures[fid] = next(f for f in per if f is not None)
            continue
        v, i = good[(len(good) - 1) // 2]
        assert v == statistics.median_low([g for g, _ in good])
        figures[fid] = {**per[i], "values": values, "round": i + 1}  # type: ignore[dict-item]
    merged["figures"] = figures
    merged["seconds"] = round(sum(r.get("seconds", 0.0) for r in runs), 1)
    merged["notes"] = list(dict.fromkeys(n for r in runs for n in r.get("notes", [])))
    return merged


async def main_async(args: argparse.Namespace, cfg: Config, pool: ProcessPoolExecutor) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="strongroom-bench-", dir=args.workdir))
    results: dict[str, Any] = {
        "mode": cfg.mode,
        "command": os.environ.get("BENCH_COMMAND") or "python -m bench.run " + " ".join(sys.argv[1:]),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": asdict(cfg),
        "client": "bench/loadgen.py: one asyncio (uvloop) process, HTTP/1.1 keep-alive, presigned URLs (botocore)",
        "targets": {},
    }
    t0 = time.perf_counter()
    try:
        log(f"{cfg.mode} run; generating {max(cfg.range_src, cfg.large) // MIB} MiB of test data")
        big = pseudo_random(max(cfg.range_src, cfg.large, cfg.tls_bytes), seed=1)
        small = pseudo_random(cfg.small_keys * SMALL, seed=2)
        if not args.skip_limits:
            log("limits: crypto (bench/crypto_limit.py)")
            limits = crypto_limits(cfg)
            log("limits: loopback TLS")
            limits.update(await tls_limits(workdir, cfg, big))
            results["limits"] = limits
            QUIET.waited = 0.0  # the budget is for the targets
            log(
                "  AES-GCM {aes_gcm:.0f}, ChaCha {chacha:.0f}, two-layer {two_layer_raw:.0f}, sealer {sealer:.0f}, "
                "opener {opener:.0f}, TLS up {tls_up}, down {tls_down:.0f} MB/s ({tls_cipher})".format(**limits)
            )
        rounds: list[dict[str, Any]] = []
        for rnd in range(args.repeat):
            # ABBA: every other round runs the targets in reverse, so a drift of the machine favours none of them
            order = args.targets if rnd % 2 == 0 else args.targets[::-1]
            where = workdir if args.repeat == 1 else workdir / f"round{rnd + 1}"
            if args.repeat > 1:
                log(f"round {rnd + 1} of {args.repeat}: {', '.join(order)}")
            this: dict[str, Any] = {}
            for name in order:
                this[name] = await one_target(name, where, cfg, pool, big, small)
            rounds.append({name: this[name] for name in args.targets})
        if args.repeat == 1:
            results["targets"] = rounds[0]
        else:
            results["targets"] = {name: merge_rounds([r[name] for r in rounds]) for name in args.targets}
            results["rounds"] = [
                {name: {"figures": t.get("figures", {}), "seconds": t.get("seconds")} for name, t in r.items()}
                for r in rounds
            ]
        if not args.skip_limits:
            log("limits: loopback TLS again (the limit is the best of the start and the end of the run)")
            again = await tls_limits(workdir, cfg, big)
            lim = results["limits"]
            lim["tls_runs"] = [
                {k: lim.get(k) for k in ("tls_up", "tls_down")},
                {k: again[k] for k in ("tls_up", "tls_down")},
            ]
            for key in ("tls_up", "tls_down"):
                if again.get(key) is not None and (lim.get(key) is None or again[key] > lim[key]):
                    lim[key] = again[key]
            if again.get("tls_up_void"):
                lim["tls_up_void"] = again["tls_up_void"]
        results["quiet_wait_s"] = round(QUIET.waited, 1)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    results["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run (~2 minutes): smaller sizes and counts")
    ap.add_argument("--targets", default=",".join(ALL_TARGETS), help=f"comma list of {', '.join(ALL_TARGETS)}")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--workdir", default=None, help="parent of the temporary data directories (default: /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the data directories and logs")
    ap.add_argument("--skip-limits", action="store_true", help="do not measure the crypto and TLS limits")
    ap.add_argument("--profile", action="store_true", help="profile the server with py-spy instead (bench/profile.py)")
    ap.add_argument(
        "--scenarios",
        help="with --profile: a comma list of put-4k, get-4k, put-256m, get-256m, overwrite-4k (default: all)",
    )
    ap.add_argument(
        "--profile-server",
        choices=["strongroom-w1", "strongroom-w1-noaudit"],
        default="strongroom-w1",
        help="with --profile: the server profiled (strongroom-w1-noaudit: the audit log off)",
    )
    ap.add_argument(
        "--only",
        choices=["small"],
        help="small: only the 4 KiB PUT/GET phases at 1 and 16 connections (writes small-results.*)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the targets this many times (every other round in reverse order); each figure is the median "
        "round's, every round's value is in results.json",
    )
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=None,
        help="seconds the run may spend, in all, waiting before phases for other processes to calm down "
        "(default: 120 full, 10 quick; 0 = never wait)",
    )
    ap.add_argument(
        "--rev",
        help="benchmark this commit (a read-only `git archive` snapshot on PYTHONPATH) instead of the working tree",
    )
    args = ap.parse_args()
    cfg = QUICK if args.quick else FULL
    if args.only:
        cfg = replace(cfg, only=args.only)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    snapshot: Path | None = None
    if args.rev:
        snapshot = Path(tempfile.mkdtemp(prefix="strongroom-src-", dir=args.workdir))
        peers.use_snapshot(args.rev, snapshot)
        log(f"strongroom code: {peers.SOURCE['desc']}")
    try:
        run(args, cfg, ap)
    finally:
        if snapshot is not None:
            shutil.rmtree(snapshot, ignore_errors=True)


def run(args: argparse.Namespace, cfg: Config, ap: argparse.ArgumentParser) -> None:
    if args.profile:
        from bench import profile

        only = tuple(x.strip() for x in (args.scenarios or ",".join(profile.SCENARIOS)).split(",") if x.strip())
        if set(only) - set(profile.SCENARIOS):
            ap.error(f"unknown scenarios: {', '.join(sorted(set(only) - set(profile.SCENARIOS)))}")
        profile.main_profile(cfg.mode, args.out, args.workdir, only, args.profile_server)
        return
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(args.targets) - set(STARTERS)
    if unknown:
        ap.error(f"unknown targets: {', '.join(sorted(unknown))}")
    QUIET.budget = cfg.quiet_budget if args.wait_quiet is None else args.wait_quiet
    pool = ProcessPoolExecutor(max_workers=os.cpu_count() or 2)  # before any thread exists
    try:
        import uvloop

        results = uvloop.run(main_async(args, cfg, pool))
    finally:
        pool.shutdown()
    report.annotate(results)
    args.out.mkdir(parents=True, exist_ok=True)
    prefix = ("quick-" if args.quick else "") + (f"{args.only}-" if args.only else "")
    (args.out / f"{prefix}results.json").write_text(json.dumps(results, indent=1) + "\n")
    md = report.markdown(results)
    (args.out / f"{prefix}results.md").write_text(md)
    png = args.out / f"{prefix}results.png"
    try:
        report.plot(results, png)
    except Exception as exc:
        log(f"plot failed: {exc}")
    report.append_readme(args.out / "README.md", results, md, f"{prefix}results")
    print(md)
    log(f"wrote {args.out}/{prefix}results.{{md,json,png}} in {results['seconds']} s")


if __name__ == "__main__":
    main()
