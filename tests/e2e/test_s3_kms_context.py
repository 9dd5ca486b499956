"""SSE-KMS: the encryption context is recorded, echoed, and bound into the DEK wrap (AAD)."""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_kms_context_recorded_and_bound(server, s3, bucket):
    subprocess.run(
        [sys.executable, "-m", "strongroom", "key", "create", f"ctx-{bucket}", "--data-dir", str(server.data_dir)],
        check=True,
        capture_output=True,
    )
    ctx = base64.b64encode(json.dumps({"department": "finance", "case": "42"}).encode()).decode()
    body = b"context bound " * 5000
    put = s3.put_object(
        Bucket=bucket,
        Key="k",
        Body=body,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=f"ctx-{bucket}",
        SSEKMSEncryptionContext=ctx,
    )
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"] == f"ctx-{bucket}"
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == body
    assert got["SSEKMSKeyId"] == f"ctx-{bucket}"
    # the recorded context is part of what unwraps the DEK: change it and the object no longer opens
    db = sqlite3.connect(server.data_dir / "strongroom.db")
    try:
        (stored,) = db.execute("SELECT kms_context FROM objects WHERE key = 'k'").fetchone()
        assert json.loads(base64.b64decode(stored)) == {"department": "finance", "case": "42"}
        forged = base64.b64encode(json.dumps({"department": "hr", "case": "42"}).encode()).decode()
        db.execute("UPDATE objects SET kms_context = ? WHERE key = 'k'", (forged,))
        db.commit()
        with pytest.raises(s3.exceptions.ClientError) as exc:
            s3.get_object(Bucket=bucket, Key="k")["Body"].read()
        assert exc.value.response["Error"]["Code"] == "InternalError"
        db.execute("UPDATE objects SET kms_context = ? WHERE key = 'k'", (stored,))
        db.commit()
    finally:
        db.close()
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body


def test_kms_context_must_be_base64_json(server, s3, bucket):
    with pytest.raises(s3.exceptions.ClientError) as exc:
        s3.put_object(
            Bucket=bucket,
            Key="k",
            Body=b"x",
            ServerSideEncryption="aws:kms",
            SSEKMSEncryptionContext="not base64 json!",
        )
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"


def test_kms_context_nested_past_the_json_decoder_is_refused(server, s3, bucket):
    """JSON nested deeper than the decoder goes (RecursionError, not ValueError) is not base64 JSON either."""
    for nested in (b"[" * 3000 + b"]" * 3000, b'{"a":' * 1500 + b'"b"' + b"}" * 1500):
        with pytest.raises(s3.exceptions.ClientError) as exc:
            s3.put_object(
                Bucket=bucket,
                Key="k",
                Body=b"x",
                ServerSideEncryption="aws:kms",
                SSEKMSEncryptionContext=base64.b64encode(nested).decode(),
            )
        assert exc.value.response["Error"]["Code"] == "InvalidArgument"
