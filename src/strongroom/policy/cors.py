"""A bucket's CORS rules (PutBucketCors) and which of them answers a browser's request. Pure: no I/O.

S3's rules, as its API reference and user guide state them and as S3 answers (the choices where neither says are
marked *strongroom*):

* A configuration has 1 to :data:`MAX_RULES` rules. A rule has at least one ``AllowedOrigin`` and one
  ``AllowedMethod`` (else the document does not validate: MalformedXML); methods are ``GET``, ``PUT``, ``POST``,
  ``DELETE`` and ``HEAD``, exactly (else InvalidRequest "Found unsupported HTTP method in CORS config. Unsupported
  method is X"); an origin and an allowed header hold at most one ``*`` (else InvalidRequest 'AllowedOrigin "X" can
  not have more than one wildcard.'); an exposed header none. *strongroom*: an ``ID`` longer than 255 characters is
  InvalidArgument, a ``MaxAgeSeconds`` outside 0..2^31-1 does not validate.
* The first rule that matches answers: the request's ``Origin`` matches one of its origins (``*`` stands for any
  run of characters, the empty one included; the rest compares exactly, scheme and port included), its method (for
  a preflight, the ``Access-Control-Request-Method``) is one of its methods, and every header named in
  ``Access-Control-Request-Headers`` matches one of its allowed headers (case-insensitively, ``*`` again a
  wildcard). A rule without allowed headers allows no requested header.
* The answer: ``Access-Control-Allow-Origin`` is ``*`` when the rule allows every origin (``*``), with no
  ``Access-Control-Allow-Credentials``; else the request's origin, with ``Access-Control-Allow-Credentials: true``.
  *strongroom*: a rule listing ``*`` beside specific origins answers a specific one that matched with the origin
  and credentials, any other with ``*``. ``Access-Control-Allow-Methods`` lists the rule's methods,
  ``Access-Control-Allow-Headers`` the requested headers (lowercase, in the order asked), then the rule's exposed
  headers and max age.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from strongroom.core import errors

METHODS: Final = ("GET", "PUT", "POST", "DELETE", "HEAD")
MAX_RULES: Final = 100
MAX_ID_CHARS: Final = 255
MAX_AGE_SECONDS: Final = 2**31 - 1
#: what S3 answers in ``Vary`` with every CORS response
VARY: Final = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED: Final = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method "
    "/ Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS "
    "spec."
)
NOT_ENABLED: Final = "CORSResponse: CORS is not enabled for this bucket."


def _malformed() -> errors.MalformedConfiguration:
    return errors.MalformedConfiguration()


@dataclass(frozen=True, slots=True)
class _Pattern:
    """An origin or header pattern with at most one ``*``, compiled to the parts around it."""

    head: str
    tail: str | None  # None: no wildcard, ``head`` is the whole value

    @classmethod
    def of(cls, value: str) -> _Pattern:
        head, star, tail = value.partition("*")
        return cls(head, tail if star else None)

    def matches(self, value: str) -> bool:
        if self.tail is None:
            return value == self.head
        return (
            len(value) >= len(self.head) + len(self.tail) and value.startswith(self.head) and value.endswith(self.tail)
        )


@dataclass(frozen=True)
class CorsRule:
    """One CORSRule, validated at construction (a bad rule never exists)."""

    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None
    _origins: tuple[_Pattern, ...] = field(init=False, repr=False, compare=False)
    _headers: tuple[_Pattern, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("allowed_origins", "allowed_methods", "allowed_headers", "expose_headers"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or not all(isinstance(v, str) for v in values):
                raise TypeError(f"{name} must be a tuple of str")
        if not self.allowed_origins or not self.allowed_methods:
            raise _malformed()
        for method in self.allowed_methods:
            if method not in METHODS:
                raise errors.InvalidRequest(
                    f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                )
        for origin in self.allowed_origins:
            if origin.count("*") > 1:
                raise errors.InvalidRequest(f'AllowedOrigin "{origin}" can not have more than one wildcard.')
        for header in self.allowed_headers:
            if header.count("*") > 1:
                raise errors.InvalidRequest(f'AllowedHeader "{header}" can not have more than one wildcard.')
        for header in self.expose_headers:
            if "*" in header:
                raise errors.InvalidRequest(
                    f'ExposeHeader "{header}" contains wildcard. We currently do not support wildcard for ExposeHeader.'
                )
        if self.id is not None and len(self.id) > MAX_ID_CHARS:
            raise errors.InvalidArgument(f"ID length should not exceed allowed limit of {MAX_ID_CHARS}")
        age = self.max_age_seconds
        if age is not None and (isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= MAX_AGE_SECONDS):
            raise _malformed()
        object.__setattr__(self, "_origins", tuple(_Pattern.of(o) for o in self.allowed_origins if o != "*"))
        object.__setattr__(self, "_headers", tuple(_Pattern.of(h.lower()) for h in self.allowed_headers))

    def allow_origin(self, origin: str) -> str | None:
        """What ``Access-Control-Allow-Origin`` answers ``origin`` (``*`` or the origin itself); None: no match."""
        if any(p.matches(origin) for p in self._origins):
            return origin
        return "*" if "*" in self.allowed_origins else None

    def allows_headers(self, requested: Iterable[str]) -> bool:
        """Every requested header (lowercase) matches an allowed header."""
        return all(any(p.matches(name) for p in self._headers) for name in requested)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"origins": list(self.allowed_origins), "methods": list(self.allowed_methods)}
        if self.allowed_headers:
            out["headers"] = list(self.allowed_headers)
        if self.expose_headers:
            out["expose"] = list(self.expose_headers)
        if self.max_age_seconds is not None:
            out["max_age"] = self.max_age_seconds
        if self.id is not None:
            out["id"] = self.id
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CorsRule:
        return cls(
            allowed_origins=tuple(d["origins"]),
            allowed_methods=tuple(d["methods"]),
            allowed_headers=tuple(d.get("headers", ())),
            expose_headers=tuple(d.get("expose", ())),
            max_age_seconds=d.get("max_age"),
            id=d.get("id"),
        )


@dataclass(frozen=True)
class CorsMatch:
    """The CORS response headers' values for a request a rule allowed."""

    allow_origin: str
    allow_credentials: bool
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age_seconds: int | None


