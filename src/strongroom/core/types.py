"""Value types passed between the HTTP layer and the services."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SSE_S3 = "SSE-S3"
SSE_KMS = "SSE-KMS"
SSE_C = "SSE-C"


#: The reserved tenant of the operators (the vault's root namespace).
SYSTEM_TENANT = "system"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user of a tenant, through one of its access keys; or nobody (an unsigned request).

    ``policies`` are the user's identity policies (its own and its groups', parsed: ``policy.iam.Policy``).
    Admins hold every right within their tenant; operators are the users of the tenant ``system``.
    """

    access_key: str | None
    tenant_id: str
    user: str = ""
    is_admin: bool = False
    policies: tuple[Any, ...] = ()

    @property
    def anonymous(self) -> bool:
        return self.access_key is None

    @property
    def is_operator(self) -> bool:
        return self.tenant_id == SYSTEM_TENANT and not self.anonymous

    @property
    def arn(self) -> str | None:
        """``arn:aws:iam::TENANT:user/USER`` (None for anonymous requests)."""
        return None if self.anonymous else f"arn:aws:iam::{self.tenant_id}:user/{self.user}"


ANONYMOUS = Principal(access_key=None, tenant_id="")


#: Why key material is released (Google Cloud's Key Access Justifications, in strongroom's words). The vault decides
#: which one a release is (keys/release.py) and refuses the ones the key's owner refused for that key.
CUSTOMER_INITIATED = "customer-initiated"  # a data operation of a principal the bucket's owner allowed
SYSTEM_OPERATION = "system-operation"  # the service's own work on the data: rewrap, lifecycle, backup
OPERATOR_LOCKBOX = "operator-lockbox"  # an operator, under a lockbox grant the tenant approved
THIRD_PARTY = "third-party"  # a third-party request's case, through a lockbox grant the tenant approved
JUSTIFICATIONS = (CUSTOMER_INITIATED, SYSTEM_OPERATION, OPERATOR_LOCKBOX, THIRD_PARTY)


@dataclass(frozen=True)
class KeyUse:
    """For whom and why a data operation asks the vault for a bucket key: the acting principal (type ``user`` or
    ``anonymous``; operators are users of the tenant ``system``), the operation's IAM action, and the lockbox grant
    an operator acts under. The vault checks it against the key's owner and the grant, and audits it."""

    principal_type: str  # "user" | "anonymous"
    tenant: str  # the acting principal's tenant ("" when anonymous)
    user: str
    access_key: str | None
    operation: str  # e.g. "s3:GetObject"
    grant: str | None = None
    justification: str = CUSTOMER_INITIATED

    @classmethod
    def of(cls, op: Operation) -> KeyUse:
        p = op.principal
        grant = op.lockbox_grant if p.is_operator else None
        return cls(
            principal_type="anonymous" if p.anonymous else "user",
            tenant=p.tenant_id,
            user=p.user,
            access_key=p.access_key,
            operation=op.action,
            grant=grant,
            justification=OPERATOR_LOCKBOX if grant is not None else CUSTOMER_INITIATED,
        )

    @property
    def cache_key(self) -> tuple[str, str, str, str | None, str | None, str]:
        """What a cached bucket key is only reused for: the same principal, grant and justification."""
        return (self.principal_type, self.tenant, self.user, self.access_key, self.grant, self.justification)

    def to_wire(self) -> dict[str, Any]:
        return {
            "principal": {
                "type": self.principal_type,
                "tenant": self.tenant,
                "user": self.user,
                "access_key": self.access_key,
            },
            "operation": self.operation,
            "grant": self.grant,
            "justification": self.justification,
        }


@dataclass
class Operation:
    """One request, named once: who asks for which action on which resource, and where from.

    The route table (http/s3/routes.py, http/admin, http/vault) makes it; ``policy.authz`` decides on it before any
    handler runs; the audit log records it. ``grants`` holds what authorization saw of each bucket it allowed
    (bucket name -> (bucket id, access_version)), so a service can confirm it acts on the same bucket in the same
    access state (and ``recheck`` decides again with a fresh row when not).
    """

    name: str  # the API operation, e.g. "GetObject"
    action: str  # the IAM action, e.g. "s3:GetObject"
    resource: str  # e.g. "arn:aws:s3:::bucket/key"
    principal: Principal
    request_id: str
    source_ip: str | None = None
    user_agent: str | None = None
    bucket: str | None = None
    key: str | None = None
    #: makes the condition keys (aws:SourceIp, s3:prefix, ...) when a policy first needs them (most requests of a
    #: tenant admin on a bucket without a policy never do)
    context_fn: Callable[[], dict[str, Any]] | None = field(default=None, repr=False)
    grants: dict[str, tuple[str, int]] = field(default_factory=dict)
    recheck: Any = None  # Callable[[Operation, str, Bucket], None], set by authorization
    outcome: str = ""  # "allowed" | "denied" (set by authorization)
    # --- what the audit entry records beyond the request (http/ and services fill these in) ---
    resource_tenant: str | None = None  # the tenant owning the resource (set by authorization)
    lockbox_grant: str | None = None  # the lockbox grant that allowed an operator's access
    claimed_key: str | None = None  # the access key id a refused request claimed (no principal)
    data_key: tuple[str, int] | None = None  # the layer-1 key (name, version) a data operation used
    justification: str | None = None  # why key material was released (vault calls)
    bytes_in: int = 0
    success_status: int = 200  # what the entry committed with the operation's change records
    audited: bool = False  # its entry is written (in the transaction of its change)

    @functools.cached_property
    def context(self) -> dict[str, Any]:
        """The condition keys of the request."""
        return self.context_fn() if self.context_fn is not None else {}


@dataclass
class ObjectHeaders:
    """Standard content headers and user metadata stored with an object."""

    content_type: str | None = None
    content_encoding: str | None = None
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    user_metadata: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"


@dataclass(frozen=True)
class CustomerKey:
    """An SSE-C key sent with a request (never stored)."""

    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.material) != 32:
            raise ValueError("SSE-C keys are 256 bits")

    def __reduce__(self) -> str:
        raise TypeError("CustomerKey cannot be pickled")


@dataclass(frozen=True)
class SSERequest:
    """Server-side encryption asked for by a write request (None fields: bucket default)."""

    algorithm: str | None = None  # "AES256" | "aws:kms" | "aws:kms:dsse" | None
    kms_key_id: str | None = None
    kms_context: str | None = None  # base64 JSON as sent
    bucket_key_enabled: bool | None = None
    customer_key: CustomerKey | None = None


@dataclass(frozen=True)
class Conditions:
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: dt.datetime | None = None
    if_unmodified_since: dt.datetime | None = None


@dataclass
class ChecksumRequest:
    """A checksum the client asked for (algorithm) and/or sent (value, base64).

    Mutable on purpose: a trailing checksum (aws-chunked trailer) is only known once the body has
    been read, and the HTTP layer fills ``value`` in then, before the service verifies it.
    """

    algorithm: str | None = None
    value: str | None = None
