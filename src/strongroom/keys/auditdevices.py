"""Vault's audit devices (``sys/audit``): the ``file`` device, Vault's JSON audit format, HMAC'd values.

Every audited vault request is written to every enabled device twice, as Vault does: a ``"type": "request"``
entry before the request is served and a ``"type": "response"`` entry after. Strings are replaced by
``hmac-sha256:<hex>`` (HMAC-SHA256 under the device's own salt): the client token and its accessor, and every
string value, at any depth, of the request's and the response's data (map keys and non-string values stay, as
Vault's ``hashstructure`` does). ``log_raw=true`` turns hashing off; ``hmac_accessor=false`` leaves accessors raw;
``sys/audit-hash`` gives the same HMAC for a chosen input, so an operator can search a log for a known value.

Fail closed (Vault's rule): while any device is enabled, a request whose entry no device could write is refused
(:class:`~strongroom.core.errors.AuditUnavailable`, which the Vault API answers 500 "internal error") before it
does anything; a response entry no device could write turns the answer into that error too.

The device table and each device's salt live in the barrier (root namespace)::

    sys/audit/table             JSON list of {"path", "type", "description", "options", "local", "uuid"}
    sys/audit/salt/<uuid>       JSON {"salt": <base64 32 bytes>}; a device enabled again gets a new salt

The file sink opens its file for every entry (``O_APPEND``): lines are never split, rotation needs no signal,
and a log file that was removed or replaced by something unwritable fails the write instead of going to a
deleted inode. ``stdout`` and ``discard`` are Vault's special paths.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from strongroom.core import errors
from strongroom.crypto import hmac_sha256, random_bytes
from strongroom.keys.kv import rfc3339
from strongroom.keys.storage import VaultStorage

__all__ = ["AuditBroker", "AuditDevice", "AuditInput", "DeviceConfig", "hash_structure"]

log = logging.getLogger("strongroom.vault.audit")

TABLE_PATH = "sys/audit/table"
SALT_PREFIX = "sys/audit/salt/"
HMAC_TYPE = "hmac-sha256"
SALT_BYTES = 32
STDOUT, DISCARD = "stdout", "discard"
DEVICE_TYPES = frozenset({"file"})
ENTERPRISE_OPTIONS = frozenset({"fallback", "filter", "exclude"})
_PATH_RE = re.compile(r"[\w.\-]+(?:/[\w.\-]+)*")
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _bad(message: str) -> errors.VaultInvalidRequest:
    return errors.VaultInvalidRequest(message)


def _parse_bool(options: Mapping[str, str], name: str, default: bool) -> bool:
    """Go's ``strconv.ParseBool``, as Vault reads its boolean device options."""
    raw = options.get(name)
    if raw is None:
        return default
    if raw in _GO_TRUE:
        return True
    if raw in _GO_FALSE:
        return False
    raise _bad(f'unable to parse "{name}": invalid configuration')


def normalize_path(path: str) -> str:
    """A device path as Vault keeps it: no leading slash, one trailing slash (``file`` -> ``file/``)."""
    trimmed = path.strip().strip("/")
    if not trimmed or not _PATH_RE.fullmatch(trimmed) or {".", ".."} & set(trimmed.split("/")):
        raise _bad("backend path must be specified" if not trimmed else f"invalid audit device path {path!r}")
    return trimmed + "/"


