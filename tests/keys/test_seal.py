"""keys/seal.py: Shamir init and unseal (progress, nonce, reset, bad shares), key-file auto-unseal, no leaks."""

from __future__ import annotations

import base64
import json
import os
import pickle
import re
import stat
from pathlib import Path

import pytest

from strongroom import __version__
from strongroom.core.errors import (
    DecryptionFailed,
    InvalidRequest,
    InvalidUnsealKey,
    KeyStoreSealed,
    SealDeviceError,
    SealMismatch,
    VaultAlreadyInitialized,
    VaultNotInitialized,
)
from strongroom.keys import shamir
from strongroom.keys.seal import ROOT_KEY_PATH, SEAL_CONFIG_PATH, InitResult, SealManager, SealStatus
from strongroom.keys.storage import MemoryStorage


def leaks(haystack: bytes, secret: bytes) -> bool:
    """True if ``secret`` appears raw, hex- or base64-encoded in ``haystack``."""
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode(), base64.b64encode(secret)]
    forms.append(base64.urlsafe_b64encode(secret))
    return any(form in haystack for form in forms)


@pytest.fixture()
def physical() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture()
def manager(physical: MemoryStorage) -> SealManager:
    return SealManager(physical)


@pytest.fixture()
def init35(manager: SealManager) -> InitResult:
    return manager.initialize(5, 3)


# --- status and init --------------------------------------------------------------------------------


def test_status_before_init(manager: SealManager) -> None:
    assert manager.status() == SealStatus("shamir", False, True, 0, 0, 0, "", __version__)
    assert not manager.initialized()
    assert manager.status().to_dict() == {
        "type": "shamir",
        "initialized": False,
        "sealed": True,
        "t": 0,
        "n": 0,
        "progress": 0,
        "nonce": "",
        "version": __version__,
    }
    with pytest.raises(VaultNotInitialized):
        manager.submit_unseal_key(b"\x00" * 33)


def test_initialize_3_of_5_leaves_the_vault_sealed(manager: SealManager, physical: MemoryStorage) -> None:
    result = manager.initialize(5, 3)
    assert len(result.keys) == 5 and all(len(k) == 33 for k in result.keys)
    assert len({k[-1] for k in result.keys}) == 5
    assert re.fullmatch(r"hvs\.[0-9A-Za-z]{24}", result.root_token)
    assert manager.status() == SealStatus("shamir", True, True, 3, 5, 0, "", __version__)
    assert manager.sealed and manager.barrier.sealed
    config = json.loads(physical.get(SEAL_CONFIG_PATH) or b"")
    assert config == {"type": "shamir", "secret_shares": 5, "secret_threshold": 3, "version": 1}
    with pytest.raises(KeyStoreSealed):
        manager.barrier.get("anything")
    with pytest.raises(VaultAlreadyInitialized):
        manager.initialize(5, 3)
    # A second manager over the same storage sees the initialised vault.
    assert SealManager(physical).status().initialized


def test_initialize_rejects_bad_share_configs(manager: SealManager) -> None:
    cases = {
        (0, 0): "shares must be at least one",
        (3, 0): "threshold must be at least one",
        (5, 1): "threshold must be greater than one for multiple shares",
        (256, 3): "shares must be less than 256",
        (3, 4): "threshold cannot be larger than shares",
    }
    for (shares, threshold), message in cases.items():
        with pytest.raises(InvalidRequest) as info:
            manager.initialize(shares, threshold)
        assert info.value.message == message
    assert not manager.initialized()


def test_initialize_refuses_a_partial_initialization(physical: MemoryStorage) -> None:
    physical.put(ROOT_KEY_PATH, b"SRR1 leftover")
    with pytest.raises(VaultAlreadyInitialized, match="partial"):
        SealManager(physical).initialize(1, 1)


def test_root_tokens_differ(physical: MemoryStorage) -> None:
    tokens = set()
    for _ in range(5):
        tokens.add(SealManager(MemoryStorage()).initialize(1, 1).root_token)
    assert len(tokens) == 5


def test_init_result_is_redacted(init35: InitResult) -> None:
    text = repr(init35)
    assert init35.root_token not in text and all(k.hex() not in text for k in init35.keys)
    with pytest.raises(TypeError):
        pickle.dumps(init35)


