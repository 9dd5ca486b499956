"""The KV version 2 secrets engine, as HashiCorp Vault's ``kv-v2`` behaves (hvac is the judge).

Every write makes a new version; reads return the current version or a chosen one. ``delete`` is a
soft delete (the version gets a ``deletion_time`` and can be undeleted); ``destroy`` removes a version's
data for good; deleting the metadata removes every version. ``max_versions`` keeps a sliding window of
versions (default 10) and permanently removes the oldest. Check-and-set (``cas``) guards writes.

Storage layout (through the barrier, plaintext JSON)::

    kv/<mount>/config                 engine configuration
    kv/<mount>/metadata/<path>        key metadata: versions, current/oldest version, settings
    kv/<mount>/data/<path>/<version>  one version's data

Return values are the ``data`` objects of Vault's responses; ``None`` means Vault answers 204.
Errors are :class:`~strongroom.core.errors.VaultError` subclasses carrying Vault's message and HTTP
status; a deleted or destroyed version raises :class:`~strongroom.core.errors.KVVersionDeleted` whose
``data`` is the body Vault sends with its 404 (``data.metadata.deletion_time`` included).

The engine is safe to share between threads; writes are serialised by one lock.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from strongroom.core.errors import KVVersionDeleted, VaultInvalidRequest, VaultNotFound
from strongroom.keys.storage import VaultStorage

__all__ = ["DEFAULT_MAX_VERSIONS", "KVv2Engine", "format_duration", "parse_duration", "parse_time", "rfc3339"]

DEFAULT_MAX_VERSIONS = 10
DISABLED_DELETE_VERSION_AFTER = -1  # seconds; Vault's "disabled" marker in the mount config
_MAX_CUSTOM_METADATA_KEYS = 64
_MAX_CUSTOM_METADATA_KEY_LEN = 128
_MAX_CUSTOM_METADATA_VALUE_LEN = 512
_CUSTOM_METADATA_ERR = "custom_metadata validation failed"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- Vault's time and duration formats ------------------------------------------------


def rfc3339(moment: dt.datetime | None) -> str:
    """Go's ``time.RFC3339Nano`` in UTC (fraction without trailing zeros); ``""`` for None."""
    if moment is None:
        return ""
    moment = moment.astimezone(dt.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_time(text: str | None) -> dt.datetime | None:
    """Inverse of :func:`rfc3339`."""
    if not text:
        return None
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(value: object, field: str = "duration") -> int:
    """Whole seconds from Vault's ``TypeDurationSecond`` forms: a number of seconds, ``"3600"``, ``"7d"``
    or a Go duration string (``"1h30m"``, ``"90s"``)."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise VaultInvalidRequest(f"invalid duration for {field}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if not isinstance(value, str):
        raise VaultInvalidRequest(f"invalid duration for {field}")
    text = value.strip()
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if re.fullmatch(r"[-+]?\d+d", text):
        return int(text[:-1]) * 86400
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0
    total, pos = 0.0, 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if match is None:
            raise VaultInvalidRequest(f'time: invalid duration "{value}"')
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos == 0:
        raise VaultInvalidRequest(f'time: invalid duration "{value}"')
    return sign * int(total)


def _fraction(units: int, digits: int) -> str:
    whole, frac = divmod(units, 10**digits)
    return str(whole) + ("." + f"{frac:0{digits}d}".rstrip("0") if frac else "")


def format_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for ``seconds`` (``0s``, ``1m30s``, ``1h0m0s``, ``-1s``)."""
    ns = round(seconds * 1_000_000_000)
    if ns == 0:
        return "0s"
    sign, units = ("-" if ns < 0 else ""), abs(ns)
    if units < 1_000:
        return f"{sign}{units}ns"
    if units < 1_000_000:
        return f"{sign}{_fraction(units, 3)}µs"
    if units < 1_000_000_000:
        return f"{sign}{_fraction(units, 6)}ms"
    whole, frac = divmod(units, 1_000_000_000)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = _fraction(secs * 1_000_000_000 + frac, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{sec_text}"
    if minutes:
        return f"{sign}{minutes}m{sec_text}"
    return sign + sec_text


# --- helpers ------------------------------------------------------------------------


def _as_int(value: object, field: str) -> int:
    """Vault's weak integer decoding: ints, integral floats and numeric strings."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise VaultInvalidRequest(f"error parsing {field}")


def _as_bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "t", "f"):
        return value.lower() in ("true", "1", "t")
    if isinstance(value, int):
        return bool(value)
    raise VaultInvalidRequest(f"error parsing {field}")


def _versions(value: object) -> list[int]:
    """Vault's ``TypeCommaIntSlice``: a list of ints or a comma-separated string."""
    if value is None:
        return []
    items: Iterable[object]
    if isinstance(value, str):
        items = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, list | tuple):
        items = value
    else:
        items = [value]
    return [_as_int(item, "versions") for item in items]


def _merge_patch(target: object, patch: object) -> object:
    """RFC 7386 JSON merge patch (what Vault's PATCH applies): ``null`` removes a key."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged


def _printable(text: str) -> bool:
    return all(ch.isprintable() for ch in text)


def _custom_metadata(raw: object, *, drop_nulls: bool = False) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise VaultInvalidRequest(f"{_CUSTOM_METADATA_ERR}: expected a map")
    parsed: dict[str, str] = {}
    for key, value in raw.items():
        if drop_nulls and value is None:
            continue
        if isinstance(value, dict | list):
            raise VaultInvalidRequest(f"{_CUSTOM_METADATA_ERR}: value for key {key!r} is not a string")
        parsed[str(key)] = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
    if len(parsed) > _MAX_CUSTOM_METADATA_KEYS:
        raise VaultInvalidRequest(
            f"{_CUSTOM_METADATA_ERR}: payload must contain at most {_MAX_CUSTOM_METADATA_KEYS} keys, "
            f"provided {len(parsed)}"
        )
    problems: list[str] = []
    for key, value in parsed.items():
        if not 0 < len(key) <= _MAX_CUSTOM_METADATA_KEY_LEN:
            problems.append(
                f"{_CUSTOM_METADATA_ERR}: length of key {json.dumps(key)} is {len(key)} "
                f"but must be 0 < len(key) <= {_MAX_CUSTOM_METADATA_KEY_LEN}"
            )
        if not 0 < len(value) <= _MAX_CUSTOM_METADATA_VALUE_LEN:
            problems.append(
                f"{_CUSTOM_METADATA_ERR}: length of value for key {json.dumps(key)} is {len(value)} "
                f"but must be 0 < len(value) <= {_MAX_CUSTOM_METADATA_VALUE_LEN}"
            )
        if not _printable(key):
            problems.append(f"{_CUSTOM_METADATA_ERR}: key {json.dumps(key)} ({key}) contains unprintable characters")
        if not _printable(value):
            problems.append(f"{_CUSTOM_METADATA_ERR}: value for key {json.dumps(key)} contains unprintable characters")
    if problems:
        raise VaultInvalidRequest("; ".join(problems))
    return parsed


def _deletion_time(created: dt.datetime, mount_dva: int, meta_dva: int) -> dt.datetime | None:
    """Vault's deletionTime(): creation + the smallest non-zero of the mount and key settings."""
    if mount_dva == 0 and meta_dva == 0:
        return None
    chosen = meta_dva if meta_dva != 0 else 0
    if (mount_dva != 0 and mount_dva < chosen) or chosen == 0:
        chosen = mount_dva
    return created + dt.timedelta(seconds=chosen)


class KVv2Engine:
    """A KV v2 mount over barrier storage. See the module docstring for the storage layout."""

    def __init__(
        self, storage: VaultStorage, mount: str = "secret", clock: Callable[[], dt.datetime] = _utcnow
    ) -> None:
        mount = mount.strip("/")
        if not mount or "//" in mount:
            raise ValueError("invalid mount path")
        self._storage = storage
        self._mount = mount
        self._clock = clock
        self._lock = threading.RLock()

    @property
    def mount(self) -> str:
        return self._mount

    # --- storage -------------------------------------------------------------------

    def _config_path(self) -> str:
        return f"kv/{self._mount}/config"

    def _meta_path(self, path: str) -> str:
        return f"kv/{self._mount}/metadata/{path}"

    def _data_path(self, path: str, version: int) -> str:
        return f"kv/{self._mount}/data/{path}/{version}"

    def _load_json(self, key: str) -> dict[str, Any] | None:
        raw = self._storage.get(key)
        if raw is None:
            return None
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise ValueError(f"corrupt entry at {key}")
        return value

    def _put_json(self, key: str, value: dict[str, Any]) -> None:
        self._storage.put(key, json.dumps(value, sort_keys=True, separators=(",", ":")).encode())

    def _config(self) -> dict[str, Any]:
        stored = self._load_json(self._config_path()) or {}
        return {
            "max_versions": int(stored.get("max_versions", 0)),
            "cas_required": bool(stored.get("cas_required", False)),
            "delete_version_after": int(stored.get("delete_version_after", 0)),
        }

    def _meta(self, path: str) -> dict[str, Any] | None:
        return self._load_json(self._meta_path(path))

    @staticmethod
    def _clean(path: str, *, allow_folder: bool = False) -> str:
        if not isinstance(path, str):
            raise VaultInvalidRequest("missing path")
        cleaned = path.lstrip("/")
        if not allow_folder:
            if not cleaned:
                raise VaultInvalidRequest("missing path")
            if cleaned.endswith("/"):
                raise VaultInvalidRequest(f"invalid path {path!r}: a secret path cannot end with '/'")
        if "//" in cleaned or "\x00" in cleaned:
            raise VaultInvalidRequest(f"invalid path {path!r}")
        return cleaned

    def _is_deleted(self, version_meta: dict[str, Any]) -> bool:
        deletion = parse_time(version_meta.get("deletion_time"))
        return deletion is not None and deletion <= self._clock()

    # --- config ----------------------------------------------------------------------

    def configure(
        self,
        max_versions: int | None = None,
        cas_required: bool | None = None,
        delete_version_after: int | str | None = None,
    ) -> None:
        """``POST /<mount>/config``. A negative ``delete_version_after`` disables it on every key, zero clears it."""
        if max_versions is None and cas_required is None and delete_version_after is None:
            return
        with self._lock:
            config = self._config()
            if max_versions is not None:
                count = _as_int(max_versions, "max_versions")
                if count < 0:
                    raise VaultInvalidRequest("max_versions cannot be negative")
                config["max_versions"] = count
            if cas_required is not None:
                config["cas_required"] = _as_bool(cas_required, "cas_required")
            if delete_version_after is not None:
                dva = parse_duration(delete_version_after, "delete_version_after")
                config["delete_version_after"] = DISABLED_DELETE_VERSION_AFTER if dva < 0 else dva
            self._put_json(self._config_path(), config)

    def read_config(self) -> dict[str, Any]:
        """``GET /<mount>/config``."""
        config = self._config()
        return {
            "max_versions": config["max_versions"],
            "cas_required": config["cas_required"],
            "delete_version_after": format_duration(config["delete_version_after"]),
        }

    # --- data ----------------------------------------------------------------------

    def _check_cas(self, cas: object, config: dict[str, Any], meta: dict[str, Any]) -> None:
        if cas is not None:
            try:
                expected = _as_int(cas, "cas")
            except VaultInvalidRequest:
                raise VaultInvalidRequest("error parsing check-and-set parameter") from None
            if expected != meta["current_version"]:
                raise VaultInvalidRequest("check-and-set parameter did not match the current version")
        elif config["cas_required"] or meta.get("cas_required"):
            raise VaultInvalidRequest("check-and-set parameter required for this call")

    def _new_meta(self, path: str, now: dt.datetime | None) -> dict[str, Any]:
        """Fresh key metadata; ``now=None`` leaves the times for the first version to set."""
        return {
            "key": path,
            "versions": {},
            "current_version": 0,
            "oldest_version": 0,
            "created_time": rfc3339(now),
            "updated_time": rfc3339(now),
            "max_versions": 0,
            "cas_required": False,
            "delete_version_after": 0,
            "custom_metadata": None,
        }

    def _add_version(
        self, path: str, meta: dict[str, Any], data: dict[str, Any], config: dict[str, Any]
    ) -> dict[str, Any]:
        now = self._clock()
        version = meta["current_version"] + 1
        deletion = None
        if config["delete_version_after"] != DISABLED_DELETE_VERSION_AFTER:
            deletion = _deletion_time(now, config["delete_version_after"], int(meta.get("delete_version_after") or 0))
        self._put_json(self._data_path(path, version), {"data": data, "created_time": rfc3339(now)})
        version_meta = {"created_time": rfc3339(now), "deletion_time": rfc3339(deletion), "destroyed": False}
        meta["current_version"] = version
        meta["versions"][str(version)] = version_meta
        meta["updated_time"] = rfc3339(now)
        if not meta.get("created_time"):
            meta["created_time"] = rfc3339(now)
        # Vault's AddVersion: keep a sliding window of max(key, mount) versions, default 10.
        limit = max(int(meta.get("max_versions") or 0), config["max_versions"]) or DEFAULT_MAX_VERSIONS
        doomed: list[int] = []
        if version - meta["oldest_version"] >= limit:
            last = version - limit
            for old in range(meta["oldest_version"], last + 1):
                popped = meta["versions"].pop(str(old), None)
                if popped is not None and not popped["destroyed"]:
                    doomed.append(old)
            meta["oldest_version"] = last + 1
        self._put_json(self._meta_path(path), meta)
        for old in doomed:
            self._storage.delete(self._data_path(path, old))
        return {
            "version": version,
            "created_time": version_meta["created_time"],
            "deletion_time": version_meta["deletion_time"],
            "destroyed": False,
            "custom_metadata": meta.get("custom_metadata"),
        }

    def create_or_update(self, path: str, data: dict[str, Any] | None, cas: int | str | None = None) -> dict[str, Any]:
        """``POST /<mount>/data/<path>`` with ``{"options": {"cas": cas}, "data": data}``; returns the new version's
        metadata. ``cas=0`` writes only when the secret does not exist yet."""
        path = self._clean(path)
        if data is None:
            raise VaultInvalidRequest("no data provided")
        if not isinstance(data, dict):
            raise VaultInvalidRequest("data must be a JSON object")
        with self._lock:
            config = self._config()
            meta = self._meta(path) or self._new_meta(path, None)
            self._check_cas(cas, config, meta)
            return self._add_version(path, meta, data, config)

    def patch(self, path: str, data: dict[str, Any] | None, cas: int | str | None = None) -> dict[str, Any]:
        """``PATCH /<mount>/data/<path>``: JSON merge patch of the current version into a new version."""
        path = self._clean(path)
        if data is None:
            raise VaultInvalidRequest("no data provided")
        if not isinstance(data, dict):
            raise VaultInvalidRequest("data must be a JSON object")
        with self._lock:
            meta = self._meta(path)
            if meta is None:
                raise VaultNotFound(f"no secret at {path}")
            config = self._config()
            self._check_cas(cas, config, meta)
            current = meta["current_version"]
            version_meta = meta["versions"].get(str(current))
            if version_meta is None:
                raise VaultNotFound(f"no secret at {path}")
            if self._is_deleted(version_meta) or version_meta["destroyed"]:
                body = {"version": current, **version_meta, "custom_metadata": meta.get("custom_metadata")}
                raise KVVersionDeleted(f"version {current} of {path} is deleted", data=body)
            stored = self._load_json(self._data_path(path, current))
            if stored is None:
                raise VaultNotFound("could not find version data", status=500)
            merged = _merge_patch(stored["data"], data)
            assert isinstance(merged, dict)
            return self._add_version(path, meta, merged, config)

    def read(self, path: str, version: int | None = None) -> dict[str, Any]:
        """``GET /<mount>/data/<path>[?version=N]`` -> ``{"data": {...}, "metadata": {...}}``.

        A deleted or destroyed version raises :class:`KVVersionDeleted` carrying Vault's 404 body in ``data``.
        """
        path = self._clean(path)
        meta = self._meta(path)
        if meta is None:
            raise VaultNotFound(f"no secret at {path}")
        number = meta["current_version"]
        if version is not None and _as_int(version, "version") > 0:
            number = _as_int(version, "version")
        version_meta = meta["versions"].get(str(number))
        if version_meta is None:
            raise VaultNotFound(f"no version {number} of {path}")
        body: dict[str, Any] = {
            "data": None,
            "metadata": {
                "version": number,
                "created_time": version_meta["created_time"],
                "deletion_time": version_meta["deletion_time"],
                "destroyed": version_meta["destroyed"],
                "custom_metadata": meta.get("custom_metadata"),
            },
        }
        if self._is_deleted(version_meta) or version_meta["destroyed"]:
            raise KVVersionDeleted(f"version {number} of {path} is deleted", data=body)
        stored = self._load_json(self._data_path(path, number))
        if stored is None:
            raise VaultNotFound("could not find version data", status=500)
        body["data"] = stored["data"]
        return body

    def delete_latest(self, path: str) -> None:
        """``DELETE /<mount>/data/<path>``: soft-delete the current version."""
        path = self._clean(path)
        with self._lock:
            meta = self._meta(path)
            if meta is None:
                return
            version_meta = meta["versions"].get(str(meta["current_version"]))
            if version_meta is None or version_meta["destroyed"] or self._is_deleted(version_meta):
                return
            version_meta["deletion_time"] = rfc3339(self._clock())
            self._put_json(self._meta_path(path), meta)

    def delete_versions(self, path: str, versions: list[int] | str) -> None:
        """``POST /<mount>/delete/<path>`` ``{"versions": [...]}``: soft-delete these versions."""
        path = self._clean(path)
        numbers = _versions(versions)
        if not numbers:
            raise VaultInvalidRequest("No version number provided")
        with self._lock:
            meta = self._meta(path)
            if meta is None:
                return
            now = rfc3339(self._clock())
            for number in numbers:
                version_meta = meta["versions"].get(str(number))
                if version_meta is None or version_meta["destroyed"] or self._is_deleted(version_meta):
                    continue
                version_meta["deletion_time"] = now
            self._put_json(self._meta_path(path), meta)

    def undelete_versions(self, path: str, versions: list[int] | str) -> None:
        """``POST /<mount>/undelete/<path>``: clear the deletion of these versions (destroyed ones stay gone)."""
        path = self._clean(path)
        numbers = _versions(versions)
        if not numbers:
            raise VaultInvalidRequest("No version number provided")
        with self._lock:
            meta = self._meta(path)
            if meta is None:
                return
            config = self._config()
            for number in numbers:
                version_meta = meta["versions"].get(str(number))
                if version_meta is None or version_meta["destroyed"]:
                    continue
                deletion = None
                if config["delete_version_after"] != DISABLED_DELETE_VERSION_AFTER:
                    deletion = _deletion_time(
                        self._clock(), config["delete_version_after"], int(meta.get("delete_version_after") or 0)
                    )
                version_meta["deletion_time"] = rfc3339(deletion)
            self._put_json(self._meta_path(path), meta)

    def destroy_versions(self, path: str, versions: list[int] | str) -> None:
        """``POST /<mount>/destroy/<path>``: permanently remove these versions' data."""
        path = self._clean(path)
        numbers = _versions(versions)
        if not numbers:
            raise VaultInvalidRequest("no version number provided")
        with self._lock:
            meta = self._meta(path)
            if meta is None:
                return
            shredded: list[int] = []
            for number in numbers:
                version_meta = meta["versions"].get(str(number))
                if version_meta is None or version_meta["destroyed"]:
                    continue
                version_meta["destroyed"] = True
                shredded.append(number)
            self._put_json(self._meta_path(path), meta)
            for number in shredded:
                self._storage.delete(self._data_path(path, number))

    # --- metadata ----------------------------------------------------------------

    def read_metadata(self, path: str) -> dict[str, Any]:
        """``GET /<mount>/metadata/<path>``."""
        path = self._clean(path)
        meta = self._meta(path)
        if meta is None:
            raise VaultNotFound(f"no secret at {path}")
        versions = {
            number: {
                "created_time": entry["created_time"],
                "deletion_time": entry["deletion_time"],
                "destroyed": entry["destroyed"],
            }
            for number, entry in sorted(meta["versions"].items(), key=lambda item: int(item[0]))
        }
        return {
            "versions": versions,
            "current_version": meta["current_version"],
            "oldest_version": meta["oldest_version"],
            "created_time": meta["created_time"],
            "updated_time": meta["updated_time"],
            "max_versions": int(meta.get("max_versions") or 0),
            "cas_required": bool(meta.get("cas_required")),
            "delete_version_after": format_duration(int(meta.get("delete_version_after") or 0)),
            "custom_metadata": meta.get("custom_metadata"),
        }

    def update_metadata(
        self,
        path: str,
        max_versions: int | None = None,
        cas_required: bool | None = None,
        delete_version_after: int | str | None = None,
        custom_metadata: dict[str, Any] | None = None,
    ) -> None:
        """``POST /<mount>/metadata/<path>``; creates the metadata when the secret does not exist yet."""
        path = self._clean(path)
        if max_versions is None and cas_required is None and delete_version_after is None and custom_metadata is None:
            return
        parsed_custom = _custom_metadata(custom_metadata) if custom_metadata is not None else None
        dva = None
        if delete_version_after is not None:
            dva = parse_duration(delete_version_after, "delete_version_after")
            if dva < 0:
                raise VaultInvalidRequest("delete_version_after cannot be negative")
        with self._lock:
            meta = self._meta(path) or self._new_meta(path, self._clock())
            if max_versions is not None:
                count = _as_int(max_versions, "max_versions")
                if count < 0:
                    raise VaultInvalidRequest("max_versions cannot be negative")
                meta["max_versions"] = count
            if cas_required is not None:
                meta["cas_required"] = _as_bool(cas_required, "cas_required")
            if dva is not None:
                meta["delete_version_after"] = dva
            if parsed_custom is not None:
                meta["custom_metadata"] = parsed_custom
            self._put_json(self._meta_path(path), meta)

    def patch_metadata(
        self,
        path: str,
        max_versions: int | None = None,
        cas_required: bool | None = None,
        delete_version_after: int | str | None = None,
        custom_metadata: dict[str, Any] | None = None,
    ) -> None:
        """``PATCH /<mount>/metadata/<path>``: change only the given fields; a ``null`` custom_metadata value
        removes that key."""
        path = self._clean(path)
        with self._lock:
            meta = self._meta(path)
            if meta is None:
                raise VaultNotFound(f"no secret at {path}")
            if custom_metadata is not None:
                _custom_metadata(custom_metadata, drop_nulls=True)
                merged = _merge_patch(meta.get("custom_metadata") or {}, custom_metadata)
                assert isinstance(merged, dict)
                meta["custom_metadata"] = _custom_metadata(merged)
            if max_versions is not None:
                meta["max_versions"] = max(0, _as_int(max_versions, "max_versions"))
            if cas_required is not None:
                meta["cas_required"] = _as_bool(cas_required, "cas_required")
            if delete_version_after is not None:
                dva = parse_duration(delete_version_after, "delete_version_after")
                if dva < 0:
                    raise VaultInvalidRequest("delete_version_after cannot be negative")
                meta["delete_version_after"] = dva
            self._put_json(self._meta_path(path), meta)

    def delete_metadata(self, path: str) -> None:
        """``DELETE /<mount>/metadata/<path>``: remove the metadata and every version for good."""
        path = self._clean(path)
        with self._lock:
            meta = self._meta(path)
            if meta is None:
                return
            for number, entry in meta["versions"].items():
                if not entry["destroyed"]:
                    self._storage.delete(self._data_path(path, int(number)))
            self._storage.delete(self._meta_path(path))

    def list(self, path: str = "") -> dict[str, Any]:
        """``LIST /<mount>/metadata/<path>`` -> ``{"keys": [...]}``, folders ending in ``/``. Nothing -> 404."""
        cleaned = self._clean(path, allow_folder=True)
        if cleaned and not cleaned.endswith("/"):
            cleaned += "/"
        keys = self._storage.list(self._meta_path(cleaned))
        if not keys:
            raise VaultNotFound(f"nothing listed under {path!r}")
        return {"keys": keys}
