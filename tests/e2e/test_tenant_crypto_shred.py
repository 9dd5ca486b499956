"""`strongroom tenant delete T --crypto-shred` against a running server: the operator's confirmation, what blocks it
(purge protection) and who may not (a tenant admin), the signed certificate verified offline (and refused when one
byte changes), and afterwards: no GET of the tenant's objects succeeds for anyone, its blobs and vault entries are
gone (a copy of a blob has no key left to open it), its name cannot be taken again, and all of that holds after a
restart. One server for the module: the restart test comes last."""

from __future__ import annotations

import base64
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hvac
import hvac.exceptions
import pytest
import tests.conftest as ct
from botocore.exceptions import ClientError
from tests.e2e.tenantdata import TenantData, cli, make_tenant

from strongroom.http.admin.client import AdminError
from strongroom.keys.certificates import TENANT_CERT_KIND, verify_certificate

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = ct.start_server(tmp_path_factory.mktemp("tenant-shred") / "data")
    yield server
    server.stop()


def op(srv: Server, *args: str, stdin: str | None = None) -> Any:
    return cli(srv, *args, access=ct.OPERATOR_ACCESS, secret=ct.OPERATOR_SECRET, stdin=stdin)


def s3_error(call: Callable[[], Any]) -> tuple[int, str]:
    try:
        call()
    except ClientError as exc:
        return int(exc.response["ResponseMetadata"]["HTTPStatusCode"]), str(exc.response["Error"]["Code"])
    return 200, ""


def db_rows(srv: Server, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(srv.data_dir / "strongroom.db")
    try:
        return list(db.execute(sql, args))
    finally:
        db.close()


def blob_files(srv: Server, blob_ids: set[str]) -> list[Path]:
    return [p for p in (srv.data_dir / "blobs").rglob("*") if p.is_file() and p.name in blob_ids]


def tenant_blob_ids(srv: Server, t: TenantData) -> set[str]:
    marks = ",".join("?" * len(t.buckets))
    rows = db_rows(
        srv,
        "SELECT p.blob_id FROM object_parts p JOIN objects o ON o.id = p.object_id JOIN buckets b ON b.id = o.bucket_id "
        f"WHERE b.name IN ({marks}) UNION SELECT u.blob_id FROM upload_parts u JOIN multipart_uploads m "
        f"ON m.upload_id = u.upload_id JOIN buckets b ON b.id = m.bucket_id WHERE b.name IN ({marks})",
        *t.buckets,
        *t.buckets,
    )
    return {r[0] for r in rows}


def vault_entries(srv: Server, tenant: str) -> int:
    return len(db_rows(srv, "SELECT path FROM vault_entries WHERE path LIKE ?", f"ns/{tenant}/%"))


def vault_client(srv: Server, token: str, namespace: str | None = None) -> hvac.Client:
    info = json.loads((srv.data_dir / "run" / "vault.json").read_text())
    return hvac.Client(url=info["url"], token=token, namespace=namespace, verify=srv.ca, timeout=30)


@pytest.fixture(scope="module")
def shredded(srv: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tenant made, filled, then crypto-shredded by the operator's CLI; what the tests compare with."""
    t = make_tenant(srv, f"shr-{uuid.uuid4().hex[:8]}")
    work = tmp_path_factory.mktemp("shred-work")
    blobs = tenant_blob_ids(srv, t)
    assert len(blobs) >= len(t.objects)  # every object has at least one blob; the open upload has one more
    copies = {}
    for path in blob_files(srv, blobs):
        copies[path.name] = path.read_bytes()  # what someone who kept a copy of the disk would hold
    assert len(copies) == len(blobs)
    bucket_ids = [r[0] for r in db_rows(srv, "SELECT id FROM buckets WHERE tenant_id = ?", t.name)]
    tenant_token = srv.tenant_vault(t.access, t.secret)
    assert vault_entries(srv, t.name) > 0
    # a bucket of another tenant grants this tenant (the review finding: a re-created name would inherit it)
    root = srv.client()
    granting = f"grants-{uuid.uuid4().hex[:8]}"
    root.create_bucket(Bucket=granting)
    root.put_object(Bucket=granting, Key="shared", Body=b"for the shredded tenant")
    root.put_bucket_policy(
        Bucket=granting,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{t.name}:root"},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{granting}/*",
                    }
                ],
            }
        ),
    )
    assert t.s3(srv).get_object(Bucket=granting, Key="shared")["Body"].read() == b"for the shredded tenant"
    out = op(srv, "tenant", "delete", t.name, "--crypto-shred", "--yes", "--certificate", str(work / "cert.json"))
    assert out.returncode == 0, out.stdout + out.stderr
    return {
        "tenant": t,
        "work": work,
        "blobs": blobs,
        "copies": copies,
        "bucket_ids": bucket_ids,
        "tenant_token": tenant_token,
        "granting": granting,
        "stdout": out.stdout,
        "stderr": out.stderr,
    }


