"""CORS use cases: a bucket's rules (Put/Get/DeleteBucketCors), a browser's preflight, and the CORS answer to an
actual request. The rules and their matching are ``policy.cors``'s; this module finds the rules of a bucket.

* **Management** runs after authorization, like every bucket operation: the bucket is loaded and confirmed
  (``service.access.confirm``), the configuration replaced or deleted in one statement, audited with it.
* **Preflights** are answered without authentication, as S3 does (a browser sends no credentials with them). What
  they tell an anonymous caller is only what the bucket's owner published: a bucket that does not exist is answered
  exactly as a bucket without a CORS configuration (403 "CORS is not enabled for this bucket."), where S3 says
  "Bucket not found". So a preflight tells a stranger that a bucket exists only when its owner configured CORS on it.
* **Caching.** A gateway keeps what it read of a bucket's rules for ``RULES_SECONDS`` (1 s), at most
  ``MAX_CACHED`` buckets (names that do not exist are never kept, so random names cannot grow it); a change takes
  effect at once in the gateway that made it and within a second everywhere. A bucket deleted and created again
  under the same name is told apart by its id where authorization saw one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import anyio

from strongroom.core import errors
from strongroom.core.types import Operation
from strongroom.policy import cors
from strongroom.policy.cors import CorsConfiguration, CorsMatch
from strongroom.service.buckets import BucketService
from strongroom.service.runtime import Runtime

RULES_SECONDS: Final = 1.0
MAX_CACHED: Final = 10_000


@dataclass(frozen=True)
class BucketRules:
    """What a browser's request needs of a bucket: its id, its tenant (whose audit chain records a preflight) and its
    CORS configuration (None: none)."""

    bucket_id: str
    tenant: str
    config: CorsConfiguration | None


class CorsService:
    def __init__(self, rt: Runtime, buckets: BucketService) -> None:
        self.rt = rt
        self.buckets = buckets
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, BucketRules]] = {}

    # --- PutBucketCors, GetBucketCors, DeleteBucketCors (authorized) ------------------------------------------
    async def put(self, op: Operation, name: str, config: CorsConfiguration) -> None:
        bucket = await self.buckets.get(op, name)
        await anyio.to_thread.run_sync(self.rt.repo.set_bucket_cors, bucket.id, config.to_json())
        self.forget(name)

    async def get(self, op: Operation, name: str) -> CorsConfiguration:
        bucket = await self.buckets.get(op, name)
        text = await anyio.to_thread.run_sync(self.rt.repo.get_bucket_cors, bucket.id)
        if text is None:
            raise errors.NoSuchCORSConfiguration("The CORS configuration does not exist", BucketName=name)
        return CorsConfiguration.from_json(text)

    async def delete(self, op: Operation, name: str) -> None:
        bucket = await self.buckets.get(op, name)
        await anyio.to_thread.run_sync(self.rt.repo.set_bucket_cors, bucket.id, None)
        self.forget(name)

    # --- browsers --------------------------------------------------------------------------------------------
    async def preflight(
        self,
        op: Operation,
        name: str | None,
        origin: str | None,
        method: str | None,
        headers: Sequence[str],
    ) -> CorsMatch:
        """The answer to ``OPTIONS`` on a bucket (``op.key`` None) or an object, or the CORS error S3 gives (see
        ``policy.cors.preflight``). Names the bucket's tenant on ``op`` (the preflight is audited in its chain)."""
        rules = await self.rules(name) if name is not None and origin else None
        if rules is not None:
            op.resource_tenant = rules.tenant
        return cors.preflight(
            rules.config if rules is not None else None,
            origin,
            method,
            headers,
            "BUCKET" if op.key is None else "OBJECT",
        )

    async def answer(
        self, name: str, bucket_id: str | None, origin: str, method: str, headers: Sequence[str]
    ) -> CorsMatch | None:
        """The CORS headers' values for an actual request to bucket ``name`` (``bucket_id``: the bucket
        authorization saw, when it saw one) from ``origin``; None when no rule allows it."""
        rules = await self.rules(name, bucket_id)
        if rules is None or rules.config is None:
            return None
        return rules.config.match(origin, method, headers)

    async def rules(self, name: str, bucket_id: str | None = None) -> BucketRules | None:
        """The bucket's rules, from this gateway's cache when fresh (no thread hop); None: no such bucket."""
        with self._lock:
            hit = self._cache.get(name)
        if hit is not None and time.monotonic() - hit[0] < RULES_SECONDS:
            if bucket_id is None or hit[1].bucket_id == bucket_id:
                return hit[1]
        return await self.rt.run(self._load, name)

    def _load(self, name: str) -> BucketRules | None:
        row = self.rt.repo.bucket_cors(name)
        if row is None:
            self.forget(name)
            return None
        bucket_id, tenant, text = row
        rules = BucketRules(bucket_id, tenant, CorsConfiguration.from_json(text) if text is not None else None)
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[name] = (time.monotonic(), rules)
        return rules

    def forget(self, name: str) -> None:
        with self._lock:
            self._cache.pop(name, None)
