"""S3 CORS bodies: the CORSConfiguration of PutBucketCors and GetBucketCors.

Untrusted documents go through :mod:`strongroom.http.s3.xml`'s defusedxml parser after its size check, so the same
rules hold (no DTDs or entities, the S3 namespace optional, unknown elements and stray text malformed: MalformedXML).
What the rules themselves must satisfy (methods, wildcards, counts) is :mod:`strongroom.policy.cors`'s to check.
Rendered documents use botocore's element names, in its model's order.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # Element type only: parsing is defusedxml's, inside xml._parse
from typing import Final

from strongroom.http.s3.errors import s3_error
from strongroom.http.s3.xml import _document, _el, _members, _one, _opt_int, _parse, _text, _wrap
from strongroom.policy.cors import MAX_RULES, CorsConfiguration, CorsRule

__all__ = ["MAX_CORS_BODY", "parse_cors_configuration", "render_cors_configuration"]

#: "The document is limited to 64 KB in size" (PutBucketCors).
MAX_CORS_BODY: Final = 64 * 1024
_RULE_ELEMENTS: Final = ("ID", "AllowedHeader", "AllowedMethod", "AllowedOrigin", "ExposeHeader", "MaxAgeSeconds")
_DIGITS: Final = re.compile(r"[0-9]{1,10}", re.ASCII)


def _leaves(members: dict[str, list[ET.Element]], name: str) -> tuple[str, ...]:
    return tuple(_text(e).strip() for e in members.get(name, []))


def _rule(element: ET.Element) -> CorsRule:
    members = _members(element, _RULE_ELEMENTS)
    rule_id = _one(members, "ID")
    age = _one(members, "MaxAgeSeconds")
    age_text = _text(age).strip() if age is not None else None
    if age_text is not None and not _DIGITS.fullmatch(age_text):
        raise s3_error("MalformedXML")
    return CorsRule(
        allowed_origins=_leaves(members, "AllowedOrigin"),
        allowed_methods=_leaves(members, "AllowedMethod"),
        allowed_headers=_leaves(members, "AllowedHeader"),
        expose_headers=_leaves(members, "ExposeHeader"),
        max_age_seconds=int(age_text) if age_text is not None else None,
        id=_text(rule_id).strip() if rule_id is not None else None,
    )


def parse_cors_configuration(body: bytes) -> CorsConfiguration:
    """PutBucketCors body -> CorsConfiguration.

    Not well-formed, an unknown element, no rule or more than 100, a rule without an origin or a method, a
    MaxAgeSeconds that is not a non-negative integer: MalformedXML. A rule the policy refuses (a method S3 does not
    allow, two wildcards): that rule's InvalidRequest, in document order.
    """
    root = _parse(body, "CORSConfiguration", MAX_CORS_BODY)
    elements = _members(root, ("CORSRule",)).get("CORSRule", [])
    if not 1 <= len(elements) <= MAX_RULES:
        raise s3_error("MalformedXML")
    return CorsConfiguration(tuple(_rule(e) for e in elements))


def _rule_element(rule: CorsRule) -> str:
    parts = [_el("ID", rule.id)] if rule.id is not None else []
    for name, values in (
        ("AllowedHeader", rule.allowed_headers),
        ("AllowedMethod", rule.allowed_methods),
        ("AllowedOrigin", rule.allowed_origins),
        ("ExposeHeader", rule.expose_headers),
    ):
        parts.extend(_el(name, v) for v in values)
    parts.append(_opt_int("MaxAgeSeconds", rule.max_age_seconds))
    return _wrap("CORSRule", parts)


def render_cors_configuration(config: CorsConfiguration) -> bytes:
    """GetBucketCors' CORSConfiguration, rules and values as they were put."""
    return _document("CORSConfiguration", (_rule_element(r) for r in config.rules))
