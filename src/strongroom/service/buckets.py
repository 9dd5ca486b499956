"""Bucket use cases: create, look up, list, delete, default encryption."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import anyio

from strongroom.core import errors
from strongroom.core.types import Operation
from strongroom.keys.keystore import bucket_key_id
from strongroom.metadata.models import Bucket
from strongroom.policy.names import validate_bucket_name
from strongroom.policy.residency import resolve_region
from strongroom.service.access import confirm
from strongroom.service.runtime import Runtime


class BucketService:
    """Bucket use cases. Every method runs after authorization allowed ``op``; loading a bucket confirms it is the
    one, in the same access state, that authorization saw (service.access.confirm)."""

    def __init__(self, rt: Runtime, on_access_change: Callable[[str], None] | None = None) -> None:
        self.rt = rt
        self.on_access_change = on_access_change or (lambda name: None)

    def load(self, op: Operation, name: str, key: str | None = None) -> Bucket:
        """Blocking: the bucket ``op`` was authorized on (for an object operation, name its ``key``: a decision taken
        again on a changed bucket must be about the object, where an object-level Deny may apply)."""
        level = "object" if key is not None else "bucket"
        return confirm(op, self.rt.repo.get_bucket(name), name, level=level, key=key)

    async def get(self, op: Operation, name: str, key: str | None = None) -> Bucket:
        return await anyio.to_thread.run_sync(self.load, op, name, key)

    async def create(self, op: Operation, name: str, location: str | None, acl: str | None = None) -> Bucket:
        validate_bucket_name(name)
        region = resolve_region(location, self.rt.settings.regions, self.rt.settings.default_region)
        return await anyio.to_thread.run_sync(self._create, op.principal.tenant_id, name, region, acl)

    def _create(self, tenant: str, name: str, region: str, acl: str | None) -> Bucket:
        existing = self.rt.repo.get_bucket(name)
        if existing is not None:
            if existing.tenant_id == tenant:
                raise errors.BucketAlreadyOwnedByYou(BucketName=name)
            raise errors.BucketAlreadyExists(BucketName=name)
        bucket_id = str(uuid.uuid4())
        key_id = bucket_key_id(bucket_id)
        self.rt.keys.create_key(key_id, tenant, region)
        bucket = Bucket(
            id=bucket_id,
            name=name,
            tenant_id=tenant,
            region=region,
            created_at=dt.datetime.now(dt.UTC),
            bucket_key_id=key_id,
            sse_algorithm="AES256",
            kms_key_id=None,
            bucket_key_enabled=False,
            encryption_configured=False,
            acl=acl,
            access_version=0,
        )
        created = self.rt.repo.create_bucket(bucket)
        self.on_access_change(name)
        return created

    async def list(self, op: Operation) -> list[Bucket]:
        return await anyio.to_thread.run_sync(self.rt.repo.list_buckets, op.principal.tenant_id)

    async def delete(self, op: Operation, name: str) -> None:
        bucket = await self.get(op, name)
        await anyio.to_thread.run_sync(self.rt.repo.delete_bucket, bucket)
        self.on_access_change(name)

    async def set_access(self, op: Operation, name: str, **fields: str | None) -> Bucket:
        """Replace access-control settings of the bucket (policy, acl, public_access_block, ownership)."""
        bucket = await self.get(op, name)
        await anyio.to_thread.run_sync(lambda: self.rt.repo.set_bucket_access(bucket.id, **fields))
        self.on_access_change(name)
        return bucket

    async def put_encryption(
        self, op: Operation, name: str, algorithm: str, kms_key_id: str | None, bucket_key_enabled: bool
    ) -> None:
        bucket = await self.get(op, name)
        if algorithm == "AES256":
            kms_key_id = None
        elif kms_key_id:
            kms_key_id = normalize_kms_key_id(kms_key_id)
            info = await anyio.to_thread.run_sync(self.rt.keys.key_info, kms_key_id, bucket.tenant_id)
            if info.tenant_id != bucket.tenant_id:
                raise errors.KeyNotFound(f"Invalid keyId {kms_key_id}")
            if info.region != bucket.region:
                raise errors.InvalidArgument(f"KMS key {kms_key_id} is not in the bucket's region {bucket.region}")
        await anyio.to_thread.run_sync(
            self.rt.repo.set_bucket_encryption, bucket.id, algorithm, kms_key_id, bucket_key_enabled, True
        )

    async def delete_encryption(self, op: Operation, name: str) -> None:
        bucket = await self.get(op, name)
        await anyio.to_thread.run_sync(self.rt.repo.set_bucket_encryption, bucket.id, "AES256", None, False, False)


def normalize_kms_key_id(key_id: str) -> str:
    """Accept a bare key id, 'alias/name' or an ARN ('arn:aws:kms:region:acct:key/ID')."""
    if key_id.startswith("arn:"):
        tail = key_id.split(":", 5)[-1]
        key_id = tail.split("/", 1)[1] if tail.startswith("key/") else tail
    return key_id
