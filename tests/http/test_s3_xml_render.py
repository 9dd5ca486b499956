"""Renderers in strongroom.http.s3.xml, checked with botocore's own response parsing.

Most tests feed the rendered bytes to botocore's RestXMLParser with the
operation's output shape; the customisations botocore layers on top (url
decoding of listings, GetBucketLocation, S3 error documents) are exercised
through a real botocore client whose HTTP send is replaced by the rendered body.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, quote_plus, unquote_plus, urlsplit

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.handlers import decode_list_object_v2
from botocore.parsers import RestXMLParser
from dateutil.tz import tzutc
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.http.s3 import xml as sx

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
MODEL = botocore.session.get_session().get_service_model("s3")

T0 = datetime(2026, 11, 28, 14, 20, 50, 123456, tzinfo=UTC)
T0_MS = datetime(2026, 11, 28, 14, 20, 50, 123000, tzinfo=tzutc())
T1 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

NASTY = "a&b<c>d\"e'f g+h%i/j\r\nk\tl ünï€😀"
# XML 1.0 cannot carry these, even as character references: only encoding-type=url can.
UNSAYABLE = "ctl\x01\x1f-end"


def parse(operation: str, body: bytes, status: int = 200) -> dict[str, Any]:
    """botocore's own parse of a response body for ``operation``."""
    shape = MODEL.operation_model(operation).output_shape
    parsed = RestXMLParser().parse({"body": body, "headers": {}, "status_code": status}, shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


def root_of(body: bytes) -> ET.Element:
    return ET.fromstring(body)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self._body


class FakeS3:
    """A botocore client whose every request is answered with a canned body."""

    def __init__(self) -> None:
        self.client = botocore.session.get_session().create_client(
            "s3",
            region_name="us-east-1",
            endpoint_url="http://strongroom.invalid",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        self.body = b""
        self.status = 200
        self.headers: dict[str, str] = {}
        self.last_url = ""
        self.client.meta.events.register("before-send.s3", self._send)

    def _send(self, request: Any, **kwargs: Any) -> AWSResponse:
        self.last_url = request.url
        return AWSResponse(request.url, self.status, self.headers, _Raw(self.body))

    def answer(self, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.body, self.status, self.headers = body, status, headers or {}

    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.last_url).query, keep_blank_values=True)


@pytest.fixture(scope="module")
def s3() -> FakeS3:
    return FakeS3()


def obj(key: str, **kw: Any) -> sx.ObjectEntry:
    return sx.ObjectEntry(key=key, last_modified=T0, etag='"0123abcd"', size=42, **kw)


# --- document shape ---------------------------------------------------------


def test_every_document_has_the_prolog_and_the_s3_namespace_on_its_root() -> None:
    rule = sx.EncryptionRule("AES256")
    bodies = [
        sx.render_list_buckets("o", None, []),
        sx.render_location("local"),
        sx.render_encryption_configuration(rule),
        sx.render_list_objects_v1("b", None, None, None, 1000, False, None, [], [], None),
        sx.render_list_objects_v2("b", None, None, 1000, 0, False, None, None, None, [], [], None, False),
        sx.render_list_object_versions(
            "b", None, None, None, None, 1000, False, None, None, [], [], [], None
        ),
        sx.render_delete_result([], [], False),
        sx.render_copy_object_result('"e"', T0),
        sx.render_copy_part_result('"e"', T0),
        sx.render_initiate_multipart("b", "k", "u"),
        sx.render_complete_multipart("l", "b", "k", '"e"'),
        sx.render_list_parts("b", "k", "u", 0, None, 1000, False, [], "o"),
        sx.render_list_multipart_uploads("b", None, None, None, None, None, None, 1000, False, [], [], None),
        sx.render_get_object_attributes(None, None, None, None, 1),
    ]
    for body in bodies:
        assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        assert root_of(body).tag.startswith(NS)


def test_error_and_post_response_roots_have_no_namespace_as_s3_sends_them() -> None:
    assert root_of(sx.render_error("NoSuchKey", "m", None, "r")).tag == "Error"
    assert root_of(sx.render_post_object_result("l", "b", "k", '"e"')).tag == "PostResponse"


# --- timestamps -------------------------------------------------------------


def test_timestamps_are_utc_with_milliseconds_and_z() -> None:
    assert sx.format_timestamp(datetime(2026, 11, 28, 14, 20, 50, tzinfo=UTC)) == "2026-11-28T14:20:50.000Z"
    assert sx.format_timestamp(T0) == "2026-11-28T14:20:50.123Z"
    plus_two = timezone(timedelta(hours=2))
    assert sx.format_timestamp(datetime(2026, 1, 1, 1, 0, 0, 999999, tzinfo=plus_two)) == (
        "2025-12-31T23:00:00.999Z"
    )
    assert (
        sx.format_timestamp(datetime(2026, 11, 28, 14, 20, 50)) == "2026-11-28T14:20:50.000Z"
    )  # naive = UTC
    assert sx.format_timestamp(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05.000Z"


# --- ListBuckets / location / encryption --------------------------------------


def test_list_buckets() -> None:
    body = sx.render_list_buckets(
        "owner-1",
        "Öwner & co",
        [sx.BucketEntry("alpha", T0, "local"), sx.BucketEntry("beta", T1)],
        continuation_token="tok+/=",
        prefix="al",
    )
    assert parse("ListBuckets", body) == {
        "Owner": {"ID": "owner-1", "DisplayName": "Öwner & co"},
        "Buckets": [
            {"Name": "alpha", "CreationDate": T0_MS, "BucketRegion": "local"},
            {"Name": "beta", "CreationDate": T1},
        ],
        "ContinuationToken": "tok+/=",
        "Prefix": "al",
    }


def test_list_buckets_empty_and_without_display_name() -> None:
    assert parse("ListBuckets", sx.render_list_buckets("owner-1", None, [])) == {
        "Owner": {"ID": "owner-1"},
        "Buckets": [],
    }


@pytest.mark.parametrize(
    ("region", "expected"), [("local", "local"), ("eu-west-1", "eu-west-1"), ("us-east-1", None)]
)
def test_location_through_botocores_get_bucket_location_handler(
    s3: FakeS3, region: str, expected: str | None
) -> None:
    s3.answer(sx.render_location(region))
    assert s3.client.get_bucket_location(Bucket="b")["LocationConstraint"] == expected


def test_encryption_configuration_aes256() -> None:
    body = sx.render_encryption_configuration(sx.EncryptionRule("AES256"))
    assert parse("GetBucketEncryption", body) == {
        "ServerSideEncryptionConfiguration": {
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
            ]
        }
    }


def test_encryption_configuration_kms_round_trips_through_the_parser() -> None:
    rule = sx.EncryptionRule("aws:kms", "arn:aws:kms:local:1:key/k&<1>", bucket_key_enabled=True)
    body = sx.render_encryption_configuration(rule)
    assert parse("GetBucketEncryption", body)["ServerSideEncryptionConfiguration"]["Rules"] == [
        {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": "arn:aws:kms:local:1:key/k&<1>",
            },
            "BucketKeyEnabled": True,
        }
    ]
    assert sx.parse_encryption_configuration(body) == rule


