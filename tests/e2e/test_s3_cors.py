"""CORS end to end, over TLS against the real server: Put/Get/DeleteBucketCors with boto3, preflights as raw
``OPTIONS`` requests, and the CORS headers of actual (presigned) requests, as S3 answers them."""

from __future__ import annotations

import json
import ssl
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import httpx
import pytest
import tests.conftest as _ct

from strongroom.policy.cors import NOT_ALLOWED

pytestmark = pytest.mark.e2e

APP = "https://app.example"
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
NO_ORIGIN = "Insufficient information. Origin request header needed."
RULES: list[dict[str, Any]] = [
    {
        "ID": "app",
        "AllowedOrigins": [APP, "https://*.app.example"],
        "AllowedMethods": ["GET", "PUT", "HEAD"],
        "AllowedHeaders": ["x-amz-*", "Content-Type"],
        "ExposeHeaders": ["ETag", "x-amz-request-id"],
        "MaxAgeSeconds": 3000,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ct.Server]:
    server = _ct.start_server(tmp_path_factory.mktemp("cors") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def http(srv: _ct.Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.endpoint, verify=ssl.create_default_context(cafile=srv.ca), timeout=30) as c:
        yield c


def new_bucket(srv: _ct.Server) -> str:
    name = f"cors-{uuid.uuid4().hex[:12]}"
    srv.client().create_bucket(Bucket=name)
    return name


@pytest.fixture()
def bucket(srv: _ct.Server) -> str:
    return new_bucket(srv)


@pytest.fixture()
def configured(srv: _ct.Server, bucket: str) -> str:
    srv.client().put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    srv.client().put_object(Bucket=bucket, Key="k", Body=b"cors body")
    return bucket


def failure(call: Any) -> tuple[int, str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        call()
    r = ei.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"].get("Message", "")


def error(resp: httpx.Response) -> dict[str, str | None]:
    assert resp.headers["content-type"] == "application/xml"
    root = ET.fromstring(resp.content)
    assert root.tag == "Error"
    return {child.tag: child.text for child in root}


def preflight(http: httpx.Client, path: str, **headers: str) -> httpx.Response:
    return http.options(path, headers={k.replace("_", "-"): v for k, v in headers.items()})


def cors_headers(resp: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.startswith("access-control-") or k == "vary"}


def presigned(srv: _ct.Server, method: str, bucket: str, key: str, **params: Any) -> str:
    url: str = srv.client().generate_presigned_url(
        method, Params={"Bucket": bucket, "Key": key, **params}, ExpiresIn=300
    )
    return url


# --- Put/Get/DeleteBucketCors ----------------------------------------------------------------------------------------


def test_put_get_delete_round_trip(srv: _ct.Server, bucket: str) -> None:
    s3 = srv.client()
    status, code, message = failure(lambda: s3.get_bucket_cors(Bucket=bucket))
    assert (status, code, message) == (404, "NoSuchCORSConfiguration", "The CORS configuration does not exist")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.get_bucket_cors(Bucket=bucket)
    assert ei.value.response["Error"]["BucketName"] == bucket
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204  # none is fine
    put = s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = s3.get_bucket_cors(Bucket=bucket)
    assert got["CORSRules"] == RULES
    # a second put replaces the whole configuration
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [RULES[1]]})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [RULES[1]]
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert failure(lambda: s3.get_bucket_cors(Bucket=bucket))[:2] == (404, "NoSuchCORSConfiguration")


def test_validation_errors(srv: _ct.Server, bucket: str, http: httpx.Client) -> None:
    s3 = srv.client()

    def put(rules: list[dict[str, Any]]) -> tuple[int, str, str]:
        return failure(lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules}))

    assert put([{"AllowedOrigins": ["*", "https://test.com"], "AllowedMethods": ["GET", "PUT", "MYMETHOD"]}]) == (
        400,
        "InvalidRequest",
        "Found unsupported HTTP method in CORS config. Unsupported method is MYMETHOD",
    )
    assert put([]) == (
        400,
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema.",
    )
    assert put([{"AllowedOrigins": ["http://*.*.example"], "AllowedMethods": ["GET"]}]) == (
        400,
        "InvalidRequest",
        'AllowedOrigin "http://*.*.example" can not have more than one wildcard.',
    )
    assert put([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-*"]}]) == (
        400,
        "InvalidRequest",
        'AllowedHeader "x-*-*" can not have more than one wildcard.',
    )
    assert put([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101)[:2] == (400, "MalformedXML")
    assert put([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "MaxAgeSeconds": -1}])[:2] == (
        400,
        "MalformedXML",
    )
    assert put([{"AllowedOrigins": ["*"], "AllowedMethods": ["OPTIONS"]}])[2].endswith("method is OPTIONS")
    # nothing was stored by any of them
    assert failure(lambda: s3.get_bucket_cors(Bucket=bucket))[:2] == (404, "NoSuchCORSConfiguration")
    s3.put_bucket_cors(
        Bucket=bucket, CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 100}
    )
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 100
    missing = f"nob-{uuid.uuid4().hex[:10]}"
    assert failure(lambda: s3.get_bucket_cors(Bucket=missing))[:2] == (404, "NoSuchBucket")


