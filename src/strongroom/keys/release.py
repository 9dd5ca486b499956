"""Key release under the customer's rule: the vault side of a gateway's request for a bucket key.

A gateway never receives a vault key's material. For each data operation it asks for the *bucket key* of one
bucket under one version of the key (``crypto.bucket_key``), naming whom it acts for (``KeyUse``). The vault
releases it only when:

* the bucket exists, belongs to the key's tenant (the namespace), and the key is usable (enabled, version readable);
* the justification is one this release can be, and the key's owner has not refused it for that key
  (``refused_justifications`` on the key, set by the tenant);
* the acting principal may use the key:

  - **customer-initiated**: a user of the key's tenant (operators too, for the tenant ``system``'s own keys) whose
    access key is live in the vault and belongs to that user, or a principal the bucket's owner let in (another
    tenant's user, an anonymous caller) by its bucket policy or ACL, as the gateway's single authorization point
    decided; operators never, on another tenant's key;
  - **operator-lockbox / third-party**: an operator (a user of tenant ``system``) under a lockbox grant that names
    that operator, the key's tenant and this bucket, neither revoked nor expired, for reading only (never a key
    to encrypt with). The grant's request decides which of the two it is: one filed for a third-party case is
    *third-party*, except while the case's non-disclosure order is in force (the tenant's chain must not name
    the case yet, so the release is what the tenant knowingly approved: an operator's lockbox grant);
  - **system-operation** releases never leave the vault: rewrap runs inside it (``service/rewrap.py``), and
    checks the key's refusals itself (``check_refusal``).

The vault's own audit entry of the call (``http/vault/chainaudit.py``) records the key, version, acting principal,
operation, justification and grant, granted or refused, in the tenant's chain.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from strongroom.core import errors
from strongroom.core.clock import utcnow
from strongroom.core.types import (
    CUSTOMER_INITIATED,
    JUSTIFICATIONS,
    OPERATOR_LOCKBOX,
    SYSTEM_OPERATION,
    SYSTEM_TENANT,
    THIRD_PARTY,
    KeyUse,
)
from strongroom.crypto import bucket_key
from strongroom.keys.transit import TransitEngine

#: how long a gateway may keep a released bucket key (it keeps it at most this long, and for the same principal)
RELEASE_TTL_SECONDS = 2

#: the IAM actions an operator may read under a lockbox grant (HEAD is s3:GetObject)
GRANT_READ_ACTIONS = frozenset({"s3:GetObject", "s3:GetObjectVersion"})


@dataclass(frozen=True)
class BucketFacts:
    """What the vault knows of the bucket a release is for (from the metadata database)."""

    id: str
    name: str
    tenant: str


@dataclass(frozen=True)
class GrantFacts:
    """A lockbox grant as the release rule reads it."""

    id: str
    operator: str
    tenant: str
    bucket_id: str
    expires_at: dt.datetime
    revoked: bool
    case_id: str | None


@dataclass(frozen=True)
class Released:
    version: int
    key: bytes = field(repr=False)
    justification: str
    ttl: int = RELEASE_TTL_SECONDS


@dataclass
class ReleaseFacts:
    """Where the rule reads what it checks (the vault's own records and the metadata database)."""

    bucket: Callable[[str], BucketFacts | None]  # by bucket name
    grant: Callable[[str], GrantFacts | None]
    credential: Callable[[str], dict[str, object] | None]  # access key id -> {"tenant", "user", ...}
    clock: Callable[[], dt.datetime] = utcnow


def refuse(message: str) -> errors.KeyReleaseRefused:
    return errors.KeyReleaseRefused(message)


def check_refusal(transit: TransitEngine, name: str, justification: str) -> None:
    """Refuse a release the key's owner refused for this key (whatever else allows it)."""
    if justification in transit.refused_justifications(name):
        raise refuse(f"the owner of key {name} refuses key access justified as {justification}")


def justification_of(use: KeyUse, tenant: str, facts: ReleaseFacts, encrypting: bool, bucket: BucketFacts) -> str:
    """The justification this release is, after checking the acting principal may use a key of ``tenant``."""
    if use.justification not in JUSTIFICATIONS:
        raise errors.InvalidRequest(f"unknown key access justification {use.justification!r}")
    if use.justification == SYSTEM_OPERATION:
        raise refuse("system operations use keys inside the vault, never through a gateway")
    if use.principal_type not in ("user", "anonymous"):
        raise errors.InvalidRequest(f"unknown principal type {use.principal_type!r}")
    # an operator acting on another tenant's key (the operators' own keys are their tenant's: customer-initiated)
    operator = use.principal_type == "user" and use.tenant == SYSTEM_TENANT and tenant != SYSTEM_TENANT
    if use.grant is None:
        if use.justification != CUSTOMER_INITIATED:
            raise refuse(f"a release justified as {use.justification} needs a lockbox grant")
        if operator:
            raise refuse("operators get key material only under a lockbox grant the tenant approved")
        if use.principal_type == "user" and use.tenant == tenant:
            cred = facts.credential(use.access_key or "") if use.access_key else None
            if cred is None or cred.get("tenant") != tenant or str(cred.get("user") or "admin") != use.user:
                raise refuse(f"access key {use.access_key} is not a live key of {tenant}/{use.user}")
        return CUSTOMER_INITIATED
    if use.justification not in (OPERATOR_LOCKBOX, THIRD_PARTY):
        raise refuse(f"a lockbox grant does not justify {use.justification}")
    if not operator:
        raise refuse("only operators act under lockbox grants")
    grant = facts.grant(use.grant)
    if grant is None:
        raise refuse(f"no lockbox grant {use.grant}")
    if grant.operator != use.user or grant.tenant != tenant or grant.bucket_id != bucket.id:
        raise refuse(f"lockbox grant {grant.id} does not cover this operator, tenant and bucket")
    if grant.revoked or grant.expires_at <= facts.clock():
        raise refuse(f"lockbox grant {grant.id} has ended")
    if encrypting or use.operation not in GRANT_READ_ACTIONS:
        raise refuse(f"lockbox grant {grant.id} allows reading only, not {use.operation}")
    return THIRD_PARTY if grant.case_id else OPERATOR_LOCKBOX


def release_bucket_key(
    transit: TransitEngine,
    tenant: str,
    name: str,
    version: int | None,
    bucket_name: str,
    bucket_id: str,
    use: KeyUse,
    facts: ReleaseFacts,
) -> Released:
    """The bucket key of ``bucket_id`` under version ``version`` (None: the latest, to encrypt) of ``tenant``'s key
    ``name``, for ``use``; KeyReleaseRefused when the rule above does not allow it."""
    try:
        bucket_uuid = uuid.UUID(bucket_id)
    except ValueError:
        raise errors.InvalidRequest("bucket_id must be a UUID") from None
    bucket = facts.bucket(bucket_name)
    if bucket is None or bucket.id != str(bucket_uuid) or bucket.tenant != tenant:
        raise refuse(f"bucket {bucket_name} is not a bucket of {tenant}")
    justification = justification_of(use, tenant, facts, version is None, bucket)
    check_refusal(transit, name, justification)
    got_version, material = transit.kek_material(name, version)
    derived = bucket_key(material, tenant=tenant, key_id=name, key_version=got_version, bucket_id=bucket_uuid.bytes)
    return Released(got_version, derived, justification)
