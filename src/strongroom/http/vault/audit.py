"""What the audit devices record of one HTTP call: Vault's ``logical.LogInput``, built from a :class:`Call` and the
answer it got. No hashing happens here; :mod:`strongroom.keys.auditdevices` hashes per device."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from strongroom.keys.auditdevices import AuditInput

if TYPE_CHECKING:
    from strongroom.http.vault.app import Call

#: the mount a path belongs to, as Vault's audit entries name it (mount_point, mount_type)
MOUNTS = (
    ("sys/", "system"),
    ("auth/token/", "token"),
    ("transit/", "transit"),
    ("secret/", "kv"),
    ("strongroom/", "strongroom"),
)
#: who the gateways are in the log (they hold the per-start internal token, not a vault token)
GATEWAY = {
    "display_name": "strongroom-gateway",
    "policies": ["strongroom-internal"],
    "token_policies": ["strongroom-internal"],
    "token_type": "service",
}


def mount_of(path: str, call: Call | None = None) -> dict[str, str]:
    """The mount a path belongs to: the call's resolved mount when it has one (sys/mounts, sys/auth), else by
    its prefix."""
    if call is not None and call.mount is not None:
        return {"mount_point": call.mount_path, "mount_type": call.mount.type}
    for prefix, kind in MOUNTS:
        if path.startswith(prefix) or path + "/" == prefix:
            return {"mount_point": prefix, "mount_type": kind}
    return {}


def auth_of(call: Call, allowed: bool) -> dict[str, Any]:
    """The caller (Vault's ``auth`` block): the token is HMAC'd later, never written raw."""
    base: dict[str, Any] = {"client_token": call.raw_token or ""}
    if call.internal:
        return {**base, **GATEWAY, "policy_results": {"allowed": True}}
    token = call.token
    if token is None:
        return base
    return {
        **base,
        "accessor": token.accessor,
        "display_name": token.display_name,
        "policies": list(token.policies),
        "token_policies": list(token.policies),
        "metadata": dict(token.meta) or None,
        "entity_id": "",
        "token_type": "service",
        "token_ttl": token.ttl,
        "token_issue_time": dt.datetime.fromtimestamp(token.creation_time, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "policy_results": {"allowed": allowed},
    }


def _request_data(call: Call) -> dict[str, Any] | None:
    if call.method in ("update", "patch"):
        return call.body or None
    query = {k: v for k, v in call.query.items() if k != "list"}  # a read's parameters are its data in Vault
    return query or None


def request_of(call: Call, namespace: dict[str, str]) -> dict[str, Any]:
    return {
        "id": call.request_id,
        "operation": call.method,
        **mount_of(call.path, call),
        "client_token": call.raw_token or "",
        "client_token_accessor": call.token.accessor if call.token is not None else "",
        "namespace": namespace,
        "path": call.path,
        "data": _request_data(call),
        "remote_address": call.source_ip or "",
        "remote_port": call.source_port or 0,
    }


def request_input(call: Call, namespace: dict[str, str], error: str = "") -> AuditInput:
    return AuditInput(auth=auth_of(call, not error), request=request_of(call, namespace), error=error)


def _outer_error(status: int, messages: list[str]) -> tuple[str, str]:
    """(the entry's ``error``, the message Vault keeps in the response data's ``error``) of an error answer."""
    text = "; ".join(str(m) for m in messages)
    if status == 403:
        return "permission denied", ""
    if status == 400:
        return "invalid request", text
    if status == 404:
        return ("unsupported path", "") if text.startswith("no handler for route") else ("", text)
    if status == 405:
        return "unsupported operation", ""
    if status >= 500:
        return "internal error", ""
    return text, ""


def _response_auth(auth: dict[str, Any]) -> dict[str, Any]:
    keep = ("client_token", "accessor", "policies", "token_policies", "metadata", "entity_id", "token_type")
    out = {k: auth[k] for k in keep if k in auth}
    out["token_ttl"] = auth.get("lease_duration", 0)
    return out


def response_input(call: Call, namespace: dict[str, str], response: Response) -> AuditInput:
    """The response entry of ``call``: its answer's data, a token it hands out, its error."""
    answer: dict[str, Any] = dict(mount_of(call.path, call))
    error = ""
    body = getattr(response, "body", b"")  # a streamed answer (NDJSON) has none to record
    if body and response.media_type == "application/json":
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "errors" in parsed:
            error, message = _outer_error(response.status_code, list(parsed.get("errors") or []))
            data = dict(parsed.get("data") or {})
            if message:
                data["error"] = message
            answer["data"] = data or None
        elif isinstance(parsed, dict) and "request_id" in parsed and "data" in parsed:
            answer["data"] = parsed.get("data")
            answer["warnings"] = parsed.get("warnings")
            if isinstance(parsed.get("auth"), dict):
                answer["auth"] = _response_auth(parsed["auth"])
        else:
            answer["data"] = parsed
    return AuditInput(auth=auth_of(call, True), request=request_of(call, namespace), response=answer, error=error)