# --- before: confirmation, who may, what blocks ----------------------------------------------------------------


def test_the_operator_is_asked_and_no_changes_nothing(srv: Server) -> None:
    t = make_tenant(srv, f"ask-{uuid.uuid4().hex[:8]}")
    out = op(srv, "tenant", "delete", t.name, "--crypto-shred", stdin="n\n")
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"crypto-shred tenant {t.name}: destroy 3 keys, delete {len(t.objects)} objects" in out.stderr
    assert "1 multipart uploads in 2 buckets, 2 users and 2 access keys" in out.stderr
    assert "nothing was changed" in out.stderr and out.stdout == ""
    a = t.buckets[0]
    assert t.s3(srv).get_object(Bucket=a, Key="one")["Body"].read() == t.objects[(a, "one")]


def test_a_tenant_admin_cannot_shred_even_its_own_tenant(srv: Server) -> None:
    t = make_tenant(srv, f"own-{uuid.uuid4().hex[:8]}")
    with pytest.raises(AdminError) as ei:
        srv.admin(t.access, t.secret).request("POST", f"/tenants/{t.name}/crypto-shred")
    assert (ei.value.status, ei.value.code) == (403, "AccessDenied")
    with pytest.raises(AdminError) as ei:
        srv.admin(t.access, t.secret).request("GET", f"/tenants/{t.name}/crypto-shred")
    assert (ei.value.status, ei.value.code) == (403, "AccessDenied")
    out = cli(srv, "tenant", "delete", t.name, "--crypto-shred", "--yes", access=t.access, secret=t.secret)
    assert out.returncode == 2 and "AccessDenied" in out.stderr


def test_the_system_tenant_and_unknown_tenants_cannot_be_shredded(srv: Server) -> None:
    operator = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
    with pytest.raises(AdminError) as ei:
        operator.request("POST", "/tenants/system/crypto-shred")
    assert (ei.value.status, ei.value.code) == (409, "DeleteConflict")
    with pytest.raises(AdminError) as ei:
        operator.request("POST", f"/tenants/nobody-{uuid.uuid4().hex[:6]}/crypto-shred")
    assert (ei.value.status, ei.value.code) == (404, "NoSuchEntity")


def test_a_purge_protected_key_blocks_the_shred_before_anything_changes(srv: Server) -> None:
    t = make_tenant(srv, f"pp-{uuid.uuid4().hex[:8]}")
    srv.tenant_vault(t.access, t.secret).adapter.post(f"/v1/strongroom/keys/{t.kms_key}/purge-protection")
    out = op(srv, "tenant", "delete", t.name, "--crypto-shred", "--yes")
    assert out.returncode == 2 and f"purge-protected keys not due for destruction: {t.kms_key}" in out.stderr
    with pytest.raises(AdminError) as ei:  # the API refuses it too, not only the CLI's preview
        srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET).request("POST", f"/tenants/{t.name}/crypto-shred")
    assert (ei.value.status, ei.value.code) == (409, "DeleteConflict")
    a = t.buckets[0]
    s3 = t.s3(srv)
    assert s3.get_object(Bucket=a, Key="kms-explicit")["Body"].read() == t.objects[(a, "kms-explicit")]
    s3.put_object(Bucket=a, Key="still-writable", Body=b"yes")  # not fenced either


# --- the certificate ---------------------------------------------------------------------------------------------


