"""Request body fields the Vault API accepts, per endpoint: an explicit allow-list, typed here.

Vault ignores fields an endpoint does not define, and so do we: only the fields listed for an endpoint reach
the engine, coerced to their type. Values the caller does not own (the owner tenant, ``upsert``) are never
read from a body; the handlers set them from the namespace and the token's capabilities.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from strongroom.http.vault.errors import VaultHTTPError

Coerce = Callable[[str, Any], Any]
_INT_RE = re.compile(r"[+-]?\d+")


def _bad(field: str, expected: str) -> VaultHTTPError:
    return VaultHTTPError(400, [f"error parsing {field}: expected {expected}"])


def boolean(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "t", "f"):
        return value.lower() in ("true", "1", "t")
    raise _bad(field, "a boolean")


def integer(field: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value.strip())
    raise _bad(field, "an integer")


def string(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _bad(field, "a string")


def duration(field: str, value: Any) -> int | str | None:
    """A duration (``"1h"``, ``3600``): kept as given for the engine's Vault-exact parser."""
    if value is None or isinstance(value, int | str) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _bad(field, "a duration")


def seconds(field: str, value: Any) -> int | None:
    """A duration in whole seconds from Vault's forms (``3600``, ``"3600"``, ``"1h30m"``, ``"7d"``); None when
    absent; 400 for a malformed or negative one."""
    from strongroom.keys.kv import parse_duration

    given = duration(field, value)
    if given is None or given == "":
        return None
    out = parse_duration(given, field)
    if out < 0:
        raise VaultHTTPError(400, [f"{field} cannot be negative"])
    return out


def array(field: str, value: Any) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return value
    raise VaultHTTPError(400, [f"failed to parse {field}: source data must be an array or slice"])


def comma_list(field: str, value: Any) -> list[str] | None:
    """Vault's ``TypeCommaStringSlice``: a list of strings, or one comma-separated string."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list) and all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    raise _bad(field, "a list of strings")


def mapping(field: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    raise _bad(field, "a map")


def string_map(field: str, value: Any) -> dict[str, str] | None:
    """A map of strings (Vault's ``TypeKVPairs``): booleans and numbers become their text."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad(field, "a map")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            out[str(key)] = "true" if item else "false"
        elif isinstance(item, int | str):
            out[str(key)] = str(item)
        elif isinstance(item, float):
            out[str(key)] = str(int(item)) if item.is_integer() else str(item)
        else:
            raise VaultHTTPError(400, [f"{field} must be string valued"])
    return out


def versions(field: str, value: Any) -> Any:
    """KV ``versions``: a list of integers (the engine checks each)."""
    return value


def pick(
    body: Mapping[str, Any], spec: Mapping[str, Coerce], rename: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The fields of ``body`` that ``spec`` allows, coerced; everything else is dropped. ``rename`` maps a wire
    name to the engine's parameter name."""
    out: dict[str, Any] = {}
    for name, coerce in spec.items():
        if name in body:
            value = coerce(name, body[name])
            if value is not None:
                out[(rename or {}).get(name, name)] = value
    return out


# --- transit (OpenBao / Vault API docs, secrets/transit) -------------------------------------------------------

TRANSIT_CREATE: dict[str, Coerce] = {
    "type": string,
    "exportable": boolean,
    "allow_plaintext_backup": boolean,
    "auto_rotate_period": duration,
    "derived": boolean,
    "convergent_encryption": boolean,
    "key_size": integer,
    "region": string,  # strongroom: the region the key lives in; accepted on creation only
}
TRANSIT_CONFIG: dict[str, Coerce] = {
    "min_decryption_version": integer,
    "min_encryption_version": integer,
    "deletion_allowed": boolean,
    "exportable": boolean,
    "allow_plaintext_backup": boolean,
    "auto_rotate_period": duration,
}
TRANSIT_TRIM: dict[str, Coerce] = {"min_available_version": integer}
TRANSIT_ENCRYPT: dict[str, Coerce] = {
    "plaintext": string,
    "context": string,
    "key_version": integer,
    "associated_data": string,
    "nonce": string,
    "batch_input": array,
    "type": string,  # the type of a key that encrypt creates (upsert)
}
TRANSIT_DECRYPT: dict[str, Coerce] = {
    "ciphertext": string,
    "context": string,
    "associated_data": string,
    "nonce": string,
    "batch_input": array,
}
TRANSIT_REWRAP: dict[str, Coerce] = {
    "ciphertext": string,
    "context": string,
    "key_version": integer,
    "associated_data": string,
    "nonce": string,
    "batch_input": array,
}
TRANSIT_DATAKEY: dict[str, Coerce] = {"bits": integer, "context": string, "nonce": string, "key_version": integer}
TRANSIT_HMAC: dict[str, Coerce] = {
    "input": string,
    "algorithm": string,
    "key_version": integer,
    "batch_input": array,
}
TRANSIT_VERIFY_HMAC: dict[str, Coerce] = {
    "input": string,
    "hmac": string,
    "algorithm": string,
    "hash_algorithm": string,
    "batch_input": array,
}
TRANSIT_SIGN: dict[str, Coerce] = {
    "input": string,
    "hash_algorithm": string,
    "algorithm": string,
    "prehashed": boolean,
    "signature_algorithm": string,
    "marshaling_algorithm": string,
    "key_version": integer,
    "batch_input": array,
    "context": string,
    "salt_length": string,
}
TRANSIT_VERIFY: dict[str, Coerce] = {
    "input": string,
    "signature": string,
    "hash_algorithm": string,
    "algorithm": string,
    "prehashed": boolean,
    "signature_algorithm": string,
    "marshaling_algorithm": string,
    "batch_input": array,
    "context": string,
    "salt_length": string,
}
TRANSIT_RANDOM: dict[str, Coerce] = {"bytes": integer, "format": string}

# --- KV v2 -----------------------------------------------------------------------------------------------------

KV_CONFIG: dict[str, Coerce] = {"max_versions": integer, "cas_required": boolean, "delete_version_after": duration}
KV_METADATA: dict[str, Coerce] = {
    "max_versions": integer,
    "cas_required": boolean,
    "delete_version_after": duration,
    "custom_metadata": mapping,
}

# --- sys/audit -------------------------------------------------------------------------------------------------

SYS_AUDIT_ENABLE: dict[str, Coerce] = {
    "type": string,
    "description": string,
    "options": string_map,
    "local": boolean,
}
