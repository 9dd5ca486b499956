"""Vault routes of token roles (keys/tokenroles.py)::

    LIST   auth/token/roles                 the namespace's roles
    GET    auth/token/roles/:name           one                POST: create or update    DELETE: delete
    POST   auth/token/create/:role_name     a token made through the role

Go-style values are coerced here; the role store takes typed values. Fields strongroom does not enforce
(policy globs, entity aliases, bound CIDRs, batch tokens) are refused when set, never silently ignored.
"""

from __future__ import annotations

import re
from typing import Any

from strongroom.http.vault import fields as f
from strongroom.http.vault.app import Call, VaultApp, _data, _duration, create_token, route
from strongroom.http.vault.errors import VaultHTTPError

_UNSUPPORTED = (
    "allowed_policies_glob",
    "disallowed_policies_glob",
    "allowed_entity_aliases",
    "token_bound_cidrs",
    "bound_cidrs",
)


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    for name in _UNSUPPORTED:
        if f.comma_list(name, body.get(name)):
            raise VaultHTTPError(400, [f"{name} is not supported by strongroom's token roles"])
    kind = f.string("token_type", body.get("token_type"))
    if kind not in (None, "", "default", "service", "default-service"):
        raise VaultHTTPError(400, ["batch tokens are not supported"])
    out: dict[str, Any] = {}
    for name in ("allowed_policies", "disallowed_policies"):
        if name in body:
            out[name] = f.comma_list(name, body[name]) or []
    for name in ("orphan", "renewable", "token_no_default_policy"):
        if name in body and body[name] is not None:
            out[name] = f.boolean(name, body[name])
    if "path_suffix" in body:
        out["path_suffix"] = f.string("path_suffix", body["path_suffix"]) or ""
    for new, old in (("token_period", "period"), ("token_explicit_max_ttl", "explicit_max_ttl")):
        value = body.get(new, body.get(old))
        if value is not None:
            out[new] = _duration(value)
    if body.get("token_num_uses") is not None:
        out["token_num_uses"] = f.integer("token_num_uses", body["token_num_uses"]) or 0
    return out


@route("list", r"auth/token/roles")
def token_roles_list(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return _data(call, {"keys": call.space.token_roles.list()})


@route("read", r"auth/token/roles/(?P<name>[^/]+)")
def token_role_read(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    role = call.space.token_roles.read(m["name"])
    if role is None:
        raise VaultHTTPError(404, [])
    return _data(call, role.render())


@route("update", r"auth/token/roles/(?P<name>[^/]+)")
def token_role_write(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.space.token_roles.write(m["name"], _changes(call.body))
    return None


@route("delete", r"auth/token/roles/(?P<name>[^/]+)")
def token_role_delete(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.space.token_roles.delete(m["name"])
    return None


@route("update", r"auth/token/create/(?P<role>[^/]+)")
def token_create_role(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return create_token(app, call, role=call.space.token_roles.get(m["role"]))
