"""strongroom.logs: what a log line may show (redact_query, scrub, RedactFilter), the text and JSON formats, the
settings that pick them, and the setup a fresh process gets."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from pydantic import ValidationError

from strongroom import logs
from strongroom.config import Settings, load_settings

SIGNATURE = "5f1d2c" + "a" * 58
CREDENTIAL = "SRTESTROOTACCESSKEY1%2F20250102%2Flocal%2Fs3%2Faws4_request"
PRESIGNED = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + CREDENTIAL + "&X-Amz-Date=20250102T030405Z"
    "&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=" + SIGNATURE
)
SSEC_B64 = "qmrYfMvVUD7x6CkPXmS6TpwHc0CVA3eQpkBGTk8Dqv0="
TOKEN = "hvs.CAESIJ3x9w7kq2Zp0aBcDeFgHiJk"


# --- redact_query ------------------------------------------------------------------------------------------------


def test_presigned_query_keeps_names_and_only_harmless_values() -> None:
    assert logs.redact_query(PRESIGNED) == (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[redacted]&X-Amz-Date=20250102T030405Z"
        "&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=[redacted]"
    )


def test_sigv2_and_security_token_values_are_redacted_whatever_their_case() -> None:
    query = f"AWSAccessKeyId=AKIA1&Expires=1700000000&Signature=abc%2Bdef&x-amz-security-token=tok&X-AMZ-SIGNATURE={SIGNATURE}"
    assert logs.redact_query(query) == (
        "AWSAccessKeyId=[redacted]&Expires=[redacted]&Signature=[redacted]&x-amz-security-token=[redacted]"
        "&X-AMZ-SIGNATURE=[redacted]"
    )


def test_listing_and_multipart_values_stay_and_unknown_values_go() -> None:
    query = "list-type=2&prefix=photos%2F2024&max-keys=10&uploadId=UP1&partNumber=3&x-id=GetObject&mystery=secret"
    assert logs.redact_query(query) == (
        "list-type=2&prefix=photos%2F2024&max-keys=10&uploadId=UP1&partNumber=3&x-id=GetObject&mystery=[redacted]"
    )


def test_subresources_without_values_and_empty_values_stay_as_they_are() -> None:
    assert logs.redact_query("acl") == "acl"
    assert logs.redact_query("uploads=&versioning") == "uploads=&versioning"
    assert logs.redact_query("token=") == "token="
    assert logs.redact_query("") == ""


def test_a_percent_encoded_name_is_compared_decoded() -> None:
    assert logs.redact_query("X-Amz-%53ignature=abc&%70refix=a") == "X-Amz-%53ignature=[redacted]&%70refix=a"


# --- scrub (the safety net) --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'"GET /b/k?{PRESIGNED} HTTP/1.1" 200', '"GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[redacted]'
         '&X-Amz-Date=20250102T030405Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=[redacted] HTTP/1.1" 200'),
        (
            f"Authorization: AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders=host, Signature={SIGNATURE}\nnext",
            "Authorization: [redacted]\nnext",
        ),
        (
            f"headers {{'authorization': 'AWS4-HMAC-SHA256 Signature={SIGNATURE}', 'host': 'h'}}",
            "headers {'authorization': '[redacted]', 'host': 'h'}",
        ),
        (
            f"[(b'x-amz-server-side-encryption-customer-key', b'{SSEC_B64}'), (b'x-vault-token', b'{TOKEN}')]",
            "[(b'x-amz-server-side-encryption-customer-key', b'[redacted]'), (b'x-vault-token', b'[redacted]')]",
        ),
        (
            f"x-amz-copy-source-server-side-encryption-customer-key: {SSEC_B64}",
            "x-amz-copy-source-server-side-encryption-customer-key: [redacted]",
        ),
        (
            "x-amz-server-side-encryption-customer-key-MD5: bWQ1LW9mLXRoZS1rZXk=",
            "x-amz-server-side-encryption-customer-key-MD5: bWQ1LW9mLXRoZS1rZXk=",
        ),
        (f"X-Vault-Token: {TOKEN}", "X-Vault-Token: [redacted]"),
        (f"lookup of {TOKEN} failed", "lookup of [redacted vault token] failed"),
        ("root token hvs.strongroom-test-root-token.", "root token [redacted vault token]."),
        ("legacy s.AbCdEfGhIjKlMnOpQrStUvWx ok", "legacy [redacted vault token] ok"),
        (
            '{"secret_access_key": "abc/def", "SecretAccessKey": \'x y\', "client_token": "t"}',
            '{"secret_access_key": "[redacted]", "SecretAccessKey": \'[redacted]\', "client_token": "[redacted]"}',
        ),
        ("pkcs11 pin=123456 label=strongroom", "pkcs11 pin=[redacted] label=strongroom"),
        (f"SSECustomerKey={SSEC_B64})", "SSECustomerKey=[redacted])"),
        ("postgresql://strongroom:hunter2@db:5432/s", "postgresql://strongroom:[redacted]@db:5432/s"),
        (
            "key:\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\ndone",
            "key:\n[redacted private key]\ndone",
        ),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg (cut)", "[redacted private key]"),
    ],
)  # fmt: skip
def test_scrub_masks(text: str, expected: str) -> None:
    assert logs.scrub(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '127.0.0.1:5000 - "GET /photos/2024/cat.jpg?partNumber=1&uploadId=ABC HTTP/1.1" 200',
        "integrity failure on /b/k: ",
        "upgrade: transit key k: moved into namespace acme",
        'File "/srv/strongroom/logs.py", line 12, in scrub',
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "https://localhost:8200/v1/sys/health",
        "auth/token/create",
    ],
)
def test_scrub_leaves_ordinary_lines_alone(text: str) -> None:
    assert logs.scrub(text) == text


# --- RedactFilter and the formatters -------------------------------------------------------------------------------


def _logger(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logs.RedactFilter())
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"strongroom.test.{id(out)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, out


def test_filter_scrubs_the_arguments_of_a_message() -> None:
    logger, out = _logger(logs.TextFormatter())
    logger.warning("request %s with %r", f"/b/k?{PRESIGNED}", {"x-vault-token": TOKEN})
    line = out.getvalue()
    assert SIGNATURE not in line and CREDENTIAL not in line and TOKEN not in line
    assert line.endswith(
        f"WARNING strongroom.test.{id(out)}: request /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[redacted]"
        "&X-Amz-Date=20250102T030405Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=[redacted] with "
        "{'x-vault-token': '[redacted]'}\n"
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line.split(" ", 1)[0])


def test_filter_scrubs_a_traceback_and_drops_its_frames() -> None:
    class LocalsFormatter(logs.TextFormatter):
        """A formatter that would print every frame's local variables, given the frames."""

        def formatException(self, ei):  # noqa: N802
            return "".join(traceback.TracebackException(*ei, capture_locals=True).format())

    logger, out = _logger(LocalsFormatter())

    def handler_with_a_secret_in_scope() -> None:
        customer_key = SSEC_B64  # noqa: F841 - the local the traceback must not show
        raise RuntimeError(f"vault refused token {TOKEN}")

    try:
        handler_with_a_secret_in_scope()
    except RuntimeError:
        logger.exception("internal error (request %s)", "REQ1")
    text = out.getvalue()
    assert "internal error (request REQ1)" in text
    assert "Traceback (most recent call last)" in text and "in handler_with_a_secret_in_scope" in text
    assert "RuntimeError: vault refused token [redacted vault token]" in text
    assert SSEC_B64 not in text and "customer_key =" not in text and TOKEN not in text


