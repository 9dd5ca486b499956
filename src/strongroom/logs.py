"""Logging for every strongroom process (the serve parent, each S3 gateway worker, the vault): one setup.

One handler (stderr) with a redaction filter and a text or JSON-lines formatter (``log_format``). Call sites never
log secrets (the access log keeps only harmless query values, see ``redact_query``); the filter is the safety net
for everything else: it scrubs every message, traceback and stack of what looks like a signature, a credential, a
vault token, an SSE-C key, an ``Authorization`` value or a PEM private key, and drops the traceback's frames (so no
formatter can reach local variables).
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

FORMATS = ("text", "json")
LEVELS = ("critical", "error", "warning", "info", "debug")  # not uvicorn's "trace": it logs request headers
REDACTED = "[redacted]"

# Query parameters whose values an access line keeps. Every other value becomes REDACTED (names stay): signatures,
# credentials, security tokens, SigV2's Signature/AWSAccessKeyId, and anything new are out without a list of them.
SAFE_QUERY_PARAMS = frozenset(
    name.lower()
    for name in (
        # S3 subresources and listing/paging
        "acl", "attributes", "cors", "delete", "encryption", "lifecycle", "location", "logging", "notification",
        "object-lock", "ownershipControls", "policy", "policyStatus", "publicAccessBlock", "replication", "restore",
        "retention", "legal-hold", "select", "select-type", "tagging", "torrent", "uploads", "versioning", "versions",
        "website", "x-id", "list-type", "prefix", "delimiter", "max-keys", "start-after", "encoding-type",
        "fetch-owner", "marker", "key-marker", "version-id-marker", "upload-id-marker", "max-uploads", "max-parts",
        "part-number-marker", "uploadId", "partNumber", "versionId",
        "response-content-type", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-cache-control", "response-expires",
        # SigV4 presigning: everything but the credential, the signature and the security token
        "X-Amz-Algorithm", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
        # the vault
        "list", "version",
    )
)  # fmt: skip

_SECRET_PARAMS = r"x-amz-signature|x-amz-credential|x-amz-security-token|signature|awsaccesskeyid|credential"
_SECRET_HEADERS = (
    r"authorization|proxy-authorization|x-vault-token|x-amz-security-token|cookie|set-cookie"
    r"|x-amz-(?:copy-source-)?server-side-encryption-customer-key(?!-md5)"
)
_SECRET_FIELDS = (
    r"secret_?(?:access_?)?key|secret|password|passwd|pin|token|client_token|root_token|unseal_key"
    r"|sse_?customer_?key|copy_?source_?sse_?customer_?key"
)
# (cheap gate: substrings of the lowercased text, any of which must be present; pattern; replacement)
_SCRUB: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # PEM private keys (whole block; an unterminated one to the end of the text)
    (
        ("private key",),
        re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S),
        "[redacted private key]",
    ),
    # header values, as text ("Authorization: ..."), a dict ('authorization': '...') or ASGI pairs (b'...', b'...')
    (
        ("authorization", "token", "cookie", "customer-key"),
        re.compile(rf"(?i)\b({_SECRET_HEADERS})(['\"]?\s*[:=]\s*b?['\"]?|['\"],\s*b?['\"])[^'\"\r\n]+"),
        rf"\1\2{REDACTED}",
    ),
    # presigned query strings and SigV4 header parts (X-Amz-Signature=..., Credential=..., Signature=...)
    (
        ("signature=", "credential=", "token=", "awsaccesskeyid="),
        re.compile(rf"(?i)\b({_SECRET_PARAMS})=(?!\[redacted)[^&\s\"'<>,;]+"),
        rf"\1={REDACTED}",
    ),
    # secret-looking fields in JSON, reprs and key=value text (a quoted value stays quoted)
    (
        ("secret", "passw", "pin", "token", "unseal", "customer"),
        re.compile(
            rf"(?i)([\"']?\b(?:{_SECRET_FIELDS})[\"']?\s*[:=]\s*)(?!\[redacted)(?:([\"'])[^\"']*\2|[^\s,;&)}}\]]+)"
        ),
        rf"\1\2{REDACTED}\2",
    ),
    # vault tokens: hvs./hvb./hvr. (strongroom's and Vault's), and Vault's legacy s./b. service and batch tokens
    (
        ("hvs.", "hvb.", "hvr."),
        re.compile(r"\bhv[sbr]\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]+)*"),
        "[redacted vault token]",
    ),
    (("s.", "b."), re.compile(r"\b[sb]\.[A-Za-z0-9]{24}\b"), "[redacted vault token]"),
    # a password in a URL's userinfo (database_url, backends)
    (("://",), re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.I), rf"\1{REDACTED}@"),
)
_PLAIN = logging.Formatter()


def scrub(text: str) -> str:
    """Mask everything in ``text`` that looks like a secret (the safety net under every log line)."""
    low = text.lower()
    for gate, pattern, replacement in _SCRUB:
        if any(needle in low for needle in gate):
            text = pattern.sub(replacement, text)
    return text


def redact_query(query: str) -> str:
    """A request's query string as an access line shows it: every name, and only the values of SAFE_QUERY_PARAMS."""
    if not query:
        return query
    out = []
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        if value and unquote(name).lower() not in SAFE_QUERY_PARAMS:
            value = REDACTED
        out.append(name + eq + value)
    return "&".join(out)


