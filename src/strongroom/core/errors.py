"""One exception tree for strongroom.

Every error raised below the HTTP layer is a :class:`StrongroomError`. Each API
(S3, Vault) maps these classes to its own wire error in exactly one module
(``http/s3/errors.py``, ``http/vault/errors.py``). Messages are safe to show to
clients: they never contain key material, plaintext or signatures.
"""

from __future__ import annotations


class StrongroomError(Exception):
    """Base of every strongroom error."""

    def __init__(self, message: str = "", **context: object) -> None:
        super().__init__(message or self.__class__.__doc__ or self.__class__.__name__)
        self.message = message or (self.__class__.__doc__ or "").strip()
        self.context = context


# --- crypto ---------------------------------------------------------------


class CryptoError(StrongroomError):
    """A cryptographic operation failed."""


class DecryptionFailed(CryptoError):
    """The stored data failed an integrity check and cannot be decrypted."""


class InvalidKeyMaterial(CryptoError):
    """Key material has the wrong size or form."""


# --- keys -----------------------------------------------------------------


class KeyError_(StrongroomError):
    """A key store operation failed."""


class KeyNotFound(KeyError_):
    """The named key does not exist (or is not visible to the caller)."""


class KeyDisabled(KeyError_):
    """The key is disabled; operations under it are refused."""


class KeyPendingDeletion(KeyError_):
    """The key is scheduled for deletion; operations under it are refused."""


class KeyDestroyed(KeyError_):
    """The key was destroyed; data under it is unreadable for good."""


class KeyStoreSealed(KeyError_):
    """The key store is sealed; no key material is available."""


class CustomerKeyMismatch(KeyError_):
    """The customer-supplied key does not match the key the object was stored with."""


class CustomerKeyRequired(KeyError_):
    """The object was stored with a customer-supplied key, which the request lacks."""


# --- storage --------------------------------------------------------------


class StorageError(StrongroomError):
    """The blob store failed."""


class BlobNotFound(StorageError):
    """The blob does not exist."""


# --- metadata / domain ----------------------------------------------------


class NotFound(StrongroomError):
    """A resource was not found."""


class NoSuchBucket(NotFound):
    """The specified bucket does not exist."""


class NoSuchKey(NotFound):
    """The specified key does not exist."""


class NoSuchSourceKey(NoSuchKey):
    """A copy's source key does not exist (reported as missing only to principals that may list the source)."""


class NoSuchUpload(NotFound):
    """The specified multipart upload does not exist."""


class NoSuchBucketEncryption(NotFound):
    """The server side encryption configuration was not found."""


class Conflict(StrongroomError):
    """The request conflicts with the current state."""


class BucketAlreadyExists(Conflict):
    """The requested bucket name is not available."""


class BucketAlreadyOwnedByYou(Conflict):
    """The bucket you tried to create already exists, and you own it."""


class BucketNotEmpty(Conflict):
    """The bucket you tried to delete is not empty."""


class InvalidRequest(StrongroomError):
    """The request is invalid."""


class InvalidArgument(InvalidRequest):
    """An argument is invalid."""


class InvalidBucketName(InvalidRequest):
    """The specified bucket is not valid."""


class InvalidLocationConstraint(InvalidRequest):
    """The specified location-constraint is not valid."""


class KeyTooLong(InvalidRequest):
    """Your key is too long."""


class InvalidRange(InvalidRequest):
    """The requested range is not satisfiable."""


class EntityTooSmall(InvalidRequest):
    """Your proposed upload is smaller than the minimum allowed object size."""


class EntityTooLarge(InvalidRequest):
    """Your proposed upload exceeds the maximum allowed object size."""


class InvalidPart(InvalidRequest):
    """One or more of the specified parts could not be found or its ETag did not match."""


class InvalidPartOrder(InvalidRequest):
    """The list of parts was not in ascending order."""


class BadDigest(InvalidRequest):
    """The digest or checksum you specified did not match what we received."""


class PreconditionFailed(StrongroomError):
    """At least one of the preconditions you specified did not hold."""


class NotModified(StrongroomError):
    """The object was not modified (conditional GET)."""


class AccessDenied(StrongroomError):
    """Access denied."""


class KeyReleaseRefused(AccessDenied):
    """The key vault refused to release key material for this request (whom it acts for, or why)."""


class RequestTimeout(InvalidRequest):
    """The request body stopped arriving for longer than the idle-body timeout (the connection is closed)."""