# --- Shamir unseal ----------------------------------------------------------------------------------


def test_unseal_with_shares_1_3_5(manager: SealManager, init35: InitResult) -> None:
    k = init35.keys
    s1 = manager.submit_unseal_key(k[0])
    assert (s1.sealed, s1.progress, s1.t, s1.n) == (True, 1, 3, 5)
    assert re.fullmatch(r"[0-9a-f-]{36}", s1.nonce)
    s2 = manager.submit_unseal_key(k[2])
    assert (s2.sealed, s2.progress, s2.nonce) == (True, 2, s1.nonce)
    s3 = manager.submit_unseal_key(k[4])
    assert (s3.sealed, s3.progress, s3.nonce) == (False, 0, "")
    manager.barrier.put("kv/x", b"hello")
    assert manager.barrier.get("kv/x") == b"hello"
    # Unsealed: further keys are ignored.
    assert manager.submit_unseal_key(k[1]).sealed is False


def test_every_three_share_subset_unseals(physical: MemoryStorage, init35: InitResult) -> None:
    for subset in [(0, 1, 2), (4, 3, 2), (1, 3, 4), (0, 2, 4)]:
        m = SealManager(physical)
        for i in subset:
            status = m.submit_unseal_key(init35.keys[i])
        assert status.sealed is False


def test_two_shares_leave_it_sealed_with_progress_2(manager: SealManager, init35: InitResult) -> None:
    manager.submit_unseal_key(init35.keys[0])
    status = manager.submit_unseal_key(init35.keys[1])
    assert status.progress == 2 and status.sealed
    with pytest.raises(KeyStoreSealed):
        manager.barrier.get("x")


def test_duplicate_share_is_ignored(manager: SealManager, init35: InitResult) -> None:
    first = manager.submit_unseal_key(init35.keys[0])
    again = manager.submit_unseal_key(bytearray(init35.keys[0]))
    assert again.progress == 1 and again.nonce == first.nonce


def test_bad_share_errors_and_resets_progress(manager: SealManager, init35: InitResult) -> None:
    bad = bytearray(init35.keys[3])
    bad[0] ^= 0xFF
    manager.submit_unseal_key(init35.keys[0])
    manager.submit_unseal_key(init35.keys[1])
    with pytest.raises(InvalidUnsealKey) as info:
        manager.submit_unseal_key(bytes(bad))
    assert info.value.message == "Unseal failed, invalid key"
    status = manager.status()
    assert (status.sealed, status.progress, status.nonce) == (True, 0, "")
    assert manager._parts == []
    # A fresh attempt with good shares still works.
    for i in (0, 1, 2):
        status = manager.submit_unseal_key(init35.keys[i])
    assert not status.sealed


def test_share_from_another_vault_is_an_invalid_key(manager: SealManager, init35: InitResult) -> None:
    foreign = SealManager(MemoryStorage()).initialize(5, 3).keys
    manager.submit_unseal_key(init35.keys[0])
    manager.submit_unseal_key(init35.keys[1])
    # Foreign x coordinates may collide with ours: either way it is an invalid key and progress resets.
    with pytest.raises(InvalidUnsealKey):
        manager.submit_unseal_key(next(k for k in foreign if k[-1] not in {init35.keys[0][-1], init35.keys[1][-1]}))
    assert manager.status().progress == 0


def test_share_with_colliding_x_coordinate_resets(manager: SealManager, init35: InitResult) -> None:
    clash = bytearray(init35.keys[1])
    clash[-1] = init35.keys[0][-1]
    manager.submit_unseal_key(init35.keys[0])
    manager.submit_unseal_key(init35.keys[2])
    with pytest.raises(InvalidUnsealKey, match="failed to compute root key"):
        manager.submit_unseal_key(bytes(clash))
    assert manager.status().progress == 0


def test_reset_clears_progress_and_nonce(manager: SealManager, init35: InitResult) -> None:
    first = manager.submit_unseal_key(init35.keys[0])
    manager.submit_unseal_key(init35.keys[1])
    held = list(manager._parts)
    status = manager.submit_unseal_key(None, reset=True)
    assert (status.progress, status.nonce, status.sealed) == (0, "", True)
    assert all(part == bytearray(33) for part in held)  # the shares were overwritten
    again = manager.submit_unseal_key(init35.keys[2])
    assert again.progress == 1 and again.nonce != first.nonce


