"""Vault routes of a tenant's crypto-shred (service/vaultshred.py) and the published certificate key.

Internal (the gateways' token; the tenant is the path's name, not the namespace header)::

    GET  strongroom/internal/namespaces/:tenant/keys            key metadata and what blocks a shred
    POST strongroom/internal/namespaces/:tenant/shred           step 1: record, revoke, destroy every key
    POST strongroom/internal/namespaces/:tenant/shred/complete  step 2: delete the namespace, sign the certificate
    GET  strongroom/internal/shredded/:tenant                   the shred record (404: never shredded)

Operators (a root-namespace token whose policy may read the path; the root token)::

    GET  strongroom/destroyed-keys                              the signed register of destroyed keys (backups)

Public (no token: a public key, for offline verification)::

    GET  strongroom/certificate-key                             {"algorithm", "public_key", "key_id"}
"""

from __future__ import annotations

import re
from typing import Any

from strongroom.core import errors
from strongroom.http.vault import fields as f
from strongroom.http.vault.app import Call, VaultApp, _data, route
from strongroom.http.vault.errors import VaultHTTPError
from strongroom.keys import namespaces as ns
from strongroom.service import vaultregister, vaultshred


def _space(app: VaultApp, tenant: str) -> Any:
    try:
        return app.core.namespace(ns.check_name(tenant))
    except errors.NotFound:
        raise VaultHTTPError(404, []) from None


@route("read", r"strongroom/internal/namespaces/(?P<name>[^/]+)/keys")
def sr_internal_namespace_keys(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    keys = vaultshred.namespace_keys(_space(app, m["name"]))
    return _data(call, {"keys": keys, "blockers": vaultshred.blockers(keys)})


@route("update", r"strongroom/internal/namespaces/(?P<name>[^/]+)/shred")
def sr_internal_namespace_shred(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    body = f.pick(call.body, {"requested_by": f.mapping, "request_id": f.string, "inventory": f.mapping})
    if "requested_by" not in body or not body.get("request_id"):
        raise VaultHTTPError(400, ["requested_by and request_id are required"])
    rec = vaultshred.destroy_keys(
        app.core, m["name"], body["requested_by"], body["request_id"], body.get("inventory") or {}
    )
    return _data(call, {k: v for k, v in rec.items() if k != "certificate"})


@route("update", r"strongroom/internal/namespaces/(?P<name>[^/]+)/shred/complete")
def sr_internal_namespace_shred_complete(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return _data(call, {"certificate": vaultshred.complete(app.core, m["name"])})


@route("read", r"strongroom/internal/shredded/(?P<name>[^/]+)")
def sr_internal_shredded(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    rec = vaultshred.record(app.core, ns.check_name(m["name"]))
    if rec is None:
        raise VaultHTTPError(404, [])
    return _data(call, rec)


@route("read", r"strongroom/destroyed-keys")
def sr_destroyed_keys(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    if call.namespace != ns.ROOT:
        raise VaultHTTPError(403, ["permission denied"])  # every tenant's key names: the operators' namespace only
    return _data(call, vaultregister.make(app.core))


@route("read", r"strongroom/certificate-key")
def sr_certificate_key(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    if app.core.sealed:
        raise VaultHTTPError(503, ["Vault is sealed"])
    return _data(call, vaultshred.certificate_key(app.core))