class SlowDown(StrongroomError):
    """Too many requests for this access key or address: reduce the request rate."""


# --- access control ----------------------------------------------------------


class MalformedPolicy(InvalidRequest):
    """The policy document is not valid (the message names the fault)."""


class MalformedACL(InvalidRequest):
    """The access control list is not well-formed or did not validate."""


class AccessControlListNotSupported(InvalidRequest):
    """The bucket does not allow ACLs (its object ownership is BucketOwnerEnforced)."""


class UnresolvableGrantByEmailAddress(InvalidArgument):
    """Grants by e-mail address are not supported; grant to a canonical user id."""


class NoSuchBucketPolicy(NotFound):
    """The bucket policy does not exist."""


class NoSuchPublicAccessBlockConfiguration(NotFound):
    """The public access block configuration was not found."""


class OwnershipControlsNotFound(NotFound):
    """The bucket ownership controls were not found."""


class NoSuchEntity(NotFound):
    """The tenant, user, group or access key does not exist (or is not visible to the caller)."""


# --- cross-origin resource sharing (CORS) --------------------------------------


class MalformedConfiguration(InvalidRequest):
    """The configuration document does not validate against S3's schema (a CORS configuration without rules...)."""


class NoSuchCORSConfiguration(NotFound):
    """The CORS configuration does not exist."""


class InvalidPreflight(InvalidRequest):
    """A CORS preflight without an Origin, or without a valid Access-Control-Request-Method."""


class CORSForbidden(StrongroomError):
    """A CORS preflight that no rule of the bucket allows (or the bucket has no CORS configuration)."""


class EntityAlreadyExists(Conflict):
    """A tenant, user, group or access key with that name already exists."""


class DeleteConflict(Conflict):
    """The entity cannot be deleted while it still holds resources (buckets, users, keys)."""


class Unavailable(StrongroomError):
    """The service is not ready (starting, sealed, or a dependency is down)."""


class AuditUnavailable(Unavailable):
    """The audit log cannot take an entry: the operation is refused (fail closed)."""


# --- key vault seal ---------------------------------------------------------


class VaultNotInitialized(StrongroomError):
    """Vault is not initialized."""


class VaultAlreadyInitialized(InvalidRequest):
    """Vault is already initialized."""


class InvalidUnsealKey(InvalidRequest):
    """Unseal failed, invalid key."""


class SealMismatch(KeyError_):
    """The stored seal configuration does not match the seal this server is configured with."""


class SealDeviceError(KeyError_):
    """The seal device (key file or HSM) could not unwrap the root key; the vault stays sealed."""


# --- vault engines (transit, kv v2) ---------------------------------------


class VaultError(StrongroomError):
    """A Vault API operation failed; ``status`` is the HTTP status Vault answers with."""

    status = 500

    def __init__(
        self, message: str = "", *, status: int | None = None, data: dict[str, object] | None = None, **context: object
    ) -> None:
        super().__init__(message, **context)
        if status is not None:
            self.status = status
        self.data = data


class VaultInvalidRequest(VaultError, InvalidRequest):
    """The Vault request is invalid (HTTP 400)."""

    status = 400


class VaultNotFound(VaultError, NotFound):
    """The Vault path, key or secret does not exist (HTTP 404)."""

    status = 404


class KVVersionDeleted(VaultNotFound):
    """The secret version is deleted or destroyed; Vault answers 404 with its metadata in ``data``."""


class TransitKeyNotFound(VaultError, KeyNotFound):
    """The transit key does not exist (HTTP 404; 400 on operation paths, as Vault does)."""

    status = 404


class TransitKeyDisabled(VaultError, KeyDisabled):
    """The transit key is disabled; operations under it are refused (HTTP 400)."""

    status = 400


class TransitKeyPendingDeletion(VaultError, KeyPendingDeletion):
    """The transit key is scheduled for deletion; operations under it are refused (HTTP 400)."""

    status = 400


class TransitKeyDestroyed(VaultError, KeyDestroyed):
    """The transit key was destroyed (crypto-shredded); its name stays reserved (HTTP 400)."""

    status = 400


class KeyStateConflict(VaultInvalidRequest):
    """The key's lifecycle state does not allow this change (HTTP 400)."""


class KeyPurgeProtected(VaultInvalidRequest):
    """Purge protection forbids deleting or force-destroying this key (HTTP 400)."""
