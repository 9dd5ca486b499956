"""Turn one run's results (the dict written to results.json) into the markdown table, the plot and the README log."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
COLUMNS = ["strongroom-w1", "strongroom-w1-noaudit", "strongroom-w2", "rclone-crypt", "rclone-plain", "moto"]
SHORT = {
    "strongroom-w1": "strongroom w1",
    "strongroom-w1-noaudit": "w1 audit off",
    "strongroom-w2": "strongroom w2",
    "rclone-crypt": "rclone crypt",
    "rclone-plain": "rclone plain",
    "moto": "moto",
    "null": "null (harness ceiling)",
}


def size_label(n: int) -> str:
    if n >= 1024 * MIB and n % (1024 * MIB) == 0:
        return f"{n // (1024 * MIB)} GiB"
    if n >= MIB:
        return f"{n // MIB} MiB"
    return f"{n // 1024} KiB"


def rows(cfg: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure id, label, unit shown, limit kind) in table order."""
    big, part = size_label(cfg["large"]), size_label(cfg["part"])
    src, rl = size_label(cfg["range_src"]), size_label(cfg["range_len"])
    out = [
        ("put_4k_c1", "4 KiB PUT, 1 connection", "ops/s", "null"),
        ("put_4k_c16", "4 KiB PUT, 16 connections", "ops/s", "null"),
        ("get_4k_c1", "4 KiB GET, 1 connection", "ops/s", "null"),
        ("get_4k_c16", "4 KiB GET, 16 connections", "ops/s", "null"),
        ("put_large_1", f"{big} PUT, 1 stream", "MB/s", "put"),
        ("get_large_1", f"{big} GET, 1 stream", "MB/s", "get"),
        ("put_large_4", f"{big} PUT, multipart {part} parts, 4 streams", "MB/s", "put"),
        ("get_large_4", f"{big} GET, 4 ranged streams", "MB/s", "get"),
        ("range_p50", f"{rl} ranged GET from {src}, p50", "ms (lower better)", "null"),
        ("range_p99", f"{rl} ranged GET from {src}, p99", "ms (lower better)", "null"),
        ("list_seconds", f"ListObjectsV2, {cfg['list_keys']:,} keys, all pages", "s (lower better)", ""),
        ("list_keys_per_s", f"ListObjectsV2, {cfg['list_keys']:,} keys", "keys/s", ""),
        ("put_4k_c16_ssekms", "SSE-KMS 4 KiB PUT, 16 conn.", "ops/s", "null:put_4k_c16"),
        ("get_4k_c16_ssekms", "SSE-KMS 4 KiB GET, 16 conn.", "ops/s", "null:get_4k_c16"),
        ("put_4k_c16_ssec", "SSE-C 4 KiB PUT, 16 conn.", "ops/s", "null:put_4k_c16"),
        ("get_4k_c16_ssec", "SSE-C 4 KiB GET, 16 conn.", "ops/s", "null:get_4k_c16"),
        ("put_large_1_ssekms", f"SSE-KMS {big} PUT, 1 stream", "MB/s", "put"),
        ("get_large_1_ssekms", f"SSE-KMS {big} GET, 1 stream", "MB/s", "get"),
        ("put_large_1_ssec", f"SSE-C {big} PUT, 1 stream", "MB/s", "put"),
        ("get_large_1_ssec", f"SSE-C {big} GET, 1 stream", "MB/s", "get"),
    ]
    for size in cfg["sweep_sizes"]:
        out.append((f"sweep_put_{size}", f"{size_label(size)} PUT, 1 connection", "MB/s", "null"))
        out.append((f"sweep_get_{size}", f"{size_label(size)} GET, 1 connection", "MB/s", "null"))
    out.append(("peak_rss", "peak RSS of the server process tree", "MiB (lower better)", ""))
    return out


HARNESS_SHARE = 0.5  # a figure at least this share of the null server's (the harness ceiling) is harness-bound


def harness_ceiling(results: dict[str, Any], fid: str) -> float | None:
    """What the load generator can reach for this figure with a trivial server: loopback TLS for the large-object
    figures, the null server's same figure for 4 KiB / size-sweep / ranged ones; None where there is no such thing."""
    lim = results.get("limits") or {}
    null = results["targets"].get("null", {}).get("figures", {})
    if fid.startswith(("put_large", "get_large")):
        return lim.get("tls_up" if fid.startswith("put") else "tls_down")
    if fid.startswith(("peak_rss", "list_")):
        return None
    m = re.match(r"(put|get)_4k_c16_sse", fid)
    ref = null.get(f"{m.group(1)}_4k_c16" if m else fid) or {}
    return None if ref.get("void") else ref.get("value")


