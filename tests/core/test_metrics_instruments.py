"""core/metrics.py: what one request adds to each instrument, and that labels stay within their bounded sets."""

from __future__ import annotations

from prometheus_client.core import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from strongroom.core import metrics


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_count_s3_adds_one_request_its_bytes_and_its_error() -> None:
    before = {
        "req": sample("strongroom_s3_requests_total", action="UnitAction", status="4xx"),
        "dur": sample("strongroom_s3_request_duration_seconds_count", action="UnitAction"),
        "le": sample("strongroom_s3_request_duration_seconds_bucket", action="UnitAction", le="0.005"),
        "in": sample("strongroom_s3_received_bytes_total", action="UnitAction"),
        "out": sample("strongroom_s3_sent_bytes_total", action="UnitAction"),
        "err": sample("strongroom_s3_errors_total", code="UnitError"),
    }
    metrics.count_s3("UnitAction", 404, "UnitError", 0.003, 10, 250)
    metrics.count_s3("UnitAction", 200, None, 0.5, 0, 0)
    assert sample("strongroom_s3_requests_total", action="UnitAction", status="4xx") == before["req"] + 1
    assert sample("strongroom_s3_requests_total", action="UnitAction", status="2xx") == 1
    assert sample("strongroom_s3_request_duration_seconds_count", action="UnitAction") == before["dur"] + 2
    assert sample("strongroom_s3_request_duration_seconds_bucket", action="UnitAction", le="0.005") == before["le"] + 1
    assert sample("strongroom_s3_received_bytes_total", action="UnitAction") == before["in"] + 10
    assert sample("strongroom_s3_sent_bytes_total", action="UnitAction") == before["out"] + 250
    assert sample("strongroom_s3_errors_total", code="UnitError") == before["err"] + 1


def test_vault_paths_count_by_family_and_never_by_mount_name() -> None:
    metrics.count_vault("update", "transit/encrypt/k", 200, 0.001)
    metrics.count_vault("read", "customer-payroll/data/x", 403, 0.001)
    assert sample("strongroom_vault_requests_total", operation="update", family="transit", status="2xx") >= 1
    assert sample("strongroom_vault_requests_total", operation="read", family="other", status="4xx") >= 1
    text = metrics.exposition().decode()
    assert "customer-payroll" not in text


def test_status_class() -> None:
    assert [metrics.status_class(s) for s in (200, 204, 304, 404, 503)] == ["2xx", "2xx", "3xx", "4xx", "5xx"]


def test_exposition_adds_the_computed_gauges() -> None:
    from prometheus_client.core import GaugeMetricFamily

    def compute() -> list[GaugeMetricFamily]:
        g = GaugeMetricFamily("strongroom_unit_gauge", "a gauge computed at scrape time")
        g.add_metric([], 7.0)
        return [g]

    text = metrics.exposition([metrics.Computed(compute)]).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["strongroom_unit_gauge"].samples[0].value == 7.0
    assert "strongroom_s3_requests" in families
