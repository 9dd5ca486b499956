"""Settings: loaded once from (lowest to highest) defaults, strongroom.toml, STRONGROOM_* env, CLI flags."""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from strongroom.logs import FORMATS, LEVELS

ENV_PREFIX = "STRONGROOM_"
#: Environment variable the server process uses to pass resolved settings to worker processes.
RESOLVED_ENV = "STRONGROOM__RESOLVED_SETTINGS"
#: STRONGROOM_* variables that are not settings: credentials the first start takes, CLI defaults, test knobs.
#: Names starting STRONGROOM__ (two underscores) are internal: the server passes them to its own processes.
NON_SETTING_ENV = frozenset(
    {
        "STRONGROOM_ROOT_TOKEN",
        "STRONGROOM_ROOT_ACCESS_KEY",
        "STRONGROOM_ROOT_SECRET_KEY",
        "STRONGROOM_OPERATOR_ACCESS_KEY",
        "STRONGROOM_OPERATOR_SECRET_KEY",
        "STRONGROOM_TENANT",
        "STRONGROOM_ENDPOINT",
        "STRONGROOM_CA_BUNDLE",
        "STRONGROOM_TEST_PG_URL",
        "STRONGROOM_TEST_WORKERS",
    }
)


class ConfigError(Exception):
    """A configuration mistake, said in one or two lines (no traceback): the CLI prints it and exits 2."""


class StartupError(Exception):
    """The server cannot start (a port in use, say), said in one line: the CLI prints it and exits 2."""


class RegionConfig(BaseModel):
    """A region: where a bucket's bytes and keys live."""

    model_config = ConfigDict(extra="forbid")

    geography: str = "local"
    backend: str = ""  # file:///path or s3://bucket?endpoint=...; empty = DATA/blobs/<region>


