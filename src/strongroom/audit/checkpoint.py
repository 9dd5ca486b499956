"""Checkpoints: a chain's size and head hash at a time, signed by the vault's Ed25519 audit key.

The signed bytes are a note in the style of C2SP tlog-checkpoint (origin line, size, base64 hash, extension lines)::

    strongroom.audit/<chain>
    <size>
    <base64 of the head entry's SHA-256>
    time <unix microseconds>
    export                      (only on the checkpoint an export ends with)

The head hash commits to every entry before it (each entry's hash covers its predecessor's), so a checkpoint of
size N vouches for entries 0..N-1 exactly.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strongroom.crypto.transitprims import ed25519_verify

#: signs bytes with the vault's audit key: -> (key version, 64-byte signature)
Signer = Callable[[bytes], tuple[int, bytes]]


@dataclass(frozen=True)
class Checkpoint:
    chain: str
    size: int
    head: str  # hex
    at: int  # unix microseconds
    key_version: int
    signature: bytes
    export: bool = False

    def note(self) -> bytes:
        return note(self.chain, self.size, self.head, self.at, self.export)

    def verify(self, keys: dict[int, bytes]) -> bool:
        public = keys.get(self.key_version)
        return public is not None and ed25519_verify(public, self.note(), self.signature)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "checkpoint",
            "chain": self.chain,
            "size": self.size,
            "head": self.head,
            "at": self.at,
            "key_version": self.key_version,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }
        if self.export:
            out["export"] = True
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Checkpoint:
        """From an export's line; ValueError when a field is missing or malformed."""
        try:
            head = str(doc["head"])
            bytes.fromhex(head)
            return cls(
                chain=str(doc["chain"]),
                size=int(doc["size"]),
                head=head,
                at=int(doc["at"]),
                key_version=int(doc["key_version"]),
                signature=base64.b64decode(str(doc["signature"]), validate=True),
                export=bool(doc.get("export", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed checkpoint: {exc}") from None


def note(chain: str, size: int, head: str, at: int, export: bool = False) -> bytes:
    lines = [
        f"strongroom.audit/{chain}",
        str(size),
        base64.b64encode(bytes.fromhex(head)).decode("ascii"),
        f"time {at}",
    ]
    if export:
        lines.append("export")
    return ("\n".join(lines) + "\n").encode("utf-8")


def sign(signer: Signer, chain: str, size: int, head: str, at: int, export: bool = False) -> Checkpoint:
    version, signature = signer(note(chain, size, head, at, export))
    return Checkpoint(chain, size, head, at, version, signature, export)
