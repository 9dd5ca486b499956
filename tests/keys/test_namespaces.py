"""Vault namespaces: storage isolation, names, the operator rule, deletion, token namespaces, the upgrade."""

from __future__ import annotations

import base64
import json

import pytest

from strongroom.core import errors
from strongroom.keys.namespaces import check_name, normalize, operator_may
from strongroom.keys.seal import SealManager
from strongroom.keys.storage import MemoryStorage, PrefixedStorage
from strongroom.keys.tokens import TENANT_ADMIN_POLICY_NAME
from strongroom.service.vault import VaultCore

ROOT_TOKEN = "hvs.unit-test-root-token"
MSG = base64.b64encode(b"hello").decode()


def make_core(physical: MemoryStorage | None = None) -> VaultCore:
    physical = physical or MemoryStorage()
    core = VaultCore(physical, SealManager(physical))
    out = core.initialize(1, 1, root_token=ROOT_TOKEN)
    core.submit_unseal_key(out.keys[0], reset=False)
    return core


@pytest.fixture()
def core() -> VaultCore:
    return make_core()


# --- storage and names -------------------------------------------------------------------------------------


def test_prefixed_storage_sees_only_its_subtree() -> None:
    inner = MemoryStorage()
    inner.put("transit/keys/root-key", b"r")
    a = PrefixedStorage(inner, "ns/a/")
    b = PrefixedStorage(inner, "ns/b/")
    a.put("transit/keys/k", b"a")
    assert inner.get("ns/a/transit/keys/k") == b"a"
    assert b.get("transit/keys/k") is None and a.get("transit/keys/root-key") is None
    assert a.list("transit/keys/") == ["k"] and b.list("") == []
    with pytest.raises(ValueError):
        a.get("../b/transit/keys/k")
    with pytest.raises(ValueError):
        PrefixedStorage(inner, "no-slash")


@pytest.mark.parametrize("header", [None, "", "root", "root/", "system", "system/"])
def test_no_header_root_or_system_select_the_root_namespace(header: str | None) -> None:
    assert normalize(header) == ""


def test_namespace_names() -> None:
    assert normalize("acme") == normalize("acme/") == "acme"
    for bad in ("Acme", "-x", "a/b", "a" * 64, "system", "root", "a_b"):
        with pytest.raises(errors.InvalidRequest):
            check_name(bad)
    assert check_name("a" * 63)


# --- the operator rule ---------------------------------------------------------------------------------------

ALLOWED = [
    ("list", "sys/namespaces"),
    ("update", "sys/namespaces/x"),
    ("delete", "sys/namespaces/x"),
    ("list", "sys/policy"),
    ("read", "sys/policy/p"),
    ("update", "sys/policies/acl/p"),
    ("delete", "sys/policies/acl/p"),
    ("read", "sys/mounts"),
    ("read", "sys/internal/ui/mounts/secret"),
    ("read", "auth/token/lookup-self"),
    ("list", "transit/keys"),
    ("update", "transit/keys/k"),
    ("read", "transit/keys/k"),
    ("delete", "transit/keys/k"),
    ("update", "transit/keys/k/config"),
    ("update", "transit/keys/k/rotate"),
    ("update", "transit/keys/k/trim"),
    ("update", "strongroom/keys/k/disable"),
    ("update", "strongroom/keys/k/destroy"),
    ("read", "strongroom/buckets/b"),
    ("update", "strongroom/buckets/b/rewrap"),
]
DENIED = [
    ("update", "transit/encrypt/k"),
    ("update", "transit/decrypt/k"),
    ("update", "transit/rewrap/k"),
    ("update", "transit/datakey/plaintext/k"),
    ("update", "transit/datakey/wrapped/k"),
    ("update", "transit/hmac/k"),
    ("update", "transit/hmac/k/sha2-256"),
    ("update", "transit/sign/k"),
    ("update", "transit/verify/k"),
    ("read", "transit/export/encryption-key/k"),
    ("read", "transit/backup/k"),
    ("update", "transit/restore/k"),
    ("update", "transit/random"),
    ("read", "secret/data/x"),
    ("update", "secret/data/x"),
    ("list", "secret/metadata"),
    ("read", "secret/metadata/x"),
    ("update", "secret/config"),
    ("update", "secret/destroy/x"),
    ("update", "auth/token/create"),
    ("update", "auth/token/create-orphan"),
    ("update", "auth/token/create/role"),
    ("update", "auth/token/lookup"),
    ("update", "auth/token/revoke-accessor"),
    ("update", "sys/seal"),
    ("update", "sys/rotate"),
    ("read", "transit/keys/k/rotate"),
    ("update", "transit/keys"),
    ("update", "transit/keys/k/extra/deep"),
]


