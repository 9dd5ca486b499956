"""Rewrap every layer-1 DEK of a bucket under the newest version of its key, without touching a blob.

Runs in the vault process (it holds the transit keys): a *system operation* in Key Access Justifications' terms,
refused for a key whose owner refuses those. Each part's DEK1 is unwrapped with the bucket key of the version that
wrapped it and wrapped again with the latest version's; the data blobs never change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from strongroom.core import errors
from strongroom.core.types import SYSTEM_OPERATION
from strongroom.crypto import bucket_key, object_identity, unwrap_dek, wrap_dek
from strongroom.keys.release import check_refusal
from strongroom.keys.transit import TransitEngine
from strongroom.metadata.repository import Repository, WrappedPart, list_wrapped_parts, replace_wrap
from strongroom.service.objects import canonical_context
from strongroom.service.sealing import SSE_C_KEY_ID


@dataclass
class RewrapProgress:
    total: int
    done: int = 0
    rewrapped: int = 0
    unchanged: int = 0
    skipped_customer_keys: int = 0


def rewrap_bucket(
    repo: Repository,
    transit: TransitEngine,
    tenant: str,
    bucket_name: str,
    on_progress: Callable[[RewrapProgress], None] | None = None,
) -> Iterator[RewrapProgress]:
    """Yield progress while rewrapping; the last item is the final tally."""
    bucket = repo.get_bucket(bucket_name)
    if bucket is None:
        raise errors.NoSuchBucket(BucketName=bucket_name)
    keys = BucketKeys(transit, tenant, bucket.id)
    parts = list_wrapped_parts(repo, bucket.id)
    progress = RewrapProgress(total=len(parts))
    for part in parts:
        progress.done += 1
        if part.kek_id == SSE_C_KEY_ID:
            progress.skipped_customer_keys += 1  # the customer holds that key; nothing to rewrap here
        else:
            version, kek = keys.latest(part.kek_id)
            if part.kek_version == version:
                progress.unchanged += 1
            else:
                _rewrap_one(repo, keys, bucket.id, part, version, kek)
                progress.rewrapped += 1
        if progress.done % 100 == 0 or progress.done == progress.total:
            yield progress
    if progress.total == 0:
        yield progress


class BucketKeys:
    """The bucket's keys under each vault key version, derived here (they never leave the vault)."""

    def __init__(self, transit: TransitEngine, tenant: str, bucket_id: str) -> None:
        self._transit = transit
        self._tenant = tenant
        self._bucket = uuid.UUID(bucket_id).bytes
        self._latest: dict[str, tuple[int, bytes]] = {}
        self._versions: dict[tuple[str, int], bytes] = {}

    def _derive(self, name: str, version: int | None) -> tuple[int, bytes]:
        check_refusal(self._transit, name, SYSTEM_OPERATION)
        got, material = self._transit.kek_material(name, version)
        return got, bucket_key(material, tenant=self._tenant, key_id=name, key_version=got, bucket_id=self._bucket)

    def latest(self, name: str) -> tuple[int, bytes]:
        if name not in self._latest:
            self._latest[name] = self._derive(name, None)
        return self._latest[name]

    def version(self, name: str, version: int) -> bytes:
        if (name, version) not in self._versions:
            self._versions[(name, version)] = self._derive(name, version)[1]
        return self._versions[(name, version)]


def _rewrap_one(
    repo: Repository, keys: BucketKeys, bucket_id: str, part: WrappedPart, version: int, kek: bytes
) -> None:
    identity = object_identity(uuid.UUID(bucket_id), part.key, part.version_id, part.part_number)
    context = canonical_context(part.kms_context) if part.sse_mode == "SSE-KMS" else b""
    dek = unwrap_dek(
        keys.version(part.kek_id, part.kek_version),
        part.wrapped_dek1,
        layer=1,
        key_id=part.kek_id,
        key_version=part.kek_version,
        identity=identity,
        context=context,
    )
    new = wrap_dek(kek, dek, layer=1, key_id=part.kek_id, key_version=version, identity=identity, context=context)
    replace_wrap(repo, part, new, version)
