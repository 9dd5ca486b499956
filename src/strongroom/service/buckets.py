"""Bucket use cases: create, look up, list, delete, default encryption."""

from __future__ import annotations

import datetime as dt
import uuid

import anyio

from strongroom.core import errors
from strongroom.core.types import Principal
from strongroom.keys.keystore import bucket_key_id
from strongroom.metadata.models import Bucket
from strongroom.policy.names import validate_bucket_name
from strongroom.policy.residency import resolve_region
from strongroom.service.runtime import Runtime


def owned_bucket(bucket: Bucket | None, principal: Principal, name: str) -> Bucket:
    # Another tenant's bucket looks exactly like a missing one.
    if bucket is None or bucket.tenant_id != principal.tenant_id:
        raise errors.NoSuchBucket("The specified bucket does not exist", BucketName=name)
    return bucket


class BucketService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def get(self, principal: Principal, name: str) -> Bucket:
        bucket = await anyio.to_thread.run_sync(self.rt.repo.get_bucket, name)
        return owned_bucket(bucket, principal, name)

    async def create(self, principal: Principal, name: str, location: str | None) -> Bucket:
        validate_bucket_name(name)
        region = resolve_region(location, self.rt.settings.regions, self.rt.settings.default_region)
        return await anyio.to_thread.run_sync(self._create, principal, name, region)

    def _create(self, principal: Principal, name: str, region: str) -> Bucket:
        existing = self.rt.repo.get_bucket(name)
        if existing is not None:
            if existing.tenant_id == principal.tenant_id:
                raise errors.BucketAlreadyOwnedByYou(BucketName=name)
            raise errors.BucketAlreadyExists(BucketName=name)
        self.rt.repo.ensure_tenant(principal.tenant_id, principal.tenant_id)
        bucket_id = str(uuid.uuid4())
        key_id = bucket_key_id(bucket_id)
        self.rt.keys.create_key(key_id, principal.tenant_id, region)
        bucket = Bucket(
            id=bucket_id,
            name=name,
            tenant_id=principal.tenant_id,
            region=region,
            created_at=dt.datetime.now(dt.UTC),
            bucket_key_id=key_id,
            sse_algorithm="AES256",
            kms_key_id=None,
            bucket_key_enabled=False,
            encryption_configured=False,
        )
        return self.rt.repo.create_bucket(bucket)

    async def list(self, principal: Principal) -> list[Bucket]:
        return await anyio.to_thread.run_sync(self.rt.repo.list_buckets, principal.tenant_id)

    async def delete(self, principal: Principal, name: str) -> None:
        bucket = await self.get(principal, name)
        await anyio.to_thread.run_sync(self.rt.repo.delete_bucket, bucket)

    async def put_encryption(
        self, principal: Principal, name: str, algorithm: str, kms_key_id: str | None, bucket_key_enabled: bool
    ) -> None:
        bucket = await self.get(principal, name)
        if algorithm == "AES256":
            kms_key_id = None
        elif kms_key_id:
            kms_key_id = normalize_kms_key_id(kms_key_id)
            info = await anyio.to_thread.run_sync(self.rt.keys.key_info, kms_key_id, bucket.tenant_id)
            if info.tenant_id != principal.tenant_id:
                raise errors.KeyNotFound(f"Invalid keyId {kms_key_id}")
            if info.region != bucket.region:
                raise errors.InvalidArgument(f"KMS key {kms_key_id} is not in the bucket's region {bucket.region}")
        await anyio.to_thread.run_sync(
            self.rt.repo.set_bucket_encryption, bucket.id, algorithm, kms_key_id, bucket_key_enabled, True
        )

    async def delete_encryption(self, principal: Principal, name: str) -> None:
        bucket = await self.get(principal, name)
        await anyio.to_thread.run_sync(self.rt.repo.set_bucket_encryption, bucket.id, "AES256", None, False, False)


def normalize_kms_key_id(key_id: str) -> str:
    """Accept a bare key id, 'alias/name' or an ARN ('arn:aws:kms:region:acct:key/ID')."""
    if key_id.startswith("arn:"):
        tail = key_id.split(":", 5)[-1]
        key_id = tail.split("/", 1)[1] if tail.startswith("key/") else tail
    return key_id
