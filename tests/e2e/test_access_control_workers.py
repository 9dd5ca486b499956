"""Access decisions stay exact across gateway processes (``--workers 2`` on one database).

Each worker caches what it learnt of a bucket (owner, policy, ACL, blocks) for up to a second; a service that loads
the bucket row compares its ``access_version`` with what authorization saw and decides again when it changed. So a
bucket policy revoked through one worker is enforced at once by the other, whose cache still holds the grant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import tests.conftest as _ct
from botocore.exceptions import ClientError

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ct.Server]:
    srv = _ct.start_server(tmp_path_factory.mktemp("workers") / "data", ["--workers", "2"])
    yield srv
    srv.stop()


def _fresh(srv: _ct.Server, access: str, secret: str) -> Any:
    """A client whose connections are new (the kernel spreads new connections over both workers)."""
    return srv.client(access=access, secret=secret, max_pool_connections=1, tcp_keepalive=False)


def _status(fn: Any) -> int:
    try:
        fn()
    except ClientError as exc:
        return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
    return 200


def test_revoked_bucket_policy_is_enforced_by_every_worker_at_once(two_workers: _ct.Server) -> None:
    srv = two_workers
    tenant = "w" + uuid.uuid4().hex[:8]
    made = srv.admin(_ct.OPERATOR_ACCESS, _ct.OPERATOR_SECRET).request("POST", "/tenants", {"name": tenant})
    other_key = made["access_key"]
    reader = (other_key["access_key_id"], other_key["secret_access_key"])
    bucket = "shared-" + uuid.uuid4().hex[:8]
    owner = srv.client()
    owner.create_bucket(Bucket=bucket)
    owner.put_object(Bucket=bucket, Key="doc", Body=b"shared document")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{tenant}:root"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    owner.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    # warm both workers: many fresh connections, each read allowed (and each worker caching the grant)
    for _ in range(12):
        c = _fresh(srv, *reader)
        assert c.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"shared document"
        c.close()
    owner.delete_bucket_policy(Bucket=bucket)
    # at once, through whichever worker: refused (the bucket looks missing to a tenant it grants nothing)
    statuses = []
    for _ in range(12):
        c = _fresh(srv, *reader)
        statuses.append(_status(lambda c=c: c.get_object(Bucket=bucket, Key="doc")))
        c.close()
    assert statuses == [404] * 12, statuses


def test_disabled_key_is_refused_by_every_worker_within_a_second(two_workers: _ct.Server) -> None:
    import time

    srv = two_workers
    admin = srv.admin()
    user = "u" + uuid.uuid4().hex[:8]
    admin.request("POST", "/tenants/default/users", {"name": user, "admin": True})
    key = admin.request("POST", f"/tenants/default/users/{user}/access-keys")
    creds = (key["access_key_id"], key["secret_access_key"])
    for _ in range(8):
        c = _fresh(srv, *creds)
        c.list_buckets()
        c.close()
    admin.request("PATCH", f"/access-keys/{creds[0]}", {"status": "Inactive"})
    time.sleep(1.1)  # the longest a worker keeps what it knew of a key
    statuses = []
    for _ in range(12):
        c = _fresh(srv, *creds)
        statuses.append(_status(c.list_buckets))
        c.close()
    assert statuses == [403] * 12, statuses


