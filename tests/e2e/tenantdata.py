"""A tenant with something of everything, for the export and crypto-shred tests: made by an operator through the
admin API, filled by its own admin through S3 (boto3) and its vault namespace (hvac)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tests.conftest as ct

if TYPE_CHECKING:
    from tests.conftest import Server

MiB = 1024 * 1024
#: keys that are awkward as file names: dot segments, separators, unicode, case twins, too long for one name
AWKWARD_KEYS = [
    "..",
    ".",
    "../x",
    "./y",
    "/leading",
    "a//b",
    "trailing/",
    "dir/ünïcödé €.txt",
    "Case",
    "case",
    "with space and %25 and ~tilde",
    "k" * 1000,
]


@dataclass
class TenantData:
    name: str
    access: str
    secret: str
    kms_key: str
    ssec_key: bytes
    buckets: list[str]
    #: (bucket, key) -> the bytes put there
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    #: (bucket, key) -> "SSE-S3" | "SSE-KMS" | "SSE-C"
    sse: dict[tuple[str, str], str] = field(default_factory=dict)
    upload_ids: list[str] = field(default_factory=list)

    def s3(self, srv: Server) -> Any:
        return srv.client(access=self.access, secret=self.secret)


def body(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def make_tenant(srv: Server, name: str) -> TenantData:
    """Tenant ``name`` (admin ``boss``) with two buckets: ``NAME-a`` (SSE-S3 by default: empty, one byte, a 5 MiB+
    multipart, awkward keys, user metadata, one SSE-KMS and one SSE-C object, a bucket policy) and ``NAME-b``
    (SSE-KMS by default with the tenant's own key); a member with a policy, a group; a multipart upload left open."""
    op = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
    key = op.request("POST", "/tenants", {"name": name, "admin": "boss"})["access_key"]
    t = TenantData(
        name=name,
        access=key["access_key_id"],
        secret=key["secret_access_key"],
        kms_key=f"{name}-kms",
        ssec_key=bytes(range(32)),
        buckets=[f"{name}-a", f"{name}-b"],
    )
    vault = srv.tenant_vault(t.access, t.secret)
    vault.secrets.transit.create_key(name=t.kms_key)
    vault.secrets.transit.rotate_key(name=t.kms_key)
    vault.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"password": "kv-secret-value-0123"})
    s3 = t.s3(srv)
    a, b = t.buckets
    s3.create_bucket(Bucket=a)
    s3.create_bucket(Bucket=b)
    s3.put_bucket_encryption(
        Bucket=b,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": t.kms_key}}]
        },
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "MemberReads",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{name}:user/reader"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{a}/*",
            }
        ],
    }
    admin = srv.admin(t.access, t.secret)
    admin.request("POST", f"/tenants/{name}/users", {"name": "reader", "admin": False})
    admin.request(
        "PUT",
        f"/tenants/{name}/users/reader/policy",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]},
    )
    admin.request("POST", f"/tenants/{name}/users/reader/access-keys")
    admin.request("POST", f"/tenants/{name}/groups", {"name": "team"})
    admin.request("PUT", f"/tenants/{name}/groups/team/members/reader")
    s3.put_bucket_policy(Bucket=a, Policy=json.dumps(policy))

    def put(bucket: str, key: str, data: bytes, mode: str = "SSE-S3", **kw: Any) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=data, **kw)
        t.objects[(bucket, key)] = data
        t.sse[(bucket, key)] = mode

    put(a, "empty", b"")
    put(a, "one", b"\x00")
    for i, k in enumerate(AWKWARD_KEYS):
        put(a, k, f"object {i}: {k}".encode())
    put(
        a,
        "described.txt",
        b"text with metadata\n",
        ContentType="text/plain; charset=utf-8",
        Metadata={"owner": "ana", "project": "leaving"},
        CacheControl="no-cache",
    )
    put(a, "kms-explicit", body(70_000, 1), "SSE-KMS", ServerSideEncryption="aws:kms", SSEKMSKeyId=t.kms_key)
    put(
        a,
        "customer-keyed",
        body(3000, 2),
        "SSE-C",
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=t.ssec_key,
    )
    big = body(5 * MiB + 1234, 3)
    up = s3.create_multipart_upload(Bucket=a, Key="big")
    parts = []
    for n, chunk in enumerate((big[: 5 * MiB], big[5 * MiB :]), start=1):
        got = s3.upload_part(Bucket=a, Key="big", UploadId=up["UploadId"], PartNumber=n, Body=chunk)
        parts.append({"PartNumber": n, "ETag": got["ETag"]})
    s3.complete_multipart_upload(Bucket=a, Key="big", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
    t.objects[(a, "big")] = big
    t.sse[(a, "big")] = "SSE-S3"
    put(b, "kms-default", body(200_000, 4), "SSE-KMS")
    pending = s3.create_multipart_upload(Bucket=b, Key="pending")
    s3.upload_part(Bucket=b, Key="pending", UploadId=pending["UploadId"], PartNumber=1, Body=body(1000, 5))
    t.upload_ids.append(pending["UploadId"])
    return t


def cli(
    srv: Server,
    *args: str,
    access: str = "",
    secret: str = "",
    stdin: str | None = None,
    data_dir: bool = True,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python -m strongroom ARGS [--data-dir DATA]`` with the given S3 credentials, from the data dir's parent."""
    env = dict(os.environ)
    env.pop("STRONGROOM__RESOLVED_SETTINGS", None)
    env.pop("VAULT_ADDR", None)
    env["AWS_ACCESS_KEY_ID"] = access
    env["AWS_SECRET_ACCESS_KEY"] = secret
    return subprocess.run(
        [sys.executable, "-m", "strongroom", *args, *(["--data-dir", str(srv.data_dir)] if data_dir else [])],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        cwd=Path(srv.data_dir).parent,
    )
