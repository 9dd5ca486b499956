"""Vault routes of the ``userpass`` and ``approle`` auth methods (keys/authmethods.py), at whatever path
``sys/auth`` enabled them (the route table sees ``auth/userpass/...`` and ``auth/approle/...``)::

    LIST   auth/<userpass>/users                              POST|GET|DELETE auth/<userpass>/users/:name
    POST   auth/<userpass>/users/:name/password               POST auth/<userpass>/users/:name/policies
    POST   auth/<userpass>/login/:name                        (no token: makes one)

    LIST   auth/<approle>/role                                POST|GET|DELETE auth/<approle>/role/:name
    GET    auth/<approle>/role/:name/role-id                  POST: set it
    POST   auth/<approle>/role/:name/secret-id                LIST: the accessors
    POST   auth/<approle>/role/:name/custom-secret-id
    POST   auth/<approle>/role/:name/secret-id/lookup|destroy  (DELETE .../secret-id/destroy too)
    POST   auth/<approle>/role/:name/secret-id-accessor/lookup|destroy
    POST   auth/<approle>/tidy/secret-id
    POST   auth/<approle>/login                               (no token: makes one)

Go-style values (``"1h"``, ``"a,b"``, a JSON string of metadata) are coerced here; the engines take typed values.
A login's token is an orphan of the request's namespace; its TTLs are the user's or role's ``token_*`` settings
bounded by the mount's (keys/mounts.py), and it records the mount's accessor, so disabling the mount revokes it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from strongroom.http.vault import fields as f
from strongroom.http.vault.app import Call, VaultApp, _data, envelope, keys_or_404, route, token_auth
from strongroom.http.vault.errors import VaultHTTPError
from strongroom.keys.authmethods import Login, TokenSettings

# (wire field, its legacy name or None, TokenSettings field, coercion)
_TOKEN_FIELDS: tuple[tuple[str, str | None, str, str], ...] = (
    ("token_policies", "policies", "policies", "list"),
    ("token_ttl", "ttl", "ttl", "seconds"),
    ("token_max_ttl", "max_ttl", "max_ttl", "seconds"),
    ("token_explicit_max_ttl", None, "explicit_max_ttl", "seconds"),
    ("token_period", "period", "period", "seconds"),
    ("token_num_uses", None, "num_uses", "int"),
    ("token_no_default_policy", None, "no_default_policy", "bool"),
    ("token_bound_cidrs", "bound_cidrs", "bound_cidrs", "list"),
    ("token_type", None, "type", "str"),
)


def _coerce(kind: str, name: str, value: Any) -> Any:
    if kind == "list":
        return f.comma_list(name, value) or []
    if kind == "seconds":
        return f.seconds(name, value) or 0
    if kind == "int":
        return f.integer(name, value) or 0
    if kind == "bool":
        return f.boolean(name, value)
    return f.string(name, value) or "default"


def _settings(body: dict[str, Any], current: TokenSettings | None) -> TokenSettings | None:
    """The token settings ``body`` sets on top of ``current`` (None: the body sets none and there are none)."""
    changes: dict[str, Any] = {}
    for wire, legacy, attr, kind in _TOKEN_FIELDS:
        for name in (wire, legacy):
            if name is not None and body.get(name) is not None:
                changes[attr] = _coerce(kind, name, body[name])
                break
    if "root" in changes.get("policies", []):
        raise VaultHTTPError(400, ["the root policy cannot be given through an auth method"])
    if not changes:
        return current
    return dataclasses.replace(current or TokenSettings(), **changes)


def mint(app: VaultApp, call: Call, login: Login, path: str) -> Any:
    """The token a successful login makes, and Vault's login answer."""
    assert call.mount is not None
    s = login.settings
    default_ttl, mount_max = call.mount.effective_ttls()
    max_ttl = min(s.max_ttl, mount_max) if s.max_ttl else mount_max
    policies = [p for p in s.policies if p != "default"]
    if not s.no_default_policy:
        policies.append("default")
    token, entry = app.core.tokens.create(
        policies=policies,
        parent=None,
        ttl=min(s.ttl or default_ttl, max_ttl),
        max_ttl=max_ttl,
        explicit_max_ttl=s.explicit_max_ttl,
        period=s.period,
        num_uses=s.num_uses,
        display_name=f"{call.mount.path.rstrip('/').replace('/', '-')}-{login.display_name}",
        meta=dict(login.metadata),
        no_parent=True,
        namespace=call.namespace,
        path=path,
        mount_accessor=call.mount.accessor,
        bound_cidrs=list(s.bound_cidrs),
        policies_decided=True,
    )
    return envelope(None, auth=token_auth(token, entry), request_id=call.request_id)


# --- userpass ------------------------------------------------------------------------------------------------


