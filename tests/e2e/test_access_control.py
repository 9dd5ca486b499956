"""Acceptance of the access model, end to end: boto3 (and httpx, hvac) over TLS against the real server.

One server for the module. The operator (tenant ``system``) creates tenant ``acme``; the default tenant's admin
signs with the ROOT credentials. Members get identity policies through the admin API; access keys are disabled,
enabled and deleted with the CLI. Every check names the exact HTTP status and S3 error code.

Covered: identity policies with conditions (and S3's 403-versus-404 rule for missing keys), access-key status,
cross-tenant bucket policies and their revocation, public access (canned ACLs, unsigned reads, the tenant-wide and
the bucket's public access block, public bucket policies, malformed policies), ACLs (canned, XML grants to another
tenant's canonical id, object ownership), operators' exclusion from tenant data (S3, admin API, vault) and
DeleteObjects deciding per key.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import hvac
import hvac.exceptions
import pytest
import tests.conftest as _ct
from botocore.exceptions import ClientError

from strongroom.http.admin.client import AdminError

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e

ALL_BLOCKS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@dataclass
class Env:
    server: Server
    root: Any  # boto3 s3 client of default's admin
    admin: Any  # admin API client of default's admin
    operator: Any  # admin API client of the operator
    acme_access: str
    acme_secret: str
    acme_admin: Any  # admin API client of acme's admin
    acme: Any  # boto3 s3 client of acme's admin
    acme_canonical: str


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    srv = _ct.start_server(tmp_path_factory.mktemp("access-control") / "data")
    try:
        operator = srv.admin(_ct.OPERATOR_ACCESS, _ct.OPERATOR_SECRET)
        made = operator.request("POST", "/tenants", {"name": "acme"})
        key = made["access_key"]
        _ct.register_secret(key["secret_access_key"], "acme admin's secret key")
        assert made["tenant"]["public_access_block"] == dict.fromkeys(ALL_BLOCKS, True)
        canonical = operator.request("GET", "/tenants/acme")["canonical_id"]
        yield Env(
            server=srv,
            root=srv.client(),
            admin=srv.admin(),
            operator=operator,
            acme_access=key["access_key_id"],
            acme_secret=key["secret_access_key"],
            acme_admin=srv.admin(key["access_key_id"], key["secret_access_key"]),
            acme=srv.client(access=key["access_key_id"], secret=key["secret_access_key"]),
            acme_canonical=canonical,
        )
    finally:
        srv.stop()


# --- helpers ------------------------------------------------------------------------------------------------------


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _failure(fn: Callable[[], Any]) -> tuple[int, str]:
    try:
        fn()
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response.get("Error", {}).get("Code", "")
    pytest.fail("the operation succeeded")


def _admin_failure(fn: Callable[[], Any]) -> tuple[int, str]:
    try:
        fn()
    except AdminError as exc:
        return exc.status, exc.code
    pytest.fail("the admin API call succeeded")


def _member(env: Env, admin: Any, tenant: str, policy: dict[str, Any] | None) -> tuple[str, str, str, Any]:
    """A new member user of ``tenant`` (made by that tenant's admin API client) with the identity policy and an
    access key: (user name, access key id, secret, boto3 client)."""
    user = _name("u")
    admin.request("POST", f"/tenants/{tenant}/users", {"name": user})
    if policy is not None:
        admin.request("PUT", f"/tenants/{tenant}/users/{user}/policy", raw=json.dumps(policy).encode())
    key = admin.request("POST", f"/tenants/{tenant}/users/{user}/access-keys")
    _ct.register_secret(key["secret_access_key"], f"{tenant}/{user}'s secret key")
    client = env.server.client(access=key["access_key_id"], secret=key["secret_access_key"])
    return user, key["access_key_id"], key["secret_access_key"], client


def _allow(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **s} for s in statements]}


def _tenant_block(env: Env, on: bool, tenant: str = "default") -> None:
    got = env.admin.request("PUT", f"/tenants/{tenant}/public-access-block", dict.fromkeys(ALL_BLOCKS, on))
    assert got == dict.fromkeys(ALL_BLOCKS, on)


def _cli(env: Env, *args: str, access: str = _ct.ROOT_ACCESS, secret: str = _ct.ROOT_SECRET) -> str:
    envv = dict(os.environ)
    envv.pop("STRONGROOM__RESOLVED_SETTINGS", None)
    cmd = [
        sys.executable,
        "-m",
        "strongroom",
        *args,
        "--data-dir",
        str(env.server.data_dir),
        "--endpoint",
        env.server.endpoint,
        "--ca-bundle",
        env.server.ca,
        "--access-key",
        access,
        "--secret-key",
        secret,
    ]
    out = subprocess.run(cmd, cwd=env.server.data_dir.parent, env=envv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _unsigned(env: Env, bucket: str, key: str) -> httpx.Response:
    verify = ssl.create_default_context(cafile=env.server.ca)
    return httpx.get(f"{env.server.endpoint}/{bucket}/{key}", verify=verify, timeout=30)


def _poll(check: Callable[[], bool], limit: float = 1.0) -> float:
    """Seconds until ``check()`` holds, polling for at most ``limit`` seconds; fails when it never does."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > limit:
            pytest.fail(f"not within {limit} s")
        time.sleep(0.02)


# --- 1. identity policies -----------------------------------------------------------------------------------------


def test_identity_policy_with_prefix_condition(env: Env) -> None:
    root = env.root
    bucket, other = _name("acl-reader"), _name("acl-reader-other")
    root.create_bucket(Bucket=bucket)
    root.create_bucket(Bucket=other)
    report, private = b"quarterly report \x00\xff" * 50, b"not for the reader"
    root.put_object(Bucket=bucket, Key="reports/q1.txt", Body=report)
    root.put_object(Bucket=bucket, Key="private/salaries.txt", Body=private)
    root.put_object(Bucket=other, Key="reports/q1.txt", Body=report)
    policy = _allow(
        {"Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/reports/*"},
        {
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": "reports/*"}},
        },
    )
    _user, _key, _secret, reader = _member(env, env.admin, "default", policy)

    assert reader.get_object(Bucket=bucket, Key="reports/q1.txt")["Body"].read() == report
    assert _failure(lambda: reader.get_object(Bucket=bucket, Key="private/salaries.txt")) == (403, "AccessDenied")
    assert _failure(lambda: reader.put_object(Bucket=bucket, Key="reports/q2.txt", Body=b"x")) == (403, "AccessDenied")
    assert _failure(lambda: reader.put_object(Bucket=bucket, Key="x.txt", Body=b"x")) == (403, "AccessDenied")
    listed = reader.list_objects_v2(Bucket=bucket, Prefix="reports/")
    assert [o["Key"] for o in listed["Contents"]] == ["reports/q1.txt"]
    assert _failure(lambda: reader.list_objects_v2(Bucket=bucket)) == (403, "AccessDenied")
    assert _failure(lambda: reader.list_objects_v2(Bucket=bucket, Prefix="private/")) == (403, "AccessDenied")
    # another bucket of the same tenant: visible, so AccessDenied (not NoSuchBucket)
    assert _failure(lambda: reader.get_object(Bucket=other, Key="reports/q1.txt")) == (403, "AccessDenied")
    assert _failure(lambda: reader.list_objects_v2(Bucket=other, Prefix="reports/")) == (403, "AccessDenied")
    # nothing was written
    assert [o["Key"] for o in root.list_objects_v2(Bucket=bucket)["Contents"]] == [
        "private/salaries.txt",
        "reports/q1.txt",
    ]


def test_missing_key_is_404_only_for_principals_that_may_list(env: Env) -> None:
    """As S3: a missing key is NoSuchKey only to a principal with s3:ListBucket on the bucket; everyone else gets
    AccessDenied. A ListBucket grant conditioned on s3:prefix does not apply to a GetObject (which has no prefix)."""
    root = env.root
    bucket = _name("acl-missing")
    root.create_bucket(Bucket=bucket)
    root.put_object(Bucket=bucket, Key="reports/there.txt", Body=b"there")
    get = {"Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/reports/*"}
    conditional = {
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{bucket}",
        "Condition": {"StringLike": {"s3:prefix": "reports/*"}},
    }
    listing = {"Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
    *_, getter = _member(env, env.admin, "default", _allow(get))
    *_, prefixed = _member(env, env.admin, "default", _allow(get, conditional))
    *_, lister = _member(env, env.admin, "default", _allow(get, listing))

    for client in (getter, prefixed, lister):
        assert client.get_object(Bucket=bucket, Key="reports/there.txt")["Body"].read() == b"there"
    assert _failure(lambda: getter.get_object(Bucket=bucket, Key="reports/missing.txt")) == (403, "AccessDenied")
    assert _failure(lambda: prefixed.get_object(Bucket=bucket, Key="reports/missing.txt")) == (403, "AccessDenied")
    assert _failure(lambda: lister.get_object(Bucket=bucket, Key="reports/missing.txt")) == (404, "NoSuchKey")
    assert _failure(lambda: root.get_object(Bucket=bucket, Key="reports/missing.txt")) == (404, "NoSuchKey")
    # HEAD has no body: the status alone
    assert _failure(lambda: getter.head_object(Bucket=bucket, Key="reports/missing.txt")) == (403, "403")
    assert _failure(lambda: root.head_object(Bucket=bucket, Key="reports/missing.txt")) == (404, "404")


# --- 2. access keys -----------------------------------------------------------------------------------------------


def test_access_key_disable_enable_delete(env: Env) -> None:
    root = env.root
    bucket = _name("acl-keys")
    root.create_bucket(Bucket=bucket)
    root.put_object(Bucket=bucket, Key="k.txt", Body=b"key test")
    policy = _allow({"Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"})
    user, key_id, _secret, client = _member(env, env.admin, "default", policy)
    assert client.get_object(Bucket=bucket, Key="k.txt")["Body"].read() == b"key test"

    def refused() -> bool:
        try:
            client.get_object(Bucket=bucket, Key="k.txt")
        except ClientError as exc:
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            code = exc.response["Error"]["Code"]
            assert (status, code) == (403, "InvalidAccessKeyId")
            return True
        return False

    def works() -> bool:
        try:
            return client.get_object(Bucket=bucket, Key="k.txt")["Body"].read() == b"key test"
        except ClientError:
            return False

    _cli(env, "accesskey", "disable", key_id)
    took = _poll(refused, 1.0)
    assert took <= 1.0, f"disabled key still worked after {took:.3f} s"
    assert env.admin.request("GET", f"/access-keys/{key_id}")["status"] == "Inactive"
    assert _failure(lambda: client.list_buckets()) == (403, "InvalidAccessKeyId")

    _cli(env, "accesskey", "enable", key_id)
    took = _poll(works, 1.0)
    assert took <= 1.0

    # two keys per user: the second is fine, the third refused
    second = env.admin.request("POST", f"/tenants/default/users/{user}/access-keys")
    third = _admin_failure(lambda: env.admin.request("POST", f"/tenants/default/users/{user}/access-keys"))
    assert third == (409, "Conflict")
    keys = env.admin.request("GET", f"/tenants/default/users/{user}/access-keys")
    assert sorted(k["access_key_id"] for k in keys) == sorted([key_id, second["access_key_id"]])

    _cli(env, "accesskey", "delete", key_id)
    took = _poll(refused, 1.0)
    assert took <= 1.0
    assert _admin_failure(lambda: env.admin.request("GET", f"/access-keys/{key_id}"))[0] == 404
    # the other key is unaffected
    other = env.server.client(access=second["access_key_id"], secret=second["secret_access_key"])
    assert other.get_object(Bucket=bucket, Key="k.txt")["Body"].read() == b"key test"


# --- 3. cross-tenant bucket policy ----------------------------------------------------------------------------------


def test_cross_tenant_bucket_policy_and_revocation(env: Env) -> None:
    root = env.root
    bucket = _name("acl-cross")
    root.create_bucket(Bucket=bucket)
    body = b"shared with acme/bob \x01\x02" * 40
    root.put_object(Bucket=bucket, Key="shared.txt", Body=body)
    acme_bucket = _name("acl-acme-own")
    env.acme.create_bucket(Bucket=acme_bucket)

    bob_policy = _allow(
        {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::*"},
        {"Action": "s3:ListAllMyBuckets", "Resource": "*"},
    )
    user, _kid, _sec, bob = _member(env, env.acme_admin, "acme", bob_policy)
    arn = f"arn:aws:iam::acme:user/{user}"
    assert _failure(lambda: bob.get_object(Bucket=bucket, Key="shared.txt")) == (404, "NoSuchBucket")

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": arn},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    root.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert bob.get_object(Bucket=bucket, Key="shared.txt")["Body"].read() == body
    # the bucket policy grants reads only
    assert _failure(lambda: bob.put_object(Bucket=bucket, Key="planted", Body=b"x")) == (403, "AccessDenied")
    assert _failure(lambda: bob.list_objects_v2(Bucket=bucket)) == (403, "AccessDenied")

    # without his own identity policy bob gets nothing, though the bucket names him
    env.acme_admin.request("DELETE", f"/tenants/acme/users/{user}/policy")
    assert _failure(lambda: bob.get_object(Bucket=bucket, Key="shared.txt")) == (403, "AccessDenied")
    env.acme_admin.request("PUT", f"/tenants/acme/users/{user}/policy", raw=json.dumps(bob_policy).encode())
    assert bob.get_object(Bucket=bucket, Key="shared.txt")["Body"].read() == body

    # ListBuckets: acme's buckets only
    names = [b["Name"] for b in bob.list_buckets()["Buckets"]]
    assert acme_bucket in names and bucket not in names
    assert [b["Name"] for b in env.acme.list_buckets()["Buckets"]] == names

    # revocation takes effect on the very next request: the bucket looks missing again
    root.delete_bucket_policy(Bucket=bucket)
    assert _failure(lambda: bob.get_object(Bucket=bucket, Key="shared.txt")) == (404, "NoSuchBucket")
    assert bucket not in [b["Name"] for b in bob.list_buckets()["Buckets"]]


# --- 4. public access ---------------------------------------------------------------------------------------------


def test_public_read_acl_and_public_access_blocks(env: Env) -> None:
    root = env.root
    bucket = _name("acl-public")
    root.create_bucket(Bucket=bucket)
    public, private = b"hello, world \xe2\x9c\x93" * 30, b"private bytes"
    assert env.admin.request("GET", "/tenants/default/public-access-block") == dict.fromkeys(ALL_BLOCKS, True)
    try:
        assert _failure(lambda: root.put_object(Bucket=bucket, Key="pub.txt", Body=public, ACL="public-read")) == (
            403,
            "AccessDenied",
        )
        assert _failure(lambda: root.head_object(Bucket=bucket, Key="pub.txt"))[0] == 404

        _cli(env, "tenant", "public-access-block", "default", "--off")
        assert env.admin.request("GET", "/tenants/default/public-access-block") == dict.fromkeys(ALL_BLOCKS, False)
        root.put_object(Bucket=bucket, Key="pub.txt", Body=public, ACL="public-read")
        root.put_object(Bucket=bucket, Key="priv.txt", Body=private)

        r = _unsigned(env, bucket, "pub.txt")
        assert r.status_code == 200 and r.content == public
        r = _unsigned(env, bucket, "priv.txt")
        assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text and b"private" not in r.content

        # the tenant-wide block back on: refused within a second
        _tenant_block(env, True)
        _poll(lambda: _unsigned(env, bucket, "pub.txt").status_code == 403, 1.0)
        r = _unsigned(env, bucket, "pub.txt")
        assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text

        _tenant_block(env, False)
        _poll(lambda: _unsigned(env, bucket, "pub.txt").status_code == 200, 1.0)
        assert _unsigned(env, bucket, "pub.txt").content == public

        # the bucket's own block
        config = {
            "BlockPublicAcls": False,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        }
        root.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=config)
        r = _unsigned(env, bucket, "pub.txt")
        assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
        assert root.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == config
        got = root.delete_public_access_block(Bucket=bucket)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert _failure(lambda: root.get_public_access_block(Bucket=bucket)) == (
            404,
            "NoSuchPublicAccessBlockConfiguration",
        )
        r = _unsigned(env, bucket, "pub.txt")
        assert r.status_code == 200 and r.content == public
    finally:
        _tenant_block(env, True)


def test_public_bucket_policy(env: Env) -> None:
    root = env.root
    bucket = _name("acl-pubpol")
    root.create_bucket(Bucket=bucket)
    body = b"readable by anyone once the policy is in"
    root.put_object(Bucket=bucket, Key="open.txt", Body=body)
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicRead",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        },
        indent=4,
    )
    try:
        assert _failure(lambda: root.put_bucket_policy(Bucket=bucket, Policy=document)) == (403, "AccessDenied")
        assert _failure(lambda: root.get_bucket_policy(Bucket=bucket)) == (404, "NoSuchBucketPolicy")
        assert _unsigned(env, bucket, "open.txt").status_code == 403

        _tenant_block(env, False)
        root.put_bucket_policy(Bucket=bucket, Policy=document)
        assert root.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": True}
        assert root.get_bucket_policy(Bucket=bucket)["Policy"] == document
        r = _unsigned(env, bucket, "open.txt")
        assert r.status_code == 200 and r.content == body
        # another tenant's signed request is public access too
        assert env.acme.get_object(Bucket=bucket, Key="open.txt")["Body"].read() == body

        # the bucket's RestrictPublicBuckets drops the public policy's grants to outsiders
        restrict = dict.fromkeys(ALL_BLOCKS, False) | {"RestrictPublicBuckets": True}
        root.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=restrict)
        r = _unsigned(env, bucket, "open.txt")
        assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
        assert _failure(lambda: env.acme.get_object(Bucket=bucket, Key="open.txt")) == (403, "AccessDenied")
        # the bucket's BlockPublicPolicy refuses a public policy even with the tenant-wide block off
        root.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=dict.fromkeys(ALL_BLOCKS, False) | {"BlockPublicPolicy": True}
        )
        assert _failure(lambda: root.put_bucket_policy(Bucket=bucket, Policy=document)) == (403, "AccessDenied")
        root.delete_public_access_block(Bucket=bucket)
        assert root.get_bucket_policy(Bucket=bucket)["Policy"] == document
        assert _unsigned(env, bucket, "open.txt").status_code == 200

        got = root.delete_bucket_policy(Bucket=bucket)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert _failure(lambda: root.get_bucket_policy(Bucket=bucket)) == (404, "NoSuchBucketPolicy")
        assert _unsigned(env, bucket, "open.txt").status_code == 403
    finally:
        _tenant_block(env, True)


def _statement(bucket: str, **over: Any) -> str:
    st: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::default:user/admin"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    for k, v in over.items():
        if v is None:
            st.pop(k)
        else:
            st[k] = v
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


@pytest.mark.parametrize("case", ["not-json", "unknown-action", "other-bucket", "missing-principal", "no-statement"])
def test_malformed_bucket_policy(env: Env, case: str) -> None:
    root = env.root
    bucket = _name("acl-malformed")
    root.create_bucket(Bucket=bucket)
    policies = {
        "not-json": '{"Version": "2012-10-17", "Statement": [',
        "unknown-action": _statement(bucket, Action="s3:FlyObject"),
        "other-bucket": _statement(bucket, Resource="arn:aws:s3:::some-other-bucket-entirely/*"),
        "missing-principal": _statement(bucket, Principal=None),
        "no-statement": json.dumps({"Version": "2012-10-17"}),
    }
    # the well-formed variant is accepted (so each case fails for its own defect)
    root.put_bucket_policy(Bucket=bucket, Policy=_statement(bucket))
    root.delete_bucket_policy(Bucket=bucket)
    assert _failure(lambda: root.put_bucket_policy(Bucket=bucket, Policy=policies[case])) == (400, "MalformedPolicy")
    assert _failure(lambda: root.get_bucket_policy(Bucket=bucket)) == (404, "NoSuchBucketPolicy")


# --- 5. ACLs ------------------------------------------------------------------------------------------------------


def test_unknown_canned_acl_is_invalid_argument(env: Env) -> None:
    root = env.root
    bucket = _name("acl-canned")
    assert _failure(lambda: root.create_bucket(Bucket=bucket, ACL="world-writable")) == (400, "InvalidArgument")
    assert _failure(lambda: root.head_bucket(Bucket=bucket))[0] == 404
    root.create_bucket(Bucket=bucket)
    assert _failure(lambda: root.put_object(Bucket=bucket, Key="w.txt", Body=b"x", ACL="world-writable")) == (
        400,
        "InvalidArgument",
    )
    assert _failure(lambda: root.head_object(Bucket=bucket, Key="w.txt"))[0] == 404


def test_acl_grants_to_another_tenant(env: Env) -> None:
    root, acme = env.root, env.acme
    bucket = _name("acl-grants")
    root.create_bucket(Bucket=bucket)
    body = b"granted to acme by canonical id"
    root.put_object(Bucket=bucket, Key="g.txt", Body=body)
    root.put_object(Bucket=bucket, Key="not-granted.txt", Body=b"no")

    owner = root.get_bucket_acl(Bucket=bucket)["Owner"]
    assert env.admin.request("GET", "/tenants/default")["canonical_id"] == owner["ID"]
    assert owner["ID"] != env.acme_canonical
    assert acme.list_buckets()["Owner"]["ID"] == env.acme_canonical

    # canned private: the owner's FULL_CONTROL only
    root.put_bucket_acl(Bucket=bucket, ACL="private")
    grants = root.get_bucket_acl(Bucket=bucket)["Grants"]
    assert [(g["Grantee"]["Type"], g["Grantee"].get("ID"), g["Permission"]) for g in grants] == [
        ("CanonicalUser", owner["ID"], "FULL_CONTROL")
    ]
    assert _failure(lambda: acme.get_object(Bucket=bucket, Key="g.txt")) == (404, "NoSuchBucket")

    def policy(grantee: str, permission: str) -> dict[str, Any]:
        return {
            "Owner": {"ID": owner["ID"]},
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"Type": "CanonicalUser", "ID": grantee}, "Permission": permission},
            ],
        }

    root.put_object_acl(Bucket=bucket, Key="g.txt", AccessControlPolicy=policy(env.acme_canonical, "READ"))
    got = root.get_object_acl(Bucket=bucket, Key="g.txt")
    assert got["Owner"]["ID"] == owner["ID"]
    assert sorted((g["Grantee"]["ID"], g["Permission"]) for g in got["Grants"]) == sorted(
        [(owner["ID"], "FULL_CONTROL"), (env.acme_canonical, "READ")]
    )
    assert acme.get_object(Bucket=bucket, Key="g.txt")["Body"].read() == body
    # READ on one object: not the others, not writes, not listing. Where neither the bucket's policy and ACL nor
    # the ACL of the object asked for mention acme (writes and listings read no object ACL), the bucket looks
    # missing, as for any other tenant (policy.authz.visible)
    assert _failure(lambda: acme.get_object(Bucket=bucket, Key="not-granted.txt")) == (404, "NoSuchBucket")
    assert _failure(lambda: acme.put_object(Bucket=bucket, Key="g.txt", Body=b"over")) == (404, "NoSuchBucket")
    assert _failure(lambda: acme.list_objects_v2(Bucket=bucket)) == (404, "NoSuchBucket")
    assert root.get_object(Bucket=bucket, Key="g.txt")["Body"].read() == body

    # a bucket ACL grant of READ lets acme list
    root.put_bucket_acl(Bucket=bucket, AccessControlPolicy=policy(env.acme_canonical, "READ"))
    grants = root.get_bucket_acl(Bucket=bucket)["Grants"]
    assert (env.acme_canonical, "READ") in [(g["Grantee"].get("ID"), g["Permission"]) for g in grants]
    assert [o["Key"] for o in acme.list_objects_v2(Bucket=bucket)["Contents"]] == ["g.txt", "not-granted.txt"]
    assert _failure(lambda: acme.put_object(Bucket=bucket, Key="planted", Body=b"x")) == (403, "AccessDenied")

    # an id that names no tenant
    unknown = uuid.uuid4().hex + uuid.uuid4().hex
    assert _failure(
        lambda: root.put_object_acl(Bucket=bucket, Key="g.txt", AccessControlPolicy=policy(unknown, "READ"))
    ) == (400, "InvalidArgument")
    assert _failure(lambda: root.put_bucket_acl(Bucket=bucket, AccessControlPolicy=policy(unknown, "READ"))) == (
        400,
        "InvalidArgument",
    )
    # unchanged by the refused requests
    assert acme.get_object(Bucket=bucket, Key="g.txt")["Body"].read() == body

    # revoking the object grant (canned private) takes it away
    root.put_bucket_acl(Bucket=bucket, ACL="private")
    root.put_object_acl(Bucket=bucket, Key="g.txt", ACL="private")
    assert _failure(lambda: acme.get_object(Bucket=bucket, Key="g.txt")) == (404, "NoSuchBucket")


def test_bucket_owner_enforced_turns_acls_off(env: Env) -> None:
    root = env.root
    bucket = _name("acl-ownership")
    root.create_bucket(Bucket=bucket)
    root.put_object(Bucket=bucket, Key="o.txt", Body=b"owned")
    controls = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    _tenant_block(env, False)  # so that the refusals below are the ownership's, not the public access block's
    try:
        root.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=controls)
        assert root.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"] == controls
        assert _failure(lambda: root.put_object_acl(Bucket=bucket, Key="o.txt", ACL="public-read")) == (
            400,
            "AccessControlListNotSupported",
        )
        assert _failure(lambda: root.put_object(Bucket=bucket, Key="p.txt", Body=b"x", ACL="public-read")) == (
            400,
            "AccessControlListNotSupported",
        )
        assert _failure(lambda: root.head_object(Bucket=bucket, Key="p.txt"))[0] == 404
        assert _unsigned(env, bucket, "o.txt").status_code == 403
        # the one ACL a BucketOwnerEnforced bucket accepts
        root.put_object(Bucket=bucket, Key="q.txt", Body=b"y", ACL="bucket-owner-full-control")

        got = root.delete_bucket_ownership_controls(Bucket=bucket)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert _failure(lambda: root.get_bucket_ownership_controls(Bucket=bucket)) == (
            404,
            "OwnershipControlsNotFoundError",
        )
        # ACLs work again
        root.put_object_acl(Bucket=bucket, Key="o.txt", ACL="public-read")
        assert _unsigned(env, bucket, "o.txt").status_code == 200
    finally:
        _tenant_block(env, True)


# --- 6. operators -------------------------------------------------------------------------------------------------


def test_operators_cannot_touch_tenant_data(env: Env) -> None:
    root = env.root
    bucket = _name("acl-opdata")
    root.create_bucket(Bucket=bucket)
    body = b"customer data the operator must not read"
    root.put_object(Bucket=bucket, Key="c.txt", Body=body)
    op = env.server.client(access=_ct.OPERATOR_ACCESS, secret=_ct.OPERATOR_SECRET)
    op_bucket = _name("acl-operator-own")
    op.create_bucket(Bucket=op_bucket)
    op.put_object(Bucket=op_bucket, Key="mine.txt", Body=b"operator's own")
    assert op.get_object(Bucket=op_bucket, Key="mine.txt")["Body"].read() == b"operator's own"

    denied = (403, "AccessDenied")
    assert _failure(lambda: op.get_object(Bucket=bucket, Key="c.txt")) == denied
    assert _failure(lambda: op.head_object(Bucket=bucket, Key="c.txt")) == (403, "403")
    assert _failure(lambda: op.list_objects_v2(Bucket=bucket)) == denied
    assert (
        _failure(
            lambda: op.copy_object(Bucket=op_bucket, Key="stolen.txt", CopySource={"Bucket": bucket, "Key": "c.txt"})
        )
        == denied
    )
    assert _failure(lambda: op.head_object(Bucket=op_bucket, Key="stolen.txt"))[0] == 404
    assert _failure(lambda: op.put_object(Bucket=bucket, Key="planted.txt", Body=b"x")) == denied
    assert [o["Key"] for o in root.list_objects_v2(Bucket=bucket)["Contents"]] == ["c.txt"]
    assert root.get_object(Bucket=bucket, Key="c.txt")["Body"].read() == body

    # the admin API's object endpoints
    assert _admin_failure(lambda: env.operator.request("GET", f"/buckets/{bucket}/objects"))[0] == 403
    assert _admin_failure(lambda: env.operator.request("GET", f"/buckets/{bucket}/objects/c.txt"))[0] == 403
    # ... which the tenant's admin may use
    listed = env.admin.request("GET", f"/buckets/{bucket}/objects")
    assert [o["key"] for o in listed["objects"]] == ["c.txt"]
    assert env.admin.request("GET", f"/buckets/{bucket}/objects/c.txt")["size"] == len(body)


def test_operators_cannot_use_tenant_vault_data(env: Env) -> None:
    tenant = env.server.tenant_vault()
    key, path = _name("acl-transit"), _name("acl-secret")
    tenant.secrets.transit.create_key(name=key)
    plaintext = base64.b64encode(b"tenant secret plaintext").decode()
    ct = tenant.secrets.transit.encrypt_data(name=key, plaintext=plaintext)["data"]["ciphertext"]
    tenant.secrets.kv.v2.create_or_update_secret(path=path, secret={"password": "hunter2"})

    info = json.loads((env.server.data_dir / "run" / "vault.json").read_text())
    root = hvac.Client(url=info["url"], token=_ct.ROOT_TOKEN, namespace="default", verify=env.server.ca, timeout=30)
    with pytest.raises(hvac.exceptions.Forbidden):
        root.secrets.transit.decrypt_data(name=key, ciphertext=ct)
    with pytest.raises(hvac.exceptions.Forbidden):
        root.secrets.kv.v2.read_secret_version(path=path, raise_on_deleted_version=True)

    assert tenant.secrets.transit.decrypt_data(name=key, ciphertext=ct)["data"]["plaintext"] == plaintext
    got = tenant.secrets.kv.v2.read_secret_version(path=path, raise_on_deleted_version=True)
    assert got["data"]["data"] == {"password": "hunter2"}


# --- 7. DeleteObjects per key ---------------------------------------------------------------------------------------


def test_delete_objects_decides_per_key(env: Env) -> None:
    root = env.root
    bucket = _name("acl-delete")
    root.create_bucket(Bucket=bucket)
    keys = ["tmp/a.txt", "tmp/b/c.txt", "keep/d.txt", "e.txt"]
    for k in keys:
        root.put_object(Bucket=bucket, Key=k, Body=k.encode())
    policy = _allow({"Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/tmp/*"})
    *_, member = _member(env, env.admin, "default", policy)

    got = member.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in got.get("Deleted", [])) == ["tmp/a.txt", "tmp/b/c.txt"]
    assert sorted((e["Key"], e["Code"]) for e in got.get("Errors", [])) == [
        ("e.txt", "AccessDenied"),
        ("keep/d.txt", "AccessDenied"),
    ]
    assert sorted(o["Key"] for o in root.list_objects_v2(Bucket=bucket)["Contents"]) == ["e.txt", "keep/d.txt"]
    for k in ("keep/d.txt", "e.txt"):
        assert root.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode()
    # and a single DeleteObject outside tmp/ is refused
    assert _failure(lambda: member.delete_object(Bucket=bucket, Key="e.txt")) == (403, "AccessDenied")


def test_setting_an_acl_on_a_write_needs_put_object_acl(env: Env) -> None:
    """As in S3: PutObject, CopyObject, CreateMultipartUpload and POST with an ACL (canned or grant headers) also
    need s3:PutObjectAcl; refused with AccessDenied, nothing written. Without an ACL, s3:PutObject is enough."""
    root = env.root
    bucket = _name("acl-put")
    root.create_bucket(Bucket=bucket)
    root.put_object(Bucket=bucket, Key="src.txt", Body=b"source")
    objects = f"arn:aws:s3:::{bucket}/*"
    _u, _k, _s, writer = _member(
        env, env.admin, "default", _allow({"Action": ["s3:PutObject", "s3:GetObject"], "Resource": objects})
    )
    _u, _k, _s, acl_writer = _member(
        env,
        env.admin,
        "default",
        _allow({"Action": ["s3:PutObject", "s3:PutObjectAcl", "s3:GetObject"], "Resource": objects}),
    )
    denied = (403, "AccessDenied")
    owner = root.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    assert _failure(lambda: writer.put_object(Bucket=bucket, Key="a.txt", Body=b"a", ACL="private")) == denied
    assert _failure(lambda: writer.put_object(Bucket=bucket, Key="a.txt", Body=b"a", GrantRead=f"id={owner}")) == denied
    copy = {"Bucket": bucket, "Key": "src.txt"}
    assert _failure(lambda: writer.copy_object(Bucket=bucket, Key="c.txt", CopySource=copy, ACL="private")) == denied
    assert _failure(lambda: writer.create_multipart_upload(Bucket=bucket, Key="m.txt", ACL="private")) == denied
    assert [o["Key"] for o in root.list_objects_v2(Bucket=bucket)["Contents"]] == ["src.txt"]
    assert root.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # without an ACL the write is the writer's right; with s3:PutObjectAcl the ACL is set too
    writer.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    acl_writer.put_object(Bucket=bucket, Key="b.txt", Body=b"b", ACL="private")
    acl_writer.copy_object(Bucket=bucket, Key="c.txt", CopySource=copy, ACL="private")
    assert sorted(o["Key"] for o in root.list_objects_v2(Bucket=bucket)["Contents"]) == [
        "a.txt",
        "b.txt",
        "c.txt",
        "src.txt",
    ]


def test_a_missing_copy_source_is_reported_by_the_source_buckets_list_right(env: Env) -> None:
    """CopyObject from a missing key: NoSuchKey only to a principal that may list the *source* bucket (what the
    destination allows says nothing about the source), else AccessDenied, as in S3."""
    root = env.root
    src, dst = _name("acl-copy-src"), _name("acl-copy-dst")
    root.create_bucket(Bucket=src)
    root.create_bucket(Bucket=dst)
    root.put_object(Bucket=src, Key="there.txt", Body=b"here")
    reads = {"Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{src}/*"}
    writes = {"Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{dst}/*"}
    _u, _k, _s, lists_dst = _member(
        env, env.admin, "default", _allow(reads, writes, {"Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{dst}"})
    )
    _u, _k, _s, lists_src = _member(
        env, env.admin, "default", _allow(reads, writes, {"Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{src}"})
    )
    missing = {"Bucket": src, "Key": "missing.txt"}
    assert _failure(lambda: lists_dst.copy_object(Bucket=dst, Key="c.txt", CopySource=missing)) == (403, "AccessDenied")
    assert _failure(lambda: lists_src.copy_object(Bucket=dst, Key="c.txt", CopySource=missing)) == (404, "NoSuchKey")
    lists_dst.copy_object(Bucket=dst, Key="c.txt", CopySource={"Bucket": src, "Key": "there.txt"})
    assert root.get_object(Bucket=dst, Key="c.txt")["Body"].read() == b"here"
