"""keys/shamir.py: GF(2^8) against Vault's published tables and tests, Vault-made shares, and properties."""

from __future__ import annotations

import base64
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.core.errors import InvalidRequest
from strongroom.keys import shamir
from strongroom.keys.shamir import combine, split

# --- published vectors ---------------------------------------------------------------------------

# Shares made by a CLI over github.com/hashicorp/vault/shamir (its README's examples): 5-of-8 shares of
# b"I've never been to Spain.\n", and 3 shares of a 2-of-n split of b"Three can keep a secret if two are dead.\n".
VAULT_SPAIN_5_OF_8 = [
    "jZYqqJaCxt4kZjh/xCAakXIG0XKdnlxY89/S",
    "1yubXvs8GdSqO8GPX9Xwk4fV22MJ/4F8wxh9",
    "fuVQmRhkVeKQGzpPVT0eNwvLXHxrQmQjFLGH",
    "Yggxmz2bmtTNPAX9ctHffwqsw4Ds8GZHDpa1",
    "Nyns0pAKCfeqLCrzxV+TpoJCvDJKTqJmR2kG",
    "a//rC1IRcRow60BY5SQV+6bZXLFbUxt221zy",
    "uB34M0pUB5vljgIfdItDHetEfKqxDQea6A93",
    "OUQe8CwZBHTbwt0Za/IRLUlLfB39smrEIEpt",
]
VAULT_DEAD_2_OF_N = [
    "upOiLkD7A/va03FStBD+NV9feBlKooE8imH7JJ/CXbbV3pQ3EHxZCQ3z",
    "dfJ2ID7zuNNQY+Zqkqvhu2QCBzVLJyuxg4nzT0rSmYrrbR5RBQNPiOVD",
    "+p/3gvuk9sNTjR7UIOVJHi13ZoPvIm/jcBCkJm98tpKgdB1tqWIUK3yt",
]

# First and last rows of Vault's shamir/tables.go (generator 0xe5 over 0x11B).
VAULT_LOG_FIRST = bytes([0x00, 0xFF, 0xC8, 0x08, 0x91, 0x10, 0xD0, 0x36])
VAULT_LOG_LAST = bytes([0x68, 0x1B, 0x64, 0x04, 0x06, 0xBF, 0x83, 0x38])
VAULT_EXP_FIRST = bytes([0x01, 0xE5, 0x4C, 0xB5, 0xFB, 0x9F, 0xFC, 0x12])
VAULT_EXP_LAST = bytes([0xAA, 0xCD, 0x9A, 0xA0, 0x75, 0x54, 0x0E, 0x01])


def _b64(shares: list[str]) -> list[bytes]:
    return [base64.b64decode(s) for s in shares]


def test_vault_made_shares_any_five_of_eight_recover_the_secret() -> None:
    shares = _b64(VAULT_SPAIN_5_OF_8)
    for subset in itertools.combinations(shares, 5):
        assert combine(list(subset)) == b"I've never been to Spain.\n"
    for short in itertools.combinations(shares, 4):
        assert combine(list(short)) != b"I've never been to Spain.\n"


def test_vault_made_shares_two_of_n_recover_the_secret() -> None:
    for pair in itertools.permutations(_b64(VAULT_DEAD_2_OF_N), 2):
        assert combine(list(pair)) == b"Three can keep a secret if two are dead.\n"


def test_tables_match_vaults_published_tables() -> None:
    assert shamir.LOG_TABLE[:8] == VAULT_LOG_FIRST and shamir.LOG_TABLE[-8:] == VAULT_LOG_LAST
    assert shamir.EXP_TABLE[:8] == VAULT_EXP_FIRST and shamir.EXP_TABLE[-8:] == VAULT_EXP_LAST
    # Vault's TestTables: exp(log(x)) == x for every non-zero element.
    for i in range(1, 256):
        assert shamir.EXP_TABLE[shamir.LOG_TABLE[i]] == i


def test_table_multiplication_equals_carryless_multiplication_for_every_pair() -> None:
    for a in range(256):
        for b in range(256):
            assert shamir.mult(a, b) == shamir._mult_slow(a, b)


def test_field_ops_vault_vectors() -> None:
    # Vault's TestField_Add / TestField_Mult / TestField_Divide.
    assert shamir.add(16, 16) == 0 and shamir.add(3, 4) == 7
    assert shamir.mult(3, 7) == 9 and shamir.mult(3, 0) == 0 and shamir.mult(0, 3) == 0
    assert shamir.div(0, 7) == 0 and shamir.div(3, 3) == 1 and shamir.div(6, 3) == 2
    # The AES field's textbook vector: {57} x {83} = {c1} (FIPS-197, section 4.2).
    assert shamir.mult(0x57, 0x83) == 0xC1
    with pytest.raises(ZeroDivisionError):
        shamir.div(1, 0)
    for a in range(1, 256):
        assert shamir.mult(a, shamir.div(1, a)) == 1


def test_polynomial_evaluate_and_interpolate() -> None:
    # Vault's TestPolynomial_Eval and TestInterpolate_Rand, with our coefficient layout.
    assert shamir.evaluate([42, 17], 0) == 42
    assert shamir.evaluate([42, 17], 1) == shamir.add(42, shamir.mult(1, 17))
    for i in range(256):
        poly = [i, (i * 7 + 3) % 256, (i * 13 + 5) % 256]
        xs = [1, 2, 3]
        ys = [shamir.evaluate(poly, x) for x in xs]
        assert shamir.interpolate(xs, ys, 0) == i