@pytest.mark.parametrize(("operation", "path"), ALLOWED)
def test_operator_may_manage(operation: str, path: str) -> None:
    assert operator_may(operation, path)


@pytest.mark.parametrize(("operation", "path"), DENIED)
def test_operator_may_not_use_key_material_secrets_or_mint_tokens(operation: str, path: str) -> None:
    assert not operator_may(operation, path)


# --- namespaces in the core ----------------------------------------------------------------------------------


def test_transit_kv_and_policies_are_per_namespace(core: VaultCore) -> None:
    core.create_namespace("acme")
    core.create_namespace("globex")
    acme, globex = core.namespace("acme"), core.namespace("globex")
    acme.transit.create_key("k", tenant=acme.tenant)
    globex.transit.create_key("k", tenant=globex.tenant)
    ct = acme.transit.encrypt("k", MSG)["ciphertext"]
    with pytest.raises(errors.VaultInvalidRequest, match="message authentication failed"):
        globex.transit.decrypt("k", ct)  # a different key of the same name
    with pytest.raises(errors.TransitKeyNotFound):
        core.transit.read_key("k")
    assert acme.transit.read_key("k")["tenant"] == "acme"

    acme.kv.create_or_update("app/db", {"password": "s3cret"})
    with pytest.raises(errors.NotFound):
        globex.kv.read("app/db")
    with pytest.raises(errors.NotFound):
        core.kv.read("app/db")

    acme.policies.put_policy("readers", 'path "secret/*" { capabilities = ["read"] }')
    assert "readers" in acme.policies.list_policies()
    assert "readers" not in globex.policies.list_policies() and "readers" not in core.tokens.list_policies()
    # the entries are under ns/<name>/ through the barrier; the root namespace keeps its paths
    stored = core.physical.items() if isinstance(core.physical, MemoryStorage) else {}
    assert "ns/acme/transit/keys/k" in stored and "ns/globex/transit/keys/k" in stored
    assert b"s3cret" not in b"".join(stored.values())


def test_tenant_admin_policy_is_built_in_and_undeletable(core: VaultCore) -> None:
    core.create_namespace("acme")
    policies = core.namespace("acme").policies
    assert TENANT_ADMIN_POLICY_NAME in policies.list_policies()
    with pytest.raises(errors.InvalidRequest):
        policies.delete_policy(TENANT_ADMIN_POLICY_NAME)
    with pytest.raises(errors.InvalidRequest):
        policies.put_policy(TENANT_ADMIN_POLICY_NAME, 'path "x" { capabilities = ["read"] }')
    assert TENANT_ADMIN_POLICY_NAME not in core.tokens.list_policies()  # not in the root namespace


def test_create_is_idempotent_and_unknown_namespace_is_not_found(core: VaultCore) -> None:
    first = core.create_namespace("acme")
    assert core.create_namespace("acme") == first and first["path"] == "acme/"
    assert core.list_namespaces() == ["acme"]
    with pytest.raises(errors.NotFound):
        core.namespace("nope")
    with pytest.raises(errors.InvalidRequest):
        core.create_namespace("system")


def test_delete_refused_while_keys_or_secrets_remain(core: VaultCore) -> None:
    core.create_namespace("acme")
    space = core.namespace("acme")
    space.transit.create_key("k", tenant="acme")
    with pytest.raises(errors.DeleteConflict, match="transit keys or KV secrets"):
        core.delete_namespace("acme")
    space.transit.update_config("k", deletion_allowed=True)
    space.transit.delete_key("k")
    space.kv.create_or_update("s", {"a": "b"})
    with pytest.raises(errors.DeleteConflict):
        core.delete_namespace("acme")
    space.kv.delete_metadata("s")
    space.policies.put_policy("p", 'path "x" { capabilities = ["read"] }')
    token, _ = core.tokens.create(policies=[TENANT_ADMIN_POLICY_NAME], parent=None, namespace="acme")
    core.delete_namespace("acme")
    assert core.list_namespaces() == []
    assert core.tokens.lookup(token) is None  # its tokens are revoked
    assert not [p for p in core.physical.items() if p.startswith("ns/acme/")]  # type: ignore[attr-defined]
    core.create_namespace("acme")  # a new namespace of that name starts empty
    assert "p" not in core.namespace("acme").policies.list_policies()


def test_tokens_record_their_namespace_and_children_inherit_it(core: VaultCore) -> None:
    root = core.lookup_token(ROOT_TOKEN)
    assert root is not None and root.namespace == ""
    core.create_namespace("acme")
    token, entry = core.tokens.create(policies=[TENANT_ADMIN_POLICY_NAME], parent=None, namespace="acme")
    assert entry.namespace == "acme" and entry.tenant == "acme"
    _child, child = core.tokens.create(policies=[], parent=entry)
    assert child.namespace == "acme"
    # a token written by the previous version says tenant "root": the root namespace
    legacy = core.tokens.create(policies=["default"], parent=None)[1]
    legacy.tenant = "root"
    assert legacy.namespace == ""


