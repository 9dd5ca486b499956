"""Pure S3 access-control values: ACLs, canned ACLs, grant headers, public access blocks, object ownership.

Nothing here does I/O. Tenants are S3 "accounts": each has a canonical user id
(64 lowercase hex digits) and a display name (the tenant name); callers pass
them in, and pass ``resolve_id`` to turn a canonical id from a request into a
display name (``None`` for an id that belongs to no tenant).

In strongroom the bucket's tenant always has full control of its bucket and
the objects in it; the caller enforces that. An ACL's role is to add grants
for others, and the helpers below answer questions about those grants only.

Errors are the domain errors of :mod:`strongroom.core.errors`; their
``context`` carries the extra elements S3 puts in its error document
(``ArgumentName``, ``ArgumentValue``, ``EmailAddress``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final, Literal

from strongroom.core import errors

__all__ = [
    "ALL_OFF",
    "ALL_ON",
    "ALL_USERS",
    "AUTHENTICATED_USERS",
    "CANNED_ACLS",
    "FULL_CONTROL",
    "GRANT_HEADERS",
    "GROUP_URIS",
    "LOG_DELIVERY",
    "MAX_GRANTS",
    "MAX_GRANT_HEADER",
    "OWNERSHIP_VALUES",
    "PERMISSIONS",
    "READ",
    "READ_ACP",
    "WRITE",
    "WRITE_ACP",
    "Acl",
    "Grant",
    "Grantee",
    "PublicAccessBlock",
    "acl_allows",
    "acl_from_grant_headers",
    "acl_grants_to",
    "acl_is_public",
    "canned_acl",
    "check_acl_allowed",
    "is_canonical_id",
    "merge",
    "permissions_for",
    "resolve_user",
]

# --- constants ----------------------------------------------------------------

FULL_CONTROL: Final = "FULL_CONTROL"
READ: Final = "READ"
WRITE: Final = "WRITE"
READ_ACP: Final = "READ_ACP"
WRITE_ACP: Final = "WRITE_ACP"
#: In botocore's model order.
PERMISSIONS: Final = (FULL_CONTROL, WRITE, WRITE_ACP, READ, READ_ACP)

ALL_USERS: Final = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS: Final = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY: Final = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUP_URIS: Final = frozenset({ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY})
_PUBLIC_GROUPS: Final = frozenset({ALL_USERS, AUTHENTICATED_USERS})

CANNED_ACLS: Final = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
)

#: Grant header -> the permission it grants, in botocore's model order (GrantFullControl, GrantRead...).
GRANT_HEADERS: Final = {
    "x-amz-grant-full-control": FULL_CONTROL,
    "x-amz-grant-read": READ,
    "x-amz-grant-read-acp": READ_ACP,
    "x-amz-grant-write": WRITE,
    "x-amz-grant-write-acp": WRITE_ACP,
}

#: S3 allows at most 100 grants in one ACL.
MAX_GRANTS: Final = 100
#: Longest grant header value parsed (100 quoted canonical ids fit in 7,400 bytes).
MAX_GRANT_HEADER: Final = 8192

OWNERSHIP_VALUES: Final = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")

_CANONICAL_ID: Final = re.compile(r"[0-9a-f]{64}", re.ASCII)
_JSON_VERSION: Final = 1


def is_canonical_id(value: str) -> bool:
    """Whether ``value`` has the form of a canonical user id: 64 lowercase hex digits."""
    return isinstance(value, str) and _CANONICAL_ID.fullmatch(value) is not None


# --- values -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grantee:
    """Who a grant is to: a tenant (``CanonicalUser``: ``id``, ``display_name``) or a ``Group`` (``uri``)."""

    type: Literal["CanonicalUser", "Group"]
    id: str | None = None
    display_name: str | None = None
    uri: str | None = None

    def __post_init__(self) -> None:
        if self.type == "CanonicalUser":
            if self.id is None or not is_canonical_id(self.id):
                raise ValueError("a CanonicalUser grantee needs a 64-hex-digit canonical id")
            if self.uri is not None:
                raise ValueError("a CanonicalUser grantee has no uri")
            if self.display_name is not None and not isinstance(self.display_name, str):
                raise TypeError("display_name must be a str")
        elif self.type == "Group":
            if self.uri not in GROUP_URIS:
                raise ValueError(f"unknown group uri {self.uri!r}")
            if self.id is not None or self.display_name is not None:
                raise ValueError("a Group grantee has only a uri")
        else:
            raise ValueError(f"unknown grantee type {self.type!r}")

    @classmethod
    def user(cls, canonical_id: str, display_name: str | None = None) -> Grantee:
        return cls("CanonicalUser", id=canonical_id, display_name=display_name)

    @classmethod
    def group(cls, uri: str) -> Grantee:
        return cls("Group", uri=uri)


@dataclass(frozen=True, slots=True)
class Grant:
    """One permission for one grantee."""

    grantee: Grantee
    permission: str

    def __post_init__(self) -> None:
        if not isinstance(self.grantee, Grantee):
            raise TypeError("grantee must be a Grantee")
        if self.permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {self.permission!r}")


@dataclass(frozen=True, slots=True)
class Acl:
    """An access control policy: the owner and up to :data:`MAX_GRANTS` grants, in order."""

    owner_id: str
    owner_name: str | None
    grants: tuple[Grant, ...] = ()

    def __post_init__(self) -> None:
        if not is_canonical_id(self.owner_id):
            raise ValueError("the owner needs a 64-hex-digit canonical id")
        if self.owner_name is not None and not isinstance(self.owner_name, str):
            raise TypeError("owner_name must be a str")
        grants = tuple(self.grants)
        if not all(isinstance(g, Grant) for g in grants):
            raise TypeError("grants must be Grant values")
        if len(grants) > MAX_GRANTS:
            raise ValueError(f"an ACL holds at most {MAX_GRANTS} grants")
        object.__setattr__(self, "grants", grants)

    def to_json(self) -> str:
        """Compact, stable JSON for a database column (sorted keys, no whitespace)."""
        doc = {
            "v": _JSON_VERSION,
            "owner": _drop_none({"id": self.owner_id, "name": self.owner_name}),
            "grants": [
                _drop_none(
                    {
                        "type": g.grantee.type,
                        "id": g.grantee.id,
                        "name": g.grantee.display_name,
                        "uri": g.grantee.uri,
                        "permission": g.permission,
                    }
                )
                for g in self.grants
            ],
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Acl:
        """Inverse of :meth:`to_json`; anything else is a ValueError."""
        doc = _load_object(text, {"v", "owner", "grants"})
        if doc.get("v") != _JSON_VERSION:
            raise ValueError("unknown ACL JSON version")
        owner = doc.get("owner")
        grants = doc.get("grants")
        if not isinstance(owner, dict) or not set(owner) <= {"id", "name"} or not isinstance(grants, list):
            raise ValueError("malformed ACL JSON")
        out: list[Grant] = []
        for item in grants:
            if not isinstance(item, dict) or not set(item) <= {"type", "id", "name", "uri", "permission"}:
                raise ValueError("malformed ACL JSON grant")
            grantee = Grantee(
                item.get("type", ""), id=item.get("id"), display_name=item.get("name"), uri=item.get("uri")
            )
            out.append(Grant(grantee, item.get("permission", "")))
        return cls(owner.get("id", ""), owner.get("name"), tuple(out))


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _load_object(text: str, allowed: set[str]) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ValueError("not JSON") from exc
    if not isinstance(doc, dict) or not set(doc) <= allowed:
        raise ValueError("unexpected JSON document")
    return doc


def _owner_grant(owner_id: str, owner_name: str | None) -> Grant:
    return Grant(Grantee.user(owner_id, owner_name), FULL_CONTROL)


# --- canned ACLs ----------------------------------------------------------------


def _invalid_argument(message: str, name: str, value: str) -> errors.InvalidArgument:
    exc = errors.InvalidArgument(message or "Invalid Argument", ArgumentName=name, ArgumentValue=value)
    exc.message = message  # S3 answers some of these with an empty <Message/>
    return exc


def canned_acl(
    name: str,
    *,
    owner_id: str,
    owner_name: str | None,
    bucket_owner_id: str | None = None,
    bucket_owner_name: str | None = None,
    for_object: bool,
) -> Acl:
    """The ACL a canned ``x-amz-acl`` value stands for, with the grants AWS documents.

    The owner (of the bucket, or of the object) always gets FULL_CONTROL, first.
    ``aws-exec-read`` adds no grant: its extra grant is to Amazon EC2, which has no
    counterpart here. ``bucket-owner-read`` and ``bucket-owner-full-control`` need
    ``bucket_owner_id`` on an object and are ignored on a bucket (S3 does the same);
    when the bucket owner is the object owner they add nothing to its FULL_CONTROL.
    ``log-delivery-write`` applies to buckets only.

    An unknown value is InvalidArgument with an empty message,
    ``ArgumentName=x-amz-acl`` and ``ArgumentValue=name``, as S3 answers.
    """
    if name not in CANNED_ACLS or (for_object and name == "log-delivery-write"):
        raise _invalid_argument("", "x-amz-acl", name)
    grants = [_owner_grant(owner_id, owner_name)]
    if name == "public-read":
        grants.append(Grant(Grantee.group(ALL_USERS), READ))
    elif name == "public-read-write":
        grants += [Grant(Grantee.group(ALL_USERS), READ), Grant(Grantee.group(ALL_USERS), WRITE)]
    elif name == "authenticated-read":
        grants.append(Grant(Grantee.group(AUTHENTICATED_USERS), READ))
    elif name == "log-delivery-write":
        grants += [Grant(Grantee.group(LOG_DELIVERY), WRITE), Grant(Grantee.group(LOG_DELIVERY), READ_ACP)]
    elif name in ("bucket-owner-read", "bucket-owner-full-control") and for_object:
        if bucket_owner_id is None:
            raise ValueError(f"{name} on an object needs the bucket owner")
        if bucket_owner_id != owner_id:
            permission = READ if name == "bucket-owner-read" else FULL_CONTROL
            grants.append(Grant(Grantee.user(bucket_owner_id, bucket_owner_name), permission))
    return Acl(owner_id, owner_name, tuple(grants))


# --- grant headers ---------------------------------------------------------------

#: One ``key=value`` item of a grant header; the value is quoted (no quotes inside) or a bare token.
_GRANT_ITEM: Final = re.compile(
    r'[ \t]*([A-Za-z]+)[ \t]*=[ \t]*(?:"([^"\x00-\x1f]*)"|([^",\s"]+))[ \t]*(?:,|\Z)',
    re.ASCII,
)
_GRANT_KEYS: Final = {"id": "id", "uri": "uri", "emailaddress": "emailAddress"}


def _parse_grant_header(header: str, value: str) -> list[tuple[str, str]]:
    """``id="a", uri="b"`` -> [("id", "a"), ("uri", "b")]; anything else is InvalidArgument."""
    malformed = _invalid_argument("Argument format not recognized", header, value[:MAX_GRANT_HEADER])
    if len(value) > MAX_GRANT_HEADER or not value.strip():
        raise malformed
    items: list[tuple[str, str]] = []
    pos = 0
    while pos < len(value):
        match = _GRANT_ITEM.match(value, pos)
        if match is None or match.end() == pos:
            raise malformed
        key = _GRANT_KEYS.get(match.group(1).lower())
        item = match.group(2) if match.group(2) is not None else match.group(3)
        if key is None or not item:
            raise malformed
        items.append((key, item))
        if len(items) > MAX_GRANTS:
            raise errors.MalformedACL(f"An access control list holds at most {MAX_GRANTS} grants.")
        pos = match.end()
        if value[match.end() - 1 : match.end()] == "," and not value[pos:].strip():
            raise malformed  # a trailing comma
    return items


def acl_from_grant_headers(
    headers: Mapping[str, str],
    *,
    owner_id: str,
    owner_name: str | None,
    resolve_id: Callable[[str], str | None],
) -> Acl | None:
    """The ACL given by ``x-amz-grant-*`` headers, or None when the request has none.

    Each header is a comma-separated list of ``id="<canonical id>"``,
    ``uri="<group uri>"`` or ``emailAddress="<address>"`` (quotes optional).
    As in S3 the header grants *replace* the ACL: the owner is not added
    implicitly, though an owner keeps its implicit right to read and write the
    ACL (READ_ACP, WRITE_ACP) whatever the grants say.

    Rejections, as S3 answers them:

    * ``x-amz-acl`` as well: InvalidRequest "Specifying both Canned ACLs and Header Grants is not allowed";
    * a value that does not parse: InvalidArgument "Argument format not recognized"
      (ArgumentName is the header, ArgumentValue its value);
    * an id that is malformed or names no tenant: InvalidArgument "Invalid id" (ArgumentName ``id``);
    * an unknown group: InvalidArgument "Invalid group uri" (ArgumentName ``uri``);
    * any ``emailAddress``: UnresolvableGrantByEmailAddress (grants by e-mail are not supported);
    * more than :data:`MAX_GRANTS` grants: MalformedACL.

    Every header is parsed before any id is resolved.
    """
    given = {name.lower(): value for name, value in headers.items()}
    present = [(name, given[name]) for name in GRANT_HEADERS if name in given]
    if not present:
        return None
    if "x-amz-acl" in given:
        raise errors.InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
    parsed = [(GRANT_HEADERS[name], _parse_grant_header(name, value)) for name, value in present]
    if sum(len(items) for _, items in parsed) > MAX_GRANTS:
        raise errors.MalformedACL(f"An access control list holds at most {MAX_GRANTS} grants.")
    grants: list[Grant] = []
    for permission, items in parsed:
        for key, item in items:
            grants.append(Grant(_header_grantee(key, item, resolve_id), permission))
    return Acl(owner_id, owner_name, tuple(grants))


def _header_grantee(key: str, value: str, resolve_id: Callable[[str], str | None]) -> Grantee:
    if key == "emailAddress":
        raise errors.UnresolvableGrantByEmailAddress(
            "The e-mail address you provided does not match any account on record.", EmailAddress=value
        )
    if key == "uri":
        if value not in GROUP_URIS:
            raise _invalid_argument("Invalid group uri", "uri", value)
        return Grantee.group(value)
    return resolve_user(value, resolve_id)


def resolve_user(canonical_id: str, resolve_id: Callable[[str], str | None]) -> Grantee:
    """A CanonicalUser grantee for ``canonical_id`` (hex case is ignored), with the tenant's display name.

    A malformed id, or one that names no tenant, is InvalidArgument "Invalid id".
    """
    normal = canonical_id.lower()
    name = resolve_id(normal) if is_canonical_id(normal) else None
    if name is None:
        raise _invalid_argument("Invalid id", "id", canonical_id)
    return Grantee.user(normal, name)


# --- evaluation -------------------------------------------------------------------

_ALL_LEVEL: Final = frozenset({FULL_CONTROL})


def _norm(actions: Iterable[str]) -> frozenset[str]:
    return frozenset(a.lower() for a in actions)


#: The table "Mapping of ACL permissions and access policy permissions" (action names lowercased).
_BUCKET_ACTIONS: Final = {
    READ: _norm(("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads")),
    WRITE: _norm(("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion")),
    READ_ACP: _norm(("s3:GetBucketAcl",)),
    WRITE_ACP: _norm(("s3:PutBucketAcl",)),
}
_OBJECT_ACTIONS: Final = {
    READ: _norm(
        (
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:GetObjectAttributes",
            "s3:GetObjectVersionAttributes",
            "s3:GetObjectTorrent",
        )
    ),
    WRITE: frozenset[str](),  # "Not applicable" on an object
    READ_ACP: _norm(("s3:GetObjectAcl", "s3:GetObjectVersionAcl")),
    WRITE_ACP: _norm(("s3:PutObjectAcl", "s3:PutObjectVersionAcl")),
}


def permissions_for(action: str, level: Literal["bucket", "object"]) -> frozenset[str]:
    """The ACL permissions that grant ``action`` (``"s3:GetObject"``; case-insensitive, as IAM action names are)
    when held on a bucket or on an object. FULL_CONTROL is in every non-empty answer; an action no ACL
    permission maps to gives the empty set."""
    if level == "bucket":
        table = _BUCKET_ACTIONS
    elif level == "object":
        table = _OBJECT_ACTIONS
    else:
        raise ValueError(f"unknown level {level!r}")
    wanted = action.lower()
    found = frozenset(permission for permission, actions in table.items() if wanted in actions)
    return found | _ALL_LEVEL if found else frozenset()


def acl_allows(
    acl: Acl,
    *,
    canonical_id: str | None,
    authenticated: bool,
    permission_set: frozenset[str],
    ignore_public: bool,
) -> bool:
    """Whether a grant in ``acl`` gives one of ``permission_set`` to this requester.

    A CanonicalUser grant matches the requester's tenant id; AllUsers matches
    everyone (anonymous too); AuthenticatedUsers matches signed requests. With
    ``ignore_public`` (IgnorePublicAcls) the AllUsers and AuthenticatedUsers
    grants count for nothing. LogDelivery grants match no strongroom requester.
    The owner's implicit rights are the caller's business.
    """
    for grant in acl.grants:
        if grant.permission not in permission_set:
            continue
        grantee = grant.grantee
        if grantee.type == "CanonicalUser":
            if canonical_id is not None and grantee.id == canonical_id:
                return True
        elif grantee.uri in _PUBLIC_GROUPS and not ignore_public:
            if grantee.uri == ALL_USERS or authenticated:
                return True
    return False


def acl_is_public(acl: Acl) -> bool:
    """Whether the ACL is public as S3 defines it: it grants anything to AllUsers or AuthenticatedUsers."""
    return any(g.grantee.type == "Group" and g.grantee.uri in _PUBLIC_GROUPS for g in acl.grants)


def acl_grants_to(acl: Acl, canonical_id: str) -> bool:
    """Whether the ACL has any grant to the tenant with ``canonical_id``."""
    return any(g.grantee.type == "CanonicalUser" and g.grantee.id == canonical_id for g in acl.grants)


# --- public access block -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    """The four Block Public Access settings.

    * ``block_public_acls``: PUTs that would set a public ACL (bucket or object) are refused;
    * ``ignore_public_acls``: public grants in existing ACLs are ignored when authorising;
    * ``block_public_policy``: PutBucketPolicy with a public policy is refused;
    * ``restrict_public_buckets``: a bucket with a public policy is reachable only by its own
      tenant (and services), not anonymously or cross-tenant.
    """

    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            if not isinstance(getattr(self, f.name), bool):
                raise TypeError(f"{f.name} must be a bool")

    def to_json(self) -> str:
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PublicAccessBlock:
        names = {f.name for f in fields(cls)}
        doc = _load_object(text, names)
        if set(doc) != names:
            raise ValueError("a public access block JSON document has all four settings")
        return cls(**doc)


ALL_ON: Final = PublicAccessBlock(True, True, True, True)
ALL_OFF: Final = PublicAccessBlock(False, False, False, False)


def merge(*blocks: PublicAccessBlock | None) -> PublicAccessBlock:
    """The effective block: each setting is on if it is on in any block (tenant-wide, bucket). None is absent."""
    present = [b for b in blocks if b is not None]
    return PublicAccessBlock(
        block_public_acls=any(b.block_public_acls for b in present),
        ignore_public_acls=any(b.ignore_public_acls for b in present),
        block_public_policy=any(b.block_public_policy for b in present),
        restrict_public_buckets=any(b.restrict_public_buckets for b in present),
    )


# --- object ownership ------------------------------------------------------------------


def _owner_full_control_only(acl: Acl) -> bool:
    return bool(acl.grants) and all(
        g.permission == FULL_CONTROL and g.grantee.type == "CanonicalUser" and g.grantee.id == acl.owner_id
        for g in acl.grants
    )


def check_acl_allowed(ownership: str | None, acl: Acl | None, canned: str | None) -> None:
    """Refuse what a BucketOwnerEnforced bucket refuses, with AccessControlListNotSupported.

    With ACLs disabled, a request that sets an ACL must carry none, the canned
    ``bucket-owner-full-control``, or an ACL (XML or grant headers) that grants
    FULL_CONTROL to the bucket owner and nothing else (``acl.owner_id`` is the
    bucket owner: under BucketOwnerEnforced it owns every object). A canned
    value decides on its own; any other canned value is refused. Other
    ownership settings (and None) allow ACLs. CreateBucket's own rule
    (InvalidBucketAclWithObjectOwnership) is not this check.
    """
    if ownership is not None and ownership not in OWNERSHIP_VALUES:
        raise ValueError(f"unknown object ownership {ownership!r}")
    if ownership != "BucketOwnerEnforced":
        return
    if canned is not None:
        if canned == "bucket-owner-full-control":
            return
    elif acl is None or _owner_full_control_only(acl):
        return
    raise errors.AccessControlListNotSupported("The bucket does not allow ACLs")
