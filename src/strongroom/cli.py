"""The strongroom command line. Key and operator commands speak the vault's HTTP API, like the vault CLI."""

from __future__ import annotations

import base64
import json
import os
import ssl
from pathlib import Path
from typing import Annotated, Any

import typer

from strongroom.config import Settings, load_settings

app = typer.Typer(help="strongroom: an S3-compatible object store that seals every object twice.", no_args_is_help=True)
key_app = typer.Typer(help="Customer keys in the key vault (transit keys; SSE-S3 and SSE-KMS).", no_args_is_help=True)
operator_app = typer.Typer(help="Vault operator: init, unseal, seal, status, rotate.", no_args_is_help=True)
cred_app = typer.Typer(help="S3 credentials (sealed in the vault).", no_args_is_help=True)
app.add_typer(key_app, name="key")
app.add_typer(operator_app, name="operator")
app.add_typer(cred_app, name="credential")

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="strongroom.toml to read")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="data directory (default ./strongroom-data)")]
AddrOpt = Annotated[str | None, typer.Option("--vault-addr", envvar="VAULT_ADDR", help="vault URL")]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="VAULT_TOKEN", help="vault token")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


@app.command()
def serve(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[str | None, typer.Option(help="address to listen on (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="S3 port (default 8443)")] = None,
    vault_port: Annotated[int | None, typer.Option("--vault-port", help="key vault port (default 8200)")] = None,
    workers: Annotated[int | None, typer.Option(help="S3 worker processes (default 1)")] = None,
    cert: Annotated[Path | None, typer.Option(help="server certificate (PEM); default: a generated one")] = None,
    key: Annotated[Path | None, typer.Option(help="server private key (PEM)")] = None,
    client_ca: Annotated[Path | None, typer.Option("--client-ca", help="require client certs from this CA")] = None,
    seal: Annotated[str | None, typer.Option(help="vault seal: keyfile (default, dev), shamir, pkcs11")] = None,
    insecure_http: Annotated[bool, typer.Option("--insecure-http", help="DEBUG ONLY: serve without TLS")] = False,
) -> None:
    """Start the S3 server and the key vault (TLS on by default; the first run creates the data directory)."""
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
        seal=seal,
        insecure_http=True if insecure_http else None,
    )
    run(settings)


@app.command("vault-server", hidden=True)
def vault_server() -> None:
    """(internal) Run the key vault process; `strongroom serve` starts it."""
    from strongroom.vaultserver import run_vault

    run_vault(load_settings())


# --- talking to the vault ------------------------------------------------------------------------------


class Vault:
    def __init__(self, settings: Settings, addr: str | None, token: str | None) -> None:
        import httpx

        from strongroom.tls import client_context

        run = settings.data_dir / "run" / "vault.json"
        info: dict[str, str] = json.loads(run.read_text()) if run.exists() else {}
        self.url = (addr or info.get("url") or settings.vault_endpoint).rstrip("/")
        ca = os.environ.get("VAULT_CACERT") or info.get("ca") or str(settings.vault_ca_file() or "")
        verify: ssl.SSLContext | bool = True
        if self.url.startswith("https") and ca and Path(ca).exists():
            verify = client_context(ca)
        token = token or os.environ.get("STRONGROOM_ROOT_TOKEN")
        headers = {"x-vault-token": token} if token else {}
        self.http = httpx.Client(verify=verify, headers=headers, timeout=60)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, ok404: bool = False) -> Any:
        r = self.http.request(method, f"{self.url}/v1/{path}", json=body)
        if r.status_code == 204:
            return {}
        data = r.json() if r.content else {}
        if r.status_code >= 400 and not (ok404 and r.status_code == 404):
            errs = "; ".join(data.get("errors") or []) or f"HTTP {r.status_code}"
            typer.echo(f"Error: {errs}", err=True)
            raise typer.Exit(2)
        return data


def _vault(config: Path | None, data_dir: Path | None, addr: str | None, token: str | None) -> Vault:
    return Vault(load_settings(config, data_dir=data_dir), addr, token)


def _print(obj: Any, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(obj, indent=2, sort_keys=True) if as_json else text)


# --- key ---------------------------------------------------------------------------------------------------


