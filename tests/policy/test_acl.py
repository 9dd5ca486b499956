"""strongroom.policy.acl: canned ACL tables, grant headers and every rejection, the permission mapping,
evaluation with and without IgnorePublicAcls, public access block merging, object ownership checks."""

from __future__ import annotations

import pytest

from strongroom.core import errors
from strongroom.policy import acl as A
from strongroom.policy.acl import Acl, Grant, Grantee, PublicAccessBlock

OWNER = "a" * 64
BUCKET_OWNER = "b" * 64
OTHER = "0123456789abcdef" * 4
UNKNOWN = "f" * 64
NAMES = {OWNER: "alice", BUCKET_OWNER: "bob", OTHER: "carol"}

ALICE_FC = Grant(Grantee.user(OWNER, "alice"), "FULL_CONTROL")


def resolve(canonical_id: str) -> str | None:
    return NAMES.get(canonical_id)


def table(acl: Acl) -> list[tuple[str, str]]:
    """Grants as (grantee, permission), the grantee being its id or uri."""
    return [(g.grantee.id or g.grantee.uri or "", g.permission) for g in acl.grants]


# --- values -------------------------------------------------------------------


def test_constants() -> None:
    assert A.ALL_USERS == "http://acs.amazonaws.com/groups/global/AllUsers"
    assert A.AUTHENTICATED_USERS == "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
    assert A.LOG_DELIVERY == "http://acs.amazonaws.com/groups/s3/LogDelivery"
    assert set(A.PERMISSIONS) == {"FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP"}
    assert A.OWNERSHIP_VALUES == ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")


@pytest.mark.parametrize("permission", ["read", "FULL_CONTROLL", "", "WRITE ", "ALL"])
def test_unknown_permission_is_refused_at_construction(permission: str) -> None:
    with pytest.raises(ValueError):
        Grant(Grantee.user(OWNER), permission)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Grantee("CanonicalUser"),
        lambda: Grantee("CanonicalUser", id="A" * 64),
        lambda: Grantee("CanonicalUser", id="a" * 63),
        lambda: Grantee("CanonicalUser", id=OWNER, uri=A.ALL_USERS),
        lambda: Grantee("Group", uri="http://acs.amazonaws.com/groups/global/Everyone"),
        lambda: Grantee("Group", uri=A.ALL_USERS, id=OWNER),
        lambda: Grantee("AmazonCustomerByEmail", id=OWNER),  # type: ignore[arg-type]
        lambda: Acl("not-hex", "alice"),
        lambda: Acl(OWNER, "alice", (ALICE_FC,) * (A.MAX_GRANTS + 1)),
    ],
)
def test_bad_values_never_exist(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_acl_takes_a_list_and_keeps_a_tuple() -> None:
    acl = Acl(OWNER, "alice", [ALICE_FC])  # type: ignore[arg-type]
    assert acl.grants == (ALICE_FC,)
    with pytest.raises(TypeError):
        Acl(OWNER, "alice", ("FULL_CONTROL",))  # type: ignore[arg-type]


def test_acl_json_is_compact_stable_and_round_trips() -> None:
    acl = Acl(OWNER, "alice", (ALICE_FC, Grant(Grantee.group(A.ALL_USERS), "READ"), Grant(Grantee.user(OTHER), "WRITE")))
    text = acl.to_json()
    assert text == (
        '{"grants":[{"id":"' + OWNER + '","name":"alice","permission":"FULL_CONTROL","type":"CanonicalUser"},'
        '{"permission":"READ","type":"Group","uri":"http://acs.amazonaws.com/groups/global/AllUsers"},'
        '{"id":"' + OTHER + '","permission":"WRITE","type":"CanonicalUser"}],'
        '"owner":{"id":"' + OWNER + '","name":"alice"},"v":1}'
    )
    assert Acl.from_json(text) == acl
    assert Acl.from_json(text).to_json() == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        '{"v":2,"owner":{"id":"' + OWNER + '"},"grants":[]}',
        '{"v":1,"owner":{"id":"' + OWNER + '"},"grants":[],"extra":1}',
        '{"v":1,"owner":{"id":"nope"},"grants":[]}',
        '{"v":1,"owner":{"id":"' + OWNER + '"},"grants":{}}',
        '{"v":1,"owner":{"id":"' + OWNER + '"},"grants":[{"type":"Group","uri":"x","permission":"READ"}]}',
        '{"v":1,"owner":{"id":"' + OWNER + '"},"grants":[{"type":"Group","uri":"'
        + A.ALL_USERS
        + '","permission":"ALL"}]}',
    ],
)
def test_acl_from_bad_json(text: str) -> None:
    with pytest.raises(ValueError):
        Acl.from_json(text)


