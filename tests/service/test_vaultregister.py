"""service/vaultregister.py: the register of destroyed keys, on in-memory vaults. A vault "restored" from an old copy
of another's storage gets back a key destroyed since; applying the newer register erases it again (its tombstone
carries the original certificate), a shredded tenant's namespace goes again, and a register that is altered or
signed by another vault is refused."""

from __future__ import annotations

import json

import pytest

from strongroom.core import errors
from strongroom.keys.seal import SealManager
from strongroom.keys.storage import MemoryStorage
from strongroom.service import vaultregister, vaultshred
from strongroom.service.vault import VaultCore

WHO = {"arn": "arn:aws:iam::system:user/admin", "tenant": "system", "user": "admin", "access_key_id": "SROP"}


def make_core() -> tuple[VaultCore, MemoryStorage, bytes]:
    physical = MemoryStorage()
    core = VaultCore(physical, SealManager(physical))
    out = core.initialize(1, 1, root_token="hvs.unit-root")
    core.submit_unseal_key(out.keys[0], reset=False)
    return core, physical, out.keys[0]


def restored(physical: MemoryStorage, unseal_key: bytes, entries: dict[str, bytes]) -> VaultCore:
    copy = MemoryStorage()
    for path, value in entries.items():
        copy.put(path, value)
    core = VaultCore(copy, SealManager(copy))
    core.submit_unseal_key(unseal_key, reset=False)
    return core


def entries(physical: MemoryStorage) -> dict[str, bytes]:
    return dict(physical.items())


@pytest.fixture()
def live() -> tuple[VaultCore, MemoryStorage, bytes]:
    core, physical, key = make_core()
    core.create_namespace("acme")
    core.create_namespace("gone")
    core.namespace("acme").transit.create_key("kms-a", tenant="acme")
    core.namespace("acme").transit.create_key("kms-kept", tenant="acme")
    core.namespace("gone").transit.create_key("kms-g", tenant="gone")
    core.root.transit.create_key("ops", tenant="system")
    vaultregister.make(core)  # the backup asks for the register first: the root certificate key exists from here
    return core, physical, key


def test_a_newer_register_erases_what_the_old_copy_brings_back(live: tuple[VaultCore, MemoryStorage, bytes]) -> None:
    core, physical, key = live
    old = entries(physical)  # the backup's snapshot
    acme = core.namespace("acme").transit
    acme.schedule_deletion("kms-a", 7)
    certificate = acme.destroy("kms-a", force=True)
    core.root.transit.schedule_deletion("ops", 7)
    core.root.transit.destroy("ops", force=True)
    register = vaultregister.make(core)
    assert {(e["namespace"], e["key"]) for e in register["keys"]} == {("acme", "kms-a"), ("", "ops")}
    assert json.loads(json.dumps(register)) == register  # it is what the backup writes

    back = restored(physical, key, old)
    assert back.namespace("acme").transit.read_key("kms-a")["state"] == "enabled"  # what a plain restore gives
    done = vaultregister.apply(back, [register])
    assert sorted(done) == ["acme/kms-a", "root/ops"]
    assert back.namespace("acme").transit.read_key("kms-a")["state"] == "destroyed"
    assert back.namespace("acme").transit.deletion_certificate("kms-a") == certificate
    with pytest.raises(errors.KeyDestroyed):
        back.namespace("acme").transit.kek_material("kms-a", 1)
    assert back.namespace("acme").transit.read_key("kms-kept")["state"] == "enabled"  # nothing else changes
    assert vaultregister.apply(back, [register]) == []  # idempotent: at every unseal


def test_a_shredded_tenant_goes_again(live: tuple[VaultCore, MemoryStorage, bytes]) -> None:
    core, physical, key = live
    old = entries(physical)
    vaultshred.destroy_keys(core, "gone", WHO, "REQ", {"buckets": [], "objects": 0, "bytes": 0})
    vaultshred.complete(core, "gone")
    register = vaultregister.make(core)
    assert [r["tenant"] for r in register["tenants"]] == ["gone"]
    back = restored(physical, key, old)
    assert back.namespace_info("gone") is not None
    assert vaultregister.apply(back, [register]) == ["tenant gone"]
    assert back.namespace_info("gone") is None
    assert vaultshred.record(back, "gone")["state"] == "complete"
    with pytest.raises(errors.StrongroomError):
        back.create_namespace("gone")  # the name stays taken, as on the live vault


def test_altered_or_foreign_registers_are_refused(live: tuple[VaultCore, MemoryStorage, bytes]) -> None:
    core, physical, key = live
    register = vaultregister.make(core)
    altered = dict(register, keys=[{"namespace": "acme", "key": "kms-kept", "certificate": {}}])
    assert vaultregister.check(altered) == "the register of destroyed keys is altered or not one"
    with pytest.raises(errors.InvalidRequest):
        vaultregister.apply(core, [altered])
    other, _physical, _key = make_core()
    foreign = vaultregister.make(other)
    assert vaultregister.check(foreign) is None  # whole...
    assert vaultregister.check(foreign, like=register) == "the register of destroyed keys comes from another vault"
    with pytest.raises(errors.InvalidRequest, match="not signed by this vault"):
        vaultregister.apply(core, [foreign])
    assert core.namespace("acme").transit.read_key("kms-kept")["state"] == "enabled"
