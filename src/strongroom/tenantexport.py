"""``strongroom tenant export``: everything a tenant owns, written to a directory (docs/TENANT-LIFECYCLE.md has the
layout and the rules).

It runs on the tenant's side, with the tenant admin's own credentials, through the same APIs any client uses: the
admin API (identities, bucket and object listings), S3 (each object decrypted by the server as a GET, each bucket's
policy, ACLs, encryption and public access settings), and the vault with a token of the tenant's namespace (key
metadata, never material). Operators cannot run it: the server refuses them the data.

Bodies stream to disk in ``CHUNK`` pieces (memory does not grow with an object's size); each file is written under a
temporary name, fsynced and renamed, and recorded in a journal, so a run that stops can be run again into the same
directory: objects already there with the same ETag, size, time and SHA-256 are kept, the rest is fetched, and
files of objects that no longer exist are removed.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from strongroom.http.admin.client import AdminClient, AdminError, sign

FORMAT = "strongroom.tenant-export.v1"
CHUNK = 1024 * 1024
MAX_NAME_BYTES = 200  # a file name's budget (filesystems allow 255 bytes); longer encodings are hashed
_HASHED_PREFIX_BYTES = 120
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
ATTEMPTS = 3
JOURNAL = ".export-journal.jsonl"
#: S3's response headers that belong to an object (besides x-amz-meta-*), as the manifest names them
_HEADERS = {
    "content-type": "content_type",
    "content-encoding": "content_encoding",
    "content-disposition": "content_disposition",
    "content-language": "content_language",
    "cache-control": "cache_control",
    "expires": "expires",
    "x-amz-storage-class": "storage_class",
}
_SSE_MODES = {"AES256": "SSE-S3", "aws:kms": "SSE-KMS"}


# --- file names ---------------------------------------------------------------------------------------------------


def _escape(key: str) -> str:
    raw = key.encode("utf-8")
    last = len(raw) - 1
    return "".join(
        chr(b) if chr(b) in _SAFE and not (b == 0x2E and i in (0, last)) else f"%{b:02X}" for i, b in enumerate(raw)
    )


def encode_key(key: str) -> str:
    """An object key as one file name: ASCII letters, digits, ``-`` and ``_`` stay; ``.`` stays except first and
    last; every other byte of the key's UTF-8 (``/``, ``%``, ``~``, spaces, non-ASCII...) is ``%XX``. So no name is
    ``.``, ``..``, hidden, or holds a separator, and :func:`decode_name` gives the key back. An encoding longer than
    ``MAX_NAME_BYTES`` is replaced by :func:`hashed_name`."""
    name = _escape(key)
    return name if len(name) <= MAX_NAME_BYTES else hashed_name(key)


def hashed_name(key: str) -> str:
    """The name of a key whose encoding is too long (or is taken): the encoding's first bytes (never a partial
    ``%XX``), ``~``, and the SHA-256 of the key in hex. :func:`encode_key` always escapes ``~``, so the two forms
    never meet."""
    cut = _escape(key)[:_HASHED_PREFIX_BYTES]
    if "%" in cut[-2:]:
        cut = cut[: cut.rindex("%")]
    return f"{cut}~{hashlib.sha256(key.encode('utf-8')).hexdigest()}"


def decode_name(name: str) -> str | None:
    """The key a file name was made from; None for a hashed name (the manifest says which key it holds)."""
    if "~" in name:
        return None
    return urllib.parse.unquote(name, errors="strict")


class Names:
    """The file names taken in one bucket's directory, compared case-insensitively (macOS, Windows): a key whose
    name is taken gets its hashed name."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, key: str, wanted: str | None = None) -> str:
        """The name ``key`` gets here: ``wanted`` (the name an earlier run gave it) if it is one of the key's two
        names and free, else its plain name if free, else its hashed name."""
        plain, hashed = encode_key(key), hashed_name(key)
        for name in (wanted if wanted in (plain, hashed) else None, plain, hashed):
            if name and name.casefold() not in self._taken:
                self._taken.add(name.casefold())
                return name
        raise RuntimeError(f"no free file name for key {key!r}")  # two keys with one SHA-256


# --- the sources --------------------------------------------------------------------------------------------------


