"""Strict configuration (config.py): every mistake is one line naming the setting, where it came from and, for a
misspelt name, the closest valid one; nothing unknown is silently ignored."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.config import NON_SETTING_ENV, ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for var in list(os.environ):
        if var.startswith("STRONGROOM_"):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)  # no ./strongroom.toml unless a test writes one
    yield


def _error(tmp_path: Path, text: str | None = None, **overrides: object) -> str:
    path = None
    if text is not None:
        path = tmp_path / "strongroom.toml"
        path.write_text(text)
    with pytest.raises(ConfigError) as got:
        load_settings(path, **overrides)
    return str(got.value)


def test_a_misspelt_key_names_the_closest_setting(tmp_path: Path) -> None:
    path = tmp_path / "strongroom.toml"
    assert _error(tmp_path, "prot = 9000\n") == f"{path}: unknown setting `prot`; did you mean `port`?"


def test_an_unknown_key_far_from_every_setting_has_no_guess(tmp_path: Path) -> None:
    path = tmp_path / "strongroom.toml"
    assert _error(tmp_path, "zzzqqq = 1\n") == f"{path}: unknown setting `zzzqqq`"


def test_the_implicit_strongroom_toml_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "strongroom.toml").write_text("vault_prot = 1\n")
    with pytest.raises(ConfigError) as got:
        load_settings()
    assert str(got.value) == "strongroom.toml: unknown setting `vault_prot`; did you mean `vault_port`?"


def test_an_unknown_key_of_a_region_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "strongroom.toml"
    message = _error(tmp_path, '[regions.eu]\ngeografy = "EU"\n')
    assert message == f"{path}: unknown setting `regions.eu.geografy`; did you mean `geography`?"


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as got:
        load_settings(tmp_path / "nope.toml")
    assert str(got.value) == f"config file {tmp_path / 'nope.toml'} does not exist"


def test_bad_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "strongroom.toml"
    assert _error(tmp_path, "port = \n") == f"{path}: not valid TOML: Invalid value (at line 1, column 8)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('port = "abc"\n', "`port`: Input should be a valid integer, unable to parse string as an integer (got 'abc')"),
        ("port = 99999\n", "`port`: a port is a number from 1 to 65535 (got 99999)"),
        ('seal = "foo"\n', "`seal`: seal must be keyfile, shamir or pkcs11 (got 'foo')"),
        ("workers = 0\n", "`workers`: workers must be >= 1 (got 0)"),
        ("max_connections = -1\n", "`max_connections`: must be >= 0 (0 = no limit) (got -1)"),
        ("request_head_timeout_seconds = -2.5\n", "`request_head_timeout_seconds`: must be >= 0 (0 = no limit) (got -2.5)"),
        (
            'log_level = "loud"\n',
            "`log_level`: log_level must be one of critical, error, warning, info, debug (got 'loud')",
        ),
    ],
)
def test_a_bad_value_in_the_file_names_the_file_and_the_setting(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "strongroom.toml"
    assert _error(tmp_path, text) == f"{path}: {message}"


def test_an_unknown_strongroom_variable_names_the_closest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRONGROOM_PROT", "9000")
    assert _error(tmp_path) == "unknown environment variable STRONGROOM_PROT; did you mean STRONGROOM_PORT?"


def test_a_bad_value_in_the_environment_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRONGROOM_PORT", "x")
    assert _error(tmp_path) == (
        "STRONGROOM_PORT: `port`: Input should be a valid integer, unable to parse string as an integer (got 'x')"
    )
    monkeypatch.setenv("STRONGROOM_PORT", "8443")
    monkeypatch.setenv("STRONGROOM_REGIONS", "{bad")
    assert _error(tmp_path) == "STRONGROOM_REGIONS: not valid JSON"


def test_a_bad_flag_names_the_flag(tmp_path: Path) -> None:
    assert (
        _error(tmp_path, None, vault_port=0) == "--vault-port: `vault_port`: a port is a number from 1 to 65535 (got 0)"
    )


def test_variables_that_are_not_settings_are_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in NON_SETTING_ENV:
        monkeypatch.setenv(var, "x")
    monkeypatch.setenv("STRONGROOM__ANYTHING_INTERNAL", "x")
    monkeypatch.setenv("STRONGROOM_PORT", "9001")
    assert load_settings().port == 9001


def test_file_env_and_flags_layer_and_paths_are_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "strongroom.toml"
    path.write_text('port = 9000\nvault-port = 9100\ndata_dir = "rel/data"\n')
    monkeypatch.setenv("STRONGROOM_VAULT_PORT", "9200")
    settings = load_settings(path, host="0.0.0.0")  # noqa: S104
    assert (settings.port, settings.vault_port, settings.host) == (9000, 9200, "0.0.0.0")  # noqa: S104
    assert settings.data_dir == tmp_path / "rel" / "data"  # made absolute from the working directory
    assert settings.data_dir.is_absolute()
