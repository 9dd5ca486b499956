"""The vault's half of a tenant's crypto-shred (service/vaultshred.py), on an in-memory vault."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from strongroom.core import errors
from strongroom.keys.certificates import TENANT_CERT_KIND, verify_certificate
from strongroom.keys.seal import SealManager
from strongroom.keys.storage import MemoryStorage, walk
from strongroom.service import vaultshred
from strongroom.service.vault import VaultCore

WHO = {"arn": "arn:aws:iam::system:user/admin", "tenant": "system", "user": "admin", "access_key_id": "SROP"}
INVENTORY = {"buckets": [{"name": "b1", "objects": 2, "bytes": 7}], "objects": 2, "bytes": 7}


def make_core() -> VaultCore:
    physical = MemoryStorage()
    core = VaultCore(physical, SealManager(physical))
    out = core.initialize(1, 1, root_token="hvs.unit-root")
    core.submit_unseal_key(out.keys[0], reset=False)
    return core


@pytest.fixture()
def core() -> VaultCore:
    c = make_core()
    c.create_namespace("acme")
    c.create_namespace("other")
    acme = c.namespace("acme").transit
    acme.create_key("bucket-1", tenant="acme")
    acme.create_key("kms-a", tenant="acme")
    acme.rotate("kms-a")
    c.namespace("other").transit.create_key("kms-o", tenant="other")
    c.namespace("acme").kv.create_or_update("app/db", {"password": "s3cret"})
    c.put_credential("SRACME1", "secret-a", "acme", "admin")
    c.put_credential("SROTHER", "secret-o", "other", "admin")
    return c


def _states(core: VaultCore, ns: str) -> dict[str, str]:
    return {k["name"]: k["state"] for k in vaultshred.namespace_keys(core.namespace(ns))}


def test_destroy_keys_destroys_every_key_revokes_tokens_and_deletes_the_credentials(core: VaultCore) -> None:
    token, _entry = core.tokens.create(policies=["tenant-admin"], parent=None, namespace="acme")
    rec = vaultshred.destroy_keys(core, "acme", WHO, "REQ1", INVENTORY)
    assert rec["state"] == "keys-destroyed" and rec["requested_by"] == WHO and rec["data"] == INVENTORY
    assert [(k["name"], k["versions"], k["state_before"]) for k in rec["keys"]] == [
        ("bucket-1", [1], "enabled"),
        ("kms-a", [1, 2], "enabled"),
    ]
    assert rec["secrets"] == 1 and rec["credentials_deleted"] == 1
    assert _states(core, "acme") == {"bucket-1": "destroyed", "kms-a": "destroyed"}
    with pytest.raises(errors.KeyDestroyed):
        core.namespace("acme").transit.kek_material("kms-a", 1)
    assert core.lookup_token(token) is None
    assert core.get_credential("SRACME1") is None
    # another tenant is untouched
    assert _states(core, "other") == {"kms-o": "enabled"} and core.get_credential("SROTHER") is not None


def test_a_purge_protected_key_not_due_refuses_the_shred_and_changes_nothing(core: VaultCore) -> None:
    core.namespace("acme").transit.enable_purge_protection("kms-a")
    with pytest.raises(errors.DeleteConflict, match="kms-a"):
        vaultshred.destroy_keys(core, "acme", WHO, "REQ1", INVENTORY)
    assert vaultshred.record(core, "acme") is None
    assert _states(core, "acme") == {"bucket-1": "enabled", "kms-a": "enabled"}
    assert core.get_credential("SRACME1") is not None
    assert vaultshred.blockers(vaultshred.namespace_keys(core.namespace("acme"))) == ["kms-a"]


def test_a_purge_protected_key_past_its_deletion_date_is_destroyed(
    core: VaultCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    transit = core.namespace("acme").transit
    transit.enable_purge_protection("kms-a")
    transit.schedule_deletion("kms-a", days=7)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    monkeypatch.setattr(vaultshred, "_now", lambda: later)
    monkeypatch.setattr(transit, "_clock", lambda: later)
    rec = vaultshred.destroy_keys(core, "acme", WHO, "REQ1", INVENTORY)
    assert {k["name"]: k["state_before"] for k in rec["keys"]} == {"bucket-1": "enabled", "kms-a": "pending_deletion"}


def test_complete_deletes_the_namespace_and_signs_one_certificate(core: VaultCore) -> None:
    core.namespace("acme").transit.destroy("bucket-1", force=True)  # destroyed before the shred
    assert walk(core.physical, "ns/acme/")
    vaultshred.destroy_keys(core, "acme", WHO, "REQ1", INVENTORY)
    cert = vaultshred.complete(core, "acme")
    assert cert["kind"] == TENANT_CERT_KIND and cert["tenant"] == "acme" and cert["request_id"] == "REQ1"
    assert cert["requested_by"] == WHO and cert["data"] == INVENTORY and cert["secrets_deleted"] == 1
    assert {k["name"]: k["state_before"] for k in cert["keys"]} == {"bucket-1": "destroyed", "kms-a": "enabled"}
    published = vaultshred.certificate_key(core)
    assert verify_certificate(cert, published["public_key"])
    assert cert["signing_key_id"] == published["key_id"]
    # nothing of the namespace is left in storage, not even the key tombstones or the secret
    assert "acme" not in core.list_namespaces()
    assert walk(core.physical, "ns/acme/") == []
    with pytest.raises(errors.NotFound):
        core.namespace("acme")
    # again: the same certificate; the record says complete
    assert vaultshred.complete(core, "acme") == cert
    assert vaultshred.destroy_keys(core, "acme", WHO, "REQ2", {})["certificate"] == cert
    # the name is taken for good
    with pytest.raises(errors.EntityAlreadyExists):
        core.create_namespace("acme")
    # the tampered certificate fails
    forged = json.loads(json.dumps(cert))
    forged["data"]["objects"] = 1
    assert not verify_certificate(forged, published["public_key"])


def test_a_repeated_first_step_keeps_the_first_record_and_destroys_new_keys(core: VaultCore) -> None:
    first = vaultshred.destroy_keys(core, "acme", WHO, "REQ1", INVENTORY)
    core.namespace("acme").transit.create_key("late", tenant="acme")  # e.g. an operator's root token
    again = vaultshred.destroy_keys(core, "acme", {"arn": "someone else"}, "REQ2", {})
    assert again["requested_by"] == WHO and again["request_id"] == "REQ1" and again["data"] == INVENTORY
    assert [k["name"] for k in again["keys"]] == ["bucket-1", "kms-a", "late"]
    assert again["started_at"] == first["started_at"]
    assert _states(core, "acme")["late"] == "destroyed"


def test_a_tenant_without_a_namespace_or_record_is_not_found(core: VaultCore) -> None:
    with pytest.raises(errors.NotFound):
        vaultshred.destroy_keys(core, "nobody", WHO, "REQ1", {})
    with pytest.raises(errors.NotFound):
        vaultshred.complete(core, "nobody")
    assert vaultshred.record(core, "nobody") is None