# --- Vault's split/combine tests ---------------------------------------------------------------------


def test_split_invalid() -> None:
    secret = b"test"
    for shares, threshold in [(0, 0), (2, 3), (1000, 3), (10, 1), (256, 2), (3, 0), (1, 2)]:
        with pytest.raises(InvalidRequest):
            split(secret, shares, threshold)
    with pytest.raises(InvalidRequest):
        split(b"", 3, 2)
    with pytest.raises(InvalidRequest):
        split(None, 3, 2)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest):
        split(secret, True, 1)
    with pytest.raises(InvalidRequest):
        split(secret, 3.0, 2)  # type: ignore[arg-type]


def test_split_shape_and_x_coordinates() -> None:
    out = split(b"test", 5, 3)
    assert len(out) == 5
    assert all(len(share) == len(b"test") + shamir.SHARE_OVERHEAD for share in out)
    xs = [share[-1] for share in out]
    assert len(set(xs)) == 5 and 0 not in xs
    everything = split(b"k", 255, 2)
    assert sorted(share[-1] for share in everything) == list(range(1, 256))


def test_split_x_coordinates_are_random() -> None:
    seen = {tuple(share[-1] for share in split(b"test", 3, 2)) for _ in range(20)}
    assert len(seen) > 1


def test_split_single_share_is_threshold_one() -> None:
    (share,) = split(b"secret", 1, 1)
    assert share[:-1] == b"secret" and share[-1] != 0
    assert combine([share]) == b"secret"


def test_combine_every_three_of_five() -> None:
    secret = b"test"
    out = split(secret, 5, 3)
    for subset in itertools.permutations(out, 3):
        assert combine(list(subset)) == secret


def test_combine_invalid() -> None:
    bad_inputs: list[object] = [
        [],
        None,
        [b"foo", b"ba"],  # length mismatch
        [b"f", b"b"],  # too short
        [b"foo", b"foo"],  # duplicate
        [b"fo\x01", b"ba\x01"],  # duplicate x coordinate
        [b"fo\x00", b"ba\x01"],  # x = 0 is never a share
        ["foo", "bar"],
        [b"ab\x01"] * 256,
    ]
    for bad in bad_inputs:
        with pytest.raises(InvalidRequest):
            combine(bad)  # type: ignore[arg-type]


def test_split_draws_randomness_only_from_the_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    def counter_bytes() -> object:
        state = {"n": 0}

        def draw(n: int) -> bytes:
            out = bytes((state["n"] + i) % 251 for i in range(n))
            state["n"] += n
            return out

        return draw

    monkeypatch.setattr(shamir, "random_bytes", counter_bytes())
    first = split(b"deterministic", 4, 3)
    monkeypatch.setattr(shamir, "random_bytes", counter_bytes())
    assert split(b"deterministic", 4, 3) == first
    assert combine(first[1:]) == b"deterministic"


# --- properties ---------------------------------------------------------------------------------------

SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(
    secret=st.binary(min_size=1, max_size=48),
    shape=st.integers(2, 12).flatmap(lambda n: st.tuples(st.just(n), st.integers(2, n))),
    data=st.data(),
)
def test_any_threshold_subset_recovers(secret: bytes, shape: tuple[int, int], data: st.DataObject) -> None:
    n, t = shape
    shares = split(secret, n, t)
    size = data.draw(st.integers(t, n))
    subset = data.draw(st.permutations(shares)).copy()[:size]
    assert combine(subset) == secret


@SETTINGS
@given(
    secret=st.binary(min_size=16, max_size=48),
    shape=st.integers(2, 12).flatmap(lambda n: st.tuples(st.just(n), st.integers(2, n))),
    data=st.data(),
)
def test_fewer_than_threshold_recovers_something_else(
    secret: bytes, shape: tuple[int, int], data: st.DataObject
) -> None:
    n, t = shape
    shares = split(secret, n, t)
    size = data.draw(st.integers(1, t - 1))
    subset = data.draw(st.permutations(shares)).copy()[:size]
    recovered = combine(subset)
    assert len(recovered) == len(secret)
    assert recovered != secret


@SETTINGS
@given(secret=st.binary(min_size=16, max_size=32), data=st.data())
def test_a_corrupted_share_recovers_something_else(secret: bytes, data: st.DataObject) -> None:
    shares = [bytearray(s) for s in split(secret, 5, 3)]
    victim = data.draw(st.integers(0, 2))
    position = data.draw(st.integers(0, len(secret) - 1))
    shares[victim][position] ^= data.draw(st.integers(1, 255))
    assert combine([bytes(s) for s in shares[:3]]) != secret


def test_a_single_share_of_a_one_byte_secret_is_uniform() -> None:
    # Perfect secrecy, measured: with t = 2, one share's y value is uniform whatever the secret.
    counts = [0] * 256
    for _ in range(2048):
        counts[split(b"\x00", 2, 2)[0][0]] += 1
    assert max(counts) < 40  # expected 8 per value; a leak of the secret (0) would pile up there
