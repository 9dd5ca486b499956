"""The audit tables on SQLite and PostgreSQL: concurrent appends extend each chain in one order with no gap, an
entry joins its operation's transaction (and rolls back with it), and checkpoints are stored once."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import text

from strongroom.audit.chain import Pending, append
from strongroom.audit.checkpoint import Checkpoint
from strongroom.audit.entry import ZERO, entry_hash
from strongroom.core.types import Operation, Principal
from strongroom.metadata.auditstore import AuditStore, EntryFilter
from strongroom.metadata.repository import Repository


def pending(i: int, chains: list[str], action: str = "s3:GetObject") -> Pending:
    return Pending(chains, {"v": 1, "n": i}, 1_000 + i, f"t/u{i % 3}", action, f"arn:aws:s3:::b/k{i}", "success")


def chain_rows(repo: Repository, chain: str) -> list[dict[str, object]]:
    with repo.reading() as s:
        rows = s.execute(
            text("SELECT seq, hash, body FROM audit_entries WHERE chain = :c ORDER BY seq"), {"c": chain}
        ).all()
    return [json.loads(r[2]) | {"_seq": r[0], "_hash": r[1]} for r in rows]


def assert_chain(repo: Repository, chain: str, n: int) -> None:
    rows = chain_rows(repo, chain)
    assert [r["_seq"] for r in rows] == list(range(n))
    prev = ZERO
    for r in rows:
        body = {k: v for k, v in r.items() if not k.startswith("_")}
        assert "hash" not in body  # stored beside the body it covers
        assert body["prev"] == prev and r["_hash"] == entry_hash(body)
        prev = str(r["_hash"])


def test_concurrent_appends_make_one_unbroken_chain_each(repo: Repository) -> None:
    store = AuditStore(repo)
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(25):
                store.append([pending(w * 100 + i, ["alpha", "beta"] if i % 2 else ["alpha"])])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert_chain(repo, "alpha", 150)
    assert_chain(repo, "beta", 6 * 12)
    head = store.head("alpha")
    assert head is not None and head.size == 150 and head.head == chain_rows(repo, "alpha")[-1]["_hash"]


class _Hook:
    def __init__(self, entries: list[Pending]) -> None:
        self.entries = entries
        self.rolled = 0

    def before_commit(self, tx: object) -> None:
        append(tx, self.entries)  # type: ignore[arg-type]

    def rolled_back(self) -> None:
        self.rolled += 1


def test_an_entry_commits_and_rolls_back_with_its_transaction(repo: Repository) -> None:
    hook = _Hook([pending(1, ["gamma"])])
    repo.on_write = hook
    try:
        repo.set_tenant_public_access_block("nobody", None)  # a writing session (changes no row)
        assert_chain(repo, "gamma", 1)
        with pytest.raises(RuntimeError):
            with repo.raw_writing() as tx:
                tx.execute(text("SELECT 1"), {})
                raise RuntimeError("the operation failed")
        assert hook.rolled == 1
        assert_chain(repo, "gamma", 1)
        with repo.raw_writing():
            pass
        assert_chain(repo, "gamma", 2)
        with repo.raw_writing(audited=False):
            pass
        assert_chain(repo, "gamma", 2)
    finally:
        repo.on_write = None


def test_checkpoints_are_stored_once_and_advance_the_head(repo: Repository) -> None:
    store = AuditStore(repo)
    for i in range(5):
        store.append([pending(i, ["delta"])])
    head = store.head("delta")
    assert head is not None
    cp = Checkpoint("delta", head.size, head.head, 42, 1, b"\x01" * 64)
    store.save_checkpoint(cp)
    store.save_checkpoint(Checkpoint("delta", head.size, head.head, 43, 1, b"\x02" * 64))  # a racing gateway
    assert store.checkpoints("delta", 1, 5) == [cp]
    after = store.head("delta")
    assert after is not None and (after.checkpoint_size, after.checkpoint_at) == (5, 42)
    assert store.due(10**12, 1000, 10**6) == []  # nothing new since
    store.append([pending(9, ["delta"])])
    assert [h.chain for h in store.due(10**12, 1000, 10**6)] == ["delta"]  # older than the age limit
    assert store.due(43, 1000, 10**6) == []  # younger, and fewer than 1000 new entries


def test_search_filters_and_pages_newest_first(repo: Repository) -> None:
    store = AuditStore(repo)
    for i in range(10):
        store.append([pending(i, ["eps"], action="s3:PutObject" if i % 2 else "s3:GetObject")])
    got = store.search("eps", EntryFilter(action="s3:PutObject"), None, 3)
    assert [json.loads(b)["n"] for _, b in got] == [9, 7, 5]
    more = store.search("eps", EntryFilter(action="s3:PutObject"), got[-1][0], 3)
    assert [json.loads(b)["n"] for _, b in more] == [3, 1]
    assert [json.loads(b)["n"] for _, b in store.search("eps", EntryFilter(principal="t/u0"), None, 100)] == [
        9,
        6,
        3,
        0,
    ]
    assert [
        json.loads(b)["n"] for _, b in store.search("eps", EntryFilter(since_us=1_005, until_us=1_007), None, 9)
    ] == [
        6,
        5,
    ]
    assert len(store.search("eps", EntryFilter(resource="arn:aws:s3:::b/k1"), None, 100)) == 1
    assert store.search("eps", EntryFilter(resource="arn:aws:s3:::b/k_"), None, 100) == []  # no LIKE wildcards


def test_operation_fields_never_hold_secrets() -> None:
    from strongroom.audit.entry import fields_of

    p = Principal(access_key="AKIAEXAMPLE", tenant_id="t", user="u", is_admin=True)
    op = Operation("GetObject", "s3:GetObject", "arn:aws:s3:::b/k", p, "RID", "10.0.0.1", "boto3", "b", "k")
    op.data_key = ("bucket-key", 3)
    f = fields_of(op, "s3", 200, None, 0, 12)
    assert f["principal"] == {
        "type": "admin",
        "tenant": "t",
        "user": "u",
        "access_key": "AKIAEXAMPLE",
        "arn": "arn:aws:iam::t:user/u",
    }
    assert f["key"] == {"name": "bucket-key", "version": 3}
    assert (f["outcome"], f["status"], f["bytes_out"]) == ("success", 200, 12)
