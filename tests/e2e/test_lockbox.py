"""The customer lockbox end to end, over real TLS: two tenants (acme, globex) and two operators.

An operator files a request, acme's admins are notified and answer; an approved grant lets that operator read
(GetObject, HeadObject, ListObjectsV2 under the prefix) and nothing else: not another bucket, prefix or tenant, no
writes, deletes or ACL changes, not after revocation or expiry, and no other operator. Every read under a grant is
audited in the operators' chain and in acme's, with the grant id. Expiry is tested by ageing the stored timestamps
(the server judges expiry from them), never by sleeping.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import tests.conftest as ct
from botocore.exceptions import ClientError
from sqlalchemy import create_engine, select
from tests.e2e import timeshift

from strongroom.http.admin.client import AdminClient, AdminError
from strongroom.metadata.models import Bucket, LockboxGrant, LockboxRequest

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.e2e

HOUR = 3600


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class World:
    srv: Server
    acme: str
    globex: str
    acme_admin: AdminClient
    acme_member: AdminClient
    globex_admin: AdminClient
    ops: AdminClient
    ops_s3: Any
    oncall_s3: Any  # a second operator
    oncall: AdminClient
    data: str  # acme's bucket with logs/ and private/
    other: str  # another acme bucket
    globex_bucket: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    srv = ct.start_server(tmp_path_factory.mktemp("lockbox") / "data")
    try:
        ops = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
        acme, globex = uid("acme"), uid("globex")
        a = ops.request("POST", "/tenants", {"name": acme})["access_key"]
        g = ops.request("POST", "/tenants", {"name": globex})["access_key"]
        acme_admin = srv.admin(a["access_key_id"], a["secret_access_key"])
        globex_admin = srv.admin(g["access_key_id"], g["secret_access_key"])
        acme_admin.request("POST", f"/tenants/{acme}/users", {"name": "member"})
        m = acme_admin.request("POST", f"/tenants/{acme}/users/member/access-keys")
        ops.request("POST", "/tenants/system/users", {"name": "oncall", "admin": True})
        o = ops.request("POST", "/tenants/system/users/oncall/access-keys")
        s3a = srv.client(access=a["access_key_id"], secret=a["secret_access_key"])
        s3g = srv.client(access=g["access_key_id"], secret=g["secret_access_key"])
        data, other, gb = uid("acme-data"), uid("acme-other"), uid("globex-data")
        for client, name in ((s3a, data), (s3a, other), (s3g, gb)):
            client.create_bucket(Bucket=name)
        for key in ("logs/a.txt", "logs/b.txt", "private/c.txt", "exact.txt", "exact.txt.bak"):
            s3a.put_object(Bucket=data, Key=key, Body=f"acme {key}".encode())
        s3a.put_object(Bucket=other, Key="logs/a.txt", Body=b"other")
        s3g.put_object(Bucket=gb, Key="logs/a.txt", Body=b"globex")
        yield World(
            srv=srv,
            acme=acme,
            globex=globex,
            acme_admin=acme_admin,
            acme_member=srv.admin(m["access_key_id"], m["secret_access_key"]),
            globex_admin=globex_admin,
            ops=ops,
            ops_s3=srv.client(access=ct.OPERATOR_ACCESS, secret=ct.OPERATOR_SECRET),
            oncall_s3=srv.client(access=o["access_key_id"], secret=o["secret_access_key"]),
            oncall=srv.admin(o["access_key_id"], o["secret_access_key"]),
            data=data,
            other=other,
            globex_bucket=gb,
        )
    finally:
        srv.stop()


def s3_code(call: Callable[[], Any]) -> str | None:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


def admin_error(call: Callable[[], Any]) -> AdminError:
    try:
        call()
    except AdminError as exc:
        return exc
    pytest.fail("the admin call succeeded")


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def file_request(w: World, **over: Any) -> dict[str, Any]:
    body = {
        "tenant": w.acme,
        "bucket": w.data,
        "prefix": "logs/",
        "reason": "customer ticket: corrupted log upload",
        "ticket": "SUP-1234",
        "duration_seconds": HOUR,
    }
    body.update(over)
    return dict(w.ops.request("POST", "/lockbox/requests", body))


def age(w: World, model: Any, row_id: str, hours: float) -> None:
    assert timeshift.age(w.srv.data_dir, model, hours, id=row_id) == 1


def reads(w: World, s3: Any | None = None) -> dict[str, str | None]:
    s3 = s3 or w.ops_s3
    return {
        "get": s3_code(lambda: s3.get_object(Bucket=w.data, Key="logs/a.txt")["Body"].read()),
        "head": s3_code(lambda: s3.head_object(Bucket=w.data, Key="logs/b.txt")),
        "list": s3_code(lambda: s3.list_objects_v2(Bucket=w.data, Prefix="logs/")),
    }


DENIED = {"get": "AccessDenied", "head": "403", "list": "AccessDenied"}
ALLOWED = {"get": None, "head": None, "list": None}


# --- without a grant --------------------------------------------------------------------------------------------


def test_without_a_grant_operators_are_refused(world: World) -> None:
    assert reads(world) == DENIED


def test_filing_is_for_operators_and_checked(world: World) -> None:
    w = world
    e = admin_error(lambda: file_request(w, duration_seconds=8 * HOUR + 1))
    assert (e.status, e.code) == (400, "InvalidRequest") and "8 hours" in e.message
    assert file_request(w, duration_seconds=8 * HOUR)["status"] == "pending"  # the maximum itself is fine
    assert admin_error(lambda: file_request(w, bucket=w.globex_bucket)).status == 400  # not acme's bucket
    assert admin_error(lambda: file_request(w, tenant="system")).status == 400
    assert admin_error(lambda: file_request(w, reason="  ")).status == 400
    assert admin_error(lambda: file_request(w, key="exact.txt")).status == 400  # a prefix and a key
    assert admin_error(lambda: file_request(w, tenant="no-such-tenant")).status == 404
    # tenants do not file lockbox requests (it is the operators' side: refused, not hidden)
    body = {"tenant": w.acme, "bucket": w.data, "reason": "r", "ticket": "t", "duration_seconds": HOUR}
    e = admin_error(lambda: w.acme_admin.request("POST", "/lockbox/requests", body))
    assert (e.status, e.code) == (403, "AccessDenied")


# --- request, approve, read in scope ----------------------------------------------------------------------------


def test_approved_grant_reads_only_in_scope_and_is_audited_in_both_chains(world: World) -> None:
    w = world
    req = file_request(w)
    rid = req["id"]
    assert req["status"] == "pending" and req["operator"] == "system/admin" and req["grant"] is None
    # acme's admins are told
    feed = w.acme_admin.request("GET", f"/tenants/{w.acme}/notices")["notices"]
    told = [n for n in feed if n["subject"] == rid]
    assert [n["kind"] for n in told] == ["lockbox.requested"]
    assert told[0]["body"]["reason"] == req["reason"] and told[0]["body"]["ticket"] == "SUP-1234"
    # ... and nobody else: globex cannot see it, nor act on it (404: it does not exist for globex)
    for call in (
        lambda: w.globex_admin.request("GET", f"/lockbox/requests/{rid}"),
        lambda: w.globex_admin.request("POST", f"/lockbox/requests/{rid}/approve"),
        lambda: w.globex_admin.request("POST", f"/lockbox/requests/{rid}/deny"),
    ):
        assert admin_error(call).status == 404
    assert rid not in [r["id"] for r in w.globex_admin.request("GET", "/lockbox/requests")]
    assert admin_error(lambda: w.globex_admin.request("GET", f"/tenants/{w.acme}/notices")).status == 404
    # only acme's admins answer: not a member of acme, not the operator who filed it, not another operator
    assert admin_error(lambda: w.acme_member.request("POST", f"/lockbox/requests/{rid}/approve")).status == 403
    assert admin_error(lambda: w.ops.request("POST", f"/lockbox/requests/{rid}/approve")).status == 403
    assert admin_error(lambda: w.oncall.request("POST", f"/lockbox/requests/{rid}/approve")).status == 403
    assert reads(w) == DENIED  # still pending

    got = w.acme_admin.request("POST", f"/lockbox/requests/{rid}/approve", {"note": "ok, ticket SUP-1234"})
    assert got["status"] == "approved" and got["decided_by"] == "admin" and got["note"] == "ok, ticket SUP-1234"
    grant = got["grant"]["id"]
    expires = dt.datetime.fromisoformat(got["grant"]["expires_at"])
    granted = dt.datetime.fromisoformat(got["grant"]["granted_at"])
    assert expires - granted == dt.timedelta(hours=1)
    assert admin_error(lambda: w.acme_admin.request("POST", f"/lockbox/requests/{rid}/approve")).status == 409

    s3 = w.ops_s3
    assert eventually(lambda: reads(w) == ALLOWED)
    body = s3.get_object(Bucket=w.data, Key="logs/a.txt")["Body"].read()
    assert body == b"acme logs/a.txt"
    assert s3.head_object(Bucket=w.data, Key="logs/b.txt")["ContentLength"] == len(b"acme logs/b.txt")
    listed = s3.list_objects_v2(Bucket=w.data, Prefix="logs/")
    assert [o["Key"] for o in listed["Contents"]] == ["logs/a.txt", "logs/b.txt"]
    assert s3.get_object_acl(Bucket=w.data, Key="logs/a.txt")["Grants"]
    # out of scope: another prefix, the whole bucket's listing, another bucket of acme, another tenant
    assert s3_code(lambda: s3.get_object(Bucket=w.data, Key="private/c.txt")) == "AccessDenied"
    assert s3_code(lambda: s3.list_objects_v2(Bucket=w.data)) == "AccessDenied"
    assert s3_code(lambda: s3.list_objects_v2(Bucket=w.data, Prefix="private/")) == "AccessDenied"
    assert s3_code(lambda: s3.list_objects_v2(Bucket=w.data, Prefix="log")) == "AccessDenied"
    assert s3_code(lambda: s3.get_object(Bucket=w.other, Key="logs/a.txt")) == "AccessDenied"
    assert s3_code(lambda: s3.get_object(Bucket=w.globex_bucket, Key="logs/a.txt")) == "AccessDenied"
    # read only: no write, delete, ACL or policy change even inside the scope
    assert s3_code(lambda: s3.put_object(Bucket=w.data, Key="logs/new.txt", Body=b"x")) == "AccessDenied"
    assert s3_code(lambda: s3.delete_object(Bucket=w.data, Key="logs/a.txt")) == "AccessDenied"
    assert s3_code(lambda: s3.put_object_acl(Bucket=w.data, Key="logs/a.txt", ACL="private")) == "AccessDenied"
    assert s3_code(lambda: s3.delete_objects(Bucket=w.data, Delete={"Objects": [{"Key": "logs/a.txt"}]})) == (
        "AccessDenied"
    )
    assert s3_code(lambda: s3.put_bucket_policy(Bucket=w.data, Policy="{}")) == "AccessDenied"
    assert s3_code(
        lambda: s3.copy_object(Bucket=w.data, Key="logs/copy", CopySource={"Bucket": w.data, "Key": "logs/a.txt"})
    ) == ("AccessDenied")
    # the grant is the operator's alone
    assert reads(w, w.oncall_s3) == DENIED
    # everything above survives untouched
    s3a = w.srv.client(access=w.acme_admin._access, secret=w.acme_admin._secret)
    assert [o["Key"] for o in s3a.list_objects_v2(Bucket=w.data)["Contents"]] == [
        "exact.txt",
        "exact.txt.bak",
        "logs/a.txt",
        "logs/b.txt",
        "private/c.txt",
    ]

    # audited in both chains, with the grant id: acme's chain (its admin reads it) and the operators'
    def under_grant(client: AdminClient) -> list[dict[str, Any]]:
        got = client.request("GET", "/audit/entries?limit=1000")["entries"]
        return [e for e in got if e.get("grant") == grant and e["api"] == "s3"]

    acme_side, ops_side = under_grant(w.acme_admin), under_grant(w.ops)
    ops_reads = {e["operation"] for e in ops_side if e["outcome"] == "success"}
    assert {"GetObject", "HeadObject", "ListObjectsV2", "GetObjectAcl"} <= ops_reads
    assert {e["request_id"] for e in acme_side} == {e["request_id"] for e in ops_side}
    assert all(e["principal"]["type"] == "operator" and e["tenant"] == w.acme for e in acme_side)
    # the vault released the bucket key for that operator under that grant, and says so in acme's chain
    releases = [
        e
        for e in w.acme_admin.request("GET", "/audit/entries?limit=1000")["entries"]
        if e["api"] == "vault" and e.get("grant") == grant
    ]
    assert releases and all(e["outcome"] == "success" for e in releases)
    assert {e["justification"] for e in releases} == {"operator-lockbox"}
    assert {(e["acting_principal"]["tenant"], e["acting_principal"]["user"]) for e in releases} == {("system", "admin")}
    assert {e["acting_operation"] for e in releases} <= {"s3:GetObject"} and {e["bucket"] for e in releases} == {w.data}
    assert all(e["key"]["name"].startswith("bucket-") and e["key"]["version"] == 1 for e in releases)

    # revocation ends it at once
    out = w.acme_admin.request("POST", f"/lockbox/requests/{rid}/revoke")
    assert out["status"] == "revoked" and out["grant"]["revoked_by"] == f"{w.acme}/admin"
    assert eventually(lambda: reads(w) == DENIED)
    kinds = [n["kind"] for n in w.acme_admin.request("GET", f"/tenants/{w.acme}/notices")["notices"]]
    assert "lockbox.approved" in kinds and "lockbox.revoked" in kinds


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            out += [int(c) for c in fh.read().split()]
    return out + [g for c in out for g in _children(c)]


def stolen_internal_token(w: World) -> str:
    """The per-start token the gateways and the vault share, read from a child process's environment: what a
    compromised gateway holds."""
    for child in _children(w.srv.proc.pid):
        with open(f"/proc/{child}/environ", "rb") as fh:
            for item in fh.read().split(b"\0"):
                if item.startswith(b"STRONGROOM__INTERNAL_TOKEN="):
                    return item.split(b"=", 1)[1].decode()
    pytest.fail("no process holds the internal token")


def bucket_row(w: World, name: str) -> tuple[str, str]:
    """A bucket's id and the name of its SSE-S3 key in the vault (from the server's database)."""
    engine = create_engine(f"sqlite:///{w.srv.data_dir / 'strongroom.db'}")
    try:
        with engine.connect() as conn:
            got = conn.execute(select(Bucket.id, Bucket.bucket_key_id).where(Bucket.name == name)).one()
            return str(got[0]), str(got[1])
    finally:
        engine.dispose()


def ask_bucket_key(w: World, token: str, grant: str | None, operation: str = "s3:GetObject", **over: Any) -> Any:
    """Ask the vault for the bucket key of acme's data bucket, as the gateway would for the operator system/admin."""
    import httpx

    info = json.loads((w.srv.data_dir / "run" / "vault.json").read_text())
    bucket_id, key_id = bucket_row(w, w.data)
    body = {
        "version": 1,
        "bucket": w.data,
        "bucket_id": bucket_id,
        "principal": {"type": "user", "tenant": "system", "user": "admin", "access_key": ct.OPERATOR_ACCESS},
        "operation": operation,
        "grant": grant,
        "justification": "operator-lockbox" if grant else "customer-initiated",
        **over,
    }
    with httpx.Client(verify=w.srv.ca, timeout=30) as http:
        return http.post(
            f"{info['url']}/v1/strongroom/internal/bucket-key/{key_id}",
            headers={"x-vault-token": token, "x-vault-namespace": w.acme},
            json=body,
        )