def hash_structure(value: Any, fn: Callable[[str], str]) -> Any:
    """A copy of ``value`` with every string replaced by ``fn(string)``, at any depth; map keys, numbers,
    booleans and nulls are kept (Vault's ``audit.HashStructure``)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, Mapping):
        return {k: hash_structure(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [hash_structure(v, fn) for v in value]
    return value


def _omit_empty(record: Mapping[str, Any]) -> dict[str, Any]:
    """Go's ``omitempty`` over one struct's fields."""
    return {k: v for k, v in record.items() if v not in (None, "", 0, False, [], {})}


@dataclass(frozen=True)
class AuditInput:
    """One request as the audit log sees it, before any hashing (Vault's ``logical.LogInput``).

    ``auth``: the caller's token (``client_token``, ``accessor``, ``display_name``, ``policies``, ...); ``request``:
    ``id``, ``operation``, ``mount_point``, ``mount_type``, ``client_token``, ``client_token_accessor``,
    ``namespace``, ``path``, ``data``, ``remote_address``, ``remote_port``; ``response`` (response entries only):
    ``mount_point``, ``mount_type``, ``auth`` (a token the response carries), ``data``, ``warnings``;
    ``error``: the outer error (e.g. ``"permission denied"``).
    """

    auth: Mapping[str, Any]
    request: Mapping[str, Any]
    response: Mapping[str, Any] | None = None
    error: str = ""


@dataclass(frozen=True)
class DeviceConfig:
    """An enabled device's row of the table, as ``sys/audit`` lists it."""

    path: str
    type: str
    description: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
    local: bool = False
    uuid: str = ""

    def listing(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "description": self.description,
            "options": dict(self.options),
            "local": self.local,
            "path": self.path,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.listing(), "uuid": self.uuid}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> DeviceConfig:
        return cls(
            path=str(doc["path"]),
            type=str(doc["type"]),
            description=str(doc.get("description") or ""),
            options={str(k): str(v) for k, v in dict(doc.get("options") or {}).items()},
            local=bool(doc.get("local", False)),
            uuid=str(doc["uuid"]),
        )


class _FileSink:
    """Appends lines to a file (opened per entry), to stdout, or nowhere."""

    def __init__(self, path: str, mode: int | None) -> None:
        lowered = path.strip().lower()
        self.path = STDOUT if lowered == STDOUT else DISCARD if lowered == DISCARD else path.strip()
        self.mode = mode  # None: Vault's default 0600; 0: keep the existing file's mode
        self._lock = threading.Lock()
        self._mode_set = False  # the mode is applied once per process (Vault: when it opens the file)

    def check(self) -> None:
        """Open (creating) the file once, as Vault does when the device is enabled; OSError when it cannot."""
        if self.path not in (STDOUT, DISCARD):
            os.close(self._open())

    def _open(self) -> int:
        mode = 0o600 if not self.mode else self.mode
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, mode)
        if self.mode != 0 and not self._mode_set and self.path != os.devnull:
            try:
                os.fchmod(fd, mode)
            except OSError:
                os.close(fd)
                raise
            self._mode_set = True
        return fd

    def write(self, line: bytes) -> None:
        if self.path == DISCARD:
            return
        with self._lock:
            fd = 1 if self.path == STDOUT else self._open()
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                if fd != 1:
                    os.close(fd)


