"""postpolicy.py: browser POST forms made by boto3's generate_presigned_post, accepted and refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.config import Config

from strongroom.http.s3.errors import S3Error
from strongroom.http.s3.postpolicy import PostPolicyResult, attempted, missing_field, verify_post_policy

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
ACCESS = "AKIASTRONGROOMTEST01"
SECRET = "p0st/policy+secret"


def lookup(access_key: str) -> str | None:
    return SECRET if access_key == ACCESS else None


def presigned_post(
    key: str = "uploads/${filename}",
    fields: dict[str, str] | None = None,
    conditions: list[Any] | None = None,
    expires: int = 3600,
    signature_version: str | None = "s3v4",
) -> dict[str, str]:
    session = boto3.session.Session(aws_access_key_id=ACCESS, aws_secret_access_key=SECRET, region_name="us-east-1")
    client = session.client(
        "s3", endpoint_url="https://localhost:8443", config=Config(signature_version=signature_version)
    )
    naive = NOW.replace(tzinfo=None)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=naive),
        mock.patch("botocore.signers.get_current_datetime", return_value=naive),
    ):
        post = client.generate_presigned_post("bkt", key, Fields=fields, Conditions=conditions, ExpiresIn=expires)
    # The caller lower-cases field names, as S3 treats them case-insensitively.
    return {name.lower(): value for name, value in post["fields"].items()}


def verify(form: dict[str, str], now: datetime = NOW, content_length: int | None = None, **kw: Any) -> PostPolicyResult:
    return verify_post_policy(form, lookup, now, content_length, bucket=kw.pop("bucket", "bkt"), **kw)


def refused(call: Callable[[], object]) -> S3Error:
    with pytest.raises(S3Error) as info:
        call()
    return info.value


RICH_FIELDS = {
    "acl": "public-read",
    "Content-Type": "image/png",
    "x-amz-meta-tag": "v1",
    "success_action_status": "201",
}
RICH_CONDITIONS: list[Any] = [
    {"acl": "public-read"},
    ["starts-with", "$Content-Type", "image/"],
    ["eq", "$x-amz-meta-tag", "v1"],
    {"success_action_status": "201"},
    ["content-length-range", 10, 1000],
]


def rich_form() -> dict[str, str]:
    return presigned_post(fields=dict(RICH_FIELDS), conditions=list(RICH_CONDITIONS))


def sign_policy(policy: dict[str, Any], date: str = "20260314") -> tuple[str, str]:
    encoded = base64.b64encode(json.dumps(policy).encode()).decode()
    key = ("AWS4" + SECRET).encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return encoded, hmac.new(key, encoded.encode(), hashlib.sha256).hexdigest()


def custom_form(conditions: list[Any], expiration: str = "2026-03-14T16:00:00.000Z", **fields: str) -> dict[str, str]:
    base = {
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": f"{ACCESS}/20260314/us-east-1/s3/aws4_request",
        "x-amz-date": "20260314T150926Z",
    }
    all_conditions = [{name: value} for name, value in base.items()] + conditions
    policy, signature = sign_policy({"expiration": expiration, "conditions": all_conditions})
    return {**base, **fields, "policy": policy, "x-amz-signature": signature}


# --- accepted ---------------------------------------------------------------------------


def test_boto3_presigned_post_is_accepted() -> None:
    form = presigned_post(key="plain/key.txt")
    result = verify(form)
    assert result == PostPolicyResult(access_key=ACCESS, content_length_range=None)


def test_boto3_presigned_post_with_fields_and_conditions() -> None:
    form = rich_form()
    assert form["key"] == "uploads/${filename}"
    result = verify(form, content_length=5000)  # the request may be larger than the file
    assert result.content_length_range == (10, 1000)
    result.check_content_length(10)
    result.check_content_length(1000)
    assert refused(lambda: result.check_content_length(9)).code == "EntityTooSmall"
    err = refused(lambda: result.check_content_length(1001))
    assert err.code == "EntityTooLarge" and err.extra["MaxSizeAllowed"] == "1000"
    # x-ignore-* fields need no condition.
    verify({**form, "x-ignore-tracking": "anything"})
    # A submitted key that still starts with the allowed prefix.
    verify({**form, "key": "uploads/photo.png"})


def test_policy_valid_until_expiration() -> None:
    form = presigned_post(expires=60)
    verify(form, now=NOW + timedelta(seconds=59))
    err = refused(lambda: verify(form, now=NOW + timedelta(seconds=60)))
    assert (err.code, err.message) == ("AccessDenied", "Invalid according to Policy: Policy expired.")


# --- refused ----------------------------------------------------------------------------


def test_tampered_fields_fail_their_condition() -> None:
    form = rich_form()
    cases = {
        "key": "elsewhere/photo.png",
        "acl": "private",
        "content-type": "text/html",
        "x-amz-meta-tag": "v2",
        "success_action_status": "200",
    }
    for name, value in cases.items():
        err = refused(lambda n=name, v=value: verify({**form, n: v}))  # type: ignore[misc]
        assert err.code == "AccessDenied", name
        assert err.message.startswith("Invalid according to Policy: Policy Condition failed:"), err.message
    # A missing conditioned field fails too.
    form_without_acl = {k: v for k, v in form.items() if k != "acl"}
    assert refused(lambda: verify(form_without_acl)).code == "AccessDenied"


def test_wrong_bucket_is_refused() -> None:
    err = refused(lambda: verify(presigned_post(), bucket="other"))
    assert err.code == "AccessDenied" and '"$bucket"' in err.message
    # Without the bucket the POST went to, a bucket condition cannot hold.
    form = presigned_post()
    assert refused(lambda: verify_post_policy(form, lookup, NOW, None)).code == "AccessDenied"
    verify_post_policy({**form, "bucket": "bkt"}, lookup, NOW, None)


def test_extra_fields_are_refused() -> None:
    form = presigned_post()
    err = refused(lambda: verify({**form, "x-amz-meta-evil": "1", "cache-control": "no-cache"}))
    assert (err.code, err.message) == (
        "AccessDenied",
        "Invalid according to Policy: Extra input fields: cache-control, x-amz-meta-evil",
    )


def test_signature_and_credentials() -> None:
    form = presigned_post()
    policy = json.loads(base64.b64decode(form["policy"]))
    policy["conditions"].append(["starts-with", "$key", ""])
    forged = {**form, "policy": base64.b64encode(json.dumps(policy).encode()).decode()}
    assert refused(lambda: verify(forged)).code == "SignatureDoesNotMatch"
    assert refused(lambda: verify({**form, "x-amz-signature": "0" * 64})).code == "SignatureDoesNotMatch"
    assert refused(lambda: verify({**form, "x-amz-signature": "zz"})).code == "SignatureDoesNotMatch"
    unknown = {**form, "x-amz-credential": form["x-amz-credential"].replace(ACCESS, "AKIAUNKNOWN")}
    assert refused(lambda: verify(unknown)).code == "InvalidAccessKeyId"
    for bad in (
        "nope",
        f"{ACCESS}/20260314/us-east-1/ec2/aws4_request",
        f"{ACCESS}/2026-03-14/us-east-1/s3/aws4_request",
    ):
        assert refused(lambda b=bad: verify({**form, "x-amz-credential": b})).code == "InvalidArgument"  # type: ignore[misc]
    assert refused(lambda: verify({**form, "x-amz-date": "20260315T000000Z"})).code == "InvalidArgument"
    assert refused(lambda: verify({**form, "x-amz-algorithm": "AWS4-HMAC-SHA1"})).code == "InvalidArgument"


def test_required_fields() -> None:
    form = presigned_post()
    for name in ("policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"):
        err = refused(lambda n=name: verify({k: v for k, v in form.items() if k != n}))  # type: ignore[misc]
        assert err.code == "InvalidArgument" and err.extra["ArgumentName"] == name


def test_a_sigv2_form_is_accepted_and_its_signature_checked() -> None:
    form = presigned_post(signature_version=None)  # boto3's default for presigned POST is SigV2
    assert "awsaccesskeyid" in form and "signature" in form and "x-amz-signature" not in form
    assert verify(form).access_key == ACCESS
    v2_rich = presigned_post(fields=dict(RICH_FIELDS), conditions=list(RICH_CONDITIONS), signature_version=None)
    assert verify(v2_rich).content_length_range == (10, 1000)
    bad = dict(form, signature=form["signature"][:-2] + "A=")
    err = refused(lambda: verify(bad))
    assert (err.code, err.extra) == ("SignatureDoesNotMatch", {"AWSAccessKeyId": ACCESS})
    assert refused(lambda: verify(dict(form, awsaccesskeyid="AKIANOBODY"))).code == "InvalidAccessKeyId"
    missing = {k: v for k, v in form.items() if k != "signature"}
    err = refused(lambda: verify(missing))
    assert (err.code, err.extra["ArgumentName"]) == ("InvalidArgument", "signature")
    # a policy condition still binds a V2 form
    err = refused(lambda: verify(dict(v2_rich, acl="private")))
    assert err.code == "AccessDenied" and "acl" in err.message
    err = refused(lambda: verify(form, now=NOW + timedelta(hours=2)))
    assert (err.code, err.message) == ("AccessDenied", "Invalid according to Policy: Policy expired.")


def test_a_sigv2_form_is_refused_when_sigv2_is_off() -> None:
    form = presigned_post(signature_version=None)
    err = refused(lambda: verify(form, sigv2_enabled=False))
    assert err.code == "InvalidRequest" and "AWS4-HMAC-SHA256" in err.message


def test_request_too_small_for_the_minimum() -> None:
    form = rich_form()
    err = refused(lambda: verify(form, content_length=9))
    assert err.code == "EntityTooSmall"


def test_policy_document_errors() -> None:
    good = custom_form([{"bucket": "bkt"}, {"key": "k"}], key="k")
    verify(good)
    malformed: list[dict[str, str]] = [
        custom_form([{"bucket": "bkt"}, ["matches", "$key", "k"]], key="k"),
        custom_form([{"bucket": "bkt"}, ["eq", "key", "k"]], key="k"),
        custom_form([{"bucket": "bkt"}, ["eq", "$key"]], key="k"),
        custom_form([{"bucket": "bkt"}, {"key": 5}], key="k"),
        custom_form([{"bucket": "bkt"}, {}], key="k"),
        custom_form([{"bucket": "bkt"}, ["content-length-range", 10, 5]], key="k"),
        custom_form([{"bucket": "bkt"}, ["content-length-range", "ten", 5]], key="k"),
        custom_form([{"bucket": "bkt"}, ["content-length-range", True, 5]], key="k"),
        custom_form([{"bucket": "bkt"}, "key"], key="k"),
        custom_form([{"bucket": "bkt"}], expiration="tomorrow"),
    ]
    for form in malformed:
        assert refused(lambda f=form: verify(f)).code == "InvalidPolicyDocument", form  # type: ignore[misc]
    # A policy without expiration, or that is not a JSON object.
    policy, signature = sign_policy({"conditions": []})
    no_expiry = {**good, "policy": policy, "x-amz-signature": signature}
    assert refused(lambda: verify(no_expiry)).code == "InvalidPolicyDocument"
    policy, signature = sign_policy([])  # type: ignore[arg-type]
    assert refused(lambda: verify({**good, "policy": policy, "x-amz-signature": signature})).code == (
        "InvalidPolicyDocument"
    )
    # Both expiration spellings, and string bounds in content-length-range.
    verify(custom_form([{"bucket": "bkt"}, {"key": "k"}], expiration="2026-03-14T16:00:00Z", key="k"))
    ranged = verify(custom_form([{"bucket": "bkt"}, {"key": "k"}, ["content-length-range", "1", "9"]], key="k"))
    assert ranged.content_length_range == (1, 9)


def test_condition_names_are_case_insensitive_values_are_not() -> None:
    form = custom_form(
        [{"bucket": "bkt"}, ["starts-with", "$Key", "Up/"], ["eq", "$CONTENT-TYPE", "image/png"]],
        key="Up/x",
        **{"content-type": "image/png"},
    )
    verify(form)
    assert refused(lambda: verify({**form, "key": "up/x"})).code == "AccessDenied"
    listed = custom_form(
        [{"bucket": "bkt"}, {"key": "k"}, ["starts-with", "$Content-Type", "image/"]],
        key="k",
        **{"content-type": "image/png, image/jpeg"},
    )
    verify(listed)
    assert refused(lambda: verify({**listed, "content-type": "image/png, text/html"})).code == "AccessDenied"


def test_policy_nested_past_the_json_decoder_is_invalid_json() -> None:
    """A signed policy nested deeper than the JSON decoder goes (RecursionError, not ValueError) is S3's
    InvalidPolicyDocument, not an internal error."""
    form = custom_form([{"bucket": "bkt"}, {"key": "k"}], key="k")
    key = ("AWS4" + SECRET).encode()
    for part in ("20260314", "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    for raw in (b"[" * 5000 + b"]" * 5000, b'{"expiration": "2026-03-14T16:00:00.000Z", "conditions": ' + b"[" * 5000):
        encoded = base64.b64encode(raw)
        signature = hmac.new(key, encoded, hashlib.sha256).hexdigest()
        nested = {**form, "policy": encoded.decode(), "x-amz-signature": signature}
        assert refused(lambda f=nested: verify(f)).code == "InvalidPolicyDocument"  # type: ignore[misc]


def test_content_length_range_bound_of_thousands_of_digits_is_invalid() -> None:
    """A bound is a length (at most 19 digits): int() refuses a digit string past 4300 digits with ValueError."""
    for bound in ("9" * 5000, "9" * 20):
        form = custom_form([{"bucket": "bkt"}, {"key": "k"}, ["content-length-range", "0", bound]], key="k")
        assert refused(lambda f=form: verify(f)).code == "InvalidPolicyDocument"  # type: ignore[misc]
    form = custom_form([{"bucket": "bkt"}, {"key": "k"}, ["content-length-range", "0", "9" * 19]], key="k")
    assert verify(form).content_length_range == (0, int("9" * 19))


def test_the_signature_version_is_the_s3_signatureversion_condition_value() -> None:
    """A V2 form is "AWS" to a bucket policy's s3:signatureversion, as a V2 request is; a V4 form AWS4-HMAC-SHA256."""
    assert verify(presigned_post()).signature_version == "AWS4-HMAC-SHA256"
    assert verify(presigned_post(signature_version=None)).signature_version == "AWS"


def test_a_form_without_any_signing_field_is_anonymous() -> None:
    assert not attempted({"key": "k", "acl": "public-read", "x-amz-meta-a": "1", "success_action_status": "201"})
    for name in ("policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"):
        assert attempted({"key": "k", name: ""}), name
    for name in ("awsaccesskeyid", "signature"):
        assert attempted({"key": "k", name: "x"}), name
    assert attempted(presigned_post()) and attempted(presigned_post(signature_version=None))


def test_missing_field_is_s3s_answer() -> None:
    err = missing_field("key")
    assert (err.status, err.code, err.message, err.extra) == (
        400,
        "InvalidArgument",
        "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
        {"ArgumentName": "key", "ArgumentValue": ""},
    )