@route("list", r"auth/userpass/users")
def userpass_list(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return keys_or_404(call, call.engine.list_users())


@route("update", r"auth/userpass/users/(?P<name>[^/]+)")
def userpass_write(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    password = f.string("password", call.body.get("password"))
    current = call.engine.user_settings(m["name"])
    call.engine.write_user(m["name"], password=password or None, settings=_settings(call.body, current))
    return None


@route("read", r"auth/userpass/users/(?P<name>[^/]+)")
def userpass_read(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    user = call.engine.read_user(m["name"])
    if user is None:
        raise VaultHTTPError(404, [])
    return _data(call, user)


@route("delete", r"auth/userpass/users/(?P<name>[^/]+)")
def userpass_delete(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.engine.delete_user(m["name"])
    return None


@route("update", r"auth/userpass/users/(?P<name>[^/]+)/password")
def userpass_password(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.engine.set_password(m["name"], f.string("password", call.body.get("password")) or "")
    return None


@route("update", r"auth/userpass/users/(?P<name>[^/]+)/policies")
def userpass_policies(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    value = call.body.get("token_policies", call.body.get("policies"))
    policies = f.comma_list("token_policies", value) or []
    if "root" in policies:
        raise VaultHTTPError(400, ["the root policy cannot be given through an auth method"])
    call.engine.set_policies(m["name"], policies)
    return None


@route("update", r"auth/userpass/login/(?P<name>[^/]+)")
def userpass_login(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    password = f.string("password", call.body.get("password")) or ""
    login = call.engine.login(m["name"], password, source_ip=call.source_ip)
    assert call.mount is not None
    return mint(app, call, login, f"auth/{call.mount.path}login/{m['name'].lower()}")


# --- approle -------------------------------------------------------------------------------------------------

_ROLE = r"auth/approle/role/(?P<name>[^/]+)"


def _metadata(value: Any) -> dict[str, str] | None:
    """A secret id's ``metadata``: a JSON object as a string (Vault's form) or an object of strings."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise VaultHTTPError(400, ["failed to parse metadata: not a JSON object of strings"]) from None
    return f.string_map("metadata", value)


@route("list", r"auth/approle/role")
def approle_list(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return keys_or_404(call, call.engine.list_roles())


@route("update", _ROLE)
def approle_write(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    b = call.body
    bind = b.get("bind_secret_id")
    local = b.get("local_secret_ids")
    call.engine.write_role(
        m["name"],
        bind_secret_id=None if bind is None else f.boolean("bind_secret_id", bind),
        secret_id_num_uses=f.integer("secret_id_num_uses", b.get("secret_id_num_uses")),
        secret_id_ttl=f.seconds("secret_id_ttl", b.get("secret_id_ttl")),
        secret_id_bound_cidrs=f.comma_list("secret_id_bound_cidrs", b.get("secret_id_bound_cidrs")),
        local_secret_ids=None if local is None else f.boolean("local_secret_ids", local),
        role_id=f.string("role_id", b.get("role_id")),
        settings=_settings(b, call.engine.role_settings(m["name"])),
    )
    return None


@route("read", _ROLE)
def approle_read(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    role = call.engine.read_role(m["name"])
    if role is None:
        raise VaultHTTPError(404, [])
    return _data(call, role)


@route("delete", _ROLE)
def approle_delete(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.engine.delete_role(m["name"])
    return None


@route("read", _ROLE + r"/role-id")
def approle_role_id(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return _data(call, {"role_id": call.engine.role_id(m["name"])})


@route("update", _ROLE + r"/role-id")
def approle_set_role_id(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    role_id = f.string("role_id", call.body.get("role_id")) or ""
    if not role_id:
        raise VaultHTTPError(400, ["missing role_id"])
    call.engine.set_role_id(m["name"], role_id)
    return None


def _generate(call: Call, name: str, custom: str | None) -> Any:
    b = call.body
    data = call.engine.generate_secret_id(
        name,
        metadata=_metadata(b.get("metadata")),
        num_uses=f.integer("num_uses", b.get("num_uses")),
        ttl=f.seconds("ttl", b.get("ttl")),
        cidr_list=f.comma_list("cidr_list", b.get("cidr_list")),
        token_bound_cidrs=f.comma_list("token_bound_cidrs", b.get("token_bound_cidrs")),
        custom=custom,
    )
    return _data(call, data)


@route("update", _ROLE + r"/secret-id")
def approle_secret_id(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return _generate(call, m["name"], None)


@route("update", _ROLE + r"/custom-secret-id")
def approle_custom_secret_id(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    custom = f.string("secret_id", call.body.get("secret_id")) or ""
    if not custom:
        raise VaultHTTPError(400, ["missing secret_id"])
    return _generate(call, m["name"], custom)


@route("list", _ROLE + r"/secret-id")
def approle_secret_id_list(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return keys_or_404(call, call.engine.list_secret_id_accessors(m["name"]))


@route("update", _ROLE + r"/secret-id/lookup")
def approle_secret_id_lookup(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    data = call.engine.lookup_secret_id(m["name"], f.string("secret_id", call.body.get("secret_id")) or "")
    return None if data is None else _data(call, data)


@route("update,delete", _ROLE + r"/secret-id/destroy")
def approle_secret_id_destroy(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.engine.destroy_secret_id(m["name"], f.string("secret_id", call.body.get("secret_id")) or "")
    return None


@route("update", _ROLE + r"/secret-id-accessor/lookup")
def approle_accessor_lookup(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    accessor = f.string("secret_id_accessor", call.body.get("secret_id_accessor")) or ""
    data = call.engine.lookup_secret_id_accessor(m["name"], accessor)
    return None if data is None else _data(call, data)


@route("update,delete", _ROLE + r"/secret-id-accessor/destroy")
def approle_accessor_destroy(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    accessor = f.string("secret_id_accessor", call.body.get("secret_id_accessor")) or ""
    call.engine.destroy_secret_id_accessor(m["name"], accessor)
    return None


@route("update", r"auth/approle/tidy/secret-id")
def approle_tidy(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    removed = call.engine.tidy()
    return _data(call, {"removed": removed})


@route("update", r"auth/approle/login")
def approle_login(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    role_id = f.string("role_id", call.body.get("role_id")) or ""
    secret_id = f.string("secret_id", call.body.get("secret_id"))
    login = call.engine.login(role_id, secret_id, source_ip=call.source_ip)
    assert call.mount is not None
    return mint(app, call, login, f"auth/{call.mount.path}login")