class AuditDevice:
    """One enabled device: its configuration, its salt (never shown) and its sink."""

    def __init__(self, config: DeviceConfig, salt: bytes) -> None:
        options = config.options
        if config.type not in DEVICE_TYPES:
            raise _bad(f'unknown backend type: "{config.type}"')
        if ENTERPRISE_OPTIONS & set(options):
            raise _bad("enterprise-only options supplied: invalid configuration")
        file_path = options.get("file_path", options.get("path"))
        if file_path is None or not file_path.strip():
            raise _bad('"file_path" is required: invalid configuration')
        fmt = options.get("format", "json")
        if fmt == "jsonx":
            raise _bad('"format" "jsonx" is not supported by this vault: use "json"')
        if fmt != "json":
            raise _bad('unsupported "format": invalid configuration')
        self.raw = _parse_bool(options, "log_raw", False)
        self.hmac_accessor = _parse_bool(options, "hmac_accessor", True)
        self.elide_list_responses = _parse_bool(options, "elide_list_responses", False)
        self.prefix = options.get("prefix", "").encode()
        self.config = config
        self.sink = _FileSink(file_path, _parse_mode(options.get("mode")))
        self._salt = salt

    def __repr__(self) -> str:
        return f"AuditDevice({self.config.path!r}, salt=<redacted>)"

    def __reduce__(self) -> Any:
        raise TypeError("AuditDevice cannot be pickled")

    @property
    def file_path(self) -> str:
        return self.sink.path

    def hash(self, value: str) -> str:
        """``hmac-sha256:<hex>`` of ``value`` under this device's salt (what ``sys/audit-hash`` answers)."""
        return f"{HMAC_TYPE}:{hmac_sha256(self._salt, value.encode('utf-8')).hex()}"

    # --- formatting (Vault's audit.EntryFormatter) --------------------------------------------------------------
    def _maybe(self, value: Any, accessor: bool = False) -> Any:
        if self.raw or not isinstance(value, str) or not value or (accessor and not self.hmac_accessor):
            return value
        return self.hash(value)

    def _auth(self, auth: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(auth)
        if "client_token" in out:
            out["client_token"] = self._maybe(out["client_token"])
        if "accessor" in out:
            out["accessor"] = self._maybe(out["accessor"], accessor=True)
        return _omit_empty(out)

    def _data(self, data: Any) -> Any:
        return data if self.raw or data is None else hash_structure(data, self.hash)

    def _request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(request)
        out["client_token"] = self._maybe(out.get("client_token"))
        out["client_token_accessor"] = self._maybe(out.get("client_token_accessor"), accessor=True)
        out["data"] = self._data(out.get("data"))
        return _omit_empty(out)

    def _response(self, response: Mapping[str, Any], operation: str) -> dict[str, Any]:
        out = dict(response)
        data = out.get("data")
        if self.elide_list_responses and operation == "list" and isinstance(data, Mapping):
            data = dict(data)
            if isinstance(data.get("keys"), list):
                data["keys"] = len(data["keys"])
            if isinstance(data.get("key_info"), Mapping):
                data["key_info"] = len(data["key_info"])
        out["data"] = self._data(data)
        if out.get("auth"):
            out["auth"] = self._auth(out["auth"])
        return _omit_empty(out)

    def format(self, kind: str, entry: AuditInput, time: str) -> bytes:
        """One line of the log: ``prefix`` + the JSON entry + newline (Vault's field order)."""
        record: dict[str, Any] = {"time": time, "auth": self._auth(entry.auth)}
        if entry.error:
            record["error"] = entry.error
        record["request"] = self._request(entry.request)
        if kind == "response":
            record["response"] = self._response(entry.response or {}, str(entry.request.get("operation", "")))
        record["type"] = kind
        return self.prefix + json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _parse_mode(raw: str | None) -> int | None:
    """``mode`` as Vault reads it (octal); "0000" keeps the file's mode; execute bits are refused."""
    if raw is None or not raw.strip():
        return None
    try:
        mode = int(raw.strip(), 8)
    except ValueError:
        raise _bad(f"unable to parse file mode: invalid syntax {raw!r}") from None
    if mode > 0o777 or mode & 0o111:
        raise _bad(f"file mode {raw!r} is not allowed: audit files cannot be executable")
    return mode


class AuditBroker:
    """The enabled devices, loaded from the barrier at first use after an unseal; thread-safe.

    :meth:`reset` drops them (at seal); the next use loads them again.
    """

    def __init__(
        self, storage: VaultStorage, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._lock = threading.RLock()
        self._devices: dict[str, AuditDevice] | None = None

    def reset(self) -> None:
        with self._lock:
            self._devices = None

    def _loaded(self) -> dict[str, AuditDevice]:
        with self._lock:
            if self._devices is None:
                devices: dict[str, AuditDevice] = {}
                for config in self._table():
                    try:
                        devices[config.path] = AuditDevice(config, self._salt(config.uuid))
                    except errors.VaultInvalidRequest:
                        log.error("audit device %s has an invalid stored configuration; it is not loaded", config.path)
                self._devices = devices
            return self._devices

    def _table(self) -> list[DeviceConfig]:
        raw = self._storage.get(TABLE_PATH)
        return [] if raw is None else [DeviceConfig.from_json(d) for d in json.loads(raw)]

    def _write_table(self, configs: list[DeviceConfig]) -> None:
        self._storage.put(TABLE_PATH, json.dumps([c.to_json() for c in configs], sort_keys=True).encode())

    def _salt(self, device_uuid: str) -> bytes:
        """The device's stored salt (a new one, stored, if it went missing: older hashes then stop matching)."""
        raw = self._storage.get(SALT_PREFIX + device_uuid)
        if raw is not None:
            return base64.b64decode(json.loads(raw)["salt"])
        salt = random_bytes(SALT_BYTES)
        self._put_salt(device_uuid, salt)
        return salt

    def _put_salt(self, device_uuid: str, salt: bytes) -> None:
        self._storage.put(SALT_PREFIX + device_uuid, json.dumps({"salt": base64.b64encode(salt).decode()}).encode())

    # --- sys/audit --------------------------------------------------------------------------------------------
    def list(self) -> dict[str, dict[str, Any]]:
        """``{path: {"type", "description", "options", "local", "path"}}`` of the enabled devices."""
        return {path: d.config.listing() for path, d in sorted(self._loaded().items())}

    def enable(
        self, path: str, type: str, description: str = "", options: Mapping[str, str] | None = None, local: bool = False
    ) -> DeviceConfig:
        """Enable a device (VaultInvalidRequest for a taken path or file, a bad option or an unwritable file)."""
        path = normalize_path(path)
        with self._lock:
            devices = self._loaded()
            for existing in devices:
                if existing == path or existing.startswith(path) or path.startswith(existing):
                    raise _bad(f'path "{existing}" already in use: invalid configuration')
            config = DeviceConfig(path, type, description, dict(options or {}), local, str(uuid.uuid4()))
            salt = random_bytes(SALT_BYTES)
            device = AuditDevice(config, salt)
            for other in devices.values():
                if other.file_path.lower() == device.file_path.lower():
                    raise _bad(f'"file_path" "{device.file_path}" already in use on device: "{other.config.path}"')
            try:
                device.sink.check()
            except OSError as exc:
                raise _bad(f'file sink creation failed for path "{device.file_path}": {exc.strerror or exc}') from None
            self._put_salt(config.uuid, salt)
            self._write_table([d.config for d in devices.values()] + [config])
            self._devices = {**devices, path: device}  # a new dict: loggers iterate the old one unlocked
            log.info("enabled audit device %s (type %s)", path, type)
            return config

    def disable(self, path: str) -> bool:
        """Disable the device at ``path`` and forget its salt; False (not an error) when there is none."""
        path = normalize_path(path)
        with self._lock:
            devices = self._loaded()
            device = devices.get(path)
            if device is None:
                return False
            self._write_table([d.config for p, d in devices.items() if p != path])
            self._storage.delete(SALT_PREFIX + device.config.uuid)
            self._devices = {p: d for p, d in devices.items() if p != path}
            log.info("disabled audit device %s", path)
            return True

    def hash(self, path: str, value: str) -> str:
        """``sys/audit-hash``: the HMAC the device at ``path`` writes for ``value``."""
        if value == "":
            raise _bad('the "input" parameter is empty')
        device = self._loaded().get(normalize_path(path))
        if device is None:
            raise _bad(f'unknown audit backend "{normalize_path(path)}"')
        return device.hash(value)

    # --- logging ------------------------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return bool(self._loaded())

    @property
    def known_empty(self) -> bool:
        """True when the devices are loaded and there are none (no storage read: the hot path's check)."""
        return self._devices is not None and not self._devices

    def log_request(self, entry: AuditInput) -> None:
        self._log("request", entry)

    def log_response(self, entry: AuditInput) -> None:
        self._log("response", entry)

    def _log(self, kind: str, entry: AuditInput) -> None:
        devices = list(self._loaded().values())
        if not devices:
            return
        now = rfc3339(self._clock())
        written = 0
        for device in devices:
            try:
                device.sink.write(device.format(kind, entry, now))
                written += 1
            except (OSError, ValueError, TypeError) as exc:
                log.error("audit device %s failed to log the %s: %s", device.config.path, kind, exc)
        if not written:
            raise errors.AuditUnavailable(f"no audit device succeeded in logging the {kind}")