# --- canned ACLs ------------------------------------------------------------------

CANNED_TABLE = {
    "private": [(OWNER, "FULL_CONTROL")],
    "public-read": [(OWNER, "FULL_CONTROL"), (A.ALL_USERS, "READ")],
    "public-read-write": [(OWNER, "FULL_CONTROL"), (A.ALL_USERS, "READ"), (A.ALL_USERS, "WRITE")],
    "authenticated-read": [(OWNER, "FULL_CONTROL"), (A.AUTHENTICATED_USERS, "READ")],
    "aws-exec-read": [(OWNER, "FULL_CONTROL")],
}


@pytest.mark.parametrize("for_object", [False, True])
@pytest.mark.parametrize("name", sorted(CANNED_TABLE))
def test_canned_acl_grants(name: str, for_object: bool) -> None:
    acl = A.canned_acl(
        name, owner_id=OWNER, owner_name="alice", bucket_owner_id=BUCKET_OWNER, for_object=for_object
    )
    assert acl.owner_id == OWNER and acl.owner_name == "alice"
    assert table(acl) == CANNED_TABLE[name]
    assert acl.grants[0].grantee.display_name == "alice"


def test_canned_bucket_owner_acls_on_an_object() -> None:
    read = A.canned_acl(
        "bucket-owner-read",
        owner_id=OWNER,
        owner_name="alice",
        bucket_owner_id=BUCKET_OWNER,
        bucket_owner_name="bob",
        for_object=True,
    )
    assert table(read) == [(OWNER, "FULL_CONTROL"), (BUCKET_OWNER, "READ")]
    assert read.grants[1].grantee.display_name == "bob"
    full = A.canned_acl(
        "bucket-owner-full-control",
        owner_id=OWNER,
        owner_name="alice",
        bucket_owner_id=BUCKET_OWNER,
        bucket_owner_name="bob",
        for_object=True,
    )
    assert table(full) == [(OWNER, "FULL_CONTROL"), (BUCKET_OWNER, "FULL_CONTROL")]


@pytest.mark.parametrize("name", ["bucket-owner-read", "bucket-owner-full-control"])
def test_canned_bucket_owner_acls_when_the_owner_owns_the_bucket(name: str) -> None:
    acl = A.canned_acl(name, owner_id=OWNER, owner_name="alice", bucket_owner_id=OWNER, for_object=True)
    assert table(acl) == [(OWNER, "FULL_CONTROL")]


@pytest.mark.parametrize("name", ["bucket-owner-read", "bucket-owner-full-control"])
def test_canned_bucket_owner_acls_are_ignored_on_a_bucket(name: str) -> None:
    acl = A.canned_acl(name, owner_id=OWNER, owner_name="alice", for_object=False)
    assert table(acl) == [(OWNER, "FULL_CONTROL")]


def test_canned_bucket_owner_acl_on_an_object_needs_the_bucket_owner() -> None:
    with pytest.raises(ValueError):
        A.canned_acl("bucket-owner-read", owner_id=OWNER, owner_name="alice", for_object=True)


