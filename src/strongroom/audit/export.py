"""Exporting a chain: a header, its entries in order with the stored checkpoints between them, and a checkpoint
signed at export time (marked ``export``) covering the last entry, so that a shortened export fails to verify."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

from strongroom.audit.checkpoint import Signer, sign
from strongroom.audit.entry import ZERO
from strongroom.audit.sink import now_us
from strongroom.audit.verify import FORMAT
from strongroom.metadata.auditstore import AuditStore


def export_lines(store: AuditStore, signer: Signer, chain: str, since_us: int | None = None) -> Iterator[str]:
    """Blocking: the export of ``chain`` (from its first entry at or after ``since_us``), as JSON lines.

    The closing checkpoint is signed first, over the head as it is now (later entries are not exported): so an
    export that cannot be signed fails before any line is sent, never half way."""
    lines = _export(store, signer, chain, since_us)
    first = next(lines)
    return itertools.chain([first], lines)


def _export(store: AuditStore, signer: Signer, chain: str, since_us: int | None) -> Iterator[str]:
    head = store.head(chain)
    end, last = (head.size, head.head) if head is not None else (0, ZERO)
    final = sign(signer, chain, end, last, now_us(), export=True)
    first = 0
    if since_us is not None:
        found = store.first_seq_since(chain, since_us)
        first = found if found is not None and found < end else end
    prev = ZERO if first == 0 else (store.entry_hash(chain, first - 1) or ZERO)
    header = {"type": "export", "format": FORMAT, "chain": chain, "from_seq": first, "prev": prev, "size": end}
    yield json.dumps(header, sort_keys=True) + "\n"
    checkpoints = {cp.size: cp for cp in store.checkpoints(chain, first + 1, end)}
    for seq, body in store.bodies(chain, first, end):
        yield body + "\n"
        cp = checkpoints.get(seq + 1)
        if cp is not None:
            yield json.dumps(cp.to_json(), sort_keys=True) + "\n"
    yield json.dumps(final.to_json(), sort_keys=True) + "\n"
