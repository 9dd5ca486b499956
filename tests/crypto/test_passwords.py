"""passwords.py: scrypt password hashes (self-describing, salted, constant-time verify), burn_verify, secret_digest."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from strongroom.core.errors import InvalidKeyMaterial
from strongroom.crypto import passwords
from strongroom.crypto.passwords import burn_verify, hash_password, secret_digest, verify_password


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password("correct horse battery staple")


def test_format_is_self_describing(stored: str) -> None:
    scheme, log2_n, r, p, salt, key = stored.split("$")
    assert (scheme, log2_n, r, p) == ("scrypt", "15", "8", "1")
    assert len(base64.b64decode(salt, validate=True)) == 16
    raw_key = base64.b64decode(key, validate=True)
    assert len(raw_key) == 32
    # the stored key is scrypt itself with those parameters (hashlib's scrypt as an independent implementation)
    expected = hashlib.scrypt(
        b"correct horse battery staple",
        salt=base64.b64decode(salt),
        n=2**15,
        r=8,
        p=1,
        maxmem=64 * 1024 * 1024,
        dklen=32,
    )
    assert raw_key == expected


def test_verify_right_and_wrong(stored: str) -> None:
    assert verify_password("correct horse battery staple", stored) is True
    assert verify_password("correct horse battery stapl", stored) is False
    assert verify_password("Correct horse battery staple", stored) is False
    assert verify_password("", stored) is False


def test_same_password_hashes_differ_by_salt(stored: str) -> None:
    again = hash_password("correct horse battery staple")
    assert again != stored
    assert again.split("$")[4] != stored.split("$")[4]
    assert verify_password("correct horse battery staple", again)


def test_password_not_in_hash(stored: str) -> None:
    assert "correct horse" not in stored
    assert b"correct horse" not in base64.b64decode(stored.split("$")[5])


def test_unicode_and_lone_surrogate_passwords() -> None:
    for password in ("pässwörd ✓", "\ud800x"):  # JSON bodies can carry lone surrogates
        stored = hash_password(password)
        assert verify_password(password, stored)
        assert not verify_password(password + "!", stored)


def test_salt_comes_from_the_randomness_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords.aead, "random_bytes", lambda n: b"\x01" * n)
    assert hash_password("pw") == hash_password("pw")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        "bcrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA==",  # too few fields
        "scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=$x",
        "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$-1$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$１５$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # full-width digits
        "scrypt$15$8$1$!!notbase64!!$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",  # 3-byte key
        "scrypt$15$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # 3-byte salt
        "scrypt$0$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ],
)
def test_malformed_stored_is_false(bad: str) -> None:
    assert verify_password("anything", bad) is False


class CountingScrypt:
    """Stands in for cryptography's Scrypt, recording each KDF built (and delegating to the real one)."""

    made: list[tuple[int, int, int, int]] = []

    def __init__(self, *, salt: bytes, length: int, n: int, r: int, p: int) -> None:
        CountingScrypt.made.append((n, r, p, length))
        self._real = REAL_SCRYPT(salt=salt, length=length, n=n, r=r, p=p)

    def derive(self, key_material: bytes) -> bytes:
        return self._real.derive(key_material)

    def verify(self, key_material: bytes, expected_key: bytes) -> None:
        self._real.verify(key_material, expected_key)


REAL_SCRYPT = passwords.Scrypt


@pytest.fixture()
def counting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int, int]]:
    CountingScrypt.made = []
    monkeypatch.setattr(passwords, "Scrypt", CountingScrypt)
    return CountingScrypt.made


def test_cost_bounds_refused_without_work(counting: list[tuple[int, int, int, int]]) -> None:
    """A corrupted entry must not make verify spend a gigabyte or hours: out-of-bounds costs are False, no KDF run."""
    salt = base64.b64encode(b"\0" * 16).decode()
    key = base64.b64encode(b"\0" * 32).decode()
    for params in ("30$8$1", "20$8$1", "15$64$1", "15$8$64", "15$0$1", "15$8$0"):
        assert verify_password("pw", f"scrypt${params}${salt}${key}") is False
    assert counting == []


def test_other_parameters_within_bounds_still_verify() -> None:
    """The string is self-describing: a hash made with other (sane) costs verifies."""
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(b"pw", salt=salt, n=2**10, r=4, p=2, dklen=24)
    stored = f"scrypt$10$4$2${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"
    assert verify_password("pw", stored)
    assert not verify_password("pW", stored)


def test_non_string_stored_is_false() -> None:
    assert verify_password("pw", None) is False  # type: ignore[arg-type]


def test_burn_verify_does_the_same_work(stored: str, counting: list[tuple[int, int, int, int]]) -> None:
    """An unknown user costs what a wrong password costs: one full scrypt with the same parameters."""
    assert verify_password("wrong", stored) is False
    burn_verify("wrong")
    assert counting == [(2**15, 8, 1, 32), (2**15, 8, 1, 32)]
    burn_verify("correct horse battery staple")  # no password matches the dummy; nothing is returned
    assert len(counting) == 3


def test_secret_digest() -> None:
    key = bytes(range(32))
    digest = secret_digest(key, "s3cret")
    assert digest == hmac.new(key, b"s3cret", hashlib.sha256).hexdigest()
    assert secret_digest(key, "s3cret") == digest
    assert secret_digest(bytes(32), "s3cret") != digest
    assert secret_digest(key, "s3cret!") != digest


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33), "x" * 32])
def test_secret_digest_refuses_bad_keys(key: object) -> None:
    with pytest.raises(InvalidKeyMaterial):
        secret_digest(key, "s")  # type: ignore[arg-type]


def test_at_most_two_hashes_run_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Logins need no token: scrypt's ~32 MiB per hash must not multiply with the number of callers."""
    import threading

    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    running, peak, lock = 0, 0, threading.Lock()

    class Counting:  # the real KDF, counted
        def __init__(self, **kwargs: int | bytes) -> None:
            self.kdf = Scrypt(**kwargs)  # type: ignore[arg-type]

        def derive(self, key_material: bytes) -> bytes:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            try:
                return self.kdf.derive(key_material)
            finally:
                with lock:
                    running -= 1

    monkeypatch.setattr(passwords, "Scrypt", Counting)
    threads = [threading.Thread(target=passwords.hash_password, args=(f"pw-{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == passwords.CONCURRENT_HASHES == 2
