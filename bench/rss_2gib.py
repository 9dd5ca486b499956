"""Streaming memory: peak server RSS while a 2 GiB object goes up and comes back down.

Starts a strongroom server on a temp dir (strongroom.devserver.start_server), then moves one object of --gib GiB,
generated on the fly from a seeded AES-CTR keystream (never materialised on either side), twice:

1. boto3 ``upload_fileobj`` (multipart, --part-mib parts) of a non-seekable reader, then a streaming
   ``get_object`` read in 1 MiB chunks while hashing;
2. one streaming PUT through a presigned URL (httpx, generator body with Content-Length), then a streaming
   presigned GET while hashing.

Both downloads must match the generator's sha256. A sampler thread sums VmRSS over the server process and all its
descendants (/proc/<pid>/status) every 0.2 s. Prints one markdown table row: peak RSS MiB and MB/s (10^6 B/s) for each
phase.

Usage: .venv/bin/python bench/rss_2gib.py [--gib 2] [--part-mib 64] [--concurrency 4] [--seed 1]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import ssl
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from boto3.s3.transfer import TransferConfig
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.procstat import RssSampler, tree_rss_kib  # noqa: E402

MIB = 1024 * 1024
FEED = 1 * MIB


class PseudoRandomStream:
    """A read-only, non-seekable file of ``size`` pseudo-random bytes (AES-256-CTR keystream keyed by ``seed``).

    Bytes are produced on demand and hashed as they go, so ``sha256`` is known once the stream is exhausted.
    """

    def __init__(self, size: int, seed: int) -> None:
        key = hashlib.sha256(f"strongroom-bench-{seed}".encode()).digest()
        self._enc = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()
        self.size = size
        self.pos = 0
        self._hash = hashlib.sha256()
        self._zeros = bytes(FEED)

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.pos
        n = left if n is None or n < 0 else min(n, left)
        out = bytearray()
        while len(out) < n:
            take = min(FEED, n - len(out))
            out += self._enc.update(self._zeros[:take])
        self.pos += n
        self._hash.update(out)
        return bytes(out)

    def chunks(self, size: int = FEED) -> Iterator[bytes]:
        while self.pos < self.size:
            yield self.read(size)

    def sha256(self) -> str:
        assert self.pos == self.size, "stream not exhausted"
        return self._hash.hexdigest()


def hash_chunks(chunks: Iterator[bytes]) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    for chunk in chunks:
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gib", type=float, default=2.0)
    ap.add_argument("--part-mib", type=int, default=64)
    ap.add_argument("--concurrency", type=int, default=4, help="boto3 TransferConfig.max_concurrency")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temp data dir")
    args = ap.parse_args()
    size = int(args.gib * 1024 * MIB)

    from strongroom import devserver as ct

    tmp = Path(tempfile.mkdtemp(prefix="strongroom-rss-"))
    server = ct.start_server(tmp / "data")
    sampler = RssSampler(server.proc.pid, exclude_vault=True)
    results: dict[str, float] = {}
    try:
        s3 = server.client(read_timeout=600, connect_timeout=30)
        s3.create_bucket(Bucket="rss-bench")
        baseline_kib = tree_rss_kib(server.proc.pid, exclude_vault=True)
        sampler.start()

        # 1. boto3 multipart upload of a non-seekable reader, streaming get_object
        sampler.mark("mpu-up")
        src = PseudoRandomStream(size, args.seed)
        cfg = TransferConfig(
            multipart_threshold=args.part_mib * MIB,
            multipart_chunksize=args.part_mib * MIB,
            max_concurrency=args.concurrency,
        )
        t = time.perf_counter()
        s3.upload_fileobj(src, "rss-bench", "mpu", Config=cfg)
        results["mpu_up"] = size / (time.perf_counter() - t) / 1e6
        expected = src.sha256()
        head = s3.head_object(Bucket="rss-bench", Key="mpu")
        assert head["ContentLength"] == size, head

        sampler.mark("mpu-down")
        t = time.perf_counter()
        body = s3.get_object(Bucket="rss-bench", Key="mpu")["Body"]
        got, n = hash_chunks(body.iter_chunks(FEED))
        results["mpu_down"] = size / (time.perf_counter() - t) / 1e6
        assert n == size and got == expected, (n, got, expected)
        s3.delete_object(Bucket="rss-bench", Key="mpu")

        # 2. one streaming PUT via a presigned URL, streaming presigned GET
        verify = ssl.create_default_context(cafile=server.ca)
        timeout = httpx.Timeout(600.0, connect=30.0)
        put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "rss-bench", "Key": "put"}, ExpiresIn=3600)
        get_url = s3.generate_presigned_url("get_object", Params={"Bucket": "rss-bench", "Key": "put"}, ExpiresIn=3600)
        with httpx.Client(verify=verify, timeout=timeout) as http:
            sampler.mark("put-up")
            src = PseudoRandomStream(size, args.seed)
            t = time.perf_counter()
            r = http.put(put_url, content=src.chunks(), headers={"Content-Length": str(size)})
            results["put_up"] = size / (time.perf_counter() - t) / 1e6
            assert r.status_code == 200, (r.status_code, r.text[:2000])
            assert src.sha256() == expected

            sampler.mark("get-down")
            t = time.perf_counter()
            with http.stream("GET", get_url) as r:
                assert r.status_code == 200, r.status_code
                assert int(r.headers["content-length"]) == size
                got, n = hash_chunks(r.iter_raw(FEED))
            results["get_down"] = size / (time.perf_counter() - t) / 1e6
            assert n == size and got == expected, (n, got, expected)
        sampler.mark("done")
        s3.delete_object(Bucket="rss-bench", Key="put")
    except BaseException:
        print(server.log()[-6000:], file=sys.stderr)
        raise
    finally:
        if sampler.is_alive():
            sampler.stop()
        server.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    peaks = {k: v / 1024 for k, v in sampler.phase_peak_kib.items()}
    label = f"{args.gib:g} GiB"
    print(
        f"| {label} | peak server RSS {sampler.peak_kib / 1024:.0f} MiB (baseline {baseline_kib / 1024:.0f} MiB;"
        f" mpu up {peaks.get('mpu-up', 0):.0f}, mpu down {peaks.get('mpu-down', 0):.0f},"
        f" put up {peaks.get('put-up', 0):.0f}, get down {peaks.get('get-down', 0):.0f}) |"
        f" boto3 multipart ({args.part_mib} MiB parts): up {results['mpu_up']:.0f} MB/s,"
        f" down {results['mpu_down']:.0f} MB/s |"
        f" streaming PUT up {results['put_up']:.0f} MB/s, GET down {results['get_down']:.0f} MB/s | sha256 ok |"
    )


if __name__ == "__main__":
    main()