def test_the_vault_refuses_key_release_to_an_operator_outside_a_grant(world: World) -> None:
    """Even with the gateway's own token, the vault releases no bucket key for an operator without a grant that
    covers the bucket, and never one to encrypt with; every refusal is in acme's chain and the operators'."""
    w = world
    token = stolen_internal_token(w)
    r = ask_bucket_key(w, token, None)
    assert r.status_code == 403 and "lockbox grant" in r.json()["errors"][0]
    assert r.json()["error_class"] == "KeyReleaseRefused" and "data" not in r.json()
    r = ask_bucket_key(w, token, None, justification="operator-lockbox")
    assert r.status_code == 403 and "needs a lockbox grant" in r.json()["errors"][0]
    assert ask_bucket_key(w, token, "lbg-0000000000000000").status_code == 403  # no such grant
    # a grant on another bucket does not cover this one
    rid = file_request(w, bucket=w.other)["id"]
    other = w.acme_admin.request("POST", f"/lockbox/requests/{rid}/approve")["grant"]["id"]
    r = ask_bucket_key(w, token, other)
    assert r.status_code == 403 and "does not cover" in r.json()["errors"][0]
    w.acme_admin.request("POST", f"/lockbox/requests/{rid}/revoke")
    # a grant on this bucket: reading yes, encrypting or writing no; revoked: no
    rid = file_request(w)["id"]
    grant = w.acme_admin.request("POST", f"/lockbox/requests/{rid}/approve")["grant"]["id"]
    ok = ask_bucket_key(w, token, grant)
    assert ok.status_code == 200 and ok.json()["data"]["justification"] == "operator-lockbox"
    released = ok.json()["data"]["key"]
    assert len(base64.b64decode(released)) == 32 and ok.json()["data"]["ttl"] <= 5
    # key material is never logged or audited: the session-end scan looks for it in every log and audit table
    ct.register_secret(base64.b64decode(released), "a bucket key the vault released")  # raw, hex and base64
    assert ask_bucket_key(w, token, grant, version=None).status_code == 403  # the latest: a key to encrypt with
    assert ask_bucket_key(w, token, grant, operation="s3:PutObject").status_code == 403
    assert (
        ask_bucket_key(w, token, grant, principal={"type": "user", "tenant": "system", "user": "oncall"}).status_code
        == 403
    )
    w.acme_admin.request("POST", f"/lockbox/requests/{rid}/revoke")
    r = ask_bucket_key(w, token, grant)
    assert r.status_code == 403 and "has ended" in r.json()["errors"][0]
    # the refusals are audited in acme's chain (and the operators'), with who was asked for and why
    refused = [
        e
        for e in w.acme_admin.request("GET", "/audit/entries?limit=1000")["entries"]
        if e["api"] == "vault"
        and e["operation"] == "update"
        and e.get("acting_principal", {}).get("tenant") == "system"
        and e["outcome"] == "denied"
    ]
    assert len(refused) >= 7 and {e["status"] for e in refused} == {403}
    chain = json.dumps(w.acme_admin.request("GET", "/audit/entries?limit=1000"))
    assert released not in chain and base64.b64decode(released).hex() not in chain
    assert released not in w.srv.log()
    assert {e["request_id"] for e in refused} <= {
        e["request_id"] for e in w.ops.request("GET", "/audit/entries?limit=1000")["entries"] if e["api"] == "vault"
    }


