"""The vault's half of a tenant's crypto-shred: destroy every key of its namespace, then delete the namespace and
sign one deletion certificate (docs/TENANT-LIFECYCLE.md).

Two steps, each idempotent, driven by the gateway (service/shred.py) over the internal API:

1. :func:`destroy_keys`: refuses (DeleteConflict, nothing changed) while a purge-protected key is not due for
   destruction; otherwise records the shred (``strongroom/shredded/<tenant>`` in the root namespace: who asked, the
   gateway's inventory of the tenant's data), revokes the namespace's tokens, deletes the tenant's S3 credentials
   and destroys every live transit key (each becomes a tombstone: its material is gone). From here on nothing the
   tenant stored under a vault key can be decrypted.
2. :func:`complete`: destroys any key that appeared since, deletes the namespace with everything in it (key
   tombstones, KV secrets, policies) and signs the certificate with the vault's certificate key (the root
   namespace's; a tenant namespace's own key would vanish with it). The record keeps the certificate, and its
   existence keeps the tenant's name from being created again (:meth:`VaultCore.create_namespace`).

What the certificate says about keys and secrets the vault saw itself; what it says about buckets and objects
(``data``) is what the gateway reported in step 1.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from strongroom.core import errors
from strongroom.keys import namespaces as ns
from strongroom.keys.certificates import TENANT_CERT_KIND, key_id
from strongroom.keys.kv import rfc3339
from strongroom.keys.storage import walk
from strongroom.service.vault import CREDENTIALS_PREFIX, SHREDDED_PREFIX

if TYPE_CHECKING:
    from strongroom.keys.namespaces import Namespace
    from strongroom.service.vault import VaultCore

STATE_STARTED = "started"
STATE_KEYS_DESTROYED = "keys-destroyed"
STATE_COMPLETE = "complete"
DESTROYED = "destroyed"
#: what step 2 deletes, in the certificate's words
DELETED = [
    "every object and multipart upload of the tenant's buckets (metadata rows and blobs)",
    "the tenant's buckets",
    "the tenant's users, groups, access keys and their sealed secrets",
    "the tenant's vault namespace: transit keys (material destroyed first), KV secrets, policies, tokens",
    "the tenant",
]
#: what a shred keeps, in the certificate's words
KEPT = [
    "the tenant's audit chain (who did what and when; no data, keys or secrets) and the operators' record of the shred",
    "this record of the shred, which keeps the tenant's name from being used again",
]
_LOCK = threading.Lock()  # one vault process: shreds are serialised


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def record(core: VaultCore, tenant: str) -> dict[str, Any] | None:
    """The shred record of ``tenant`` (None: never shredded)."""
    raw = core.seal_manager.barrier.get(SHREDDED_PREFIX + ns.check_name(tenant))
    return None if raw is None else dict(json.loads(raw))


def _save(core: VaultCore, tenant: str, rec: Mapping[str, Any]) -> None:
    core.seal_manager.barrier.put(SHREDDED_PREFIX + tenant, json.dumps(rec, sort_keys=True).encode())


def _space(core: VaultCore, tenant: str) -> Namespace | None:
    try:
        return core.namespace(tenant)
    except errors.NotFound:
        return None


def namespace_keys(space: Namespace) -> list[dict[str, Any]]:
    """Metadata of every transit key of the namespace (destroyed ones as their tombstones), by name."""
    out = []
    for name in sorted(n for n in space.storage.list("transit/keys/") if not n.endswith("/")):
        info = space.transit.read_key(name)
        out.append(
            {
                "name": name,
                "type": info.get("type"),
                "region": info.get("region"),
                "state": info.get("state"),
                "latest_version": info.get("latest_version", 0),
                # a live key's readable versions (destroy reports every version it erased); a tombstone's all
                "versions": list(info.get("versions") or [])
                if info.get("state") == DESTROYED
                else sorted(int(v) for v in (info.get("keys") or {})),
                "purge_protection": bool(info.get("purge_protection")),
                "deletion_date": info.get("deletion_date"),
                "destroyed_at": info.get("destroyed_at"),
            }
        )
    return out


def _due(key: Mapping[str, Any], now: dt.datetime) -> bool:
    """A key pending deletion whose date has passed (what purge protection still lets ``destroy`` take)."""
    date = key.get("deletion_date")
    if key.get("state") != "pending_deletion" or not date:
        return False
    return dt.datetime.fromisoformat(str(date).replace("Z", "+00:00")) <= now


def blockers(keys: list[dict[str, Any]], now: dt.datetime | None = None) -> list[str]:
    """Keys that keep the tenant from being shredded now: purge-protected ones not due for destruction."""
    moment = now or _now()
    return [k["name"] for k in keys if k["state"] != DESTROYED and k["purge_protection"] and not _due(k, moment)]


def _count_secrets(space: Namespace) -> int:
    return len(walk(space.storage, "kv/secret/metadata/"))


def _destroy_live(space: Namespace, rec: dict[str, Any], now: dt.datetime) -> None:
    """Destroy every key of the namespace that is not destroyed yet and add it to ``rec["keys"]``; keys destroyed
    before the shred are listed with their own destruction time."""
    listed = {k["name"] for k in rec["keys"]}
    for key in namespace_keys(space):
        if key["state"] == DESTROYED:
            if key["name"] not in listed:
                rec["keys"].append({**_key_entry(key), "state_before": DESTROYED, "destroyed_at": key["destroyed_at"]})
            continue
        due = _due(key, now)
        if key["purge_protection"] and not due:
            raise errors.DeleteConflict(
                f"key {key['name']} of tenant {space.tenant} is purge-protected and not due for destruction"
            )
        cert = space.transit.destroy(key["name"], force=not due)
        rec["keys"] = [k for k in rec["keys"] if k["name"] != key["name"]]
        entry = {**_key_entry(key), "versions": list(cert["versions"]), "latest_version": cert["latest_version"]}
        rec["keys"].append({**entry, "state_before": key["state"], "destroyed_at": cert["destroyed_at"]})
    rec["keys"].sort(key=lambda k: k["name"])


def _key_entry(key: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": key["name"],
        "type": key["type"],
        "region": key["region"],
        "versions": key["versions"],
        "latest_version": key["latest_version"],
        "purge_protection": key["purge_protection"],
    }


def delete_credentials(core: VaultCore, tenant: str) -> int:
    gone = 0
    for access_key in core.seal_manager.barrier.list(CREDENTIALS_PREFIX):
        if access_key.endswith("/"):
            continue
        cred = core.get_credential(access_key)
        if cred is not None and cred.get("tenant") == tenant:
            core.delete_credential(access_key)
            gone += 1
    return gone


def destroy_keys(
    core: VaultCore, tenant: str, requested_by: Mapping[str, Any], request_id: str, inventory: Mapping[str, Any]
) -> dict[str, Any]:
    """Step 1 (see the module docstring). A second call after the first succeeded keeps the first call's record
    (requester, inventory) and destroys whatever key is live again. Returns the record."""
    tenant = ns.check_name(tenant)
    with _LOCK:
        rec = record(core, tenant)
        if rec is not None and rec["state"] == STATE_COMPLETE:
            return rec
        space = _space(core, tenant)
        now = _now()
        if rec is None:
            if space is None:
                raise errors.NotFound(f"namespace {tenant} not found")
            blocked = blockers(namespace_keys(space), now)
            if blocked:
                raise errors.DeleteConflict(
                    f"tenant {tenant} has purge-protected keys not due for destruction: {', '.join(blocked)}; "
                    "schedule their deletion and shred the tenant once the date has passed"
                )
            rec = {
                "kind": TENANT_CERT_KIND,
                "tenant": tenant,
                "state": STATE_STARTED,
                "requested_by": dict(requested_by),
                "request_id": request_id,
                "started_at": rfc3339(now),
                "keys": [],
                "secrets": _count_secrets(space),
                "data": dict(inventory),
            }
            _save(core, tenant, rec)  # first: from here the name is taken for good, whatever happens next
        if space is not None:
            core.tokens.revoke_namespace(tenant)
            _destroy_live(space, rec, now)
        rec["credentials_deleted"] = int(rec.get("credentials_deleted", 0)) + delete_credentials(core, tenant)
        rec.setdefault("keys_destroyed_at", rfc3339(_now()))
        rec["state"] = STATE_KEYS_DESTROYED
        _save(core, tenant, rec)
        return rec


def complete(core: VaultCore, tenant: str) -> dict[str, Any]:
    """Step 2 (see the module docstring): the signed certificate (the stored one when already complete)."""
    tenant = ns.check_name(tenant)
    with _LOCK:
        rec = record(core, tenant)
        if rec is None:
            raise errors.NotFound(f"tenant {tenant} was not shredded")
        if rec["state"] == STATE_COMPLETE:
            return dict(rec["certificate"])
        space = _space(core, tenant)
        if space is not None:
            core.tokens.revoke_namespace(tenant)
            _destroy_live(space, rec, _now())
            core.delete_namespace(tenant, force=True)
        delete_credentials(core, tenant)
        body = {
            "kind": TENANT_CERT_KIND,
            "tenant": tenant,
            "requested_by": rec["requested_by"],
            "request_id": rec["request_id"],
            "started_at": rec["started_at"],
            "keys_destroyed_at": rec["keys_destroyed_at"],
            "completed_at": rfc3339(_now()),
            "keys": rec["keys"],
            "secrets_deleted": rec["secrets"],
            "data": rec["data"],
            "deleted": DELETED,
            "kept": KEPT,
        }
        certificate = core.root.transit.sign_certificate(body)
        rec.update(state=STATE_COMPLETE, certificate=certificate)
        _save(core, tenant, rec)
        return certificate


def certificate_key(core: VaultCore) -> dict[str, str]:
    """The vault's published certificate key: what ``verify-certificate --public-key`` pins."""
    public = core.root.transit.deletion_certificate_public_key()
    return {"algorithm": "ed25519", "public_key": public, "key_id": key_id(public)}