def rfc3339(created: float) -> str:
    """A record's time as RFC 3339 UTC with milliseconds: 2025-01-02T03:04:05.678Z."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RedactFilter(logging.Filter):
    """On every handler: render the message, scrub it, and freeze it (args gone); the traceback and stack too.

    The exception's traceback objects are dropped once rendered: the frames (and their local variables) never reach a
    formatter.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not print its arguments
            message = f"{record.msg!s} (unformattable log arguments)"
        record.msg = scrub(message)
        record.args = None
        if record.exc_info:
            record.exc_text = _PLAIN.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        path = getattr(record, "path", None)
        if isinstance(path, str):
            record.path = scrub(path)
        return True


class TextFormatter(logging.Formatter):
    """``2025-01-02T03:04:05.678Z INFO strongroom.access: message``, the traceback on the lines below."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return rfc3339(record.created)


#: Structured fields a record may carry (``extra=``); the access log sets them.
FIELDS = ("method", "path", "status", "client", "request_id")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (RFC 3339 UTC), level, logger, message, pid, the FIELDS a record has, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                out[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, default=str)


def logging_config(log_level: str = "info", log_format: str = "text") -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of every strongroom process (uvicorn's ``log_config`` in each worker).

    uvicorn's own access log stays off: ``http.accesslog.AccessLog`` writes the access lines, with redacted queries.
    """
    if log_format not in FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(FORMATS)}")
    level = log_level.upper()
    # httpx logs each request (each gateway -> vault call) at INFO: shown at debug only
    quiet = "INFO" if level == "DEBUG" else level if logging.getLevelName(level) > logging.INFO else "WARNING"
    formatter = "strongroom.logs.JsonFormatter" if log_format == "json" else "strongroom.logs.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "strongroom.logs.RedactFilter"}},
        "formatters": {"strongroom": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["redact"],
                "formatter": "strongroom",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.asgi": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
            "httpx": {"level": quiet},
            "httpcore": {"level": quiet},
        },
    }


_format = "text"


def configure(log_level: str = "info", log_format: str = "text") -> None:
    """Set up logging for this process (the serve parent, the vault; uvicorn workers get ``logging_config``)."""
    global _format
    logging.config.dictConfig(logging_config(log_level, log_format))
    logging.captureWarnings(True)
    _format = log_format


def notice(level: int, *lines: str, loud: bool = False) -> None:
    """An operator notice at startup: in text format printed as it is (between two rules of ``!`` when loud, to
    stderr when a warning or worse); in JSON format one record of the ``strongroom`` logger, its lines joined."""
    if _format == "json":
        logging.getLogger("strongroom").log(level, " ".join(lines))
        return
    out = sys.stderr if level >= logging.WARNING else sys.stdout
    rule = ["!" * 72] if loud else []
    for line in [*rule, *lines, *rule]:
        print(line, file=out)
    out.flush()
