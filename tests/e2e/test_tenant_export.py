"""`strongroom tenant export TENANT DIR` against a running server, as a subprocess with the tenant admin's own key:
every object byte for byte with its metadata, the documented layout, SSE-C skipped or exported with its key,
re-runs into the same directory, and who may not export (operators, another tenant's admin)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import tests.conftest as ct
from tests.e2e.tenantdata import TenantData, cli, make_tenant

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = ct.start_server(tmp_path_factory.mktemp("tenant-export") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tenant(srv: Server) -> TenantData:
    return make_tenant(srv, f"exp-{uuid.uuid4().hex[:8]}")


def export(srv: Server, t: TenantData, out: Path, *extra: str) -> Any:
    return cli(srv, "tenant", "export", t.name, str(out), "--json", *extra, access=t.access, secret=t.secret)


def manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def by_key(m: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["bucket"], o["key"]): o for o in m["objects"]}


def all_text(out: Path) -> str:
    return "\n".join(p.read_bytes().decode("latin-1") for p in out.rglob("*") if p.is_file())


def test_export_round_trips_every_object_byte_for_byte(srv: Server, tenant: TenantData, tmp_path: Path) -> None:
    out = tmp_path / "export"
    got = export(srv, tenant, out, "--sse-c-key", base64.b64encode(tenant.ssec_key).decode())
    assert got.returncode == 0, got.stdout + got.stderr
    summary = json.loads(got.stdout)
    assert summary["complete"] is True and summary["exported"] == len(tenant.objects) == summary["objects"]
    m = manifest(out)
    assert m["format"] == "strongroom.tenant-export.v1" and m["tenant"] == tenant.name and m["complete"] is True
    assert m["exported_by"]["arn"] == f"arn:aws:iam::{tenant.name}:user/boss"
    assert m["counts"]["bytes"] == sum(len(v) for v in tenant.objects.values())
    entries = by_key(m)
    assert set(entries) == set(tenant.objects)
    s3 = tenant.s3(srv)
    paths = set()
    for (bucket, key), data in tenant.objects.items():
        e = entries[(bucket, key)]
        assert e["status"] == "exported"
        path = out / e["path"]
        assert path.parent == out / "objects" / bucket  # one flat folder per bucket, whatever the key holds
        assert path.read_bytes() == data, key
        assert e["size"] == len(data) and e["sha256"] == hashlib.sha256(data).hexdigest()
        assert e["sse"]["mode"] == tenant.sse[(bucket, key)], key
        head_kw = (
            {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": tenant.ssec_key} if key == "customer-keyed" else {}
        )
        head = s3.head_object(Bucket=bucket, Key=key, **head_kw)
        assert e["etag"] == head["ETag"].strip('"')
        assert "<AccessControlPolicy" in e["acl"]
        paths.add(e["path"].casefold())
    assert len(paths) == len(tenant.objects)  # no two objects share a file name, even case-insensitively
    described = entries[(tenant.buckets[0], "described.txt")]
    assert described["content_type"] == "text/plain; charset=utf-8" and described["cache_control"] == "no-cache"
    assert described["metadata"] == {"owner": "ana", "project": "leaving"}
    assert entries[(tenant.buckets[0], "kms-explicit")]["sse"]["kms_key_id"] == tenant.kms_key
    assert entries[(tenant.buckets[1], "kms-default")]["sse"]["kms_key_id"] == tenant.kms_key
    assert entries[(tenant.buckets[0], "big")]["etag"].endswith("-2")  # the multipart object, whole
    # every key is stored under a name a filesystem takes: no separators, no dot names, at most 200 bytes
    for e in m["objects"]:
        name = e["path"].rpartition("/")[2]
        assert name.isascii() and len(name) <= 200 and not name.startswith(".") and "/" not in name


def test_export_layout_buckets_identities_keys(srv: Server, tenant: TenantData, tmp_path: Path) -> None:
    out = tmp_path / "export"
    got = export(srv, tenant, out)
    assert got.returncode == 1, got.stdout + got.stderr  # the SSE-C object without its key: incomplete
    assert sorted(p.name for p in out.iterdir()) == [
        "audit.jsonl",
        "buckets.json",
        "iam.json",
        "keys.json",
        "manifest.json",
        "objects",
    ]
    m = manifest(out)
    assert m["audit"] == "audit.jsonl"
    # the tenant's own chain, verifiable offline with the vault's checkpoint key
    from strongroom.audit.verify import verify
    from strongroom.http.admin.client import AdminClient  # noqa: F401 - the export used it

    keys = {int(v): base64.b64decode(k) for v, k in srv.admin().request("GET", "/audit/public-key")["keys"].items()}
    lines = (out / "audit.jsonl").read_text().splitlines()
    result = verify(lines, keys)
    assert result.ok and result.chain == tenant.name and result.entries > 0, result.describe()
    buckets = {b["name"]: b for b in json.loads((out / "buckets.json").read_text())}
    a, b = tenant.buckets
    assert set(buckets) == {a, b}
    assert buckets[a]["policy"]["Statement"][0]["Sid"] == "MemberReads"
    assert buckets[b]["policy"] is None
    assert "aws:kms" in buckets[b]["encryption"] and tenant.kms_key in buckets[b]["encryption"]
    assert "<AccessControlPolicy" in buckets[a]["acl"] and buckets[a]["region"] == "local"
    iam = json.loads((out / "iam.json").read_text())
    users = {u["name"]: u for u in iam["users"]}
    assert set(users) == {"boss", "reader"} and users["boss"]["admin"] is True
    assert users["reader"]["policy"]["Statement"][0]["Action"] == "s3:ListBucket"
    assert users["reader"]["groups"] == ["team"] and len(users["reader"]["access_keys"]) == 1
    assert [k["access_key_id"] for k in users["boss"]["access_keys"]] == [tenant.access]
    assert [g["name"] for g in iam["groups"]] == ["team"] and iam["groups"][0]["members"] == ["reader"]
    assert iam["tenant"]["name"] == tenant.name
    keys = json.loads((out / "keys.json").read_text())
    assert keys["status"] == "exported" and m["keys"] == "exported"
    named = {k["name"]: k for k in keys["keys"]}
    assert named[tenant.kms_key]["type"] == "aes256-gcm96" and named[tenant.kms_key]["latest_version"] == 2
    assert sorted(named[tenant.kms_key]["keys"]) == ["1", "2"]  # versions and creation times, no material
    assert sum(1 for n in named if n.startswith("bucket-")) == 2  # each bucket's own SSE-S3 key
    assert [s["path"] for s in keys["secrets"]] == ["app/db"]
    # never a secret: not the S3 secret key, not the SSE-C key, not a KV value
    text = all_text(out)
    assert tenant.secret not in text and "kv-secret-value-0123" not in text
    assert base64.b64encode(tenant.ssec_key).decode() not in text
    skipped = by_key(m)[(a, "customer-keyed")]
    assert skipped["status"] == "skipped" and skipped["sse"] == {"mode": "SSE-C"}
    assert "--sse-c-key" in skipped["reason"]
    assert not (out / skipped["path"]).exists()
    assert m["counts"]["skipped"] == 1 and m["complete"] is False


def test_a_wrong_sse_c_key_skips_the_object(srv: Server, tenant: TenantData, tmp_path: Path) -> None:
    out = tmp_path / "export"
    got = export(srv, tenant, out, "--sse-c-key", base64.b64encode(b"\x07" * 32).decode())
    assert got.returncode == 1
    e = by_key(manifest(out))[(tenant.buckets[0], "customer-keyed")]
    assert e["status"] == "skipped" and "none of the --sse-c-key keys" in e["reason"]


def test_a_second_run_into_the_same_directory_keeps_what_is_current(
    srv: Server, tenant: TenantData, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    ssec = base64.b64encode(tenant.ssec_key).decode()
    first = export(srv, tenant, out, "--sse-c-key", ssec)
    assert first.returncode == 0, first.stderr
    a = tenant.buckets[0]
    s3 = tenant.s3(srv)
    s3.put_object(Bucket=a, Key="added-later", Body=b"new")
    s3.put_object(Bucket=a, Key="one", Body=b"changed")
    old_path = out / by_key(manifest(out))[(a, "one")]["path"]
    (out / "objects" / a / "stray-file").write_bytes(b"not the tenant's")
    (out / "objects" / a / ".interrupted.part").write_bytes(b"half")
    try:
        second = export(srv, tenant, out, "--sse-c-key", ssec)
        assert second.returncode == 0, second.stderr
        summary = json.loads(second.stdout)
        assert summary["objects"] == len(tenant.objects) + 1
        assert summary["reused"] == len(tenant.objects) - 1  # all but the changed one
        m = by_key(manifest(out))
        assert (out / m[(a, "one")]["path"]).read_bytes() == b"changed" and old_path.read_bytes() == b"changed"
        assert (out / m[(a, "added-later")]["path"]).read_bytes() == b"new"
        assert not (out / "objects" / a / "stray-file").exists()
        assert not (out / "objects" / a / ".interrupted.part").exists()
        # a deleted object's file goes with it
        s3.delete_object(Bucket=a, Key="added-later")
        third = export(srv, tenant, out, "--sse-c-key", ssec)
        assert third.returncode == 0 and (a, "added-later") not in by_key(manifest(out))
        assert sorted(p.name for p in (out / "objects" / a).iterdir()) == sorted(
            e["path"].rpartition("/")[2] for e in manifest(out)["objects"] if e["bucket"] == a
        )
    finally:
        s3.put_object(Bucket=a, Key="one", Body=tenant.objects[(a, "one")])
        s3.delete_object(Bucket=a, Key="added-later")


def test_a_file_altered_since_the_last_run_is_fetched_again(srv: Server, tenant: TenantData, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert export(srv, tenant, out).returncode == 1
    e = by_key(manifest(out))[(tenant.buckets[0], "kms-explicit")]
    (out / e["path"]).write_bytes(b"\xff" + (out / e["path"]).read_bytes()[1:])  # same size, other bytes
    again = export(srv, tenant, out)
    assert again.returncode == 1
    assert json.loads(again.stdout)["reused"] == len(tenant.objects) - 2  # not the altered one, not the SSE-C one
    assert (out / e["path"]).read_bytes() == tenant.objects[(tenant.buckets[0], "kms-explicit")]


def test_operators_cannot_export_tenant_data(srv: Server, tenant: TenantData, tmp_path: Path) -> None:
    out = tmp_path / "export"
    got = cli(srv, "tenant", "export", tenant.name, str(out), access=ct.OPERATOR_ACCESS, secret=ct.OPERATOR_SECRET)
    assert got.returncode == 2 and "operators cannot export tenant data" in got.stderr
    assert not out.exists()
    # nor does the server hand them the data when asked directly
    op = srv.client(access=ct.OPERATOR_ACCESS, secret=ct.OPERATOR_SECRET)
    with pytest.raises(Exception) as ei:
        op.get_object(Bucket=tenant.buckets[0], Key="one")
    assert ei.value.response["Error"]["Code"] == "AccessDenied"  # type: ignore[attr-defined]


def test_another_tenants_admin_cannot_export_it(srv: Server, tenant: TenantData, tmp_path: Path) -> None:
    out = tmp_path / "export"
    got = cli(srv, "tenant", "export", tenant.name, str(out), access=ct.ROOT_ACCESS, secret=ct.ROOT_SECRET)
    assert got.returncode == 2 and f"runs with an admin key of {tenant.name}" in got.stderr
    assert not out.exists()


def test_an_interrupted_run_continues_from_its_journal(srv: Server, tenant: TenantData, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert export(srv, tenant, out).returncode == 1
    m = manifest(out)
    # as if the run had stopped before its manifest: the journal of what it finished, half a file, no manifest
    (out / "manifest.json").unlink()
    exported = [o for o in m["objects"] if o["status"] == "exported"]
    with (out / ".export-journal.jsonl").open("w") as journal:
        for o in exported[:5]:
            journal.write(json.dumps(o) + "\n")
    (out / "objects" / tenant.buckets[0] / ".big.part").write_bytes(b"half")
    again = export(srv, tenant, out)
    assert again.returncode == 1
    assert json.loads(again.stdout)["reused"] == 5
    assert (
        not (out / ".export-journal.jsonl").exists()
        and not (out / "objects" / tenant.buckets[0] / ".big.part").exists()
    )
    assert by_key(manifest(out)).keys() == by_key(m).keys()


def test_an_unrelated_directory_is_not_written_to(srv: Server, tenant: TenantData, tmp_path: Path) -> None:
    out = tmp_path / "home"
    precious = out / "objects" / tenant.buckets[0] / "precious"
    precious.parent.mkdir(parents=True)
    precious.write_bytes(b"mine")
    got = export(srv, tenant, out)
    assert got.returncode == 2 and "neither empty nor an earlier export" in got.stderr
    assert precious.read_bytes() == b"mine" and [p.name for p in out.iterdir()] == ["objects"]
