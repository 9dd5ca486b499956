"""strongroom.http.s3.corsxml and http.s3.cors: the CORSConfiguration as botocore sends and parses it, exact
rendered bytes, the S3 error of every bad document, and the CORS response headers of a match."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.parsers import RestXMLParser
from botocore.serialize import create_serializer

from strongroom.core import errors
from strongroom.http.s3 import cors as cors_http
from strongroom.http.s3 import corsxml
from strongroom.http.s3.errors import S3Error, from_domain
from strongroom.policy.cors import CorsConfiguration, CorsMatch, CorsRule

MODEL = botocore.session.get_session().get_service_model("s3")
SERIALIZER = create_serializer("rest-xml", include_validation=True)
NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def botocore_body(rules: list[dict[str, Any]]) -> bytes:
    params = {"Bucket": "b", "CORSConfiguration": {"CORSRules": rules}}
    body = SERIALIZER.serialize_to_request(params, MODEL.operation_model("PutBucketCors"))["body"]
    assert isinstance(body, bytes)
    return body


def botocore_parse(body: bytes) -> dict[str, Any]:
    parsed = RestXMLParser().parse(
        {"body": body, "headers": {}, "status_code": 200}, MODEL.operation_model("GetBucketCors").output_shape
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


def wire(exc: S3Error | errors.StrongroomError) -> tuple[str, int, str]:
    """The S3 error a parse failure becomes (XML errors are S3Errors already, rule errors domain errors)."""
    out = exc if isinstance(exc, S3Error) else from_domain(exc)
    return out.code, out.status, out.message


def refused(body: bytes) -> tuple[str, int, str]:
    with pytest.raises((S3Error, errors.StrongroomError)) as info:
        corsxml.parse_cors_configuration(body)
    return wire(info.value)


def doc(*rules: str, ns: bool = True) -> bytes:
    return f"<CORSConfiguration {NS if ns else ''}>{''.join(rules)}</CORSConfiguration>".encode()


MALFORMED = (
    "MalformedXML",
    400,
    "The XML you provided was not well-formed or did not validate against our published schema.",
)


def test_botocore_round_trip() -> None:
    rules = [
        {
            "ID": "uploads",
            "AllowedHeaders": ["x-amz-*", "Content-Type"],
            "AllowedMethods": ["PUT", "POST", "GET"],
            "AllowedOrigins": ["https://app.example", "https://*.example.org"],
            "ExposeHeaders": ["ETag", "x-amz-request-id"],
            "MaxAgeSeconds": 3000,
        },
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]},
    ]
    config = corsxml.parse_cors_configuration(botocore_body(rules))
    assert config.rules[0] == CorsRule(
        allowed_origins=("https://app.example", "https://*.example.org"),
        allowed_methods=("PUT", "POST", "GET"),
        allowed_headers=("x-amz-*", "Content-Type"),
        expose_headers=("ETag", "x-amz-request-id"),
        max_age_seconds=3000,
        id="uploads",
    )
    assert botocore_parse(corsxml.render_cors_configuration(config)) == {"CORSRules": rules}


def test_rendered_bytes() -> None:
    config = CorsConfiguration((CorsRule(("*",), ("GET", "HEAD"), ("a&b",), (), 0, "x<y"),))
    assert corsxml.render_cors_configuration(config) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b"<CORSConfiguration " + NS.encode() + b"><CORSRule><ID>x&lt;y</ID><AllowedHeader>a&amp;b</AllowedHeader>"
        b"<AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"
        b"<MaxAgeSeconds>0</MaxAgeSeconds></CORSRule></CORSConfiguration>"
    )


def test_no_namespace_whitespace_and_empty_origin() -> None:
    body = doc(
        "<CORSRule>\n  <AllowedOrigin> https://a.example </AllowedOrigin>\n  <AllowedOrigin></AllowedOrigin>"
        "<AllowedMethod>GET</AllowedMethod><MaxAgeSeconds> 12 </MaxAgeSeconds>\n</CORSRule>",
        ns=False,
    )
    rule = corsxml.parse_cors_configuration(body).rules[0]
    assert rule.allowed_origins == ("https://a.example", "") and rule.max_age_seconds == 12


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<CORSConfiguration",
        doc(),  # no rule (what botocore sends for CORSRules=[])
        b"<CORSConfiguration " + NS.encode() + b" />",
        doc("<CORSRule/>"),
        doc("<CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule>"),
        doc("<CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule>"),
        doc("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><Bogus/></CORSRule>"),
        doc("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule><Other/>"),
        doc("<CORSRule>text<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"),
        doc(
            "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
            "<MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>2</MaxAgeSeconds></CORSRule>"
        ),
        doc(
            "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
            "<MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule>"
        ),
        doc(
            "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
            "<MaxAgeSeconds>1.5</MaxAgeSeconds></CORSRule>"
        ),
        doc(
            "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
            "<MaxAgeSeconds>99999999999</MaxAgeSeconds></CORSRule>"
        ),
        doc("<CORSRule><AllowedOrigin><x/></AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"),
        doc(
            "<CORSRule><ID>a</ID><ID>b</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"
        ),
        b'<CORSConfiguration xmlns="urn:other"><CORSRule/></CORSConfiguration>',
        b"<Other><CORSRule/></Other>",
        doc(*["<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"] * 101),
    ],
)
def test_malformed_documents(body: bytes) -> None:
    assert refused(body) == MALFORMED


def test_a_hundred_rules_are_accepted() -> None:
    one = "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"
    assert len(corsxml.parse_cors_configuration(doc(*[one] * 100)).rules) == 100


def test_entities_and_dtds_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
        b"<CORSConfiguration><CORSRule><AllowedOrigin>&a;</AllowedOrigin>"
        b"<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"
    )
    assert refused(bomb) == MALFORMED


def test_rule_errors_are_invalid_requests() -> None:
    bad_method = botocore_body([{"AllowedOrigins": ["*", "https://test.com"], "AllowedMethods": ["GET", "MYMETHOD"]}])
    assert refused(bad_method) == (
        "InvalidRequest",
        400,
        "Found unsupported HTTP method in CORS config. Unsupported method is MYMETHOD",
    )
    empty_method = doc("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod/></CORSRule>")
    assert refused(empty_method)[2] == "Found unsupported HTTP method in CORS config. Unsupported method is "
    two = botocore_body([{"AllowedOrigins": ["*example*.com"], "AllowedMethods": ["GET"]}])
    assert refused(two) == ("InvalidRequest", 400, 'AllowedOrigin "*example*.com" can not have more than one wildcard.')
    long_id = botocore_body([{"ID": "i" * 256, "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}])
    assert refused(long_id) == ("InvalidArgument", 400, "ID length should not exceed allowed limit of 255")


def test_oversized_documents() -> None:
    assert refused(b" " * (corsxml.MAX_CORS_BODY + 1)) == MALFORMED


# --- response headers ---------------------------------------------------------------------------------------------


def test_response_headers_of_a_specific_origin() -> None:
    m = CorsMatch("https://a.example", True, ("GET", "PUT"), ("x-amz-date", "content-type"), ("ETag",), 3000)
    assert cors_http.response_headers(m) == [
        (b"access-control-allow-origin", b"https://a.example"),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-allow-methods", b"GET, PUT"),
        (b"access-control-allow-headers", b"x-amz-date, content-type"),
        (b"access-control-expose-headers", b"ETag"),
        (b"access-control-max-age", b"3000"),
        (b"vary", b"Origin, Access-Control-Request-Headers, Access-Control-Request-Method"),
    ]


def test_response_headers_of_a_wildcard_origin() -> None:
    assert cors_http.response_headers(CorsMatch("*", False, ("GET",), (), (), None)) == [
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-methods", b"GET"),
        (b"vary", b"Origin, Access-Control-Request-Headers, Access-Control-Request-Method"),
    ]


def test_exposed_headers_that_are_not_field_names_are_left_out() -> None:
    m = CorsMatch("*", False, ("GET",), (), ("ETag", "a\r\nSet-Cookie: x=1", "caf\u00e9", "", "x-amz-meta-a"), 0)
    headers = dict(cors_http.response_headers(m))
    assert headers[b"access-control-expose-headers"] == b"ETag, x-amz-meta-a"
    assert headers[b"access-control-max-age"] == b"0"
