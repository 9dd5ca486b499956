"""Listing with prefix, delimiter and markers, in S3's UTF-8 byte order, paging through the database."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio

from strongroom.core.types import Operation
from strongroom.metadata.models import Bucket, ObjectRecord
from strongroom.metadata.repository import _prefix_upper_bound
from strongroom.service.buckets import BucketService
from strongroom.service.runtime import Runtime

BATCH = 1000


@dataclass
class Listing:
    bucket: Bucket
    contents: list[ObjectRecord] = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)
    is_truncated: bool = False
    last_key: str | None = None  # the last key or common prefix returned (the next marker)


class ListingService:
    def __init__(self, rt: Runtime, buckets: BucketService) -> None:
        self.rt = rt
        self.buckets = buckets

    async def list(
        self, op: Operation, bucket_name: str, *, prefix: str, delimiter: str, after: str | None, max_keys: int
    ) -> Listing:
        bucket = await self.buckets.get(op, bucket_name)
        return await anyio.to_thread.run_sync(self._list, bucket, prefix, delimiter, after, max_keys)

    def _list(self, bucket: Bucket, prefix: str, delimiter: str, after: str | None, max_keys: int) -> Listing:
        out = Listing(bucket)
        if max_keys <= 0:
            return out
        cursor = after
        count = 0
        while True:
            rows = self.rt.repo.list_objects(bucket.id, prefix, cursor, BATCH)
            if not rows:
                return out
            for row in rows:
                cursor = row.key
                if delimiter:
                    idx = row.key.find(delimiter, len(prefix))
                    if idx >= 0:
                        cp = row.key[: idx + len(delimiter)]
                        if after is not None and cp <= after:
                            # the marker sits inside this common prefix: skip past it
                            pass
                        elif out.common_prefixes and out.common_prefixes[-1] == cp:
                            continue
                        else:
                            if count == max_keys:
                                out.is_truncated = True
                                return out
                            out.common_prefixes.append(cp)
                            out.last_key = cp
                            count += 1
                        # jump past every key under this common prefix
                        upper = _prefix_upper_bound(cp)
                        if upper is None:
                            return out
                        cursor = _before(upper)
                        break
                if count == max_keys:
                    out.is_truncated = True
                    return out
                out.contents.append(row)
                out.last_key = row.key
                count += 1
            else:
                if len(rows) < BATCH:
                    return out


def _before(upper: str) -> str:
    """A cursor that makes `key > cursor` include every key >= upper and exclude everything under the prefix.

    Keys under the common prefix cp are < upper; `upper` itself may be a real key, so the cursor must be
    strictly below upper yet at or above every key with prefix cp. cp + U+10FFFF repeated is such a bound.
    """
    prev = ord(upper[-1]) - 1
    if 0xD800 <= prev <= 0xDFFF:  # upper skipped the surrogates; step back over them too
        prev = 0xD7FF
    return upper[:-1] + chr(prev) + "\U0010ffff" * 4
