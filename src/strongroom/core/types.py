"""Value types passed between the HTTP layer and the services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

SSE_S3 = "SSE-S3"
SSE_KMS = "SSE-KMS"
SSE_C = "SSE-C"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an access key within a tenant."""

    access_key: str
    tenant_id: str
    is_operator: bool = False


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
