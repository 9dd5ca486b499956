"""Browser-based uploads (POST Object): the signed policy document.

The form carries a base64 JSON policy and ``x-amz-signature`` = HMAC(signing key,
the base64 policy text) (SigV4), or ``AWSAccessKeyId`` and ``signature`` = base64
HMAC-SHA1(secret, the base64 policy text) (Signature V2, unless ``sigv2 = false``).
The policy bounds the upload: an expiration, and conditions every submitted field must meet::

    {"bucket": "b"}                                 exact match
    ["eq", "$key", "uploads/a.txt"]                 exact match
    ["starts-with", "$key", "uploads/"]             prefix ("" = anything)
    ["content-length-range", 1, 10485760]           size of the file, checked by the caller

Every field but ``x-amz-signature``, ``file``, ``policy`` and ``x-ignore-*`` must be
covered by a condition. Field names are case-insensitive; values are not.

A form with none of the signing fields (:func:`attempted`) is anonymous: it has no policy, and only
what a bucket policy or ACL grants everyone allows it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from strongroom.http.s3 import sigv2
from strongroom.http.s3.errors import S3Error, s3_error
from strongroom.http.s3.sigv4 import (
    ALGORITHM,
    SERVICE,
    TERMINATOR,
    SecretLookup,
    parse_amz_date,
    sign_hex,
    signatures_equal,
    signing_key,
)

MAX_POLICY_LENGTH = 64 * 1024
_EXEMPT = frozenset({"x-amz-signature", "file", "policy"})
_REQUIRED = ("policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")
_EXEMPT_V2 = frozenset({"awsaccesskeyid", "signature", "file", "policy"})
_REQUIRED_V2 = ("awsaccesskeyid", "policy", "signature")
_V2_NAMES = {"awsaccesskeyid": "AWSAccessKeyId", "policy": "policy", "signature": "signature"}
_SIGNING = frozenset(_REQUIRED) | frozenset(_REQUIRED_V2)


def attempted(fields: Mapping[str, str]) -> bool:
    """Whether a form (names lower-cased) tries to sign: one without any signing field is anonymous."""
    return any(name in fields for name in _SIGNING)


@dataclass(frozen=True)
class PostPolicyResult:
    """A verified POST policy: who signed it (and how: the s3:signatureversion value) and the file size it allows."""

    access_key: str
    content_length_range: tuple[int, int] | None
    signature_version: str = ALGORITHM

    def check_content_length(self, length: int) -> None:
        """Refuse a file outside the policy's content-length-range (call with the file's final size)."""
        if self.content_length_range is None:
            return
        low, high = self.content_length_range
        if length < low:
            raise s3_error(
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed size",
                ProposedSize=str(length),
                MinSizeAllowed=str(low),
            )
        if length > high:
            raise s3_error(
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
                ProposedSize=str(length),
                MaxSizeAllowed=str(high),
            )


def _policy_failed(detail: str) -> S3Error:
    return s3_error("AccessDenied", f"Invalid according to Policy: {detail}")


def _invalid_policy(detail: str) -> S3Error:
    return s3_error("InvalidPolicyDocument", f"Invalid Policy: {detail}")


def missing_field(name: str) -> S3Error:
    """S3's answer to a form without a required field (or with it after the file, where S3 ignores it)."""
    return s3_error(
        "InvalidArgument",
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields.",
        ArgumentName=name,
        ArgumentValue="",
    )


