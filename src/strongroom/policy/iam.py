"""The IAM policy language: parse and validate a document, evaluate it against a request.

Pure functions over frozen dataclasses; no I/O. Semantics follow AWS's IAM JSON policy
reference (elements, condition operators, policy variables, evaluation logic) and the
S3 Block Public Access definition of a "public" bucket policy.

Parsing refuses a bad document with :class:`strongroom.core.errors.MalformedPolicy`,
whose message names the fault the way S3 does.

Choices where AWS documents no exact rule: a plain (non-set) operator over a multivalued
request key holds when some value matches (negated operators: when none does); a policy
value whose variable cannot be resolved never matches, and makes a negated operator false;
substituted variable values are literal, never wildcards; tag keys after ``/`` in a
condition key keep their case while the rest of the key is case-insensitive.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

from strongroom.core import errors
from strongroom.policy import actions

__all__ = [
    "MAX_BUCKET_POLICY_BYTES",
    "MAX_IDENTITY_POLICY_BYTES",
    "Condition",
    "Policy",
    "Principal",
    "RequestContext",
    "Statement",
    "evaluate",
    "grants_to_tenant",
    "is_public",
    "parse_policy",
    "statement_matches",
]

MAX_BUCKET_POLICY_BYTES = 20 * 1024
"""S3's limit on a bucket policy."""

MAX_IDENTITY_POLICY_BYTES = 10 * 1024
"""Limit on an inline user or group policy. AWS allows 2,048 characters for a user's inline
policies and 5,120 for a group's; strongroom is more generous (10,240 bytes of UTF-8)."""

VERSIONS = ("2012-10-17", "2008-10-17")
_VARIABLES_VERSION = "2012-10-17"

Principal = Literal["everyone"] | tuple[str, ...]
"""A parsed Principal/NotPrincipal: ``"everyone"`` (``*`` or ``{"AWS": "*"}``) or the AWS principals."""


@dataclass(frozen=True)
class Condition:
    """One test of a Condition block: ``operator`` (as written) applied to ``key`` with ``values``."""

    operator: str
    key: str
    values: tuple[str, ...]

    @property
    def set_operator(self) -> str | None:
        """``"ForAnyValue"``, ``"ForAllValues"`` or None."""
        head, sep, _ = self.operator.partition(":")
        return head if sep else None

    @property
    def base(self) -> str:
        """The operator without set prefix or ``IfExists`` suffix, e.g. ``StringLike``."""
        name = self.operator.rpartition(":")[2]
        return name[: -len("IfExists")] if name.endswith("IfExists") else name

    @property
    def if_exists(self) -> bool:
        return self.operator.endswith("IfExists")


@dataclass(frozen=True)
class Statement:
    """One statement, every list element normalized to a tuple (None: the element is absent)."""

    sid: str | None
    effect: Literal["Allow", "Deny"]
    principal: Principal | None
    not_principal: Principal | None
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    conditions: tuple[Condition, ...]
    variables: bool = True
    """Whether ``${...}`` policy variables are expanded (Version 2012-10-17 only)."""


@dataclass(frozen=True)
class Policy:
    version: str
    statements: tuple[Statement, ...]
    text: str
    """The document exactly as given (GetBucketPolicy returns it verbatim)."""


@dataclass(frozen=True)
class RequestContext:
    """What a request asks for; ``keys`` maps condition keys (any case) to the request's value(s)."""

    action: str
    resource: str
    principal_arn: str | None
    principal_tenant: str | None
    keys: Mapping[str, str | Sequence[str]]


# --- parsing -----------------------------------------------------------------------------

_TOP_FIELDS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_FIELDS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_TENANT = r"[a-z0-9][a-z0-9-]{0,62}"
_TENANT_RE = re.compile(_TENANT)
_ROOT_RE = re.compile(rf"arn:aws:iam::({_TENANT}):root")
_USER_RE = re.compile(rf"arn:aws:iam::({_TENANT}):user/[\w+=,.@/-]{{1,512}}")
_SID_IDENTITY = re.compile(r"[A-Za-z0-9]*")
_ARN_RE = re.compile(r"arn:[^:]+:[^:]+:[^:]*:[^:]*:.+", re.DOTALL)

