"""Auto-unseal with a PKCS#11 HSM: the root key is wrapped by an AES-256 key that never leaves the token.

Wrapped form (stored by :mod:`strongroom.keys.seal` at ``core/root-key``)::

    nonce(12) | AES-256-GCM ciphertext | tag(16)      computed inside the HSM with CKM_AES_GCM

the same layout as :func:`strongroom.crypto.seal_small`, so the root key is bound to its associated
data exactly as with the Shamir seal. The nonce comes from strongroom's randomness seam; a root key
is wrapped once per initialisation, so nonce reuse under the HSM key is not a practical concern.

Errors fail closed: a wrong tag (another key, tampered blob) is :class:`DecryptionFailed`; every
other token failure (library, token, PIN, missing key) is :class:`SealDeviceError`, never a
plaintext fallback.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, NoReturn

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import (
    DataInvalid,
    DataLenRange,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    GeneralError,
    NoSuchKey,
    PKCS11Error,
    SignatureInvalid,
)
from pkcs11.mechanisms import GCMParams

from strongroom.core.errors import DecryptionFailed, InvalidRequest, SealDeviceError
from strongroom.crypto import random_bytes

__all__ = ["Pkcs11Unsealer"]

log = logging.getLogger("strongroom.keys.hsm")

NONCE_LEN = 12
TAG_BITS = 128
#: python-pkcs11 calls C_Initialize without CKF_OS_LOCKING_OK, so the module may not be entered from two threads at
#: once: every call into it, from any unsealer, holds this lock.
_PKCS11_LOCK = threading.Lock()
#: What C_Decrypt answers a GCM tag mismatch with. SoftHSM2 says CKR_GENERAL_ERROR; the session and the
#: key were already found, so treating it as an integrity failure is right (and fails closed either way).
_INTEGRITY_ERRORS = (
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    SignatureInvalid,
    DataInvalid,
    DataLenRange,
    GeneralError,
)


class Pkcs11Unsealer:
    """Wraps and unwraps the vault root key with an AES-256 secret key held in a PKCS#11 token.

    ``lib_path`` is the vendor's PKCS#11 module (SoftHSM2: ``/usr/lib/softhsm/libsofthsm2.so``),
    ``token_label`` selects the token, ``pin`` is the user PIN and ``key_label`` the AES key's label.
    Arguments are validated at construction; the token is contacted per operation, so an HSM that is
    briefly away does not break construction. Thread-safe (all PKCS#11 calls in the process are serialised). The PIN is
    never shown by ``repr`` and the object cannot be pickled.
    """

    seal_type = "pkcs11"

    def __init__(self, lib_path: str | Path, token_label: str, pin: str, key_label: str) -> None:
        for name, value in (("token_label", token_label), ("pin", pin), ("key_label", key_label)):
            if not isinstance(value, str) or not value:
                raise InvalidRequest(f"pkcs11 {name} must be a non-empty string")
        path = Path(lib_path)
        if not path.is_file():
            raise InvalidRequest(f"pkcs11 library {path} does not exist")
        self._lib_path = str(path)
        self._token_label = token_label
        self._pin = pin
        self._key_label = key_label

    def __repr__(self) -> str:
        return f"Pkcs11Unsealer(token={self._token_label!r}, key={self._key_label!r}, pin=<redacted>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Pkcs11Unsealer cannot be pickled or copied")

    def wrap(self, plaintext: bytes, aad: bytes) -> bytes:
        """AES-256-GCM encrypt ``plaintext`` inside the HSM; returns ``nonce | ciphertext | tag``."""
        nonce = random_bytes(NONCE_LEN)
        with _PKCS11_LOCK, self._session() as session:
            key = self._find_key(session)
            try:
                sealed = key.encrypt(
                    bytes(plaintext), mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, TAG_BITS)
                )
            except PKCS11Error as exc:
                raise SealDeviceError("the HSM could not wrap the root key") from exc
        return nonce + bytes(sealed)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        """Open :meth:`wrap` output inside the HSM; a failed integrity check is :class:`DecryptionFailed`."""
        if len(blob) < NONCE_LEN + TAG_BITS // 8:
            log.debug("hsm rejected a wrapped root key: too short")
            raise DecryptionFailed()
        nonce, sealed = bytes(blob[:NONCE_LEN]), bytes(blob[NONCE_LEN:])
        with _PKCS11_LOCK, self._session() as session:
            key = self._find_key(session)
            try:
                params = GCMParams(nonce, aad, TAG_BITS)
                plain = key.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=params)
            except _INTEGRITY_ERRORS:
                log.debug("hsm rejected a wrapped root key: tag mismatch")
                raise DecryptionFailed() from None
            except PKCS11Error as exc:
                raise SealDeviceError("the HSM could not unwrap the root key") from exc
        return bytes(plain)

    def create_key(self) -> bool:
        """Generate the AES-256 wrapping key in the token unless one with ``key_label`` exists.

        The key is a token object, sensitive and non-extractable, usable only to encrypt and decrypt.
        Returns True when a key was created. An operator convenience; HSM admins may create it instead.
        """
        with _PKCS11_LOCK, self._session() as session:
            try:
                self._find_key(session)
                return False
            except SealDeviceError:
                pass
            try:
                session.generate_key(
                    KeyType.AES,
                    256,
                    label=self._key_label,
                    store=True,
                    capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                    template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
                )
            except PKCS11Error as exc:
                raise SealDeviceError("the HSM could not create the wrapping key") from exc
            return True

    def _session(self) -> Any:
        """A logged-in session on the configured token; every failure is :class:`SealDeviceError`."""
        try:
            token = pkcs11.lib(self._lib_path).get_token(token_label=self._token_label)
            return token.open(user_pin=self._pin, rw=True)
        except PKCS11Error as exc:
            log.debug("pkcs11 session failed: %s", type(exc).__name__)
            raise SealDeviceError(f"cannot open a session on token {self._token_label!r}") from exc

    def _find_key(self, session: Any) -> Any:
        try:
            return session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=self._key_label)
        except NoSuchKey as exc:
            raise SealDeviceError(f"no AES key labelled {self._key_label!r} on the token") from exc
        except PKCS11Error as exc:
            raise SealDeviceError("cannot look up the wrapping key") from exc