@key_app.command("create")
def key_create(
    name: str,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    key_type: Annotated[str, typer.Option("--type", help="transit key type")] = "aes256-gcm96",
    region: Annotated[str | None, typer.Option(help="region the key lives in (default: the default region)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key (usable with SSE-KMS: x-amz-server-side-encryption-aws-kms-key-id: NAME)."""
    settings = load_settings(config, data_dir=data_dir)
    v = Vault(settings, vault_addr, token)
    v.call("POST", f"transit/keys/{name}", {"type": key_type, "region": region or settings.default_region})
    info = v.call("GET", f"transit/keys/{name}")["data"]
    _print(
        info,
        as_json,
        f"created key {name} ({info.get('type')}, tenant {info.get('tenant')}, region {info.get('region')})",
    )


@key_app.command("list")
def key_list(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List keys."""
    v = _vault(config, data_dir, vault_addr, token)
    got = v.call("LIST", "transit/keys", ok404=True)
    names = (got.get("data") or {}).get("keys", [])
    rows = [v.call("GET", f"transit/keys/{n}")["data"] for n in names]
    _print(
        rows,
        as_json,
        "\n".join(
            f"{r['name']}\t{r.get('type')}\t{r.get('state')}\tv{r.get('latest_version')}\t{r.get('tenant')}\t"
            f"{r.get('region')}"
            for r in rows
        ),
    )


@key_app.command("show")
def key_show(
    name: str,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one key."""
    info = _vault(config, data_dir, vault_addr, token).call("GET", f"transit/keys/{name}")["data"]
    _print(info, as_json, "\n".join(f"{k}: {v}" for k, v in sorted(info.items())))


@key_app.command("rotate")
def key_rotate(
    name: Annotated[str | None, typer.Argument(help="key name (or use --bucket)")] = None,
    bucket: Annotated[str | None, typer.Option(help="rotate this bucket's own SSE-S3 key")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a new version; new objects use it, old ones stay readable (`key rewrap` moves them)."""
    v = _vault(config, data_dir, vault_addr, token)
    if bucket:
        name = v.call("GET", f"strongroom/buckets/{bucket}")["data"]["key"]
    if not name:
        raise typer.BadParameter("name a key or --bucket")
    v.call("POST", f"transit/keys/{name}/rotate")
    info = v.call("GET", f"transit/keys/{name}")["data"]
    _print(info, as_json, f"rotated {name}: latest version {info.get('latest_version')}")


@key_app.command("rewrap")
def key_rewrap(
    bucket: Annotated[str, typer.Option(help="bucket whose objects' data keys to rewrap")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rewrap every object's data key under the latest key version. No data blob is rewritten."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    v = _vault(config, data_dir, vault_addr, token)
    final: dict[str, Any] = {}
    with v.http.stream("POST", f"{v.url}/v1/strongroom/buckets/{bucket}/rewrap", json={}) as r:
        if r.status_code >= 400:
            r.read()
            errs = "; ".join((r.json() if r.content else {}).get("errors") or []) or f"HTTP {r.status_code}"
            typer.echo(f"Error: {errs}", err=True)
            raise typer.Exit(2)
        columns = (TextColumn("rewrap"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, disable=as_json, transient=False) as bar:
            task = bar.add_task("rewrap", total=None)
            for line in r.iter_lines():
                if not line.strip():
                    continue
                final = json.loads(line)
                if "error" in final:
                    typer.echo(f"Error: {final['error']}", err=True)
                    raise typer.Exit(2)
                bar.update(task, total=final["total"], completed=final["done"])
    _print(
        final,
        as_json,
        f"rewrapped {final.get('rewrapped', 0)} data keys, {final.get('unchanged', 0)} already "
        f"current, {final.get('skipped_customer_keys', 0)} under customer-supplied keys (untouched)",
    )


def _lifecycle(
    name: str,
    op: str,
    body: dict[str, Any],
    config: Path | None,
    data_dir: Path | None,
    addr: str | None,
    token: str | None,
    as_json: bool,
    text: str,
) -> None:
    out = _vault(config, data_dir, addr, token).call("POST", f"strongroom/keys/{name}/{op}", body)
    data = out.get("data") or {}
    _print(data, as_json, text if not data.get("signature") else text + "\n" + json.dumps(data, indent=2))


@key_app.command("disable")
def key_disable(
    name: str,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Disable: every read and write under the key is refused until it is enabled."""
    _lifecycle(name, "disable", {}, config, data_dir, vault_addr, token, as_json, f"disabled {name}")


@key_app.command("enable")
def key_enable(
    name: str,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enable a disabled key."""
    _lifecycle(name, "enable", {}, config, data_dir, vault_addr, token, as_json, f"enabled {name}")


@key_app.command("schedule-deletion")
def key_schedule_deletion(
    name: str,
    days: Annotated[int, typer.Option(help="waiting period, 7 to 30 days")] = 30,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Schedule destruction after a waiting period (cancellable until then)."""
    _lifecycle(
        name,
        "schedule-deletion",
        {"days": days},
        config,
        data_dir,
        vault_addr,
        token,
        as_json,
        f"{name} is pending deletion in {days} days",
    )


@key_app.command("cancel-deletion")
def key_cancel_deletion(
    name: str,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a scheduled deletion (the key is left disabled, as AWS KMS does)."""
    _lifecycle(
        name,
        "cancel-deletion",
        {},
        config,
        data_dir,
        vault_addr,
        token,
        as_json,
        f"deletion of {name} cancelled; the key is disabled",
    )


@key_app.command("purge-protect")
def key_purge_protect(
    name: str,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Turn on purge protection (irreversible): no early or forced destruction, no deletion of the key."""
    _lifecycle(
        name,
        "purge-protection",
        {},
        config,
        data_dir,
        vault_addr,
        token,
        as_json,
        f"purge protection is on for {name} (irreversible)",
    )


@key_app.command("destroy")
def key_destroy(
    name: str,
    force: Annotated[bool, typer.Option(help="destroy before the date (not with purge protection)")] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Destroy (crypto-shred): every object under the key becomes unreadable for good. Prints a signed certificate."""
    _lifecycle(
        name,
        "destroy",
        {"force": force},
        config,
        data_dir,
        vault_addr,
        token,
        as_json,
        f"destroyed {name}; deletion certificate:",
    )


# --- operator ----------------------------------------------------------------------------------------------


@operator_app.command("init")
def operator_init(
    key_shares: Annotated[int, typer.Option("--key-shares")] = 5,
    key_threshold: Annotated[int, typer.Option("--key-threshold")] = 3,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Initialise the vault: prints the unseal key shares and the root token ONCE."""
    v = _vault(config, data_dir, vault_addr, None)
    out = v.call("PUT", "sys/init", {"secret_shares": key_shares, "secret_threshold": key_threshold})
    lines = [f"Unseal Key {i + 1}: {k}" for i, k in enumerate(out.get("keys_base64", []))]
    lines.append(f"Initial Root Token: {out.get('root_token')}")
    lines.append(f"Vault initialized with {key_shares} key shares and a key threshold of {key_threshold}.")
    _print(out, as_json, "\n".join(lines))


@operator_app.command("unseal")
def operator_unseal(
    key: Annotated[str | None, typer.Argument(help="one unseal key share (prompted if omitted)")] = None,
    reset: Annotated[bool, typer.Option(help="discard the shares submitted so far")] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Submit one unseal key share (progress is kept by the vault; its nonce names the attempt)."""
    v = _vault(config, data_dir, vault_addr, None)
    if reset:
        out = v.call("PUT", "sys/unseal", {"reset": True})
    else:
        share = key or typer.prompt("Unseal Key (will be hidden)", hide_input=True)
        out = v.call("PUT", "sys/unseal", {"key": share})
    _print(out, as_json, f"Sealed: {out['sealed']}\nProgress: {out['progress']}/{out['t']}\nNonce: {out['nonce']}")


@operator_app.command("seal")
def operator_seal(
    config: ConfigOpt = None, data_dir: DataDirOpt = None, vault_addr: AddrOpt = None, token: TokenOpt = None
) -> None:
    """Seal the vault: key material leaves memory and every data operation fails closed."""
    _vault(config, data_dir, vault_addr, token).call("PUT", "sys/seal")
    typer.echo("Success! Vault is sealed.")


@operator_app.command("status")
def operator_status(
    config: ConfigOpt = None, data_dir: DataDirOpt = None, vault_addr: AddrOpt = None, as_json: JsonOpt = False
) -> None:
    """Seal status."""
    out = _vault(config, data_dir, vault_addr, None).call("GET", "sys/seal-status")
    _print(
        out,
        as_json,
        "\n".join(f"{k}: {out.get(k)}" for k in ("type", "initialized", "sealed", "t", "n", "progress", "version")),
    )


@operator_app.command("rotate")
def operator_rotate(
    config: ConfigOpt = None, data_dir: DataDirOpt = None, vault_addr: AddrOpt = None, token: TokenOpt = None
) -> None:
    """Add a barrier key term online; entries written before stay readable."""
    v = _vault(config, data_dir, vault_addr, token)
    v.call("PUT", "sys/rotate")
    typer.echo(f"Success! Rotated key; new term {v.call('GET', 'sys/key-status').get('term')}")


# --- credentials -------------------------------------------------------------------------------------------


@cred_app.command("create")
def credential_create(
    tenant: Annotated[str, typer.Option(help="tenant the credential belongs to")],
    access_key: Annotated[str | None, typer.Option("--access-key")] = None,
    secret_key: Annotated[str | None, typer.Option("--secret-key")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create S3 credentials for a tenant (the secret is sealed in the vault; shown once)."""
    import secrets
    import string

    ak = access_key or "SR" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(18))
    sk = secret_key or base64.urlsafe_b64encode(secrets.token_bytes(30)).decode()
    _vault(config, data_dir, vault_addr, token).call(
        "POST", f"strongroom/credentials/{ak}", {"secret": sk, "tenant": tenant}
    )
    _print(
        {"access_key": ak, "secret_key": sk, "tenant": tenant},
        as_json,
        f"access key: {ak}\nsecret key: {sk}\ntenant: {tenant}",
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