def test_encryption_rule_is_validated_at_construction() -> None:
    with pytest.raises(ValueError):
        sx.EncryptionRule("DES")
    with pytest.raises(ValueError):
        sx.EncryptionRule("AES256", kms_master_key_id="k")


# --- ListObjects v1 -----------------------------------------------------------


def test_list_objects_v1_plain() -> None:
    body = sx.render_list_objects_v1(
        bucket="bkt",
        prefix="p/",
        marker="p/a",
        delimiter="/",
        max_keys=2,
        is_truncated=True,
        next_marker="p/z",
        contents=[obj("p/" + NASTY, owner_id="oid", owner_name="on"), obj("p/b", storage_class="GLACIER")],
        common_prefixes=["p/d/", "p/e&f/"],
        encoding_type=None,
    )
    assert parse("ListObjects", body) == {
        "Name": "bkt",
        "Prefix": "p/",
        "Marker": "p/a",
        "NextMarker": "p/z",
        "MaxKeys": 2,
        "Delimiter": "/",
        "IsTruncated": True,
        "Contents": [
            {
                "Key": "p/" + NASTY,
                "LastModified": T0_MS,
                "ETag": '"0123abcd"',
                "Size": 42,
                "Owner": {"ID": "oid", "DisplayName": "on"},
                "StorageClass": "STANDARD",
            },
            {
                "Key": "p/b",
                "LastModified": T0_MS,
                "ETag": '"0123abcd"',
                "Size": 42,
                "StorageClass": "GLACIER",
            },
        ],
        "CommonPrefixes": [{"Prefix": "p/d/"}, {"Prefix": "p/e&f/"}],
    }