def test_the_certificate_says_what_was_destroyed_when_and_by_whom(srv: Server, shredded: dict[str, Any]) -> None:
    t: TenantData = shredded["tenant"]
    cert = json.loads(shredded["stdout"])
    assert json.loads((shredded["work"] / "cert.json").read_text()) == cert
    assert cert["kind"] == TENANT_CERT_KIND and cert["tenant"] == t.name
    assert cert["requested_by"] == {
        "arn": "arn:aws:iam::system:user/admin",
        "tenant": "system",
        "user": "admin",
        "access_key_id": ct.OPERATOR_ACCESS,
    }
    assert len(cert["request_id"]) == 16
    assert cert["started_at"] <= cert["keys_destroyed_at"] <= cert["completed_at"]
    keys = {k["name"]: k for k in cert["keys"]}
    assert keys[t.kms_key]["versions"] == [1, 2] and keys[t.kms_key]["state_before"] == "enabled"
    assert sorted(k for k in keys if k.startswith("bucket-")) == sorted(f"bucket-{b}" for b in shredded["bucket_ids"])
    data = cert["data"]
    assert data["objects"] == len(t.objects) and data["bytes"] == sum(len(v) for v in t.objects.values())
    assert data["uploads"] == 1 and data["upload_bytes"] == 1000
    assert sorted(b["name"] for b in data["buckets"]) == sorted(t.buckets)
    assert data["by_sse"]["SSE-C"] == {"objects": 1, "bytes": 3000}
    assert cert["secrets_deleted"] == 1
    assert "the tenant's vault namespace" in " ".join(cert["deleted"])
    assert "audit chain" in cert["kept"][0]
    # the operators' audit chain records the shred under the certificate's request id
    page = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET).request(
        "GET", "/audit/entries?action=strongroom:DeleteTenant&limit=1000"
    )
    (entry,) = [e for e in page["entries"] if e["request_id"] == cert["request_id"]]
    assert (entry["operation"], entry["outcome"], entry["status"]) == ("CryptoShredTenant", "success", 200)
    assert entry["resource"] == f"arn:strongroom:::tenant/{t.name}" and entry["principal"]["type"] == "operator"


def test_the_certificate_verifies_offline_against_the_published_key(srv: Server, shredded: dict[str, Any]) -> None:
    work: Path = shredded["work"]
    key = op(srv, "tenant", "certificate-key")
    assert key.returncode == 0, key.stderr
    (work / "vault-cert-key.txt").write_text(key.stdout)
    cert = json.loads((work / "cert.json").read_text())
    assert verify_certificate(cert, key.stdout.strip())
    ok = cli(
        srv,
        "tenant",
        "verify-certificate",
        str(work / "cert.json"),
        "--public-key",
        str(work / "vault-cert-key.txt"),
        data_dir=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"valid: tenant {shredded['tenant'].name} destroyed at {cert['completed_at']}")
    unpinned = cli(srv, "tenant", "verify-certificate", str(work / "cert.json"), data_dir=False)
    assert unpinned.returncode == 0 and "pass --public-key" in unpinned.stderr


def test_one_byte_changed_in_the_certificate_fails_verification(srv: Server, shredded: dict[str, Any]) -> None:
    work: Path = shredded["work"]
    if not (work / "vault-cert-key.txt").exists():
        (work / "vault-cert-key.txt").write_text(op(srv, "tenant", "certificate-key").stdout)
    text = (work / "cert.json").read_text()
    at = text.index('"objects": ') + len('"objects": ')
    forged = text[:at] + chr(ord(text[at]) ^ 1) + text[at + 1 :]  # one digit of the object count
    assert forged != text and len(forged) == len(text)
    (work / "forged.json").write_text(forged)
    bad = cli(
        srv,
        "tenant",
        "verify-certificate",
        str(work / "forged.json"),
        "--public-key",
        str(work / "vault-cert-key.txt"),
        data_dir=False,
    )
    assert bad.returncode == 1 and "INVALID" in bad.stderr
    # a certificate signed by some other key does not pass for the vault's
    other = base64.b64encode(bytes(32)).decode()
    (work / "other-key.txt").write_text(other)
    wrong = cli(
        srv,
        "tenant",
        "verify-certificate",
        str(work / "cert.json"),
        "--public-key",
        str(work / "other-key.txt"),
        data_dir=False,
    )
    assert wrong.returncode == 1 and "not signed by that key" in wrong.stderr


# --- after: nothing readable, nothing left -------------------------------------------------------------------------