def verify_post_policy(
    fields: Mapping[str, str],
    lookup: SecretLookup,
    now: datetime,
    content_length: int | None,
    *,
    bucket: str | None = None,
    sigv2_enabled: bool = True,
) -> PostPolicyResult:
    """Verify a POST form's signature and policy; raise :class:`S3Error` as S3 would.

    ``fields`` are the form fields other than the file, names lower-cased.
    ``bucket`` is the bucket the POST is addressed to (from the host or path);
    when given it is the value ``{"bucket": ...}`` conditions see. ``content_length``
    is an upper bound on the file's size (the request's Content-Length) or None:
    a request too short to reach the policy's minimum is refused here, and the
    caller checks the file's real size with :meth:`PostPolicyResult.check_content_length`.
    """
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    v2 = "awsaccesskeyid" in fields or "signature" in fields
    if v2 and not sigv2_enabled:
        raise s3_error(
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        )
    if v2:
        access_key, signed = _verify_v2(fields, lookup)
        exempt = _EXEMPT_V2
    else:
        access_key, signed = _verify_v4(fields, lookup)
        exempt = _EXEMPT

    policy = _decode_policy(signed)
    _check_expiration(policy.get("expiration"), now)
    conditions = policy.get("conditions")
    if not isinstance(conditions, list):
        raise _invalid_policy("Invalid JSON: 'conditions' must be a list.")

    values = {name.lower(): value for name, value in fields.items()}
    if bucket is not None:
        values["bucket"] = bucket
    covered: set[str] = set()
    length_range: tuple[int, int] | None = None
    for condition in conditions:
        length_range = _check_condition(condition, values, covered) or length_range

    extra = sorted(
        name
        for name in fields
        if name.lower() not in covered and name.lower() not in exempt and not name.lower().startswith("x-ignore-")
    )
    if extra:
        raise _policy_failed(f"Extra input fields: {', '.join(extra)}")
    if length_range is not None and content_length is not None and content_length < length_range[0]:
        raise s3_error(
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size",
            ProposedSize=str(content_length),
            MinSizeAllowed=str(length_range[0]),
        )
    return PostPolicyResult(
        access_key=access_key,
        content_length_range=length_range,
        signature_version=sigv2.SIGNATURE_VERSION if v2 else ALGORITHM,
    )


def _policy_bytes(fields: Mapping[str, str]) -> bytes:
    policy_b64 = fields["policy"]
    if len(policy_b64) > MAX_POLICY_LENGTH:
        raise _invalid_policy("Policy document too large.")
    try:
        return policy_b64.encode("ascii")
    except UnicodeEncodeError:
        return b""


def _verify_v4(fields: Mapping[str, str], lookup: SecretLookup) -> tuple[str, bytes]:
    """A SigV4 form: x-amz-signature = hex HMAC-SHA256(signing key, the base64 policy). (access key, policy)."""
    for name in _REQUIRED:
        if name not in fields:
            raise missing_field(name)
    if fields["x-amz-algorithm"] != ALGORITHM:
        raise s3_error(
            "InvalidArgument",
            f'X-Amz-Algorithm only supports "{ALGORITHM}"',
            ArgumentName="x-amz-algorithm",
        )
    access_key, date, region = _parse_credential(fields["x-amz-credential"])
    amz_date = fields["x-amz-date"]
    if parse_amz_date(amz_date) is None or amz_date[:8] != date:
        raise s3_error(
            "InvalidArgument",
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\" and match the credential date",
            ArgumentName="x-amz-date",
        )
    signed = _policy_bytes(fields)
    secret = lookup(access_key)
    if secret is None:
        raise s3_error("InvalidAccessKeyId", AWSAccessKeyId=access_key)
    expected = sign_hex(signing_key(secret, date, region), signed)
    if not signed or not signatures_equal(expected, fields["x-amz-signature"]):
        raise s3_error("SignatureDoesNotMatch", AWSAccessKeyId=access_key)
    return access_key, signed


def _verify_v2(fields: Mapping[str, str], lookup: SecretLookup) -> tuple[str, bytes]:
    """A Signature V2 form: signature = base64 HMAC-SHA1(secret, the base64 policy). (access key, policy)."""
    for name in _REQUIRED_V2:
        if name not in fields:
            raise missing_field(_V2_NAMES[name])
    access_key = fields["awsaccesskeyid"]
    signed = _policy_bytes(fields)
    secret = lookup(access_key)
    if secret is None:
        raise s3_error("InvalidAccessKeyId", AWSAccessKeyId=access_key[:128])
    if not signed or not sigv2.signatures_equal(sigv2.sign(secret, signed), fields["signature"]):
        raise s3_error("SignatureDoesNotMatch", AWSAccessKeyId=access_key[:128])
    return access_key, signed


