"""keys/barrier.py: keyring lifecycle, sealed refusals, tamper rejection, rotation, nothing in the clear."""

from __future__ import annotations

import base64
import pickle
import struct
import threading
from datetime import UTC, datetime

import pytest

from strongroom.core.errors import (
    DecryptionFailed,
    InvalidKeyMaterial,
    InvalidRequest,
    KeyStoreSealed,
    VaultAlreadyInitialized,
    VaultNotInitialized,
)
from strongroom.crypto import open_small
from strongroom.keys.barrier import ENTRY_MAGIC, KEYRING_PATH, Barrier
from strongroom.keys.storage import MemoryStorage

ROOT = bytes(range(32))
OTHER_ROOT = bytes(range(1, 33))


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def physical() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture()
def barrier(physical: MemoryStorage) -> Barrier:
    b = Barrier(physical)
    b.initialize(ROOT)
    b.unseal(ROOT)
    return b


def leaks(haystack: bytes, secret: bytes) -> bool:
    """True if ``secret`` appears raw, hex- or base64-encoded in ``haystack``."""
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode(), base64.b64encode(secret)]
    forms.append(base64.urlsafe_b64encode(secret))
    return any(form in haystack for form in forms)


def test_lifecycle_initialize_leaves_sealed_then_unseal_and_seal(physical: MemoryStorage) -> None:
    b = Barrier(physical)
    assert b.sealed and not b.initialized()
    with pytest.raises(VaultNotInitialized):
        b.unseal(ROOT)
    b.initialize(ROOT)
    assert b.initialized() and b.sealed
    with pytest.raises(VaultAlreadyInitialized):
        b.initialize(ROOT)
    b.unseal(ROOT)
    assert not b.sealed
    b.unseal(ROOT)  # no-op when unsealed
    b.put("a/b", b"value")
    b.seal()
    b.seal()  # idempotent
    assert b.sealed
    b.unseal(ROOT)
    assert b.get("a/b") == b"value"


def test_every_operation_while_sealed_raises(physical: MemoryStorage) -> None:
    b = Barrier(physical)
    b.initialize(ROOT)
    for call in (
        lambda: b.get("a"),
        lambda: b.put("a", b"v"),
        lambda: b.delete("a"),
        lambda: b.list(""),
        lambda: b.list("a/"),
        b.rotate,
        b.key_info,
    ):
        with pytest.raises(KeyStoreSealed):
            call()
    b.unseal(ROOT)
    b.put("a", b"v")
    b.seal()
    with pytest.raises(KeyStoreSealed):
        b.get("a")


def test_wrong_root_key_fails_closed(physical: MemoryStorage) -> None:
    b = Barrier(physical)
    b.initialize(ROOT)
    with pytest.raises(DecryptionFailed):
        b.unseal(OTHER_ROOT)
    assert b.sealed
    for bad in (b"", b"\x00" * 31, b"\x00" * 33, "x" * 32):
        with pytest.raises(InvalidKeyMaterial):
            b.unseal(bad)  # type: ignore[arg-type]


def test_tampered_keyring_fails_closed(physical: MemoryStorage) -> None:
    Barrier(physical).initialize(ROOT)
    ring = bytearray(physical.get(KEYRING_PATH) or b"")
    ring[20] ^= 1
    physical.put(KEYRING_PATH, bytes(ring))
    b = Barrier(physical)
    with pytest.raises(DecryptionFailed):
        b.unseal(ROOT)
    assert b.sealed


def test_keyring_format_is_documented_layout(physical: MemoryStorage) -> None:
    clock = Clock()
    b = Barrier(physical, clock=clock)
    b.initialize(ROOT)
    plain = open_small(ROOT, physical.get(KEYRING_PATH) or b"", b"core/keyring")
    magic, count = struct.unpack_from(">4sI", plain)
    term, installed_us = struct.unpack_from(">IQ", plain, 8)
    assert (magic, count, term, installed_us) == (b"SRK1", 1, 1, int(clock.now * 1_000_000))
    assert len(plain) == 8 + 44


