"""strongroom.http.s3.accessxml: access-control bodies as botocore sends and parses them, exact rendered bytes,
and the S3 error for every malformed document."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.parsers import RestXMLParser
from botocore.serialize import create_serializer

from strongroom.http.s3 import accessxml as ax
from strongroom.http.s3.errors import S3Error
from strongroom.http.s3.xml import MAX_XML_BODY
from strongroom.policy import acl as A
from strongroom.policy.acl import Acl, Grant, Grantee, PublicAccessBlock

MODEL = botocore.session.get_session().get_service_model("s3")
SERIALIZER = create_serializer("rest-xml", include_validation=True)
NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'

OWNER = "a" * 64
OTHER = "0123456789abcdef" * 4
NAMES = {OWNER: "alice", OTHER: "carol"}


def resolve(canonical_id: str) -> str | None:
    return NAMES.get(canonical_id)


def botocore_body(operation: str, params: dict[str, Any]) -> bytes:
    body = SERIALIZER.serialize_to_request(params, MODEL.operation_model(operation))["body"]
    assert isinstance(body, bytes)
    return body


def botocore_parse(operation: str, body: bytes) -> dict[str, Any]:
    """What a boto3 user sees for a response with this body."""
    parsed = RestXMLParser().parse(
        {"body": body, "headers": {}, "status_code": 200}, MODEL.operation_model(operation).output_shape
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


def raises(code: str, parse: Any, body: bytes, *args: Any) -> S3Error:
    with pytest.raises(S3Error) as info:
        parse(body, *args)
    assert info.value.code == code
    assert info.value.status == 400
    return info.value


SAMPLE = Acl(
    OWNER,
    "alice",
    (
        Grant(Grantee.user(OWNER, "alice"), "FULL_CONTROL"),
        Grant(Grantee.user(OTHER), "WRITE"),
        Grant(Grantee.group(A.ALL_USERS), "READ"),
        Grant(Grantee.group(A.LOG_DELIVERY), "READ_ACP"),
    ),
)


# --- AccessControlPolicy: rendering ---------------------------------------------------


def test_render_access_control_policy_exact_bytes() -> None:
    tricky = Acl(OWNER, "a&<b>", (Grant(Grantee.user(OTHER, 'c"d'), "READ"),))
    assert ax.render_access_control_policy(tricky) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Owner><ID>" + OWNER.encode() + b"</ID><DisplayName>a&amp;&lt;b&gt;</DisplayName></Owner>"
        b"<AccessControlList>"
        b'<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">'
        b"<ID>" + OTHER.encode() + b"</ID><DisplayName>c&quot;d</DisplayName></Grantee>"
        b"<Permission>READ</Permission></Grant>"
        b"</AccessControlList></AccessControlPolicy>"
    )


def test_render_group_grant_and_empty_list() -> None:
    acl = Acl(OWNER, None, (Grant(Grantee.group(A.AUTHENTICATED_USERS), "WRITE_ACP"),))
    assert ax.render_access_control_policy(acl).endswith(
        b"<Owner><ID>" + OWNER.encode() + b"</ID></Owner><AccessControlList>"
        b'<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">'
        b"<URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers</URI></Grantee>"
        b"<Permission>WRITE_ACP</Permission></Grant></AccessControlList></AccessControlPolicy>"
    )
    assert ax.render_access_control_policy(Acl(OWNER, "alice")).endswith(
        b"<AccessControlList></AccessControlList></AccessControlPolicy>"
    )


@pytest.mark.parametrize("operation", ["GetBucketAcl", "GetObjectAcl"])
def test_botocore_parses_rendered_acl(operation: str) -> None:
    assert botocore_parse(operation, ax.render_access_control_policy(SAMPLE)) == {
        "Owner": {"ID": OWNER, "DisplayName": "alice"},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": OWNER, "DisplayName": "alice"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "CanonicalUser", "ID": OTHER}, "Permission": "WRITE"},
            {"Grantee": {"Type": "Group", "URI": A.ALL_USERS}, "Permission": "READ"},
            {"Grantee": {"Type": "Group", "URI": A.LOG_DELIVERY}, "Permission": "READ_ACP"},
        ],
    }


# --- AccessControlPolicy: parsing -----------------------------------------------------


def test_parse_round_trip_takes_tenant_names() -> None:
    parsed = ax.parse_access_control_policy(ax.render_access_control_policy(SAMPLE), resolve)
    assert parsed.owner_id == OWNER and parsed.owner_name == "alice"
    assert [(g.grantee, g.permission) for g in parsed.grants] == [
        (Grantee.user(OWNER, "alice"), "FULL_CONTROL"),
        (Grantee.user(OTHER, "carol"), "WRITE"),  # the name comes from the tenant, not the document
        (Grantee.group(A.ALL_USERS), "READ"),
        (Grantee.group(A.LOG_DELIVERY), "READ_ACP"),
    ]


def test_parse_what_botocore_sends() -> None:
    body = botocore_body(
        "PutBucketAcl",
        {
            "Bucket": "b",
            "AccessControlPolicy": {
                "Owner": {"ID": OWNER, "DisplayName": "someone else"},
                "Grants": [
                    {"Grantee": {"Type": "CanonicalUser", "ID": OTHER.upper()}, "Permission": "READ"},
                    {"Grantee": {"Type": "Group", "URI": A.AUTHENTICATED_USERS}, "Permission": "WRITE"},
                ],
            },
        },
    )
    acl = ax.parse_access_control_policy(body, resolve)
    assert acl == Acl(
        OWNER,
        "alice",
        (
            Grant(Grantee.user(OTHER, "carol"), "READ"),
            Grant(Grantee.group(A.AUTHENTICATED_USERS), "WRITE"),
        ),
    )


def test_parse_without_namespace_and_empty_list() -> None:
    body = f"<AccessControlPolicy><Owner><ID>{OWNER}</ID></Owner><AccessControlList/></AccessControlPolicy>".encode()
    assert ax.parse_access_control_policy(body, resolve) == Acl(OWNER, "alice", ())


def acp(grants: str, owner: str = f"<Owner><ID>{OWNER}</ID></Owner>") -> bytes:
    return f"<AccessControlPolicy {NS}>{owner}<AccessControlList>{grants}</AccessControlList></AccessControlPolicy>".encode()


def grant(grantee: str, permission: str = "READ", kind: str = "CanonicalUser", attrs: str | None = None) -> str:
    attributes = f'{XSI} xsi:type="{kind}"' if attrs is None else attrs
    return f"<Grant><Grantee {attributes}>{grantee}</Grantee><Permission>{permission}</Permission></Grant>"


USER = f"<ID>{OTHER}</ID>"

MALFORMED_ACL = {
    "empty": b"",
    "not xml": b"AccessControlPolicy",
    "truncated": acp(grant(USER))[:-5],
    "wrong root": acp(grant(USER)).replace(b"AccessControlPolicy", b"AccessControlPolicies"),
    "foreign namespace": acp(grant(USER)).replace(NS.encode(), b'xmlns="http://example.com/"'),
    "dtd": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]>' + acp(grant(USER)),
    "no owner": f"<AccessControlPolicy><AccessControlList>{grant(USER)}</AccessControlList></AccessControlPolicy>".encode(),
    "owner without id": acp(grant(USER), owner="<Owner><DisplayName>alice</DisplayName></Owner>"),
    "two owners": acp(grant(USER), owner=f"<Owner><ID>{OWNER}</ID></Owner><Owner><ID>{OWNER}</ID></Owner>"),
    "owner with children in id": acp(grant(USER), owner=f"<Owner><ID><x>{OWNER}</x></ID></Owner>"),
    "no list": f"<AccessControlPolicy><Owner><ID>{OWNER}</ID></Owner></AccessControlPolicy>".encode(),
    "unknown element": acp(grant(USER) + "<Extra/>"),
    "stray text": acp("text" + grant(USER)),
    "unknown permission": acp(grant(USER, "FULL_CONTROLL")),
    "lowercase permission": acp(grant(USER, "read")),
    "no permission": acp(f'<Grant><Grantee {XSI} xsi:type="CanonicalUser">{USER}</Grantee></Grant>'),
    "two permissions": acp(grant(USER).replace("</Grant>", "<Permission>READ</Permission></Grant>")),
    "no grantee": acp("<Grant><Permission>READ</Permission></Grant>"),
    "no xsi:type": acp(grant(USER, attrs="")),
    "unprefixed type": acp(grant(USER, attrs='type="CanonicalUser"')),
    "unknown xsi:type": acp(grant(USER, kind="Tenant")),
    "extra attribute": acp(grant(USER, attrs=f'{XSI} xsi:type="CanonicalUser" id="x"')),
    "user without id": acp(grant("<DisplayName>x</DisplayName>")),
    "user with uri": acp(grant(USER + f"<URI>{A.ALL_USERS}</URI>")),
    "group without uri": acp(grant("", kind="Group")),
    "group with id": acp(grant(f"<URI>{A.ALL_USERS}</URI>{USER}", kind="Group")),
    "too many grants": acp(grant(USER) * (A.MAX_GRANTS + 1)),
    "oversized": acp(grant(USER) + " " * MAX_XML_BODY),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_ACL))
def test_malformed_access_control_policy(name: str) -> None:
    error = raises("MalformedACLError", ax.parse_access_control_policy, MALFORMED_ACL[name], resolve)
    assert error.message == "The XML you provided was not well-formed or did not validate against our published schema."


def test_at_most_max_grants_is_fine() -> None:
    acl = ax.parse_access_control_policy(acp(grant(USER) * A.MAX_GRANTS), resolve)
    assert len(acl.grants) == A.MAX_GRANTS


@pytest.mark.parametrize(
    ("owner_id", "grantee_id", "bad"),
    [("f" * 64, OTHER, "f" * 64), ("badid", OTHER, "badid"), (OWNER, "f" * 64, "f" * 64), (OWNER, "0123", "0123")],
)
def test_acl_unknown_id(owner_id: str, grantee_id: str, bad: str) -> None:
    body = acp(grant(f"<ID>{grantee_id}</ID>"), owner=f"<Owner><ID>{owner_id}</ID></Owner>")
    error = raises("InvalidArgument", ax.parse_access_control_policy, body, resolve)
    assert error.message == "Invalid id"
    assert error.extra == {"ArgumentName": "id", "ArgumentValue": bad}


def test_acl_unknown_group() -> None:
    uri = "http://acs.amazonaws.com/groups/global/Authenticated"
    error = raises("InvalidArgument", ax.parse_access_control_policy, acp(grant(f"<URI>{uri}</URI>", kind="Group")), resolve)
    assert error.message == "Invalid group uri"
    assert error.extra == {"ArgumentName": "uri", "ArgumentValue": uri}


def test_acl_grant_by_email() -> None:
    body = botocore_body(
        "PutObjectAcl",
        {
            "Bucket": "b",
            "Key": "k",
            "AccessControlPolicy": {
                "Owner": {"ID": OWNER},
                "Grants": [{"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "x@y.z"}, "Permission": "READ"}],
            },
        },
    )
    error = raises("UnresolvableGrantByEmailAddress", ax.parse_access_control_policy, body, resolve)
    assert error.message == "The e-mail address you provided does not match any account on record."
    assert error.extra == {"EmailAddress": "x@y.z"}


def test_acl_schema_checked_before_ids_are_resolved() -> None:
    calls: list[str] = []

    def spy(canonical_id: str) -> str | None:
        calls.append(canonical_id)
        return NAMES.get(canonical_id)

    raises("MalformedACLError", ax.parse_access_control_policy, acp(grant(USER) + grant(USER, "ALL")), spy)
    assert calls == []


# --- PublicAccessBlockConfiguration --------------------------------------------------------


def test_render_public_access_block_exact_bytes() -> None:
    assert ax.render_public_access_block(PublicAccessBlock(True, False, True, False)) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls>"
        b"<BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets>"
        b"</PublicAccessBlockConfiguration>"
    )


def test_botocore_parses_rendered_public_access_block() -> None:
    assert botocore_parse("GetPublicAccessBlock", ax.render_public_access_block(PublicAccessBlock(False, True, False, True))) == {
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": False,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        }
    }


@pytest.mark.parametrize("block", [A.ALL_ON, A.ALL_OFF, PublicAccessBlock(True, False, False, True)])
def test_public_access_block_round_trips_through_botocore(block: PublicAccessBlock) -> None:
    settings = {
        "BlockPublicAcls": block.block_public_acls,
        "IgnorePublicAcls": block.ignore_public_acls,
        "BlockPublicPolicy": block.block_public_policy,
        "RestrictPublicBuckets": block.restrict_public_buckets,
    }
    body = botocore_body("PutPublicAccessBlock", {"Bucket": "b", "PublicAccessBlockConfiguration": settings})
    assert ax.parse_public_access_block(body) == block
    assert ax.parse_public_access_block(ax.render_public_access_block(block)) == block


def test_public_access_block_absent_settings_are_false() -> None:
    body = b"<PublicAccessBlockConfiguration><IgnorePublicAcls> TRUE </IgnorePublicAcls></PublicAccessBlockConfiguration>"
    assert ax.parse_public_access_block(body) == PublicAccessBlock(ignore_public_acls=True)
    assert ax.parse_public_access_block(b"<PublicAccessBlockConfiguration/>") == A.ALL_OFF


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<PublicAccessBlockConfiguration>",
        b"<PublicAccessBlock/>",
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>1</BlockPublicAcls></PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration><BlockPublicAcls/></PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>"
        b"<BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration><BlockPublicAccess>true</BlockPublicAccess></PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration>x<BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>",
        b'<!DOCTYPE x [<!ENTITY e "true">]><PublicAccessBlockConfiguration/>',
        b"<PublicAccessBlockConfiguration>" + b" " * MAX_XML_BODY + b"</PublicAccessBlockConfiguration>",
    ],
)
def test_malformed_public_access_block(body: bytes) -> None:
    raises("MalformedXML", ax.parse_public_access_block, body)


# --- OwnershipControls ------------------------------------------------------------------------


def test_render_ownership_controls_exact_bytes() -> None:
    assert ax.render_ownership_controls("BucketOwnerEnforced") == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<OwnershipControls xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>"
    )
    with pytest.raises(ValueError):
        ax.render_ownership_controls("BucketOwner")


@pytest.mark.parametrize("value", A.OWNERSHIP_VALUES)
def test_ownership_controls_through_botocore(value: str) -> None:
    body = botocore_body(
        "PutBucketOwnershipControls", {"Bucket": "b", "OwnershipControls": {"Rules": [{"ObjectOwnership": value}]}}
    )
    assert ax.parse_ownership_controls(body) == value
    assert botocore_parse("GetBucketOwnershipControls", ax.render_ownership_controls(value)) == {
        "OwnershipControls": {"Rules": [{"ObjectOwnership": value}]}
    }


def rules(*inner: str) -> bytes:
    return ("<OwnershipControls>" + "".join(f"<Rule>{r}</Rule>" for r in inner) + "</OwnershipControls>").encode()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<OwnershipControls/>",
        rules(),
        rules("<ObjectOwnership>ObjectWriter</ObjectOwnership>", "<ObjectOwnership>ObjectWriter</ObjectOwnership>"),
        rules(""),
        rules("<ObjectOwnership>BucketOwner</ObjectOwnership>"),
        rules("<ObjectOwnership>bucketownerenforced</ObjectOwnership>"),
        rules("<ObjectOwnership></ObjectOwnership>"),
        rules("<ObjectOwnership>ObjectWriter</ObjectOwnership><ObjectOwnership>ObjectWriter</ObjectOwnership>"),
        rules("<ObjectOwnership>ObjectWriter</ObjectOwnership><Extra/>"),
        b"<Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>",
        b"<OwnershipControls><ObjectOwnership>ObjectWriter</ObjectOwnership></OwnershipControls>",
    ],
)
def test_malformed_ownership_controls(body: bytes) -> None:
    raises("MalformedXML", ax.parse_ownership_controls, body)


# --- PolicyStatus ---------------------------------------------------------------------------------


@pytest.mark.parametrize("is_public", [True, False])
def test_policy_status(is_public: bool) -> None:
    body = ax.render_policy_status(is_public)
    text = "true" if is_public else "false"
    assert body == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<PolicyStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<IsPublic>" + text.encode() + b"</IsPublic></PolicyStatus>"
    )
    assert botocore_parse("GetBucketPolicyStatus", body) == {"PolicyStatus": {"IsPublic": is_public}}


# --- domain errors from strongroom.policy.acl on the wire --------------------------------------------


def test_acl_domain_errors_reach_the_wire_with_their_elements() -> None:
    from strongroom.core import errors
    from strongroom.http.s3.errors import from_domain

    with pytest.raises(errors.InvalidArgument) as canned:
        A.canned_acl("world-writable", owner_id=OWNER, owner_name="alice", for_object=False)
    wire = from_domain(canned.value)
    assert (wire.code, wire.status, wire.message) == ("InvalidArgument", 400, "")
    assert wire.extra == {"ArgumentName": "x-amz-acl", "ArgumentValue": "world-writable"}

    with pytest.raises(errors.UnresolvableGrantByEmailAddress) as email:
        A.acl_from_grant_headers(
            {"x-amz-grant-read": "emailAddress=x@y.z"}, owner_id=OWNER, owner_name="alice", resolve_id=resolve
        )
    wire = from_domain(email.value)
    assert (wire.code, wire.message) == (
        "UnresolvableGrantByEmailAddress",
        "The e-mail address you provided does not match any account on record.",
    )
    assert wire.extra == {"EmailAddress": "x@y.z"}

    with pytest.raises(errors.InvalidRequest) as both:
        A.acl_from_grant_headers(
            {"x-amz-acl": "private", "x-amz-grant-read": f"id={OTHER}"}, owner_id=OWNER, owner_name="a", resolve_id=resolve
        )
    wire = from_domain(both.value)
    assert (wire.code, wire.message, wire.extra) == (
        "InvalidRequest",
        "Specifying both Canned ACLs and Header Grants is not allowed",
        {},
    )

    with pytest.raises(errors.AccessControlListNotSupported) as enforced:
        A.check_acl_allowed("BucketOwnerEnforced", None, "public-read")
    wire = from_domain(enforced.value)
    assert (wire.code, wire.status, wire.message) == ("AccessControlListNotSupported", 400, "The bucket does not allow ACLs")
