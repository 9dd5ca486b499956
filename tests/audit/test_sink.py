"""The audit log's writer (audit/sink.py) on a real SQLite database: group commit, the in-hop write of a GET's
entry when nothing waits, and failing closed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from strongroom.audit import sink
from strongroom.audit.sink import AuditLog
from strongroom.core import errors
from strongroom.core.types import Operation, Principal
from strongroom.metadata.auditstore import AuditStore, EntryFilter

ADMIN = Principal(access_key="SRADMIN", tenant_id="acme", user="admin", is_admin=True)


def op(n: int = 0) -> Operation:
    o = Operation(
        name="GetObject",
        action="s3:GetObject",
        resource=f"arn:aws:s3:::data/k{n}",
        principal=ADMIN,
        request_id=f"REQ{n:05d}",
    )
    o.resource_tenant, o.outcome = "acme", "allowed"
    return o


def stored(store: AuditStore) -> list[dict[str, object]]:
    rows = store.search("acme", EntryFilter(), None, 100)
    return [json.loads(body) for _seq, body in reversed(rows)]


def test_record_now_writes_the_entry_in_the_callers_thread_when_the_writer_is_idle(store: AuditStore) -> None:
    audit = AuditLog(store)
    o = op()
    audit.record_now(o, "s3", 206, None, 10)
    assert o.audited
    (entry,) = stored(store)
    assert (entry["request_id"], entry["status"], entry["bytes_out"], entry["outcome"]) == (
        "REQ00000",
        206,
        10,
        "success",
    )
    assert audit._writer is None  # no writer thread was needed
    asyncio.run(audit.record(o, "s3", 206, None, 10))  # the later group-commit call adds nothing
    assert len(stored(store)) == 1


def test_record_now_leaves_the_entry_to_group_commit_while_the_writer_is_busy(store: AuditStore) -> None:
    audit = AuditLog(store)
    o = op()
    with audit._writing:  # a batch is being written
        audit.record_now(o, "s3", 200, None, 1)
    assert not o.audited and stored(store) == []
    asyncio.run(audit.record(o, "s3", 200, None, 1))
    assert o.audited and [e["request_id"] for e in stored(store)] == ["REQ00000"]


def test_group_commit_writes_concurrent_entries_in_order_of_one_chain(store: AuditStore) -> None:
    audit = AuditLog(store)
    ops = [op(i) for i in range(50)]

    async def main() -> None:
        await asyncio.gather(*(audit.record(o, "s3", 200, None, 0) for o in ops))

    asyncio.run(main())
    got = stored(store)
    assert sorted(e["request_id"] for e in got) == [o.request_id for o in ops]
    assert [e["seq"] for e in got] == list(range(50)) and all(o.audited for o in ops)


def test_a_log_that_cannot_be_written_fails_closed(store: AuditStore) -> None:
    audit = AuditLog(store)
    store.repo.engine.dispose()
    with store.repo.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE audit_entries")
    o = op()
    audit.record_now(o, "s3", 200, None, 0)  # the in-hop write fails quietly ...
    assert not o.audited
    with pytest.raises(errors.AuditUnavailable):  # ... and the group commit answers for it
        asyncio.run(audit.record(o, "s3", 200, None, 0))
    assert not o.audited


def test_off_writes_nothing(store: AuditStore) -> None:
    audit = AuditLog(store, enabled=False)
    o = op()
    audit.record_now(o, "s3", 200, None, 0)
    asyncio.run(audit.record(o, "s3", 200, None, 0))
    assert stored(store) == [] and not o.audited


def test_record_now_leaves_the_entry_to_group_commit_while_other_requests_are_in_flight(store: AuditStore) -> None:
    audit = AuditLog(store)
    audit.inflight = 3  # this request and two others: their entries should share one transaction
    o = op()
    audit.record_now(o, "s3", 200, None, 0)
    assert not o.audited and stored(store) == []
    audit.inflight = 1
    audit.record_now(o, "s3", 200, None, 0)
    assert o.audited and len(stored(store)) == 1


def test_the_writer_holds_a_batch_open_for_requests_in_flight(
    store: AuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With three requests in flight (and enough others) whose entries arrive a little apart, one transaction takes
    all three."""
    audit = AuditLog(store)
    monkeypatch.setattr(sink, "BATCH_WAIT", 0.5)
    monkeypatch.setattr(sink, "BATCH_SIBLINGS", 2)
    batches: list[int] = []
    real = store.append

    def counting(entries: list[Any]) -> dict[str, int]:
        batches.append(len(entries))
        return real(entries)

    monkeypatch.setattr(store, "append", counting)
    ops = [op(i) for i in range(3)]
    audit.inflight = 3

    async def one(o: Operation, delay: float) -> None:
        await asyncio.sleep(delay)
        await audit.record(o, "s3", 200, None, 0)

    async def main() -> None:
        await asyncio.gather(*(one(o, 0.05 * i) for i, o in enumerate(ops)))

    asyncio.run(main())
    assert batches == [3] and [e["seq"] for e in stored(store)] == [0, 1, 2]


@pytest.mark.parametrize("inflight", [1, 4])
def test_the_writer_does_not_wait_with_few_requests_in_flight(
    store: AuditStore, monkeypatch: pytest.MonkeyPatch, inflight: int
) -> None:
    """Alone, or with fewer than BATCH_SIBLINGS others, an entry is written at once (waiting would idle them all)."""
    audit = AuditLog(store)
    monkeypatch.setattr(sink, "BATCH_WAIT", 30.0)  # a wait would time the test out
    audit.inflight = inflight
    o = op()
    asyncio.run(asyncio.wait_for(audit.record(o, "s3", 200, None, 0), timeout=10))
    assert o.audited