_STRING_OPS = frozenset(
    {
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
    }
)
_NUMERIC_OPS = frozenset(
    {
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
    }
)
_DATE_OPS = frozenset(
    {
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
    }
)
_ARN_OPS = frozenset({"ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"})
_IP_OPS = frozenset({"IpAddress", "NotIpAddress"})
_BASE_OPS = _STRING_OPS | _NUMERIC_OPS | _DATE_OPS | _ARN_OPS | _IP_OPS | {"Bool", "BinaryEquals"}
_NEGATED = frozenset(
    {
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "NumericNotEquals",
        "DateNotEquals",
        "ArnNotEquals",
        "ArnNotLike",
        "NotIpAddress",
    }
)
# AWS supports policy variables in the String, ARN and Bool operators only.
_VARIABLE_OPS = _STRING_OPS | _ARN_OPS | {"Bool"}

_KEYS = frozenset(
    k.lower()
    for k in """
    aws:SecureTransport aws:SourceIp aws:CurrentTime aws:EpochTime aws:username aws:userid aws:PrincipalArn
    aws:PrincipalAccount aws:PrincipalType aws:Referer aws:UserAgent s3:prefix s3:delimiter s3:max-keys
    s3:x-amz-acl s3:x-amz-server-side-encryption s3:x-amz-server-side-encryption-aws-kms-key-id
    s3:x-amz-server-side-encryption-customer-algorithm s3:x-amz-content-sha256 s3:x-amz-copy-source
    s3:x-amz-metadata-directive s3:x-amz-storage-class s3:signatureversion s3:authType s3:signatureAge
    s3:TlsVersion s3:VersionId s3:RequestObjectTagKeys s3:object-lock-mode s3:object-lock-retain-until-date
    s3:object-lock-legal-hold s3:x-amz-grant-read s3:x-amz-grant-write s3:x-amz-grant-read-acp
    s3:x-amz-grant-write-acp s3:x-amz-grant-full-control s3:LocationConstraint s3:ResourceAccount
    """.split()
)
_TAG_KEY_PREFIXES = frozenset({"s3:existingobjecttag", "s3:requestobjecttag"})


def _norm_key(key: str) -> str:
    """Condition key names compare case-insensitively; a tag key after ``/`` keeps its case."""
    head, sep, tail = key.partition("/")
    return head.lower() + sep + tail


def _key_supported(key: str) -> bool:
    head, sep, tail = _norm_key(key).partition("/")
    return bool(tail) if sep else head in _KEYS


def _bad(message: str) -> errors.MalformedPolicy:
    return errors.MalformedPolicy(message)


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _bad(f"Duplicate field {key}")
        out[key] = value
    return out


