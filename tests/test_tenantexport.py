"""The export's file names (tenantexport.py): any S3 key becomes one safe, reversible (or hashed) file name."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strongroom.tenantexport import MAX_NAME_BYTES, Names, S3Reader, decode_name, encode_key, hashed_name

#: S3 keys: 1..1024 bytes of UTF-8 (NUL-free, as the gateway accepts them)
keys = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1).filter(
    lambda k: len(k.encode()) <= 1024
)


def safe(name: str) -> bool:
    return (
        name.isascii()
        and 0 < len(name.encode()) <= MAX_NAME_BYTES
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
        and not name.startswith(".")
        and not name.endswith(".")
        and name not in (".", "..")
        and all(ch.isprintable() and ch != " " for ch in name)
    )


@given(keys)
def test_every_key_gets_a_safe_name_that_gives_the_key_back(key: str) -> None:
    name = encode_key(key)
    assert safe(name)
    back = decode_name(name)
    if back is None:
        assert "~" in name and name.endswith(hashlib.sha256(key.encode()).hexdigest())
    else:
        assert back == key


@given(keys, keys)
def test_different_keys_never_share_a_name(a: str, b: str) -> None:
    if a != b:
        assert encode_key(a) != encode_key(b)
        assert hashed_name(a) != hashed_name(b)


@pytest.mark.parametrize(
    ("key", "name"),
    [
        (".", "%2E"),
        ("..", "%2E%2E"),
        ("../x", "%2E.%2Fx"),
        ("./y", "%2E%2Fy"),
        ("/leading", "%2Fleading"),
        ("a//b", "a%2F%2Fb"),
        ("trailing/", "trailing%2F"),
        ("dir/file.txt", "dir%2Ffile.txt"),
        ("end.", "end%2E"),
        ("100%~", "100%25%7E"),
        ("a b", "a%20b"),
        ("€", "%E2%82%AC"),
        ("back\\slash", "back%5Cslash"),
        ("Case", "Case"),
    ],
)
def test_names_of_awkward_keys(key: str, name: str) -> None:
    assert encode_key(key) == name
    assert decode_name(name) == key


def test_a_key_too_long_for_one_name_is_hashed() -> None:
    key = "é" * 500  # 1000 bytes, 3000 escaped
    name = encode_key(key)
    assert name == hashed_name(key) and len(name) <= MAX_NAME_BYTES
    prefix, _, digest = name.partition("~")
    assert digest == hashlib.sha256(key.encode()).hexdigest()
    assert prefix and not prefix.endswith("%") and "%" not in prefix[-2:]  # never half an escape
    assert decode_name(name) is None


def test_the_longest_plain_name_is_kept_and_one_more_byte_is_hashed() -> None:
    assert encode_key("k" * MAX_NAME_BYTES) == "k" * MAX_NAME_BYTES
    assert "~" in encode_key("k" * (MAX_NAME_BYTES + 1))


def test_names_taken_case_insensitively_fall_back_to_the_hashed_name() -> None:
    names = Names()
    assert names.claim("Case") == "Case"
    second = names.claim("case")
    assert second == hashed_name("case") and second.casefold() != "case"
    # a previous run's name is kept when it is free and one of the key's own two names
    names2 = Names()
    assert names2.claim("case", hashed_name("case")) == hashed_name("case")
    assert names2.claim("Case") == "Case"
    # never any other name a manifest might hold: a separator, a dot name, another key's name
    names3 = Names()
    for bogus in ("..", ".", "../../etc/x", "other", ""):
        assert names3.claim(f"key-{bogus}", bogus) == encode_key(f"key-{bogus}")


def test_names_are_files_a_real_filesystem_takes(tmp_path: Path) -> None:
    for key in [".", "..", "../x", "/etc/passwd", "a//b", "trailing/", "€" * 400, "x" * 1024, "con", "a\tb"]:
        target = tmp_path / encode_key(key)
        target.write_bytes(key.encode())
        assert target.parent == tmp_path
    assert len(os.listdir(tmp_path)) == 10


def test_s3_urls_escape_every_separator_and_dot() -> None:
    reader = S3Reader("https://h:1/", "AK", "SK", None)  # type: ignore[arg-type]
    assert reader.url("b", "../x") == "https://h:1/b/%2E%2E%2Fx"
    assert reader.url("b", ".") == "https://h:1/b/%2E"
    assert reader.url("b", "a b/€") == "https://h:1/b/a%20b%2F%E2%82%AC"
    assert reader.url("b", query="acl") == "https://h:1/b?acl"
    assert "SK" not in repr(reader)
