"""`strongroom audit`: export a tenant's audit log, print the checkpoint key, verify an export offline."""

from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path
from typing import Annotated

import httpx
import typer

from strongroom.cli import AccessOpt, CaOpt, DataDirOpt, EndpointOpt, SecretOpt, _admin, _call

audit_app = typer.Typer(help="The audit log: export it, verify an export offline.", no_args_is_help=True)


@audit_app.command("export")
def audit_export(
    tenant: Annotated[str | None, typer.Option("--tenant", help="the tenant (default: your own)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="first entry time, RFC 3339 (default: all)")] = None,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
) -> None:
    """Write the audit log as JSON lines with its signed checkpoints to stdout (`> FILE`)."""
    from strongroom.http.admin.client import AdminError

    query = {k: v for k, v in (("tenant", tenant), ("since", since)) if v}
    path = "/audit/export" + ("?" + urllib.parse.urlencode(query) if query else "")
    client = _admin(data_dir, endpoint, access_key, secret_key, ca_bundle)
    try:
        for line in client.lines(path):
            sys.stdout.write(line + "\n")
    except AdminError as exc:
        typer.echo(f"Error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(1 if exc.status == 404 else 2) from None
    except httpx.HTTPError as exc:
        typer.echo(
            f"Error: the export was interrupted ({type(exc).__name__}); what was written is incomplete", err=True
        )
        raise typer.Exit(2) from None
    sys.stdout.flush()


@audit_app.command("public-key")
def audit_public_key(
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
) -> None:
    """Print the checkpoint signing keys (JSON; save it to verify exports with --public-key)."""
    out = _call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "GET", "/audit/public-key")
    typer.echo(json.dumps(out, indent=2, sort_keys=True))


@audit_app.command("verify")
def audit_verify(
    file: Annotated[Path, typer.Argument(help="an export made by `strongroom audit export`")],
    public_key: Annotated[Path, typer.Option("--public-key", help="the output of `strongroom audit public-key`")],
) -> None:
    """Verify an export offline: every entry's hash and link, every checkpoint's signature, and the closing
    checkpoint. Names the first entry that fails; exit status 1 then."""
    from strongroom.audit.verify import load_public_keys, verify

    try:
        keys = load_public_keys(public_key.read_text())
    except (OSError, ValueError) as exc:
        typer.echo(f"Error: cannot read the public key file {public_key}: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        with file.open(encoding="utf-8") as f:
            result = verify(f, keys)
    except OSError as exc:
        typer.echo(f"Error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    except UnicodeDecodeError:
        typer.echo(f"FAILED: {file} is not UTF-8 text", err=True)
        raise typer.Exit(1) from None
    if not result.ok:
        typer.echo(result.describe(), err=True)
        raise typer.Exit(1)
    typer.echo(result.describe())
