"""http/vault/metrics.py: the Prometheus text rendered in Vault's in-memory-sink JSON shape."""

from __future__ import annotations

import json

from strongroom.http.vault.metrics import _json

TEXT = """# HELP strongroom_vault_sealed 1 while sealed
# TYPE strongroom_vault_sealed gauge
strongroom_vault_sealed 0.0
# HELP strongroom_vault_requests_total requests
# TYPE strongroom_vault_requests_total counter
strongroom_vault_requests_total{family="sys",operation="read",status="2xx"} 5.0
# HELP strongroom_vault_request_duration_seconds latency
# TYPE strongroom_vault_request_duration_seconds histogram
strongroom_vault_request_duration_seconds_bucket{family="sys",le="0.01"} 3.0
strongroom_vault_request_duration_seconds_bucket{family="sys",le="+Inf"} 4.0
strongroom_vault_request_duration_seconds_count{family="sys"} 4.0
strongroom_vault_request_duration_seconds_sum{family="sys"} 2.0
"""


def test_gauges_counters_and_samples() -> None:
    body = json.loads(_json(TEXT))
    assert body["Gauges"] == [{"Name": "strongroom_vault_sealed", "Value": 0.0, "Labels": {}}]
    assert body["Counters"] == [
        {
            "Name": "strongroom_vault_requests_total",
            "Count": 5.0,
            "Sum": 5.0,
            "Labels": {"family": "sys", "operation": "read", "status": "2xx"},
        }
    ]
    assert body["Samples"] == [
        {
            "Name": "strongroom_vault_request_duration_seconds",
            "Count": 4,
            "Sum": 2.0,
            "Labels": {"family": "sys"},
            "Mean": 0.5,
        }
    ]
    assert body["Points"] == [] and body["Timestamp"].endswith("+0000 UTC")
