"""``/v1/sys/metrics``: the vault process's metrics, as Vault serves them.

``?format=prometheus`` is the Prometheus text exposition; without it, the JSON of Vault's in-memory sink (``Gauges``,
``Counters``, ``Samples``). Reading it takes ``read`` on ``sys/metrics`` in the root namespace (the root token, or a
token of the ``strongroom-metrics`` policy that ``strongroom metrics token`` makes), unless ``metrics_public``.
The S3 gateways ask this endpoint whether a bearer token may scrape their own ``/_strongroom/metrics``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from starlette.responses import Response

from strongroom import __version__
from strongroom.core import metrics

if TYPE_CHECKING:
    from strongroom.service.vault import VaultCore

PATH = "sys/metrics"
#: the policy ``strongroom metrics token`` writes in the root namespace
POLICY_NAME = "strongroom-metrics"
POLICY = 'path "sys/metrics" {\n  capabilities = ["read"]\n}\n'


def vault_gauges(core: VaultCore) -> Iterable[Any]:
    info = GaugeMetricFamily("strongroom_build_info", "strongroom version", labels=["version"])
    info.add_metric([__version__], 1.0)
    yield info
    initialized = core.initialized()
    gauge = GaugeMetricFamily("strongroom_vault_initialized", "1 once the vault is initialised")
    gauge.add_metric([], 1.0 if initialized else 0.0)
    yield gauge
    sealed = GaugeMetricFamily("strongroom_vault_sealed", "1 while the vault is sealed")
    sealed.add_metric([], 1.0 if core.sealed or not initialized else 0.0)
    yield sealed


def render(core: VaultCore, fmt: str) -> Response:
    """Blocking: the answer to ``GET sys/metrics?format=FMT`` (``prometheus`` or empty for JSON)."""
    text = metrics.exposition([metrics.Computed(lambda: list(vault_gauges(core)))])
    if fmt == "prometheus":
        return Response(text, media_type=metrics.CONTENT_TYPE)
    return Response(_json(text.decode()), media_type="application/json")


def _json(text: str) -> bytes:
    """Vault's in-memory sink shape: gauges as ``Gauges``, counters as ``Counters``, histograms as ``Samples``."""
    import json

    gauges: list[dict[str, Any]] = []
    counters: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    for family in text_string_to_metric_families(text):
        if family.type == "gauge":
            gauges += [{"Name": s.name, "Value": s.value, "Labels": dict(s.labels)} for s in family.samples]
        elif family.type == "counter":
            counters += [
                {"Name": s.name, "Count": s.value, "Sum": s.value, "Labels": dict(s.labels)}
                for s in family.samples
                if s.name.endswith("_total")
            ]
        elif family.type == "histogram":
            by_labels: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
            for s in family.samples:
                labels = {k: v for k, v in s.labels.items() if k != "le"}
                entry = by_labels.setdefault(
                    tuple(sorted(labels.items())), {"Name": family.name, "Count": 0, "Sum": 0.0, "Labels": labels}
                )
                if s.name.endswith("_count"):
                    entry["Count"] = int(s.value)
                elif s.name.endswith("_sum"):
                    entry["Sum"] = s.value
            for entry in by_labels.values():
                entry["Mean"] = entry["Sum"] / entry["Count"] if entry["Count"] else 0.0
                samples.append(entry)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    body = {"Timestamp": now, "Gauges": gauges, "Points": [], "Counters": counters, "Samples": samples}
    return json.dumps(body).encode()