def annotate(results: dict[str, Any]) -> None:
    """Mark each figure ``client_bound`` when the client was busy >= 85% of a core (already set by the runner) or
    the figure reached HARNESS_SHARE of the harness ceiling (for latencies: at most 1/HARNESS_SHARE times it).
    Either way the server may be faster than the figure shows."""
    for name, t in results["targets"].items():
        if name == "null":
            continue
        for fid, f in t.get("figures", {}).items():
            ref, v = harness_ceiling(results, fid), f.get("value")
            near = False
            if ref and v:
                near = v <= ref / HARNESS_SHARE if f.get("unit") == "ms" else v >= ref * HARNESS_SHARE
            f["near_harness_ceiling"] = near
            f["client_bound"] = bool(f.get("client_bound")) or near


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return ""
    if unit.startswith("ms"):
        return f"{v:,.2f}"
    if unit.startswith("s "):
        return f"{v:,.3f}"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:,.1f}"


def limit_for(results: dict[str, Any], fid: str, kind: str) -> tuple[float | None, str]:
    """The ceiling a figure is compared with, and where it comes from."""
    lim = results.get("limits") or {}
    null = results["targets"].get("null", {}).get("figures", {})
    if kind.startswith("null"):
        src = kind.split(":", 1)[1] if ":" in kind else fid
        f = null.get(src) or {}
        return f.get("value"), "null"
    if kind == "put":
        vals = [lim.get("tls_up"), lim.get("sealer")]
        if None in vals or not vals:
            return None, ""
        return min(vals), "min(TLS up, seal)"  # type: ignore[type-var]
    if kind == "get":
        vals = [lim.get("tls_down"), lim.get("opener")]
        if None in vals:
            return None, ""
        return min(vals), "min(TLS down, open)"  # type: ignore[type-var]
    return None, ""


def cell(results: dict[str, Any], target: str, fid: str, unit: str, notes: list[str]) -> str:
    t = results["targets"].get(target)
    if t is None:
        return "—"
    f = t.get("figures", {}).get(fid)
    if f is None:
        return "n/a"
    if f.get("void"):
        notes.append(f"{SHORT.get(target, target)} · {fid}: VOID, {f['void']}")
        return "**VOID**"
    mark = (" †" if f.get("client_bound") else "") + (" ‡" if f.get("disturbed") else "")
    return fmt(f["value"], unit) + mark


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return ""
    r = a / b
    return f"{r:.2f}" if r >= 0.1 else f"{r:.3f}"


def value(results: dict[str, Any], target: str, fid: str) -> float | None:
    f = results["targets"].get(target, {}).get("figures", {}).get(fid) or {}
    return None if f.get("void") else f.get("value")


def measured(results: dict[str, Any], fid: str) -> bool:
    """Some target has this figure (a run with ``--only small`` has the 4 KiB ones only)."""
    return any(fid in t.get("figures", {}) for t in results["targets"].values())


AUDIT_ON, AUDIT_OFF = "strongroom-w1", "strongroom-w1-noaudit"
AUDIT_BUDGET = 0.85  # with the audit log on, 4 KiB ops/s may fall by at most 15% against the log off
AUDIT_ROWS = ["put_4k_c1", "put_4k_c16", "get_4k_c1", "get_4k_c16"]
AUDIT_LARGE_ROWS = ["put_large_1", "get_large_1", "put_large_4", "get_large_4"]


def cpu_per_op_us(f: dict[str, Any]) -> float | None:
    """Server tree CPU per operation in µs (the server's CPU share over ops/s)."""
    if f.get("void") or not f.get("value") or not f.get("server_cpu"):
        return None
    return f["server_cpu"] / f["value"] * 1e6