def test_canned_log_delivery_write_on_a_bucket() -> None:
    acl = A.canned_acl("log-delivery-write", owner_id=OWNER, owner_name="alice", for_object=False)
    assert table(acl) == [(OWNER, "FULL_CONTROL"), (A.LOG_DELIVERY, "WRITE"), (A.LOG_DELIVERY, "READ_ACP")]


@pytest.mark.parametrize(
    ("name", "for_object"),
    [("world-writable", False), ("Private", False), ("", True), ("public-read ", True), ("log-delivery-write", True)],
)
def test_unknown_canned_acl(name: str, for_object: bool) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        A.canned_acl(name, owner_id=OWNER, owner_name="alice", bucket_owner_id=OWNER, for_object=for_object)
    assert type(info.value) is errors.InvalidArgument
    assert info.value.message == ""
    assert info.value.context == {"ArgumentName": "x-amz-acl", "ArgumentValue": name}


# --- grant headers ------------------------------------------------------------------


def from_headers(headers: dict[str, str]) -> Acl | None:
    return A.acl_from_grant_headers(headers, owner_id=OWNER, owner_name="alice", resolve_id=resolve)


def test_no_grant_headers_is_none() -> None:
    assert from_headers({}) is None
    assert from_headers({"x-amz-acl": "public-read", "content-type": "text/plain"}) is None


def test_grant_headers_replace_the_acl() -> None:
    acl = from_headers(
        {
            "x-amz-grant-write": f'id="{OTHER}"',
            "X-Amz-Grant-Read": f'id="{OTHER}", uri="{A.ALL_USERS}",id={BUCKET_OWNER}',
            "x-amz-grant-read-acp": f'uri="{A.AUTHENTICATED_USERS}"',
            "x-amz-grant-write-acp": f"  id = {OTHER.upper()}  ",
            "x-amz-grant-full-control": f'ID="{BUCKET_OWNER}"',
        }
    )
    assert acl is not None
    assert (acl.owner_id, acl.owner_name) == (OWNER, "alice")
    assert table(acl) == [
        (BUCKET_OWNER, "FULL_CONTROL"),
        (OTHER, "READ"),
        (A.ALL_USERS, "READ"),
        (BUCKET_OWNER, "READ"),
        (A.AUTHENTICATED_USERS, "READ_ACP"),
        (OTHER, "WRITE"),
        (OTHER, "WRITE_ACP"),
    ]
    assert [g.grantee.display_name for g in acl.grants] == ["bob", "carol", None, "bob", None, "carol", "carol"]
    assert not A.acl_grants_to(acl, OWNER)  # the owner is not added back