class S3Reader:
    """Signed S3 GETs (path-style), streamed."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, http: httpx.Client) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._access = access_key
        self._secret = secret_key
        self.http = http

    def __repr__(self) -> str:
        return f"S3Reader({self.endpoint!r}, access_key={self._access!r}, secret=<redacted>)"

    def url(self, bucket: str, key: str | None = None, query: str = "") -> str:
        # the key is one escaped segment ("/" too), its dots escaped as well: HTTP clients drop "." and ".." segments
        escaped = urllib.parse.quote(key, safe="-_~").replace(".", "%2E") if key is not None else None
        path = f"/{bucket}" + (f"/{escaped}" if escaped is not None else "")
        return self.endpoint + path + (f"?{query}" if query else "")

    @contextlib.contextmanager
    def get(self, url: str, headers: dict[str, str] | None = None) -> Iterator[httpx.Response]:
        signed = sign("GET", url, b"", self._access, self._secret, headers=headers or {})
        with self.http.stream("GET", url, headers=signed) as r:
            yield r

    def text(self, url: str) -> tuple[int, str]:
        with self.get(url) as r:
            r.read()
            return r.status_code, r.text


def s3_error_code(body: str) -> str:
    """The ``<Code>`` of an S3 error document ('' when there is none)."""
    start, end = body.find("<Code>"), body.find("</Code>")
    return body[start + 6 : end] if 0 <= start < end else ""


class VaultReader:
    """The tenant's vault namespace, read with a short-lived token of it (revoked when done)."""

    def __init__(self, url: str, token: str, namespace: str, http: httpx.Client) -> None:
        self.url = url.rstrip("/")
        self.http = http
        self._headers = {"x-vault-token": token, "x-vault-namespace": namespace}

    def __repr__(self) -> str:
        return f"VaultReader({self.url!r}, token=<redacted>)"

    def _get(self, path: str, listing: bool = False) -> dict[str, Any] | None:
        r = self.http.request("LIST" if listing else "GET", f"{self.url}/v1/{path}", headers=self._headers)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        data = r.json().get("data")
        return data if isinstance(data, dict) else {}

    def keys(self) -> list[dict[str, Any]]:
        names = (self._get("transit/keys", listing=True) or {}).get("keys", [])
        return [self._get(f"transit/keys/{urllib.parse.quote(n, safe='')}") or {"name": n} for n in sorted(names)]

    def secrets(self, prefix: str = "") -> list[dict[str, Any]]:
        """Every KV v2 secret's path and metadata (versions, times, custom metadata); never a value."""
        out: list[dict[str, Any]] = []
        for child in sorted((self._get(f"secret/metadata/{prefix}", listing=True) or {}).get("keys", [])):
            path = prefix + child
            if child.endswith("/"):
                out.extend(self.secrets(path))
            else:
                out.append({"path": path, "metadata": self._get(f"secret/metadata/{path}")})
        return out

    def close(self) -> None:
        with contextlib.suppress(httpx.HTTPError):
            self.http.post(f"{self.url}/v1/auth/token/revoke-self", headers=self._headers)


# --- the export ---------------------------------------------------------------------------------------------------