def test_anonymous_callers_may_not_manage_cors(srv: _ct.Server, configured: str, http: httpx.Client) -> None:
    body = b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod></CORSRule></CORSConfiguration>"
    for method, content in (("PUT", body), ("GET", b""), ("DELETE", b"")):
        resp = http.request(method, f"/{configured}?cors", content=content)
        assert resp.status_code == 403 and error(resp)["Code"] == "AccessDenied", (method, resp.text)
    assert srv.client().get_bucket_cors(Bucket=configured)["CORSRules"] == RULES


def test_iam_actions(srv: _ct.Server, configured: str) -> None:
    """GetBucketCors needs s3:GetBucketCORS; PutBucketCors and DeleteBucketCors both need s3:PutBucketCORS."""
    admin = srv.admin()

    def member(actions: list[str]) -> Any:
        user = f"u{uuid.uuid4().hex[:8]}"
        admin.request("POST", "/tenants/default/users", {"name": user})
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": f"arn:aws:s3:::{configured}"}],
        }
        admin.request("PUT", f"/tenants/default/users/{user}/policy", raw=json.dumps(policy).encode())
        key = admin.request("POST", f"/tenants/default/users/{user}/access-keys")
        _ct.register_secret(key["secret_access_key"], f"default/{user}'s secret key")
        return srv.client(access=key["access_key_id"], secret=key["secret_access_key"])

    config = {"CORSRules": RULES}
    reader = member(["s3:GetBucketCORS"])
    assert reader.get_bucket_cors(Bucket=configured)["CORSRules"] == RULES
    assert failure(lambda: reader.put_bucket_cors(Bucket=configured, CORSConfiguration=config))[:2] == (
        403,
        "AccessDenied",
    )
    assert failure(lambda: reader.delete_bucket_cors(Bucket=configured))[:2] == (403, "AccessDenied")
    writer = member(["s3:PutBucketCORS"])
    assert failure(lambda: writer.get_bucket_cors(Bucket=configured))[:2] == (403, "AccessDenied")
    writer.put_bucket_cors(Bucket=configured, CORSConfiguration=config)
    assert writer.delete_bucket_cors(Bucket=configured)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert failure(lambda: reader.get_bucket_cors(Bucket=configured))[:2] == (404, "NoSuchCORSConfiguration")


def test_changes_are_audited(srv: _ct.Server, bucket: str, http: httpx.Client) -> None:
    s3 = srv.client()
    put = s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    delete = s3.delete_bucket_cors(Bucket=bucket)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    flight = preflight(http, f"/{bucket}/k", origin=APP, access_control_request_method="PUT")
    assert flight.status_code == 200
    query = urllib.parse.urlencode({"limit": "1000", "resource": f"arn:aws:s3:::{bucket}"})
    entries = {e["request_id"]: e for e in srv.admin().request("GET", f"/audit/entries?{query}")["entries"]}
    e = entries[put["ResponseMetadata"]["RequestId"]]
    assert (e["operation"], e["action"], e["status"], e["outcome"]) == (
        "PutBucketCors",
        "s3:PutBucketCORS",
        200,
        "success",
    )
    d = entries[delete["ResponseMetadata"]["RequestId"]]
    assert (d["operation"], d["action"], d["status"]) == ("DeleteBucketCors", "s3:PutBucketCORS", 204)
    p = entries[flight.headers["x-amz-request-id"]]
    assert (p["operation"], p["resource"], p["status"]) == ("PreflightRequest", f"arn:aws:s3:::{bucket}/k", 200)
    assert p["principal"]["type"] == "anonymous"


# --- preflights ------------------------------------------------------------------------------------------------------


def test_preflight_needs_an_origin(srv: _ct.Server, http: httpx.Client, configured: str) -> None:
    plain = new_bucket(srv)
    for path in (f"/{configured}/k", f"/{configured}", f"/{plain}/k", f"/nob-{uuid.uuid4().hex[:10]}/k", "/"):
        resp = preflight(http, path, access_control_request_method="GET")
        assert resp.status_code == 400, path
        e = error(resp)
        assert (e["Code"], e["Message"]) == ("BadRequest", NO_ORIGIN)
        assert "access-control-allow-origin" not in resp.headers


