"""S3 access-control bodies: AccessControlPolicy, PublicAccessBlockConfiguration, OwnershipControls, PolicyStatus.

Untrusted documents go through :mod:`strongroom.http.s3.xml`'s defusedxml
parser after its size check, so the same rules hold (no DTDs or entities, the
S3 namespace optional, unknown elements and stray text malformed). A malformed
AccessControlPolicy is ``MalformedACLError``, as S3 answers PutBucketAcl and
PutObjectAcl; a malformed document of the other kinds is ``MalformedXML``.
Rendered documents match what GetBucketAcl, GetObjectAcl, GetPublicAccessBlock,
GetBucketOwnershipControls and GetBucketPolicyStatus return, with the element
names of botocore's model.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # Element type only: parsing is defusedxml's, inside xml._parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

from strongroom.core import errors
from strongroom.http.s3.errors import S3Error, s3_error
from strongroom.http.s3.xml import (
    MAX_XML_BODY,
    _bool,
    _bool_el,
    _document,
    _el,
    _members,
    _one,
    _opt,
    _parse,
    _required,
    _text,
    _wrap,
)
from strongroom.policy.acl import (
    GROUP_URIS,
    MAX_GRANTS,
    OWNERSHIP_VALUES,
    PERMISSIONS,
    Acl,
    Grant,
    Grantee,
    PublicAccessBlock,
    resolve_user,
)

__all__ = [
    "XSI_NAMESPACE",
    "parse_access_control_policy",
    "parse_ownership_controls",
    "parse_public_access_block",
    "render_access_control_policy",
    "render_ownership_controls",
    "render_policy_status",
    "render_public_access_block",
]

XSI_NAMESPACE: Final = "http://www.w3.org/2001/XMLSchema-instance"
_XSI_TYPE: Final = "{" + XSI_NAMESPACE + "}type"
_GRANTEE_FIELDS: Final = {
    "CanonicalUser": frozenset({"ID", "DisplayName"}),
    "Group": frozenset({"URI"}),
    "AmazonCustomerByEmail": frozenset({"EmailAddress", "DisplayName"}),
}


# --- AccessControlPolicy ---------------------------------------------------------


def _malformed_acl() -> S3Error:
    return s3_error("MalformedACLError")


@contextmanager
def _as_malformed_acl() -> Iterator[None]:
    """xml.py's helpers raise MalformedXML; an AccessControlPolicy is MalformedACLError instead."""
    try:
        yield
    except S3Error as exc:
        if exc.code != "MalformedXML":
            raise
        raise _malformed_acl() from exc


def _leaf(element: ET.Element) -> str:
    """A leaf's text, stripped; a leaf with attributes is malformed."""
    if element.attrib:
        raise _malformed_acl()
    return _text(element).strip()


def _invalid(message: str, name: str, value: str) -> S3Error:
    return s3_error("InvalidArgument", message, ArgumentName=name, ArgumentValue=value)


def _resolve(canonical_id: str, resolve_id: Callable[[str], str | None]) -> Grantee:
    try:
        return resolve_user(canonical_id, resolve_id)
    except errors.InvalidArgument as exc:
        raise _invalid("Invalid id", "id", canonical_id) from exc


def _grantee(element: ET.Element, resolve_id: Callable[[str], str | None]) -> Grantee:
    kind = element.attrib.get(_XSI_TYPE)
    if kind not in _GRANTEE_FIELDS or set(element.attrib) != {_XSI_TYPE}:
        raise _malformed_acl()
    members = _members(element, _GRANTEE_FIELDS[kind])
    if kind == "AmazonCustomerByEmail":
        address = _leaf(_required(members, "EmailAddress"))
        raise s3_error("UnresolvableGrantByEmailAddress", EmailAddress=address)
    if kind == "Group":
        uri = _leaf(_required(members, "URI"))
        if uri not in GROUP_URIS:
            raise _invalid("Invalid group uri", "uri", uri)
        return Grantee.group(uri)
    display = _one(members, "DisplayName")
    if display is not None:
        _leaf(display)  # checked for form, then ignored: S3 shows the tenant's own name
    return _resolve(_leaf(_required(members, "ID")), resolve_id)