def test_the_tenant_can_refuse_lockbox_access_per_key_even_under_an_approved_grant(world: World) -> None:
    """acme refuses operator-lockbox releases for its data bucket's key: an approved grant then reads nothing there
    (the vault refuses the key, whatever the gateway's authorization allowed); lifting the refusal restores it."""
    w = world
    rid = file_request(w)["id"]
    w.acme_admin.request("POST", f"/lockbox/requests/{rid}/approve")
    s3 = w.ops_s3

    def get() -> str | None:
        return s3_code(lambda: s3.get_object(Bucket=w.data, Key="logs/a.txt")["Body"].read())

    assert eventually(lambda: get() is None)
    _bucket_id, key_id = bucket_row(w, w.data)
    vault = w.srv.tenant_vault(w.acme_admin._access, w.acme_admin._secret)
    path = f"/v1/strongroom/keys/{key_id}/key-access"
    vault.adapter.post(path, json={"refused_justifications": ["operator-lockbox"]})
    assert eventually(lambda: get() == "AccessDenied")
    # a HEAD opens no key (SSE-S3): the grant still shows the object exists; the bytes stay with the tenant
    assert s3.head_object(Bucket=w.data, Key="logs/a.txt")["ContentLength"] == len(b"acme logs/a.txt")
    acme = w.acme_admin.request("GET", "/audit/entries?limit=1000&outcome=denied")["entries"]
    assert any(
        e["api"] == "vault" and e.get("key", {}).get("name") == key_id and e["justification"] == "operator-lockbox"
        for e in acme
    )
    vault.adapter.post(path, json={"refused_justifications": []})
    assert eventually(lambda: get() is None)
    w.acme_admin.request("POST", f"/lockbox/requests/{rid}/revoke")
    assert eventually(lambda: get() == "AccessDenied")


