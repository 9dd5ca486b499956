"""Offline verification of an exported chain (no server, no database): every entry's hash and link, every
checkpoint's signature and coverage, and the closing export checkpoint (so a truncated export fails too)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from strongroom.audit.checkpoint import Checkpoint
from strongroom.audit.entry import ZERO, entry_hash

FORMAT = "strongroom-audit-export/1"


@dataclass
class Result:
    ok: bool
    chain: str | None = None
    entries: int = 0
    checkpoints: int = 0
    line: int | None = None  # the first line that fails
    seq: int | None = None  # its entry's seq (when an entry fails)
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"ok: chain {self.chain}, {self.entries} entries, {self.checkpoints} checkpoints verified"
        where = f"line {self.line}" + (f" (entry seq {self.seq})" if self.seq is not None else "")
        return f"FAILED at {where}: {self.reason}"


def load_public_keys(text: str) -> dict[int, bytes]:
    """The checkpoint keys from ``strongroom audit public-key`` output: ``{"keys": {"1": base64, ...}}``."""
    doc = json.loads(text)
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, dict) or not keys:
        raise ValueError("no keys in the public key file")
    out = {}
    for version, value in keys.items():
        raw = base64.b64decode(str(value), validate=True)
        if len(raw) != 32:
            raise ValueError(f"key version {version} is not a raw 32-byte Ed25519 public key")
        out[int(version)] = raw
    return out


def verify(lines: Iterable[str], keys: dict[int, bytes]) -> Result:  # noqa: C901 - one check per rule, in order
    res = Result(ok=False)
    header: dict[str, Any] | None = None
    expected = 0
    prev = ZERO
    last: Checkpoint | None = None
    n = 0
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        res.line = n
        try:
            doc = json.loads(raw)
        except ValueError:
            res.reason = "not a JSON line"
            return res
        if not isinstance(doc, dict):
            res.reason = "not a JSON object"
            return res
        kind = doc.get("type")
        if header is None:
            if kind != "export" or doc.get("format") != FORMAT:
                res.reason = f"the export does not start with its {FORMAT} header"
                return res
            header = doc
            res.chain = str(doc.get("chain"))
            try:
                expected = int(doc.get("from_seq", 0))
            except (TypeError, ValueError):
                res.reason = "malformed header"
                return res
            prev = str(doc.get("prev", ZERO)) if expected else ZERO
            continue
        if kind == "checkpoint":
            try:
                cp = Checkpoint.from_json(doc)
            except ValueError as exc:
                res.reason = str(exc)
                return res
            if cp.chain != res.chain:
                res.reason = f"checkpoint of another chain ({cp.chain})"
                return res
            if not cp.verify(keys):
                res.reason = "checkpoint signature does not verify (edited, or signed by another key)"
                return res
            if cp.size != expected or cp.head != prev:
                res.reason = (
                    f"checkpoint of size {cp.size} does not match the entries before it "
                    f"({expected} entries, head {prev[:16]}...): entries were edited, removed, inserted or reordered"
                )
                return res
            res.checkpoints += 1
            last = cp
            continue
        if kind is not None:
            res.reason = f"unknown line type {kind!r}"
            return res
        res.seq = doc.get("seq") if isinstance(doc.get("seq"), int) else None
        if last is not None and last.export:
            res.reason = "entries after the closing export checkpoint"
            return res
        if doc.get("chain") != res.chain:
            res.reason = "entry of another chain"
            return res
        if doc.get("seq") != expected:
            res.reason = f"expected entry seq {expected}: an entry was removed, inserted or moved"
            return res
        if doc.get("prev") != prev:
            res.reason = "its prev hash is not the previous entry's hash: entries were reordered or replaced"
            return res
        if doc.get("hash") != entry_hash(doc):
            res.reason = "its hash does not match its content: the entry was edited"
            return res
        prev = str(doc["hash"])
        expected += 1
        res.entries += 1
        res.seq = None
    res.line, res.seq = n + 1, None
    if header is None:
        res.reason = "empty export"
        return res
    if last is None or not last.export or last.size != expected:
        res.reason = "the export does not end with its signed export checkpoint: it was truncated"
        return res
    res.ok = True
    res.line = None
    return res
