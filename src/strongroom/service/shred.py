"""Crypto-shredding a tenant (operators): its keys destroyed, its data and identities deleted, one signed certificate.

The steps, in this order (docs/TENANT-LIFECYCLE.md), each safe to run again (:meth:`TenantShredder.shred` on a
tenant whose shred was interrupted continues it; on a tenant already shredded it returns the same certificate):

1. preflight: the vault lists the tenant's keys; a purge-protected key that is not due for destruction refuses the
   shred before anything changes;
2. fence: every access key of the tenant is made Inactive and every bucket gets a deny-everything bucket policy
   (its access_version moves, so every gateway decides again): no new writes, from the tenant or anyone it granted;
3. inventory: per bucket, objects and bytes (per SSE mode) and multipart uploads, for the certificate;
4. the vault destroys every key of the tenant's namespace, revokes its tokens and deletes its S3 credentials: from
   here nothing stored under a vault key can be decrypted, even from a surviving blob;
5. every object and upload row is deleted with its blobs queued as garbage, and the blobs are deleted at once (the
   garbage grace period protects readers, and there are none left); then the buckets;
6. users, groups and access keys, then the tenant row;
7. the vault deletes the namespace and signs the certificate; its record of the shred keeps the name from being
   created again.

SSE-C objects are not under a vault key: steps 5 and 6 are what makes them unreadable (their blobs are gone and so
is the metadata that, with the customer's key, would open them).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from strongroom.core import errors
from strongroom.core.types import SYSTEM_TENANT, Principal
from strongroom.metadata.governance import GovernanceStore
from strongroom.metadata.models import Bucket
from strongroom.policy import iam
from strongroom.service.access import AccessService
from strongroom.service.runtime import Runtime

FENCE_SID = "StrongroomCryptoShred"


def fence_policy(bucket: str) -> str:
    """The bucket policy that refuses every S3 action on ``bucket`` and its objects to everyone."""
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": FENCE_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
    return iam.parse_policy(json.dumps(doc), kind="bucket", bucket=bucket).text


def requester(principal: Principal) -> dict[str, Any]:
    """Who asked, as the certificate names them (never a secret)."""
    return {
        "arn": principal.arn,
        "tenant": principal.tenant_id,
        "user": principal.user,
        "access_key_id": principal.access_key,
    }


class TenantShredder:
    def __init__(self, rt: Runtime, access: AccessService) -> None:
        self.rt = rt
        self.access = access

    def _check(self, tenant: str) -> None:
        if tenant == SYSTEM_TENANT:
            raise errors.DeleteConflict("the system tenant cannot be deleted")

    def _inventory(self, buckets: list[Bucket]) -> dict[str, Any]:
        rows = []
        for b in buckets:
            rows.append({"name": b.name, "id": b.id, "region": b.region, **self.rt.repo.bucket_inventory(b.id)})
        by_sse: dict[str, dict[str, int]] = {}
        for row in rows:
            for mode, got in row["by_sse"].items():
                into = by_sse.setdefault(mode, {"objects": 0, "bytes": 0})
                into["objects"] += got["objects"]
                into["bytes"] += got["bytes"]
        return {
            "buckets": rows,
            "objects": sum(r["objects"] for r in rows),
            "bytes": sum(r["bytes"] for r in rows),
            "by_sse": by_sse,
            "uploads": sum(r["uploads"] for r in rows),
            "upload_bytes": sum(r["upload_bytes"] for r in rows),
        }

    def preview(self, tenant: str) -> dict[str, Any]:
        """Blocking: what a shred of ``tenant`` would destroy (for the operator's confirmation); changes nothing."""
        self._check(tenant)
        if self.rt.repo.get_tenant(tenant) is None:
            raise errors.NoSuchEntity(f"tenant {tenant} does not exist")
        try:
            keys = self.rt.vault.namespace_keys(tenant)
        except errors.NotFound:
            keys = {"keys": [], "blockers": []}
        return {
            "tenant": tenant,
            "keys": [
                {k: v for k, v in key.items() if k in ("name", "type", "state", "versions")} for key in keys["keys"]
            ],
            "blockers": keys["blockers"],
            "data": self._inventory(self.rt.repo.list_buckets(tenant)),
            "users": len(self.rt.repo.list_users(tenant)),
            "access_keys": len(self.rt.repo.list_access_keys(tenant)),
        }

    def shred(self, tenant: str, principal: Principal, request_id: str) -> dict[str, Any]:
        """Blocking: crypto-shred ``tenant`` (see the module docstring); the signed deletion certificate."""
        self._check(tenant)
        row = self.rt.repo.get_tenant(tenant)
        if row is None:
            record = self.rt.vault.shredded(tenant)
            if record is None:
                raise errors.NoSuchEntity(f"tenant {tenant} does not exist")
            if record.get("state") == "complete":
                return dict(record["certificate"])
            return self._finish(tenant)  # interrupted after its tenant row went: only the vault's part is left
        if self.rt.vault.shredded(tenant) is None:
            # 1. preflight (only for a fresh shred: a resumed one has destroyed its keys already)
            try:
                blocked = self.rt.vault.namespace_keys(tenant)["blockers"]
            except errors.NotFound:
                blocked = []
            if blocked:
                raise errors.DeleteConflict(
                    f"tenant {tenant} has purge-protected keys not due for destruction: {', '.join(blocked)}; "
                    "schedule their deletion and shred the tenant once the date has passed"
                )
        # 2. fence
        for key in self.rt.repo.list_access_keys(tenant):
            if key.status != "Inactive":
                self.rt.repo.set_access_key_status(key.access_key_id, "Inactive")
            self.access.forget_key(key.access_key_id)
        buckets = self.rt.repo.list_buckets(tenant)
        for b in buckets:
            self.rt.repo.set_bucket_access(b.id, policy=fence_policy(b.name))
        self.access.forget_tenant(tenant)
        # 3. inventory, 4. keys destroyed (a resumed shred keeps its first inventory: the vault holds it)
        inventory = self._inventory(buckets)
        try:
            self.rt.vault.shred_namespace(tenant, requester(principal), request_id, inventory)
        except errors.NotFound:
            # no namespace (a tenant made before namespaces existed, or deleted by hand): nothing to destroy there,
            # but the record must exist for the certificate and the name's tombstone
            self.rt.vault.create_namespace(tenant)
            self.rt.vault.shred_namespace(tenant, requester(principal), request_id, inventory)
        self.rt.keys.forget()
        # 5. data
        for b in buckets:
            self._drop_bucket(b)
        # 6. identities, the tenant
        key_ids = [k.access_key_id for k in self.rt.repo.list_access_keys(tenant)]
        webhook_secret = GovernanceStore(self.rt.repo).forget_tenant(tenant, dt.datetime.now(dt.UTC))
        if webhook_secret is not None:
            self.rt.vault.delete_credential(webhook_secret)
        self.rt.repo.delete_tenant(tenant)
        for key_id in key_ids:
            self.rt.vault.delete_credential(key_id)
            self.access.forget_key(key_id)
        self.access.forget_tenant(tenant)
        # 7. the vault's part: the namespace, the certificate
        return self._finish(tenant)

    def _finish(self, tenant: str) -> dict[str, Any]:
        certificate = self.rt.vault.complete_shred(tenant)
        self.rt.keys.forget()
        self.access.forget_tenant(tenant)
        return certificate

    def _drop_bucket(self, bucket: Bucket) -> None:
        """Every object and upload of ``bucket``, its blobs deleted now, then the bucket row (again while a write
        that was under way when the fence went up has left something behind)."""
        store = self.rt.store(bucket.region)
        while True:
            while True:
                rows, blobs = self.rt.repo.drop_bucket_contents(bucket)
                if not rows:
                    break
                done = []
                for blob_id in blobs:
                    try:
                        store.delete(blob_id)
                        done.append(blob_id)
                    except errors.StrongroomError:
                        continue  # stays queued: the sweeper deletes it
                self.rt.repo.forget_garbage(done)
            try:
                self.rt.repo.delete_bucket(bucket)
                return
            except errors.BucketNotEmpty:
                continue