def test_one_key_grant_reads_that_key_only(world: World) -> None:
    w = world
    rid = file_request(w, prefix="", key="exact.txt")["id"]
    w.acme_admin.request("POST", f"/lockbox/requests/{rid}/approve")
    s3 = w.ops_s3
    assert eventually(lambda: s3_code(lambda: s3.get_object(Bucket=w.data, Key="exact.txt")) is None)
    assert s3_code(lambda: s3.get_object(Bucket=w.data, Key="exact.txt.bak")) == "AccessDenied"
    assert s3_code(lambda: s3.list_objects_v2(Bucket=w.data, Prefix="exact.txt")) == "AccessDenied"
    # the operator may give a grant up himself; another operator may not
    assert admin_error(lambda: w.oncall.request("POST", f"/lockbox/requests/{rid}/revoke")).status == 403
    assert w.ops.request("POST", f"/lockbox/requests/{rid}/revoke")["status"] == "revoked"
    assert eventually(lambda: s3_code(lambda: s3.get_object(Bucket=w.data, Key="exact.txt")) == "AccessDenied")


def test_deny(world: World) -> None:
    w = world
    rid = file_request(w)["id"]
    out = w.acme_admin.request("POST", f"/lockbox/requests/{rid}/deny", {"note": "no"})
    assert out["status"] == "denied" and out["grant"] is None
    assert reads(w) == DENIED
    assert admin_error(lambda: w.acme_admin.request("POST", f"/lockbox/requests/{rid}/approve")).status == 409
    assert admin_error(lambda: w.acme_admin.request("POST", f"/lockbox/requests/{rid}/revoke")).status == 409
    assert "lockbox.denied" in [
        n["kind"] for n in w.acme_admin.request("GET", f"/tenants/{w.acme}/notices")["notices"] if n["subject"] == rid
    ]


