"""An audit store on a real SQLite database, and a local Ed25519 signer standing in for the vault's audit key (the
vault's own key is exercised end to end in tests/e2e/test_audit.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.crypto.transitprims import ed25519_generate, ed25519_public, ed25519_sign
from strongroom.metadata.auditstore import AuditStore
from strongroom.metadata.repository import Repository


class LocalSigner:
    def __init__(self) -> None:
        self.private = ed25519_generate()
        self.keys = {1: ed25519_public(self.private)}

    def __call__(self, data: bytes) -> tuple[int, bytes]:
        return 1, ed25519_sign(self.private, data)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[AuditStore]:
    repo = Repository.open(f"sqlite:///{tmp_path / 'audit.db'}")
    try:
        yield AuditStore(repo)
    finally:
        repo.close()


@pytest.fixture()
def signer() -> LocalSigner:
    return LocalSigner()


@pytest.fixture()
def other_signer() -> LocalSigner:
    return LocalSigner()
