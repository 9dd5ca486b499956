"""Key vault benchmark (issue 3): transit encrypt ops/s for 1 KiB via hvac, single and batch of 100,
and the SSE-KMS PUT overhead against SSE-S3. A benchmark, not a test: it prints figures, asserts nothing
but correctness (every decrypt and GET is compared with what was written).

    .venv/bin/python bench/vault_transit.py [--n 400]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from strongroom.devserver import ROOT_TOKEN, start_server  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400, help="single operations per figure")
    args = ap.parse_args()
    import hvac

    with tempfile.TemporaryDirectory() as tmp:
        srv = start_server(Path(tmp) / "data")
        try:
            info = json.loads((srv.data_dir / "run" / "vault.json").read_text())
            v = hvac.Client(url=info["url"], token=ROOT_TOKEN, verify=srv.ca)
            v.secrets.transit.create_key(name="bench")
            pt = base64.b64encode(os.urandom(1024)).decode()

            t0 = time.perf_counter()
            cts = [
                v.secrets.transit.encrypt_data(name="bench", plaintext=pt)["data"]["ciphertext"] for _ in range(args.n)
            ]
            single = args.n / (time.perf_counter() - t0)
            assert v.secrets.transit.decrypt_data(name="bench", ciphertext=cts[-1])["data"]["plaintext"] == pt

            batches = max(1, args.n // 100)
            items = [{"plaintext": pt} for _ in range(100)]
            t0 = time.perf_counter()
            for _ in range(batches):
                out = v.secrets.transit.encrypt_data(name="bench", plaintext="", batch_input=items)
                assert len(out["data"]["batch_results"]) == 100
            batch = batches * 100 / (time.perf_counter() - t0)

            subprocess.run(
                [sys.executable, "-m", "strongroom", "key", "create", "kmsbench", "--data-dir", str(srv.data_dir)],
                check=True,
                capture_output=True,
            )
            s3 = srv.client()
            s3.create_bucket(Bucket="vbench")
            small = os.urandom(4096)
            big = os.urandom(64 << 20)
            res = {}
            for mode, extra in (
                ("SSE-S3", {}),
                ("SSE-KMS", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "kmsbench"}),
            ):
                t0 = time.perf_counter()
                for i in range(args.n // 2):
                    s3.put_object(Bucket="vbench", Key=f"{mode}/{i}", Body=small, **extra)
                ops = (args.n // 2) / (time.perf_counter() - t0)
                t0 = time.perf_counter()
                s3.put_object(Bucket="vbench", Key=f"{mode}/big", Body=big, **extra)
                mbs = len(big) / (time.perf_counter() - t0) / 1e6
                assert s3.get_object(Bucket="vbench", Key=f"{mode}/big")["Body"].read() == big
                res[mode] = (ops, mbs)
        finally:
            srv.stop()
    print("| figure | value |")
    print("| --- | --- |")
    print(f"| transit encrypt 1 KiB via hvac, single (ops/s) | {single:.0f} |")
    print(f"| transit encrypt 1 KiB via hvac, batch of 100 (items/s) | {batch:.0f} |")
    for mode, (ops, mbs) in res.items():
        print(f"| {mode} 4 KiB PUT, boto3 sequential (ops/s) | {ops:.0f} |")
        print(f"| {mode} 64 MiB PUT, boto3 (MB/s) | {mbs:.0f} |")
    kms, s3o = res["SSE-KMS"], res["SSE-S3"]
    print(f"| SSE-KMS / SSE-S3, 4 KiB PUT ops/s | {kms[0] / s3o[0]:.2f} |")
    print(f"| SSE-KMS / SSE-S3, 64 MiB PUT MB/s | {kms[1] / s3o[1]:.2f} |")


if __name__ == "__main__":
    main()
