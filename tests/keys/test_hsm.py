"""keys/hsm.py against a real SoftHSM2 token: PKCS#11 auto-unseal round trips, and failing closed.

SoftHSM2 is required, never skipped: CI installs it (``apt-get install -y softhsm2``).
"""

from __future__ import annotations

import base64
import pickle
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass

from strongroom.core.errors import DecryptionFailed, InvalidRequest, SealDeviceError, SealMismatch
from strongroom.keys.hsm import Pkcs11Unsealer
from strongroom.keys.seal import ROOT_KEY_PATH, SealManager
from strongroom.keys.storage import MemoryStorage

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "strongroom"
PIN = "1234"
SO_PIN = "5678"
KEY_LABEL = "vault-root-wrap"


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh SoftHSM2 token dir with token 'strongroom' holding an AES-256 key made via python-pkcs11."""
    util = shutil.which("softhsm2-util")
    if util is None or not Path(SOFTHSM_LIB).is_file():
        pytest.fail("SoftHSM2 is required for the PKCS#11 seal tests: apt-get install -y softhsm2")
    base = tmp_path_factory.mktemp("softhsm")
    tokens = base / "tokens"
    tokens.mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(
            [util, "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN],
            check=True,
            capture_output=True,
        )
        lib = pkcs11.lib(SOFTHSM_LIB)
        lib.reinitialize()  # SoftHSM reads SOFTHSM2_CONF and the token list at C_Initialize
        with lib.get_token(token_label=TOKEN).open(user_pin=PIN, rw=True) as session:
            session.generate_key(
                KeyType.AES,
                256,
                label=KEY_LABEL,
                store=True,
                capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
            )
        yield SOFTHSM_LIB
        lib.finalize()  # the next user initialises afresh, with its own configuration


def hsm_manager(physical: MemoryStorage, lib: str, *, pin: str = PIN, key_label: str = KEY_LABEL) -> SealManager:
    return SealManager(physical, unsealer=Pkcs11Unsealer(lib, TOKEN, pin, key_label))


def test_pkcs11_init_auto_unseal_seal_round_trips(softhsm: str) -> None:
    physical = MemoryStorage()
    manager = hsm_manager(physical, softhsm)
    status = manager.status()
    assert (status.type, status.initialized, status.sealed) == ("pkcs11", False, True)
    result = manager.initialize()
    assert result.keys == []
    status = manager.status()
    assert (status.type, status.initialized, status.sealed) == ("pkcs11", True, True)
    assert manager.auto_unseal().sealed is False
    manager.barrier.put("kv/data/a", b"guarded by the HSM")
    assert manager.barrier._root_key is not None
    root_key = bytes(manager.barrier._root_key)
    for _ in range(2):
        manager.seal()
        assert manager.sealed
        assert manager.auto_unseal().sealed is False
        assert manager.barrier.get("kv/data/a") == b"guarded by the HSM"
    # A restarted server unseals itself from the same storage.
    manager.seal()
    restarted = SealManager.with_pkcs11(physical, softhsm, TOKEN, PIN, KEY_LABEL)
    assert restarted.auto_unseal().sealed is False
    assert restarted.barrier.get("kv/data/a") == b"guarded by the HSM"
    stored = b"".join(physical.items().values())
    assert root_key not in stored and base64.b64encode(root_key) not in stored and root_key.hex().encode() not in stored


def test_wrong_pin_fails_closed(softhsm: str) -> None:
    physical = MemoryStorage()
    hsm_manager(physical, softhsm).initialize()
    wrong = hsm_manager(physical, softhsm, pin="0000")
    with pytest.raises(SealDeviceError):
        wrong.auto_unseal()
    assert wrong.sealed and wrong.barrier._root_key is None
    with pytest.raises(SealDeviceError):
        hsm_manager(MemoryStorage(), softhsm, pin="0000").initialize()


def test_missing_key_or_token_fails_closed(softhsm: str) -> None:
    physical = MemoryStorage()
    hsm_manager(physical, softhsm).initialize()
    with pytest.raises(SealDeviceError, match="no AES key"):
        hsm_manager(physical, softhsm, key_label="absent").auto_unseal()
    no_token = SealManager(physical, unsealer=Pkcs11Unsealer(softhsm, "no-such-token", PIN, KEY_LABEL))
    with pytest.raises(SealDeviceError):
        no_token.auto_unseal()
    assert no_token.sealed


def test_another_hsm_key_or_a_tampered_blob_does_not_open(softhsm: str) -> None:
    physical = MemoryStorage()
    hsm_manager(physical, softhsm).initialize()
    other = Pkcs11Unsealer(softhsm, TOKEN, PIN, "another-key")
    assert other.create_key() is True
    assert other.create_key() is False  # idempotent
    with pytest.raises(DecryptionFailed):
        SealManager(physical, unsealer=other).auto_unseal()
    raw = bytearray(physical.get(ROOT_KEY_PATH) or b"")
    raw[-3] ^= 0x40
    physical.put(ROOT_KEY_PATH, bytes(raw))
    tampered = hsm_manager(physical, softhsm)
    with pytest.raises(DecryptionFailed):
        tampered.auto_unseal()
    assert tampered.sealed


def test_wrap_binds_associated_data(softhsm: str) -> None:
    unsealer = Pkcs11Unsealer(softhsm, TOKEN, PIN, KEY_LABEL)
    blob = unsealer.wrap(b"\x42" * 32, b"core/root-key")
    assert len(blob) == 12 + 32 + 16
    assert unsealer.unwrap(blob, b"core/root-key") == b"\x42" * 32
    with pytest.raises(DecryptionFailed):
        unsealer.unwrap(blob, b"other")
    with pytest.raises(DecryptionFailed):
        unsealer.unwrap(blob[:20], b"core/root-key")
    assert unsealer.wrap(b"\x42" * 32, b"core/root-key") != blob  # fresh nonce


def test_created_key_is_sensitive_and_not_extractable(softhsm: str) -> None:
    Pkcs11Unsealer(softhsm, TOKEN, PIN, "fresh-key").create_key()
    with pkcs11.lib(softhsm).get_token(token_label=TOKEN).open(user_pin=PIN) as session:
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label="fresh-key")
        assert key[Attribute.SENSITIVE] is True and key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.VALUE_LEN] == 32


def test_shamir_manager_refuses_pkcs11_storage(softhsm: str) -> None:
    physical = MemoryStorage()
    hsm_manager(physical, softhsm).initialize()
    with pytest.raises(SealMismatch):
        SealManager(physical).submit_unseal_key(b"\x00" * 33)


def test_unsealer_validates_and_hides_the_pin(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest):
        Pkcs11Unsealer(tmp_path / "missing.so", TOKEN, PIN, KEY_LABEL)
    for bad in ("", None):
        with pytest.raises(InvalidRequest):
            Pkcs11Unsealer(SOFTHSM_LIB, TOKEN, bad, KEY_LABEL)  # type: ignore[arg-type]
    unsealer = Pkcs11Unsealer(SOFTHSM_LIB, TOKEN, "s3cr3t-pin", KEY_LABEL)
    assert "s3cr3t-pin" not in repr(unsealer)
    with pytest.raises(TypeError):
        pickle.dumps(unsealer)
