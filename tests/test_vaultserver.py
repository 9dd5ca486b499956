"""vaultserver.ensure_root_credentials: the bootstrap credentials and namespace at first unseal."""

from __future__ import annotations

import pytest

from strongroom.keys.seal import SealManager
from strongroom.keys.storage import MemoryStorage
from strongroom.service.vault import CREDENTIALS_PREFIX, VaultCore
from strongroom.vaultserver import ensure_root_credentials


def _core() -> VaultCore:
    physical = MemoryStorage()
    core = VaultCore(physical, SealManager(physical))
    out = core.initialize(1, 1, root_token="hvs.bootstrap-test")
    core.submit_unseal_key(out.keys[0], reset=False)
    return core


def test_first_unseal_makes_the_default_admin_and_the_operator(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRONGROOM_ROOT_ACCESS_KEY", "AKDEFAULTADMIN")
    monkeypatch.setenv("STRONGROOM_ROOT_SECRET_KEY", "default-admin-secret-0123456789")
    monkeypatch.delenv("STRONGROOM_OPERATOR_ACCESS_KEY", raising=False)
    monkeypatch.delenv("STRONGROOM_OPERATOR_SECRET_KEY", raising=False)
    core = _core()
    ensure_root_credentials(core)
    admin = core.get_credential("AKDEFAULTADMIN")
    assert admin is not None and (admin["tenant"], admin["user"], admin["bootstrap"]) == ("default", "admin", True)
    out = capsys.readouterr().out
    assert "operator" in out and "AKDEFAULTADMIN" not in out  # only the generated one is printed
    operator_key = next(line.split(":", 1)[1].strip() for line in out.splitlines() if "access key:" in line)
    operator = core.get_credential(operator_key)
    assert operator is not None and (operator["tenant"], operator["user"], operator["bootstrap"]) == (
        "system",
        "admin",
        True,
    )
    assert core.list_namespaces() == ["default"]
    ensure_root_credentials(core)  # later unseals change nothing and print nothing
    assert len(core.seal_manager.barrier.list(CREDENTIALS_PREFIX)) == 2
    assert capsys.readouterr().out == ""


def test_upgraded_vault_keeps_its_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    core = _core()
    core.put_credential("AKOLD", "old-secret-0123456789abcdef", "root")
    ensure_root_credentials(core)
    old = core.get_credential("AKOLD")
    assert old is not None and old["tenant"] == "default"
    assert core.count_credentials() == 1 and core.list_namespaces() == ["default"]
