"""An audit entry: what it records, which chains it belongs to, and the bytes its hash covers.

An entry never holds plaintext, secrets, signatures, tokens or SSE-C keys: its fields are names, numbers and codes.
The hash of an entry is SHA-256 over its canonical JSON (sorted keys, no spaces, UTF-8), which includes ``chain``,
``seq`` and ``prev`` (the previous entry's hash): so editing, dropping, inserting or reordering entries breaks the
chain from that entry on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from strongroom.core.types import SYSTEM_TENANT, Operation

#: the ``prev`` of a chain's first entry
ZERO = "0" * 64
VERSION = 1


def canonical(doc: dict[str, Any]) -> bytes:
    """The canonical JSON of ``doc`` (what hashes and signatures cover)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(body: dict[str, Any]) -> str:
    """The hex SHA-256 of an entry's canonical JSON (``hash`` itself excluded)."""
    return hashlib.sha256(canonical({k: v for k, v in body.items() if k != "hash"})).hexdigest()


_SECOND: tuple[int, str] = (-1, "")  # the last second formatted (every entry of a second shares its prefix)


def timestamp(at_us: int) -> str:
    """RFC 3339 UTC with microseconds, from unix microseconds (exact: integer arithmetic, no float)."""
    global _SECOND
    second, micro = divmod(at_us, 1_000_000)
    cached = _SECOND
    if cached[0] != second:
        cached = _SECOND = (second, dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{cached[1]}.{micro:06d}Z"


def principal_of(op: Operation) -> dict[str, Any]:
    p = op.principal
    if p.anonymous:
        kind = "unauthenticated" if op.claimed_key else "anonymous"
        out: dict[str, Any] = {"type": kind}
        if op.claimed_key:
            out["access_key"] = op.claimed_key
        return out
    kind = "operator" if p.is_operator else "admin" if p.is_admin else "user"
    return {"type": kind, "tenant": p.tenant_id, "user": p.user, "access_key": p.access_key, "arn": p.arn}


def principal_label(op: Operation) -> str:
    """The short form stored beside an entry for filtering: ``TENANT/USER``, ``anonymous`` or ``unauthenticated``."""
    p = op.principal
    if p.anonymous:
        return "unauthenticated" if op.claimed_key else "anonymous"
    return f"{p.tenant_id}/{p.user}"


def chains_of(op: Operation, allowed: bool) -> list[str]:
    """The chains an entry goes to.

    - the caller's tenant (``system`` for operators);
    - the resource's tenant as well, when it differs and the caller is an operator (a customer sees every attempt
      an operator makes on its data), is anonymous, or was allowed (a cross-tenant grant the customer made);
      never a stranger's refused attempt (that would tell the stranger's name to a tenant it does not know);
    - ``system`` when neither is known (a request with an unknown access key, an anonymous request for a missing
      bucket).
    """
    p = op.principal
    out: list[str] = []
    if not p.anonymous:
        out.append(p.tenant_id)
    owner = op.resource_tenant
    if owner and owner not in out and (p.anonymous or p.is_operator or allowed):
        out.append(owner)
    if op.lockbox_grant and owner and owner not in out:
        out.append(owner)
    return out or [SYSTEM_TENANT]


def fields_of(
    op: Operation, api: str, status: int, error: str | None, at_us: int, bytes_out: int = 0
) -> dict[str, Any]:
    """An entry's fields (without chain, seq, prev, hash) for an operation that ended with ``status``."""
    if status < 400:
        outcome = "success"
    elif op.outcome == "denied" or error in _DENIALS:
        outcome = "denied"
    else:
        outcome = "failed"
    body: dict[str, Any] = {
        "v": VERSION,
        "time": timestamp(at_us),
        "request_id": op.request_id,
        "api": api,
        "operation": op.name,
        "action": op.action,
        "resource": op.resource,
        "principal": principal_of(op),
        "tenant": op.resource_tenant or (op.principal.tenant_id if not op.principal.anonymous else None),
        "source_ip": op.source_ip,
        "user_agent": op.user_agent,
        "outcome": outcome,
        "status": status,
        "error": error,
        "bytes_in": op.bytes_in,
        "bytes_out": bytes_out,
    }
    if op.data_key is not None:
        body["key"] = {"name": op.data_key[0], "version": op.data_key[1]}
    if op.lockbox_grant:
        body["grant"] = op.lockbox_grant
    if op.justification:
        body["justification"] = op.justification
    return body


_DENIALS = frozenset(
    {
        "AccessDenied",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AllAccessDisabled",
        "AuthorizationHeaderMalformed",
        "RequestTimeTooSkewed",
        "ExpiredToken",
        "InvalidToken",
        "MissingSecurityHeader",
    }
)
