"""The audit checkpoint key: Ed25519 signatures verify with the published public keys, rotation keeps old
versions verifying, the private part is in no answer, and nothing works while sealed."""

from __future__ import annotations

import base64
import json
import pickle

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from strongroom.core import errors
from strongroom.keys.auditkey import AUDIT_KEY_PATH, AuditSigningKey
from strongroom.keys.barrier import Barrier
from strongroom.keys.storage import MemoryStorage

NOTE = b"strongroom.audit/tenant:default\n3\nq83vEjRWeJA=\ntime 1700000000000000\n"


@pytest.fixture()
def barrier() -> Barrier:
    b = Barrier(MemoryStorage())
    b.initialize(b"\x01" * 32)
    b.unseal(b"\x01" * 32)
    return b


def private_keys(barrier: Barrier) -> list[bytes]:
    raw = barrier.get(AUDIT_KEY_PATH)
    assert raw is not None
    return [base64.b64decode(v["private_key"]) for v in json.loads(raw)["versions"].values()]


def test_made_at_first_need_and_signs_with_cryptography_verifying(barrier: Barrier) -> None:
    key = AuditSigningKey(barrier)
    assert barrier.get(AUDIT_KEY_PATH) is None
    version, signature = key.sign(NOTE)
    assert version == 1 and len(signature) == 64
    public = key.public_keys()
    assert set(public) == {1} and len(public[1]) == 32
    Ed25519PublicKey.from_public_bytes(public[1]).verify(signature, NOTE)  # raises when it does not verify
    with pytest.raises(InvalidSignature):
        Ed25519PublicKey.from_public_bytes(public[1]).verify(signature, NOTE + b"x")
    assert key.verify(NOTE, signature, 1) and not key.verify(NOTE, signature, 2)


def test_public_keys_alone_make_the_key_and_stay_stable(barrier: Barrier) -> None:
    first = AuditSigningKey(barrier).public_keys()
    assert first == AuditSigningKey(barrier).public_keys()  # another instance (a restart) sees the stored key
    version, signature = AuditSigningKey(barrier).sign(NOTE)
    Ed25519PublicKey.from_public_bytes(first[version]).verify(signature, NOTE)


def test_rotation_adds_a_version_and_old_signatures_still_verify(barrier: Barrier) -> None:
    key = AuditSigningKey(barrier)
    v1, sig1 = key.sign(NOTE)
    assert key.rotate() == 2
    v2, sig2 = key.sign(NOTE)
    assert (v1, v2) == (1, 2) and sig1 != sig2
    public = key.public_keys()
    assert set(public) == {1, 2} and public[1] != public[2]
    Ed25519PublicKey.from_public_bytes(public[1]).verify(sig1, NOTE)
    Ed25519PublicKey.from_public_bytes(public[2]).verify(sig2, NOTE)
    with pytest.raises(InvalidSignature):
        Ed25519PublicKey.from_public_bytes(public[2]).verify(sig1, NOTE)
    assert key.read()["latest_version"] == 2 and set(key.read()["keys"]) == {"1", "2"}


def test_private_key_is_in_no_answer(barrier: Barrier) -> None:
    key = AuditSigningKey(barrier)
    key.sign(NOTE)
    key.rotate()
    answers = json.dumps(key.read()) + repr(key) + repr(key.public_keys()) + repr(key.sign(NOTE))
    for private in private_keys(barrier):
        seed = private[:32]
        for form in (seed, base64.b64encode(seed), base64.b64encode(private), seed.hex().encode()):
            assert form.decode("latin-1") not in answers
    assert key.read()["exportable"] is False and key.read()["allow_plaintext_backup"] is False
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_stored_only_through_the_barrier(barrier: Barrier) -> None:
    physical = MemoryStorage()
    b = Barrier(physical)
    b.initialize(b"\x02" * 32)
    b.unseal(b"\x02" * 32)
    AuditSigningKey(b).sign(NOTE)
    (private,) = private_keys(b)
    for value in physical.items().values():
        assert private[:32] not in value and base64.b64encode(private) not in value


def test_sealed_vault_signs_nothing(barrier: Barrier) -> None:
    key = AuditSigningKey(barrier)
    key.sign(NOTE)
    barrier.seal()
    with pytest.raises(errors.KeyStoreSealed):
        key.sign(NOTE)
    with pytest.raises(errors.KeyStoreSealed):
        key.public_keys()


def test_oversized_input_is_refused(barrier: Barrier) -> None:
    with pytest.raises(errors.VaultInvalidRequest):
        AuditSigningKey(barrier).sign(b"x" * (64 * 1024 + 1))