def audit_section(results: dict[str, Any]) -> list[str]:
    """strongroom w1 with the audit log on against the same with it off: the issue's cost budget."""
    targets = results["targets"]
    if AUDIT_ON not in targets or AUDIT_OFF not in targets:
        return []
    labels = {fid: label for fid, label, _unit, _kind in rows(results["config"])}
    rounds = results.get("rounds") or []
    head = ["figure", "unit", "audit on", "audit off", "on / off"]
    if rounds:
        head.append(f"on / off in each of {len(rounds)} rounds")
    head += ["server CPU per op, on / off", "verdict"]
    lines = [
        "## Audit log cost",
        "",
        f"strongroom `--workers 1` with the audit log on (the default, column strongroom w1) and off "
        f"(`STRONGROOM_AUDIT_LOG=false`, column {SHORT[AUDIT_OFF]}), run one after the other. Budget: with the log "
        f"on, 4 KiB PUT and GET ops/s fall by at most 15% (on / off ≥ {AUDIT_BUDGET}); the large-object figures "
        "must not move beyond noise. Server CPU per operation (the server tree's CPU time over operations done) "
        "drifts less than ops/s on a busy machine."
        + (
            f" Figures are the median of {len(rounds)} rounds (every other round ran the targets in reverse order); "
            "the ratio of each round pairs the two servers' figures of that round (‡: either was disturbed)."
            if rounds
            else ""
        ),
        "",
        "| " + " | ".join(head) + " |",
        "|" + " --- |" * 2 + " ---: |" * (len(head) - 3) + " --- |",
    ]
    over: list[str] = []
    shaken: list[str] = []
    worst: tuple[float, str] | None = None
    small_rows = [fid for fid in AUDIT_ROWS if measured(results, fid)]
    for fid in small_rows + [fid for fid in AUDIT_LARGE_ROWS if measured(results, fid)]:
        unit = "ops/s" if fid in AUDIT_ROWS else "MB/s"
        notes: list[str] = []
        on_f = targets[AUDIT_ON].get("figures", {}).get(fid) or {}
        off_f = targets[AUDIT_OFF].get("figures", {}).get(fid) or {}
        on, off = value(results, AUDIT_ON, fid), value(results, AUDIT_OFF, fid)
        r = on / off if on is not None and off else None
        cells = [
            labels.get(fid, fid),
            unit,
            cell(results, AUDIT_ON, fid, unit, notes),
            cell(results, AUDIT_OFF, fid, unit, notes),
            ratio(on, off),
        ]
        if rounds:
            per = []
            for rnd in rounds:
                fa = rnd.get(AUDIT_ON, {}).get("figures", {}).get(fid) or {}
                fb = rnd.get(AUDIT_OFF, {}).get("figures", {}).get(fid) or {}
                mark = " ‡" if fa.get("disturbed") or fb.get("disturbed") else ""
                per.append((ratio(fa.get("value"), fb.get("value")) or "—") + mark)
            cells.append(", ".join(per))
        disturbed = bool(on_f.get("disturbed") or off_f.get("disturbed"))
        if fid in AUDIT_ROWS:
            c_on, c_off = cpu_per_op_us(on_f), cpu_per_op_us(off_f)
            cells.append(f"{c_on:,.0f} / {c_off:,.0f} µs ({c_on / c_off:.2f}×)" if c_on is not None and c_off else "")
            if r is None:
                verdict = "VOID"
                over.append(f"{labels.get(fid, fid)} (void)")
            elif r >= AUDIT_BUDGET:
                verdict = "within budget"
            else:
                verdict = "**OVER budget**"
                over.append(f"{labels.get(fid, fid)} ({r:.2f})")
            if r is not None and (worst is None or r < worst[0]):
                worst = (r, labels.get(fid, fid))
        else:
            cells.append("")
            verdict = f"{r - 1:+.0%} (must stay within noise)" if r is not None else "VOID"
        if disturbed:
            verdict += " ‡ (disturbed: rerun)"
            if fid in AUDIT_ROWS:
                shaken.append(labels.get(fid, fid))
        lines.append("| " + " | ".join([*cells, verdict]) + " |")
    lines.append("")
    if small_rows:
        if over:
            lines.append(f"Verdict: **OVER budget** (on / off < {AUDIT_BUDGET}) on " + "; ".join(over) + ".")
        elif worst is not None:
            lines.append(
                f"Verdict: all {len(small_rows)} 4 KiB rows within budget (lowest on / off {worst[0]:.2f}, {worst[1]})."
            )
        if shaken:
            lines.append(
                f"Not conclusive where disturbed (‡): {'; '.join(shaken)}. Rerun those phases: "
                "`--only small --repeat 3 --targets strongroom-w1,strongroom-w1-noaudit`."
            )
        lines.append("")
    return lines


