"""Metrics (issue 13, item 1): the gateway's /_strongroom/metrics and the vault's /v1/sys/metrics.

A real server with two gateway worker processes (multiprocess counters add up), driven by boto3 and httpx, parsed
with prometheus-client's parser; a real Prometheus server (Debian's ``prometheus``) scrapes it over TLS with a bearer
token made by ``strongroom metrics token``.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import tests.conftest as ct
from prometheus_client.parser import text_string_to_metric_families

import strongroom

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = ct.start_server(tmp_path_factory.mktemp("metrics") / "data", ["--workers", "2"])
    yield server
    server.stop()


def vault_url(srv: Server) -> str:
    return str(json.loads((srv.data_dir / "run" / "vault.json").read_text())["url"])


def scrape(url: str, ca: str, token: str | None = ct.ROOT_TOKEN) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(
        verify=ssl.create_default_context(cafile=ca), timeout=30
    ) as http:  # a new connection: any worker may answer
        return http.get(url, headers=headers)


def samples(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def gateway(srv: Server, token: str | None = ct.ROOT_TOKEN) -> Samples:
    r = scrape(f"{srv.endpoint}/_strongroom/metrics", srv.ca, token)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return samples(r.text)


def value(s: Samples, name: str, **labels: str) -> float:
    return s.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_scraping_needs_a_token_the_vault_accepts(srv: Server) -> None:
    url = f"{srv.endpoint}/_strongroom/metrics"
    r = scrape(url, srv.ca, None)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith('Bearer realm="strongroom"')
    assert r.json() == {"errors": ["a bearer token is required"]}
    r = scrape(url, srv.ca, "not-a-token")
    assert r.status_code == 401
    assert r.json() == {"errors": ["the vault does not let this token read metrics"]}
    assert b"strongroom_" not in r.content
    # the vault's own endpoint: Vault's permission denied
    r = scrape(f"{vault_url(srv)}/v1/sys/metrics?format=prometheus", srv.ca, None)
    assert r.status_code == 403
    assert r.json() == {"errors": ["permission denied"]}
    # a tenant's vault token (a tenant-admin of its own namespace) reads no deployment metrics
    tenant_token = srv.admin().request("POST", "/vault/token", {"ttl_seconds": 600})["token"]
    assert scrape(url, srv.ca, tenant_token).status_code == 401


def test_counters_move_by_exactly_the_requests_made(srv: Server) -> None:
    s3 = srv.client(request_checksum_calculation="when_required")  # plain bodies: no aws-chunked framing
    bucket = f"metrics-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="warm", Body=b"w")  # the bucket key is cached from here on
    before = gateway(srv)
    for size in (1000, 2000, 3000):
        s3.put_object(Bucket=bucket, Key=f"k{size}", Body=b"x" * size)
    for _ in range(2):
        assert s3.get_object(Bucket=bucket, Key="k1000")["Body"].read() == b"x" * 1000
    with pytest.raises(s3.exceptions.ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="absent")
    assert missing.value.response["Error"]["Code"] == "404"
    after = gateway(srv)

    assert delta(before, after, "strongroom_s3_requests_total", action="PutObject", status="2xx") == 3
    assert delta(before, after, "strongroom_s3_requests_total", action="GetObject", status="2xx") == 2
    assert delta(before, after, "strongroom_s3_requests_total", action="HeadObject", status="4xx") == 1
    assert delta(before, after, "strongroom_s3_errors_total", code="NoSuchKey") == 1
    assert delta(before, after, "strongroom_s3_received_bytes_total", action="PutObject") == 6000
    assert delta(before, after, "strongroom_s3_sent_bytes_total", action="GetObject") == 2000
    assert delta(before, after, "strongroom_s3_sent_bytes_total", action="HeadObject") == 0
    assert delta(before, after, "strongroom_s3_request_duration_seconds_count", action="PutObject") == 3
    assert delta(before, after, "strongroom_s3_request_duration_seconds_bucket", action="PutObject", le="+Inf") == 3
    assert delta(before, after, "strongroom_s3_request_duration_seconds_sum", action="PutObject") > 0
    # one scrape between them, answered by a worker and counted once
    assert delta(before, after, "strongroom_s3_requests_total", action="Metrics", status="2xx") == 1
    # every S3 request made one audit entry; the three PUTs' entries committed with their change
    audit = {
        p: delta(before, after, "strongroom_audit_entries_total", path=p)
        for p in ("with_change", "group_commit", "direct")
    }
    assert audit["with_change"] == 3
    assert sum(audit.values()) == 6
    commits = delta(before, after, "strongroom_audit_commit_seconds_count")
    assert 1 <= commits <= audit["group_commit"] + audit["direct"]  # a batch may carry several entries
    # each PUT and GET needed the bucket key once: from the cache, or from the vault when its 2 s ran out
    lookups = sum(delta(before, after, "strongroom_key_cache_lookups_total", result=r) for r in ("hit", "miss"))
    assert lookups == 5
    assert value(after, "strongroom_vault_sealed") == 0
    assert value(after, "strongroom_region_backend_up", region="local") == 1
    assert value(after, "strongroom_sweeper_queue_blobs") >= 0
    assert value(after, "strongroom_build_info", version=strongroom.__version__) == 1


def test_health_checks_from_many_connections_add_up_across_workers(srv: Server) -> None:
    before = gateway(srv)
    for _ in range(20):
        with httpx.Client(verify=ssl.create_default_context(cafile=srv.ca), timeout=30) as http:
            assert http.get(f"{srv.endpoint}/_strongroom/health").status_code == 200
    after = gateway(srv)
    assert delta(before, after, "strongroom_s3_requests_total", action="Health", status="2xx") == 20
    files = {p.name for p in (srv.data_dir / "run" / "metrics" / "s3").iterdir()}
    assert any(name.startswith("counter_") for name in files)


def test_labels_carry_no_tenant_names(srv: Server) -> None:
    s3 = srv.client()
    bucket = f"secret-project-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="merger-plans.txt", Body=b"confidential")
    s3.get_object(Bucket=bucket, Key="merger-plans.txt")["Body"].read()
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="acquisition-target.txt")
    body = scrape(f"{srv.endpoint}/_strongroom/metrics", srv.ca).text
    vault_body = scrape(f"{vault_url(srv)}/v1/sys/metrics?format=prometheus", srv.ca).text
    for text in (body, vault_body):
        for secret in (bucket, "secret-project", "merger", "acquisition", "default", ct.ROOT_ACCESS, ct.ROOT_TOKEN):
            assert secret not in text
    labels = {k for family in text_string_to_metric_families(body) for s in family.samples for k in s.labels}
    assert labels <= {"action", "status", "code", "result", "path", "region", "version", "le"}


def test_vault_metrics_count_its_requests(srv: Server) -> None:
    url = vault_url(srv)
    headers = {"x-vault-token": ct.ROOT_TOKEN}
    with httpx.Client(verify=ssl.create_default_context(cafile=srv.ca), timeout=30, headers=headers) as http:
        prom = f"{url}/v1/sys/metrics?format=prometheus"
        before = samples(http.get(prom).text)
        for _ in range(4):
            assert http.get(f"{url}/v1/sys/seal-status").status_code == 200
        r = http.get(prom)
        assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        after = samples(r.text)
        got = delta(before, after, "strongroom_vault_requests_total", operation="read", family="sys", status="2xx")
        assert got == 5  # the four seal-status reads and the first scrape
        assert value(after, "strongroom_vault_sealed") == 0
        assert value(after, "strongroom_vault_initialized") == 1
        # Vault's JSON shape without format=prometheus
        data = http.get(f"{url}/v1/sys/metrics").json()
        assert set(data) == {"Timestamp", "Gauges", "Points", "Counters", "Samples"}
        gauges = {g["Name"]: g["Value"] for g in data["Gauges"]}
        assert gauges["strongroom_vault_sealed"] == 0
        names = {c["Name"] for c in data["Counters"]}
        assert "strongroom_vault_requests_total" in names
        r = http.get(f"{url}/v1/sys/metrics?format=xml")
        assert r.status_code == 400
        assert r.json() == {"errors": ["metrics format 'xml' is not supported: use format=prometheus or none"]}


def _cli(srv: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "VAULT_"))}
    env["VAULT_TOKEN"] = ct.ROOT_TOKEN
    return subprocess.run(
        [sys.executable, "-m", "strongroom", *args, "--data-dir", str(srv.data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def metrics_token(srv: Server) -> str:
    out = _cli(srv, "metrics", "token", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["policies"] == ["default", "strongroom-metrics"]
    token = str(info["token"])
    ct.register_secret(token)
    return token


def test_a_metrics_token_scrapes_both_and_stops_when_revoked(srv: Server) -> None:
    token = metrics_token(srv)
    assert value(gateway(srv, token), "strongroom_vault_sealed") == 0
    r = scrape(f"{vault_url(srv)}/v1/sys/metrics?format=prometheus", srv.ca, token)
    assert r.status_code == 200 and "strongroom_vault_requests_total" in r.text
    with httpx.Client(
        verify=ssl.create_default_context(cafile=srv.ca), timeout=30, headers={"x-vault-token": token}
    ) as http:
        # it holds read on sys/metrics and nothing else
        assert http.get(f"{vault_url(srv)}/v1/sys/policies/acl").status_code == 403
        assert http.post(f"{vault_url(srv)}/v1/auth/token/revoke-self").status_code == 204
    time.sleep(10.5)  # the gateway remembers the vault's yes for 10 s
    r = scrape(f"{srv.endpoint}/_strongroom/metrics", srv.ca, token)
    assert r.status_code == 401
    assert token not in srv.log()


def test_a_real_prometheus_scrapes_the_gateway_and_the_vault(srv: Server, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    assert binary, "Debian's prometheus package is needed (scripts/test.sh installs it)"
    token = metrics_token(srv)
    (tmp_path / "token").write_text(token)
    vault_host = vault_url(srv).split("://", 1)[1]
    config = f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: strongroom
    scheme: https
    metrics_path: /_strongroom/metrics
    authorization: {{credentials_file: {tmp_path / "token"}}}
    tls_config: {{ca_file: {srv.ca}}}
    static_configs: [{{targets: ["localhost:{srv.port}"]}}]
  - job_name: strongroom-vault
    scheme: https
    metrics_path: /v1/sys/metrics
    params: {{format: [prometheus]}}
    authorization: {{credentials_file: {tmp_path / "token"}}}
    tls_config: {{ca_file: {srv.ca}}}
    static_configs: [{{targets: ["{vault_host}"]}}]
"""
    (tmp_path / "prometheus.yml").write_text(config)
    port = ct.free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        srv.client().list_buckets()
        deadline = time.monotonic() + 60
        result: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": "up"}, timeout=5)
                result = {s["metric"]["job"]: s["value"][1] for s in r.json()["data"]["result"]}
            except (httpx.HTTPError, KeyError, ValueError):
                result = {}
            if result == {"strongroom": "1", "strongroom-vault": "1"}:
                break
            time.sleep(0.5)
        assert result == {"strongroom": "1", "strongroom-vault": "1"}, (tmp_path / "prometheus.log").read_text()
        q = 'sum(strongroom_s3_requests_total{action="ListBuckets"})'
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": q}, timeout=5)
        assert float(r.json()["data"]["result"][0]["value"][1]) >= 1
        q = "strongroom_vault_sealed"
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": q}, timeout=5)
        assert {s["metric"]["job"]: s["value"][1] for s in r.json()["data"]["result"]} == {
            "strongroom": "0",
            "strongroom-vault": "0",
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_metrics_public_opens_both_endpoints(tmp_path: Path) -> None:
    server = ct.start_server(tmp_path / "data", env={"STRONGROOM_METRICS_PUBLIC": "true"})
    try:
        r = scrape(f"{server.endpoint}/_strongroom/metrics", server.ca, None)
        assert r.status_code == 200 and "strongroom_s3_requests_total" in r.text
        r = scrape(f"{vault_url(server)}/v1/sys/metrics?format=prometheus", server.ca, None)
        assert r.status_code == 200 and "strongroom_vault_sealed 0.0" in r.text
        # nothing else of the vault opens with it
        assert scrape(f"{vault_url(server)}/v1/sys/policies/acl", server.ca, None).status_code == 403
    finally:
        server.stop()
