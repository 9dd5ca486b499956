"""Single-core crypto ceilings for SRM1: raw AEADs, the raw two-layer loop, PartSealer, PartOpener.

Usage: .venv/bin/python bench/crypto_limit.py [--mib 256] [--feed-kib 1024] [--repeat 3] [--tune-malloc]
Prints MB/s (10^6 bytes per second of plaintext); the best of --repeat runs is reported.

Allocator note: each 1 MiB feed allocates about 2 MiB that is freed at once. With glibc's
defaults the heap can shrink and regrow (or mmap/munmap) on every feed, and the page faults then
cost more than the ciphers (a loop drops from ~2.2 GB/s to ~0.7-1 GB/s on these machines). Which
loop suffers depends on heap layout, so also run with ``--tune-malloc``: ``mallopt`` with
M_MMAP_THRESHOLD 8 MiB and M_TRIM_THRESHOLD 64 MiB, the same as starting the server with
``MALLOC_MMAP_THRESHOLD_=8388608 MALLOC_TRIM_THRESHOLD_=67108864``.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import struct
import time
import uuid
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from strongroom.crypto import SEGMENT_SIZE, DataKey, PartOpener, PartSealer, object_identity, sealed_size

P = SEGMENT_SIZE


def mbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6


def best(fn: Callable[[], float], repeat: int) -> float:
    return min(fn() for _ in range(repeat))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--feed-kib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tune-malloc", action="store_true", help="glibc mallopt: 8 MiB mmap, 64 MiB trim")
    args = ap.parse_args()
    if args.tune_malloc:
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        ok = libc.mallopt(m_mmap_threshold, 8 << 20) and libc.mallopt(m_trim_threshold, 64 << 20)
        if not ok:
            raise SystemExit("mallopt failed")
    total = args.mib * 1024 * 1024
    feed_len = args.feed_kib * 1024
    feeds = total // feed_len
    feed = os.urandom(feed_len)
    view = memoryview(feed)
    segs_per_feed = feed_len // P
    nonce = os.urandom(12)
    aad = os.urandom(53)
    tail = struct.Struct(">IB")

    def one_aead(aead: AESGCM | ChaCha20Poly1305) -> Callable[[], float]:
        def run() -> float:
            t = time.perf_counter()
            for _ in range(feeds):
                for k in range(segs_per_feed):
                    aead.encrypt(nonce, view[k * P : (k + 1) * P], aad)
            return time.perf_counter() - t

        return run

    aes = AESGCM(os.urandom(32))
    chacha = ChaCha20Poly1305(os.urandom(32))

    def two_layer_raw() -> float:
        inner = bytearray(P + 16)
        pre1, pre2 = os.urandom(7), os.urandom(7)
        i = 0
        t = time.perf_counter()
        for _ in range(feeds):
            out = []
            for k in range(segs_per_feed):
                tl = tail.pack(i, 0)
                aes.encrypt_into(pre1 + tl, view[k * P : (k + 1) * P], aad + tl, inner)
                out.append(chacha.encrypt(pre2 + tl, inner, aad + tl))
                i += 1
            b"".join(out)
        return time.perf_counter() - t

    dek1, dek2 = DataKey.generate(), DataKey.generate()
    identity = object_identity(uuid.uuid4(), "bench/object", "v1", 1)
    sealed: list[bytes] = []
    state: dict[str, PartSealer] = {}

    def seal(keep: bool = False) -> float:
        """Seal ``total`` bytes; outputs are dropped as they come (as if written), unless ``keep``."""
        written = 0
        t = time.perf_counter()
        sealer = PartSealer(dek1, dek2, identity)
        written += len(sealer.header())
        for _ in range(feeds):
            chunk = sealer.update(view)
            written += len(chunk)
            if keep:
                sealed.append(chunk)
        chunk = sealer.finish()
        written += len(chunk)
        elapsed = time.perf_counter() - t
        if keep:
            sealed.append(chunk)
            state["sealer"] = sealer
        assert written == sealed_size(total)
        return elapsed

    def open_() -> float:
        sealer = state["sealer"]
        t = time.perf_counter()
        opener = PartOpener(dek1, dek2, identity, sealer.inner_header, sealer.outer_header, sealer.plaintext_size)
        index = 0
        for chunk in sealed:
            if chunk:
                opener.open(index, chunk)
                index += len(chunk) // (P + 32) + (len(chunk) % (P + 32) > 0)
        return time.perf_counter() - t

    def row(label: str, seconds: float) -> None:
        print(f"  {label:<42} {mbps(total, seconds):8.0f} MB/s", flush=True)

    pad = ", malloc tuned" if args.tune_malloc else ""
    print(f"SRM1 crypto limits: {args.mib} MiB, {args.feed_kib} KiB feeds, {P // 1024} KiB segments{pad}")
    row("AESGCM.encrypt alone (64 KiB segments)", best(one_aead(aes), args.repeat))
    row("ChaCha20Poly1305.encrypt alone (64 KiB)", best(one_aead(chacha), args.repeat))
    row("raw two-layer loop (ceiling)", best(two_layer_raw, args.repeat))
    t_seal = best(seal, args.repeat)
    seal(keep=True)
    t_open = best(open_, args.repeat)
    row("PartSealer (seal)", t_seal)
    row("PartOpener (open, 1 MiB reads)", t_open)
    row("PartSealer+PartOpener (round trip)", t_seal + t_open)


if __name__ == "__main__":
    main()