class Settings(BaseSettings):
    """Every strongroom setting. Env: STRONGROOM_<NAME>; file: strongroom.toml (or --config)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Path("./strongroom-data")
    host: str = "127.0.0.1"
    port: int = 8443
    vault_port: int = 8200
    workers: int = 1
    # worker threads (per gateway process) for the per-request work of GET and PUT: metadata, keys, sealing,
    # blob I/O. The work is mostly CPU under one GIL; more threads mostly add contention (issue 4, bench/).
    request_threads: int = 2
    cert: Path | None = None
    key: Path | None = None
    client_ca: Path | None = None  # mutual TLS: require client certificates signed by this CA
    insecure_http: bool = False
    database_url: str = ""  # empty = sqlite under data_dir
    default_region: str = "local"
    regions: dict[str, RegionConfig] = Field(default_factory=lambda: {"local": RegionConfig()})
    max_clock_skew_seconds: int = 900
    # Signature Version 2 (legacy SDKs and tools; http/s3/sigv2.py) next to SigV4; false refuses it as S3 regions
    # without V2 do. A bucket policy can refuse it too: a Deny with Condition StringEquals s3:signatureversion AWS
    sigv2: bool = True
    max_object_size: int = 5 * 1024**4
    log_level: str = "info"  # critical, error, warning, info (an access line per request), debug
    log_format: str = "text"  # or "json": one JSON object per line (strongroom/logs.py)
    sweep_interval_seconds: float = 300.0
    # slow clients (http/protocol.py, http/app.py): the whole request head must arrive within this many seconds
    # (else 400 RequestTimeout), a request body may pause at most this long (else 400 RequestTimeout), and one
    # gateway process holds at most this many connections (a request past it: 503 SlowDown). 0 = no limit
    request_head_timeout_seconds: float = 20.0
    request_body_timeout_seconds: float = 30.0
    max_connections: int = 1024
    hostname_suffixes: list[str] = Field(default_factory=list)  # virtual-hosted-style base domains
    # new tenants (the first start's "default" included) start with the tenant-wide public access block on
    public_access_block_default: bool = True
    # key vault seal: "keyfile" (embedded default, development grade), "shamir" (operator init/unseal), "pkcs11"
    seal: str = "keyfile"
    pkcs11_lib: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_token_label: str = "strongroom"
    pkcs11_pin: str = ""
    pkcs11_key_label: str = "strongroom-root"
    # the infrastructure root (layer 2): a 0600 file; keep it OUTSIDE the data directory in production
    infra_root_file: Path | None = None  # empty = DATA/keys/infra-root.key
    vault_url: str = ""  # where S3 gateways reach the vault; empty = https://localhost:<vault_port>
    vault_ca: Path | None = None  # CA to verify the vault; empty = DATA/tls/ca.pem (or --cert)
    # abuse limits (service/limits.py), shared by every gateway through the metadata database
    rate_limit_per_key: int = 10000  # requests per second per access key, long-run (SlowDown past it); 0 = off
    rate_limit_burst: int = 20000  # at most this many requests per key in any burst/rate seconds; >= the rate
    auth_failure_threshold: int = 20  # signature failures per minute per access key or address before delays start
    auth_failure_delay_max_seconds: float = 5.0  # cap on holding back a failing answer (doubling from 0.1 s); 0 = off
    # false ONLY to measure what the audit log costs (bench/): no operation is recorded (a warning is printed)
    audit_log: bool = True
    # true: /_strongroom/metrics and the vault's sys/metrics answer without a token (else a bearer token is needed)
    metrics_public: bool = False

    @field_validator("data_dir", "cert", "key", "client_ca", "infra_root_file", "vault_ca")
    @classmethod
    def _absolute(cls, v: Path | None) -> Path | None:
        # recorded and passed on as absolute paths, so the CLI works from any directory
        return None if v is None else Path(os.path.abspath(v.expanduser()))

    @field_validator("port", "vault_port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 1 <= v <= 65535:
            raise ValueError("a port is a number from 1 to 65535")
        return v

    @field_validator("seal")
    @classmethod
    def _seal(cls, v: str) -> str:
        if v not in ("keyfile", "shamir", "pkcs11"):
            raise ValueError("seal must be keyfile, shamir or pkcs11")
        return v

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, v: str) -> str:
        if v.lower() not in LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LEVELS)}")
        return v.lower()

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, v: str) -> str:
        if v not in FORMATS:
            raise ValueError(f"log_format must be one of {', '.join(FORMATS)}")
        return v

    @field_validator("workers")
    @classmethod
    def _workers(cls, v: int) -> int:
        if v < 1:
            raise ValueError("workers must be >= 1")
        return v

    @field_validator("request_head_timeout_seconds", "request_body_timeout_seconds", "max_connections")
    @classmethod
    def _not_negative(cls, v: float) -> float:
        if v < 0:
            raise ValueError("must be >= 0 (0 = no limit)")
        return v

    @field_validator("request_threads")
    @classmethod
    def _request_threads(cls, v: int) -> int:
        if not 1 <= v <= 256:
            raise ValueError("request_threads must be between 1 and 256")
        return v

    @field_validator("regions", mode="before")
    @classmethod
    def _regions(cls, v: Any) -> Any:
        if isinstance(v, str):
            return json.loads(v)
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)

    # --- derived paths -------------------------------------------------
    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'strongroom.db').resolve()}"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def vault_endpoint(self) -> str:
        scheme = "http" if self.insecure_http else "https"
        return self.vault_url or f"{scheme}://localhost:{self.vault_port}"

    def vault_ca_file(self) -> Path | None:
        if self.vault_ca:
            return self.vault_ca
        if self.cert:
            return self.cert
        return self.tls_dir / "ca.pem"

    def region_backend(self, region: str) -> str:
        cfg = self.regions[region]
        if cfg.backend:
            return cfg.backend
        return (self.data_dir / "blobs" / region).resolve().as_uri()


def _closest(name: str, known: list[str]) -> str:
    match = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean `{match[0]}`?" if match else ""


def _check_keys(values: dict[str, Any], source: str) -> None:
    """Every key of the file is a setting (and every key of a [regions.NAME] table a region field)."""
    known = sorted(Settings.model_fields)
    for key in values:
        if key not in Settings.model_fields:
            raise ConfigError(f"{source}: unknown setting `{key}`{_closest(key, known)}")
    regions = values.get("regions")
    if isinstance(regions, dict):
        fields = sorted(RegionConfig.model_fields)
        for name, region in regions.items():
            if not isinstance(region, dict):
                raise ConfigError(f"{source}: `regions.{name}` must be a table ([regions.{name}])")
            for key in region:
                if key not in RegionConfig.model_fields:
                    raise ConfigError(f"{source}: unknown setting `regions.{name}.{key}`{_closest(key, fields)}")


def _check_env() -> set[str]:
    """The settings the environment sets; an unknown STRONGROOM_* variable is an error."""
    names = {f"{ENV_PREFIX}{name.upper()}": name for name in Settings.model_fields}
    found: set[str] = set()
    for var in sorted(os.environ):
        if not var.startswith(ENV_PREFIX) or var.startswith(ENV_PREFIX + "_") or var in NON_SETTING_ENV:
            continue
        if var not in names:
            match = difflib.get_close_matches(var, sorted(names) + sorted(NON_SETTING_ENV), n=1, cutoff=0.6)
            hint = f"; did you mean {match[0]}?" if match else ""
            raise ConfigError(f"unknown environment variable {var}{hint}")
        found.add(names[var])
    return found


def _describe(error: Any, origin: dict[str, str]) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    top = str(error["loc"][0]) if error["loc"] else ""
    where = origin.get(top, "settings")
    msg = str(error["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    given = error.get("input")
    shown = f" (got {given!r})" if isinstance(given, str | int | float | bool) and error["type"] != "missing" else ""
    return f"{where}: `{loc}`: {msg}{shown}"


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings of a strongroom.toml, checked for unknown keys (ConfigError on any mistake)."""
    try:
        with path.open("rb") as fh:
            values = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except PermissionError:
        raise ConfigError(f"config file {path} cannot be read (permission denied)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    values = {k.replace("-", "_"): v for k, v in values.items()}
    _check_keys(values, str(path))
    return values


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings: TOML file (explicit, or ./strongroom.toml if present) < env < overrides.

    Strict: an unknown key in the file, an unknown STRONGROOM_* variable, a --config file that does not exist
    and a bad value each raise ConfigError with one line naming the setting and where it came from.
    """
    resolved = os.environ.get(RESOLVED_ENV)
    if resolved and not overrides and config_file is None:
        return Settings.model_validate_json(resolved)
    path = config_file or Path("strongroom.toml")
    file_values: dict[str, Any] = {}
    if config_file is not None or path.exists():
        file_values = read_config_file(path)
    env_set = _check_env()
    origin = {name: str(path) for name in file_values}
    origin.update({name: f"{ENV_PREFIX}{name.upper()}" for name in env_set})
    given = {k: v for k, v in overrides.items() if v is not None}
    origin.update({name: f"--{name.replace('_', '-')}" for name in given})
    try:
        env_only = Settings()  # env over defaults
        merged: dict[str, Any] = dict(file_values)
        for name in env_set:
            merged[name] = getattr(env_only, name)
        merged.update(given)
        return Settings(**merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0], origin)) from None
    except SettingsError as exc:  # a list or table setting in the environment must be JSON
        field = re.search(r'field "(\w+)"', str(exc))
        var = f"{ENV_PREFIX}{field.group(1).upper()}" if field else "a STRONGROOM_* variable"
        raise ConfigError(f"{var}: not valid JSON") from None