def test_submit_rejections(manager: SealManager, init35: InitResult) -> None:
    with pytest.raises(InvalidRequest, match="'key' must be specified"):
        manager.submit_unseal_key(None)
    with pytest.raises(InvalidUnsealKey, match="shorter than minimum 33"):
        manager.submit_unseal_key(b"\x01" * 32)
    with pytest.raises(InvalidUnsealKey, match="longer than maximum 33"):
        manager.submit_unseal_key(b"\x01" * 34)
    with pytest.raises(InvalidRequest):
        manager.submit_unseal_key("a share as text")  # type: ignore[arg-type]
    assert manager.status().progress == 0


def test_single_share_vault_takes_the_key_itself(manager: SealManager) -> None:
    result = manager.initialize(1, 1)
    (key,) = result.keys
    assert len(key) == 32
    assert manager.status().t == 1 and manager.status().n == 1
    wrong = bytes(b ^ 1 for b in key)
    with pytest.raises(InvalidUnsealKey):
        manager.submit_unseal_key(wrong)
    with pytest.raises(InvalidUnsealKey):
        manager.submit_unseal_key(key + b"\x01")
    assert manager.submit_unseal_key(key).sealed is False


def test_seal_drops_every_key_from_memory(manager: SealManager, init35: InitResult) -> None:
    for i in (0, 1, 2):
        manager.submit_unseal_key(init35.keys[i])
    barrier = manager.barrier
    barrier.rotate()
    key_buffers = [entry.key for entry in barrier._keyring]
    root_buffer = barrier._root_key
    assert root_buffer is not None
    manager.submit_unseal_key(None, reset=True)
    manager.seal()
    assert manager.status().sealed and manager.sealed
    assert barrier._keyring == [] and barrier._root_key is None
    assert all(buf == bytearray(32) for buf in key_buffers) and root_buffer == bytearray(32)
    with pytest.raises(KeyStoreSealed):
        barrier.get("kv/x")
    manager.seal()  # idempotent
    for i in (4, 3, 1):
        status = manager.submit_unseal_key(init35.keys[i])
    assert not status.sealed and manager.barrier.key_info().term == 2


def test_seal_discards_a_partial_unseal_attempt(manager: SealManager, init35: InitResult) -> None:
    manager.submit_unseal_key(init35.keys[0])
    manager.seal()
    assert manager.status().progress == 0


def test_nothing_secret_in_physical_storage(manager: SealManager, physical: MemoryStorage) -> None:
    result = manager.initialize(5, 3)
    for i in (0, 1, 2):
        manager.submit_unseal_key(result.keys[i])
    barrier = manager.barrier
    barrier.rotate()
    assert barrier._root_key is not None
    root_key = bytes(barrier._root_key)
    barrier_keys = [bytes(entry.key) for entry in barrier._keyring]
    unseal_key = shamir.combine(result.keys[:3])
    values = [b"the plaintext of a stored secret", b"\x13\x37" * 40]
    barrier.put("kv/data/a", values[0])
    barrier.put("transit/keys/b", values[1])
    stored = physical.items()
    blob = b"".join(stored.values()) + "".join(stored).encode()
    for secret in [root_key, unseal_key, *barrier_keys, *result.keys, result.root_token.encode(), *values]:
        assert not leaks(blob, secret)


def test_tampered_root_key_entry_is_an_invalid_key(manager: SealManager, physical: MemoryStorage) -> None:
    (key,) = manager.initialize(1, 1).keys
    raw = bytearray(physical.get(ROOT_KEY_PATH) or b"")
    raw[-1] ^= 1
    physical.put(ROOT_KEY_PATH, bytes(raw))
    with pytest.raises(InvalidUnsealKey):
        manager.submit_unseal_key(key)
    physical.put(ROOT_KEY_PATH, b"garbage")
    with pytest.raises(DecryptionFailed):
        manager.submit_unseal_key(key)
    assert manager.sealed


