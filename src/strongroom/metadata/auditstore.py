"""The audit tables: the batched appends of the audit log's writer, checkpoints, and the reads exports and the admin
API make. Appends that join an operation's own transaction go through the repository's write hook instead."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from strongroom.audit.chain import CHECKPOINTS, ENTRIES, HEADS, Pending, append, stored_line
from strongroom.audit.checkpoint import Checkpoint
from strongroom.metadata.repository import RawTransaction, Repository


@dataclass(frozen=True)
class Head:
    chain: str
    size: int
    head: str
    checkpoint_size: int
    checkpoint_at: int


@dataclass(frozen=True)
class EntryFilter:
    since_us: int | None = None
    until_us: int | None = None
    principal: str | None = None
    action: str | None = None
    resource: str | None = None  # a prefix of the resource ARN
    outcome: str | None = None


class AuditStore:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        dialect = repo.engine.dialect.name
        ins = pg_insert if dialect == "postgresql" else sqlite_insert
        self._insert_checkpoint = ins(CHECKPOINTS).on_conflict_do_nothing(index_elements=["chain", "size"])
        self._writer: list[RawTransaction] = []  # the group commit's own connection

    def append(self, entries: Sequence[Pending]) -> dict[str, int]:
        """One transaction for a batch of entries (group commit); per chain, the entries past its checkpoint."""
        with self.repo.dedicated_writing(self._writer) as tx:
            return append(tx, entries)

    def head(self, chain: str) -> Head | None:
        with self.repo.reading() as s:
            row = s.execute(select(HEADS).where(HEADS.c.chain == chain)).first()
        return Head(*row) if row is not None else None

    def due(self, now_us: int, every: int, age_us: int) -> list[Head]:
        """Chains whose head is ``every`` entries past their last checkpoint, or was not checkpointed for ``age_us``."""
        with self.repo.reading() as s:
            rows = s.execute(
                select(HEADS).where(
                    HEADS.c.size > HEADS.c.checkpoint_size,
                    (HEADS.c.size - HEADS.c.checkpoint_size >= every) | (HEADS.c.checkpoint_at <= now_us - age_us),
                )
            ).all()
        return [Head(*r) for r in rows]

    def save_checkpoint(self, cp: Checkpoint) -> None:
        with self.repo.session() as s:
            s.execute(
                self._insert_checkpoint,
                {
                    "chain": cp.chain,
                    "size": cp.size,
                    "head": cp.head,
                    "at": cp.at,
                    "key_version": cp.key_version,
                    "signature": cp.to_json()["signature"],
                },
            )
            s.execute(
                update(HEADS)
                .where(HEADS.c.chain == cp.chain, HEADS.c.checkpoint_size < cp.size)
                .values(checkpoint_size=cp.size, checkpoint_at=cp.at)
            )

    def checkpoints(self, chain: str, first_size: int, last_size: int) -> list[Checkpoint]:
        """The stored checkpoints of ``chain`` whose size is within [first_size, last_size]."""
        with self.repo.reading() as s:
            rows = s.execute(
                select(CHECKPOINTS)
                .where(CHECKPOINTS.c.chain == chain, CHECKPOINTS.c.size.between(first_size, last_size))
                .order_by(CHECKPOINTS.c.size)
            ).all()
        return [
            Checkpoint.from_json(
                {
                    "chain": r.chain,
                    "size": r.size,
                    "head": r.head,
                    "at": r.at,
                    "key_version": r.key_version,
                    "signature": r.signature,
                }
            )
            for r in rows
        ]

    def first_seq_since(self, chain: str, since_us: int) -> int | None:
        with self.repo.reading() as s:
            got = s.execute(
                select(ENTRIES.c.seq)
                .where(ENTRIES.c.chain == chain, ENTRIES.c.at >= since_us)
                .order_by(ENTRIES.c.seq)
                .limit(1)
            ).scalar()
        return int(got) if got is not None else None

    def entry_hash(self, chain: str, seq: int) -> str | None:
        with self.repo.reading() as s:
            got = s.execute(select(ENTRIES.c.hash).where(ENTRIES.c.chain == chain, ENTRIES.c.seq == seq)).scalar()
        return str(got) if got is not None else None

    def bodies(self, chain: str, first_seq: int, end_seq: int, batch: int = 1000) -> Iterator[tuple[int, str]]:
        """(seq, JSON line with its hash) of entries first_seq <= seq < end_seq, in order, in batches."""
        seq = first_seq
        while seq < end_seq:
            with self.repo.reading() as s:
                rows = s.execute(
                    select(ENTRIES.c.seq, ENTRIES.c.body, ENTRIES.c.hash)
                    .where(ENTRIES.c.chain == chain, ENTRIES.c.seq >= seq, ENTRIES.c.seq < end_seq)
                    .order_by(ENTRIES.c.seq)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for r in rows:
                yield int(r[0]), stored_line(str(r[1]), str(r[2]))
            seq = int(rows[-1][0]) + 1

    def search(self, chain: str, f: EntryFilter, after_seq: int | None, limit: int) -> list[tuple[int, str]]:
        """Entries of ``chain`` matching ``f``, newest first, older than ``after_seq`` (a page token)."""
        conds: list[Any] = [ENTRIES.c.chain == chain]
        if after_seq is not None:
            conds.append(ENTRIES.c.seq < after_seq)
        if f.since_us is not None:
            conds.append(ENTRIES.c.at >= f.since_us)
        if f.until_us is not None:
            conds.append(ENTRIES.c.at < f.until_us)
        if f.principal:
            conds.append(ENTRIES.c.principal == f.principal)
        if f.action:
            conds.append(ENTRIES.c.action == f.action)
        if f.outcome:
            conds.append(ENTRIES.c.outcome == f.outcome)
        if f.resource:
            conds.append(ENTRIES.c.resource.startswith(f.resource, autoescape=True))
        with self.repo.reading() as s:
            rows = s.execute(
                select(ENTRIES.c.seq, ENTRIES.c.body, ENTRIES.c.hash)
                .where(and_(*conds))
                .order_by(ENTRIES.c.seq.desc())
                .limit(limit)
            ).all()
        return [(int(r[0]), stored_line(str(r[1]), str(r[2]))) for r in rows]