def test_entry_format_and_path_binding(barrier: Barrier, physical: MemoryStorage) -> None:
    barrier.put("kv/a", b"secret value")
    raw = physical.get("kv/a") or b""
    assert raw[:4] == ENTRY_MAGIC and struct.unpack(">I", raw[4:8]) == (1,)
    key = bytes(barrier._keyring[0].key)
    assert open_small(key, raw[8:], b"kv/a") == b"secret value"
    with pytest.raises(DecryptionFailed):
        open_small(key, raw[8:], b"kv/b")


def test_flipping_any_byte_of_an_entry_fails(barrier: Barrier, physical: MemoryStorage) -> None:
    barrier.put("kv/a", b"secret value")
    raw = physical.get("kv/a") or b""
    for i in range(len(raw)):
        tampered = bytearray(raw)
        tampered[i] ^= 0x01
        physical.put("kv/a", bytes(tampered))
        with pytest.raises(DecryptionFailed):
            barrier.get("kv/a")
    for bad in (b"", b"SRB1", raw[:-1], raw + b"\x00", b"XXXX" + raw[4:]):
        physical.put("kv/a", bad)
        with pytest.raises(DecryptionFailed):
            barrier.get("kv/a")


def test_moving_an_entry_to_another_path_fails(barrier: Barrier, physical: MemoryStorage) -> None:
    barrier.put("auth/token/aaa", b"policy: root")
    barrier.put("auth/token/bbb", b"policy: default")
    physical.put("auth/token/bbb", physical.get("auth/token/aaa") or b"")
    with pytest.raises(DecryptionFailed):
        barrier.get("auth/token/bbb")


def test_entry_from_another_keyring_fails(physical: MemoryStorage) -> None:
    other = MemoryStorage()
    a = Barrier(other)
    a.initialize(OTHER_ROOT)
    a.unseal(OTHER_ROOT)
    a.put("kv/x", b"from elsewhere")
    b = Barrier(physical)
    b.initialize(ROOT)
    b.unseal(ROOT)
    physical.put("kv/x", other.get("kv/x") or b"")
    with pytest.raises(DecryptionFailed):
        b.get("kv/x")


def test_rotate_keeps_old_entries_readable_and_new_writes_use_the_new_term(physical: MemoryStorage) -> None:
    clock = Clock()
    b = Barrier(physical, clock=clock)
    b.initialize(ROOT)
    b.unseal(ROOT)
    assert b.key_info().term == 1
    assert b.key_info().install_time == datetime.fromtimestamp(clock.now, UTC)
    b.put("old", b"written under term 1")
    clock.now += 3600
    assert b.rotate() == 2
    info = b.key_info()
    assert info.term == 2 and info.install_time == datetime.fromtimestamp(clock.now, UTC)
    b.put("new", b"written under term 2")
    assert struct.unpack(">I", (physical.get("old") or b"")[4:8]) == (1,)
    assert struct.unpack(">I", (physical.get("new") or b"")[4:8]) == (2,)
    assert b.get("old") == b"written under term 1"
    assert b.get("new") == b"written under term 2"
    # The rotation is persisted: a fresh barrier over the same storage sees both terms.
    b.seal()
    fresh = Barrier(physical)
    fresh.unseal(ROOT)
    assert fresh.key_info().term == 2
    assert fresh.get("old") == b"written under term 1" and fresh.get("new") == b"written under term 2"
    assert fresh.rotate() == 3


def test_failed_keyring_write_leaves_rotation_unapplied(barrier: Barrier, physical: MemoryStorage) -> None:
    class Boom(Exception):
        pass

    original = physical.put

    def failing_put(path: str, value: bytes) -> None:
        if path == KEYRING_PATH:
            raise Boom()
        original(path, value)

    physical.put = failing_put  # type: ignore[method-assign]
    with pytest.raises(Boom):
        barrier.rotate()
    assert barrier.key_info().term == 1
    barrier.put("x", b"v")
    assert struct.unpack(">I", (physical.get("x") or b"")[4:8]) == (1,)


