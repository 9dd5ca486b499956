"""Offline verification of exports: an untouched export verifies; editing, deleting, inserting, reordering or
truncating any entry or checkpoint fails, naming the first bad line."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from strongroom.audit.chain import Pending
from strongroom.audit.export import export_lines
from strongroom.audit.sink import AuditLog
from strongroom.audit.verify import load_public_keys, verify
from strongroom.metadata.auditstore import AuditStore

if TYPE_CHECKING:
    from tests.audit.conftest import LocalSigner


def entry(i: int, chains: list[str] | None = None) -> Pending:
    fields = {"v": 1, "operation": "GetObject", "action": "s3:GetObject", "resource": f"arn:aws:s3:::b/k{i}", "n": i}
    return Pending(
        chains or ["acme"],
        fields,
        1_700_000_000_000_000 + i,
        "acme/alice",
        "s3:GetObject",
        f"arn:aws:s3:::b/k{i}",
        "success",
    )


def build(store: AuditStore, signer: LocalSigner, n: int = 12, checkpoint_at: tuple[int, ...] = (4, 9)) -> list[str]:
    log = AuditLog(store, signer=signer)
    for i in range(n):
        store.append([entry(i)])
        if i + 1 in checkpoint_at:
            assert log.checkpoint("acme") is not None
    return list(export_lines(store, signer, "acme"))


def test_untouched_export_verifies(store: AuditStore, signer: LocalSigner) -> None:
    lines = build(store, signer)
    # header, 12 entries, 2 stored checkpoints, the export checkpoint
    assert len(lines) == 1 + 12 + 2 + 1
    assert json.loads(lines[5])["type"] == "checkpoint" and json.loads(lines[5])["size"] == 4
    assert json.loads(lines[-1])["export"] is True and json.loads(lines[-1])["size"] == 12
    res = verify(lines, signer.keys)
    assert res.ok, res.describe()
    assert (res.entries, res.checkpoints) == (12, 3)


def test_an_empty_chain_exports_and_verifies(store: AuditStore, signer: LocalSigner) -> None:
    lines = list(export_lines(store, signer, "nobody"))
    assert len(lines) == 2
    assert verify(lines, signer.keys).ok


def _edit(line: str, **changes: object) -> str:
    doc = json.loads(line)
    doc.update(changes)
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("name", "mutate", "bad_line", "reason"),
    [
        ("edit an entry", lambda ls: ls.__setitem__(3, _edit(ls[3], n=999)), 4, "edited"),
        ("edit an entry's time", lambda ls: ls.__setitem__(8, _edit(ls[8], resource="arn:aws:s3:::b/x")), 9, "edited"),
        ("delete an entry", lambda ls: ls.pop(2), 3, "removed"),
        ("insert an entry", lambda ls: ls.insert(3, ls[2]), 4, "removed, inserted or moved"),
        ("reorder two entries", lambda ls: ls.__setitem__(slice(2, 4), [ls[3], ls[2]]), 3, "moved"),
        ("edit a checkpoint", lambda ls: ls.__setitem__(5, _edit(ls[5], size=3)), 6, "signature"),
        ("move a checkpoint", lambda ls: ls.insert(4, ls.pop(5)), 5, "does not match"),
        ("delete the last entry", lambda ls: ls.pop(-2), 15, "does not match"),
        ("truncate the end", lambda ls: ls.pop(), 16, "truncated"),
        ("truncate after a checkpoint", lambda ls: ls.__delitem__(slice(6, None)), 7, "truncated"),
        ("drop the header", lambda ls: ls.pop(0), 1, "header"),
        ("not JSON", lambda ls: ls.__setitem__(7, ls[7][:-5]), 8, "JSON"),
    ],
)
def test_tampering_fails_at_the_first_bad_line(
    store: AuditStore, signer: LocalSigner, name: str, mutate: object, bad_line: int, reason: str
) -> None:
    lines = build(store, signer)
    assert verify(lines, signer.keys).ok
    mutate(lines)  # type: ignore[operator]
    res = verify(lines, signer.keys)
    assert not res.ok, name
    assert res.line == bad_line, res.describe()
    assert reason in res.reason, res.describe()


def test_an_edited_entry_is_named_by_its_seq(store: AuditStore, signer: LocalSigner) -> None:
    lines = build(store, signer)
    lines[7] = _edit(lines[7], principal={"type": "user", "user": "mallory"})
    res = verify(lines, signer.keys)
    assert not res.ok and res.seq == json.loads(lines[7])["seq"] == 5
    assert "line 8 (entry seq 5)" in res.describe()


def test_another_key_does_not_verify(store: AuditStore, signer: LocalSigner, other_signer: LocalSigner) -> None:
    lines = build(store, signer)
    res = verify(lines, other_signer.keys)
    assert not res.ok and "signature" in res.reason


def test_a_partial_export_verifies_from_its_first_entry(store: AuditStore, signer: LocalSigner) -> None:
    build(store, signer)
    lines = list(export_lines(store, signer, "acme", since_us=1_700_000_000_000_000 + 7))
    header = json.loads(lines[0])
    assert header["from_seq"] == 7 and json.loads(lines[1])["seq"] == 7
    assert verify(lines, signer.keys).ok
    lines.pop(1)
    assert not verify(lines, signer.keys).ok


def test_public_key_file(signer: LocalSigner) -> None:
    import base64

    text = json.dumps({"algorithm": "Ed25519", "keys": {"1": base64.b64encode(signer.keys[1]).decode()}})
    assert load_public_keys(text) == signer.keys
    with pytest.raises(ValueError):
        load_public_keys(json.dumps({"keys": {"1": base64.b64encode(b"short").decode()}}))
    with pytest.raises(ValueError):
        load_public_keys("{}")