def parse_policy(text: str | bytes, *, kind: Literal["bucket", "identity"], bucket: str | None = None) -> Policy:
    """Parse and validate a policy document.

    ``kind="bucket"`` is a bucket policy for ``bucket`` (required): principals are required and
    every resource must be in that bucket. ``kind="identity"`` is a user or group inline policy:
    no principal, any resource ARN pattern. The size bound is :data:`MAX_BUCKET_POLICY_BYTES`
    or :data:`MAX_IDENTITY_POLICY_BYTES`.
    """
    if kind == "bucket" and bucket is None:
        raise ValueError("a bucket policy is parsed for a bucket")
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    limit = MAX_BUCKET_POLICY_BYTES if kind == "bucket" else MAX_IDENTITY_POLICY_BYTES
    if len(raw) > limit:
        raise _bad("Policy exceeds the maximum allowed document size.")
    try:
        document = raw.decode("utf-8") if isinstance(text, bytes) else text
        tree = json.loads(document, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nested past the decoder
        if isinstance(exc, errors.MalformedPolicy):
            raise
        raise _bad("Policies must be valid JSON and the first byte must be '{'") from exc
    if not isinstance(tree, dict):
        raise _bad("Policies must be valid JSON and the first byte must be '{'")
    for field in tree:
        if field not in _TOP_FIELDS:
            raise _bad(f"Unknown field {field}")
    version = tree.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise _bad("The policy must contain a valid version string")
    if "Id" in tree and not isinstance(tree["Id"], str):
        raise _bad("Policy Id must be a string")
    body = tree.get("Statement")
    items = [body] if isinstance(body, dict) else body
    if not items:
        raise _bad("Missing required field Statement")
    if not isinstance(items, list):
        raise _bad("Could not parse the policy: Statement is not well-formatted.")
    variables = version == _VARIABLES_VERSION
    statements = tuple(_statement(item, kind, bucket, variables) for item in items)
    sids = [st.sid for st in statements if st.sid]
    if len(sids) != len(set(sids)):
        raise _bad("Statement IDs (SID) in a single policy must be unique.")
    return Policy(version=version, statements=statements, text=document)


def _refuse_constant(name: str) -> object:
    raise ValueError(f"not JSON: {name}")


def _strings(value: object, fault: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise _bad(fault)
    return tuple(items)


def _statement(item: object, kind: str, bucket: str | None, variables: bool) -> Statement:
    if not isinstance(item, dict):
        raise _bad("Could not parse the policy: Statement is not well-formatted.")
    for field in item:
        if field not in _STATEMENT_FIELDS:
            raise _bad(f"Unknown field {field}")
    sid = item.get("Sid")
    if sid is not None and (not isinstance(sid, str) or (kind == "identity" and not _SID_IDENTITY.fullmatch(sid))):
        raise _bad("Statement IDs (SID) must be alpha-numeric.")
    if "Effect" not in item:
        raise _bad("Missing required field Effect")
    effect = item["Effect"]
    if effect not in ("Allow", "Deny"):
        raise _bad(f"Invalid effect: {effect}")
    for positive, negative in (("Principal", "NotPrincipal"), ("Action", "NotAction"), ("Resource", "NotResource")):
        if positive in item and negative in item:
            raise _bad(f"Statement must not contain both {positive} and {negative}")
    principal = not_principal = None
    if kind == "identity":
        if "Principal" in item or "NotPrincipal" in item:
            raise _bad("Policy document should not specify a principal.")
    else:
        if "Principal" not in item and "NotPrincipal" not in item:
            raise _bad("Missing required field Principal")
        if "Principal" in item:
            principal = _principal(item["Principal"])
        else:
            not_principal = _principal(item["NotPrincipal"])
    if "Action" not in item and "NotAction" not in item:
        raise _bad("Missing required field Action")
    acts = _actions(item["Action"], kind) if "Action" in item else None
    not_acts = _actions(item["NotAction"], kind) if "NotAction" in item else None
    if "Resource" not in item and "NotResource" not in item:
        raise _bad("Missing required field Resource")
    res = _resources(item["Resource"], kind, bucket) if "Resource" in item else None
    not_res = _resources(item["NotResource"], kind, bucket) if "NotResource" in item else None
    if kind == "bucket" and acts is not None and res is not None:
        _check_applies(acts, res, bucket or "")
    conditions = _conditions(item.get("Condition", {}), variables)
    return Statement(
        sid=sid,
        effect=effect,
        principal=principal,
        not_principal=not_principal,
        actions=acts,
        not_actions=not_acts,
        resources=res,
        not_resources=not_res,
        conditions=conditions,
        variables=variables,
    )


def _principal(value: object) -> Principal:
    if value == "*":
        return "everyone"
    if not isinstance(value, dict) or set(value) != {"AWS"}:
        raise _bad("Invalid principal in policy")
    entries = _strings(value["AWS"], "Invalid principal in policy")
    if "*" in entries:
        return "everyone"
    for entry in entries:
        if not (_ROOT_RE.fullmatch(entry) or _USER_RE.fullmatch(entry) or _TENANT_RE.fullmatch(entry)):
            raise _bad("Invalid principal in policy")
    return entries


def _actions(value: object, kind: str) -> tuple[str, ...]:
    names = _strings(value, "Policy has invalid action")
    for name in names:
        if not actions.action_known(name):
            raise _bad("Policy has invalid action")
        if kind == "bucket" and name != "*" and not name.lower().startswith("s3:"):
            raise _bad("Policy has invalid action")
    return names


def _resources(value: object, kind: str, bucket: str | None) -> tuple[str, ...]:
    arns = _strings(value, "Policy has invalid resource")
    for arn in arns:
        if kind == "identity":
            if arn != "*" and not _ARN_RE.fullmatch(arn):
                raise _bad("Policy has invalid resource")
            continue
        if not arn.startswith("arn:aws:s3:::"):
            raise _bad("Policy has invalid resource")
        bucket_part = arn[len("arn:aws:s3:::") :].partition("/")[0]
        if not bucket_part or not actions.glob_regex(bucket_part).fullmatch(bucket or ""):
            raise _bad("Policy has invalid resource")
    return arns


def _check_applies(names: tuple[str, ...], resources: tuple[str, ...], bucket: str) -> None:
    """S3 refuses a statement in which an action can apply to none of its resources."""
    kinds: set[str] = set()
    for arn in resources:
        rx = actions.glob_regex(arn)
        if rx.fullmatch(f"arn:aws:s3:::{bucket}"):
            kinds.add("bucket")
        if "/" in arn or (arn.endswith("*") and rx.fullmatch(f"arn:aws:s3:::{bucket}/")):
            kinds.add("object")
    for name in names:
        applies = {actions.resource_kind(a) for a in actions.expand(name)}
        if not applies & kinds:
            raise _bad("Action does not apply to any resource(s) in statement")


def _conditions(block: object, variables: bool) -> tuple[Condition, ...]:
    if not isinstance(block, dict):
        raise _bad("Could not parse the policy: Condition is not well-formatted.")
    out: list[Condition] = []
    for operator, tests in block.items():
        base = _operator_base(operator)
        if not isinstance(tests, dict) or not tests:
            raise _bad(f"Invalid Condition type : {operator}")
        for key, raw in tests.items():
            if not _key_supported(key):
                raise _bad("Policy has an invalid condition key")
            values = _condition_values(operator, raw)
            for v in values:
                if not (variables and base in _VARIABLE_OPS and "${" in v):
                    _check_value(operator, base, v)
            out.append(Condition(operator=operator, key=key, values=values))
    return tuple(out)


def _operator_base(operator: str) -> str:
    head, sep, name = operator.rpartition(":")
    if sep and head not in ("ForAnyValue", "ForAllValues"):
        raise _bad(f"Invalid Condition type : {operator}")
    if name == "Null":
        if sep:
            raise _bad(f"Invalid Condition type : {operator}")
        return name
    base = name[: -len("IfExists")] if name.endswith("IfExists") else name
    if base not in _BASE_OPS:
        raise _bad(f"Invalid Condition type : {operator}")
    return base


def _condition_values(operator: str, raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise _bad(f"Invalid Condition value for operator {operator}: []")
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, (int, float, str)):
            out.append(str(item))
        else:
            raise _bad(f"Invalid Condition value for operator {operator}: {json.dumps(item)}")
    return tuple(out)


def _check_value(operator: str, base: str, value: str) -> None:
    ok = True
    if base in _NUMERIC_OPS:
        ok = _number(value) is not None
    elif base in _DATE_OPS:
        ok = _date(value) is not None
    elif base in _IP_OPS:
        ok = _network(value) is not None
    elif base in ("Bool", "Null"):
        ok = value.lower() in ("true", "false")
    elif base == "BinaryEquals":
        ok = _binary(value) is not None
    if not ok:
        raise _bad(f"Invalid Condition value for operator {operator}: {value}")


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _date(text: str) -> Decimal | None:
    """Seconds since the epoch for an ISO 8601 date/time or an epoch-seconds number."""
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return Decimal(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Decimal(str(moment.timestamp()))


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


# --- policy variables ----------------------------------------------------------------------

_VAR = re.compile(r"\$\{([^}]*)\}")
_VAR_BODY = re.compile(r"\s*([A-Za-z0-9:/_.+=@-]+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?", re.DOTALL)

Token = tuple[bool, str]
"""A piece of an expanded template: (True, "*" or "?") is a wildcard, (False, text) is literal."""


@dataclass(frozen=True)
class _Var:
    key: str | None  # None: the ${...} is malformed and never resolves
    default: str | None


@lru_cache(maxsize=4096)
def _template(text: str, variables: bool) -> tuple[Token | _Var, ...]:
    """Split a template into literal/wildcard tokens and variable references."""
    parts: list[Token | _Var] = []
    pos = 0
    for m in _VAR.finditer(text) if variables else ():
        parts.extend(_wild_tokens(text[pos : m.start()]))
        inner = m.group(1)
        if inner in ("*", "?", "$"):
            parts.append((False, inner))
        else:
            body = _VAR_BODY.fullmatch(inner)
            if body is None:
                parts.append(_Var(None, None))
            else:
                default = body.group(2).replace("''", "'") if body.group(2) is not None else None
                parts.append(_Var(_norm_key(body.group(1)), default))
        pos = m.end()
    parts.extend(_wild_tokens(text[pos:]))
    return tuple(parts)


def _wild_tokens(text: str) -> tuple[Token, ...]:
    return tuple((ch in "*?", ch) for ch in text)


def _expand(text: str, variables: bool, keys: Mapping[str, tuple[str, ...]]) -> tuple[Token, ...] | None:
    """The template with its variables replaced by the request's values; None when one cannot be.

    A variable resolves only to a single-valued key present in the request, else to its
    ``'default'``; substituted text is literal (never a wildcard).
    """
    out: list[Token] = []
    for part in _template(text, variables):
        if not isinstance(part, _Var):
            out.append(part)
            continue
        found = keys.get(part.key) if part.key is not None else None
        if found is not None and len(found) == 1:
            out.extend((False, ch) for ch in found[0])
        elif part.default is not None and part.key is not None:
            out.extend((False, ch) for ch in part.default)
        else:
            return None
    return tuple(out)


def _literal(tokens: tuple[Token, ...]) -> str:
    return "".join(ch for _, ch in tokens)


@lru_cache(maxsize=4096)
def _tokens_regex(tokens: tuple[Token, ...], *, ignore_case: bool = False) -> re.Pattern[str]:
    body = "".join((".*" if ch == "*" else ".") if wild else re.escape(ch) for wild, ch in tokens)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _arn_like(tokens: tuple[Token, ...], arn: str) -> bool:
    """Match per colon-delimited ARN component (the sixth, the resource, may hold colons)."""
    if tokens == ((True, "*"),):
        return True
    pattern_parts: list[list[Token]] = [[]]
    for tok in tokens:
        if tok == (False, ":") and len(pattern_parts) < 6:
            pattern_parts.append([])
        else:
            pattern_parts[-1].append(tok)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return False
    return all(_tokens_regex(tuple(p)).fullmatch(a) for p, a in zip(pattern_parts, arn_parts, strict=True))


# --- evaluation ----------------------------------------------------------------------------


def _request_keys(ctx: RequestContext) -> dict[str, tuple[str, ...]]:
    keys: dict[str, tuple[str, ...]] = {}
    for key, value in ctx.keys.items():
        keys[_norm_key(key)] = (value,) if isinstance(value, str) else tuple(value)
    if ctx.principal_arn is not None:
        keys.setdefault("aws:principalarn", (ctx.principal_arn,))
    if ctx.principal_tenant is not None:
        keys.setdefault("aws:principalaccount", (ctx.principal_tenant,))
    return keys


def _principal_matches(principal: Principal, ctx: RequestContext) -> bool:
    if principal == "everyone":
        return True
    if ctx.principal_arn is None or ctx.principal_tenant is None:
        return False
    tenant = ctx.principal_tenant
    return any(
        entry == ctx.principal_arn or entry == tenant or entry == f"arn:aws:iam::{tenant}:root" for entry in principal
    )


def _not_principal_matches(excluded: Principal, ctx: RequestContext) -> bool:
    """NotPrincipal applies unless every identity of the caller is excluded.

    As in AWS, an IAM user's identities are the user and its account: excluding only the user
    ARN still leaves the account, so the statement applies; list both to exclude the user.
    """
    if excluded == "everyone":
        return False
    if ctx.principal_arn is None or ctx.principal_tenant is None:
        return True
    root = f"arn:aws:iam::{ctx.principal_tenant}:root"
    identities = {ctx.principal_arn, root}
    listed = {root if entry == ctx.principal_tenant else entry for entry in excluded}
    return not identities <= listed


def _action_matches(patterns: tuple[str, ...], action: str) -> bool:
    return any(actions.glob_regex(p, ignore_case=True).fullmatch(action) for p in patterns)


def _resource_matches(
    patterns: tuple[str, ...], resource: str, variables: bool, keys: Mapping[str, tuple[str, ...]]
) -> bool:
    for pattern in patterns:
        tokens = _expand(pattern, variables, keys)
        if tokens is not None and _arn_like(tokens, resource):
            return True
    return False


def statement_matches(st: Statement, ctx: RequestContext) -> bool:
    """Whether the statement applies to the request (principal, action, resource and conditions)."""
    keys = _request_keys(ctx)
    return _statement_matches(st, ctx, keys)


def _statement_matches(st: Statement, ctx: RequestContext, keys: Mapping[str, tuple[str, ...]]) -> bool:
    if st.principal is not None and not _principal_matches(st.principal, ctx):
        return False
    if st.not_principal is not None and not _not_principal_matches(st.not_principal, ctx):
        return False
    if st.actions is not None and not _action_matches(st.actions, ctx.action):
        return False
    if st.not_actions is not None and _action_matches(st.not_actions, ctx.action):
        return False
    if st.resources is not None and not _resource_matches(st.resources, ctx.resource, st.variables, keys):
        return False
    if st.not_resources is not None and _resource_matches(st.not_resources, ctx.resource, st.variables, keys):
        return False
    return all(_condition_holds(c, keys, st.variables) for c in st.conditions)


def evaluate(policy: Policy, ctx: RequestContext) -> Literal["Deny", "Allow"] | None:
    """``"Deny"`` if a matching statement denies, else ``"Allow"`` if one allows, else None."""
    keys = _request_keys(ctx)
    verdict: Literal["Allow"] | None = None
    for st in policy.statements:
        if _statement_matches(st, ctx, keys):
            if st.effect == "Deny":
                return "Deny"
            verdict = "Allow"
    return verdict


def _positive_compare(base: str) -> Callable[[tuple[Token, ...], str], bool]:
    """The un-negated test of one request value against one (expanded) policy value."""
    if base in ("StringEquals", "StringNotEquals"):
        return lambda t, v: _literal(t) == v
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return lambda t, v: _literal(t).casefold() == v.casefold()
    if base in ("StringLike", "StringNotLike"):
        return lambda t, v: _tokens_regex(t).fullmatch(v) is not None
    if base in _ARN_OPS:
        return lambda t, v: _arn_like(t, v)
    if base == "Bool":
        return lambda t, v: _literal(t).lower() == v.lower()
    if base == "BinaryEquals":
        return lambda t, v: _binary(v) is not None and _binary(v) == _binary(_literal(t))
    if base in _IP_OPS:
        return _ip_in
    if base in _NUMERIC_OPS:
        return _ordered(base[len("Numeric") :], _number)
    return _ordered(base[len("Date") :], _date)


def _ip_in(tokens: tuple[Token, ...], value: str) -> bool:
    network = _network(_literal(tokens))
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return network is not None and address.version == network.version and address in network


def _ordered(relation: str, parse: Callable[[str], Decimal | None]) -> Callable[[tuple[Token, ...], str], bool]:
    tests: dict[str, Callable[[Decimal, Decimal], bool]] = {
        "Equals": lambda r, p: r == p,
        "NotEquals": lambda r, p: r == p,  # negated by the caller
        "LessThan": lambda r, p: r < p,
        "LessThanEquals": lambda r, p: r <= p,
        "GreaterThan": lambda r, p: r > p,
        "GreaterThanEquals": lambda r, p: r >= p,
    }
    test = tests[relation]

    def compare(tokens: tuple[Token, ...], value: str) -> bool:
        policy_value, request_value = parse(_literal(tokens)), parse(value)
        return policy_value is not None and request_value is not None and test(request_value, policy_value)

    return compare


def _condition_holds(c: Condition, keys: Mapping[str, tuple[str, ...]], variables: bool) -> bool:
    # An empty string is a value (``"s3:prefix": ""`` is how a policy allows listing the root);
    # an empty list is the "null data set" AWS treats as an absent key.
    values = keys.get(_norm_key(c.key)) or ()
    base = c.base
    if base == "Null":
        # "true": the key must be absent; "false": it must be present. Values OR together.
        return any((v.lower() == "true") == (not values) for v in c.values)
    set_op = c.set_operator
    if not values:
        if c.if_exists or set_op == "ForAllValues":
            return True
        if set_op == "ForAnyValue":
            return False
        return base in _NEGATED
    expanded = [_expand(v, variables and base in _VARIABLE_OPS, keys) for v in c.values]
    negated = base in _NEGATED
    if negated and any(t is None for t in expanded):
        return False  # an unresolvable variable never satisfies a condition
    patterns = [t for t in expanded if t is not None]
    compare = _positive_compare(base)

    def one(value: str) -> bool:
        hit = any(compare(t, value) for t in patterns)
        return not hit if negated else hit

    if set_op == "ForAllValues":
        return all(one(v) for v in values)
    if set_op == "ForAnyValue":
        return any(one(v) for v in values)
    # A plain operator over a multivalued key: some value must match (positive operators);
    # no value may match (negated operators).
    return all(one(v) for v in values) if negated else any(one(v) for v in values)


# --- public access and visibility ------------------------------------------------------------

_FIXED_KEYS = frozenset(
    k.lower()
    for k in """
    aws:SourceArn aws:SourceVpc aws:SourceVpce aws:SourceOwner aws:SourceAccount aws:PrincipalAccount
    aws:PrincipalArn aws:PrincipalOrgID aws:userid s3:x-amz-server-side-encryption-aws-kms-key-id
    """.split()
)
_RESTRICTING_OPS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"})


def _narrow_network(value: str) -> bool:
    """S3 counts aws:SourceIp ranges broader than /8 (IPv4) or /32 (IPv6) as public."""
    network = _network(value)
    if network is None:
        return False
    if isinstance(network, ipaddress.IPv4Network):
        # S3 exempts the RFC 1918 ranges, all of which are /8 or narrower already.
        return network.prefixlen >= 8
    return network.prefixlen >= 32


def _fixed(value: str) -> bool:
    return not any(ch in value for ch in "*?") and "${" not in value


def _restricts(c: Condition) -> bool:
    """Whether the condition pins the request to fixed values of a key S3 accepts as restricting."""
    if c.set_operator is not None or c.if_exists:
        return False
    key = _norm_key(c.key)
    if key == "aws:sourceip":
        return c.base == "IpAddress" and all(_narrow_network(v) for v in c.values)
    if key not in _FIXED_KEYS or c.base not in _RESTRICTING_OPS or not all(_fixed(v) for v in c.values):
        return False
    if key == "aws:userid":
        # S3 does not accept values of the form "AROLEID:*" (a whole role) as fixed.
        return not any(v.endswith(":*") for v in c.values)
    return True


def _statement_public(st: Statement) -> bool:
    if st.effect != "Allow":
        return False
    if st.principal != "everyone" and st.not_principal is None:
        return False
    return not any(_restricts(c) for c in st.conditions)


def is_public(policy: Policy) -> bool:
    """Whether S3 Block Public Access would call this bucket policy public.

    A policy is public when it has an Allow statement for everyone (``*``, ``{"AWS": "*"}``,
    or any NotPrincipal) that no condition restricts to fixed values: an ``IpAddress`` on
    aws:SourceIp no broader than /8 (IPv4) or /32 (IPv6), or an equality
    or ARN match without wildcards or variables on aws:SourceArn, aws:SourceVpc,
    aws:SourceVpce, aws:SourceOwner, aws:SourceAccount, aws:PrincipalAccount, aws:PrincipalArn,
    aws:PrincipalOrgID, aws:userid or s3:x-amz-server-side-encryption-aws-kms-key-id.
    """
    return any(_statement_public(st) for st in policy.statements)


def grants_to_tenant(policy: Policy, tenant: str) -> bool:
    """Whether an Allow statement names ``tenant`` (a user of it, its root, the bare tenant) or everyone.

    A NotPrincipal Allow counts as naming everyone. Conditions are ignored: the caller uses this
    to decide whether a bucket's existence may be revealed to the tenant.
    """
    root = f"arn:aws:iam::{tenant}:root"
    user_prefix = f"arn:aws:iam::{tenant}:user/"
    for st in policy.statements:
        if st.effect != "Allow":
            continue
        if st.not_principal is not None or st.principal == "everyone":
            return True
        if st.principal is not None and any(
            entry in (tenant, root) or entry.startswith(user_prefix) for entry in st.principal
        ):
            return True
    return False