def test_core_paths_are_reserved_and_hidden(barrier: Barrier, physical: MemoryStorage) -> None:
    for path in ("core/keyring", "core/root-key", "core/anything", "core"):
        for call in (
            lambda p=path: barrier.get(p),
            lambda p=path: barrier.put(p, b"x"),
            lambda p=path: barrier.delete(p),
        ):
            with pytest.raises(InvalidRequest):
                call()
    with pytest.raises(InvalidRequest):
        barrier.list("core/")
    barrier.put("kv/a", b"1")
    assert physical.list("") == ["core/", "kv/"]
    assert barrier.list("") == ["kv/"]


def test_path_validation(barrier: Barrier) -> None:
    for bad in ("", "/abs", "trailing/", "a\x00b", "x" * 513, "\udcff", 7, None):
        with pytest.raises(InvalidRequest):
            barrier.put(bad, b"v")  # type: ignore[arg-type]
    barrier.put("é" * 256, b"v")  # 512 UTF-8 bytes: the limit
    with pytest.raises(InvalidRequest):
        barrier.put("é" * 256 + "x", b"v")
    for bad_prefix in ("kv", "/", "core/"):
        with pytest.raises(InvalidRequest):
            barrier.list(bad_prefix)
    with pytest.raises(InvalidRequest):
        barrier.put("kv/a", "not bytes")  # type: ignore[arg-type]


def test_nothing_secret_reaches_physical_storage(physical: MemoryStorage) -> None:
    b = Barrier(physical)
    b.initialize(ROOT)
    b.unseal(ROOT)
    b.rotate()
    values = {f"kv/data/{i}": f"top secret value number {i} {'x' * i}".encode() for i in range(20)}
    values["transit/keys/k"] = bytes(range(256))
    for path, value in values.items():
        b.put(path, value)
    keys = [bytes(entry.key) for entry in b._keyring]
    stored = physical.items()
    blob = b"".join(stored.values()) + "".join(stored).encode()
    for secret in [ROOT, *keys, *values.values()]:
        assert not leaks(blob, secret)
    for path, value in values.items():
        assert b.get(path) == value


def test_seal_overwrites_and_drops_every_key(barrier: Barrier) -> None:
    barrier.rotate()
    buffers = [entry.key for entry in barrier._keyring]
    root = barrier._root_key
    assert root is not None and any(root) and all(any(buf) for buf in buffers)
    barrier.seal()
    assert barrier._keyring == [] and barrier._root_key is None
    assert all(buf == bytearray(32) for buf in buffers)
    assert root == bytearray(32)
    with pytest.raises(KeyStoreSealed):
        barrier.get("anything")


def test_caller_root_key_buffer_is_not_kept(physical: MemoryStorage) -> None:
    b = Barrier(physical)
    b.initialize(ROOT)
    caller = bytearray(ROOT)
    b.unseal(caller)
    caller[:] = bytes(32)  # the caller wipes its copy; the barrier keeps working
    b.put("a", b"v")
    assert b.get("a") == b"v"


def test_barrier_and_keys_are_hard_to_leak(barrier: Barrier) -> None:
    assert ROOT.hex() not in repr(barrier)
    assert "redacted" in repr(barrier._keyring[0])
    with pytest.raises(TypeError):
        pickle.dumps(barrier)
    with pytest.raises(TypeError):
        pickle.dumps(barrier._keyring[0])


def test_concurrent_reads_writes_rotations(barrier: Barrier) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(30):
                barrier.put(f"w{n}/{i}", f"{n}-{i}".encode())
                assert barrier.get(f"w{n}/{i}") == f"{n}-{i}".encode()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def rotator() -> None:
        try:
            for _ in range(5):
                barrier.rotate()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)] + [threading.Thread(target=rotator)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert barrier.key_info().term == 6
    assert barrier.list("w0/") == sorted(str(i) for i in range(30))