def test_without_the_filter_that_formatter_would_leak_the_local() -> None:
    """The guard of the test above: the local variable is there to leak."""
    ei = None
    customer_key = SSEC_B64  # noqa: F841
    try:
        raise RuntimeError("x")
    except RuntimeError:
        ei = sys.exc_info()
    assert SSEC_B64 in "".join(traceback.TracebackException(*ei, capture_locals=True).format())


def test_a_bad_format_string_does_not_print_its_arguments() -> None:
    logger, out = _logger(logs.TextFormatter())
    logger.error("two %s %s", TOKEN)
    assert out.getvalue().endswith(": two %s %s (unformattable log arguments)\n")


def test_json_lines_have_the_fields() -> None:
    logger, out = _logger(logs.JsonFormatter())
    logger.info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/b/k?X-Amz-Signature=[redacted]",
        "1.1",
        200,
        extra={"method": "GET", "path": f"/b/k?X-Amz-Signature={SIGNATURE}", "status": 200, "client": "127.0.0.1:5000"},
    )
    try:
        raise ValueError(f"bad {TOKEN}")
    except ValueError:
        logger.error("multi\nline", exc_info=True)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert set(first) == {"time", "level", "logger", "message", "pid", "method", "path", "status", "client"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert first["level"] == "INFO" and first["logger"] == logger.name and first["pid"] == os.getpid()
    assert first["message"] == '127.0.0.1:5000 - "GET /b/k?X-Amz-Signature=[redacted] HTTP/1.1" 200'
    assert first["path"] == "/b/k?X-Amz-Signature=[redacted]"  # a field is scrubbed too
    assert (first["method"], first["status"], first["client"]) == ("GET", 200, "127.0.0.1:5000")
    assert second["level"] == "ERROR" and second["message"] == "multi\nline"
    assert second["exc"].startswith("Traceback (most recent call last)")
    assert second["exc"].endswith("ValueError: bad [redacted vault token]")


def test_logging_config_puts_the_filter_on_the_one_handler_and_silences_uvicorn_access() -> None:
    cfg = logs.logging_config("debug", "json")
    assert cfg["handlers"]["stderr"]["filters"] == ["redact"]
    assert cfg["filters"]["redact"] == {"()": "strongroom.logs.RedactFilter"}
    assert cfg["formatters"]["strongroom"] == {"()": "strongroom.logs.JsonFormatter"}
    assert cfg["root"] == {"level": "DEBUG", "handlers": ["stderr"]}
    assert cfg["loggers"]["uvicorn.access"]["propagate"] is False
    assert cfg["disable_existing_loggers"] is False  # module-level loggers made before the setup keep logging
    assert logs.logging_config("info")["loggers"]["httpx"] == {"level": "WARNING"}  # one line per vault call
    assert logs.logging_config("error")["loggers"]["httpx"] == {"level": "ERROR"}
    assert logs.logging_config("debug")["loggers"]["httpx"] == {"level": "INFO"}
    with pytest.raises(ValueError, match="log_format"):
        logs.logging_config("info", "xml")


def test_a_configured_process_writes_json_lines_with_redaction_to_stderr() -> None:
    """configure() and notice() in a fresh interpreter, as the serve parent and the vault run them."""
    code = f"""
import logging, warnings
from strongroom import logs
logs.configure("info", "json")
logging.getLogger("strongroom.early").info("X-Vault-Token: {TOKEN}")
logs.notice(logging.WARNING, "first line", "second line", loud=True)
logging.getLogger("uvicorn.access").info("uvicorn's own access line")
logging.getLogger("httpx").info("HTTP Request: GET https://localhost:8200/v1/sys/health")
warnings.warn("a warning")
"""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(logs.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    lines = [json.loads(line) for line in out.stderr.splitlines()]
    assert [(r["logger"], r["level"], r["message"]) for r in lines[:2]] == [
        ("strongroom.early", "INFO", "X-Vault-Token: [redacted]"),
        ("strongroom", "WARNING", "first line second line"),
    ]
    assert lines[2]["logger"] == "py.warnings" and "a warning" in lines[2]["message"]
    assert len(lines) == 3


def test_text_notice_prints_as_before(capsys: pytest.CaptureFixture[str]) -> None:
    assert logs._format == "text"  # the test process never ran configure()
    logs.notice(logging.WARNING, "WARNING: loud", "second", loud=True)
    logs.notice(logging.INFO, "endpoint: https://localhost:8443")
    got = capsys.readouterr()
    assert got.err == "!" * 72 + "\nWARNING: loud\nsecond\n" + "!" * 72 + "\n"
    assert got.out == "endpoint: https://localhost:8443\n"


# --- settings --------------------------------------------------------------------------------------------------------


def test_log_format_and_level_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert (Settings().log_format, Settings().log_level) == ("text", "info")
    assert Settings(log_format="json", log_level="DEBUG").log_level == "debug"
    for bad in ({"log_format": "JSON"}, {"log_format": "xml"}, {"log_level": "trace"}, {"log_level": "verbose"}):
        with pytest.raises(ValidationError):
            Settings(**bad)
    monkeypatch.delenv("STRONGROOM__RESOLVED_SETTINGS", raising=False)
    toml = tmp_path / "strongroom.toml"
    toml.write_text('log_format = "json"\n')
    assert load_settings(toml).log_format == "json"
    monkeypatch.setenv("STRONGROOM_LOG_FORMAT", "text")
    assert load_settings(toml).log_format == "text"  # env over file
    assert load_settings(toml, log_format="json").log_format == "json"  # the flag over env
