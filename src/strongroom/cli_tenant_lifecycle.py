"""`strongroom tenant export | verify-certificate | certificate-key`, and `tenant delete --crypto-shred`: a tenant
leaving, provably (docs/TENANT-LIFECYCLE.md)."""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from strongroom.cli import (
    AccessOpt,
    AddrOpt,
    CaOpt,
    ConfigOpt,
    DataDirOpt,
    EndpointOpt,
    JsonOpt,
    SecretOpt,
    _admin,
    _call,
)

PublicKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        help="the vault's certificate key (`strongroom tenant certificate-key > FILE`): proves who signed",
    ),
]


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --- tenant delete --crypto-shred ----------------------------------------------------------------------------------


def crypto_shred(name: str, yes: bool, certificate: Path | None, as_json: bool, opts: tuple[Any, ...]) -> None:
    """The crypto-shred behind `tenant delete --crypto-shred` (an operator's command)."""
    client = _admin(*opts)
    plan = _call(client, "GET", f"/tenants/{name}/crypto-shred")
    data = plan["data"]
    if plan["blockers"]:
        typer.echo(
            f"Error: tenant {name} has purge-protected keys not due for destruction: {', '.join(plan['blockers'])}",
            err=True,
        )
        raise typer.Exit(2)
    summary = (
        f"crypto-shred tenant {name}: destroy {len(plan['keys'])} keys, delete {data['objects']} objects "
        f"({_human(data['bytes'])}) and {data['uploads']} multipart uploads in {len(data['buckets'])} buckets, "
        f"{plan['users']} users and {plan['access_keys']} access keys. This cannot be undone, and the name "
        f"{name} cannot be used again."
    )
    typer.echo(summary, err=True)
    if not yes:
        # asked on stderr, read from stdin: stdout carries only the certificate (click's prompt writes a space there)
        typer.echo("Destroy it for good? [y/N] ", err=True, nl=False)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            typer.echo("nothing was changed", err=True)
            raise typer.Exit(1)
    cert = _call(client, "POST", f"/tenants/{name}/crypto-shred")
    text = json.dumps(cert, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if certificate is not None:
        _write_atomic(certificate, text)
    if not as_json:
        typer.echo(
            f"crypto-shredded tenant {name}; deletion certificate (verify: strongroom tenant verify-certificate):",
            err=True,
        )
    sys.stdout.write(text)


# --- verify-certificate, certificate-key -----------------------------------------------------------------------------


def tenant_verify_certificate(
    file: Annotated[Path, typer.Argument(help="a deletion certificate (JSON), of a tenant or of one key")],
    public_key: PublicKeyOpt = None,
) -> None:
    """Verify a deletion certificate offline (no server): its signature, and with --public-key its signer. Exit
    status 0: valid; 1: not valid."""
    from strongroom.keys.certificates import key_id, parse_public_key, verify_certificate

    try:
        cert = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"Error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValueError:
        typer.echo(f"INVALID: {file} is not JSON", err=True)
        raise typer.Exit(1) from None
    pinned: str | None = None
    if public_key is not None:
        try:
            pinned = parse_public_key(public_key.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            typer.echo(f"Error: cannot read the public key {public_key}: {exc}", err=True)
            raise typer.Exit(2) from None
    if not verify_certificate(cert, pinned):
        why = "not signed by that key, or altered" if pinned else "altered, or not a deletion certificate"
        typer.echo(f"INVALID: {file}: {why}", err=True)
        raise typer.Exit(1)
    signer = str(cert["signing_public_key"])
    what = f"tenant {cert.get('tenant')}" if "key_name" not in cert else f"key {cert['key_name']}"
    when = cert.get("completed_at") or cert.get("destroyed_at")
    typer.echo(f"valid: {what} destroyed at {when}, signed by key {key_id(signer)}")
    if pinned is None:
        typer.echo(
            "note: the signature matches the key inside the certificate; pass --public-key to check that key is "
            "your vault's",
            err=True,
        )


def tenant_certificate_key(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the vault's deletion-certificate public key (base64; save it for verify-certificate --public-key)."""
    from strongroom.cli import _vault

    out = _vault(config, data_dir, vault_addr, None).call("GET", "strongroom/certificate-key")["data"]
    typer.echo(json.dumps(out, indent=2, sort_keys=True) if as_json else out["public_key"])


# --- export --------------------------------------------------------------------------------------------------------


def _sse_c_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise typer.BadParameter("an SSE-C key is 32 bytes, base64") from None
    if len(key) != 32:
        raise typer.BadParameter("an SSE-C key is 32 bytes, base64")
    return key


def tenant_export(
    name: Annotated[str, typer.Argument(metavar="TENANT")],
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="where to write (made if missing; re-runnable)")],
    sse_c_key: Annotated[
        list[str] | None,
        typer.Option("--sse-c-key", help="a customer key (base64) of SSE-C objects; repeat for several"),
    ] = None,
    vault_addr: AddrOpt = None,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export everything TENANT owns into DIR, with the tenant admin's own credentials: objects (decrypted, with
    their metadata), buckets' settings, users, groups and policies, keys' metadata. Exit status 0 when every object
    was written; 1 when some were skipped (SSE-C without its key) or failed (the manifest says which)."""
    import httpx

    from strongroom.clitargets import vault_target
    from strongroom.config import load_settings
    from strongroom.tenantexport import Exporter, ExportError, S3Reader, VaultReader

    keys = [_sse_c_key(k) for k in sse_c_key or []]
    client = _admin(data_dir, endpoint, access_key, secret_key, ca_bundle)
    assert access_key is not None and secret_key is not None  # _admin exits without them
    s3 = S3Reader(client.endpoint, access_key, secret_key, client.http)
    target = vault_target(load_settings(None, data_dir=data_dir), vault_addr, ca_bundle)

    def vault() -> VaultReader:
        got = client.request("POST", "/vault/token", {"ttl_seconds": 600})
        http = httpx.Client(verify=target.verify(), timeout=60)
        return VaultReader(target.url, got["token"], got["namespace"], http)

    exporter = Exporter(
        client,
        s3,
        directory,
        vault=vault,
        sse_c_keys=keys,
        progress=(lambda _line: None) if as_json else (lambda line: typer.echo(f"  {line}", err=True)),
    )
    from strongroom.http.admin.client import AdminError

    try:
        result = exporter.run(name)
    except ExportError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    except AdminError as exc:
        typer.echo(f"Error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    except (httpx.HTTPError, OSError) as exc:
        typer.echo(f"Error: the export stopped ({type(exc).__name__}: {exc}); run it again to continue", err=True)
        raise typer.Exit(2) from None
    counts = result.manifest["counts"]
    summary = {
        "directory": str(directory),
        "complete": result.complete,
        **counts,
        "reused": result.reused,
        "keys": result.manifest["keys"],
        "audit": result.manifest["audit"],
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2, sort_keys=True))
    else:
        typer.echo(
            f"exported tenant {name} to {directory}: {counts['exported']} of {counts['objects']} objects "
            f"({_human(counts['bytes'])}; {result.reused} unchanged since the last run) in {counts['buckets']} "
            f"buckets; keys: {result.manifest['keys']}; audit log: {result.manifest['audit']}"
        )
    for line in result.problems:
        typer.echo(line, err=True)
    if not result.complete:
        typer.echo(f"incomplete: {counts['skipped']} skipped, {counts['failed']} failed (see manifest.json)", err=True)
        raise typer.Exit(1)
