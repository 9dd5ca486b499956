"""The in-process vault app the tests/http vault modules drive: an unsealed core on memory storage, a TestClient
over VaultApp with an internal token, and a call helper (root token by default)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from strongroom.http.vault.app import VaultApp
from strongroom.keys.seal import SealManager
from strongroom.keys.storage import MemoryStorage
from strongroom.service.vault import VaultCore

ROOT = "hvs.vault-app-test-root"
INTERNAL = "internal-test-token-vault-app-0123"


@pytest.fixture()
def core() -> VaultCore:
    physical = MemoryStorage()
    core = VaultCore(physical, SealManager(physical))
    out = core.initialize(1, 1, root_token=ROOT)
    core.submit_unseal_key(out.keys[0], reset=False)
    return core


@pytest.fixture()
def client(core: VaultCore) -> Iterator[TestClient]:
    c = TestClient(VaultApp(core, internal_token=INTERNAL))
    yield c
    c.close()


def call(client: TestClient, method: str, path: str, token: str = ROOT, body: Any = None, ns: str | None = None) -> Any:
    headers = {"x-vault-token": token}
    if ns:
        headers["x-vault-namespace"] = ns
    return client.request(method, f"/v1/{path}", headers=headers, json=body)