def test_list_objects_v1_empty() -> None:
    body = sx.render_list_objects_v1("bkt", None, None, None, 1000, False, None, [], [], None)
    assert parse("ListObjects", body) == {
        "Name": "bkt",
        "Prefix": "",
        "Marker": "",
        "MaxKeys": 1000,
        "IsTruncated": False,
    }


def test_list_objects_v1_url_encoding_round_trips_through_botocore(s3: FakeS3) -> None:
    keys = ["d/" + NASTY, "d/" + UNSAYABLE]
    s3.answer(
        sx.render_list_objects_v1(
            "bkt", "d/ x", "d/ m+", "\r", 1000, True, keys[-1], [obj(k) for k in keys], ["d/\x01 /"], "url"
        )
    )
    out = s3.client.list_objects(Bucket="bkt")
    assert s3.query()["encoding-type"] == ["url"]  # botocore asked, so botocore decodes
    assert [c["Key"] for c in out["Contents"]] == keys
    assert out["Marker"] == "d/ m+"
    assert out["NextMarker"] == keys[-1]
    assert out["Delimiter"] == "\r"
    assert out["CommonPrefixes"] == [{"Prefix": "d/\x01 /"}]
    # S3 encodes the v1 Prefix too; botocore leaves it encoded (it does so against AWS as well).
    assert out["Prefix"] == "d/+x" == quote_plus("d/ x", safe="/")
    assert out["EncodingType"] == "url"


# --- ListObjects v2 -----------------------------------------------------------


def test_list_objects_v2_plain_without_owner() -> None:
    body = sx.render_list_objects_v2(
        bucket="bkt",
        prefix=None,
        delimiter=None,
        max_keys=1000,
        key_count=2,
        is_truncated=False,
        continuation_token=None,
        next_continuation_token=None,
        start_after=None,
        contents=[
            obj(NASTY, owner_id="oid", checksum_algorithm="crc32", checksum_type="FULL_OBJECT"),
            obj("é"),
        ],
        common_prefixes=[],
        encoding_type=None,
        fetch_owner=False,
    )
    assert parse("ListObjectsV2", body) == {
        "Name": "bkt",
        "Prefix": "",
        "KeyCount": 2,
        "MaxKeys": 1000,
        "IsTruncated": False,
        "Contents": [
            {
                "Key": NASTY,
                "LastModified": T0_MS,
                "ETag": '"0123abcd"',
                "ChecksumAlgorithm": ["CRC32"],
                "ChecksumType": "FULL_OBJECT",
                "Size": 42,
                "StorageClass": "STANDARD",
            },
            {"Key": "é", "LastModified": T0_MS, "ETag": '"0123abcd"', "Size": 42, "StorageClass": "STANDARD"},
        ],
    }


def test_list_objects_v2_truncated_with_owner_and_tokens() -> None:
    body = sx.render_list_objects_v2(
        "bkt",
        "a",
        "/",
        1,
        2,
        True,
        "tok/1+=",
        "tok/2+=",
        "a0",
        [obj("a1", owner_id="oid")],
        ["a/"],
        None,
        True,
    )
    parsed = parse("ListObjectsV2", body)
    assert parsed["IsTruncated"] is True
    assert parsed["ContinuationToken"] == "tok/1+="
    assert parsed["NextContinuationToken"] == "tok/2+="
    assert parsed["StartAfter"] == "a0"
    assert parsed["Delimiter"] == "/"
    assert parsed["Contents"][0]["Owner"] == {"ID": "oid"}
    assert parsed["CommonPrefixes"] == [{"Prefix": "a/"}]


def test_list_objects_v2_url_encoding_round_trips_through_botocore(s3: FakeS3) -> None:
    keys = [NASTY, UNSAYABLE, "x/\U0001f600 +%2B"]
    s3.answer(
        sx.render_list_objects_v2(
            "bkt",
            "p re+",
            "\n",
            1000,
            3,
            True,
            "c+/=",
            "n+/=",
            "s a+",
            [obj(k) for k in keys],
            ["p /"],
            "url",
            False,
        )
    )
    out = s3.client.list_objects_v2(Bucket="bkt")
    assert s3.query()["encoding-type"] == ["url"]
    assert [c["Key"] for c in out["Contents"]] == keys
    assert out["Prefix"] == "p re+"
    assert out["Delimiter"] == "\n"
    assert out["StartAfter"] == "s a+"
    assert out["CommonPrefixes"] == [{"Prefix": "p /"}]
    # Tokens are opaque: never encoded, so botocore (which does not decode them) hands them back intact.
    assert out["ContinuationToken"] == "c+/="
    assert out["NextContinuationToken"] == "n+/="