def test_preflight_without_a_configuration(http: httpx.Client, bucket: str) -> None:
    resp = preflight(http, f"/{bucket}/k", origin=APP, access_control_request_method="PUT")
    assert resp.status_code == 403
    e = error(resp)
    assert (e["Code"], e["Message"], e["Method"], e["ResourceType"]) == (
        "AccessForbidden",
        NOT_ENABLED,
        "PUT",
        "BUCKET",
    )
    assert cors_headers(resp) == {}
    e = error(preflight(http, f"/{bucket}", origin=APP))
    assert (e["Code"], e["Method"], e["ResourceType"]) == ("AccessForbidden", "OPTIONS", "BUCKET")


def test_preflight_for_a_missing_bucket_is_answered_like_one_without_cors(http: httpx.Client, bucket: str) -> None:
    """strongroom's choice (S3 says "CORSResponse: Bucket not found"): an anonymous preflight does not tell a missing
    bucket from one without CORS rules."""
    missing = f"nob-{uuid.uuid4().hex[:10]}"
    a = preflight(http, f"/{missing}/k", origin=APP, access_control_request_method="PUT")
    b = preflight(http, f"/{bucket}/k", origin=APP, access_control_request_method="PUT")
    assert a.status_code == b.status_code == 403
    ea, eb = error(a), error(b)
    for e in (ea, eb):
        e.pop("RequestId"), e.pop("HostId"), e.pop("Resource")
    assert ea == eb == {"Code": "AccessForbidden", "Message": NOT_ENABLED, "Method": "PUT", "ResourceType": "BUCKET"}
    assert sorted(a.headers.keys()) == sorted(b.headers.keys())


def test_preflight_allowed(http: httpx.Client, configured: str) -> None:
    resp = preflight(
        http,
        f"/{configured}/any/key?uploadId=abc&partNumber=2&X-Amz-Signature=nonsense",
        origin=APP,
        access_control_request_method="PUT",
        access_control_request_headers="x-amz-date,Content-Type, X-Amz-Meta-Colour",
    )
    assert resp.status_code == 200 and resp.content == b""
    assert resp.headers["content-length"] == "0"
    assert cors_headers(resp) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, PUT, HEAD",
        "access-control-allow-headers": "x-amz-date, content-type, x-amz-meta-colour",
        "access-control-expose-headers": "ETag, x-amz-request-id",
        "access-control-max-age": "3000",
        "vary": VARY,
    }
    sub = preflight(http, f"/{configured}", origin="https://eu.app.example", access_control_request_method="HEAD")
    assert sub.status_code == 200 and sub.headers["access-control-allow-origin"] == "https://eu.app.example"
    assert "access-control-allow-headers" not in sub.headers


def test_preflight_wildcard_rule(http: httpx.Client, configured: str) -> None:
    resp = preflight(http, f"/{configured}/k", origin="http://random:1234", access_control_request_method="GET")
    assert resp.status_code == 200
    assert cors_headers(resp) == {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "GET",
        "vary": VARY,
    }


@pytest.mark.parametrize(
    ("origin", "method", "headers", "resource_type"),
    [
        ("http://app.example", "PUT", None, "OBJECT"),  # the scheme differs
        ("https://app.example:443", "PUT", None, "OBJECT"),
        ("https://other.example", "PUT", None, "OBJECT"),  # the * rule allows GET only
        (APP, "DELETE", None, "OBJECT"),
        (APP, "PUT", "x-amz-date,authorization", "OBJECT"),  # one requested header is not allowed
        ("https://other.example", "GET", "x-amz-date", "OBJECT"),  # the * rule allows no header
        ("https://other.example", "PUT", None, "BUCKET"),
    ],
)
def test_preflight_refused(
    http: httpx.Client, configured: str, origin: str, method: str, headers: str | None, resource_type: str
) -> None:
    path = f"/{configured}/k" if resource_type == "OBJECT" else f"/{configured}"
    extra = {"access_control_request_headers": headers} if headers else {}
    resp = preflight(http, path, origin=origin, access_control_request_method=method, **extra)
    assert resp.status_code == 403
    e = error(resp)
    assert (e["Code"], e["Message"], e["Method"], e["ResourceType"]) == (
        "AccessForbidden",
        NOT_ALLOWED,
        method,
        resource_type,
    )
    assert cors_headers(resp) == {}


def test_preflight_needs_a_valid_request_method(http: httpx.Client, configured: str) -> None:
    for method, shown in ((None, "null"), ("PATCH", "PATCH"), ("get", "get")):
        headers = {"access_control_request_method": method} if method else {}
        resp = preflight(http, f"/{configured}/k", origin=APP, **headers)
        assert resp.status_code == 400
        e = error(resp)
        assert (e["Code"], e["Message"]) == ("BadRequest", f"Invalid Access-Control-Request-Method: {shown}")