class ExportError(Exception):
    """The export cannot run (wrong caller, unreadable directory...): nothing was written."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Result:
    manifest: dict[str, Any]
    exported: int = 0
    reused: int = 0
    skipped: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.skipped or self.failed)


class Exporter:
    def __init__(
        self,
        admin: AdminClient,
        s3: S3Reader,
        out: Path,
        *,
        vault: Callable[[], VaultReader] | None = None,
        vault_unavailable: str = "",
        sse_c_keys: list[bytes] | None = None,
        progress: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.admin = admin
        self.s3 = s3
        self.out = out
        self.vault = vault
        self.vault_unavailable = vault_unavailable
        self.sse_c_keys = list(sse_c_keys or [])
        self.progress = progress

    # --- the run -------------------------------------------------------------------------------------------------
    def run(self, tenant: str) -> Result:
        me = self.admin.request("GET", "/whoami")
        if me.get("operator"):
            raise ExportError("operators cannot export tenant data: run the export with the tenant admin's key")
        if me.get("tenant") != tenant or not me.get("admin"):
            raise ExportError(
                f"the export of tenant {tenant} runs with an admin key of {tenant} "
                f"(this key is {me.get('tenant')}/{me.get('user')}'s)"
            )
        self._check_directory()
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / JOURNAL).touch()  # from now on the directory is an export (a re-run may continue it)
        (self.out / "objects").mkdir(exist_ok=True)
        prior = self._prior()
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "tenant": tenant,
            "started_at": _now(),
            "exported_by": {"arn": me.get("arn"), "user": me.get("user")},
            "endpoint": self.s3.endpoint,
            "files": {"buckets": "buckets.json", "iam": "iam.json", "keys": "keys.json", "objects": "objects/"},
        }
        result = Result(manifest)
        _write_json(self.out / "iam.json", self._iam(tenant))
        buckets = self.admin.request("GET", "/buckets") or []
        _write_json(self.out / "buckets.json", [self._bucket(b) for b in buckets])
        manifest["keys"] = self._keys()
        objects: list[dict[str, Any]] = []
        with (self.out / JOURNAL).open("a", encoding="utf-8") as journal:
            for b in buckets:
                objects.extend(self._objects(b["name"], prior, journal, result))
        manifest["audit"] = _export_audit(self.admin, self.out, tenant)
        self._sweep(buckets, objects)
        manifest["objects"] = objects
        manifest["counts"] = {
            "buckets": len(buckets),
            "objects": len(objects),
            "exported": sum(1 for o in objects if o["status"] == "exported"),
            "skipped": result.skipped,
            "failed": result.failed,
            "bytes": sum(o["size"] for o in objects if o["status"] == "exported"),
        }
        manifest["complete"] = result.complete
        manifest["finished_at"] = _now()
        _write_json(self.out / "manifest.json", manifest)
        (self.out / JOURNAL).unlink(missing_ok=True)
        return result

    def _check_directory(self) -> None:
        """Write only into a new or empty directory, or an earlier export (a re-run deletes stale files in it)."""
        if not self.out.exists():
            return
        if not self.out.is_dir():
            raise ExportError(f"{self.out} is not a directory")
        if (self.out / JOURNAL).exists():
            return
        try:
            doc = json.loads((self.out / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = None
        if isinstance(doc, dict) and doc.get("format") == FORMAT:
            return
        if any(self.out.iterdir()):
            raise ExportError(f"{self.out} is neither empty nor an earlier export: choose another directory")

    def _prior(self) -> dict[tuple[str, str], dict[str, Any]]:
        """What an earlier run into this directory wrote: its manifest, then the journal of an interrupted run."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        manifest = self.out / "manifest.json"
        if manifest.exists():
            try:
                doc = json.loads(manifest.read_text(encoding="utf-8"))
            except ValueError:
                doc = {}
            if isinstance(doc, dict) and doc.get("format") == FORMAT:
                for o in doc.get("objects") or []:
                    found[(o["bucket"], o["key"])] = o
        journal = self.out / JOURNAL
        if journal.exists():
            for line in journal.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    o = json.loads(line)
                    found[(o["bucket"], o["key"])] = o
        return found

    # --- identities, buckets, keys ----------------------------------------------------------------------------------
    def _iam(self, tenant: str) -> dict[str, Any]:
        def policy(kind: str, name: str) -> Any:
            try:
                return self.admin.request("GET", f"/tenants/{tenant}/{kind}/{name}/policy")
            except AdminError as exc:
                if exc.status == 404:
                    return None
                raise

        keys = self.admin.request("GET", f"/tenants/{tenant}/access-keys") or []
        users = []
        for u in self.admin.request("GET", f"/tenants/{tenant}/users") or []:
            u = dict(u)
            u["policy"] = policy("users", u["name"]) if u.get("has_policy") else None
            u["access_keys"] = [k for k in keys if k["user"] == f"{tenant}/{u['name']}"]
            users.append(u)
        groups = []
        for g in self.admin.request("GET", f"/tenants/{tenant}/groups") or []:
            g = dict(g)
            g["policy"] = policy("groups", g["name"]) if g.get("has_policy") else None
            groups.append(g)
        return {
            "tenant": self.admin.request("GET", f"/tenants/{tenant}"),
            "users": users,
            "groups": groups,
            "note": "access key ids only: secrets are never exported (make new keys where you go)",
        }

    def _bucket(self, b: dict[str, Any]) -> dict[str, Any]:
        """A bucket's configuration as S3 answers it (XML documents as they are: PUT them back as they are)."""
        name = b["name"]
        out: dict[str, Any] = dict(b)
        for sub in ("policy", "acl", "encryption", "publicAccessBlock", "ownershipControls", "cors", "versioning"):
            status, body = self.s3.text(self.s3.url(name, query=sub))
            field_name = {"publicAccessBlock": "public_access_block", "ownershipControls": "ownership_controls"}.get(
                sub, sub
            )
            if status == 200:
                out[field_name] = json.loads(body) if sub == "policy" else body
            elif status == 404:
                out[field_name] = None
            else:
                out[field_name] = {"error": s3_error_code(body) or f"HTTP {status}"}
        return out

    def _keys(self) -> str:
        if self.vault is None:
            _write_json(self.out / "keys.json", {"status": "unavailable", "reason": self.vault_unavailable})
            return f"unavailable: {self.vault_unavailable}"
        try:
            reader = self.vault()
        except (httpx.HTTPError, AdminError, KeyError, ValueError) as exc:
            reason = f"no vault token ({exc})"
            _write_json(self.out / "keys.json", {"status": "unavailable", "reason": reason})
            return f"unavailable: {reason}"
        try:
            doc = {
                "status": "exported",
                "keys": reader.keys(),
                "secrets": reader.secrets(),
                "note": "metadata only: no key material and no secret value is ever exported",
            }
        except (httpx.HTTPError, ValueError) as exc:
            reason = f"the vault could not be read ({type(exc).__name__}: {exc})"
            _write_json(self.out / "keys.json", {"status": "unavailable", "reason": reason})
            return f"unavailable: {reason}"
        finally:
            reader.close()
        _write_json(self.out / "keys.json", doc)
        return "exported"

    # --- objects --------------------------------------------------------------------------------------------------
    def _list(self, bucket: str) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            query = {"max_keys": "1000", **({"after": after} if after is not None else {})}
            page = self.admin.request("GET", f"/buckets/{bucket}/objects?{urllib.parse.urlencode(query)}")
            yield from page["objects"]
            if not page["is_truncated"] or not page["objects"]:
                return
            after = page["objects"][-1]["key"]

    def _objects(
        self, bucket: str, prior: dict[tuple[str, str], dict[str, Any]], journal: Any, result: Result
    ) -> list[dict[str, Any]]:
        folder = self.out / "objects" / bucket
        folder.mkdir(parents=True, exist_ok=True)
        names = Names()
        done = []
        for listed in self._list(bucket):
            key = listed["key"]
            before = prior.get((bucket, key))
            name = names.claim(key, before.get("path", "").rpartition("/")[2] if before else None)
            entry = self._reuse(folder / name, listed, before) if before else None
            if entry is not None:
                result.reused += 1
            else:
                entry = self._fetch(bucket, key, listed, folder, name, result)
                if entry is None:
                    continue
                journal.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
                journal.flush()
            done.append(entry)
        return done

    def _reuse(self, path: Path, listed: dict[str, Any], before: dict[str, Any]) -> dict[str, Any] | None:
        """The earlier run's entry, if it is the same version of the object, under the name this run gives it, and
        its file still holds what was recorded."""
        same = all(before.get(k) == listed[k] for k in ("etag", "size", "last_modified"))
        if not same or before.get("status") != "exported" or self.out / before["path"] != path:
            return None
        if not path.is_file() or path.stat().st_size != listed["size"] or _sha256_of(path) != before.get("sha256"):
            return None
        return before

    def _fetch(
        self, bucket: str, key: str, listed: dict[str, Any], folder: Path, name: str, result: Result
    ) -> dict[str, Any] | None:
        """GET the object into ``folder/name``: its manifest entry (None: it was deleted meanwhile). An SSE-C object
        is fetched again with each ``--sse-c-key`` until one is its key; without one it is skipped."""
        base = {
            "bucket": bucket,
            "key": key,
            "path": f"objects/{bucket}/{name}",
            "size": listed["size"],
            "etag": listed["etag"],
            "last_modified": listed["last_modified"],
        }
        self.progress(f"{bucket}/{key}")
        url, target = self.s3.url(bucket, key), folder / name
        plans: list[dict[str, str]] = [{}]
        customer, reason = False, ""
        for headers in plans:  # grows by the customer keys once the object turns out to be SSE-C
            try:
                got = self._download(url, headers, target, base)
            except _Refused as exc:
                if exc.code == "NoSuchKey":
                    return None
                if not headers and exc.code == "InvalidRequest" and "Server Side Encryption" in exc.message:
                    customer = True
                    plans.extend(_sse_c_headers(k) for k in self.sse_c_keys)
                    reason = "SSE-C: stored with a customer-supplied key; pass that key with --sse-c-key"
                    continue
                if headers and exc.code == "AccessDenied":
                    reason = "SSE-C: none of the --sse-c-key keys is this object's key"
                    continue
                reason = exc.reason
                break
            except _Retry as exc:
                reason = str(exc)
                break
            result.exported += 1
            return {**base, **got, "status": "exported"}
        if customer:
            result.skipped += 1
            result.problems.append(f"skipped {bucket}/{key}: {reason}")
            return {**base, "sse": {"mode": "SSE-C"}, "status": "skipped", "reason": reason}
        result.failed += 1
        result.problems.append(f"failed {bucket}/{key}: {reason}")
        return {**base, "status": "failed", "reason": reason}

    def _download(self, url: str, headers: dict[str, str], target: Path, base: dict[str, Any]) -> dict[str, Any]:
        """Up to ATTEMPTS transfers (a refusal is not retried)."""
        for attempt in range(ATTEMPTS):
            try:
                return self._download_once(url, headers, target, base)
            except _Retry:
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _download_once(self, url: str, headers: dict[str, str], target: Path, base: dict[str, Any]) -> dict[str, Any]:
        tmp = target.with_name(f".{target.name}.part")
        sha, md5, written = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
        try:
            with self.s3.get(url, headers) as r:
                if r.status_code != 200:
                    r.read()
                    code = s3_error_code(r.text)
                    if r.status_code >= 500:
                        raise _Retry(f"HTTP {r.status_code} {code}")
                    raise _Refused(code or f"HTTP {r.status_code}", r.text)
                meta = _object_meta(r.headers, headers)
                with tmp.open("wb") as f:
                    for chunk in r.iter_bytes(CHUNK):
                        f.write(chunk)
                        sha.update(chunk)
                        md5.update(chunk)
                        written += len(chunk)
                    f.flush()
                    os.fsync(f.fileno())
        except httpx.HTTPError as exc:
            tmp.unlink(missing_ok=True)
            raise _Retry(f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if written != base["size"]:
            tmp.unlink(missing_ok=True)
            raise _Retry(f"got {written} bytes, the listing says {base['size']}")
        etag = base["etag"]
        if meta["sse"]["mode"] != "SSE-C" and "-" not in etag and md5.hexdigest() != etag:
            tmp.unlink(missing_ok=True)
            raise _Retry("the bytes do not match the object's ETag (MD5)")
        os.replace(tmp, target)
        acl_status, acl = self.s3.text(url + "?acl")
        return {**meta, "sha256": sha.hexdigest(), "acl": acl if acl_status == 200 else None}

    def _sweep(self, buckets: list[dict[str, Any]], objects: list[dict[str, Any]]) -> None:
        """Remove what an earlier run left that is no longer the tenant's: files of deleted objects, temporary
        files, folders of deleted buckets. Only under objects/."""
        keep = {o["path"] for o in objects if o["status"] == "exported"}
        names = {b["name"] for b in buckets}
        root = self.out / "objects"
        for folder in root.iterdir():
            if not folder.is_dir():
                continue
            for f in folder.iterdir():
                if f.is_file() and f"objects/{folder.name}/{f.name}" not in keep:
                    f.unlink()
            if folder.name not in names:
                with contextlib.suppress(OSError):
                    folder.rmdir()


class _Retry(Exception):
    """A transfer failed in a way worth another attempt."""


class _Refused(Exception):
    """S3 refused the GET (4xx): ``code`` from its error document."""

    def __init__(self, code: str, body: str) -> None:
        super().__init__(code)
        self.code = code
        start, end = body.find("<Message>"), body.find("</Message>")
        self.message = body[start + 9 : end] if 0 <= start < end else ""
        self.reason = f"{code}: {self.message}" if self.message else code


def _sse_c_headers(key: bytes) -> dict[str, str]:
    return {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(
            hashlib.md5(key, usedforsecurity=False).digest()
        ).decode(),
    }


def _object_meta(h: httpx.Headers, sent: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {field: h.get(name) for name, field in _HEADERS.items() if h.get(name) is not None}
    meta["metadata"] = {k[len("x-amz-meta-") :]: v for k, v in h.items() if k.startswith("x-amz-meta-")}
    if sent:
        sse: dict[str, Any] = {
            "mode": "SSE-C",
            "customer_key_md5": sent["x-amz-server-side-encryption-customer-key-md5"],
        }
    else:
        sse = {"mode": _SSE_MODES.get(h.get("x-amz-server-side-encryption", ""), None)}
        if h.get("x-amz-server-side-encryption-aws-kms-key-id"):
            sse["kms_key_id"] = h["x-amz-server-side-encryption-aws-kms-key-id"]
        if h.get("x-amz-server-side-encryption-bucket-key-enabled"):
            sse["bucket_key_enabled"] = h["x-amz-server-side-encryption-bucket-key-enabled"] == "true"
    meta["sse"] = sse
    return meta


def _export_audit(admin: AdminClient, out: Path, tenant: str) -> str:
    """The tenant's audit chain into ``out/audit.jsonl``, as ``GET /audit/export`` streams it (it ends with a
    checkpoint signed at export time: ``strongroom audit verify`` checks it offline). Written to a temp file and
    renamed, so an interrupted export never leaves a shortened log under the final name."""
    import urllib.parse

    final = out / "audit.jsonl"
    tmp = out / ".audit.jsonl.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        for line in admin.lines("/audit/export?" + urllib.parse.urlencode({"tenant": tenant})):
            f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(final)
    return "audit.jsonl"