def test_namespace_tokens_get_their_namespace_policies(core: VaultCore) -> None:
    core.create_namespace("acme")
    core.create_namespace("globex")
    core.namespace("acme").policies.put_policy("p", 'path "secret/*" { capabilities = ["read"] }')
    _t, entry = core.tokens.create(policies=[TENANT_ADMIN_POLICY_NAME], parent=None, namespace="acme")
    assert "sudo" in core.namespace("acme").policies.capabilities(entry, "transit/keys/x")
    core.tokens.put_policy("p", 'path "secret/*" { capabilities = ["deny"] }')  # the root namespace's "p"
    _t, reader = core.tokens.create(policies=["p"], parent=None, namespace="acme")
    assert core.namespace("acme").policies.capabilities(reader, "secret/data/x") == {"read"}
    assert core.namespace("globex").policies.capabilities(reader, "secret/data/x") == {"deny"}


def test_internal_key_info_and_key_material_are_per_namespace(core: VaultCore) -> None:
    core.create_namespace("acme")
    core.create_namespace("globex")
    core.namespace("acme").transit.create_key("bucket-key", tenant="acme")
    core.namespace("globex").transit.create_key("bucket-key", tenant="globex")
    assert core.key_info("bucket-key", "acme")["tenant"] == "acme"
    assert core.key_info("bucket-key", "globex")["tenant"] == "globex"
    acme = core.namespace("acme").transit.kek_material("bucket-key")
    assert acme != core.namespace("globex").transit.kek_material("bucket-key")
    with pytest.raises(errors.KeyNotFound):
        core.key_info("bucket-key", "")
    with pytest.raises(errors.KeyNotFound):
        core.key_info("bucket-key", "initech")  # no such namespace


# --- upgrade from the single-namespace vault -------------------------------------------------------------------


def test_upgrade_moves_old_tenant_data_into_namespaces(core: VaultCore) -> None:
    # populated the way the previous version did: every key in the root namespace, tenant "root" for the first
    root_key = core.transit.create_key("bucket-a", tenant="root", region="eu-1", exportable=True)
    assert root_key["tenant"] == "root"
    core.transit.rotate("bucket-a")
    core.transit.update_config("bucket-a", min_decryption_version=1, deletion_allowed=True)
    old_ct = core.transit.encrypt("bucket-a", MSG)["ciphertext"]
    core.transit.create_key("acme-key", tenant="acme")
    core.transit.disable("acme-key")
    core.transit.create_key("ops-key", tenant="system")
    core.transit.create_key("odd-key", tenant="Not A Name")
    before = core.transit.read_key("bucket-a")
    core.put_credential("AKROOT", "secret-root-0123456789", "root")
    core.put_credential("AKACME", "secret-acme-0123456789", "acme", "alice")

    done = core.upgrade()
    assert done and core.upgrade() == []  # idempotent

    assert core.get_credential("AKROOT") is not None
    assert core.get_credential("AKROOT")["tenant"] == "default"  # type: ignore[index]
    assert core.get_credential("AKROOT")["user"] == "admin"  # type: ignore[index]
    assert core.get_credential("AKACME")["tenant"] == "acme"  # type: ignore[index]
    assert sorted(core.list_namespaces()) == ["acme", "default"]

    default = core.namespace("default")
    moved = default.transit.read_key("bucket-a")
    assert moved["tenant"] == "default"
    assert {k: v for k, v in moved.items() if k != "tenant"} == {k: v for k, v in before.items() if k != "tenant"}
    assert base64.b64decode(default.transit.decrypt("bucket-a", old_ct)["plaintext"]) == b"hello"
    assert core.namespace("acme").transit.read_key("acme-key")["state"] == "disabled"
    assert core.transit.list_keys() == {"keys": ["odd-key", "ops-key"]}  # system keys and bad names stay
    stored = core.physical.items()  # type: ignore[attr-defined]
    assert "transit/keys/bucket-a" not in stored and "ns/default/transit/keys/bucket-a" in stored


def test_upgrade_leaves_a_key_whose_name_is_taken_in_the_target(core: VaultCore) -> None:
    core.create_namespace("acme")
    core.namespace("acme").transit.create_key("k", tenant="acme")
    core.transit.create_key("k", tenant="acme")
    core.upgrade()
    assert core.transit.read_key("k")["tenant"] == "acme"  # still in the root namespace, nothing overwritten
    assert json.loads(json.dumps(core.namespace("acme").transit.read_key("k")))["latest_version"] == 1