def test_url_encoding_is_s3s_query_style() -> None:
    body = sx.render_list_objects_v2(
        "b", None, None, 1, 1, False, None, None, None, [obj("a b+c/d%e~f*g")], [], "url", False
    )
    key = root_of(body).find(f"{NS}Contents/{NS}Key")
    assert key is not None
    assert key.text == "a+b%2Bc/d%25e~f%2Ag"


def test_xml_unsayable_characters_are_character_references_without_url_encoding() -> None:
    body = sx.render_list_objects_v2(
        "b", None, None, 1, 1, False, None, None, None, [obj(UNSAYABLE)], [], None, False
    )
    assert b"<Key>ctl&#x1;&#x1F;-end</Key>" in body


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=5))
def test_any_key_round_trips_with_url_encoding(keys: list[str]) -> None:
    keys = [k.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k in keys]
    body = sx.render_list_objects_v2(
        "b",
        keys[0],
        keys[0],
        1000,
        len(keys),
        False,
        None,
        None,
        keys[0],
        [obj(k) for k in keys],
        keys,
        "url",
        False,
    )
    parsed = parse("ListObjectsV2", body)
    decode_list_object_v2(parsed, context={"encoding_type_auto_set": True})
    assert [c["Key"] for c in parsed["Contents"]] == keys
    assert [p["Prefix"] for p in parsed["CommonPrefixes"]] == keys
    assert parsed["Prefix"] == parsed["Delimiter"] == parsed["StartAfter"] == keys[0]


