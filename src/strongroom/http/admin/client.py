"""A small client of the admin API: every request SigV4-signed (header auth, signed payload), as the server checks
it with the very same canonicalisation code (http/s3/sigv4.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import ssl
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx

from strongroom.http.s3.sigv4 import (
    ALGORITHM,
    AMZ_DATE_FORMAT,
    SERVICE,
    TERMINATOR,
    canonical_request,
    derive_signing_key,
    parse_query,
    sign_hex,
    string_to_sign,
)

PREFIX = "/_strongroom/api/v1"


class AdminError(Exception):
    """The admin API answered with an error (``status``, ``code``, ``message``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def sign(
    method: str,
    url: str,
    body: bytes,
    access_key: str,
    secret_key: str,
    region: str = "local",
    now: dt.datetime | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers that sign a request (host, x-amz-date, x-amz-content-sha256, authorization)."""
    parts = urllib.parse.urlsplit(url)
    moment = now or dt.datetime.now(dt.UTC)
    amz_date = moment.strftime(AMZ_DATE_FORMAT)
    payload = hashlib.sha256(body).hexdigest()
    out = {k.lower(): v for k, v in (headers or {}).items()}
    out.update({"host": parts.netloc, "x-amz-date": amz_date, "x-amz-content-sha256": payload})
    signed = sorted(out)
    scope = f"{amz_date[:8]}/{region}/{SERVICE}/{TERMINATOR}"
    canonical = canonical_request(method, parts.path or "/", parse_query(parts.query), out, signed, payload)
    key = derive_signing_key(secret_key, amz_date[:8], region)
    signature = sign_hex(key, string_to_sign(amz_date, scope, canonical))
    out["authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return out


class AdminClient:
    def __init__(
        self, endpoint: str, access_key: str, secret_key: str, verify: ssl.SSLContext | bool = True, timeout: float = 60
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._access = access_key
        self._secret = secret_key
        self.http = httpx.Client(verify=verify, timeout=timeout)

    def __repr__(self) -> str:
        return f"AdminClient({self.endpoint!r}, access_key={self._access!r}, secret=<redacted>)"

    def request(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        url = self.endpoint + PREFIX + path
        headers = {"content-type": "application/json"} if data else {}
        headers = sign(method, url, data, self._access, self._secret, headers=headers)
        r = self.http.request(method, url, content=data, headers=headers)
        if r.status_code >= 400:
            try:
                err = r.json().get("error", {})
            except ValueError:
                err = {}
            raise AdminError(r.status_code, err.get("code", str(r.status_code)), err.get("message", r.text[:200]))
        if r.status_code == 204 or not r.content:
            return None
        return r.json()

    def lines(self, path: str) -> Iterator[str]:
        """GET a JSON-lines answer (an audit export), line by line, streamed."""
        url = self.endpoint + PREFIX + path
        headers = sign("GET", url, b"", self._access, self._secret, headers={})
        with self.http.stream("GET", url, headers=headers) as r:
            if r.status_code >= 400:
                r.read()
                try:
                    err = r.json().get("error", {})
                except ValueError:
                    err = {}
                raise AdminError(r.status_code, err.get("code", str(r.status_code)), err.get("message", r.text[:200]))
            yield from r.iter_lines()

    def close(self) -> None:
        self.http.close()
