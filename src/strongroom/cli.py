"""The strongroom command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from strongroom.config import load_settings

app = typer.Typer(help="strongroom: an S3-compatible object store that seals every object twice.", no_args_is_help=True)
key_app = typer.Typer(help="Customer keys (layer-1 KEKs) in the key store.", no_args_is_help=True)
app.add_typer(key_app, name="key")

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="strongroom.toml to read")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="data directory (default ./strongroom-data)")]


@app.command()
def serve(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[str | None, typer.Option(help="address to listen on (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="S3 port (default 8443)")] = None,
    vault_port: Annotated[int | None, typer.Option("--vault-port", help="key vault port (default 8200)")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes (default 1)")] = None,
    cert: Annotated[Path | None, typer.Option(help="server certificate (PEM); default: a generated one")] = None,
    key: Annotated[Path | None, typer.Option(help="server private key (PEM)")] = None,
    client_ca: Annotated[Path | None, typer.Option("--client-ca", help="require client certs from this CA")] = None,
    insecure_http: Annotated[bool, typer.Option("--insecure-http", help="DEBUG ONLY: serve without TLS")] = False,
) -> None:
    """Start the S3 server (TLS on by default; first run creates the data directory, CA and root credentials)."""
    from strongroom.server import serve as run

    settings = load_settings(
        config,
        data_dir=data_dir,
        host=host,
        port=port,
        vault_port=vault_port,
        workers=workers,
        cert=cert,
        key=key,
        client_ca=client_ca,
        insecure_http=True if insecure_http else None,
    )
    run(settings)


@key_app.command("create")
def key_create(
    name: str,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    tenant: Annotated[str, typer.Option(help="owner tenant")] = "root",
    region: Annotated[str | None, typer.Option(help="region the key lives in (default: the default region)")] = None,
    description: Annotated[str, typer.Option(help="free text")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Create a named key usable with SSE-KMS (x-amz-server-side-encryption-aws-kms-key-id: NAME)."""
    from strongroom.bootstrap import build_runtime

    settings = load_settings(config, data_dir=data_dir)
    rt = build_runtime(settings, run_migrations=True)
    region = region or settings.default_region
    if region not in settings.regions:
        raise typer.BadParameter(f"region {region!r} is not configured")
    rt.repo.ensure_tenant(tenant, tenant)
    info = rt.keys.create_key(name, tenant, region, "kms", description)
    rt.repo.close()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "id": info.id,
                    "tenant": info.tenant_id,
                    "region": info.region,
                    "state": info.state,
                    "version": info.latest_version,
                }
            )
        )
    else:
        typer.echo(f"created key {info.id} (tenant {info.tenant_id}, region {info.region})")


@key_app.command("list")
def key_list(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List keys."""
    from strongroom.bootstrap import build_runtime

    rt = build_runtime(load_settings(config, data_dir=data_dir), run_migrations=True)
    keys = rt.keys.list_keys()
    rt.repo.close()
    if as_json:
        typer.echo(json.dumps([k.__dict__ for k in keys]))
    else:
        for k in keys:
            typer.echo(f"{k.id}\t{k.purpose}\t{k.state}\tv{k.latest_version}\t{k.tenant_id}\t{k.region}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