def _parse_credential(value: str) -> tuple[str, str, str]:
    parts = value.split("/")
    if (
        len(parts) != 5
        or not parts[0]
        or parts[3] != SERVICE
        or parts[4] != TERMINATOR
        or len(parts[1]) != 8
        or not parts[1].isascii()
        or not parts[1].isdigit()
        or not parts[2]
        or not parts[2].isascii()
    ):
        raise s3_error(
            "InvalidArgument",
            'X-Amz-Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/s3/aws4_request".',
            ArgumentName="x-amz-credential",
        )
    return parts[0], parts[1], parts[2]


def _decode_policy(signed: bytes) -> dict[str, Any]:
    try:
        document = json.loads(base64.b64decode(signed, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise _invalid_policy("Invalid JSON.") from None
    if not isinstance(document, dict):
        raise _invalid_policy("Invalid JSON.")
    return document


def _check_expiration(value: object, now: datetime) -> None:
    if not isinstance(value, str):
        raise _invalid_policy("Policy missing expiration.")
    expiration = None
    for form in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            expiration = datetime.strptime(value, form).replace(tzinfo=UTC)
            break
        except ValueError:
            continue
    if expiration is None:
        raise _invalid_policy(f"Invalid 'expiration' value: \"{value[:64]}\"")
    if now >= expiration:
        raise _policy_failed("Policy expired.")


def _render(condition: object) -> str:
    return json.dumps(condition, separators=(", ", ": "))


def _check_condition(condition: object, values: Mapping[str, str], covered: set[str]) -> tuple[int, int] | None:
    if isinstance(condition, dict):
        if not condition:
            raise _invalid_policy("Invalid Condition: {}")
        for name, expected in condition.items():
            if not isinstance(expected, str):
                raise _invalid_policy(f"Invalid Condition: {_render(condition)}")
            field = name.lower().removeprefix("$")
            if values.get(field) != expected:
                raise _policy_failed(f'Policy Condition failed: ["eq", "${field}", {json.dumps(expected)}]')
            covered.add(field)
        return None
    if not isinstance(condition, list) or not condition or not isinstance(condition[0], str):
        raise _invalid_policy(f"Invalid Condition: {_render(condition)}")
    operator = condition[0].lower()
    if operator == "content-length-range":
        if len(condition) != 3:
            raise _invalid_policy(f"Invalid Condition: {_render(condition)}")
        low, high = _as_int(condition[1], condition), _as_int(condition[2], condition)
        if low < 0 or high < low:
            raise _invalid_policy(f"Invalid Condition: {_render(condition)}")
        return low, high
    if operator not in ("eq", "starts-with") or len(condition) != 3:
        raise _invalid_policy(f"Invalid Condition: {_render(condition)}")
    target, expected = condition[1], condition[2]
    if not isinstance(target, str) or not target.startswith("$") or not isinstance(expected, str):
        raise _invalid_policy(f"Invalid Condition: {_render(condition)}")
    field = target[1:].lower()
    actual = values.get(field)
    if actual is None or not _matches(operator, field, actual, expected):
        raise _policy_failed(f"Policy Condition failed: {_render(condition)}")
    covered.add(field)
    return None


def _matches(operator: str, field: str, actual: str, expected: str) -> bool:
    if operator == "eq":
        return actual == expected
    if field == "content-type":
        # S3 accepts a comma-separated Content-Type list when every entry has the prefix.
        return all(part.strip().startswith(expected) for part in actual.split(","))
    return actual.startswith(expected)


def _as_int(value: object, condition: object) -> int:
    if isinstance(value, bool):
        raise _invalid_policy(f"Invalid Condition: {_render(condition)}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:  # a 64-bit length
        return int(value)
    raise _invalid_policy(f"Invalid Condition: {_render(condition)}")
