"""CORS rules (policy/cors.py): validation as S3 answers PutBucketCors, and which rule answers a browser."""

from __future__ import annotations

from typing import Any

import pytest

from strongroom.core import errors
from strongroom.policy import cors
from strongroom.policy.cors import CorsConfiguration, CorsMatch, CorsRule


def rule(
    origins: tuple[str, ...] = ("https://app.example",), methods: tuple[str, ...] = ("GET",), **kw: Any
) -> CorsRule:
    return CorsRule(allowed_origins=origins, allowed_methods=methods, **kw)


def config(*rules: CorsRule) -> CorsConfiguration:
    return CorsConfiguration(rules)


# --- validation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["MYMETHOD", "OPTIONS", "PATCH", "get", ""])
def test_methods_other_than_the_five_are_invalid_requests(method: str) -> None:
    with pytest.raises(errors.InvalidRequest) as ei:
        rule(methods=("GET", method))
    assert type(ei.value) is errors.InvalidRequest
    assert ei.value.message == f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"


def test_every_s3_method_is_allowed() -> None:
    assert rule(methods=cors.METHODS).allowed_methods == ("GET", "PUT", "POST", "DELETE", "HEAD")


def test_an_origin_or_a_header_holds_at_most_one_wildcard() -> None:
    with pytest.raises(errors.InvalidRequest) as ei:
        rule(origins=("https://ok.example", "*example*.com"))
    assert ei.value.message == 'AllowedOrigin "*example*.com" can not have more than one wildcard.'
    with pytest.raises(errors.InvalidRequest) as ei:
        rule(allowed_headers=("x-amz-*", "*-*"))
    assert ei.value.message == 'AllowedHeader "*-*" can not have more than one wildcard.'
    with pytest.raises(errors.InvalidRequest) as ei:
        rule(expose_headers=("ETag", "x-amz-*"))
    assert ei.value.message == (
        'ExposeHeader "x-amz-*" contains wildcard. We currently do not support wildcard for ExposeHeader.'
    )
    assert rule(origins=("*",), allowed_headers=("*",)).allowed_headers == ("*",)


def test_structure_errors_are_malformed() -> None:
    with pytest.raises(errors.MalformedConfiguration):
        rule(origins=())
    with pytest.raises(errors.MalformedConfiguration):
        rule(methods=())
    with pytest.raises(errors.MalformedConfiguration):
        config()
    with pytest.raises(errors.MalformedConfiguration):
        config(*[rule()] * (cors.MAX_RULES + 1))
    assert len(config(*[rule()] * cors.MAX_RULES).rules) == 100
    for age in (-1, cors.MAX_AGE_SECONDS + 1, True):
        with pytest.raises(errors.MalformedConfiguration):
            rule(max_age_seconds=age)
    assert rule(max_age_seconds=0).max_age_seconds == 0


def test_ids_up_to_255_characters() -> None:
    assert rule(id="r" * 255).id == "r" * 255
    with pytest.raises(errors.InvalidArgument) as ei:
        rule(id="r" * 256)
    assert ei.value.message == "ID length should not exceed allowed limit of 255"


def test_the_order_of_checks_is_methods_then_origins() -> None:
    with pytest.raises(errors.InvalidRequest) as ei:
        rule(origins=("**",), methods=("BAD",))
    assert "Unsupported method is BAD" in ei.value.message


def test_json_round_trip_keeps_order_and_optional_fields() -> None:
    c = config(
        rule(("https://b.example", "https://a.example"), ("PUT", "GET"), allowed_headers=("X-Amz-*",), id="one"),
        rule(("*",), ("HEAD",), expose_headers=("ETag", "x-amz-request-id"), max_age_seconds=3000),
    )
    assert CorsConfiguration.from_json(c.to_json()) == c
    assert '"headers"' not in c.to_json().split("},{")[1]  # an absent field is not stored as empty


# --- matching ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "origin", "matches"),
    [
        ("https://app.example", "https://app.example", True),
        ("https://app.example", "http://app.example", False),  # the scheme counts
        ("https://app.example", "https://app.example:443", False),  # and the port, as written
        ("https://app.example", "https://app.example/", False),
        ("https://app.example", "https://APP.example", False),
        ("http://*.origin.com", "http://test.origin.com", True),
        ("http://*.origin.com", "http://a.b.origin.com", True),  # the wildcard spans dots
        ("http://*.origin.com", "http://.origin.com", True),  # and may be empty
        ("http://*.origin.com", "http://origin.com", False),
        ("http://*.origin.com", "http://test.origin.com/", False),
        ("*suffix", "foo.suffix", True),
        ("start*end", "startend", True),
        ("start*end", "start12end", True),
        ("start*end", "0start12end", False),
        ("prefix*", "prefix.suffix", True),
        ("prefix*", "bla.prefix", False),
        ("start*start", "start", False),  # the parts around the wildcard may not overlap
        ("", "", True),
    ],
)
def test_origin_patterns(pattern: str, origin: str, matches: bool) -> None:
    got = config(rule(origins=(pattern,))).match(origin, "GET")
    assert (got is not None) is matches
    if got is not None:
        assert got.allow_origin == origin and got.allow_credentials is True


def test_a_wildcard_origin_answers_star_without_credentials() -> None:
    got = config(rule(origins=("*",), methods=("GET", "PUT"), max_age_seconds=3000)).match("http://random:1234", "PUT")
    assert got == CorsMatch("*", False, ("GET", "PUT"), (), (), 3000)
    assert config(rule(origins=("*",))).match("null", "GET") is not None