def test_grant_headers_with_canned_acl() -> None:
    with pytest.raises(errors.InvalidRequest) as info:
        from_headers({"x-amz-acl": "private", "x-amz-grant-read": f'id="{OTHER}"'})
    assert type(info.value) is errors.InvalidRequest
    assert info.value.message == "Specifying both Canned ACLs and Header Grants is not allowed"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "fdjklasaj",
        f'id="{OTHER}",',
        f'id="{OTHER}",,id="{OTHER}"',
        f'id="{OTHER}" id="{OTHER}"',
        'id=""',
        'id="abc',
        'id=abc"',
        f'id="{OTHER}"x',
        f'canonical="{OTHER}"',
        f'id:"{OTHER}"',
        f'="{OTHER}"',
        f'id="{OTHER}";uri="{A.ALL_USERS}"',
        'id="a\tb"',
        "x" * (A.MAX_GRANT_HEADER + 1),
    ],
)
def test_malformed_grant_header(value: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        from_headers({"x-amz-grant-full-control": value})
    assert type(info.value) is errors.InvalidArgument
    assert info.value.message == "Argument format not recognized"
    assert info.value.context == {"ArgumentName": "x-amz-grant-full-control", "ArgumentValue": value[: A.MAX_GRANT_HEADER]}


@pytest.mark.parametrize("value", ["0123", UNKNOWN, "g" * 64, "a" * 65])
def test_grant_header_unknown_id(value: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        from_headers({"x-amz-grant-read": f'id="{OTHER}", id="{value}"'})
    assert info.value.message == "Invalid id"
    assert info.value.context == {"ArgumentName": "id", "ArgumentValue": value}


@pytest.mark.parametrize(
    "uri",
    ["http://acs.amazonaws.com/groups/global/Authenticated", "http://acs.amazonaws.com/groups/global/allusers", "x"],
)
def test_grant_header_unknown_group(uri: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        from_headers({"x-amz-grant-read": f'uri="{uri}"'})
    assert info.value.message == "Invalid group uri"
    assert info.value.context == {"ArgumentName": "uri", "ArgumentValue": uri}


def test_grant_header_by_email() -> None:
    with pytest.raises(errors.UnresolvableGrantByEmailAddress) as info:
        from_headers({"x-amz-grant-read": 'emailAddress="xyz@amazon.com"'})
    assert info.value.message == "The e-mail address you provided does not match any account on record."
    assert info.value.context == {"EmailAddress": "xyz@amazon.com"}


def test_grant_headers_are_all_parsed_before_any_id_is_resolved() -> None:
    calls: list[str] = []

    def spy(canonical_id: str) -> str | None:
        calls.append(canonical_id)
        return NAMES.get(canonical_id)

    with pytest.raises(errors.InvalidArgument) as info:
        A.acl_from_grant_headers(
            {"x-amz-grant-full-control": f'id="{OTHER}"', "x-amz-grant-read": "garbage"},
            owner_id=OWNER,
            owner_name="alice",
            resolve_id=spy,
        )
    assert info.value.message == "Argument format not recognized"
    assert calls == []


def test_grant_headers_are_bounded_in_grants() -> None:
    at_limit = ",".join([f'id="{OTHER}"'] * 50)
    acl = from_headers({"x-amz-grant-read": at_limit, "x-amz-grant-write": at_limit})
    assert acl is not None and len(acl.grants) == A.MAX_GRANTS
    with pytest.raises(errors.MalformedACL):
        from_headers({"x-amz-grant-read": at_limit, "x-amz-grant-write": at_limit + f',id="{OTHER}"'})
    with pytest.raises(errors.MalformedACL):
        from_headers({"x-amz-grant-read": ",".join(["id=" + OTHER] * (A.MAX_GRANTS + 1))})


# --- permissions mapping ------------------------------------------------------------

FC = "FULL_CONTROL"


@pytest.mark.parametrize(
    ("action", "level", "expected"),
    [
        ("s3:ListBucket", "bucket", {"READ", FC}),
        ("s3:ListBucketVersions", "bucket", {"READ", FC}),
        ("s3:ListBucketMultipartUploads", "bucket", {"READ", FC}),
        ("s3:PutObject", "bucket", {"WRITE", FC}),
        ("s3:DeleteObject", "bucket", {"WRITE", FC}),
        ("s3:DeleteObjectVersion", "bucket", {"WRITE", FC}),
        ("s3:GetBucketAcl", "bucket", {"READ_ACP", FC}),
        ("s3:PutBucketAcl", "bucket", {"WRITE_ACP", FC}),
        ("S3:LISTBUCKET", "bucket", {"READ", FC}),
        ("s3:GetObject", "object", {"READ", FC}),
        ("s3:GetObjectVersion", "object", {"READ", FC}),
        ("s3:GetObjectAttributes", "object", {"READ", FC}),
        ("s3:GetObjectAcl", "object", {"READ_ACP", FC}),
        ("s3:GetObjectVersionAcl", "object", {"READ_ACP", FC}),
        ("s3:PutObjectAcl", "object", {"WRITE_ACP", FC}),
        ("s3:PutObjectVersionAcl", "object", {"WRITE_ACP", FC}),
        # no ACL mapping, or the wrong level
        ("s3:GetObject", "bucket", set()),
        ("s3:PutObject", "object", set()),
        ("s3:ListBucket", "object", set()),
        ("s3:GetBucketAcl", "object", set()),
        ("s3:PutBucketPolicy", "bucket", set()),
        ("s3:PutBucketOwnershipControls", "bucket", set()),
        ("s3:DeleteBucket", "bucket", set()),
        ("s3:*", "bucket", set()),
        ("ListBucket", "bucket", set()),
    ],
)
def test_permissions_for(action: str, level: str, expected: set[str]) -> None:
    assert A.permissions_for(action, level) == frozenset(expected)  # type: ignore[arg-type]


def test_permissions_for_unknown_level() -> None:
    with pytest.raises(ValueError):
        A.permissions_for("s3:GetObject", "account")  # type: ignore[arg-type]


# --- evaluation ------------------------------------------------------------------------

READ_SET = A.permissions_for("s3:GetObject", "object")


def acl_of(*grants: Grant) -> Acl:
    return Acl(OWNER, "alice", (ALICE_FC, *grants))


@pytest.mark.parametrize(
    ("grant", "anonymous", "signed_other", "signed_third"),
    [
        (Grant(Grantee.group(A.ALL_USERS), "READ"), True, True, True),
        (Grant(Grantee.group(A.AUTHENTICATED_USERS), "READ"), False, True, True),
        (Grant(Grantee.user(OTHER), "READ"), False, True, False),
        (Grant(Grantee.user(OTHER), "FULL_CONTROL"), False, True, False),
        (Grant(Grantee.user(OTHER), "READ_ACP"), False, False, False),
        (Grant(Grantee.group(A.LOG_DELIVERY), "READ"), False, False, False),
        (Grant(Grantee.group(A.ALL_USERS), "WRITE"), False, False, False),
    ],
)
def test_acl_allows(grant: Grant, anonymous: bool, signed_other: bool, signed_third: bool) -> None:
    acl = acl_of(grant)

    def allows(canonical_id: str | None, ignore_public: bool = False) -> bool:
        return A.acl_allows(
            acl,
            canonical_id=canonical_id,
            authenticated=canonical_id is not None,
            permission_set=READ_SET,
            ignore_public=ignore_public,
        )

    assert allows(None) is anonymous
    assert allows(OTHER) is signed_other
    assert allows(BUCKET_OWNER) is signed_third
    # IgnorePublicAcls: only grants to a tenant still count
    user_grant = grant.grantee.type == "CanonicalUser"
    assert allows(None, ignore_public=True) is False
    assert allows(OTHER, ignore_public=True) is (signed_other and user_grant)
    assert allows(BUCKET_OWNER, ignore_public=True) is (signed_third and user_grant)


def test_acl_allows_owner_grant_and_empty_permission_set() -> None:
    acl = acl_of()
    args = {"authenticated": True, "ignore_public": False}
    assert A.acl_allows(acl, canonical_id=OWNER, permission_set=READ_SET, **args) is True  # type: ignore[arg-type]
    assert A.acl_allows(acl, canonical_id=OWNER, permission_set=frozenset(), **args) is False  # type: ignore[arg-type]
    unsigned = A.acl_allows(
        acl_of(Grant(Grantee.group(A.AUTHENTICATED_USERS), "READ")),
        canonical_id=OTHER,
        authenticated=False,
        permission_set=READ_SET,
        ignore_public=False,
    )
    assert unsigned is False


@pytest.mark.parametrize(
    ("grant", "public"),
    [
        (Grant(Grantee.group(A.ALL_USERS), "READ_ACP"), True),
        (Grant(Grantee.group(A.AUTHENTICATED_USERS), "WRITE"), True),
        (Grant(Grantee.group(A.LOG_DELIVERY), "WRITE"), False),
        (Grant(Grantee.user(OTHER), "FULL_CONTROL"), False),
    ],
)
def test_acl_is_public(grant: Grant, public: bool) -> None:
    assert A.acl_is_public(acl_of(grant)) is public
    assert A.acl_is_public(acl_of()) is False


def test_acl_grants_to() -> None:
    acl = acl_of(Grant(Grantee.user(OTHER), "READ_ACP"), Grant(Grantee.group(A.ALL_USERS), "READ"))
    assert A.acl_grants_to(acl, OTHER) is True
    assert A.acl_grants_to(acl, OWNER) is True
    assert A.acl_grants_to(acl, BUCKET_OWNER) is False


# --- public access block ------------------------------------------------------------


def test_public_access_block_constants_and_merge() -> None:
    assert A.ALL_ON == PublicAccessBlock(True, True, True, True)
    assert A.ALL_OFF == PublicAccessBlock() == A.merge() == A.merge(None, None)
    tenant = PublicAccessBlock(block_public_acls=True, restrict_public_buckets=True)
    bucket = PublicAccessBlock(ignore_public_acls=True)
    assert A.merge(tenant, bucket) == PublicAccessBlock(True, True, False, True)
    assert A.merge(tenant, None) == tenant
    assert A.merge(A.ALL_OFF, A.ALL_OFF) == A.ALL_OFF
    assert A.merge(A.ALL_OFF, A.ALL_ON) == A.ALL_ON


def test_public_access_block_json() -> None:
    block = PublicAccessBlock(block_public_acls=True, block_public_policy=True)
    text = block.to_json()
    assert text == (
        '{"block_public_acls":true,"block_public_policy":true,"ignore_public_acls":false,'
        '"restrict_public_buckets":false}'
    )
    assert PublicAccessBlock.from_json(text) == block
    for bad in ("{}", '{"block_public_acls":true}', text.replace("true", "1", 1), text[:-1] + ',"x":true}', "nope"):
        with pytest.raises((ValueError, TypeError)):
            PublicAccessBlock.from_json(bad)


def test_public_access_block_needs_bools() -> None:
    with pytest.raises(TypeError):
        PublicAccessBlock(block_public_acls=1)  # type: ignore[arg-type]


# --- object ownership ---------------------------------------------------------------


@pytest.mark.parametrize("ownership", [None, "BucketOwnerPreferred", "ObjectWriter"])
def test_acls_allowed_unless_enforced(ownership: str | None) -> None:
    public = A.canned_acl("public-read", owner_id=OWNER, owner_name="alice", for_object=True)
    A.check_acl_allowed(ownership, public, "public-read")
    A.check_acl_allowed(ownership, public, None)


def test_bucket_owner_enforced_accepts() -> None:
    A.check_acl_allowed("BucketOwnerEnforced", None, None)
    A.check_acl_allowed("BucketOwnerEnforced", None, "bucket-owner-full-control")
    A.check_acl_allowed("BucketOwnerEnforced", acl_of(), None)
    A.check_acl_allowed("BucketOwnerEnforced", Acl(OWNER, "alice", (ALICE_FC, ALICE_FC)), None)


@pytest.mark.parametrize(
    ("acl", "canned"),
    [
        (None, "private"),
        (None, "public-read"),
        (None, "bucket-owner-read"),
        (acl_of(), "private"),
        (acl_of(Grant(Grantee.group(A.ALL_USERS), "READ")), None),
        (acl_of(Grant(Grantee.user(OTHER), "FULL_CONTROL")), None),
        (Acl(OWNER, "alice", (Grant(Grantee.user(OWNER), "READ"),)), None),
        (Acl(OWNER, "alice", ()), None),
    ],
)
def test_bucket_owner_enforced_refuses(acl: Acl | None, canned: str | None) -> None:
    with pytest.raises(errors.AccessControlListNotSupported) as info:
        A.check_acl_allowed("BucketOwnerEnforced", acl, canned)
    assert info.value.message == "The bucket does not allow ACLs"


def test_unknown_ownership_is_a_bug() -> None:
    with pytest.raises(ValueError):
        A.check_acl_allowed("BucketOwnerForced", None, None)