def test_preflight_ignores_credentials(http: httpx.Client, configured: str) -> None:
    resp = http.options(
        f"/{configured}/k",
        headers={"Origin": APP, "Access-Control-Request-Method": "GET", "Authorization": "AWS4-HMAC-SHA256 nonsense"},
    )
    assert resp.status_code == 200 and resp.headers["access-control-allow-origin"] == APP


# --- actual requests -------------------------------------------------------------------------------------------------


def test_actual_requests_carry_the_matching_rule(srv: _ct.Server, http: httpx.Client, configured: str) -> None:
    url = presigned(srv, "get_object", configured, "k")
    resp = http.get(url, headers={"Origin": APP})
    assert resp.status_code == 200 and resp.content == b"cors body"
    assert cors_headers(resp) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, PUT, HEAD",
        "access-control-expose-headers": "ETag, x-amz-request-id",
        "access-control-max-age": "3000",
        "vary": VARY,
    }
    star = http.get(url, headers={"Origin": "https://elsewhere.example"})
    assert star.status_code == 200
    assert cors_headers(star) == {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "GET",
        "vary": VARY,
    }
    head = http.head(presigned(srv, "head_object", configured, "k"), headers={"Origin": "https://x.app.example"})
    assert head.status_code == 200 and head.headers["access-control-allow-origin"] == "https://x.app.example"
    put = http.put(presigned(srv, "put_object", configured, "new"), content=b"n", headers={"Origin": APP})
    assert put.status_code == 200 and put.headers["access-control-allow-origin"] == APP


def test_actual_requests_without_a_match_get_no_cors_headers(
    srv: _ct.Server, http: httpx.Client, configured: str
) -> None:
    url = presigned(srv, "get_object", configured, "k")
    assert cors_headers(http.get(url)) == {}  # no Origin: not a CORS request
    # the request method decides; the * rule does not allow HEAD or PUT from another origin
    head = http.head(presigned(srv, "head_object", configured, "k"), headers={"Origin": "https://elsewhere.example"})
    assert head.status_code == 200 and cors_headers(head) == {}
    put = http.put(
        presigned(srv, "put_object", configured, "n2"), content=b"n", headers={"Origin": "https://x.example"}
    )
    assert put.status_code == 200 and cors_headers(put) == {}  # stored: S3 refuses only preflights
    # as S3: a request carrying Access-Control-Request-* is matched on them
    wrong = http.get(url, headers={"Origin": APP, "Access-Control-Request-Method": "DELETE"})
    assert wrong.status_code == 200 and cors_headers(wrong) == {}
    asked = http.get(url, headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Headers": "x-a"})
    assert asked.status_code == 200 and cors_headers(asked) == {}
    # a bucket without rules, a bucket that does not exist
    plain = new_bucket(srv)
    srv.client().put_object(Bucket=plain, Key="k", Body=b"x")
    got = http.get(presigned(srv, "get_object", plain, "k"), headers={"Origin": APP})
    assert got.status_code == 200 and cors_headers(got) == {}
    missing = http.get(f"/nob-{uuid.uuid4().hex[:10]}/k", headers={"Origin": APP})
    assert missing.status_code == 404 and cors_headers(missing) == {}


def test_error_responses_carry_cors_headers(srv: _ct.Server, http: httpx.Client, configured: str) -> None:
    nokey = http.get(presigned(srv, "get_object", configured, "nokey"), headers={"Origin": APP})
    assert nokey.status_code == 404 and error(nokey)["Code"] == "NoSuchKey"
    assert nokey.headers["access-control-allow-origin"] == APP and nokey.headers["vary"] == VARY
    url = presigned(srv, "get_object", configured, "k")
    forged = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    bad = http.get(forged, headers={"Origin": APP})
    assert bad.status_code == 403 and error(bad)["Code"] == "SignatureDoesNotMatch"
    assert bad.headers["access-control-allow-origin"] == APP
    anonymous = http.get(f"/{configured}/k", headers={"Origin": "https://elsewhere.example"})
    assert anonymous.status_code == 403 and error(anonymous)["Code"] == "AccessDenied"
    assert anonymous.headers["access-control-allow-origin"] == "*"


def test_a_deleted_configuration_takes_effect_at_once(srv: _ct.Server, http: httpx.Client, configured: str) -> None:
    url = presigned(srv, "get_object", configured, "k")
    assert http.get(url, headers={"Origin": APP}).headers["access-control-allow-origin"] == APP
    srv.client().delete_bucket_cors(Bucket=configured)
    assert cors_headers(http.get(url, headers={"Origin": APP})) == {}
    e = error(preflight(http, f"/{configured}/k", origin=APP, access_control_request_method="GET"))
    assert (e["Code"], e["Message"]) == ("AccessForbidden", NOT_ENABLED)
