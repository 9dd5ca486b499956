"""The audit log end to end: every S3 and admin operation (refused and failed ones included) leaves one entry in the
right chains; a write whose entry cannot be made durable fails and changes nothing, and reads fail closed too;
exports verify offline with the vault's checkpoint key and fail when tampered with."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import httpx
import pytest
from tests.conftest import OPERATOR_ACCESS, OPERATOR_SECRET, ROOT_ACCESS, ROOT_SECRET, Server, start_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("audit") / "data")
    yield server
    server.stop()


def entries(srv: Server, access: str = ROOT_ACCESS, secret: str = ROOT_SECRET, **filters: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"limit": "1000", **filters})
    return list(srv.admin(access, secret).request("GET", f"/audit/entries?{query}")["entries"])


def by_request(srv: Server, request_id: str, **kw: Any) -> dict[str, Any]:
    got = [e for e in entries(srv, **kw) if e["request_id"] == request_id]
    assert len(got) == 1, got
    return got[0]


def rid(response: dict[str, Any]) -> str:
    return str(response["ResponseMetadata"]["RequestId"])


def test_data_operations_record_who_what_outcome_bytes_and_key(srv: Server) -> None:
    s3 = srv.client()
    s3.create_bucket(Bucket="ledger")
    # a presigned PUT: the body on the wire is exactly the object (boto3's own PUTs frame it as aws-chunked)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "ledger", "Key": "q3/report.csv"})
    put = httpx.put(url, content=b"x" * 1234, verify=srv.ca, headers={"user-agent": "Boto3/test"})
    assert put.status_code == 200
    get = s3.get_object(Bucket="ledger", Key="q3/report.csv")
    assert get["Body"].read() == b"x" * 1234
    e = by_request(srv, put.headers["x-amz-request-id"])
    assert e["operation"] == "PutObject" and e["action"] == "s3:PutObject"
    assert e["resource"] == "arn:aws:s3:::ledger/q3/report.csv"
    assert e["principal"] == {
        "type": "admin",
        "tenant": "default",
        "user": "admin",
        "access_key": ROOT_ACCESS,
        "arn": "arn:aws:iam::default:user/admin",
    }
    assert (e["outcome"], e["status"], e["bytes_in"]) == ("success", 200, 1234)
    assert e["chain"] == "default" and e["tenant"] == "default" and e["api"] == "s3"
    assert e["key"]["name"].startswith("bucket-") and e["key"]["version"] >= 1
    assert e["source_ip"] == "127.0.0.1" and "Boto3" in e["user_agent"]
    g = by_request(srv, rid(get))
    assert (g["operation"], g["outcome"], g["status"], g["bytes_out"]) == ("GetObject", "success", 200, 1234)
    assert g["key"] == e["key"]
    assert g["seq"] > e["seq"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket="ledger", Key="missing")
    m = by_request(srv, exc.value.response["ResponseMetadata"]["RequestId"])
    assert (m["outcome"], m["status"], m["error"]) == ("failed", 404, "NoSuchKey")
    d = s3.delete_object(Bucket="ledger", Key="q3/report.csv")
    de = by_request(srv, rid(d))
    assert (de["operation"], de["status"], de["outcome"]) == ("DeleteObject", 204, "success")


def test_refused_requests_are_audited(srv: Server) -> None:
    srv.client().create_bucket(Bucket="refusals")
    bad = srv.client(secret="not-the-secret-0123456789abcdefghijklmn")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        bad.list_objects_v2(Bucket="refusals")
    assert exc.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    e = by_request(srv, exc.value.response["ResponseMetadata"]["RequestId"])
    assert e["principal"] == {"type": "unauthenticated", "access_key": ROOT_ACCESS}
    assert (e["outcome"], e["status"], e["error"]) == ("denied", 403, "SignatureDoesNotMatch")
    assert e["operation"] == "ListObjectsV2" and e["resource"] == "arn:aws:s3:::refusals"

    # anonymous: denied, in the bucket owner's chain
    r = httpx.get(f"{srv.endpoint}/refusals/anything", verify=srv.ca)
    assert r.status_code == 403
    a = by_request(srv, r.headers["x-amz-request-id"])
    assert a["principal"] == {"type": "anonymous"} and a["outcome"] == "denied" and a["error"] == "AccessDenied"

    # an access key nobody has: the operators' chain (no tenant is known)
    unknown = srv.client(access="AKIANOSUCHKEY0000000", secret="x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        unknown.list_buckets()
    assert exc.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    u = by_request(
        srv, exc.value.response["ResponseMetadata"]["RequestId"], access=OPERATOR_ACCESS, secret=OPERATOR_SECRET
    )
    assert u["chain"] == "system" and u["principal"] == {
        "type": "unauthenticated",
        "access_key": "AKIANOSUCHKEY0000000",
    }


def test_chains_follow_the_tenants(srv: Server) -> None:
    s3 = srv.client()
    s3.create_bucket(Bucket="acme-private")
    s3.put_object(Bucket="acme-private", Key="k", Body=b"secret bytes")
    other = srv.admin(OPERATOR_ACCESS, OPERATOR_SECRET).request("POST", "/tenants", {"name": "globex"})
    ak, sk = other["access_key"]["access_key_id"], other["access_key"]["secret_access_key"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        srv.client(access=ak, secret=sk).get_object(Bucket="acme-private", Key="k")
    stranger = exc.value.response["ResponseMetadata"]["RequestId"]
    # the stranger's refusal is in its own chain, not in the owner's (which must not learn the stranger's name)
    assert by_request(srv, stranger, access=ak, secret=sk)["outcome"] == "denied"
    assert [e for e in entries(srv) if e["request_id"] == stranger] == []
    # an operator's attempt on tenant data is in both the operators' chain and the tenant's
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        srv.client(access=OPERATOR_ACCESS, secret=OPERATOR_SECRET).get_object(Bucket="acme-private", Key="k")
    op_rid = exc.value.response["ResponseMetadata"]["RequestId"]
    mine = by_request(srv, op_rid)
    theirs = by_request(srv, op_rid, access=OPERATOR_ACCESS, secret=OPERATOR_SECRET)
    assert mine["chain"] == "default" and theirs["chain"] == "system"
    assert mine["principal"]["type"] == "operator" and mine["outcome"] == "denied"
    # nobody reads another tenant's chain
    # (another tenant is told it does not exist; an operator, who may know it does, is refused)
    for access, secret, status in ((ak, sk, 404), (OPERATOR_ACCESS, OPERATOR_SECRET, 403)):
        with pytest.raises(Exception) as denied:
            entries(srv, access, secret, tenant="default")
        assert getattr(denied.value, "status", None) == status
    # the admin API itself is audited: the tenant creation is in the operators' chain
    created = [e for e in entries(srv, OPERATOR_ACCESS, OPERATOR_SECRET, action="strongroom:CreateTenant")]
    assert len(created) == 1 and created[0]["status"] == 201 and created[0]["api"] == "admin"


def _block_audit(srv: Server, on: bool) -> None:
    with sqlite3.connect(srv.data_dir / "strongroom.db", timeout=30) as db:
        if on:
            db.execute(
                "CREATE TRIGGER audit_blocked BEFORE INSERT ON audit_entries "
                "BEGIN SELECT RAISE(ABORT, 'audit store unwritable'); END"
            )
        else:
            db.execute("DROP TRIGGER audit_blocked")


def test_fail_closed_when_the_audit_log_cannot_be_written(srv: Server) -> None:
    s3 = srv.client()
    s3.create_bucket(Bucket="failclosed")
    s3.put_object(Bucket="failclosed", Key="doc", Body=b"version one")
    _block_audit(srv, True)
    try:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.put_object(Bucket="failclosed", Key="doc", Body=b"version two")
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert exc.value.response["Error"]["Code"] == "ServiceUnavailable"
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.put_object(Bucket="failclosed", Key="new", Body=b"never stored")
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.get_object(Bucket="failclosed", Key="doc")
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.delete_object(Bucket="failclosed", Key="doc")
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        with pytest.raises(Exception) as admin_exc:
            srv.admin().request("POST", "/tenants/default/users", {"name": "ghost"})
        assert getattr(admin_exc.value, "status", None) == 503
    finally:
        _block_audit(srv, False)
    # nothing was changed: the old version, no new object, no user
    assert s3.get_object(Bucket="failclosed", Key="doc")["Body"].read() == b"version one"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="failclosed").get("Contents", [])] == ["doc"]
    users = srv.admin().request("GET", "/tenants/default/users")
    assert "ghost" not in [u["name"] for u in users]


def _cli(
    srv: Server, *args: str, access: str = ROOT_ACCESS, secret: str = ROOT_SECRET
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AWS_ACCESS_KEY_ID=access, AWS_SECRET_ACCESS_KEY=secret)
    return subprocess.run(
        [sys.executable, "-m", "strongroom", *args, "--data-dir", str(srv.data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_export_verifies_offline_and_tampering_is_named(srv: Server, tmp_path: Path) -> None:
    s3 = srv.client()
    s3.create_bucket(Bucket="exported")
    for i in range(5):
        s3.put_object(Bucket="exported", Key=f"k{i}", Body=b"%d" % i)
    out = _cli(srv, "audit", "export", "--tenant", "default")
    assert out.returncode == 0, out.stderr
    export = tmp_path / "audit.jsonl"
    export.write_text(out.stdout)
    keyfile = tmp_path / "audit-key.json"
    pub = _cli(srv, "audit", "public-key")
    assert pub.returncode == 0, pub.stderr
    keyfile.write_text(pub.stdout)
    assert len(base64.b64decode(json.loads(pub.stdout)["keys"]["1"])) == 32

    def check(path: Path) -> subprocess.CompletedProcess[str]:
        # offline: no server address, data directory or credentials are given to verify
        return subprocess.run(
            [sys.executable, "-m", "strongroom", "audit", "verify", str(path), "--public-key", str(keyfile)],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        )

    ok = check(export)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: chain default")
    lines = export.read_text().splitlines()
    puts = [i for i, line in enumerate(lines) if '"operation":"PutObject"' in line]
    target = puts[-2]
    doc = json.loads(lines[target])
    doc["bytes_in"] += 1
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines[:target] + [json.dumps(doc)] + lines[target + 1 :]) + "\n")
    bad = check(tampered)
    assert bad.returncode == 1
    assert f"line {target + 1} (entry seq {doc['seq']})" in bad.stderr and "edited" in bad.stderr
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("\n".join(lines[:-1]) + "\n")
    cut = check(truncated)
    assert cut.returncode == 1 and "truncated" in cut.stderr


def test_no_secret_signature_or_key_reaches_the_audit_log(srv: Server) -> None:
    s3 = srv.client()
    s3.create_bucket(Bucket="nosecrets")
    ssec = os.urandom(32)
    s3.put_object(
        Bucket="nosecrets", Key="c", Body=b"customer keyed", SSECustomerAlgorithm="AES256", SSECustomerKey=ssec
    )
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "nosecrets", "Key": "c"}, ExpiresIn=300)
    signature = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Signature"][0]
    httpx.get(url, verify=srv.ca)  # refused (no SSE-C key): audited all the same
    time.sleep(0.2)
    with sqlite3.connect(srv.data_dir / "strongroom.db") as db:
        bodies = "\n".join(r[0] for r in db.execute("SELECT body FROM audit_entries"))
    assert signature in url and '"operation":"GetObject"' in bodies
    for secret in (
        ROOT_SECRET,
        OPERATOR_SECRET,
        signature,
        base64.b64encode(ssec).decode(),
        ssec.hex(),
        base64.b64encode(hashlib.md5(ssec).digest()).decode(),
    ):  # noqa: S324 - SSE-C's key MD5 header
        assert secret not in bodies


def test_vault_calls_are_in_the_tenants_chain(srv: Server) -> None:
    import hvac.exceptions

    vault = srv.tenant_vault()
    vault.secrets.transit.create_key(name="ledger-key")
    vault.secrets.transit.encrypt_data(name="ledger-key", plaintext=base64.b64encode(b"top secret").decode())
    got = [e for e in entries(srv, action="vault:update") if e["resource"].startswith("vault:default/transit/")]
    made = [e for e in got if e["resource"] == "vault:default/transit/keys/ledger-key"]
    assert len(made) == 1 and made[0]["api"] == "vault" and made[0]["outcome"] == "success"
    assert made[0]["principal"]["type"] == "token" and made[0]["principal"]["namespace"] == "default"
    assert "client_token" not in json.dumps(made[0]) and vault.token not in json.dumps(got)
    enc = [e for e in got if e["resource"] == "vault:default/transit/encrypt/ledger-key"]
    assert len(enc) == 1 and enc[0]["status"] == 200
    # a refused call (a token that does not exist) is recorded as denied
    bad = srv.tenant_vault()
    bad.token = "hvs.not-a-token"
    with pytest.raises(hvac.exceptions.Forbidden):
        bad.secrets.transit.encrypt_data(name="ledger-key", plaintext=base64.b64encode(b"x").decode())
    denied = [e for e in entries(srv, outcome="denied") if e["resource"] == "vault:default/transit/encrypt/ledger-key"]
    assert denied and denied[0]["principal"] == {"type": "anonymous"} and denied[0]["status"] == 403
    # the gateway's release of a bucket key for a data operation names the key, its version, the bucket, whom the
    # gateway acted for, the operation and why
    s3 = srv.client()
    s3.create_bucket(Bucket="released")
    s3.put_object(Bucket="released", Key="k", Body=b"v")
    releases = [
        e
        for e in entries(srv, principal="gateway")
        if e["resource"].startswith("vault:default/strongroom/internal/bucket-key/") and e.get("bucket") == "released"
    ]
    assert releases, "no key release recorded"
    assert releases[0]["key"]["name"].startswith("bucket-") and releases[0]["key"]["version"] >= 1
    assert releases[0]["justification"] == "customer-initiated" and releases[0]["outcome"] == "success"
    assert releases[0]["acting_principal"] == {
        "type": "user",
        "tenant": "default",
        "user": "admin",
        "access_key": ROOT_ACCESS,
    }
    assert releases[0]["acting_operation"] == "s3:PutObject"