def test_unanswered_requests_expire_after_12_hours(world: World) -> None:
    w = world
    rid = file_request(w)["id"]
    age(w, LockboxRequest, rid, 11.9)
    assert w.acme_admin.request("GET", f"/lockbox/requests/{rid}")["status"] == "pending"
    age(w, LockboxRequest, rid, 0.2)  # 12.1 h since it was filed
    assert w.acme_admin.request("GET", f"/lockbox/requests/{rid}")["status"] == "expired"
    e = admin_error(lambda: w.acme_admin.request("POST", f"/lockbox/requests/{rid}/approve"))
    assert (e.status, e.code) == (409, "Conflict")
    assert reads(w) == DENIED


def test_grants_expire_at_their_end(world: World) -> None:
    w = world
    got = file_request(w, duration_seconds=2 * HOUR)
    out = w.acme_admin.request("POST", f"/lockbox/requests/{got['id']}/approve")
    assert eventually(lambda: reads(w) == ALLOWED)
    age(w, LockboxGrant, out["grant"]["id"], 1.9)
    time.sleep(1.1)  # past the grant cache: the server reads the aged row
    assert reads(w) == ALLOWED
    age(w, LockboxGrant, out["grant"]["id"], 0.2)
    assert eventually(lambda: reads(w) == DENIED)
    assert w.ops.request("GET", f"/lockbox/requests/{got['id']}")["status"] == "ended"


