"""Rewrap every layer-1 DEK of a bucket under the newest version of its key, without touching a blob.

Runs in the vault process (it holds the transit keys). Each part's DEK1 is unwrapped with the KEK
version that wrapped it and wrapped again with the latest version; the data blobs never change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from strongroom.core import errors
from strongroom.crypto import object_identity, unwrap_dek, wrap_dek
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
    bucket_name: str,
    on_progress: Callable[[RewrapProgress], None] | None = None,
) -> Iterator[RewrapProgress]:
    """Yield progress while rewrapping; the last item is the final tally."""
    bucket = repo.get_bucket(bucket_name)
    if bucket is None:
        raise errors.NoSuchBucket(BucketName=bucket_name)
    parts = list_wrapped_parts(repo, bucket.id)
    progress = RewrapProgress(total=len(parts))
    latest: dict[str, tuple[int, bytes]] = {}
    old: dict[tuple[str, int], bytes] = {}
    for part in parts:
        progress.done += 1
        if part.kek_id == SSE_C_KEY_ID:
            progress.skipped_customer_keys += 1  # the customer holds that key; nothing to rewrap here
        else:
            if part.kek_id not in latest:
                latest[part.kek_id] = transit.kek_material(part.kek_id)
            version, kek = latest[part.kek_id]
            if part.kek_version == version:
                progress.unchanged += 1
            else:
                _rewrap_one(repo, transit, bucket.id, part, version, kek, old)
                progress.rewrapped += 1
        if progress.done % 100 == 0 or progress.done == progress.total:
            yield progress
    if progress.total == 0:
        yield progress


def _rewrap_one(
    repo: Repository,
    transit: TransitEngine,
    bucket_id: str,
    part: WrappedPart,
    version: int,
    kek: bytes,
    old: dict[tuple[str, int], bytes],
) -> None:
    ident = (part.kek_id, part.kek_version)
    if ident not in old:
        old[ident] = transit.kek_material(part.kek_id, part.kek_version)[1]
    identity = object_identity(uuid.UUID(bucket_id), part.key, part.version_id, part.part_number)
    context = canonical_context(part.kms_context) if part.sse_mode == "SSE-KMS" else b""
    dek = unwrap_dek(
        old[ident],
        part.wrapped_dek1,
        layer=1,
        key_id=part.kek_id,
        key_version=part.kek_version,
        identity=identity,
        context=context,
    )
    new = wrap_dek(kek, dek, layer=1, key_id=part.kek_id, key_version=version, identity=identity, context=context)
    replace_wrap(repo, part, new, version)
