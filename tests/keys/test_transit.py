"""Transit engine: Vault's formats, versions, batches, signatures (checked with raw cryptography)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import pickle
import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.core import errors
from strongroom.keys.storage import MemoryStorage
from strongroom.keys.transit import ERR_TOO_OLD, KeyPolicy, TransitEngine, b64decode, batch_response_status


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


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
    return TransitEngine(storage, clock)


@pytest.fixture(scope="module")
def shared() -> TransitEngine:
    """One engine holding one key of every asymmetric type (RSA generation is the slow part)."""
    eng = TransitEngine(MemoryStorage())
    for key_type in ("ed25519", "ecdsa-p256", "rsa-3072"):
        eng.create_key(key_type, type=key_type, exportable=True)
    return eng


MSG = b64(b"the quick brown fox")

# --- key management --------------------------------------------------------------------------


def test_create_and_read_key_has_vaults_shape(engine: TransitEngine, clock: Clock) -> None:
    created = engine.create_key("orders", tenant="acme", region="eu-west")
    data = engine.read_key("orders")
    assert created == data
    assert data["type"] == "aes256-gcm96"
    assert data["keys"] == {"1": int(clock.now.timestamp())}
    assert data["latest_version"] == 1
    assert data["min_decryption_version"] == 1
    assert data["min_encryption_version"] == 0
    assert data["min_available_version"] == 0
    assert data["deletion_allowed"] is False and data["exportable"] is False
    assert data["supports_encryption"] and data["supports_decryption"] and data["supports_derivation"]
    assert data["supports_signing"] is False
    assert data["auto_rotate_period"] == 0
    assert data["state"] == "enabled" and data["tenant"] == "acme" and data["region"] == "eu-west"
    assert data["deletion_date"] is None and data["purge_protection"] is False


@pytest.mark.parametrize(
    ("key_type", "enc", "sign", "derive"),
    [
        ("aes256-gcm96", True, False, True),
        ("chacha20-poly1305", True, False, True),
        ("ed25519", False, True, True),
        ("ecdsa-p256", False, True, False),
        ("hmac", False, False, False),
    ],
)
def test_supports_flags(engine: TransitEngine, key_type: str, enc: bool, sign: bool, derive: bool) -> None:
    data = engine.create_key("k", type=key_type)
    assert (data["supports_encryption"], data["supports_signing"], data["supports_derivation"]) == (enc, sign, derive)


def test_asymmetric_read_shape(shared: TransitEngine) -> None:
    ed = shared.read_key("ed25519")["keys"]["1"]
    assert ed["name"] == "ed25519" and len(unb64(ed["public_key"])) == 32 and ed["creation_time"].endswith("Z")
    ecd = shared.read_key("ecdsa-p256")["keys"]["1"]
    assert ecd["name"] == "P-256" and ecd["public_key"].startswith("-----BEGIN PUBLIC KEY-----\n")
    rs = shared.read_key("rsa-3072")
    assert rs["keys"]["1"]["name"] == "rsa-3072" and rs["supports_encryption"] and rs["supports_signing"]
    pub = serialization.load_pem_public_key(rs["keys"]["1"]["public_key"].encode())
    assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == 3072


def test_create_rejections(engine: TransitEngine) -> None:
    with pytest.raises(errors.VaultInvalidRequest, match="unknown key type nope"):
        engine.create_key("k", type="nope")
    with pytest.raises(errors.VaultInvalidRequest, match="auto rotate period must be 0 to disable or at least an hour"):
        engine.create_key("k", auto_rotate_period="30m")
    with pytest.raises(errors.VaultInvalidRequest, match="not supported for keys of type ecdsa-p256"):
        engine.create_key("k", type="ecdsa-p256", derived=True)
    with pytest.raises(errors.VaultInvalidRequest, match="invalid key name"):
        engine.create_key("../etc")
    with pytest.raises(errors.VaultInvalidRequest, match="key_size is not valid"):
        engine.create_key("k", key_size=64)


def test_create_existing_key_returns_it_unchanged(engine: TransitEngine) -> None:
    first = engine.create_key("k")
    again = engine.create_key("k", type="ed25519", exportable=True)
    assert again == first


def test_list_and_delete(engine: TransitEngine) -> None:
    with pytest.raises(errors.VaultNotFound):
        engine.list_keys()
    engine.create_key("b", tenant="t1")
    engine.create_key("a", tenant="t2")
    assert engine.list_keys() == {"keys": ["a", "b"]}
    assert engine.list_keys(tenant="t1") == {"keys": ["b"]}
    with pytest.raises(
        errors.VaultInvalidRequest, match="error deleting policy a: deletion is not allowed for this policy"
    ):
        engine.delete_key("a")
    engine.update_config("a", deletion_allowed=True)
    engine.delete_key("a")
    assert engine.list_keys() == {"keys": ["b"]}
    with pytest.raises(errors.VaultInvalidRequest, match="could not delete policy; not found"):
        engine.delete_key("a")
    with pytest.raises(errors.TransitKeyNotFound) as info:
        engine.read_key("a")
    assert info.value.status == 404


def test_update_config_rules(engine: TransitEngine) -> None:
    engine.create_key("k")
    with pytest.raises(errors.TransitKeyNotFound, match="no existing key named nope could be found"):
        engine.update_config("nope", deletion_allowed=True)
    with pytest.raises(
        errors.VaultInvalidRequest, match="cannot set min decryption version of 2, latest key version is 1"
    ):
        engine.update_config("k", min_decryption_version=2)
    assert engine.update_config("k", exportable=True)["exportable"] is True
    assert engine.update_config("k", exportable=False)["exportable"] is True  # only false -> true
    assert engine.update_config("k", auto_rotate_period="2h")["auto_rotate_period"] == 7200
    engine.rotate("k")
    engine.rotate("k")
    with pytest.raises(errors.VaultInvalidRequest, match="min encryption version of 2 must be greater than or equal"):
        engine.update_config("k", min_decryption_version=3, min_encryption_version=2)
    data = engine.update_config("k", min_decryption_version=2, min_encryption_version=3)
    assert (data["min_decryption_version"], data["min_encryption_version"]) == (2, 3)
    with pytest.raises(errors.VaultInvalidRequest, match="min decryption version cannot be negative"):
        engine.update_config("k", min_decryption_version=-1)


# --- encryption: every type, Vault's format ------------------------------------------------------


@pytest.mark.parametrize("key_type", ["aes256-gcm96", "chacha20-poly1305", "aes128-gcm96"])
def test_aead_round_trip_and_layout(engine: TransitEngine, key_type: str) -> None:
    engine.create_key("k", type=key_type, exportable=True)
    result = engine.encrypt("k", MSG)
    assert result["key_version"] == 1
    assert result["ciphertext"].startswith("vault:v1:")
    blob = unb64(result["ciphertext"].removeprefix("vault:v1:"))
    assert len(blob) == 12 + len(b"the quick brown fox") + 16  # nonce || ct || tag
    assert engine.decrypt("k", result["ciphertext"]) == {"plaintext": MSG}
    # decrypt by hand, the way Vault's ciphertext is documented
    key = unb64(engine.export("k", "encryption-key", 1)["keys"]["1"])
    aead = ChaCha20Poly1305(key) if key_type == "chacha20-poly1305" else AESGCM(key)
    assert aead.decrypt(blob[:12], blob[12:], None) == b"the quick brown fox"


def test_rsa_encryption_round_trip(shared: TransitEngine) -> None:
    result = shared.encrypt("rsa-3072", MSG)
    assert result["ciphertext"].startswith("vault:v1:")
    assert shared.decrypt("rsa-3072", result["ciphertext"]) == {"plaintext": MSG}
    # OAEP-SHA256 under the exported key, as Vault does
    pem = shared.export("rsa-3072", "encryption-key", "latest")["keys"]["1"]
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    private = serialization.load_pem_private_key(pem.encode(), None)
    assert isinstance(private, rsa.RSAPrivateKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    blob = unb64(result["ciphertext"].removeprefix("vault:v1:"))
    assert private.decrypt(blob, oaep) == b"the quick brown fox"
    handmade = private.public_key().encrypt(b"by hand", oaep)
    assert shared.decrypt("rsa-3072", "vault:v1:" + b64(handmade)) == {"plaintext": b64(b"by hand")}


@pytest.mark.parametrize("key_type", ["aes256-gcm96", "chacha20-poly1305"])
def test_handmade_vault_ciphertext_decrypts(engine: TransitEngine, key_type: str) -> None:
    """A ciphertext built by hand with the documented layout (nonce || ct || tag, AAD) decrypts."""
    engine.create_key("k", type=key_type, exportable=True)
    key = unb64(engine.export("k", "encryption-key")["keys"]["1"])
    nonce = bytes(range(12))
    aead = ChaCha20Poly1305(key) if key_type == "chacha20-poly1305" else AESGCM(key)
    blob = nonce + aead.encrypt(nonce, b"made elsewhere", b"header")
    ciphertext = "vault:v1:" + b64(blob)
    assert engine.decrypt("k", ciphertext, associated_data=b64(b"header")) == {"plaintext": b64(b"made elsewhere")}
    with pytest.raises(errors.VaultInvalidRequest, match="cipher: message authentication failed"):
        engine.decrypt("k", ciphertext)


def test_associated_data_binds_ciphertext(engine: TransitEngine) -> None:
    engine.create_key("k")
    ct = engine.encrypt("k", MSG, associated_data=b64(b"ctx-1"))["ciphertext"]
    assert engine.decrypt("k", ct, associated_data=b64(b"ctx-1"))["plaintext"] == MSG
    for wrong in (None, b64(b"ctx-2")):
        with pytest.raises(errors.VaultInvalidRequest, match="cipher: message authentication failed"):
            engine.decrypt("k", ct, associated_data=wrong)


def test_associated_data_refused_for_rsa(shared: TransitEngine) -> None:
    with pytest.raises(
        errors.VaultInvalidRequest, match="'\\[0\\].associated_data' provided for non-AEAD cipher suite rsa-3072"
    ):
        shared.encrypt("rsa-3072", MSG, associated_data=b64(b"x"))


def test_decrypt_rejections_carry_vaults_messages(engine: TransitEngine) -> None:
    engine.create_key("k")
    good = engine.encrypt("k", MSG)["ciphertext"]
    cases = {
        "nope:v1:abc": "invalid ciphertext: no prefix",
        "vault:v1": "invalid ciphertext: wrong number of fields",
        "vault:vX:abcd": "invalid ciphertext: version number could not be decoded",
        "vault:v9:" + good.split(":", 2)[2]: "invalid ciphertext: version is too new",
        "vault:v1:***": "invalid ciphertext: could not decode base64",
        "vault:v1:" + b64(b"short"): "invalid ciphertext length",
        good[:-6] + ("AAAA==" if not good.endswith("AAAA==") else "BBBB=="): "cipher: message authentication failed",
    }
    for ciphertext, message in cases.items():
        with pytest.raises(errors.VaultInvalidRequest) as info:
            engine.decrypt("k", ciphertext)
        assert info.value.message == message, ciphertext
        assert info.value.status == 400
    with pytest.raises(errors.VaultInvalidRequest, match="missing ciphertext to decrypt"):
        engine.decrypt("k", "")


def test_missing_key_is_vaults_400(engine: TransitEngine) -> None:
    with pytest.raises(errors.TransitKeyNotFound) as info:
        engine.encrypt("ghost", MSG)
    assert info.value.message == "encryption key not found" and info.value.status == 400
    with pytest.raises(errors.TransitKeyNotFound, match="signing key not found"):
        engine.sign("ghost", MSG)


def test_encrypt_rejections(engine: TransitEngine, shared: TransitEngine) -> None:
    engine.create_key("k")
    with pytest.raises(errors.VaultInvalidRequest, match="illegal base64 data at input byte 2"):
        engine.encrypt("k", "ab!c")
    with pytest.raises(errors.VaultInvalidRequest, match="missing plaintext to encrypt"):
        engine.encrypt("k")
    with pytest.raises(errors.VaultInvalidRequest, match="requested version for encryption is higher than the latest"):
        engine.encrypt("k", MSG, key_version=2)
    with pytest.raises(errors.VaultInvalidRequest, match="requested version for encryption is negative"):
        engine.encrypt("k", MSG, key_version=-1)
    with pytest.raises(errors.VaultInvalidRequest, match="provided nonce not allowed for this key"):
        engine.encrypt("k", MSG, nonce=b64(bytes(12)))
    with pytest.raises(errors.VaultInvalidRequest, match="message encryption not supported for key type ed25519"):
        shared.encrypt("ed25519", MSG)
    assert engine.decrypt("k", engine.encrypt("k", "")["ciphertext"]) == {"plaintext": ""}


def test_upsert_creates_missing_key(engine: TransitEngine) -> None:
    ct = engine.encrypt("fresh", MSG, upsert=True, tenant="acme")["ciphertext"]
    assert engine.read_key("fresh")["tenant"] == "acme"
    assert engine.decrypt("fresh", ct)["plaintext"] == MSG


@settings(max_examples=40, deadline=None)
@given(plaintext=st.binary(max_size=300), aad=st.binary(max_size=40))
def test_round_trip_property(plaintext: bytes, aad: bytes) -> None:
    engine = _PROPERTY_ENGINE
    for name in ("aes", "chacha"):
        ct = engine.encrypt(name, b64(plaintext), associated_data=b64(aad))["ciphertext"]
        assert engine.decrypt(name, ct, associated_data=b64(aad)) == {"plaintext": b64(plaintext)}


_PROPERTY_ENGINE = TransitEngine(MemoryStorage())
_PROPERTY_ENGINE.create_key("aes")
_PROPERTY_ENGINE.create_key("chacha", type="chacha20-poly1305")


# --- derived keys ----------------------------------------------------------------------------


def test_derived_key_uses_hkdf_per_context(engine: TransitEngine) -> None:
    engine.create_key("d", derived=True, exportable=True)
    assert engine.read_key("d")["kdf"] == "hkdf_sha256"
    ctx = b64(b"tenant-42")
    ct = engine.encrypt("d", MSG, context=ctx)["ciphertext"]
    assert engine.decrypt("d", ct, context=ctx)["plaintext"] == MSG
    with pytest.raises(errors.VaultInvalidRequest, match="cipher: message authentication failed"):
        engine.decrypt("d", ct, context=b64(b"tenant-43"))
    with pytest.raises(errors.VaultInvalidRequest, match="missing 'context' for key derivation"):
        engine.decrypt("d", ct)
    # Vault's Kdf_hkdf_sha256: HKDF-SHA256(key, salt=nil, info=context)
    root = unb64(engine.export("d", "encryption-key")["keys"]["1"])
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tenant-42").derive(root)
    blob = unb64(ct.removeprefix("vault:v1:"))
    assert AESGCM(derived).decrypt(blob[:12], blob[12:], None) == b"the quick brown fox"


def test_derived_batch_context_must_be_everywhere(engine: TransitEngine) -> None:
    engine.create_key("d", derived=True)
    with pytest.raises(
        errors.VaultInvalidRequest, match="context should be set either in all the request blocks or in none"
    ):
        engine.encrypt("d", batch_input=[{"plaintext": MSG, "context": b64(b"a")}, {"plaintext": MSG}])


def test_derived_ed25519_signs_per_context(engine: TransitEngine) -> None:
    engine.create_key("ed", type="ed25519", derived=True)
    out = engine.sign("ed", MSG, context=b64(b"c1"))
    public = ed25519.Ed25519PublicKey.from_public_bytes(unb64(out["public_key"]))
    public.verify(unb64(out["signature"].removeprefix("vault:v1:")), b"the quick brown fox")
    assert engine.verify("ed", MSG, out["signature"], context=b64(b"c1")) == {"valid": True}
    assert engine.verify("ed", MSG, out["signature"], context=b64(b"c2")) == {"valid": False}


# --- versions, rotation, min versions, trim --------------------------------------------------------


def test_rotation_and_min_decryption_version(engine: TransitEngine, storage: MemoryStorage) -> None:
    engine.create_key("k")
    v1 = engine.encrypt("k", MSG)["ciphertext"]
    assert engine.rotate("k")["latest_version"] == 2
    v2 = engine.encrypt("k", MSG)
    assert v2["key_version"] == 2 and v2["ciphertext"].startswith("vault:v2:")
    assert engine.decrypt("k", v1)["plaintext"] == MSG
    assert engine.encrypt("k", MSG, key_version=1)["ciphertext"].startswith("vault:v1:")
    engine.rotate("k")
    engine.update_config("k", min_decryption_version=2, min_encryption_version=3)
    assert set(engine.read_key("k")["keys"]) == {"2", "3"}
    with pytest.raises(errors.VaultInvalidRequest) as info:
        engine.decrypt("k", v1)
    assert info.value.message == ERR_TOO_OLD
    with pytest.raises(errors.VaultInvalidRequest, match="less than the minimum encryption key version"):
        engine.encrypt("k", MSG, key_version=2)
    assert engine.decrypt("k", v2["ciphertext"])["plaintext"] == MSG
    # lowering min_decryption_version brings version 1 back (Vault keeps an archive)
    engine.update_config("k", min_decryption_version=1)
    assert engine.decrypt("k", v1)["plaintext"] == MSG


def test_trim_rules_and_erasure(engine: TransitEngine, storage: MemoryStorage) -> None:
    engine.create_key("k", exportable=True)
    engine.rotate("k")
    engine.rotate("k")
    old_material = engine.export("k", "encryption-key", 1)["keys"]["1"]
    with pytest.raises(errors.VaultInvalidRequest, match="cannot be set when minimum encryption version is not set"):
        engine.trim("k", 2)
    engine.update_config("k", min_encryption_version=3)
    with pytest.raises(errors.VaultInvalidRequest, match="cannot be greater than minimum decryption version"):
        engine.trim("k", 2)
    engine.update_config("k", min_decryption_version=2)
    with pytest.raises(errors.VaultInvalidRequest, match="minimum available version should be positive"):
        engine.trim("k", 0)
    data = engine.trim("k", 2)
    assert data["min_available_version"] == 2
    assert all(old_material.encode() not in value for value in storage.items().values())
    with pytest.raises(errors.VaultInvalidRequest, match="minimum available version cannot be decremented"):
        engine.trim("k", 1)
    with pytest.raises(
        errors.VaultInvalidRequest, match="min decryption version should not be less then min available"
    ):
        engine.update_config("k", min_decryption_version=1)
    assert set(engine.export("k", "encryption-key")["keys"]) == {"2", "3"}


def test_rewrap_moves_to_latest(engine: TransitEngine) -> None:
    engine.create_key("k")
    v1 = engine.encrypt("k", MSG, associated_data=b64(b"ad"))["ciphertext"]
    engine.rotate("k")
    engine.rotate("k")
    out = engine.rewrap("k", v1, associated_data=b64(b"ad"))
    assert out["key_version"] == 3 and out["ciphertext"].startswith("vault:v3:")
    assert engine.decrypt("k", out["ciphertext"], associated_data=b64(b"ad"))["plaintext"] == MSG
    assert engine.rewrap("k", v1, key_version=2, associated_data=b64(b"ad"))["ciphertext"].startswith("vault:v2:")
    batch = engine.rewrap("k", batch_input=[{"ciphertext": v1, "associated_data": b64(b"ad")}, {"ciphertext": "x"}])
    assert batch["batch_results"][0]["key_version"] == 3
    assert batch["batch_results"][1]["error"] == "invalid ciphertext: no prefix"


def test_auto_rotate(engine: TransitEngine, clock: Clock) -> None:
    engine.create_key("fast", auto_rotate_period="24h")
    engine.create_key("never")
    clock.advance(hours=23)
    assert engine.maybe_auto_rotate() == []
    clock.advance(hours=2)
    assert engine.maybe_auto_rotate() == ["fast"]
    assert engine.read_key("fast")["latest_version"] == 2
    assert engine.maybe_auto_rotate() == []
    assert engine.read_key("never")["latest_version"] == 1


# --- batches ----------------------------------------------------------------------------------


def test_encrypt_batch_with_mixed_items(engine: TransitEngine) -> None:
    engine.create_key("k")
    out = engine.encrypt(
        "k",
        batch_input=[
            {"plaintext": MSG, "reference": "a"},
            {"plaintext": "not base64!", "reference": "b"},
            {"plaintext": MSG, "key_version": 7, "reference": "c"},
        ],
    )
    first, second, third = out["batch_results"]
    assert first["ciphertext"].startswith("vault:v1:") and first["key_version"] == 1 and first["reference"] == "a"
    assert "error" not in first
    assert second == {"error": "illegal base64 data at input byte 3", "reference": "b"}
    assert third == {
        "error": "requested version for encryption is higher than the latest key version",
        "reference": "c",
    }
    # Vault answers 400 with the body; partial_failure_response_code overrides only partial failures
    assert batch_response_status(out) == 400
    assert batch_response_status(out, partial_failure_response_code=207) == 207
    everything_failed = engine.encrypt("k", batch_input=[{"plaintext": "!"}])
    assert batch_response_status(everything_failed, partial_failure_response_code=207) == 400
    assert batch_response_status(engine.encrypt("k", batch_input=[{"plaintext": MSG}])) == 200


def test_decrypt_batch_with_mixed_items(engine: TransitEngine) -> None:
    engine.create_key("k")
    good = engine.encrypt("k", MSG)["ciphertext"]
    out = engine.decrypt(
        "k", batch_input=[{"ciphertext": good}, {"ciphertext": ""}, {"ciphertext": "vault:v1:AAAA", "reference": "r"}]
    )
    ok, missing, bad = out["batch_results"]
    assert ok == {"plaintext": MSG, "reference": ""}
    assert missing == {"plaintext": "", "error": "missing ciphertext to decrypt", "reference": ""}
    assert bad == {"plaintext": "", "error": "invalid ciphertext length", "reference": "r"}
    with pytest.raises(errors.VaultInvalidRequest, match="missing batch input to process"):
        engine.decrypt("k", batch_input=[])
    with pytest.raises(errors.VaultInvalidRequest, match="missing ciphertext to decrypt"):
        engine.decrypt("k", batch_input=[{"context": ""}])


# --- data keys ----------------------------------------------------------------------------------


def test_datakey_plaintext_and_wrapped(engine: TransitEngine) -> None:
    engine.create_key("k")
    out = engine.generate_data_key("k", "plaintext")
    assert len(unb64(out["plaintext"])) == 32 and out["key_version"] == 1
    assert engine.decrypt("k", out["ciphertext"])["plaintext"] == out["plaintext"]
    wrapped = engine.generate_data_key("k", "wrapped", bits=512)
    assert "plaintext" not in wrapped
    assert len(unb64(engine.decrypt("k", wrapped["ciphertext"])["plaintext"])) == 64
    assert len(unb64(engine.generate_data_key("k", "plaintext", bits=128)["plaintext"])) == 16
    with pytest.raises(errors.VaultInvalidRequest, match="invalid bit length"):
        engine.generate_data_key("k", "plaintext", bits=100)
    with pytest.raises(errors.VaultInvalidRequest, match="Invalid path, must be 'plaintext' or 'wrapped'"):
        engine.generate_data_key("k", "both")


# --- HMAC ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("sha2-224", hashlib.sha224),
        ("sha2-256", hashlib.sha256),
        ("sha2-384", hashlib.sha384),
        ("sha2-512", hashlib.sha512),
    ],
)
def test_hmac_matches_exported_hmac_key(engine: TransitEngine, algorithm: str, digest: Any) -> None:
    engine.create_key("k", exportable=True)
    out = engine.hmac("k", MSG, algorithm=algorithm)
    key = unb64(engine.export("k", "hmac-key", 1)["keys"]["1"])
    expected = hmac.new(key, b"the quick brown fox", digest).digest()
    assert out == {"hmac": "vault:v1:" + b64(expected)}
    assert engine.verify("k", MSG, hmac=out["hmac"], hash_algorithm=algorithm) == {"valid": True}
    assert engine.verify("k", b64(b"other"), hmac=out["hmac"], hash_algorithm=algorithm) == {"valid": False}


def test_hmac_key_type_and_rotation(engine: TransitEngine) -> None:
    engine.create_key("h", type="hmac", key_size=64, exportable=True)
    key = unb64(engine.export("h", "hmac-key")["keys"]["1"])
    assert len(key) == 64
    tag = engine.hmac("h", MSG)["hmac"]
    assert tag == "vault:v1:" + b64(hmac.new(key, b"the quick brown fox", hashlib.sha256).digest())
    engine.rotate("h")
    assert engine.hmac("h", MSG)["hmac"].startswith("vault:v2:")
    assert engine.verify("h", MSG, hmac=tag)["valid"] is True
    engine.update_config("h", min_decryption_version=2)
    with pytest.raises(errors.VaultInvalidRequest, match="cannot verify HMAC: version is too old"):
        engine.verify("h", MSG, hmac=tag)
    with pytest.raises(errors.VaultInvalidRequest, match='unsupported algorithm "md5"'):
        engine.hmac("h", MSG, algorithm="md5")


def test_hmac_batches(engine: TransitEngine) -> None:
    engine.create_key("k")
    out = engine.hmac("k", batch_input=[{"input": MSG, "reference": "1"}, {"input": "@@"}, {}])
    good, bad, missing = out["batch_results"]
    assert good["hmac"].startswith("vault:v1:") and good["reference"] == "1"
    assert bad["error"].startswith("unable to decode input as base64: illegal base64 data")
    assert missing["error"] == "missing input for HMAC"
    verified = engine.verify(
        "k", batch_input=[{"input": MSG, "hmac": good["hmac"]}, {"input": MSG, "hmac": "vault:v1:" + b64(bytes(32))}]
    )
    assert verified["batch_results"][0]["valid"] is True
    assert "valid" not in verified["batch_results"][1]  # Vault's omitempty
    with pytest.raises(errors.VaultInvalidRequest, match="some elements of batch_input are missing 'hmac'"):
        engine.verify("k", batch_input=[{"input": MSG, "hmac": good["hmac"]}, {"input": MSG, "other": 1}])


# --- signatures, checked with raw cryptography public keys ----------------------------------------


def test_ed25519_sign_verify(shared: TransitEngine) -> None:
    out = shared.sign("ed25519", MSG)
    assert out["key_version"] == 1 and out["signature"].startswith("vault:v1:")
    public = ed25519.Ed25519PublicKey.from_public_bytes(unb64(shared.read_key("ed25519")["keys"]["1"]["public_key"]))
    public.verify(unb64(out["signature"].removeprefix("vault:v1:")), b"the quick brown fox")
    assert shared.verify("ed25519", MSG, out["signature"]) == {"valid": True}
    assert shared.verify("ed25519", b64(b"tampered"), out["signature"]) == {"valid": False}
    with pytest.raises(errors.VaultInvalidRequest, match="prehashed must be false"):
        shared.sign("ed25519", MSG, prehashed=True)


@pytest.mark.parametrize(("algorithm", "hash_cls"), [("sha2-256", hashes.SHA256), ("sha2-384", hashes.SHA384)])
def test_ecdsa_sign_verify_asn1(shared: TransitEngine, algorithm: str, hash_cls: type) -> None:
    out = shared.sign("ecdsa-p256", MSG, hash_algorithm=algorithm)
    public = serialization.load_pem_public_key(shared.read_key("ecdsa-p256")["keys"]["1"]["public_key"].encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(unb64(out["signature"].removeprefix("vault:v1:")), b"the quick brown fox", ec.ECDSA(hash_cls()))
    assert shared.verify("ecdsa-p256", MSG, out["signature"], hash_algorithm=algorithm) == {"valid": True}
    other = "sha2-512" if algorithm != "sha2-512" else "sha2-256"
    assert shared.verify("ecdsa-p256", MSG, out["signature"], hash_algorithm=other) == {"valid": False}


def test_ecdsa_jws_and_prehashed(shared: TransitEngine) -> None:
    digest = hashlib.sha256(b"the quick brown fox").digest()
    out = shared.sign("ecdsa-p256", b64(digest), prehashed=True, marshaling_algorithm="jws")
    raw = base64.urlsafe_b64decode(out["signature"].removeprefix("vault:v1:") + "==")
    assert len(raw) == 64 and "=" not in out["signature"]
    public = serialization.load_pem_public_key(shared.read_key("ecdsa-p256")["keys"]["1"]["public_key"].encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, b"the quick brown fox", ec.ECDSA(hashes.SHA256()))
    assert shared.verify("ecdsa-p256", MSG, out["signature"], marshaling_algorithm="jws") == {"valid": True}
    with pytest.raises(errors.VaultInvalidRequest, match="supplied signature is invalid"):
        shared.verify("ecdsa-p256", MSG, "vault:v1:" + b64(b"not der"))
    with pytest.raises(errors.VaultInvalidRequest, match='invalid marshaling type "pem"'):
        shared.sign("ecdsa-p256", MSG, marshaling_algorithm="pem")


def test_rsa_pss_and_pkcs1v15(shared: TransitEngine) -> None:
    public = serialization.load_pem_public_key(shared.read_key("rsa-3072")["keys"]["1"]["public_key"].encode())
    assert isinstance(public, rsa.RSAPublicKey)
    pss = shared.sign("rsa-3072", MSG)  # Vault's default: PSS, salt as long as possible
    sig = unb64(pss["signature"].removeprefix("vault:v1:"))
    public.verify(
        sig,
        b"the quick brown fox",
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=384 - 32 - 2),
        hashes.SHA256(),
    )
    assert shared.verify("rsa-3072", MSG, pss["signature"]) == {"valid": True}
    v15 = shared.sign("rsa-3072", MSG, signature_algorithm="pkcs1v15", hash_algorithm="sha2-512")
    public.verify(
        unb64(v15["signature"].removeprefix("vault:v1:")), b"the quick brown fox", padding.PKCS1v15(), hashes.SHA512()
    )
    assert shared.verify("rsa-3072", MSG, v15["signature"], signature_algorithm="pkcs1v15", hash_algorithm="sha2-512")[
        "valid"
    ]
    assert not shared.verify("rsa-3072", MSG, v15["signature"], signature_algorithm="pss", hash_algorithm="sha2-512")[
        "valid"
    ]
    hashed = shared.sign("rsa-3072", b64(hashlib.sha256(b"x").digest()), prehashed=True, salt_length="hash")
    public.verify(
        unb64(hashed["signature"].removeprefix("vault:v1:")),
        b"x",
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    with pytest.raises(errors.VaultInvalidRequest, match="requested salt length 999 is invalid"):
        shared.sign("rsa-3072", MSG, salt_length=999)


def test_sign_versions_and_batch(engine: TransitEngine) -> None:
    engine.create_key("e", type="ed25519")
    first = engine.sign("e", MSG)["signature"]
    engine.rotate("e")
    out = engine.sign("e", batch_input=[{"input": MSG, "reference": "x"}, {"input": "%%"}])
    signed, bad = out["batch_results"]
    assert signed["signature"].startswith("vault:v2:") and signed["key_version"] == 2 and signed["reference"] == "x"
    assert bad["error"].startswith("unable to decode input: illegal base64 data")
    assert engine.sign("e", MSG, key_version=1)["signature"].startswith("vault:v1:")
    assert engine.verify("e", MSG, first) == {"valid": True}
    engine.update_config("e", min_decryption_version=2)
    with pytest.raises(errors.VaultInvalidRequest, match="disallowed by policy"):
        engine.verify("e", MSG, first)
    verified = engine.verify(
        "e", batch_input=[{"input": MSG, "signature": signed["signature"]}, {"input": MSG, "signature": first}]
    )
    assert verified["batch_results"][0] == {"valid": True, "reference": ""}
    assert verified["batch_results"][1]["valid"] is False and verified["batch_results"][1]["error"] == ERR_TOO_OLD
    with pytest.raises(errors.VaultInvalidRequest, match="key type aes256-gcm96 does not support signing"):
        engine.create_key("sym")
        engine.sign("sym", MSG)


# --- export, random, hash, KEK material ---------------------------------------------------------


def test_export_rules(engine: TransitEngine, shared: TransitEngine) -> None:
    engine.create_key("locked")
    with pytest.raises(errors.VaultInvalidRequest, match="private key material is not exportable"):
        engine.export("locked", "encryption-key")
    with pytest.raises(errors.VaultInvalidRequest, match="invalid export type: bogus"):
        engine.export("locked", "bogus")
    with pytest.raises(errors.TransitKeyNotFound):
        engine.export("ghost", "encryption-key")
    pem = shared.export("ecdsa-p256", "signing-key")["keys"]["1"]
    assert pem.startswith("-----BEGIN EC PRIVATE KEY-----") and not pem.endswith("\n")
    private = serialization.load_pem_private_key(pem.encode(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    ed = unb64(shared.export("ed25519", "signing-key", "v1")["keys"]["1"])
    assert len(ed) == 64 and ed[32:] == unb64(shared.read_key("ed25519")["keys"]["1"]["public_key"])
    with pytest.raises(errors.VaultInvalidRequest, match="signing not supported for the key"):
        engine.update_config("locked", exportable=True)
        engine.export("locked", "signing-key")
    with pytest.raises(errors.VaultInvalidRequest, match="version does not exist or cannot be found"):
        engine.export("locked", "encryption-key", 5)


def test_random_and_hash(engine: TransitEngine) -> None:
    assert len(unb64(engine.random()["random_bytes"])) == 32
    assert len(bytes.fromhex(engine.random(16, "hex")["random_bytes"])) == 16
    with pytest.raises(errors.VaultInvalidRequest, match='"bytes" cannot be less than 1'):
        engine.random(0)
    with pytest.raises(errors.VaultInvalidRequest, match="unsupported encoding format"):
        engine.random(8, "base32")
    assert engine.hash(MSG) == {"sum": hashlib.sha256(b"the quick brown fox").hexdigest()}
    assert engine.hash(MSG, "sha3-256", "base64") == {"sum": b64(hashlib.sha3_256(b"the quick brown fox").digest())}


def test_kek_material(engine: TransitEngine, shared: TransitEngine) -> None:
    engine.create_key("kek", exportable=True)
    version, key = engine.kek_material("kek")
    assert version == 1 and key == unb64(engine.export("kek", "encryption-key")["keys"]["1"]) and len(key) == 32
    engine.rotate("kek")
    assert engine.kek_material("kek")[0] == 2
    assert engine.kek_material("kek", 1) == (1, key)
    engine.update_config("kek", min_decryption_version=2)
    with pytest.raises(errors.VaultInvalidRequest, match="disallowed by policy"):
        engine.kek_material("kek", 1)
    with pytest.raises(errors.VaultInvalidRequest, match="invalid key version"):
        engine.kek_material("kek", 3)
    with pytest.raises(errors.VaultInvalidRequest, match="not a non-derived aes256-gcm96 key"):
        shared.kek_material("ed25519")


# --- encodings ---------------------------------------------------------------------------------


# Go's encoding/base64 TestDecodeCorrupt table (offset -1: valid), which Vault's error texts come from.
GO_DECODE_CORRUPT = [
    ("", -1), ("\n", -1), ("AAA=\n", -1), ("AAAA\n", -1), ("!!!!", 0), ("====", 0), ("x===", 1), ("=AAA", 0),
    ("A=AA", 1), ("AA=A", 2), ("AA==A", 4), ("AAA=AAAA", 4), ("AAAAA", 4), ("AAAAAA", 4), ("A=", 1), ("A==", 1),
    ("AA=", 3), ("AA==", -1), ("AAA=", -1), ("AAAA", -1), ("AAAAAA=", 7), ("YWJjZA=====", 8), ("A!\n", 1),
    ("A=\n", 1),
]  # fmt: skip


@pytest.mark.parametrize(("text", "offset"), GO_DECODE_CORRUPT)
def test_base64_errors_match_go(text: str, offset: int) -> None:
    if offset == -1:
        b64decode(text)
        return
    with pytest.raises(ValueError, match=f"^illegal base64 data at input byte {offset}$"):
        b64decode(text)


@given(st.binary(max_size=64))
def test_base64_decodes_what_python_encodes(data: bytes) -> None:
    assert b64decode(b64(data)) == data


def test_storage_holds_plaintext_json_under_transit_keys(engine: TransitEngine, storage: MemoryStorage) -> None:
    engine.create_key("k")
    stored = json.loads(storage.items()["transit/keys/k"])
    assert stored["name"] == "k" and set(stored["keys"]) == {"1"}
    policy = KeyPolicy.from_json(stored)
    assert "redacted" in repr(policy.versions[1]) and stored["keys"]["1"]["key"] not in repr(policy)
    with pytest.raises(TypeError):
        pickle.dumps(policy.versions[1])


def test_concurrent_rotations_and_encryptions_stay_consistent(engine: TransitEngine) -> None:
    engine.create_key("k")
    ciphertexts: list[str] = []

    def work() -> None:
        engine.rotate("k")
        ciphertexts.append(engine.encrypt("k", MSG)["ciphertext"])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert engine.read_key("k")["latest_version"] == 9
    assert sorted(engine.read_key("k")["keys"], key=int) == [str(v) for v in range(1, 10)]
    for ciphertext in ciphertexts:
        assert engine.decrypt("k", ciphertext) == {"plaintext": MSG}