def _nothing_is_readable(srv: Server, shredded: dict[str, Any]) -> None:
    t: TenantData = shredded["tenant"]
    a = t.buckets[0]
    # the tenant's own admin: its key is gone with the tenant
    assert s3_error(lambda: t.s3(srv).get_object(Bucket=a, Key="one")) == (403, "InvalidAccessKeyId")
    # anyone else: the bucket does not exist any more
    for who in (srv.client(), srv.client(access=ct.OPERATOR_ACCESS, secret=ct.OPERATOR_SECRET)):
        for bucket, key in t.objects:
            assert s3_error(lambda b=bucket, k=key: who.get_object(Bucket=b, Key=k)) == (404, "NoSuchBucket")
        assert s3_error(lambda w=who: w.list_objects_v2(Bucket=a)) == (404, "NoSuchBucket")
    assert a not in [b["Name"] for b in srv.client().list_buckets()["Buckets"]]
    # no metadata row, no blob file
    assert not db_rows(srv, "SELECT id FROM buckets WHERE tenant_id = ?", t.name)
    assert not db_rows(srv, "SELECT name FROM users WHERE tenant_id = ?", t.name)
    assert not db_rows(srv, "SELECT access_key_id FROM access_keys WHERE tenant_id = ?", t.name)
    assert not db_rows(srv, "SELECT id FROM tenants WHERE id = ?", t.name)
    marks = ",".join("?" * len(shredded["bucket_ids"]))
    assert not db_rows(srv, f"SELECT id FROM objects WHERE bucket_id IN ({marks})", *shredded["bucket_ids"])
    assert not db_rows(
        srv, f"SELECT upload_id FROM multipart_uploads WHERE bucket_id IN ({marks})", *shredded["bucket_ids"]
    )
    assert blob_files(srv, shredded["blobs"]) == []
    # the vault holds nothing of the namespace: no key material (not even a tombstone), no secret, no token
    assert vault_entries(srv, t.name) == 0
    old_token = vault_client(srv, shredded["tenant_token"].token, t.name)  # the vault moves ports on a restart
    with pytest.raises(hvac.exceptions.Forbidden):
        old_token.secrets.transit.read_key(name=t.kms_key)
    with pytest.raises((hvac.exceptions.Forbidden, hvac.exceptions.InvalidPath)):
        vault_client(srv, ct.ROOT_TOKEN, t.name).secrets.transit.read_key(name=t.kms_key)
    # a copy of a blob kept from before is ciphertext under keys that no longer exist anywhere
    copy = next(iter(shredded["copies"].values()))
    assert t.objects[(a, "kms-explicit")][:64] not in copy
    # the name is taken for good: a new tenant of that name would inherit the grants that name it
    with pytest.raises(AdminError) as ei:
        srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET).request("POST", "/tenants", {"name": t.name})
    assert (ei.value.status, ei.value.code) == (409, "EntityAlreadyExists")
    assert "crypto-shredded" in ei.value.message
    # the plain delete and the tenant's details: gone
    out = op(srv, "tenant", "delete", t.name)
    assert out.returncode == 1 and "NoSuchEntity" in out.stderr


def test_no_object_of_the_tenant_can_be_read_and_nothing_is_left(srv: Server, shredded: dict[str, Any]) -> None:
    _nothing_is_readable(srv, shredded)


def test_shredding_again_returns_the_same_certificate(srv: Server, shredded: dict[str, Any]) -> None:
    t: TenantData = shredded["tenant"]
    again = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET).request("POST", f"/tenants/{t.name}/crypto-shred")
    assert again == json.loads(shredded["stdout"])
    with pytest.raises(AdminError) as ei:  # nothing left to preview
        srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET).request("GET", f"/tenants/{t.name}/crypto-shred")
    assert (ei.value.status, ei.value.code) == (404, "NoSuchEntity")


def test_other_tenants_are_untouched(srv: Server, shredded: dict[str, Any]) -> None:
    root = srv.client()
    assert root.get_object(Bucket=shredded["granting"], Key="shared")["Body"].read() == b"for the shredded tenant"


def test_after_a_restart_nothing_comes_back(srv: Server, shredded: dict[str, Any]) -> None:
    srv.restart()
    _nothing_is_readable(srv, shredded)
    t: TenantData = shredded["tenant"]
    again = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET).request("POST", f"/tenants/{t.name}/crypto-shred")
    assert again == json.loads(shredded["stdout"])
    assert t.name not in [
        x["name"] for x in srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET).request("GET", "/tenants")
    ]
