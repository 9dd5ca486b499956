"""Deletion certificates (keys/certificates.py): signing, offline verification and every way it refuses."""

from __future__ import annotations

import base64
import json

import pytest

from strongroom.crypto import transitprims as prims
from strongroom.keys.certificates import (
    KEY_CERT_KIND,
    TENANT_CERT_KIND,
    canonical,
    key_id,
    parse_public_key,
    sign_certificate,
    verify_certificate,
)
from strongroom.keys.storage import MemoryStorage
from strongroom.keys.transit import TransitEngine

PRIVATE = prims.ed25519_from_seed(bytes(range(32)))  # fixed: the parametrized ids name the key (xdist)
PUBLIC = base64.b64encode(prims.ed25519_public(PRIVATE)).decode()
OTHER = base64.b64encode(prims.ed25519_public(prims.ed25519_from_seed(bytes(range(1, 33))))).decode()
BODY = {
    "kind": TENANT_CERT_KIND,
    "tenant": "acme",
    "keys": [{"name": "kms-a", "versions": [1, 2]}],
    "data": {"objects": 3, "bytes": 12, "buckets": [{"name": "b", "objects": 3}]},
    "requested_by": {"arn": "arn:aws:iam::system:user/admin"},
    "note": "ünïcode",
}


def cert() -> dict[str, object]:
    return sign_certificate(BODY, PRIVATE, PUBLIC)


def test_a_signed_certificate_verifies_with_and_without_the_pinned_key() -> None:
    c = cert()
    assert c["signing_public_key"] == PUBLIC and c["signing_key_id"] == key_id(PUBLIC)
    assert verify_certificate(c) and verify_certificate(c, PUBLIC)
    # as a file round trip: JSON text in, the same verdict
    assert verify_certificate(json.loads(json.dumps(c, indent=2)), PUBLIC)


def test_another_signer_fails_the_pin() -> None:
    assert not verify_certificate(cert(), OTHER)
    # re-signed by another key that embeds itself: integrity holds, origin does not
    other_private = prims.ed25519_generate()
    other_public = base64.b64encode(prims.ed25519_public(other_private)).decode()
    forged = sign_certificate(BODY, other_private, other_public)
    assert verify_certificate(forged) and not verify_certificate(forged, PUBLIC)


def _flip_one_byte(text: str) -> str:
    """The certificate's JSON with one byte of one value changed (not in a key name or the structure)."""
    at = text.index('"acme"') + 2
    return text[:at] + chr(ord(text[at]) ^ 1) + text[at + 1 :]


def test_tampering_with_one_byte_fails() -> None:
    text = json.dumps(cert())
    assert not verify_certificate(json.loads(_flip_one_byte(text)), PUBLIC)


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.update(tenant="acmf"),
        lambda c: c["data"].update(objects=2),
        lambda c: c["keys"][0]["versions"].append(3),
        lambda c: c.update(extra="added"),
        lambda c: c.pop("requested_by"),
        lambda c: c.update(signing_key_id="0" * 16),
        lambda c: c.update(signing_public_key=OTHER),
        lambda c: c.update(kind=KEY_CERT_KIND),
        lambda c: c.update(kind="something.else.v1"),
        lambda c: c.pop("kind"),
        lambda c: c.pop("signature"),
        lambda c: c.update(signature="not base64!"),
        lambda c: c.update(signature=base64.b64encode(b"\0" * 64).decode()),
        lambda c: c.update(signature=123),
        lambda c: c.update(signing_public_key="short"),
        lambda c: c.update(signing_public_key=base64.b64encode(b"x" * 31).decode()),
    ],
)
def test_every_change_is_refused(change) -> None:
    c = json.loads(json.dumps(cert()))
    change(c)
    assert not verify_certificate(c)


@pytest.mark.parametrize("value", [None, [], "text", 1, {"kind": TENANT_CERT_KIND}])
def test_what_is_not_a_certificate_is_refused(value: object) -> None:
    assert not verify_certificate(value)


def test_a_pin_that_is_not_a_key_is_refused() -> None:
    assert not verify_certificate(cert(), "not a key")


def test_the_signature_covers_the_canonical_json_without_the_signature() -> None:
    c = cert()
    body = {k: v for k, v in c.items() if k != "signature"}
    assert prims.ed25519_verify(base64.b64decode(PUBLIC), canonical(body), base64.b64decode(str(c["signature"])))


def test_a_transit_key_deletion_certificate_verifies_too() -> None:
    engine = TransitEngine(MemoryStorage())
    engine.create_key("k", tenant="acme")
    c = engine.destroy("k", force=True)
    assert c["kind"] == KEY_CERT_KIND
    assert verify_certificate(c, engine.deletion_certificate_public_key())
    c["versions"] = [1, 2]
    assert not verify_certificate(c)


@pytest.mark.parametrize(
    "text",
    [
        PUBLIC,
        f"  {PUBLIC}\n",
        json.dumps({"public_key": PUBLIC, "key_id": key_id(PUBLIC), "algorithm": "ed25519"}),
        json.dumps({"request_id": "x", "data": {"public_key": PUBLIC}}),
    ],
)
def test_published_keys_parse(text: str) -> None:
    assert parse_public_key(text) == PUBLIC


@pytest.mark.parametrize("text", ["", "nope", "{", json.dumps({"key": PUBLIC}), base64.b64encode(b"x" * 33).decode()])
def test_what_is_not_a_published_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_public_key(text)