def markdown(results: dict[str, Any]) -> str:
    cfg = results["config"]
    m = results["machine"]
    lim = results.get("limits") or {}
    notes: list[str] = []
    lines = [
        f"# strongroom benchmark — {results['mode']} run, {results['started']}",
        "",
        f"Command: `{results['command']}` · {results['seconds']:.0f} s · commit `{m['git_commit'][:12]}`"
        + (" (working tree modified)" if m.get("git_dirty") else "")
        + f" · strongroom code: {m.get('source', 'working tree')}",
        "",
        f"Machine: {m['nproc']} × {m['cpu_model']} ({', '.join(m['cpu_flags'])}), {m['mem_gib']} GiB, "
        f"Linux {m['kernel']}, Python {m['python']}, cryptography {m['cryptography']}, {m['openssl']}; "
        f"load average {' '.join(m['loadavg_start'])} at start, {' '.join(m.get('loadavg_end', []))} at end; "
        f"waited {results.get('quiet_wait_s', 0):.0f} s in all for other processes to calm down before phases.",
        "",
        f"Client: {results['client']}. † = client-bound: the client process used ≥85% of a core during that "
        "figure, or the figure reached half of the harness ceiling (loopback TLS for large objects, the null "
        "server's figure otherwise; for latencies, within 2× of it), so the server may be faster than shown. "
        "‡ = disturbed (other processes on this shared machine used ≥25% of a core during it). "
        "VOID = a wrong byte or a failed request (reasons below). n/a = the server does not do this.",
        "",
    ]
    if lim:
        lines += [
            "## Limits (one core)",
            "",
            "| what | MB/s |",
            "| --- | ---: |",
            f"| AES-256-GCM encrypt, 64 KiB segments (cryptography) | {fmt(lim.get('aes_gcm'), 'MB/s')} |",
            f"| ChaCha20-Poly1305 encrypt, 64 KiB segments | {fmt(lim.get('chacha'), 'MB/s')} |",
            f"| raw two-layer loop (AES-GCM then ChaCha20-Poly1305) | {fmt(lim.get('two_layer_raw'), 'MB/s')} |",
            f"| PartSealer (seal, both layers) | {fmt(lim.get('sealer'), 'MB/s')} |",
            f"| PartOpener (open, both layers) | {fmt(lim.get('opener'), 'MB/s')} |",
            f"| loopback TLS up, {size_label(lim['bytes'])} one stream, best of the run's start and end "
            f"({lim.get('tls_cipher')}) "
            f"| {fmt(lim.get('tls_up'), 'MB/s') or 'VOID'} |",
            f"| loopback TLS down, {size_label(lim['bytes'])} one stream | {fmt(lim.get('tls_down'), 'MB/s')} |",
            "",
            "Crypto rows: best of `bench/crypto_limit.py` with the default allocator and with `--tune-malloc`.",
            "",
        ]
    head = ["figure", "unit", "limit", *[SHORT[c] for c in COLUMNS], "w1 / rclone crypt", "w2 / rclone crypt"]
    head += ["w1 / limit", "w2 / limit"]
    lines += ["## Results", "", "| " + " | ".join(head) + " |", "|" + " --- |" * 2 + " ---: |" * (len(head) - 2)]
    for fid, label, unit, kind in rows(cfg):
        if fid.startswith("sweep_") or not measured(results, fid):
            continue
        lv, lsrc = limit_for(results, fid, kind)
        limit_cell = f"{fmt(lv, unit)} ({lsrc})" if lv is not None else ""
        cells = [cell(results, t, fid, unit, notes) for t in COLUMNS]
        w1, w2, rc = (value(results, t, fid) for t in ("strongroom-w1", "strongroom-w2", "rclone-crypt"))
        r = [ratio(w1, rc), ratio(w2, rc), ratio(w1, lv), ratio(w2, lv)]
        lines.append("| " + " | ".join([label, unit, limit_cell, *cells, *r]) + " |")
    lines.append("")
    lines += audit_section(results)
    sweep = [row for row in rows(cfg) if row[0].startswith("sweep_") and measured(results, row[0])]
    if sweep:
        lines += ["### By object size, 1 connection (the plot)", ""]
        head2 = ["figure", "unit", SHORT["null"], *[SHORT[c] for c in COLUMNS]]
        lines += ["| " + " | ".join(head2) + " |", "|" + " --- |" * 2 + " ---: |" * (len(head2) - 2)]
        for fid, label, unit, _kind in sweep:
            cells = [cell(results, t, fid, unit, notes) for t in ["null", *COLUMNS]]
            lines.append("| " + " | ".join([label, unit, *cells]) + " |")
        lines.append("")
    lines += ["### Servers", ""]
    for name in ["null", *COLUMNS]:
        t = results["targets"].get(name)
        if not t:
            continue
        tls = t.get("extras", {}).get("tls", "?")
        extra = t.get("extras", {})
        bits = [f"TLS: {tls}"]
        if "list_create_ops_per_s" in extra:
            bits.append(f"creating the list keys: {extra['list_create_ops_per_s']:,.0f} PUT/s at 16 connections")
        if "range_src_upload_mb_per_s" in extra:
            bits.append(f"uploading the ranged-GET source: {extra['range_src_upload_mb_per_s']:,.0f} MB/s")
        if "error" in extra:
            bits.append(f"**stopped early: {extra['error']}**")
        lines.append(f"- **{SHORT[name]}**: {t.get('label', '')}. " + "; ".join(bits) + ".")
        for note in t.get("notes", []):
            lines.append(f"  - note: {note}")
    if notes:
        lines += ["", "### Void figures", ""] + [f"- {n}" for n in dict.fromkeys(notes)]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = results["config"]
    sizes = [4096, *cfg["sweep_sizes"], cfg["large"]]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    styles = {
        "null": dict(color="0.55", linestyle="--", marker="x"),
        "strongroom-w1": dict(color="tab:blue", marker="o", linewidth=2.2),
        "strongroom-w1-noaudit": dict(color="tab:blue", marker="o", linestyle="--", linewidth=1.2, alpha=0.7),
        "strongroom-w2": dict(color="tab:cyan", marker="o", linewidth=2.2),
        "rclone-crypt": dict(color="tab:red", marker="s"),
        "rclone-plain": dict(color="tab:orange", marker="s"),
        "moto": dict(color="tab:green", marker="^"),
    }
    for ax, verb in zip(axes, ("put", "get"), strict=True):
        for name in ["null", *COLUMNS]:
            if name not in results["targets"]:
                continue
            xs, ys, hollow = [], [], []
            for size in sizes:
                if size == 4096:
                    fid = f"{verb}_4k_c1"
                elif size == cfg["large"]:
                    fid = f"{verb}_large_1"
                else:
                    fid = f"sweep_{verb}_{size}"
                v = value(results, name, fid)
                if v and size == 4096:
                    v = v * 4096 / 1e6
                if v:
                    xs.append(size)
                    ys.append(v)
                    f = results["targets"][name]["figures"].get(fid, {})
                    hollow.append(bool(f.get("disturbed")))
            if xs:
                ax.plot(xs, ys, label=SHORT[name], **styles[name])  # type: ignore[arg-type]
                hx = [x for x, h in zip(xs, hollow, strict=True) if h]
                hy = [y for y, h in zip(ys, hollow, strict=True) if h]
                style = styles[name]
                ax.plot(hx, hy, linestyle="none", marker=style["marker"], color=style["color"], markerfacecolor="white")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sizes, [size_label(s) for s in sizes])
        ax.set_title(f"{verb.upper()} throughput by object size (1 connection, TLS)")
        ax.set_xlabel("object size")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("MB/s (10^6 B/s) · hollow = disturbed")
    axes[1].legend(loc="lower right", fontsize=8)
    m = results["machine"]
    fig.suptitle(
        f"strongroom {results['mode']} run {results['started'][:16]} · {m['nproc']} × {m['cpu_model']} · "
        f"commit {m['git_commit'][:10]}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


README_HEADER = """# Benchmark results

Produced by `bash bench/run.sh` (full run, ~10-15 minutes on 2 cores) or `bash bench/run.sh --quick` (smoke run,
~2 minutes, smaller sizes; writes `quick-results.*` so it never overwrites the full results). Each run writes
`results.md` (the table), `results.json` (every figure, every phase with its latencies summarised, CPU use of client
and server, machine info, git commit) and `results.png` (throughput by object size), and appends its table below
with the exact command. Background and method: [docs/BENCHMARKS.md](../../docs/BENCHMARKS.md).

## The servers (columns)

- **strongroom w1 / w2**: `strongroom serve` on its defaults (TLS, SQLite, local disk, SSE-S3 by default) with
  `--workers 1` / `--workers 2`, started through `strongroom.devserver.start_server`; an SSE-KMS key `benchkey` is
  created first with `python -m strongroom key create benchkey --data-dir DATA`.
- **w1 audit off** (`strongroom-w1-noaudit`): strongroom w1 with `STRONGROOM_AUDIT_LOG=false` (the audit log off,
  a setting for measuring only; the runner checks that the server printed its audit-off warning), run right after
  strongroom w1. Only the **Audit log cost** table compares the two (the budget: with the log on, 4 KiB ops/s at
  most 15% below the log off); the ratio columns stay those of strongroom w1 and w2.
- **rclone crypt**: `rclone serve s3` (rclone from `.venv/bin`) over a `crypt` remote wrapping a local directory
  (random passwords through `rclone obscure`), TLS with a certificate made by
  `strongroom.crypto.x509ca.create_ca_and_server_cert`, `--auth-key ACCESS,SECRET`. Encrypts once
  (XSalsa20-Poly1305) where strongroom encrypts twice.
- **rclone plain**: the same over a plain local directory (no encryption at rest).
- **moto**: `moto_server` (in memory, no encryption at rest) with the same certificate (`-c/-k`); if it could not
  serve TLS it would run over plain HTTP and be marked so.
- **null (harness ceiling)**: `bench/nullserver.py`, a dict in memory behind asyncio + Python `ssl`, no auth. What
  the load generator reaches against it is the most it can measure on this machine.

## The load generator, and which figures are client-bound

`bench/loadgen.py`: one Python process, one asyncio (uvloop) event loop, HTTP/1.1 keep-alive connections over
Python's `ssl`, requests presigned up front with botocore's `S3SigV4QueryAuth` (what boto3's
`generate_presigned_url` uses) so no signing happens while the clock runs. Every GET body is compared byte for byte
with what was written; PUT bodies come from an AES-CTR keystream held in memory. A wrong byte or a failed request
voids the figure (**VOID** in the table, with the reason). The client can use one core at most: a figure is marked
**†** when the client process was busy ≥85% of a core during it (its CPU time / wall time, `results.json` has the
exact share and the server tree's share for every figure). The client shares the 2 cores with the server, so for
small objects compare with the null column: a server reaching a large fraction of it is limited by the harness, not
by itself. In the runs so far (check the † marks of each run): against real servers the client never used more than
~0.55 of a core (against the null server, up to 0.95 for 4 KiB PUTs at 16 connections). Every strongroom figure is
server-bound: the server used 0.8-1.3 cores while the client used 0.05-0.55. The figures that come close to
the harness ceiling are rclone's 4 KiB GETs at 16 connections and some 1-16 MiB transfers. The large-object GETs are
the most client-heavy (the client decrypts TLS and compares every byte: ~0.4-0.6 of a core at 400-600 MB/s) but
stay well under loopback TLS (~1 GB/s).

## A shared machine

Other sessions' test suites run on these machines too. Every figure records the CPU the rest of the machine used
while it ran (machine-wide busy time from `/proc/stat` minus the client and the server tree); ≥25% of a core marks
it **‡ disturbed**. Before each server (at most 3 minutes) and before each phase (at most 10 s) the runner waits
until the rest of the machine uses under 30% of a core, within a budget for the whole run (`--wait-quiet`, default
120 s for a full run), and the loopback TLS limit is measured at both ends of the run (the best counts). Compare
columns within one run; rerun (with a larger `--wait-quiet`) when many figures carry ‡.

## The figures (rows)

- **limit**: for 4 KiB, ranged and size-sweep rows the null server's figure (the harness ceiling); for large PUTs
  `min(loopback TLS up, PartSealer)`, for large GETs `min(loopback TLS down, PartOpener)`: the slowest stage if each
  stage had its own core (both are one-core figures). `w1 / limit` near 1 means the server is at the ceiling.
- **Limits table**: `bench/crypto_limit.py` (AES-256-GCM and ChaCha20-Poly1305 on 64 KiB segments, the raw
  two-layer loop, PartSealer, PartOpener; best of the default allocator and `--tune-malloc`), and loopback TLS: one
  256 MiB stream from the load generator to the null server's `/_sink` (which compares every byte with the expected
  keystream) and one 256 MiB verified GET back.
- **4 KiB PUT / GET, 1 and 16 connections** (ops/s): time-boxed (5 s) loops over a pool of 4,000 keys (PUTs past the
  pool overwrite; GETs read the keys written); latency percentiles are in `results.json`.
- **256 MiB PUT, 1 stream**: one presigned PUT with `Content-Length`, body written in 1 MiB pieces; MB/s = 10^6 B/s
  from the first byte to the response. **GET, 1 stream**: one streaming GET, verified as it arrives.
- **256 MiB PUT, 4 streams**: CreateMultipartUpload, 16 parts of 16 MiB over 4 connections, CompleteMultipartUpload,
  all timed. **GET, 4 streams**: 4 concurrent `Range` GETs of a quarter each (of the multipart object; of the
  single-PUT object if the multipart upload failed, noted under the table).
- **1 MiB ranged GET, p50/p99** (ms): 200 random 1 MiB ranges (seeded) from a 1 GiB object (uploaded by one
  streaming PUT), one at a time, each verified; time to the last byte. The phase stops after 30 s (moto reads the
  whole object for every range); `results.json` has the number done.
- **ListObjectsV2** over 10,000 keys (made with 16 connections beforehand): time to list every page (1,000 keys a
  page, each page presigned when its continuation token arrives), best of two, and keys/s; the listed keys must be
  exactly the keys written, in order.
- **SSE-KMS / SSE-C** (strongroom only): the same 4 KiB (16 connections) and 256 MiB single-stream figures with
  `x-amz-server-side-encryption: aws:kms` + key id `benchkey`, or the SSE-C headers (signed into the URL, sent on
  PUT and GET); compare with the SSE-S3 rows above (the default).
- **By object size** (the plot): PUT and GET MB/s at 1 connection for 4 KiB (the ops/s rows × 4 KiB), 64 KiB,
  1 MiB, 16 MiB (time-boxed, 2 s) and 256 MiB (the single-stream rows).
- **Audit log cost**: strongroom w1 with the audit log on against w1 audit off, for the 4 KiB and the large-object
  rows: both figures, on / off, the server's CPU per operation (its CPU share over ops/s) for the 4 KiB rows, and
  whether on / off ≥ 0.85 ("within budget" or "OVER budget"). Rerun only the 4 KiB phases, several times, with
  `--only small --repeat N --targets strongroom-w1,strongroom-w1-noaudit` (writes `small-results.*`; each figure is
  the median round's, every other round runs the targets in reverse order, the table lists each round's ratio).
- **peak RSS**: the largest sum of VmRSS over the server process and all its children, sampled every 0.2 s during
  the whole run against that server (per-phase peaks in `results.json`).

Quick runs use 1 s loops (0.4 s for the size sweep, up to 8 MiB), a 1,000-key pool, 32 MiB large objects (8 MiB
parts), a 64 MiB ranged source, 50 ranges, 500 list keys.

## Runs
"""


def append_readme(path: Path, results: dict[str, Any], md: str, stem: str) -> None:
    # the explanation above "## Runs" is rewritten from README_HEADER so it always matches the code; runs are kept
    runs = path.read_text().split("\n## Runs\n", 1)[1] if path.exists() and "\n## Runs\n" in path.read_text() else ""
    path.write_text(README_HEADER + runs)
    m = results["machine"]
    when = dt.datetime.fromisoformat(results["started"]).strftime("%Y-%m-%d %H:%M UTC")
    body = md.split("## Results", 1)[1] if "## Results" in md else md
    body = body.split("### Servers", 1)[0].strip()
    voids = md.split("### Void figures", 1)[1].strip() if "### Void figures" in md else ""
    text = [
        "",
        f"### {when} — {results['mode']} run, {results['seconds']:.0f} s",
        "",
        f"Command: `{results['command']}` · commit `{m['git_commit'][:12]}`"
        + (" (working tree modified)" if m.get("git_dirty") else "")
        + f" · code: {m.get('source', 'working tree')}"
        + f" · {m['nproc']} × {m['cpu_model']}, Python {m['python']}, cryptography {m['cryptography']} · "
        f"files: `{stem}.md`, `{stem}.json`, `{stem}.png`",
        "",
        body,
        "",
    ]
    if voids:
        text += ["Void figures:", "", voids, ""]
    with path.open("a") as fh:
        fh.write("\n".join(text))