def test_lists(world: World) -> None:
    w = world
    rid = file_request(w)["id"]
    assert rid in [r["id"] for r in w.ops.request("GET", "/lockbox/requests")]
    assert rid in [r["id"] for r in w.ops.request("GET", f"/lockbox/requests?tenant={w.acme}")]
    assert rid not in [r["id"] for r in w.ops.request("GET", f"/lockbox/requests?tenant={w.globex}")]
    assert rid in [r["id"] for r in w.acme_admin.request("GET", "/lockbox/requests")]
    assert admin_error(lambda: w.globex_admin.request("GET", f"/lockbox/requests?tenant={w.acme}")).status == 404
    assert admin_error(lambda: w.acme_admin.request("GET", "/lockbox/requests/lbr-0000000000000000")).status == 404


# --- the CLI ----------------------------------------------------------------------------------------------------


def cli(w: World, *args: str, client: AdminClient) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("STRONGROOM__RESOLVED_SETTINGS", None)
    env["AWS_ACCESS_KEY_ID"] = client._access
    env["AWS_SECRET_ACCESS_KEY"] = client._secret
    env["COLUMNS"] = "200"  # rich folds table cells to the terminal's width
    return subprocess.run(
        [sys.executable, "-m", "strongroom", *args, "--data-dir", str(w.srv.data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=w.srv.data_dir.parent,
    )


def test_cli_request_list_approve_deny_revoke(world: World) -> None:
    w = world
    common = ["--tenant", w.acme, "--bucket", w.data, "--prefix", "logs/", "--reason", "cli", "--ticket", "T-9"]
    out = cli(w, "lockbox", "request", *common, "--duration", "9h", "--json", client=w.ops)
    assert out.returncode == 2 and "8 hours" in out.stderr
    out = cli(w, "lockbox", "request", *common, "--duration", "90m", "--json", client=w.ops)
    assert out.returncode == 0, out.stderr
    first = json.loads(out.stdout)
    assert first["duration_seconds"] == 5400 and first["status"] == "pending"
    second = json.loads(cli(w, "lockbox", "request", *common, "--duration", "1h", "--json", client=w.ops).stdout)
    listed = cli(w, "lockbox", "list", "--json", client=w.acme_admin)
    assert listed.returncode == 0 and first["id"] in [r["id"] for r in json.loads(listed.stdout)]
    out = cli(w, "lockbox", "approve", first["id"], "--note", "fine", "--json", client=w.acme_admin)
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "approved"
    out = cli(w, "lockbox", "deny", second["id"], "--json", client=w.acme_admin)
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "denied"
    out = cli(w, "lockbox", "approve", second["id"], client=w.ops)
    assert out.returncode == 2 and "AccessDenied" in out.stderr
    out = cli(w, "lockbox", "revoke", first["id"], "--json", client=w.acme_admin)
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "revoked"
    table = cli(w, "lockbox", "list", client=w.ops)
    assert table.returncode == 0 and first["id"] in table.stdout
