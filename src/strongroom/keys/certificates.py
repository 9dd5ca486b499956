"""Deletion certificates: signed statements of what was destroyed, when and by whom, verifiable offline.

A certificate is a JSON object. Its signature is Ed25519 over the certificate's canonical JSON (keys sorted, no
whitespace, UTF-8, without the ``signature`` field itself), made with the vault's certificate key
(``transit/sys/cert-signing-key`` of the root namespace). Two kinds exist:

* ``strongroom.transit.deletion-certificate.v1``: one transit key destroyed (``strongroom key destroy``);
* ``strongroom.tenant.deletion-certificate.v1``: a whole tenant crypto-shredded (``strongroom tenant delete
  --crypto-shred``; docs/TENANT-LIFECYCLE.md lists its fields).

Every certificate carries the signer's public key (``signing_public_key``, base64) and its id (``signing_key_id``,
the first 16 hex digits of its SHA-256). That proves integrity only: pin the vault's published key
(``strongroom tenant certificate-key``) to prove who signed.

This module is pure: no server, no vault, no clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from strongroom.crypto import transitprims as prims

__all__ = [
    "KEY_CERT_KIND",
    "KINDS",
    "TENANT_CERT_KIND",
    "canonical",
    "key_id",
    "parse_public_key",
    "sign_certificate",
    "verify_certificate",
]

KEY_CERT_KIND = "strongroom.transit.deletion-certificate.v1"
TENANT_CERT_KIND = "strongroom.tenant.deletion-certificate.v1"
REGISTER_KIND = "strongroom.destroyed-keys.register.v1"  # service/vaultregister.py
KINDS = frozenset({KEY_CERT_KIND, TENANT_CERT_KIND, REGISTER_KIND})
_ED25519_PUBLIC_LEN = 32


def canonical(value: object) -> bytes:
    """The bytes a certificate's signature covers (the transit engine's canonical JSON)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(public_key: str) -> str:
    """The short id of a base64 Ed25519 public key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:16]


def _raw_public(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == _ED25519_PUBLIC_LEN else None


def parse_public_key(text: str) -> str:
    """A published certificate key as the vault prints it: its base64 (one line), or the JSON of
    ``GET /v1/strongroom/certificate-key`` (with or without the Vault envelope). Returns the base64;
    ValueError when it is none of these."""
    stripped = text.strip()
    candidate: object = stripped
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except ValueError:
            raise ValueError("the public key file is not valid JSON") from None
        if isinstance(doc, Mapping) and isinstance(doc.get("data"), Mapping):
            doc = doc["data"]
        candidate = doc.get("public_key") if isinstance(doc, Mapping) else None
    if not isinstance(candidate, str) or _raw_public(candidate) is None:
        raise ValueError("not an Ed25519 public key (expected 32 bytes, base64)")
    return candidate.strip()


def sign_certificate(body: Mapping[str, Any], private_key: bytes, public_key: str) -> dict[str, Any]:
    """``body`` with the signer's key, its id and the signature added (the transit engine's scheme)."""
    cert = dict(body)
    cert.pop("signature", None)
    cert["signing_public_key"] = public_key
    cert["signing_key_id"] = key_id(public_key)
    cert["signature"] = base64.b64encode(prims.ed25519_sign(private_key, canonical(cert))).decode()
    return cert


def verify_certificate(cert: object, public_key: str | None = None) -> bool:
    """True when ``cert`` is a deletion certificate of a known kind, unaltered, signed by its embedded key, and
    (when ``public_key`` is given) that key is ``public_key``. False for anything else, never an exception."""
    if not isinstance(cert, Mapping) or cert.get("kind") not in KINDS:
        return False
    signature, embedded = cert.get("signature"), cert.get("signing_public_key")
    if not isinstance(signature, str) or not isinstance(embedded, str):
        return False
    raw = _raw_public(embedded)
    if raw is None:
        return False
    if public_key is not None and _raw_public(public_key) != raw:
        return False
    if cert.get("signing_key_id", key_id(embedded)) != key_id(embedded):
        return False
    try:
        sig = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    body = {k: v for k, v in cert.items() if k != "signature"}
    try:
        message = canonical(body)
    except (TypeError, ValueError):
        return False
    return prims.ed25519_verify(raw, message, sig)
