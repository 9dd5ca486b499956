"""Settings: loaded once from (lowest to highest) defaults, strongroom.toml, STRONGROOM_* env, CLI flags."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from strongroom.logs import FORMATS, LEVELS

ENV_PREFIX = "STRONGROOM_"
#: Environment variable the server process uses to pass resolved settings to worker processes.
RESOLVED_ENV = "STRONGROOM__RESOLVED_SETTINGS"


class RegionConfig(BaseModel):
    """A region: where a bucket's bytes and keys live."""

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
    max_object_size: int = 5 * 1024**4
    log_level: str = "info"  # critical, error, warning, info (an access line per request), debug
    log_format: str = "text"  # or "json": one JSON object per line (strongroom/logs.py)
    sweep_interval_seconds: float = 300.0
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


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings: TOML file (explicit, or ./strongroom.toml if present) < env < overrides."""
    resolved = os.environ.get(RESOLVED_ENV)
    if resolved and not overrides and config_file is None:
        return Settings.model_validate_json(resolved)
    file_values: dict[str, Any] = {}
    path = config_file or Path("strongroom.toml")
    if path.exists():
        with path.open("rb") as fh:
            file_values = tomllib.load(fh)
        file_values = {k.replace("-", "_"): v for k, v in file_values.items()}
    env_only = Settings()  # env over defaults
    env_set = {name for name in Settings.model_fields if f"{ENV_PREFIX}{name.upper()}" in os.environ}
    merged: dict[str, Any] = dict(file_values)
    for name in env_set:
        merged[name] = getattr(env_only, name)
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**merged)
