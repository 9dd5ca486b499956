"""Transit key lifecycle: disable/enable, scheduled deletion, crypto-shredding destroy, purge protection,
signed deletion certificates."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from strongroom.core import errors
from strongroom.crypto import transitprims
from strongroom.keys.storage import MemoryStorage
from strongroom.keys.transit import CERT_KEY_PATH, TransitEngine, verify_deletion_certificate

MSG = base64.b64encode(b"payload").decode()


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture()
def engine(storage: MemoryStorage, clock: Clock) -> TransitEngine:
    eng = TransitEngine(storage, clock)
    eng.create_key("k", exportable=True, tenant="acme", region="eu-1")
    return eng


def operations(engine: TransitEngine, ciphertext: str) -> dict[str, Callable[[], Any]]:
    """Every operation the lifecycle must gate, on key ``k``."""
    return {
        "encrypt": lambda: engine.encrypt("k", MSG),
        "decrypt": lambda: engine.decrypt("k", ciphertext),
        "rewrap": lambda: engine.rewrap("k", ciphertext),
        "datakey": lambda: engine.generate_data_key("k", "wrapped"),
        "hmac": lambda: engine.hmac("k", MSG),
        "verify_hmac": lambda: engine.verify("k", MSG, hmac="vault:v1:" + MSG),
        "export": lambda: engine.export("k", "encryption-key"),
        "kek_material": lambda: engine.kek_material("k"),
        "batch_encrypt": lambda: engine.encrypt("k", batch_input=[{"plaintext": MSG}]),
        "rotate": lambda: engine.rotate("k"),
    }


def key_material_strings(storage: MemoryStorage, name: str) -> list[str]:
    """The base64 key and HMAC-key material of every version, read straight from storage."""
    stored = json.loads(storage.items()[f"transit/keys/{name}"])
    return [entry[field] for entry in stored["keys"].values() for field in ("key", "hmac_key")]


def test_disable_refuses_every_operation_and_enable_restores(engine: TransitEngine) -> None:
    ciphertext = engine.encrypt("k", MSG)["ciphertext"]
    assert engine.disable("k")["state"] == "disabled"
    for label, operation in operations(engine, ciphertext).items():
        with pytest.raises(errors.KeyDisabled) as info:
            operation()
        assert isinstance(info.value, errors.VaultError) and info.value.status == 400, label
        assert "disabled" in info.value.message
    assert engine.read_key("k")["state"] == "disabled"  # reading the key stays allowed
    assert engine.enable("k")["state"] == "enabled"
    assert engine.decrypt("k", ciphertext) == {"plaintext": MSG}


def test_disable_gates_signing_keys(engine: TransitEngine) -> None:
    engine.create_key("sig", type="ed25519")
    signature = engine.sign("sig", MSG)["signature"]
    engine.disable("sig")
    with pytest.raises(errors.TransitKeyDisabled):
        engine.sign("sig", MSG)
    with pytest.raises(errors.TransitKeyDisabled):
        engine.verify("sig", MSG, signature)


@pytest.mark.parametrize("days", [0, 6, 31, 365])
def test_schedule_window_is_7_to_30_days(engine: TransitEngine, days: int) -> None:
    with pytest.raises(errors.VaultInvalidRequest, match="between 7 and 30 days"):
        engine.schedule_deletion("k", days)
    assert engine.read_key("k")["state"] == "enabled"


def test_schedule_then_cancel_lands_disabled(engine: TransitEngine, clock: Clock) -> None:
    ciphertext = engine.encrypt("k", MSG)["ciphertext"]
    data = engine.schedule_deletion("k", 7)
    assert data["state"] == "pending_deletion"
    assert data["deletion_date"] == "2026-03-08T12:00:00Z"
    for label, operation in operations(engine, ciphertext).items():
        with pytest.raises(errors.KeyPendingDeletion):
            operation()
        assert label
    with pytest.raises(errors.KeyStateConflict):
        engine.enable("k")
    with pytest.raises(errors.KeyStateConflict):
        engine.schedule_deletion("k", 10)
    data = engine.cancel_deletion("k")
    assert data["state"] == "disabled" and data["deletion_date"] is None
    with pytest.raises(errors.KeyStateConflict, match="not pending deletion"):
        engine.cancel_deletion("k")
    engine.enable("k")
    assert engine.decrypt("k", ciphertext) == {"plaintext": MSG}


def test_destroy_before_the_date_is_refused(engine: TransitEngine, clock: Clock) -> None:
    with pytest.raises(errors.KeyStateConflict, match="not pending deletion"):
        engine.destroy("k")
    engine.schedule_deletion("k", 30)
    clock.advance(days=29, hours=23)
    with pytest.raises(errors.KeyStateConflict, match="cannot be destroyed before 2026-03-31T12:00:00Z"):
        engine.destroy("k")
    assert engine.read_key("k")["state"] == "pending_deletion"


def test_destroy_after_the_date_shreds_every_version(
    engine: TransitEngine, storage: MemoryStorage, clock: Clock
) -> None:
    ciphertext = engine.encrypt("k", MSG)["ciphertext"]
    engine.rotate("k")
    engine.rotate("k")
    material = key_material_strings(storage, "k")
    raw_material = [base64.b64decode(m) for m in material]
    assert len(material) == 6
    engine.schedule_deletion("k", 7)
    clock.advance(days=7)
    certificate = engine.destroy("k")

    everything = storage.items()
    for value in everything.values():
        for secret in material:
            assert secret.encode() not in value
        for secret_bytes in raw_material:
            assert secret_bytes not in value
    assert certificate["versions"] == [1, 2, 3]
    assert certificate["key_name"] == "k" and certificate["tenant"] == "acme" and certificate["region"] == "eu-1"
    assert certificate["destroyed_at"] == "2026-03-08T12:00:00Z" and certificate["forced"] is False

    with pytest.raises(errors.KeyDestroyed) as info:
        engine.decrypt("k", ciphertext)
    assert isinstance(info.value, errors.VaultError) and info.value.status == 400
    for operation in operations(engine, ciphertext).values():
        with pytest.raises(errors.KeyDestroyed):
            operation()
    tombstone = engine.read_key("k")
    assert tombstone["state"] == "destroyed" and tombstone["versions"] == [1, 2, 3] and tombstone["keys"] == {}
    assert engine.list_keys() == {"keys": ["k"]}  # the name stays taken
    with pytest.raises(errors.KeyDestroyed, match="cannot be reused"):
        engine.create_key("k")
    with pytest.raises(errors.KeyDestroyed):
        engine.delete_key("k")
    with pytest.raises(errors.KeyDestroyed):
        engine.enable("k")
    with pytest.raises(errors.KeyDestroyed):
        engine.destroy("k", force=True)
    assert engine.deletion_certificate("k") == certificate


def test_destroy_shreds_asymmetric_keys(engine: TransitEngine, storage: MemoryStorage) -> None:
    engine.create_key("sig", type="ecdsa-p256")
    material = key_material_strings(storage, "sig")
    engine.destroy("sig", force=True)
    for value in storage.items().values():
        assert all(secret.encode() not in value for secret in material)
    with pytest.raises(errors.KeyDestroyed):
        engine.sign("sig", MSG)


def test_force_destroy_without_purge_protection(engine: TransitEngine) -> None:
    certificate = engine.destroy("k", force=True)
    assert certificate["forced"] is True
    assert engine.read_key("k")["state"] == "destroyed"


def test_purge_protection_is_irreversible_and_blocks_shortcuts(engine: TransitEngine, clock: Clock) -> None:
    engine.update_config("k", deletion_allowed=True)
    data = engine.enable_purge_protection("k")
    assert data["purge_protection"] is True and data["deletion_allowed"] is False
    with pytest.raises(errors.KeyPurgeProtected):
        engine.update_config("k", deletion_allowed=True)
    with pytest.raises(errors.KeyPurgeProtected):
        engine.delete_key("k")
    with pytest.raises(errors.KeyPurgeProtected):
        engine.destroy("k", force=True)
    engine.schedule_deletion("k", 7)
    with pytest.raises(errors.KeyPurgeProtected):
        engine.destroy("k", force=True)
    clock.advance(days=6)
    with pytest.raises(errors.KeyStateConflict):
        engine.destroy("k")
    engine.cancel_deletion("k")
    assert engine.read_key("k")["purge_protection"] is True  # cancelling does not lift it
    engine.schedule_deletion("k", 7)
    clock.advance(days=7)
    assert engine.destroy("k")["versions"] == [1]
    assert engine.read_key("k")["purge_protection"] is True


def test_deletion_certificate_verifies_and_tampering_fails(engine: TransitEngine, storage: MemoryStorage) -> None:
    certificate = engine.destroy("k", force=True)
    public_key = engine.deletion_certificate_public_key()
    assert certificate["signing_public_key"] == public_key
    assert CERT_KEY_PATH in storage.items()
    assert engine.verify_deletion_certificate(certificate)
    assert verify_deletion_certificate(certificate, public_key)
    assert verify_deletion_certificate(json.loads(json.dumps(certificate)))  # survives a JSON round trip

    for field, value in [("key_name", "other"), ("versions", [1, 2]), ("destroyed_at", "2020-01-01T00:00:00Z")]:
        tampered = dict(certificate, **{field: value})
        assert not engine.verify_deletion_certificate(tampered), field
        assert not verify_deletion_certificate(tampered), field
    assert not verify_deletion_certificate({k: v for k, v in certificate.items() if k != "signature"})
    assert not verify_deletion_certificate(dict(certificate, signature="AAAA"))

    # A self-consistent forgery under another key passes the integrity-only check but not the pinned one.
    forger = transitprims.ed25519_generate()
    forged = {k: v for k, v in certificate.items() if k != "signature"}
    forged["versions"] = [9]
    forged["signing_public_key"] = base64.b64encode(transitprims.ed25519_public(forger)).decode()
    body = json.dumps(forged, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    forged["signature"] = base64.b64encode(transitprims.ed25519_sign(forger, body)).decode()
    assert verify_deletion_certificate(forged)
    assert not verify_deletion_certificate(forged, public_key)
    assert not engine.verify_deletion_certificate(forged)


def test_certificate_key_is_created_once_and_reused(engine: TransitEngine, storage: MemoryStorage) -> None:
    engine.create_key("k2")
    first = engine.destroy("k", force=True)
    second = engine.destroy("k2", force=True)
    assert first["signing_public_key"] == second["signing_public_key"]
    # a second engine over the same storage (e.g. after a restart) verifies the old certificate
    assert TransitEngine(storage).verify_deletion_certificate(first)