XML_TEXT = st.text(
    st.characters(
        exclude_categories=["Cs"],
        exclude_characters=[chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\ufffe", "\uffff"],
    )
)


@settings(max_examples=200, deadline=None)
@given(st.lists(XML_TEXT, max_size=5))
def test_any_xml_text_round_trips_exactly_without_url_encoding(keys: list[str]) -> None:
    body = sx.render_delete_result(
        [(k, k or None) for k in keys], [(k, "AccessDenied", k) for k in keys], False
    )
    parsed = parse("DeleteObjects", body)
    assert parsed.get("Deleted", []) == [{"Key": k, "VersionId": k} if k else {"Key": k} for k in keys]
    assert parsed.get("Errors", []) == [{"Key": k, "Code": "AccessDenied", "Message": k} for k in keys]


def test_carriage_returns_survive_xml_end_of_line_normalisation() -> None:
    body = sx.render_initiate_multipart("b", "a\rb\r\nc", "u")
    assert b"a&#13;b&#13;&#10;c" in body
    assert parse("CreateMultipartUpload", body)["Key"] == "a\rb\r\nc"


def test_bad_encoding_type_is_refused() -> None:
    with pytest.raises(ValueError):
        sx.render_list_objects_v2("b", None, None, 1, 0, False, None, None, None, [], [], "base64", False)


# --- ListObjectVersions -------------------------------------------------------


def test_list_object_versions() -> None:
    body = sx.render_list_object_versions(
        bucket="bkt",
        prefix="p",
        key_marker="p0",
        version_id_marker="null",
        delimiter="/",
        max_keys=3,
        is_truncated=True,
        next_key_marker="p9",
        next_version_id_marker="null",
        versions=[obj("p1&", owner_id="oid", owner_name="on"), obj("p2", checksum_algorithm="SHA256")],
        delete_markers=[sx.DeleteMarkerEntry("p3", "v3", T1, is_latest=False, owner_id="oid")],
        common_prefixes=["p/"],
        encoding_type=None,
    )
    version = {"LastModified": T0_MS, "ETag": '"0123abcd"', "Size": 42, "StorageClass": "STANDARD"}
    assert parse("ListObjectVersions", body) == {
        "Name": "bkt",
        "Prefix": "p",
        "KeyMarker": "p0",
        "VersionIdMarker": "null",
        "NextKeyMarker": "p9",
        "NextVersionIdMarker": "null",
        "MaxKeys": 3,
        "Delimiter": "/",
        "IsTruncated": True,
        "Versions": [
            {
                **version,
                "Key": "p1&",
                "VersionId": "null",
                "IsLatest": True,
                "Owner": {"ID": "oid", "DisplayName": "on"},
            },
            {**version, "Key": "p2", "VersionId": "null", "IsLatest": True, "ChecksumAlgorithm": ["SHA256"]},
        ],
        "DeleteMarkers": [
            {"Key": "p3", "VersionId": "v3", "IsLatest": False, "LastModified": T1, "Owner": {"ID": "oid"}}
        ],
        "CommonPrefixes": [{"Prefix": "p/"}],
    }


def test_list_object_versions_empty() -> None:
    body = sx.render_list_object_versions(
        "b", None, None, None, None, 1000, False, None, None, [], [], [], None
    )
    assert parse("ListObjectVersions", body) == {
        "Name": "b",
        "Prefix": "",
        "KeyMarker": "",
        "VersionIdMarker": "",
        "MaxKeys": 1000,
        "IsTruncated": False,
    }


def test_list_object_versions_url_encoding_round_trips_through_botocore(s3: FakeS3) -> None:
    s3.answer(
        sx.render_list_object_versions(
            "bkt",
            "p x",
            "k m+",
            "null",
            "&",
            1000,
            True,
            NASTY,
            "null",
            [obj(NASTY)],
            [sx.DeleteMarkerEntry(UNSAYABLE, "v", T1)],
            ["p x&"],
            "url",
        )
    )
    out = s3.client.list_object_versions(Bucket="bkt")
    assert s3.query()["encoding-type"] == ["url"]
    assert out["Prefix"] == "p x"
    assert out["KeyMarker"] == "k m+"
    assert out["NextKeyMarker"] == NASTY
    assert out["Delimiter"] == "&"
    assert [v["Key"] for v in out["Versions"]] == [NASTY]
    assert [d["Key"] for d in out["DeleteMarkers"]] == [UNSAYABLE]
    assert out["CommonPrefixes"] == [{"Prefix": "p x&"}]


# --- DeleteObjects ------------------------------------------------------------


def test_delete_result() -> None:
    body = sx.render_delete_result(
        [(NASTY, None), ("k2", "v2")], [("k3&", "AccessDenied", "Access <Denied>")], quiet=False
    )
    assert parse("DeleteObjects", body) == {
        "Deleted": [{"Key": NASTY}, {"Key": "k2", "VersionId": "v2"}],
        "Errors": [{"Key": "k3&", "Code": "AccessDenied", "Message": "Access <Denied>"}],
    }


def test_delete_result_quiet_lists_only_errors() -> None:
    body = sx.render_delete_result([("k1", None)], [("k3", "InternalError", "boom")], quiet=True)
    assert parse("DeleteObjects", body) == {
        "Errors": [{"Key": "k3", "Code": "InternalError", "Message": "boom"}]
    }
    assert parse("DeleteObjects", sx.render_delete_result([("k1", None)], [], quiet=True)) == {}


# --- copy ---------------------------------------------------------------------


def test_copy_object_result() -> None:
    body = sx.render_copy_object_result(
        '"abc"', T0, {"ChecksumSHA256": "c2hh", "crc32": "Y3Jj"}, checksum_type="FULL_OBJECT"
    )
    assert parse("CopyObject", body) == {
        "CopyObjectResult": {
            "ETag": '"abc"',
            "LastModified": T0_MS,
            "ChecksumType": "FULL_OBJECT",
            "ChecksumCRC32": "Y3Jj",
            "ChecksumSHA256": "c2hh",
        }
    }
    assert parse("CopyObject", sx.render_copy_object_result('"abc"', T1)) == {
        "CopyObjectResult": {"ETag": '"abc"', "LastModified": T1}
    }


def test_copy_part_result() -> None:
    assert parse("UploadPartCopy", sx.render_copy_part_result('"abc"', T0)) == {
        "CopyPartResult": {"ETag": '"abc"', "LastModified": T0_MS}
    }
    body = sx.render_copy_part_result('"abc"', T0, {"CRC64NVME": "bnZtZQ=="})
    assert parse("UploadPartCopy", body)["CopyPartResult"]["ChecksumCRC64NVME"] == "bnZtZQ=="


def test_checksum_names_are_validated() -> None:
    with pytest.raises(ValueError):
        sx.render_copy_part_result('"e"', T0, {"ADLER32": "x"})
    with pytest.raises(ValueError):
        sx.render_copy_part_result('"e"', T0, {"CRC32": "x", "ChecksumCRC32": "y"})
    with pytest.raises(ValueError):
        obj("k", checksum_algorithm="ROT13")


# --- multipart ----------------------------------------------------------------


def test_initiate_multipart() -> None:
    assert parse("CreateMultipartUpload", sx.render_initiate_multipart("bkt", NASTY, "up-1")) == {
        "Bucket": "bkt",
        "Key": NASTY,
        "UploadId": "up-1",
    }


def test_complete_multipart() -> None:
    body = sx.render_complete_multipart(
        "http://h/bkt/k%20x", "bkt", "k x&", '"abc-2"', {"CRC32C": "Y3Jj"}, checksum_type="COMPOSITE"
    )
    assert parse("CompleteMultipartUpload", body) == {
        "Location": "http://h/bkt/k%20x",
        "Bucket": "bkt",
        "Key": "k x&",
        "ETag": '"abc-2"',
        "ChecksumCRC32C": "Y3Jj",
        "ChecksumType": "COMPOSITE",
    }
    assert parse("CompleteMultipartUpload", sx.render_complete_multipart("l", "b", "k", '"e"')) == {
        "Location": "l",
        "Bucket": "b",
        "Key": "k",
        "ETag": '"e"',
    }


def test_list_parts() -> None:
    body = sx.render_list_parts(
        bucket="bkt",
        key=NASTY,
        upload_id="up",
        part_number_marker=0,
        next_part_number_marker=2,
        max_parts=2,
        is_truncated=True,
        parts=[
            sx.PartEntry(1, T0, '"p1"', 5 * 1024 * 1024, {"CRC32": "AAAAAA=="}),
            sx.PartEntry(2, T1, '"p2"', 7),
        ],
        owner_id="oid",
        owner_name="on",
        checksum_algorithm="crc32",
        checksum_type="COMPOSITE",
    )
    assert parse("ListParts", body) == {
        "Bucket": "bkt",
        "Key": NASTY,
        "UploadId": "up",
        "Initiator": {"ID": "oid", "DisplayName": "on"},
        "Owner": {"ID": "oid", "DisplayName": "on"},
        "StorageClass": "STANDARD",
        "PartNumberMarker": 0,
        "NextPartNumberMarker": 2,
        "MaxParts": 2,
        "IsTruncated": True,
        "Parts": [
            {
                "PartNumber": 1,
                "LastModified": T0_MS,
                "ETag": '"p1"',
                "Size": 5 * 1024 * 1024,
                "ChecksumCRC32": "AAAAAA==",
            },
            {"PartNumber": 2, "LastModified": T1, "ETag": '"p2"', "Size": 7},
        ],
        "ChecksumAlgorithm": "CRC32",
        "ChecksumType": "COMPOSITE",
    }


def test_list_parts_empty_with_distinct_initiator() -> None:
    body = sx.render_list_parts("b", "k", "u", 5, None, 1000, False, [], "oid", initiator_id="iid")
    assert parse("ListParts", body) == {
        "Bucket": "b",
        "Key": "k",
        "UploadId": "u",
        "Initiator": {"ID": "iid"},
        "Owner": {"ID": "oid"},
        "StorageClass": "STANDARD",
        "PartNumberMarker": 5,
        "MaxParts": 1000,
        "IsTruncated": False,
    }


def test_list_multipart_uploads() -> None:
    body = sx.render_list_multipart_uploads(
        bucket="bkt",
        key_marker="a",
        upload_id_marker="u0",
        next_key_marker="c",
        next_upload_id_marker="u9",
        prefix="",
        delimiter="/",
        max_uploads=2,
        is_truncated=True,
        uploads=[
            sx.UploadEntry(NASTY, "u1", T0, owner_id="oid", owner_name="on", checksum_algorithm="SHA1"),
            sx.UploadEntry("c", "u9", T1),
        ],
        common_prefixes=["d/"],
        encoding_type=None,
    )
    assert parse("ListMultipartUploads", body) == {
        "Bucket": "bkt",
        "KeyMarker": "a",
        "UploadIdMarker": "u0",
        "NextKeyMarker": "c",
        "NextUploadIdMarker": "u9",
        "Delimiter": "/",
        "Prefix": "",
        "MaxUploads": 2,
        "IsTruncated": True,
        "Uploads": [
            {
                "Key": NASTY,
                "UploadId": "u1",
                "Initiator": {"ID": "oid", "DisplayName": "on"},
                "Owner": {"ID": "oid", "DisplayName": "on"},
                "StorageClass": "STANDARD",
                "Initiated": T0_MS,
                "ChecksumAlgorithm": "SHA1",
            },
            {"Key": "c", "UploadId": "u9", "StorageClass": "STANDARD", "Initiated": T1},
        ],
        "CommonPrefixes": [{"Prefix": "d/"}],
    }


def test_list_multipart_uploads_empty() -> None:
    body = sx.render_list_multipart_uploads(
        "b", None, None, None, None, None, None, 1000, False, [], [], None
    )
    assert parse("ListMultipartUploads", body) == {
        "Bucket": "b",
        "KeyMarker": "",
        "UploadIdMarker": "",
        "Prefix": "",
        "MaxUploads": 1000,
        "IsTruncated": False,
    }


def test_list_multipart_uploads_url_encoding() -> None:
    # botocore has no decoding customisation for this operation; clients unquote_plus themselves.
    body = sx.render_list_multipart_uploads(
        "b",
        "k m",
        "u",
        NASTY,
        "u2",
        "p x",
        "\r",
        10,
        True,
        [sx.UploadEntry(UNSAYABLE, "u", T0)],
        ["p x/"],
        "url",
    )
    parsed = parse("ListMultipartUploads", body)
    assert parsed["EncodingType"] == "url"
    assert unquote_plus(parsed["KeyMarker"]) == "k m"
    assert unquote_plus(parsed["NextKeyMarker"]) == NASTY
    assert unquote_plus(parsed["Prefix"]) == "p x"
    assert unquote_plus(parsed["Delimiter"]) == "\r"
    assert unquote_plus(parsed["Uploads"][0]["Key"]) == UNSAYABLE
    assert unquote_plus(parsed["CommonPrefixes"][0]["Prefix"]) == "p x/"
    assert parsed["UploadIdMarker"] == "u" and parsed["NextUploadIdMarker"] == "u2"


# --- GetObjectAttributes ------------------------------------------------------


def test_get_object_attributes_all() -> None:
    body = sx.render_get_object_attributes(
        etag="abc-2",
        checksum={"CRC32": "Y3Jj"},
        object_parts={
            "TotalPartsCount": 2,
            "PartNumberMarker": 0,
            "NextPartNumberMarker": 1,
            "MaxParts": 1,
            "IsTruncated": True,
            "Parts": [{"PartNumber": 1, "Size": 5, "checksums": {"CRC32": "AAAA"}}],
        },
        storage_class="STANDARD",
        object_size=10,
        checksum_type="COMPOSITE",
    )
    assert parse("GetObjectAttributes", body) == {
        "ETag": "abc-2",
        "Checksum": {"ChecksumCRC32": "Y3Jj", "ChecksumType": "COMPOSITE"},
        "ObjectParts": {
            "TotalPartsCount": 2,
            "PartNumberMarker": 0,
            "NextPartNumberMarker": 1,
            "MaxParts": 1,
            "IsTruncated": True,
            "Parts": [{"PartNumber": 1, "Size": 5, "ChecksumCRC32": "AAAA"}],
        },
        "StorageClass": "STANDARD",
        "ObjectSize": 10,
    }


def test_get_object_attributes_only_what_was_asked() -> None:
    assert parse("GetObjectAttributes", sx.render_get_object_attributes(None, None, None, None, 0)) == {
        "ObjectSize": 0
    }
    body = sx.render_get_object_attributes("e", None, {"TotalPartsCount": 3}, None, None)
    assert parse("GetObjectAttributes", body) == {"ETag": "e", "ObjectParts": {"TotalPartsCount": 3}}


def test_get_object_attributes_accepts_flat_checksum_keys_and_a_listed_type() -> None:
    # The shape the S3 app builds: "Checksum<ALG>" keys, ChecksumType inside the checksum mapping.
    object_parts: dict[str, object] = {
        "TotalPartsCount": 1,
        "Parts": [{"PartNumber": 1, "Size": 3, "ChecksumSHA256": "c2hh"}],
    }
    body = sx.render_get_object_attributes(
        None, {"ChecksumSHA256": "d2hvbGU=", "ChecksumType": "COMPOSITE"}, object_parts, None, None
    )
    assert parse("GetObjectAttributes", body) == {
        "Checksum": {"ChecksumSHA256": "d2hvbGU=", "ChecksumType": "COMPOSITE"},
        "ObjectParts": {
            "TotalPartsCount": 1,
            "Parts": [{"PartNumber": 1, "Size": 3, "ChecksumSHA256": "c2hh"}],
        },
    }


@pytest.mark.parametrize(
    ("checksum", "object_parts", "checksum_type"),
    [
        (None, {"PartsCount": 3}, None),
        (None, {"Parts": [{"PartNumber": 1, "Size": 1, "Colour": "red"}]}, None),
        (
            None,
            {"Parts": [{"PartNumber": 1, "Size": 1, "ChecksumCRC32": "x", "checksums": {"CRC32": "y"}}]},
            None,
        ),
        (None, {"Parts": [{"PartNumber": 1, "Size": 1, "ChecksumADLER32": "x"}]}, None),
        (None, {"Parts": [{"PartNumber": 1}]}, None),
        ({"CRC32": "x", "ChecksumType": "COMPOSITE"}, None, "FULL_OBJECT"),
        ({"CRC32": "x", "Colour": "red"}, None, None),
    ],
)
def test_get_object_attributes_refuses_what_it_cannot_render(
    checksum: dict[str, str] | None, object_parts: dict[str, object] | None, checksum_type: str | None
) -> None:
    with pytest.raises((ValueError, KeyError)):
        sx.render_get_object_attributes(None, checksum, object_parts, None, None, checksum_type)


def test_checksum_type_may_come_inside_the_checksums_mapping() -> None:
    body = sx.render_complete_multipart("l", "b", "k", '"e"', {"CRC32": "x", "ChecksumType": "FULL_OBJECT"})
    assert parse("CompleteMultipartUpload", body)["ChecksumType"] == "FULL_OBJECT"
    body = sx.render_copy_object_result('"e"', T0, {"CRC32": "x", "ChecksumType": "FULL_OBJECT"})
    assert parse("CopyObject", body)["CopyObjectResult"]["ChecksumType"] == "FULL_OBJECT"


# --- POST object / errors -------------------------------------------------------


def test_post_object_result() -> None:
    root = root_of(sx.render_post_object_result("http://h/b/k%26", "b", "k&<", '"e"'))
    assert [(child.tag, child.text) for child in root] == [
        ("Location", "http://h/b/k%26"),
        ("Bucket", "b"),
        ("Key", "k&<"),
        ("ETag", '"e"'),
    ]


def test_error_through_botocores_error_parser() -> None:
    body = sx.render_error(
        "NoSuchKey",
        "The specified key does not exist.",
        "/b/k&<",
        "req-1",
        {"Key": "k&<>\"'", "BucketName": "b"},
        "host-1",
    )
    parsed = parse("GetObject", body, status=404)
    assert parsed == {
        "Error": {
            "Code": "NoSuchKey",
            "Message": "The specified key does not exist.",
            "Key": "k&<>\"'",
            "BucketName": "b",
            "Resource": "/b/k&<",
        }
    }
    children = [(child.tag, child.text) for child in root_of(body)]
    assert children[:2] == [("Code", "NoSuchKey"), ("Message", "The specified key does not exist.")]
    assert children[-3:] == [("Resource", "/b/k&<"), ("RequestId", "req-1"), ("HostId", "host-1")]


def test_error_through_a_client(s3: FakeS3) -> None:
    s3.answer(
        sx.render_error(
            "NoSuchBucket", "The specified bucket does not exist", "/nope", "req-2", {"BucketName": "nope"}
        ),
        status=404,
        headers={"x-amz-request-id": "req-2"},
    )
    with pytest.raises(ClientError) as info:
        s3.client.list_objects_v2(Bucket="nope")
    assert info.value.response["Error"] == {
        "Code": "NoSuchBucket",
        "Message": "The specified bucket does not exist",
        "BucketName": "nope",
        "Resource": "/nope",
    }
    assert info.value.response["ResponseMetadata"]["RequestId"] == "req-2"


def test_error_without_resource_or_extra() -> None:
    body = sx.render_error("InternalError", "x", None, "r")
    assert [child.tag for child in root_of(body)] == ["Code", "Message", "RequestId", "HostId"]


@pytest.mark.parametrize("name", ["", "1abc", "a b", "x><y", "Code", "RequestId"])
def test_error_extra_names_must_be_safe_element_names(name: str) -> None:
    with pytest.raises(ValueError):
        sx.render_error("InvalidArgument", "m", None, "r", {name: "v"})
