"""Shared fixtures. End-to-end fixtures start the real server process over real TLS."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from strongroom.devserver import (  # noqa: F401  (re-exported: tests import them from here)
    OPERATOR_ACCESS,
    OPERATOR_SECRET,
    ROOT_ACCESS,
    ROOT_SECRET,
    ROOT_TOKEN,
    Server,
    free_port,
    start_server,
    wait_healthy,
)

# CLI subprocesses (strongroom key ..., operator ...) authenticate to the vault with this token
os.environ.setdefault("STRONGROOM_ROOT_TOKEN", ROOT_TOKEN)


def anonymous_file_sizes(pid: int, under: Path) -> list[int]:
    """Sizes of the files process ``pid`` has open under ``under`` that have no name: in-flight anonymous
    (O_TMPFILE) blob writes, seen through /proc."""
    sizes = []
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
            if target.startswith(str(Path(under).resolve())) and target.endswith("(deleted)"):
                sizes.append(os.stat(f"{fd_dir}/{fd}").st_size)
        except OSError:
            continue
    return sizes


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One shared server for the session (per xdist worker)."""
    base = tmp_path_factory.mktemp("srv")
    srv = start_server(base / "data")
    yield srv
    srv.stop()


@pytest.fixture()
def s3(server: Server):
    return server.client()


@pytest.fixture()
def bucket(s3, request: pytest.FixtureRequest) -> Iterator[str]:
    import re
    import uuid

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + "-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=name)
    yield name
    try:
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=name, Delete={"Objects": keys})
        for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        s3.delete_bucket(Bucket=name)
    except Exception:
        pass


# --- no log line holds a secret -------------------------------------------------------------------------------------
# Every server log the session writes (server-*.log beside each data directory, whoever started the server), and
# every audit entry its servers recorded, is scanned when the session ends, for the fixed test secrets, every secret a test registers, and any SigV4 signature
# or presigned credential in the clear. A hit fails the session's last test, naming the file and line.

_LOG_SECRETS: dict[bytes, str] = {}  # needle -> what it is (never the value: the failure message names it)
_LOG_PATTERNS = {
    "a SigV4 signature": re.compile(rb"(?i)signature=[0-9a-f]{64}"),
    "an X-Amz-Credential": re.compile(rb"(?i)x-amz-credential=[a-z0-9]+(?:/|%2f)"),
}


def _log_secrets() -> dict[bytes, str]:
    """The one registry, whichever name (conftest or tests.conftest) the caller imported this module by."""
    import tests.conftest as canonical

    return canonical._LOG_SECRETS


def register_secret(value: str | bytes, what: str = "a registered secret") -> None:
    """The session's log scan fails if ``value`` shows up in a server log: a string as it is and URL-quoted, bytes
    (an SSE-C key) raw, hex and base64."""
    if isinstance(value, bytes):
        forms = {value, value.hex().encode(), base64.b64encode(value), base64.urlsafe_b64encode(value)}
    else:
        forms = {value.encode(), quote(value, safe="").encode()}
    for form in forms:
        _log_secrets()[form] = what


for _value, _what in ((ROOT_SECRET, "ROOT_SECRET"), (OPERATOR_SECRET, "OPERATOR_SECRET"), (ROOT_TOKEN, "ROOT_TOKEN")):
    register_secret(_value, _what)


def audit_dumps(base: Path) -> list[Path]:
    """Every audit entry the session's servers wrote (each SQLite database's ``audit_entries``), one file per database
    beside it, so the same scan covers the audit log."""
    import sqlite3

    out = []
    for db in sorted({p.resolve() for p in base.glob("**/strongroom.db")}):
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
                rows = conn.execute("SELECT body FROM audit_entries").fetchall()
        except sqlite3.Error:
            continue  # no audit table (an older schema a test made on purpose)
        dump = db.with_name("audit-entries.jsonl")
        dump.write_text("".join(r[0] + "\n" for r in rows))
        out.append(dump)
    return out


def scan_logs(paths: list[Path]) -> list[str]:
    """``file:line: what`` for every registered secret and every signature or credential pattern in the files."""
    needles = dict(_log_secrets())
    problems = []
    for path in paths:
        data = path.read_bytes()
        hits = [what for needle, what in needles.items() if needle in data]
        hits += [what for what, pattern in _LOG_PATTERNS.items() if pattern.search(data)]
        if not hits:
            continue
        for number, line in enumerate(data.splitlines(), 1):
            found = [what for needle, what in needles.items() if needle in line]
            found += [what for what, pattern in _LOG_PATTERNS.items() if pattern.search(line)]
            problems += [f"{path}:{number}: {what}" for what in sorted(set(found))]
    return problems


def server_logs(base: Path) -> list[Path]:
    """The server logs under the session's temp base (start_server writes them beside the data directory), each
    once (pytest links ``<test>current`` to a test's latest temp directory)."""
    return sorted({p.resolve() for p in (*base.glob("*/server-*.log"), *base.glob("*/*/server-*.log"))})


@pytest.fixture(scope="session", autouse=True)
def _logs_hold_no_secrets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    base = tmp_path_factory.getbasetemp()
    problems = scan_logs(server_logs(base) + audit_dumps(base))
    assert not problems, "a server log or audit entry holds a secret:\n" + "\n".join(problems)
