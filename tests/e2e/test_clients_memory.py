"""Streaming memory bound: a 256 MiB object goes through the server without being buffered.

A dedicated server (so other tests' traffic does not count) receives one streaming PUT through a presigned URL
(httpx, generator body with Content-Length) and serves it back through a streaming GET. The payload is a seeded
AES-CTR keystream produced on the fly. A sampler sums VmRSS over the server process tree every 0.2 s; the peak must
stay under 200 MiB. This is a memory property, not a timing one. bench/rss_2gib.py does the same at 2 GiB.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
OBJECT_SIZE = 256 * MIB
RSS_LIMIT_MIB = 200
FEED = MIB


import tests.conftest as _ct  # noqa: E402


def keystream(size: int, seed: int, digest: hashlib._Hash) -> Iterator[bytes]:
    """``size`` pseudo-random bytes in 1 MiB chunks (AES-256-CTR keyed by seed); each chunk is fed to ``digest``."""
    key = hashlib.sha256(f"strongroom-bench-{seed}".encode()).digest()
    enc = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()
    zeros = bytes(FEED)
    left = size
    while left:
        chunk = enc.update(zeros[: min(FEED, left)])
        left -= len(chunk)
        digest.update(chunk)
        yield chunk


def _is_vault(pid: int) -> bool:
    try:
        return b"strongroom.vaultserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def tree_rss_kib(root: int, vault: bool = False) -> int:
    """Summed VmRSS of the S3 gateway: root and its descendants except the key vault process (vault=False),
    or of the key vault process alone (vault=True). The vault is a separate service whose memory does not
    depend on object sizes; it is measured and bounded on its own."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        if _is_vault(pid) != vault and pid != root:
            continue
        if vault and pid == root:
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.done = threading.Event()
        self.samples: list[int] = []

    def run(self) -> None:
        while True:
            self.samples.append(tree_rss_kib(self.pid))
            if self.done.wait(self.interval):
                break

    def stop(self) -> int:
        self.done.set()
        self.join()
        self.samples.append(tree_rss_kib(self.pid))
        return max(self.samples)


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read VmRSS")
    srv = _ct.start_server(tmp_path_factory.mktemp("memsrv") / "data")
    yield srv
    srv.stop()


def test_streaming_put_get_256mib_keeps_server_rss_bounded(own_server: Server) -> None:
    s3 = own_server.client(read_timeout=300, connect_timeout=30)
    s3.create_bucket(Bucket="memory-bound")
    params = {"Bucket": "memory-bound", "Key": "stream/256mib.bin"}
    put_url = s3.generate_presigned_url("put_object", Params=params, ExpiresIn=900)
    get_url = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=900)
    baseline_kib = tree_rss_kib(own_server.proc.pid)
    vault_baseline_kib = tree_rss_kib(own_server.proc.pid, vault=True)
    assert vault_baseline_kib > 0  # the vault process was found (and is excluded from the gateway figure)

    sampler = RssSampler(own_server.proc.pid)
    sampler.start()
    sent = hashlib.sha256()
    received = hashlib.sha256()
    n = 0
    try:
        verify = ssl.create_default_context(cafile=own_server.ca)
        with httpx.Client(verify=verify, timeout=httpx.Timeout(300.0, connect=30.0)) as http:
            r = http.put(
                put_url, content=keystream(OBJECT_SIZE, 256, sent), headers={"Content-Length": str(OBJECT_SIZE)}
            )
            assert r.status_code == 200, (r.status_code, r.text[:2000])
            with http.stream("GET", get_url) as resp:
                assert resp.status_code == 200, resp.status_code
                assert int(resp.headers["content-length"]) == OBJECT_SIZE
                for chunk in resp.iter_raw(FEED):
                    received.update(chunk)
                    n += len(chunk)
    finally:
        peak_kib = sampler.stop()
    s3.delete_object(**params)
    s3.delete_bucket(Bucket="memory-bound")
    s3.close()

    assert n == OBJECT_SIZE
    assert received.hexdigest() == sent.hexdigest()
    peak_mib = peak_kib / 1024
    vault_growth_mib = (tree_rss_kib(own_server.proc.pid, vault=True) - vault_baseline_kib) / 1024
    assert vault_growth_mib < 20, f"the vault grew by {vault_growth_mib:.0f} MiB during a data transfer"
    assert peak_mib < RSS_LIMIT_MIB, (
        f"server RSS peaked at {peak_mib:.0f} MiB (baseline {baseline_kib / 1024:.0f} MiB) while streaming "
        f"{OBJECT_SIZE // MIB} MiB; the object is being buffered somewhere"
    )
