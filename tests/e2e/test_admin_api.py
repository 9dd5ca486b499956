"""The admin API end to end, over real TLS with SigV4-signed requests: who may call what, and what they see.

One server for the module. The operator (tenant ``system``) creates tenant ``acme``; the default tenant's admin
(ROOT_*) manages its own users, groups, policies and access keys; tenants never see each other's entities; operators
administer tenants and cut off access keys but never act as a tenant (no access keys, no policies, no vault token, no
data).
"""

from __future__ import annotations

import json
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import tests.conftest as ct
from botocore.exceptions import ClientError

from strongroom.http.admin.client import PREFIX, AdminError, sign

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.e2e


NOOP_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::nowhere-bucket/*"}],
}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = ct.start_server(tmp_path_factory.mktemp("admin-api") / "data")
    yield server
    server.stop()


def raw(
    srv: Server,
    method: str,
    path: str,
    body: bytes = b"",
    access: str = ct.ROOT_ACCESS,
    secret: str = ct.ROOT_SECRET,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One signed request as the given key; the raw response (status, headers, body bytes)."""
    url = srv.endpoint + PREFIX + path
    extra = {"content-type": "application/json"} if body else {}
    extra.update(headers or {})
    signed = sign(method, url, body, access, secret, headers=extra)
    with httpx.Client(verify=ssl.create_default_context(cafile=srv.ca), timeout=30) as http:
        return http.request(method, url, content=body, headers=signed)


def error_of(fn: Callable[[], Any]) -> AdminError:
    try:
        fn()
    except AdminError as exc:
        return exc
    pytest.fail("the admin call succeeded")


def s3_code(call: Callable[[], Any]) -> str | None:
    """The S3 error code of a call, None if it succeeded."""
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Access-key and policy changes reach every gateway within about a second."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


@dataclass
class Acme:
    created_status: int
    created: dict[str, Any]
    access: str
    secret: str
    users: list[str]
    group: str
    key_ids: list[str]  # the access keys of acme's users (not its admin's first key)
    bucket: str


@pytest.fixture(scope="module")
def acme(srv: Server) -> Acme:
    """Tenant acme, made by the operator; its admin makes users (with keys and a policy), a group and a bucket."""
    r = raw(srv, "POST", "/tenants", json.dumps({"name": "acme"}).encode(), ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
    created = r.json()
    key = created["access_key"]
    adm = srv.admin(key["access_key_id"], key["secret_access_key"])
    users = ["acme-alice-zq7", "acme-bob-zq7"]
    key_ids = []
    for name in users:
        adm.request("POST", "/tenants/acme/users", {"name": name})
        key_ids.append(adm.request("POST", f"/tenants/acme/users/{name}/access-keys")["access_key_id"])
    adm.request("PUT", f"/tenants/acme/users/{users[0]}/policy", NOOP_POLICY)
    group = "acme-team-zq7"
    adm.request("POST", "/tenants/acme/groups", {"name": group})
    adm.request("PUT", f"/tenants/acme/groups/{group}/members/{users[0]}")
    bucket = "acme-data-" + uuid.uuid4().hex[:8]
    s3 = srv.client(access=key["access_key_id"], secret=key["secret_access_key"])
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="acme-object.txt", Body=b"acme's data")
    return Acme(r.status_code, created, key["access_key_id"], key["secret_access_key"], users, group, key_ids, bucket)


@dataclass
class Member:
    name: str
    access: str
    secret: str


def new_member(srv: Server, prefix: str = "member", admin: bool = False) -> Member:
    root = srv.admin()
    name = uid(prefix)
    root.request("POST", "/tenants/default/users", {"name": name, "admin": admin})
    key = root.request("POST", f"/tenants/default/users/{name}/access-keys")
    ct.register_secret(key["secret_access_key"], f"default/{name}'s secret key")
    return Member(name, key["access_key_id"], key["secret_access_key"])


# --- caller -----------------------------------------------------------------------------------------------------


def test_whoami_for_each_kind_of_caller(srv: Server, acme: Acme) -> None:
    root = srv.admin().request("GET", "/whoami")
    assert root["tenant"] == "default" and root["admin"] is True and root["operator"] is False
    assert root["arn"] == f"arn:aws:iam::default:user/{root['user']}"

    op = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET).request("GET", "/whoami")
    assert op == {
        "tenant": "system",
        "user": "admin",
        "arn": "arn:aws:iam::system:user/admin",
        "admin": True,
        "operator": True,
    }

    other = srv.admin(acme.access, acme.secret).request("GET", "/whoami")
    assert other == {
        "tenant": "acme",
        "user": "admin",
        "arn": "arn:aws:iam::acme:user/admin",
        "admin": True,
        "operator": False,
    }

    m = new_member(srv)
    me = srv.admin(m.access, m.secret).request("GET", "/whoami")
    assert me == {
        "tenant": "default",
        "user": m.name,
        "arn": f"arn:aws:iam::default:user/{m.name}",
        "admin": False,
        "operator": False,
    }


# --- tenants ----------------------------------------------------------------------------------------------------


def test_operator_creates_tenant(srv: Server, acme: Acme) -> None:
    assert acme.created_status == 201
    body = acme.created
    assert set(body) == {"tenant", "access_key"}
    assert set(body["tenant"]) == {"name", "created_at", "canonical_id", "public_access_block"}
    assert body["tenant"]["name"] == "acme"
    assert body["tenant"]["canonical_id"]
    assert body["tenant"]["public_access_block"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert set(body["access_key"]) == {"user", "access_key_id", "secret_access_key", "created_at"}
    assert body["access_key"]["user"] == "acme/admin"
    s3 = srv.client(access=acme.access, secret=acme.secret)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == [acme.bucket]  # its own bucket only


def test_operator_lists_and_shows_tenants(srv: Server, acme: Acme) -> None:
    op = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
    listed = {t["name"]: t for t in op.request("GET", "/tenants")}
    assert {"default", "acme"} <= set(listed)
    shown = op.request("GET", "/tenants/acme")
    assert shown == listed["acme"] == acme.created["tenant"]
    # a tenant admin sees its own tenant, not the list
    assert srv.admin().request("GET", "/tenants/default")["name"] == "default"
    e = error_of(lambda: srv.admin().request("GET", "/tenants"))
    assert (e.status, e.code) == (403, "AccessDenied")
    e = error_of(lambda: op.request("GET", "/tenants/no-such-tenant"))
    assert (e.status, e.code) == (404, "NoSuchEntity")


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("system", 409, "EntityAlreadyExists"),
        ("root", 409, "EntityAlreadyExists"),
        ("Bad_Name", 400, "InvalidRequest"),
        ("-leading-dash", 400, "InvalidRequest"),
        ("x" * 64, 400, "InvalidRequest"),
        ("", 400, "InvalidRequest"),
    ],
)
def test_operator_cannot_create_reserved_or_invalid_tenant(srv: Server, name: str, status: int, code: str) -> None:
    op = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
    e = error_of(lambda: op.request("POST", "/tenants", {"name": name}))
    assert (e.status, e.code) == (status, code)


def test_tenant_admin_cannot_create_tenant(srv: Server) -> None:
    e = error_of(lambda: srv.admin().request("POST", "/tenants", {"name": uid("nope")}))
    assert (e.status, e.code) == (403, "AccessDenied")


def test_operator_deletes_empty_tenant_but_not_one_with_a_bucket(srv: Server) -> None:
    op = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
    empty = uid("empty")
    op.request("POST", "/tenants", {"name": empty})
    r = raw(srv, "DELETE", f"/tenants/{empty}", access=ct.OPERATOR_ACCESS, secret=ct.OPERATOR_SECRET)
    assert r.status_code == 204, r.text
    assert r.content == b""
    e = error_of(lambda: op.request("GET", f"/tenants/{empty}"))
    assert (e.status, e.code) == (404, "NoSuchEntity")

    busy = uid("busy")
    key = op.request("POST", "/tenants", {"name": busy})["access_key"]
    srv.client(access=key["access_key_id"], secret=key["secret_access_key"]).create_bucket(Bucket=uid("busy-b"))
    e = error_of(lambda: op.request("DELETE", f"/tenants/{busy}"))
    assert (e.status, e.code) == (409, "DeleteConflict")
    assert op.request("GET", f"/tenants/{busy}")["name"] == busy

    e = error_of(lambda: op.request("DELETE", "/tenants/system"))
    assert e.status in (403, 409), e


def test_a_deleted_tenants_name_is_not_reused_once_it_has_an_audit_log(srv: Server) -> None:
    """A new tenant of a deleted one's name would read its audit chain (and inherit grants naming it): refused."""
    op = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
    gone = uid("gone")
    key = op.request("POST", "/tenants", {"name": gone})["access_key"]
    ct.register_secret(key["secret_access_key"], f"{gone}'s admin secret")
    mine = srv.admin(key["access_key_id"], key["secret_access_key"])
    assert mine.request("GET", "/whoami")["tenant"] == gone  # an entry in the tenant's own chain
    assert any(e["request_id"] for e in mine.request("GET", "/audit/entries")["entries"])
    op.request("DELETE", f"/tenants/{gone}")
    e = error_of(lambda: op.request("POST", "/tenants", {"name": gone}))
    assert (e.status, e.code) == (409, "EntityAlreadyExists") and "not reused" in e.message
    # a name that never had a log may be used again
    fresh = uid("fresh")
    op.request("POST", "/tenants", {"name": fresh})
    op.request("DELETE", f"/tenants/{fresh}")
    assert op.request("POST", "/tenants", {"name": fresh})["tenant"]["name"] == fresh


# --- users, groups, policies, access keys (tenant admins) -------------------------------------------------------


def test_tenant_admin_manages_users(srv: Server) -> None:
    root = srv.admin()
    name = uid("user")
    r = raw(srv, "POST", "/tenants/default/users", json.dumps({"name": name}).encode())
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["tenant"] == "default" and made["name"] == name and made["admin"] is False
    assert made["arn"] == f"arn:aws:iam::default:user/{name}"
    assert made["groups"] == [] and made["has_policy"] is False
    assert root.request("GET", f"/tenants/default/users/{name}") == made
    assert name in [u["name"] for u in root.request("GET", "/tenants/default/users")]
    e = error_of(lambda: root.request("POST", "/tenants/default/users", {"name": name}))
    assert (e.status, e.code) == (409, "EntityAlreadyExists")
    e = error_of(lambda: root.request("POST", "/tenants/default/users", {"name": "bad/name"}))
    assert (e.status, e.code) == (400, "InvalidRequest")
    r = raw(srv, "DELETE", f"/tenants/default/users/{name}")
    assert r.status_code == 204, r.text
    e = error_of(lambda: root.request("GET", f"/tenants/default/users/{name}"))
    assert (e.status, e.code) == (404, "NoSuchEntity")
    assert name not in [u["name"] for u in root.request("GET", "/tenants/default/users")]


def test_groups_members_and_group_policy_take_effect_through_s3(srv: Server) -> None:
    root = srv.admin()
    s3 = srv.client()
    bucket = uid("grp-bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"shared with the group")
    m = new_member(srv, "grp-member")
    ms3 = srv.client(access=m.access, secret=m.secret)
    read = lambda: ms3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read()  # noqa: E731
    assert s3_code(read) == "AccessDenied"

    group = uid("readers")
    r = raw(srv, "POST", "/tenants/default/groups", json.dumps({"name": group}).encode())
    assert r.status_code == 201, r.text
    assert r.json() == {
        "tenant": "default",
        "name": group,
        "arn": f"arn:aws:iam::default:group/{group}",
        "created_at": r.json()["created_at"],
        "members": [],
        "has_policy": False,
    }
    e = error_of(lambda: root.request("POST", "/tenants/default/groups", {"name": group}))
    assert (e.status, e.code) == (409, "EntityAlreadyExists")
    assert raw(srv, "PUT", f"/tenants/default/groups/{group}/members/{m.name}").status_code == 204
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}],
    }
    assert raw(srv, "PUT", f"/tenants/default/groups/{group}/policy", json.dumps(doc).encode()).status_code == 204
    assert root.request("GET", f"/tenants/default/groups/{group}/policy") == doc
    shown = root.request("GET", f"/tenants/default/groups/{group}")
    assert shown["members"] == [m.name] and shown["has_policy"] is True
    assert group in root.request("GET", f"/tenants/default/users/{m.name}")["groups"]
    assert group in [g["name"] for g in root.request("GET", "/tenants/default/groups")]

    assert eventually(lambda: s3_code(read) is None), "the group policy did not reach the member"
    assert read() == b"shared with the group"
    assert s3_code(lambda: ms3.put_object(Bucket=bucket, Key="x", Body=b"x")) == "AccessDenied"

    assert raw(srv, "DELETE", f"/tenants/default/groups/{group}/members/{m.name}").status_code == 204
    assert eventually(lambda: s3_code(read) == "AccessDenied"), "removed from the group, the member still reads"
    root.request("PUT", f"/tenants/default/groups/{group}/members/{m.name}")
    assert eventually(lambda: s3_code(read) is None)
    assert raw(srv, "DELETE", f"/tenants/default/groups/{group}/policy").status_code == 204
    assert eventually(lambda: s3_code(read) == "AccessDenied"), "the group policy was deleted, the member still reads"
    assert root.request("GET", f"/tenants/default/groups/{group}")["has_policy"] is False
    assert raw(srv, "DELETE", f"/tenants/default/groups/{group}").status_code == 204
    e = error_of(lambda: root.request("GET", f"/tenants/default/groups/{group}"))
    assert (e.status, e.code) == (404, "NoSuchEntity")


@pytest.mark.parametrize(
    "document",
    [b"not json", b"[1, 2]", b'"a string"', b"{", b'{"Statement": "nonsense"}', b'{"Version": "2012-10-17"}'],
)
def test_user_policy_malformed_document(srv: Server, document: bytes) -> None:
    name = uid("malformed")
    srv.admin().request("POST", "/tenants/default/users", {"name": name})
    r = raw(srv, "PUT", f"/tenants/default/users/{name}/policy", document)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "MalformedPolicyDocument"
    assert srv.admin().request("GET", f"/tenants/default/users/{name}")["has_policy"] is False


def test_user_policy_put_get_delete(srv: Server) -> None:
    root = srv.admin()
    m = new_member(srv, "pol")
    bucket = uid("pol-bucket")
    srv.client().create_bucket(Bucket=bucket)
    ms3 = srv.client(access=m.access, secret=m.secret)
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}],
    }
    r = raw(srv, "PUT", f"/tenants/default/users/{m.name}/policy", json.dumps(doc).encode())
    assert r.status_code == 204, r.text
    got = raw(srv, "GET", f"/tenants/default/users/{m.name}/policy")
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/json")
    assert got.json() == doc
    assert root.request("GET", f"/tenants/default/users/{m.name}")["has_policy"] is True
    assert eventually(lambda: s3_code(lambda: ms3.list_objects_v2(Bucket=bucket)) is None)
    assert raw(srv, "DELETE", f"/tenants/default/users/{m.name}/policy").status_code == 204
    e = error_of(lambda: root.request("GET", f"/tenants/default/users/{m.name}/policy"))
    assert (e.status, e.code) == (404, "NoSuchEntity")
    assert root.request("GET", f"/tenants/default/users/{m.name}")["has_policy"] is False
    assert eventually(lambda: s3_code(lambda: ms3.list_objects_v2(Bucket=bucket)) == "AccessDenied")


def test_access_keys_list_last_used_disable_enable_delete(srv: Server) -> None:
    root = srv.admin()
    name = uid("keys")
    root.request("POST", "/tenants/default/users", {"name": name, "admin": True})
    r = raw(srv, "POST", f"/tenants/default/users/{name}/access-keys")
    assert r.status_code == 201, r.text
    key = r.json()
    assert set(key) == {"user", "access_key_id", "secret_access_key", "created_at"}
    assert key["user"] == f"default/{name}"
    kid = key["access_key_id"]

    listed = root.request("GET", f"/tenants/default/users/{name}/access-keys")
    assert [(k["access_key_id"], k["status"], k["user"]) for k in listed] == [(kid, "Active", f"default/{name}")]
    assert listed[0]["last_used_at"] is None
    assert "secret_access_key" not in listed[0]
    assert kid in [k["access_key_id"] for k in root.request("GET", "/tenants/default/access-keys")]

    s3 = srv.client(access=kid, secret=key["secret_access_key"])
    s3.list_buckets()

    def used() -> bool:
        return root.request("GET", f"/access-keys/{kid}")["last_used_at"] is not None

    assert eventually(used), "last_used_at stays null after the key signed a request"
    assert root.request("GET", f"/tenants/default/users/{name}/access-keys")[0]["last_used_at"] is not None

    r = raw(srv, "PATCH", f"/access-keys/{kid}", json.dumps({"status": "Inactive"}).encode())
    assert r.status_code == 200 and r.json()["status"] == "Inactive", r.text
    assert eventually(lambda: s3_code(s3.list_buckets) == "InvalidAccessKeyId")
    assert root.request("PATCH", f"/access-keys/{kid}", {"status": "Active"})["status"] == "Active"
    assert eventually(lambda: s3_code(s3.list_buckets) is None)
    e = error_of(lambda: root.request("PATCH", f"/access-keys/{kid}", {"status": "Sleeping"}))
    assert (e.status, e.code) == (400, "InvalidRequest")

    r = raw(srv, "DELETE", f"/access-keys/{kid}")
    assert r.status_code == 204, r.text
    assert eventually(lambda: s3_code(s3.list_buckets) == "InvalidAccessKeyId")
    e = error_of(lambda: root.request("GET", f"/access-keys/{kid}"))
    assert (e.status, e.code) == (404, "NoSuchEntity")
    assert root.request("GET", f"/tenants/default/users/{name}/access-keys") == []


def test_member_without_iam_rights_is_refused_user_management(srv: Server) -> None:
    m = new_member(srv, "noiam")
    me = srv.admin(m.access, m.secret)
    calls: list[tuple[str, str, Any]] = [
        ("GET", "/tenants/default/users", None),
        ("POST", "/tenants/default/users", {"name": uid("made-by-member")}),
        ("GET", "/tenants/default/users/admin", None),
        ("DELETE", f"/tenants/default/users/{m.name}", None),
        ("POST", f"/tenants/default/users/{m.name}/access-keys", None),
        ("PUT", f"/tenants/default/users/{m.name}/policy", NOOP_POLICY),
        ("GET", "/tenants/default/groups", None),
        ("GET", "/tenants/default/access-keys", None),
    ]
    for method, path, body in calls:
        e = error_of(lambda: me.request(method, path, body))  # noqa: B023
        assert (e.status, e.code) == (403, "AccessDenied"), (method, path, e)
    assert srv.admin().request("GET", f"/tenants/default/users/{m.name}")["name"] == m.name


def test_member_with_identity_policy_can_list_users(srv: Server) -> None:
    m = new_member(srv, "lister")
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "arn:aws:iam::default:user/*"}],
    }
    srv.admin().request("PUT", f"/tenants/default/users/{m.name}/policy", doc)
    me = srv.admin(m.access, m.secret)

    def lists() -> bool:
        try:
            return m.name in [u["name"] for u in me.request("GET", "/tenants/default/users")]
        except AdminError:
            return False

    assert eventually(lists)
    e = error_of(lambda: me.request("POST", "/tenants/default/users", {"name": uid("nope")}))
    assert (e.status, e.code) == (403, "AccessDenied")


# --- two tenants ------------------------------------------------------------------------------------------------


def test_default_admin_cannot_see_or_touch_acme(srv: Server, acme: Acme) -> None:
    alice, bob = acme.users
    key = acme.key_ids[0]
    pol = json.dumps(NOOP_POLICY).encode()
    pab = json.dumps({"BlockPublicAcls": False}).encode()
    calls: list[tuple[str, str, bytes]] = [
        ("GET", "/tenants/acme", b""),
        ("DELETE", "/tenants/acme", b""),
        ("GET", "/tenants/acme/public-access-block", b""),
        ("PUT", "/tenants/acme/public-access-block", pab),
        ("GET", "/tenants/acme/users", b""),
        ("POST", "/tenants/acme/users", json.dumps({"name": "planted", "admin": True}).encode()),
        ("GET", f"/tenants/acme/users/{alice}", b""),
        ("GET", "/tenants/acme/users/no-such-user", b""),
        ("DELETE", f"/tenants/acme/users/{bob}", b""),
        ("GET", f"/tenants/acme/users/{alice}/policy", b""),
        ("PUT", f"/tenants/acme/users/{alice}/policy", pol),
        ("DELETE", f"/tenants/acme/users/{alice}/policy", b""),
        ("GET", "/tenants/acme/access-keys", b""),
        ("GET", f"/tenants/acme/users/{alice}/access-keys", b""),
        ("POST", f"/tenants/acme/users/{alice}/access-keys", b""),
        ("GET", f"/access-keys/{key}", b""),
        ("PATCH", f"/access-keys/{key}", json.dumps({"status": "Inactive"}).encode()),
        ("DELETE", f"/access-keys/{key}", b""),
        ("GET", "/tenants/acme/groups", b""),
        ("POST", "/tenants/acme/groups", json.dumps({"name": "planted"}).encode()),
        ("GET", f"/tenants/acme/groups/{acme.group}", b""),
        ("DELETE", f"/tenants/acme/groups/{acme.group}", b""),
        ("PUT", f"/tenants/acme/groups/{acme.group}/members/{bob}", b""),
        ("DELETE", f"/tenants/acme/groups/{acme.group}/members/{alice}", b""),
        ("GET", f"/tenants/acme/groups/{acme.group}/policy", b""),
        ("PUT", f"/tenants/acme/groups/{acme.group}/policy", pol),
        ("DELETE", f"/tenants/acme/groups/{acme.group}/policy", b""),
        ("GET", f"/buckets/{acme.bucket}/objects", b""),
        ("GET", f"/buckets/{acme.bucket}/objects/acme-object.txt", b""),
    ]
    secrets = [alice, bob, acme.group, acme.access, *acme.key_ids, acme.bucket, "acme-object"]
    bad = []
    for method, path, body in calls:
        r = raw(srv, method, path, body)
        text = r.text
        err = r.json().get("error", {}) if r.headers.get("content-type", "").startswith("application/json") else {}
        allowed = [(404, "NoSuchEntity"), (403, "AccessDenied")]
        if path.startswith("/buckets/"):
            allowed.append((404, "NoSuchBucket"))  # the data endpoints hide a bucket as S3 does
        ok = (r.status_code, err.get("code")) in allowed
        ok = ok and set(r.json()) == {"error", "request_id"} and set(err) == {"code", "message"}
        leaked = [s for s in secrets if s in text]
        if not ok or leaked:
            bad.append((method, path, r.status_code, text, leaked))
    assert bad == []

    # nothing changed in acme
    adm = srv.admin(acme.access, acme.secret)
    assert sorted(u["name"] for u in adm.request("GET", "/tenants/acme/users")) == sorted(["admin", alice, bob])
    assert [g["name"] for g in adm.request("GET", "/tenants/acme/groups")] == [acme.group]
    assert adm.request("GET", f"/tenants/acme/groups/{acme.group}")["members"] == [alice]
    assert adm.request("GET", f"/tenants/acme/users/{alice}")["has_policy"] is True
    assert [k["status"] for k in adm.request("GET", f"/tenants/acme/users/{alice}/access-keys")] == ["Active"]
    assert adm.request("GET", "/tenants/acme/public-access-block")["BlockPublicAcls"] is True
    # and default's bucket listing shows no acme bucket
    assert acme.bucket not in [b["name"] for b in srv.admin().request("GET", "/buckets")]


def test_another_tenants_key_looks_exactly_like_a_missing_key(srv: Server, acme: Acme) -> None:
    """A tenant must not learn that an access key id exists in another tenant: same status, code and message as
    for an id that exists nowhere."""
    missing = "SR" + uuid.uuid4().hex[:18].upper()
    for method, body in (("GET", b""), ("PATCH", json.dumps({"status": "Inactive"}).encode()), ("DELETE", b"")):
        foreign = raw(srv, method, f"/access-keys/{acme.key_ids[1]}", body)
        absent = raw(srv, method, f"/access-keys/{missing}", body)
        assert foreign.status_code == absent.status_code, (foreign.text, absent.text)
        f_err, a_err = foreign.json()["error"], absent.json()["error"]
        assert f_err["code"] == a_err["code"]
        assert f_err["message"].replace(acme.key_ids[1], "ID") == a_err["message"].replace(missing, "ID"), (
            method,
            f_err,
            a_err,
        )


# --- operators --------------------------------------------------------------------------------------------------


def test_operator_lists_users_and_cuts_off_a_tenant_key(srv: Server, acme: Acme) -> None:
    op = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
    adm = srv.admin(acme.access, acme.secret)
    assert {"admin", *acme.users} <= {u["name"] for u in op.request("GET", "/tenants/acme/users")}
    user = uid("cutoff")
    adm.request("POST", "/tenants/acme/users", {"name": user, "admin": True})
    k1 = adm.request("POST", f"/tenants/acme/users/{user}/access-keys")
    k2 = adm.request("POST", f"/tenants/acme/users/{user}/access-keys")
    s1 = srv.client(access=k1["access_key_id"], secret=k1["secret_access_key"])
    s2 = srv.client(access=k2["access_key_id"], secret=k2["secret_access_key"])
    s1.list_buckets()
    s2.list_buckets()
    listed = op.request("GET", f"/tenants/acme/users/{user}/access-keys")
    assert {k["access_key_id"] for k in listed} == {k1["access_key_id"], k2["access_key_id"]}

    out = op.request("PATCH", f"/access-keys/{k1['access_key_id']}", {"status": "Inactive"})
    assert out["status"] == "Inactive"
    assert eventually(lambda: s3_code(s1.list_buckets) == "InvalidAccessKeyId")
    r = raw(srv, "DELETE", f"/access-keys/{k2['access_key_id']}", access=ct.OPERATOR_ACCESS, secret=ct.OPERATOR_SECRET)
    assert r.status_code == 204, r.text
    assert eventually(lambda: s3_code(s2.list_buckets) == "InvalidAccessKeyId")
    assert [k["status"] for k in adm.request("GET", f"/tenants/acme/users/{user}/access-keys")] == ["Inactive"]


def test_operator_cannot_act_as_a_tenant(srv: Server, acme: Acme) -> None:
    op = srv.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
    alice = acme.users[0]
    calls: list[tuple[str, str, Any]] = [
        ("POST", f"/tenants/acme/users/{alice}/access-keys", None),
        ("PUT", f"/tenants/acme/users/{alice}/policy", NOOP_POLICY),
        ("POST", "/vault/token", {"ttl_seconds": 600}),
        ("POST", "/vault/token", None),
        ("GET", f"/buckets/{acme.bucket}/objects", None),
        ("GET", f"/buckets/{acme.bucket}/objects/acme-object.txt", None),
    ]
    for method, path, body in calls:
        e = error_of(lambda: op.request(method, path, body))  # noqa: B023
        assert (e.status, e.code) == (403, "AccessDenied"), (method, path, e)
    assert [
        k["access_key_id"]
        for k in srv.admin(acme.access, acme.secret).request("GET", f"/tenants/acme/users/{alice}/access-keys")
    ] == [acme.key_ids[0]]


# --- the vault token --------------------------------------------------------------------------------------------


def test_tenant_admin_vault_token_works_for_transit(srv: Server) -> None:
    import base64

    import hvac

    r = raw(srv, "POST", "/vault/token", json.dumps({"ttl_seconds": 600}).encode())
    assert r.status_code == 200, r.text
    got = r.json()
    assert set(got) == {"token", "namespace", "policies", "ttl_seconds"}
    assert got["namespace"] == "default"
    assert 0 < got["ttl_seconds"] <= 600
    info = json.loads((srv.data_dir / "run" / "vault.json").read_text())
    vault = hvac.Client(url=info["url"], token=got["token"], namespace="default", verify=srv.ca, timeout=30)
    key = uid("admin-api-transit")
    vault.secrets.transit.create_key(name=key)
    plain = base64.b64encode(b"sealed by the tenant").decode()
    ct_ = vault.secrets.transit.encrypt_data(name=key, plaintext=plain)["data"]["ciphertext"]
    assert ct_.startswith("vault:v1:")
    assert vault.secrets.transit.decrypt_data(name=key, ciphertext=ct_)["data"]["plaintext"] == plain
    # a member may not mint one
    m = new_member(srv, "novault")
    e = error_of(lambda: srv.admin(m.access, m.secret).request("POST", "/vault/token", {"ttl_seconds": 600}))
    assert (e.status, e.code) == (403, "AccessDenied")


def test_deleting_a_user_revokes_the_vault_tokens_it_got(srv: Server) -> None:
    import hvac
    import hvac.exceptions

    info = json.loads((srv.data_dir / "run" / "vault.json").read_text())
    leaving, staying = new_member(srv, "leaving", admin=True), new_member(srv, "staying", admin=True)

    def vault_of(m: Member) -> hvac.Client:
        got = srv.admin(m.access, m.secret).request("POST", "/vault/token", {"ttl_seconds": 600})
        ct.register_secret(got["token"], f"{m.name}'s vault token")
        return hvac.Client(url=info["url"], token=got["token"], namespace="default", verify=srv.ca, timeout=30)

    gone, kept = vault_of(leaving), vault_of(staying)
    assert gone.auth.token.lookup_self()["data"]["meta"] == {"strongroom_user": leaving.name}
    srv.admin().request("DELETE", f"/tenants/default/users/{leaving.name}")
    with pytest.raises(hvac.exceptions.Forbidden):
        gone.auth.token.lookup_self()
    with pytest.raises(hvac.exceptions.Forbidden):
        gone.secrets.transit.list_keys()
    assert kept.auth.token.lookup_self()["data"]["meta"] == {"strongroom_user": staying.name}


# --- the wire ---------------------------------------------------------------------------------------------------


def _json_error(r: httpx.Response) -> dict[str, Any]:
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error", "request_id"}, body
    return dict(body["error"])


def test_unsigned_and_badly_signed_requests(srv: Server) -> None:
    verify = ssl.create_default_context(cafile=srv.ca)
    url = srv.endpoint + PREFIX + "/tenants/default/users"
    r = httpx.get(url, verify=verify)
    assert r.status_code == 403
    assert _json_error(r)["code"] == "AccessDenied"

    headers = sign("GET", url, b"", ct.ROOT_ACCESS, ct.ROOT_SECRET[:-1] + "X")
    r = httpx.get(url, headers=headers, verify=verify)
    assert r.status_code == 403
    assert _json_error(r)["code"] == "SignatureDoesNotMatch"
    assert "admin" not in r.text

    # a valid signature over a different body
    headers = sign(
        "POST", url, b'{"name": "a"}', ct.ROOT_ACCESS, ct.ROOT_SECRET, headers={"content-type": "application/json"}
    )
    r = httpx.post(url, content=b'{"name": "b"}', headers=headers, verify=verify)
    assert r.status_code in (400, 403), r.text
    assert _json_error(r)["code"] in ("XAmzContentSHA256Mismatch", "SignatureDoesNotMatch")

    unknown = sign("GET", url, b"", "SRNOSUCHACCESSKEY123", "whatever-secret")
    r = httpx.get(url, headers=unknown, verify=verify)
    assert r.status_code == 403
    assert _json_error(r)["code"] == "InvalidAccessKeyId"


def test_body_over_64_kib_is_413(srv: Server) -> None:
    big = json.dumps({**NOOP_POLICY, "pad": "x" * (65 * 1024)}).encode()
    r = raw(srv, "PUT", "/tenants/default/users/admin/policy", big)
    assert r.status_code == 413, r.text
    assert _json_error(r)["code"] == "EntityTooLarge"


def test_streamed_body_over_64_kib_is_413(srv: Server) -> None:
    """The same limit without a Content-Length (chunked transfer encoding)."""
    big = json.dumps({"name": "x" * (65 * 1024)}).encode()
    url = srv.endpoint + PREFIX + "/tenants/default/users"
    headers = sign("POST", url, big, ct.ROOT_ACCESS, ct.ROOT_SECRET, headers={"content-type": "application/json"})

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    with httpx.Client(verify=ssl.create_default_context(cafile=srv.ca), timeout=30) as http:
        r = http.post(url, content=chunks(), headers=headers)
    assert r.status_code == 413, r.text
    assert _json_error(r)["code"] == "EntityTooLarge"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/tenants/default/users", {"name": "extra-field-user", "nickname": "x"}),
        ("POST", "/tenants/default/groups", {"name": "extra-field-group", "members": []}),
        ("PUT", "/tenants/default/public-access-block", {"BlockPublicAcls": True, "BlockEverything": True}),
        ("POST", "/vault/token", {"ttl_seconds": 600, "policies": ["root"]}),
        ("POST", "/tenants/default/users", {"name": "wrong-type", "admin": "yes please"}),
    ],
)
def test_unknown_json_fields_are_400(srv: Server, method: str, path: str, body: dict[str, Any]) -> None:
    r = raw(srv, method, path, json.dumps(body).encode())
    assert r.status_code == 400, r.text
    assert _json_error(r)["code"] == "InvalidRequest"
    names = [u["name"] for u in srv.admin().request("GET", "/tenants/default/users")]
    assert "extra-field-user" not in names and "wrong-type" not in names


def test_unknown_fields_in_operator_bodies_are_400(srv: Server) -> None:
    body = json.dumps({"name": uid("extra"), "plan": "gold"}).encode()
    r = raw(srv, "POST", "/tenants", body, ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
    assert r.status_code == 400, r.text
    assert _json_error(r)["code"] == "InvalidRequest"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/tenants/default/users"), ("POST", "/tenants/default/groups"), ("POST", "/vault/token")],
)
@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2", b"\x1a\xff", b"A\xffA\x0f"])
def test_unparseable_json_body_is_400_with_the_error_body(srv: Server, method: str, path: str, body: bytes) -> None:
    r = raw(srv, method, path, body)
    assert r.status_code == 400, r.text
    assert _json_error(r)["code"] == "InvalidRequest"


def test_fresh_server_lists_the_default_tenant(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The default tenant exists from the first start (its admin signs S3 requests): the operator sees it at once,
    before anyone has used the admin API in it."""
    fresh = ct.start_server(tmp_path_factory.mktemp("admin-fresh") / "data")
    try:
        op = fresh.admin(ct.OPERATOR_ACCESS, ct.OPERATOR_SECRET)
        listed = [t["name"] for t in op.request("GET", "/tenants")]
        shown = error_of(lambda: op.request("GET", "/tenants/default")) if "default" not in listed else None
        assert "default" in listed, (listed, shown)
        assert op.request("GET", "/tenants/default")["name"] == "default"
    finally:
        fresh.stop()
