"""The audit chain entry of a vault call (every Vault API and internal request, refused ones included).

The caller is named by its token's accessor, display name and policies (never the token); internal calls by the
gateway, with the justification the internal API states for it. A bucket-key release (granted or refused) also
records the key and version, the bucket, the principal the gateway acts for, its operation, the justification the
vault judged it to be and the lockbox grant. An entry goes to the chain of the namespace's tenant (the root namespace
is the operators' chain ``system``), and, for a root-namespace token acting in a tenant's namespace or a release for
an operator, to ``system`` as well.
"""

from __future__ import annotations

from typing import Any

from strongroom.audit.chain import Pending
from strongroom.audit.entry import VERSION, timestamp
from strongroom.audit.sink import now_us
from strongroom.core.types import SYSTEM_TENANT

#: why the internal API releases or uses key material, by route family (Key Access Justifications' vocabulary)
_INTERNAL_JUSTIFICATION = {
    "keyinfo": "system operation (key metadata for a data operation)",
    "keys": "system operation (a bucket's key created with its bucket)",
    "credentials": "system operation (S3 signature verification)",
}


def call_pending(call: Any, status: int, error: str | None) -> Pending:
    """The entry of a vault call that ended with ``status``."""
    at = now_us()
    tenant = call.namespace or SYSTEM_TENANT
    principal: dict[str, Any]
    token = call.token
    if call.internal:
        principal = {"type": "gateway"}
    elif token is not None:
        principal = {
            "type": "token",
            "accessor": token.accessor,
            "display_name": token.display_name,
            "policies": list(token.policies),
            "namespace": token.namespace or SYSTEM_TENANT,
        }
    else:
        principal = {"type": "anonymous"}
    if status < 400:
        outcome = "success"
    elif status in (401, 403):
        outcome = "denied"
    else:
        outcome = "failed"
    fields: dict[str, Any] = {
        "v": VERSION,
        "time": timestamp(at),
        "request_id": call.request_id,
        "api": "vault",
        "operation": call.method,
        "action": call.action,
        "resource": call.resource,
        "principal": principal,
        "tenant": tenant,
        "source_ip": call.source_ip,
        "user_agent": None,
        "outcome": outcome,
        "status": status,
        "error": error,
        "bytes_in": call.bytes_in,
        "bytes_out": 0,
    }
    if call.internal:
        family = call.path.split("/")[2] if call.path.count("/") >= 2 else ""
        release = call.key_release
        if family == "bucket-key" and release is not None:
            # a bucket key asked for (granted or refused): for whom, why, under which grant
            fields["justification"] = release["justification"]
            fields["key"] = dict(release["key"])
            fields["bucket"] = release["bucket"]
            fields["acting_principal"] = dict(release["acting"])
            fields["acting_operation"] = release["operation"]
            if release["grant"]:
                fields["grant"] = release["grant"]
        else:
            fields["justification"] = _INTERNAL_JUSTIFICATION.get(family, "system operation")
    chains = [tenant]
    release = call.key_release if call.internal else None
    if release is not None and release["acting"]["tenant"] == SYSTEM_TENANT and tenant != SYSTEM_TENANT:
        chains.append(SYSTEM_TENANT)  # an operator's release (under a grant or refused): the operators' chain too
    if token is not None and not token.namespace and tenant != SYSTEM_TENANT:
        chains.append(SYSTEM_TENANT)  # an operator's token in a tenant's namespace: both chains
    label = "gateway" if call.internal else f"token:{token.accessor}" if token is not None else "anonymous"
    return Pending(chains, fields, at, label, call.action, call.resource, outcome)