def test_star_beside_specific_origins() -> None:
    c = config(rule(origins=("*", "https://app.example")))
    specific = c.match("https://app.example", "GET")
    assert specific is not None and specific.allow_origin == "https://app.example" and specific.allow_credentials
    other = c.match("https://other.example", "GET")
    assert other is not None and other.allow_origin == "*" and not other.allow_credentials


def test_methods_must_be_listed_exactly() -> None:
    c = config(rule(methods=("GET",)))
    assert c.match("https://app.example", "GET") is not None
    for method in ("PUT", "HEAD", "get", "OPTIONS"):
        assert c.match("https://app.example", method) is None


def test_requested_headers_match_case_insensitively_with_wildcards() -> None:
    c = config(
        rule(allowed_headers=("x-amz-expected-bucket-owner", "X-AMZ-server-SIDE-encryption", "x-amz-meta-*")),
    )
    ok = c.match("https://app.example", "GET", ("x-amz-expected-bucket-owner", "x-amz-server-side-encryption"))
    assert ok is not None and ok.allow_headers == ("x-amz-expected-bucket-owner", "x-amz-server-side-encryption")
    assert c.match("https://app.example", "GET", ("x-amz-meta-colour",)) is not None
    assert c.match("https://app.example", "GET", ("x-amz-meta-",)) is not None
    assert c.match("https://app.example", "GET", ("x-amz-request-payer",)) is None
    assert c.match("https://app.example", "GET", ("x-amz-meta-a", "content-type")) is None  # every one must match
    star = config(rule(allowed_headers=("*",))).match("https://app.example", "GET", ("authorization", "x-a"))
    assert star is not None and star.allow_headers == ("authorization", "x-a")


def test_a_rule_without_allowed_headers_allows_none_requested() -> None:
    c = config(rule(origins=("*",)))
    assert c.match("localhost:4566", "GET") is not None
    assert c.match("localhost:4566", "GET", ("x-amz-request-payer",)) is None


def test_the_first_matching_rule_answers() -> None:
    c = config(
        rule(origins=("https://a.example",), methods=("PUT",), max_age_seconds=1),
        rule(origins=("https://*.example",), methods=("GET", "PUT"), expose_headers=("ETag",), max_age_seconds=2),
        rule(origins=("*",), methods=("GET",), max_age_seconds=3),
    )
    assert c.match("https://a.example", "PUT") == CorsMatch("https://a.example", True, ("PUT",), (), (), 1)
    assert c.match("https://a.example", "GET") == CorsMatch("https://a.example", True, ("GET", "PUT"), (), ("ETag",), 2)
    assert c.match("https://b.other", "GET") == CorsMatch("*", False, ("GET",), (), (), 3)
    assert c.match("https://b.other", "PUT") is None


def test_requested_headers_parsing() -> None:
    assert cors.requested_headers(None) == ()
    assert cors.requested_headers("") == ()
    assert cors.requested_headers("x-amz-request-payer, X-Amz-Expected-Bucket-Owner") == (
        "x-amz-request-payer",
        "x-amz-expected-bucket-owner",
    )
    assert cors.requested_headers("content-type,x-amz-date,,  content-type ,\tb") == ("content-type", "x-amz-date", "b")


# --- preflights ---------------------------------------------------------------------------------------------------


def test_preflight_order_of_answers() -> None:
    c = config(rule(methods=("GET", "PUT"), max_age_seconds=3000))
    with pytest.raises(errors.InvalidPreflight) as bad:
        cors.preflight(c, None, "GET", (), "OBJECT")
    assert bad.value.message == "Insufficient information. Origin request header needed."
    with pytest.raises(errors.InvalidPreflight):
        cors.preflight(None, "", None, (), "OBJECT")  # an empty Origin is none, before anything else
    with pytest.raises(errors.CORSForbidden) as off:
        cors.preflight(None, "https://app.example", None, (), "OBJECT")
    assert off.value.message == "CORSResponse: CORS is not enabled for this bucket."
    assert off.value.context == {"Method": "OPTIONS", "ResourceType": "BUCKET"}
    with pytest.raises(errors.CORSForbidden) as off:
        cors.preflight(None, "https://app.example", "PUT", (), "OBJECT")
    assert off.value.context == {"Method": "PUT", "ResourceType": "BUCKET"}
    for method, shown in ((None, "null"), ("PATCH", "PATCH"), ("get", "get")):
        with pytest.raises(errors.InvalidPreflight) as bad:
            cors.preflight(c, "https://app.example", method, (), "OBJECT")
        assert bad.value.message == f"Invalid Access-Control-Request-Method: {shown}"
    with pytest.raises(errors.CORSForbidden) as no:
        cors.preflight(c, "http://app.example", "PUT", (), "OBJECT")
    assert no.value.message == cors.NOT_ALLOWED
    assert no.value.context == {"Method": "PUT", "ResourceType": "OBJECT"}
    with pytest.raises(errors.CORSForbidden) as no:
        cors.preflight(c, "https://app.example", "DELETE", (), "BUCKET")
    assert no.value.context == {"Method": "DELETE", "ResourceType": "BUCKET"}
    assert cors.preflight(c, "https://app.example", "PUT", (), "OBJECT") == CorsMatch(
        "https://app.example", True, ("GET", "PUT"), (), (), 3000
    )
