"""Prometheus instruments, shared by every process of a deployment (prometheus-client).

With ``--workers N`` (N > 1) ``strongroom serve`` gives the gateway processes a directory in
``PROMETHEUS_MULTIPROC_DIR`` (DATA/run/metrics/s3, emptied at every start), so counters and histograms from every
worker add up in one scrape and survive a worker's restart. A single gateway process, and the vault (always one
process), keep them in memory: half the cost per count (a file write each), and the scrape also shows the
process's own ``process_*`` and ``python_*`` metrics.

Labels never carry tenant data: no bucket, object, key, user or tenant names; only S3 action names, status classes,
S3 error codes, vault path families and the operator's region names.

The exposition lives at the edge (``http/metrics.py``); this module only holds the instruments, so that every layer
may count without importing HTTP code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import REGISTRY
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: request latency buckets (seconds): 4 KiB requests take a millisecond or two, 1 GiB ones a minute
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
COMMIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

# --- the S3 gateway ------------------------------------------------------------------------------------------------
S3_REQUESTS = Counter(
    "strongroom_s3_requests", "S3 requests answered, by S3 action and status class", ["action", "status"]
)
S3_DURATION = Histogram(
    "strongroom_s3_request_duration_seconds",
    "Time from a request's arrival to its last response byte, by S3 action",
    ["action"],
    buckets=LATENCY_BUCKETS,
)
S3_BYTES_IN = Counter("strongroom_s3_received_bytes", "Request body bytes received, by S3 action", ["action"])
S3_BYTES_OUT = Counter("strongroom_s3_sent_bytes", "Response body bytes sent, by S3 action", ["action"])
S3_ERRORS = Counter("strongroom_s3_errors", "S3 error answers, by S3 error code", ["code"])
KEY_CACHE = Counter(
    "strongroom_key_cache_lookups", "Bucket-key cache lookups in the gateway (hit or miss: asked the vault)", ["result"]
)
KEY_CACHE_HIT = KEY_CACHE.labels(result="hit")
KEY_CACHE_MISS = KEY_CACHE.labels(result="miss")
BLOBS_SWEPT = Counter("strongroom_blobs_swept", "Blobs the sweeper deleted (replaced, deleted or orphaned)")

# --- the audit log (both processes) --------------------------------------------------------------------------------
AUDIT_ENTRIES = Counter(
    "strongroom_audit_entries",
    "Audit entries made durable: with their change, by group commit, or directly",
    ["path"],
)
AUDIT_WITH_CHANGE = AUDIT_ENTRIES.labels(path="with_change")
AUDIT_GROUP = AUDIT_ENTRIES.labels(path="group_commit")
AUDIT_DIRECT = AUDIT_ENTRIES.labels(path="direct")
AUDIT_COMMIT = Histogram(
    "strongroom_audit_commit_seconds",
    "Time to append and commit one audit transaction (a group-commit batch or a direct entry)",
    buckets=COMMIT_BUCKETS,
)
AUDIT_FAILURES = Counter("strongroom_audit_failures", "Audit entries that could not be written (requests failed)")

# --- the vault -----------------------------------------------------------------------------------------------------
VAULT_REQUESTS = Counter(
    "strongroom_vault_requests",
    "Vault API requests answered, by operation, path family and status class",
    ["operation", "family", "status"],
)
VAULT_DURATION = Histogram(
    "strongroom_vault_request_duration_seconds",
    "Vault API request latency, by path family",
    ["family"],
    buckets=LATENCY_BUCKETS,
)
#: the first path segments counted under their own name (anything else, e.g. a mount's name, counts as "other")
VAULT_FAMILIES = frozenset({"sys", "auth", "transit", "secret", "strongroom"})


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class _Children:
    """``metric.labels(...)`` memoised: the hot path pays one dict lookup instead of prometheus-client's
    label validation and lock (about 2 µs per call)."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def get(self, *labels: str) -> Any:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self._metric.labels(*labels)
        return child


_S3_REQUESTS = _Children(S3_REQUESTS)
_S3_DURATION = _Children(S3_DURATION)
_S3_IN = _Children(S3_BYTES_IN)
_S3_OUT = _Children(S3_BYTES_OUT)
_S3_ERRORS = _Children(S3_ERRORS)
_VAULT_REQUESTS = _Children(VAULT_REQUESTS)
_VAULT_DURATION = _Children(VAULT_DURATION)


def count_s3(action: str, status: int, error: str | None, seconds: float, bytes_in: int, bytes_out: int) -> None:
    """One answered S3 request (``action``: the S3 operation name, never a bucket or key)."""
    _S3_REQUESTS.get(action, status_class(status)).inc()
    _S3_DURATION.get(action).observe(seconds)
    if bytes_in:
        _S3_IN.get(action).inc(bytes_in)
    if bytes_out:
        _S3_OUT.get(action).inc(bytes_out)
    if error:
        _S3_ERRORS.get(error).inc()


def count_vault(operation: str, path: str, status: int, seconds: float) -> None:
    """One answered vault request (``path`` without /v1/; only its first segment is kept, when it is a known one)."""
    head = path.split("/", 1)[0]
    family = head if head in VAULT_FAMILIES else "other"
    _VAULT_REQUESTS.get(operation, family, status_class(status)).inc()
    _VAULT_DURATION.get(family).observe(seconds)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text exposition of this deployment's instruments (every process's, in multiprocess mode) plus
    ``extra`` collectors (gauges computed at scrape time: seal state, queue lengths, backend health)."""
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


class _Forward(Collector):
    """This process's default registry inside a per-scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Any]:
        return self._registry.collect()


class Computed(Collector):
    """Gauges computed when scraped: ``compute()`` yields metric families (prometheus_client.core.*MetricFamily)."""

    def __init__(self, compute: Callable[[], Iterable[Any]]) -> None:
        self._compute = compute

    def collect(self) -> Iterable[Any]:
        return self._compute()


def process_exited() -> None:
    """At a process's shutdown: its live-gauge files go (counters and histograms stay, so totals never drop)."""
    if multiprocess():
        mark_process_dead(os.getpid())
