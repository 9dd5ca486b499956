"""The register of destroyed keys: how a destroyed key stays destroyed in every later restore (docs/BACKUP.md).

A backup taken before a key was destroyed still holds that key's storage entry (sealed by the barrier, whose keys
the restored vault has again once unsealed). So every backup carries the vault's register at the time it was
taken, and a restore is handed the newest register there is (the live vault's, or the newest backup's):

- :func:`make`: every destroyed transit key of every namespace (its deletion certificate) and every shredded
  tenant (its shred record), signed with the vault's certificate key (Ed25519, never exported);
- :func:`check`: the restore's offline check that a register is unaltered and from the same vault as the backup;
- :func:`apply`: at every unseal of a vault that has a register file beside its root files
  (``DATA/keys/destroyed-keys.json``), each listed key that is live again is erased back to its tombstone and each
  listed tenant's namespace deleted again, before any request is served. A register not signed by this vault's
  certificate key is refused (nothing applied, the vault stays sealed).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom.core import errors
from strongroom.keys import namespaces as ns
from strongroom.keys.certificates import REGISTER_KIND, key_id, verify_certificate
from strongroom.keys.kv import rfc3339
from strongroom.service import vaultshred
from strongroom.service.vault import SHREDDED_PREFIX

if TYPE_CHECKING:
    from strongroom.service.vault import VaultCore

log = logging.getLogger("strongroom.vault")

KIND = REGISTER_KIND
FILE = "destroyed-keys.json"


def make(core: VaultCore) -> dict[str, Any]:
    """The signed register of everything this vault has destroyed."""
    keys: list[dict[str, Any]] = []
    for space in core.namespaces():
        for name in sorted(n for n in space.storage.list("transit/keys/") if not n.endswith("/")):
            try:
                certificate = space.transit.deletion_certificate(name)
            except errors.StrongroomError:
                continue  # a live key
            keys.append({"namespace": space.name, "key": name, "certificate": certificate})
    tenants = []
    for tenant in sorted(core.seal_manager.barrier.list(SHREDDED_PREFIX)):
        rec = vaultshred.record(core, tenant) if not tenant.endswith("/") else None
        if rec is not None and rec.get("state") != vaultshred.STATE_STARTED:
            tenants.append(rec)
    body = {"kind": KIND, "made_at": rfc3339(dt.datetime.now(dt.UTC)), "keys": keys, "tenants": tenants}
    return core.root.transit.sign_certificate(body)


def check(register: object, like: Mapping[str, Any] | None = None) -> str | None:
    """Offline (the restore): why ``register`` cannot be used, or None. ``like``: the backup's own register; the
    two must be signed by the same vault."""
    if not isinstance(register, Mapping) or register.get("kind") != KIND or not verify_certificate(register):
        return "the register of destroyed keys is altered or not one"
    if like is not None and key_id(str(register.get("signing_public_key"))) != key_id(
        str(like.get("signing_public_key"))
    ):
        return "the register of destroyed keys comes from another vault"
    return None


def merge(registers: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The registers to apply, newest last (each stays signed as it was made)."""
    return sorted(registers, key=lambda r: str(r.get("made_at", "")))


def read(path: Path) -> list[Mapping[str, Any]]:
    data = json.loads(path.read_text())
    return list(data) if isinstance(data, list) else [data]


def apply(core: VaultCore, registers: list[Mapping[str, Any]]) -> list[str]:
    """Erase again what the registers say was destroyed (see the module docstring). Returns what it erased."""
    public = core.root.transit.deletion_certificate_public_key()
    done: list[str] = []
    for register in registers:
        if check(register) is not None or key_id(str(register.get("signing_public_key"))) != key_id(public):
            raise errors.InvalidRequest("the register of destroyed keys was not signed by this vault")
        for entry in register.get("keys") or []:
            name = str(entry.get("namespace") or "")
            try:
                space = core.namespace(name) if name else core.root
            except errors.NotFound:
                continue
            if space.transit.redestroy(entry["certificate"]):
                done.append(f"{name or 'root'}/{entry['key']}")
        for rec in register.get("tenants") or []:
            tenant = ns.check_name(str(rec["tenant"]))
            if core.namespace_info(tenant) is not None:
                core.tokens.revoke_namespace(tenant)
                core.delete_namespace(tenant, force=True)
                done.append(f"tenant {tenant}")
            if vaultshred.record(core, tenant) is None:
                core.seal_manager.barrier.put(SHREDDED_PREFIX + tenant, json.dumps(dict(rec), sort_keys=True).encode())
            vaultshred.delete_credentials(core, tenant)
    if done:
        log.warning("re-destroyed after a restore, as the register of destroyed keys says: %s", ", ".join(done))
    return done


__all__ = ["FILE", "KIND", "apply", "check", "make", "merge", "read"]