@dataclass(frozen=True)
class CorsConfiguration:
    """A bucket's CORSConfiguration: 1 to :data:`MAX_RULES` rules, tried in order."""

    rules: tuple[CorsRule, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.rules, tuple) or not all(isinstance(r, CorsRule) for r in self.rules):
            raise TypeError("rules must be a tuple of CorsRule")
        if not 1 <= len(self.rules) <= MAX_RULES:
            raise _malformed()

    def match(self, origin: str, method: str, requested_headers: Sequence[str] = ()) -> CorsMatch | None:
        """The answer of the first rule that allows ``origin`` to use ``method`` with ``requested_headers``
        (lowercase names, as :func:`requested_headers` gives them); None when no rule does."""
        for rule in self.rules:
            if method not in rule.allowed_methods:
                continue
            allow = rule.allow_origin(origin)
            if allow is None or not rule.allows_headers(requested_headers):
                continue
            return CorsMatch(
                allow_origin=allow,
                allow_credentials=allow != "*",
                allow_methods=rule.allowed_methods,
                allow_headers=tuple(requested_headers),
                expose_headers=rule.expose_headers,
                max_age_seconds=rule.max_age_seconds,
            )
        return None

    def to_json(self) -> str:
        return json.dumps({"rules": [r.to_dict() for r in self.rules]}, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CorsConfiguration:
        return cls(tuple(CorsRule.from_dict(r) for r in json.loads(text)["rules"]))


def requested_headers(value: str | None) -> tuple[str, ...]:
    """``Access-Control-Request-Headers`` as names: split at commas, stripped, lowercased, empty items and repeats
    dropped, in the order given."""
    if not value:
        return ()
    out: dict[str, None] = {}
    for item in value.split(","):
        name = item.strip(" \t").lower()
        if name:
            out.setdefault(name)
    return tuple(out)


def preflight(
    config: CorsConfiguration | None,
    origin: str | None,
    method: str | None,
    headers: Sequence[str],
    resource_type: str,
) -> CorsMatch:
    """A preflight's answer, or the error S3 gives, in S3's order: no ``Origin`` (InvalidPreflight), no CORS
    configuration (CORSForbidden, "not enabled"; also for a bucket that does not exist, see service/cors.py), no
    valid ``Access-Control-Request-Method`` (InvalidPreflight), no rule that matches (CORSForbidden)."""
    if not origin:
        raise errors.InvalidPreflight("Insufficient information. Origin request header needed.")
    if config is None:
        raise errors.CORSForbidden(NOT_ENABLED, Method=method or "OPTIONS", ResourceType="BUCKET")
    if method not in METHODS:
        raise errors.InvalidPreflight(f"Invalid Access-Control-Request-Method: {method or 'null'}")
    match = config.match(origin, method, headers)
    if match is None:
        raise errors.CORSForbidden(NOT_ALLOWED, Method=method, ResourceType=resource_type)
    return match
