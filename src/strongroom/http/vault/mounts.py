"""Vault routes of a namespace's mount tables (keys/mounts.py): ``sys/mounts`` (secrets engines) and ``sys/auth``
(auth methods), and ``sys/internal/ui/mounts`` (what the Vault CLI asks to find a path's engine and KV version)::

    GET    sys/mounts                       every secrets mount
    GET    sys/mounts/:path                 one                       POST: enable     DELETE: disable
    GET    sys/mounts/:path/tune            its tunable settings      POST: tune
    GET    sys/auth                         every auth mount
    GET    sys/auth/:path                   one                       POST: enable     DELETE: disable (sudo)
    GET    sys/auth/:path/tune              its tunable settings      POST: tune (sudo)
    GET    sys/internal/ui/mounts[/:path]

Go-style values (``"1h"``, ``"2"``) are coerced here; the mount table takes typed values.
"""

from __future__ import annotations

import re
from typing import Any

from strongroom.http.vault import fields as f
from strongroom.http.vault.app import Call, VaultApp, _data, envelope, route
from strongroom.http.vault.errors import VaultHTTPError
from strongroom.keys.mounts import MountEntry, MountTable


def _table(call: Call, kind: str) -> MountTable:
    return call.space.mounts if kind == "mounts" else call.space.auth_mounts


def _listing(table: MountTable, call: Call) -> Any:
    data = {path: entry.render() for path, entry in table.entries().items()}
    return envelope(data, request_id=call.request_id) | data


def _ttl(value: Any, field: str) -> int | None:
    if isinstance(value, str) and value.strip().lower() == "system":
        return 0  # Vault's word for "the system default"
    return f.seconds(field, value)


def _config(body: dict[str, Any]) -> dict[str, Any]:
    config = f.mapping("config", body.get("config")) or {}
    return {
        "default_lease_ttl": _ttl(config.get("default_lease_ttl"), "default_lease_ttl"),
        "max_lease_ttl": _ttl(config.get("max_lease_ttl"), "max_lease_ttl"),
    }


def _version(options: Any) -> int | None:
    opts = f.mapping("options", options) or {}
    if "version" not in opts or opts["version"] in (None, ""):
        return None
    version = f.integer("options.version", opts["version"])
    if version not in (1, 2):
        raise VaultHTTPError(400, [f"invalid kv version {opts['version']!r}: version 1 or 2"])
    return version


@route("list,read", r"sys/(?P<kind>mounts|auth)")
def sys_mounts_list(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return _listing(_table(call, m["kind"]), call)


@route("read", r"sys/(?P<kind>mounts|auth)/(?P<path>.+)/tune")
def sys_mount_tune_read(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    entry = _table(call, m["kind"]).get(m["path"])
    if entry is None:
        raise VaultHTTPError(400, [f"cannot fetch sysview for path {m['path'].strip('/')}/"])
    return _data(call, entry.render_tune()) | entry.render_tune()


@route("update", r"sys/(?P<kind>mounts|auth)/(?P<path>.+)/tune")
def sys_mount_tune(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    b = call.body
    _table(call, m["kind"]).tune(
        m["path"],
        description=f.string("description", b.get("description")),
        default_lease_ttl=_ttl(b.get("default_lease_ttl"), "default_lease_ttl"),
        max_lease_ttl=_ttl(b.get("max_lease_ttl"), "max_lease_ttl"),
        version=_version(b.get("options")),
    )
    return None


@route("read", r"sys/(?P<kind>mounts|auth)/(?P<path>.+)")
def sys_mount_read(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    entry = _table(call, m["kind"]).get(m["path"])
    if entry is None:
        raise VaultHTTPError(
            400, [f"No {'secret engine' if m['kind'] == 'mounts' else 'auth engine'} mount at {m['path'].strip('/')}/"]
        )
    return _data(call, entry.render()) | entry.render()


@route("update", r"sys/(?P<kind>mounts|auth)/(?P<path>.+)")
def sys_mount_enable(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    b = call.body
    kind = f.string("type", b.get("type")) or ""
    if not kind:
        raise VaultHTTPError(
            400, ["backend type must be specified" if m["kind"] == "mounts" else "auth type must be specified"]
        )
    if f.boolean("seal_wrap", b.get("seal_wrap", False)):
        raise VaultHTTPError(400, ["seal wrapping is not supported by strongroom (every entry is sealed anyway)"])
    plugin = f.string("plugin_name", b.get("plugin_name")) or ""
    if plugin and plugin != kind:
        raise VaultHTTPError(400, [f"plugin not found in the catalog: {plugin}"])
    f.boolean("local", b.get("local", False))  # a single cluster: every mount is local and replicated alike
    config = _config(b)
    _table(call, m["kind"]).enable(
        m["path"],
        kind,
        description=f.string("description", b.get("description")) or "",
        version=_version(b.get("options")),
        default_lease_ttl=config["default_lease_ttl"] or 0,
        max_lease_ttl=config["max_lease_ttl"] or 0,
    )
    return None


@route("delete", r"sys/(?P<kind>mounts|auth)/(?P<path>.+)")
def sys_mount_disable(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    def revoke_tokens(entry: MountEntry) -> None:
        app.core.tokens.revoke_mount(entry.accessor)  # Vault revokes what a disabled auth method issued

    _table(call, m["kind"]).disable(m["path"], on_removed=revoke_tokens if m["kind"] == "auth" else None)
    return None


def _ui_entry(entry: MountEntry, path: str) -> dict[str, Any]:
    return {**entry.render(), "path": path}


@route("read", r"sys/internal/ui/mounts")
def sys_ui_mounts(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    data = {
        "secret": {p: e.render() for p, e in call.space.mounts.entries().items()},
        "auth": {p: e.render() for p, e in call.space.auth_mounts.entries().items()},
    }
    return _data(call, data)


@route("read", r"sys/internal/ui/mounts/(?P<path>.+)")
def sys_ui_mount(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    path = m["path"].strip("/")
    if path.startswith("auth/"):
        found = call.space.auth_mounts.resolve(path[5:])
        prefix = "auth/"
    else:
        found = call.space.mounts.resolve(path)
        prefix = ""
    if found is None:
        raise VaultHTTPError(
            403,
            [
                "preflight capability check returned 403, please ensure client's policies grant "
                'access to path "' + path + '/"'
            ],
        )
    return _data(call, _ui_entry(found[0], prefix + found[0].path))