def test_corrupt_seal_config_fails_closed(physical: MemoryStorage) -> None:
    for bad in (b"not json", b'{"type": "shamir"}', b'{"type": "rot13", "secret_shares": 1, "secret_threshold": 1}'):
        physical.put(SEAL_CONFIG_PATH, bad)
        with pytest.raises(DecryptionFailed):
            SealManager(physical).status()


# --- key-file auto-unseal ---------------------------------------------------------------------------


def test_keyfile_init_auto_unseal_seal_round_trip(physical: MemoryStorage, tmp_path: Path) -> None:
    keyfile = tmp_path / "keys" / "unseal.key"
    manager = SealManager.with_keyfile(physical, keyfile)
    assert manager.status().type == "keyfile" and not keyfile.exists()
    with pytest.raises(VaultNotInitialized):
        manager.auto_unseal()
    result = manager.initialize(5, 3)  # shares are not used by auto-unseal
    assert result.keys == []
    assert keyfile.exists() and stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert stat.S_IMODE(keyfile.parent.stat().st_mode) == 0o700
    assert manager.status() == SealStatus("keyfile", True, True, 1, 1, 0, "", __version__)
    assert manager.auto_unseal().sealed is False
    manager.barrier.put("kv/a", b"v")
    manager.seal()
    assert manager.sealed
    # A restarted server (new manager, same storage and key file) unseals itself.
    again = SealManager.with_keyfile(physical, keyfile)
    assert again.auto_unseal().sealed is False
    assert again.auto_unseal().sealed is False  # no-op
    assert again.barrier.get("kv/a") == b"v"
    blob = b"".join(physical.items().values())
    assert not leaks(blob, keyfile.read_bytes())
    assert again.submit_unseal_key(b"\x00" * 32).sealed is False  # unsealed already: nothing to do
    # sealed on purpose (operator seal): the key file's content opens it again; nothing else does
    again.seal()
    with pytest.raises(InvalidUnsealKey, match="Unseal failed, invalid key"):
        again.submit_unseal_key(b"\x00" * 32)
    with pytest.raises(InvalidRequest, match="unseals with its key file"):
        again.submit_unseal_key(None)
    assert again.sealed
    assert again.submit_unseal_key(keyfile.read_bytes()).sealed is False
    assert again.barrier.get("kv/a") == b"v"


def test_keyfile_fails_closed(physical: MemoryStorage, tmp_path: Path) -> None:
    keyfile = tmp_path / "unseal.key"
    SealManager.with_keyfile(physical, keyfile).initialize()
    original = keyfile.read_bytes()

    keyfile.write_bytes(os.urandom(32))  # another key
    with pytest.raises(DecryptionFailed):
        SealManager.with_keyfile(physical, keyfile).auto_unseal()
    keyfile.chmod(0o644)
    with pytest.raises(SealDeviceError, match="readable"):
        SealManager.with_keyfile(physical, keyfile).auto_unseal()
    keyfile.chmod(0o600)
    keyfile.write_bytes(original[:31])
    with pytest.raises(SealDeviceError, match="32 bytes"):
        SealManager.with_keyfile(physical, keyfile).auto_unseal()
    keyfile.unlink()
    m = SealManager.with_keyfile(physical, keyfile)
    with pytest.raises(SealDeviceError):
        m.auto_unseal()
    assert m.sealed and not keyfile.exists()  # unwrapping never creates a key file
    keyfile.write_bytes(original)
    keyfile.chmod(0o600)
    assert m.auto_unseal().sealed is False


def test_seal_type_mismatch(physical: MemoryStorage, tmp_path: Path) -> None:
    SealManager(physical).initialize(1, 1)
    with pytest.raises(SealMismatch):
        SealManager.with_keyfile(physical, tmp_path / "k").auto_unseal()
    with pytest.raises(SealMismatch):
        SealManager(physical).auto_unseal()
    other = MemoryStorage()
    SealManager.with_keyfile(other, tmp_path / "k2").initialize()
    with pytest.raises(SealMismatch):
        SealManager(other).submit_unseal_key(b"\x00" * 32)
    assert SealManager(other).status().type == "keyfile"


def test_manager_is_hard_to_leak(manager: SealManager) -> None:
    with pytest.raises(TypeError):
        pickle.dumps(manager)
    assert "shamir" in repr(manager)
