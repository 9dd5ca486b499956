"""The vault's key release rule (keys/release.py) on a real transit engine: whom a bucket key is released for,
why, and what the key's owner refuses. The facts (buckets, grants, credentials) are plain tables here; the e2e
tests (test_lockbox.py, test_vault_key_lifecycle.py) drive the same rule through the server."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import struct
import uuid

import pytest

from strongroom.core import errors
from strongroom.core.clock import FakeClock
from strongroom.core.types import KeyUse
from strongroom.keys.release import BucketFacts, GrantFacts, ReleaseFacts, release_bucket_key
from strongroom.keys.storage import MemoryStorage
from strongroom.keys.transit import TransitEngine

TENANT = "acme"
BUCKET = BucketFacts(str(uuid.UUID(int=1)), "acme-data", TENANT)
OTHER_BUCKET = BucketFacts(str(uuid.UUID(int=2)), "acme-other", TENANT)
GLOBEX_BUCKET = BucketFacts(str(uuid.UUID(int=3)), "globex-data", "globex")
CLOCK = FakeClock()

MEMBER = KeyUse("user", TENANT, "member", "SRMEMBER", "s3:GetObject")
OPERATOR = KeyUse("user", "system", "oncall", "SROPS", "s3:GetObject", grant="lbg-1", justification="operator-lockbox")


def grant(**over: object) -> GrantFacts:
    base = GrantFacts("lbg-1", "oncall", TENANT, BUCKET.id, CLOCK.now + dt.timedelta(hours=1), False, None)
    return dataclasses.replace(base, **over)  # type: ignore[arg-type]


@pytest.fixture()
def transit() -> TransitEngine:
    t = TransitEngine(MemoryStorage())
    t.create_key("cmk", tenant=TENANT)
    t.create_key("other", tenant=TENANT)
    return t


def facts(g: GrantFacts | None = None) -> ReleaseFacts:
    buckets = {b.name: b for b in (BUCKET, OTHER_BUCKET, GLOBEX_BUCKET)}
    creds = {"SRMEMBER": {"tenant": TENANT, "user": "member"}, "SRADMIN": {"tenant": TENANT}}
    return ReleaseFacts(
        bucket=buckets.get,
        grant=lambda gid: g if g is not None and g.id == gid else None,
        credential=creds.get,
        clock=CLOCK,
    )


def release(
    transit: TransitEngine,
    use: KeyUse,
    version: int | None = 1,
    bucket: BucketFacts = BUCKET,
    g: GrantFacts | None = None,
    name: str = "cmk",
) -> tuple[int, bytes, str]:
    got = release_bucket_key(transit, TENANT, name, version, bucket.name, bucket.id, use, facts(g))
    return got.version, got.key, got.justification


def refused(transit: TransitEngine, use: KeyUse, match: str, **kw: object) -> None:
    with pytest.raises(errors.KeyReleaseRefused, match=match):
        release(transit, use, **kw)  # type: ignore[arg-type]


def expected_bucket_key(kek: bytes, tenant: str, key: str, version: int, bucket_id: str) -> bytes:
    """RFC 5869 HKDF-SHA256 written out with the standard library, from FORMAT.md's description."""
    info = (
        b"SRM1 bucket key"
        + struct.pack(">H", len(tenant))
        + tenant.encode()
        + struct.pack(">H", len(key))
        + key.encode()
        + struct.pack(">I", version)
        + uuid.UUID(bucket_id).bytes
    )
    prk = hmac.new(b"\x00" * 32, kek, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


# --- customer-initiated -------------------------------------------------------------------------------------------


def test_a_member_gets_the_bucket_key_never_the_vault_key(transit: TransitEngine) -> None:
    version, key, why = release(transit, MEMBER)
    kek = transit.kek_material("cmk", 1)[1]
    assert (version, why) == (1, "customer-initiated")
    assert key == expected_bucket_key(kek, TENANT, "cmk", 1, BUCKET.id) and key != kek
    # one key per bucket and per key version
    assert release(transit, MEMBER, bucket=OTHER_BUCKET)[1] != key
    transit.rotate("cmk")
    assert release(transit, MEMBER, version=None)[:1] == (2,)
    assert release(transit, MEMBER, version=2)[1] not in (key, transit.kek_material("cmk", 2)[1])
    assert release(transit, MEMBER, version=1)[1] == key  # old objects stay readable


def test_a_tenant_principal_must_name_a_live_access_key_of_itself(transit: TransitEngine) -> None:
    refused(transit, dataclasses.replace(MEMBER, access_key="SRGONE"), "not a live key")
    refused(transit, dataclasses.replace(MEMBER, access_key=None), "not a live key")
    refused(transit, dataclasses.replace(MEMBER, user="admin"), "not a live key")  # SRMEMBER is member's
    assert release(transit, dataclasses.replace(MEMBER, user="admin", access_key="SRADMIN"))[2] == "customer-initiated"


def test_principals_the_bucket_owner_let_in_are_customer_initiated(transit: TransitEngine) -> None:
    anonymous = KeyUse("anonymous", "", "", None, "s3:GetObject")
    stranger = KeyUse("user", "globex", "admin", "SRGLOBEX", "s3:GetObject")
    assert release(transit, anonymous)[2] == "customer-initiated"
    assert release(transit, stranger)[2] == "customer-initiated"


def test_operators_use_their_own_tenants_keys_as_customers() -> None:
    t = TransitEngine(MemoryStorage())
    t.create_key("ops-key", tenant="system")
    own = BucketFacts(str(uuid.UUID(int=9)), "ops-bucket", "system")
    use = KeyUse("user", "system", "oncall", "SROPS", "s3:PutObject")
    f = ReleaseFacts(
        bucket={own.name: own}.get,
        grant=lambda _: None,
        credential={"SROPS": {"tenant": "system", "user": "oncall"}}.get,
    )
    assert (
        release_bucket_key(t, "system", "ops-key", None, own.name, own.id, use, f).justification == "customer-initiated"
    )


def test_the_bucket_must_be_the_key_tenants(transit: TransitEngine) -> None:
    refused(transit, MEMBER, "not a bucket of acme", bucket=GLOBEX_BUCKET)
    with pytest.raises(errors.KeyReleaseRefused):  # the right name with another id
        release_bucket_key(transit, TENANT, "cmk", 1, BUCKET.name, OTHER_BUCKET.id, MEMBER, facts())
    with pytest.raises(errors.KeyReleaseRefused):
        release_bucket_key(transit, TENANT, "cmk", 1, "no-such-bucket", BUCKET.id, MEMBER, facts())
    with pytest.raises(errors.InvalidRequest):
        release_bucket_key(transit, TENANT, "cmk", 1, BUCKET.name, "not-a-uuid", MEMBER, facts())


def test_the_key_state_still_rules(transit: TransitEngine) -> None:
    transit.disable("cmk")
    with pytest.raises(errors.KeyDisabled):
        release(transit, MEMBER)
    with pytest.raises(errors.KeyNotFound):
        release(transit, MEMBER, name="nokey")


# --- operators ----------------------------------------------------------------------------------------------------


def test_operators_get_nothing_without_a_grant(transit: TransitEngine) -> None:
    bare = dataclasses.replace(OPERATOR, grant=None, justification="customer-initiated")
    refused(transit, bare, "only under a lockbox grant")
    refused(transit, dataclasses.replace(OPERATOR, grant=None), "needs a lockbox grant")
    refused(transit, OPERATOR, "no lockbox grant lbg-1")  # named, but no such grant


def test_a_grant_releases_reading_keys_of_its_bucket_to_its_operator_only(transit: TransitEngine) -> None:
    assert release(transit, OPERATOR, g=grant())[2] == "operator-lockbox"
    assert release(transit, dataclasses.replace(OPERATOR, operation="s3:GetObjectVersion"), g=grant())[2]
    refused(transit, OPERATOR, "does not cover", g=grant(operator="someone-else"))
    refused(transit, OPERATOR, "does not cover", g=grant(tenant="globex"))
    refused(transit, OPERATOR, "does not cover", g=grant(bucket_id=OTHER_BUCKET.id))
    refused(transit, OPERATOR, "has ended", g=grant(revoked=True))
    refused(transit, OPERATOR, "has ended", g=grant(expires_at=CLOCK.now))
    refused(transit, OPERATOR, "reading only", g=grant(), version=None)  # a key to encrypt with
    refused(transit, dataclasses.replace(OPERATOR, operation="s3:PutObject"), "reading only", g=grant())
    member_with_grant = dataclasses.replace(MEMBER, grant="lbg-1", justification="operator-lockbox")
    refused(transit, member_with_grant, "only operators", g=grant())


def test_a_grant_for_a_third_party_case_is_a_third_party_release(transit: TransitEngine) -> None:
    assert release(transit, OPERATOR, g=grant(case_id="case-1"))[2] == "third-party"


def test_system_operations_and_unknown_justifications_never_leave_the_vault(transit: TransitEngine) -> None:
    refused(transit, dataclasses.replace(MEMBER, justification="system-operation"), "inside the vault")
    with pytest.raises(errors.InvalidRequest, match="unknown key access justification"):
        release(transit, dataclasses.replace(MEMBER, justification="because"))
    with pytest.raises(errors.InvalidRequest, match="unknown principal type"):
        release(transit, dataclasses.replace(MEMBER, principal_type="gateway"))


# --- the owner's refusals -----------------------------------------------------------------------------------------


def test_the_owner_refuses_justifications_per_key(transit: TransitEngine) -> None:
    assert transit.set_refused_justifications("cmk", ("third-party", "operator-lockbox", "third-party")) == (
        "operator-lockbox",
        "third-party",
    )
    refused(transit, OPERATOR, "refuses key access justified as operator-lockbox", g=grant())
    refused(transit, OPERATOR, "justified as third-party", g=grant(case_id="case-1"))
    assert release(transit, MEMBER)[2] == "customer-initiated"  # not refused
    assert release(transit, OPERATOR, g=grant(), name="other")[2] == "operator-lockbox"  # another key
    transit.set_refused_justifications("cmk", ("customer-initiated",))
    refused(transit, MEMBER, "justified as customer-initiated")
    transit.set_refused_justifications("cmk", ())
    assert release(transit, MEMBER)[2] == "customer-initiated"
    assert transit.refused_justifications("cmk") == ()