def parse_access_control_policy(body: bytes, resolve_id: Callable[[str], str | None]) -> Acl:
    """PutBucketAcl / PutObjectAcl body -> Acl.

    Owner/ID is required and must name a tenant; display names in the
    document are ignored for the tenants' own. Each Grant has a Grantee with
    ``xsi:type`` CanonicalUser (ID), Group (URI) or AmazonCustomerByEmail, and a
    Permission. Whether the Owner is the resource's owner is the caller's check.

    Malformed, missing or unknown elements, an unknown Permission or more than
    :data:`~strongroom.policy.acl.MAX_GRANTS` grants: MalformedACLError. An ID
    that is malformed or names no tenant: InvalidArgument "Invalid id"; an
    unknown group: InvalidArgument "Invalid group uri"; a grantee by e-mail:
    UnresolvableGrantByEmailAddress.
    """
    with _as_malformed_acl():
        root = _parse(body, "AccessControlPolicy", MAX_XML_BODY)
        members = _members(root, ("Owner", "AccessControlList"))
        owner_members = _members(_required(members, "Owner"), ("ID", "DisplayName"))
        owner_id = _leaf(_required(owner_members, "ID"))
        display = _one(owner_members, "DisplayName")
        if display is not None:
            _leaf(display)
        grant_elements = _members(_required(members, "AccessControlList"), ("Grant",)).get("Grant", [])
        if len(grant_elements) > MAX_GRANTS:
            raise _malformed_acl()
        parsed: list[tuple[ET.Element, str]] = []
        for element in grant_elements:
            fields = _members(element, ("Grantee", "Permission"))
            permission = _leaf(_required(fields, "Permission"))
            if permission not in PERMISSIONS:
                raise _malformed_acl()
            parsed.append((_required(fields, "Grantee"), permission))
        owner = _resolve(owner_id, resolve_id)
        grants = tuple(Grant(_grantee(grantee, resolve_id), permission) for grantee, permission in parsed)
    assert owner.id is not None
    return Acl(owner.id, owner.display_name, grants)


def _grantee_element(grantee: Grantee) -> str:
    if grantee.type == "Group":
        assert grantee.uri is not None
        inner = _el("URI", grantee.uri)
    else:
        assert grantee.id is not None
        inner = _el("ID", grantee.id) + _opt("DisplayName", grantee.display_name)
    return f'<Grantee xmlns:xsi="{XSI_NAMESPACE}" xsi:type="{grantee.type}">{inner}</Grantee>'


def render_access_control_policy(acl: Acl) -> bytes:
    """GetBucketAcl / GetObjectAcl's AccessControlPolicy, grants in the ACL's order."""
    return _document(
        "AccessControlPolicy",
        (
            _wrap("Owner", (_el("ID", acl.owner_id), _opt("DisplayName", acl.owner_name))),
            _wrap(
                "AccessControlList",
                (_wrap("Grant", (_grantee_element(g.grantee), _el("Permission", g.permission))) for g in acl.grants),
            ),
        ),
    )


# --- PublicAccessBlockConfiguration ------------------------------------------------

_PAB_ELEMENTS: Final = {
    "BlockPublicAcls": "block_public_acls",
    "IgnorePublicAcls": "ignore_public_acls",
    "BlockPublicPolicy": "block_public_policy",
    "RestrictPublicBuckets": "restrict_public_buckets",
}


def parse_public_access_block(body: bytes) -> PublicAccessBlock:
    """PutPublicAccessBlock body -> PublicAccessBlock. An absent setting is false, as in S3.

    A malformed document or a value other than ``true``/``false``: MalformedXML.
    """
    root = _parse(body, "PublicAccessBlockConfiguration", MAX_XML_BODY)
    members = _members(root, _PAB_ELEMENTS)
    return PublicAccessBlock(
        **{attr: _bool(_one(members, element), default=False) for element, attr in _PAB_ELEMENTS.items()}
    )


def render_public_access_block(block: PublicAccessBlock) -> bytes:
    """GetPublicAccessBlock's PublicAccessBlockConfiguration: all four settings, always."""
    return _document(
        "PublicAccessBlockConfiguration",
        (_bool_el(element, getattr(block, attr)) for element, attr in _PAB_ELEMENTS.items()),
    )


# --- OwnershipControls ---------------------------------------------------------------


def parse_ownership_controls(body: bytes) -> str:
    """PutBucketOwnershipControls body -> the ObjectOwnership value of its one Rule.

    No rule, several rules, or a value other than BucketOwnerEnforced,
    BucketOwnerPreferred and ObjectWriter: MalformedXML.
    """
    root = _parse(body, "OwnershipControls", MAX_XML_BODY)
    rules = _members(root, ("Rule",)).get("Rule", [])
    if len(rules) != 1:
        raise s3_error("MalformedXML")
    value = _text(_required(_members(rules[0], ("ObjectOwnership",)), "ObjectOwnership")).strip()
    if value not in OWNERSHIP_VALUES:
        raise s3_error("MalformedXML")
    return value


def render_ownership_controls(value: str) -> bytes:
    """GetBucketOwnershipControls' OwnershipControls with its one Rule."""
    if value not in OWNERSHIP_VALUES:
        raise ValueError(f"unknown object ownership {value!r}")
    return _document("OwnershipControls", (_wrap("Rule", (_el("ObjectOwnership", value),)),))


# --- PolicyStatus ----------------------------------------------------------------------


def render_policy_status(is_public: bool) -> bytes:
    """GetBucketPolicyStatus' PolicyStatus."""
    return _document("PolicyStatus", (_bool_el("IsPublic", is_public),))
