"""The strongroom command line. Key and operator commands speak the vault's HTTP API, like the vault CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from strongroom.config import Settings, load_settings

app = typer.Typer(help="strongroom: an S3-compatible object store that seals every object twice.", no_args_is_help=True)
key_app = typer.Typer(help="Customer keys in the key vault (transit keys; SSE-S3 and SSE-KMS).", no_args_is_help=True)
operator_app = typer.Typer(help="Vault operator: init, unseal, seal, status, rotate.", no_args_is_help=True)
cred_app = typer.Typer(help="Shorthand: S3 credentials for a tenant's user.", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants (operators).", no_args_is_help=True)
user_app = typer.Typer(help="Users of a tenant, and their identity policies.", no_args_is_help=True)
user_policy_app = typer.Typer(help="A user's identity policy (IAM JSON).", no_args_is_help=True)
group_app = typer.Typer(help="Groups of users, and their identity policies.", no_args_is_help=True)
group_policy_app = typer.Typer(help="A group's identity policy (IAM JSON).", no_args_is_help=True)
group_member_app = typer.Typer(help="Members of a group.", no_args_is_help=True)
accesskey_app = typer.Typer(help="S3 access keys of users (the secret is sealed in the vault).", no_args_is_help=True)
vault_app = typer.Typer(help="Your tenant's vault namespace.", no_args_is_help=True)
app.add_typer(key_app, name="key")
app.add_typer(operator_app, name="operator")
app.add_typer(cred_app, name="credential")
app.add_typer(tenant_app, name="tenant")
app.add_typer(user_app, name="user")
user_app.add_typer(user_policy_app, name="policy")
app.add_typer(group_app, name="group")
group_app.add_typer(group_policy_app, name="policy")
group_app.add_typer(group_member_app, name="member")
app.add_typer(accesskey_app, name="accesskey")
app.add_typer(vault_app, name="vault")

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="strongroom.toml to read")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="data directory (default ./strongroom-data)")]
AddrOpt = Annotated[str | None, typer.Option("--vault-addr", envvar="VAULT_ADDR", help="vault URL")]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="VAULT_TOKEN", help="vault token")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
TenantOpt = Annotated[
    str, typer.Option("--tenant", envvar="STRONGROOM_TENANT", help="tenant (vault namespace) the key lives in")
]
EndpointOpt = Annotated[
    str | None, typer.Option("--endpoint", envvar="STRONGROOM_ENDPOINT", help="S3/admin endpoint URL")
]
AccessOpt = Annotated[str | None, typer.Option("--access-key", envvar="AWS_ACCESS_KEY_ID", help="your access key")]
SecretOpt = Annotated[
    str | None, typer.Option("--secret-key", envvar="AWS_SECRET_ACCESS_KEY", help="your secret key", show_default=False)
]
CaOpt = Annotated[
    str | None,
    typer.Option("--ca-bundle", envvar="STRONGROOM_CA_BUNDLE", help="CA to trust (PEM); default: the data dir's CA"),
]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"strongroom {version('strongroom')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """strongroom: an S3-compatible object store that seals every object twice."""


config_app = typer.Typer(help="The configuration (strongroom.toml and STRONGROOM_* variables).", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("check")
def config_check(
    file: Annotated[Path | None, typer.Argument(help="strongroom.toml to check (default ./strongroom.toml)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate the configuration (the file, then the environment) without starting anything."""
    settings = load_settings(file)  # a ConfigError ends the command with one line (main)
    path = file or Path("strongroom.toml")
    source = str(path) if file is not None or path.exists() else "no strongroom.toml"
    set_here = sorted(settings.model_fields_set)
    _print(
        {"ok": True, "file": source, "set": set_here},
        as_json,
        f"ok: {source}" + (f" (sets {', '.join(set_here)})" if set_here else " (all defaults)"),
    )


def _flag(help_text: str, name: str) -> str:
    """A serve flag's help, naming the strongroom.toml key and the environment variable of the same setting."""
    return f"{help_text} (toml: {name}; env: STRONGROOM_{name.upper()})"


@app.command()
def serve(
    config: Annotated[
        Path | None, typer.Option("--config", help="strongroom.toml to read (default ./strongroom.toml if present)")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help=_flag("data directory (default ./strongroom-data)", "data_dir"))
    ] = None,
    host: Annotated[str | None, typer.Option(help=_flag("address to listen on (default 127.0.0.1)", "host"))] = None,
    port: Annotated[int | None, typer.Option(help=_flag("S3 port (default 8443)", "port"))] = None,
    vault_port: Annotated[
        int | None, typer.Option("--vault-port", help=_flag("key vault port (default 8200)", "vault_port"))
    ] = None,
    workers: Annotated[int | None, typer.Option(help=_flag("S3 worker processes (default 1)", "workers"))] = None,
    cert: Annotated[
        Path | None, typer.Option(help=_flag("server certificate (PEM); default: a generated one", "cert"))
    ] = None,
    key: Annotated[Path | None, typer.Option(help=_flag("server private key (PEM)", "key"))] = None,
    client_ca: Annotated[
        Path | None, typer.Option("--client-ca", help=_flag("require client certs from this CA", "client_ca"))
    ] = None,
    seal: Annotated[
        str | None, typer.Option(help=_flag("vault seal: keyfile (default, dev), shamir, pkcs11", "seal"))
    ] = None,
    insecure_http: Annotated[
        bool, typer.Option("--insecure-http", help=_flag("DEBUG ONLY: serve without TLS", "insecure_http"))
    ] = False,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help=_flag("log lines: text (default) or json", "log_format"))
    ] = None,
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
        log_format=log_format,
    )
    run(settings)


@app.command("vault-server", hidden=True)
def vault_server() -> None:
    """(internal) Run the key vault process; `strongroom serve` starts it."""
    from strongroom.vaultserver import run_vault

    run_vault(load_settings())


# --- talking to the vault ------------------------------------------------------------------------------


class Vault:
    def __init__(self, settings: Settings, addr: str | None, token: str | None, namespace: str | None = None) -> None:
        import httpx

        from strongroom.clitargets import vault_target

        target = vault_target(settings, addr)
        self.url = target.url
        token = token or os.environ.get("STRONGROOM_ROOT_TOKEN")
        self.has_token = bool(token)
        headers = {"x-vault-token": token} if token else {}
        if namespace and namespace != "system":
            headers["x-vault-namespace"] = namespace
        self.http = httpx.Client(verify=target.verify(), headers=headers, timeout=60)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, ok404: bool = False) -> Any:
        r = self.http.request(method, f"{self.url}/v1/{path}", json=body)
        if r.status_code == 204:
            return {}
        try:
            data = r.json() if r.content else {}
        except ValueError:
            data = {}
        if r.status_code >= 400 and not (ok404 and r.status_code == 404):
            if r.status_code == 403 and not self.has_token:
                typer.echo("Error: no vault token: set VAULT_TOKEN or pass --token", err=True)
                raise typer.Exit(2)
            errs = "; ".join(data.get("errors") or []) if isinstance(data, dict) else ""
            typer.echo(f"Error: {errs or f'HTTP {r.status_code}'}", err=True)
            raise typer.Exit(2)
        return data


def _vault(
    config: Path | None, data_dir: Path | None, addr: str | None, token: str | None, tenant: str | None = None
) -> Vault:
    return Vault(load_settings(config, data_dir=data_dir), addr, token, tenant)


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
    tenant: TenantOpt = "default",
    key_type: Annotated[str, typer.Option("--type", help="transit key type")] = "aes256-gcm96",
    region: Annotated[str | None, typer.Option(help="region the key lives in (default: the default region)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key (usable with SSE-KMS: x-amz-server-side-encryption-aws-kms-key-id: NAME)."""
    settings = load_settings(config, data_dir=data_dir)
    v = Vault(settings, vault_addr, token, tenant)
    if v.call("GET", f"transit/keys/{name}", ok404=True).get("data"):
        typer.echo(f"Error: key {name} already exists in tenant {tenant}", err=True)
        raise typer.Exit(1)
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
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """List keys (a bucket's own SSE-S3 key shows the bucket's name)."""
    v = _vault(config, data_dir, vault_addr, token, tenant)
    got = v.call("LIST", "transit/keys", ok404=True)
    names = (got.get("data") or {}).get("keys", [])
    rows = [v.call("GET", f"transit/keys/{n}")["data"] for n in names]
    if as_json:
        _print(rows, True, "")
        return
    buckets = _bucket_names(v) if rows else {}
    _table(
        [{**r, "version": r.get("latest_version"), "bucket": buckets.get(r["name"], "")} for r in rows],
        ["name", "type", "state", "version", "region", "bucket"],
        False,
        title=f"keys of tenant {tenant}",
    )


def _bucket_names(v: Vault) -> dict[str, str]:
    """Key name -> the bucket it protects (the bucket keys of the namespace's tenant). Empty for a caller that may
    not list the tenant's buckets (an operator: bucket names are the tenant's)."""
    r = v.http.request("LIST", f"{v.url}/v1/strongroom/buckets")
    if r.status_code != 200:
        return {}
    info = (r.json().get("data") or {}).get("key_info") or {}
    return {str(b.get("key")): str(name) for name, b in info.items() if isinstance(b, dict)}


_KEY_FIELDS = (
    "name",
    "type",
    "state",
    "tenant",
    "region",
    "latest_version",
    "min_decryption_version",
    "min_encryption_version",
    "deletion_allowed",
    "purge_protection",
    "deletion_date",
    "destroyed_at",
    "auto_rotate_period",
    "exportable",
)


@key_app.command("show")
def key_show(
    name: str,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Show one key (with the bucket's name when it is a bucket's own SSE-S3 key)."""
    v = _vault(config, data_dir, vault_addr, token, tenant)
    info = v.call("GET", f"transit/keys/{name}")["data"]
    if as_json:
        _print(info, True, "")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"key {name}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    bucket = _bucket_names(v).get(name)
    if bucket:
        table.add_row("bucket", bucket)
    for field in _KEY_FIELDS:
        if info.get(field) not in (None, ""):
            table.add_row(field, str(info[field]))
    versions = info.get("keys") or {}
    if isinstance(versions, dict) and versions:
        table.add_row("versions", ", ".join(f"v{k}" for k in sorted(versions, key=int)))
    Console().print(table)


@key_app.command("rotate")
def key_rotate(
    name: Annotated[str | None, typer.Argument(help="key name (or use --bucket)")] = None,
    bucket: Annotated[str | None, typer.Option(help="rotate this bucket's own SSE-S3 key")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Add a new version; new objects use it, old ones stay readable (`key rewrap` moves them)."""
    v = _vault(config, data_dir, vault_addr, token, tenant)
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
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Rewrap every object's data key under the latest key version. No data blob is rewritten."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    v = _vault(config, data_dir, vault_addr, token, tenant)
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
    tenant: str = "default",
) -> None:
    out = _vault(config, data_dir, addr, token, tenant).call("POST", f"strongroom/keys/{name}/{op}", body)
    data = out.get("data") or {}
    _print(data, as_json, text if not data.get("signature") else text + "\n" + json.dumps(data, indent=2))


@key_app.command("disable")
def key_disable(
    name: str,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Disable: every read and write under the key is refused until it is enabled."""
    _lifecycle(name, "disable", {}, config, data_dir, vault_addr, token, as_json, f"disabled {name}", tenant)


@key_app.command("enable")
def key_enable(
    name: str,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Enable a disabled key."""
    _lifecycle(name, "enable", {}, config, data_dir, vault_addr, token, as_json, f"enabled {name}", tenant)


@key_app.command("schedule-deletion")
def key_schedule_deletion(
    name: str,
    days: Annotated[int, typer.Option(help="waiting period, 7 to 30 days")] = 30,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    tenant: TenantOpt = "default",
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
        tenant,
    )


@key_app.command("cancel-deletion")
def key_cancel_deletion(
    name: str,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    tenant: TenantOpt = "default",
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
        tenant,
    )


@key_app.command("purge-protect")
def key_purge_protect(
    name: str,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    tenant: TenantOpt = "default",
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
        tenant,
    )


@key_app.command("destroy")
def key_destroy(
    name: str,
    force: Annotated[bool, typer.Option(help="destroy before the date (not with purge protection)")] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    tenant: TenantOpt = "default",
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
        tenant,
    )


@key_app.command("access")
def key_access(
    name: str,
    refuse: Annotated[
        list[str] | None,
        typer.Option(
            "--refuse",
            help="a justification the vault must refuse for this key (repeat): customer-initiated, "
            "system-operation, operator-lockbox, third-party",
        ),
    ] = None,
    refuse_none: Annotated[bool, typer.Option("--refuse-none", help="refuse no justification")] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Show or set which key access justifications the vault refuses for this key, whatever else would allow them."""
    v = _vault(config, data_dir, vault_addr, token, tenant)
    if refuse or refuse_none:
        if refuse and refuse_none:
            raise typer.BadParameter("--refuse and --refuse-none exclude each other")
        out = v.call("POST", f"strongroom/keys/{name}/key-access", {"refused_justifications": list(refuse or [])})
    else:
        out = v.call("GET", f"strongroom/keys/{name}/key-access")
    data = out.get("data") or {}
    refused = data.get("refused_justifications") or []
    _print(data, as_json, f"{name} refuses: {', '.join(refused) if refused else 'none'}")


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
    """Submit one unseal key share (progress is kept by the vault; its nonce names the attempt).

    With the keyfile seal and no KEY, a vault sealed by `operator seal` is unsealed again with the data
    directory's key file (readable only by the server's user)."""
    settings = load_settings(config, data_dir=data_dir)
    v = Vault(settings, vault_addr, None, None)
    if reset:
        out = v.call("PUT", "sys/unseal", {"reset": True})
    elif key is None and v.call("GET", "sys/seal-status").get("type") == "keyfile":
        from strongroom.vaultserver import UNSEAL_KEY_FILE

        path = settings.keys_dir / UNSEAL_KEY_FILE
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read the vault's key file {path}: {exc.strerror}") from None
        out = v.call("PUT", "sys/unseal", {"key": raw.hex()})
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


# --- the admin API: tenants, users, groups, access keys ----------------------------------------------------------


def _admin(data_dir: Path | None, endpoint: str | None, access: str | None, secret: str | None, ca: str | None) -> Any:
    """A signed client of the admin API: endpoint and CA from the flags, the environment or the data directory's
    run/s3.json; credentials from --access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY."""
    from strongroom.clitargets import s3_target
    from strongroom.http.admin.client import AdminClient

    target = s3_target(load_settings(None, data_dir=data_dir), endpoint, ca)
    if not access or not secret:
        typer.echo(
            "Error: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or --access-key).", err=True
        )
        raise typer.Exit(2)
    return AdminClient(target.url, access, secret, target.verify())


def _call(client: Any, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
    from strongroom.http.admin.client import AdminError

    try:
        return client.request(method, path, body, raw)
    except AdminError as exc:
        typer.echo(f"Error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(1 if exc.status == 404 else 2) from None


def _split(ref: str, what: str = "user") -> tuple[str, str]:
    tenant, sep, name = ref.partition("/")
    if not sep or not tenant or not name:
        raise typer.BadParameter(f"name the {what} as TENANT/{what.upper()}")
    return tenant, name


def _table(rows: list[dict[str, Any]], columns: list[str], as_json: bool, title: str = "") -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2, sort_keys=True, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None)
    for c in columns:
        table.add_column(c, overflow="fold")  # ids in full, never cut
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    Console().print(table)


def _show(obj: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))
        return
    width = max((len(k) for k in obj), default=0)
    for k, v in obj.items():
        typer.echo(f"{k.ljust(width)}  {json.dumps(v) if isinstance(v, dict | list) else v}")


AdminOpts = tuple[Path | None, str | None, str | None, str | None, str | None]


@tenant_app.command("create")
def tenant_create(
    name: str,
    admin_user: Annotated[str, typer.Option("--admin", help="name of the tenant's first admin user")] = "admin",
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a tenant, its vault namespace and its first admin with an access key (shown once)."""
    out = _call(
        _admin(data_dir, endpoint, access_key, secret_key, ca_bundle),
        "POST",
        "/tenants",
        {"name": name, "admin": admin_user},
    )
    if as_json:
        typer.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    key = out["access_key"]
    typer.echo(f"created tenant {name}; its admin {key['user']} has this access key (shown once, hand it over):")
    typer.echo(f"  access key: {key['access_key_id']}\n  secret key: {key['secret_access_key']}")


@tenant_app.command("list")
def tenant_list(
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List tenants."""
    rows = _call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "GET", "/tenants")
    _table(rows, ["name", "created_at", "canonical_id"], as_json)


@tenant_app.command("show")
def tenant_show(
    name: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one tenant (with its tenant-wide public access block)."""
    _show(_call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "GET", f"/tenants/{name}"), as_json)


@tenant_app.command("delete")
def tenant_delete(
    name: str,
    crypto_shred: Annotated[
        bool,
        typer.Option("--crypto-shred", help="destroy its keys, objects and everything else; print a certificate"),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="--crypto-shred without asking")] = False,
    certificate: Annotated[
        Path | None, typer.Option("--certificate", help="--crypto-shred: also write the certificate to this file")
    ] = None,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete an empty tenant (no buckets, no keys or secrets left), with its users and access keys; or, with
    --crypto-shred, any tenant: its keys destroyed, its data deleted, a signed deletion certificate printed."""
    if crypto_shred:
        from strongroom.cli_tenant_lifecycle import crypto_shred as shred

        shred(name, yes, certificate, as_json, (data_dir, endpoint, access_key, secret_key, ca_bundle))
        return
    if certificate is not None:
        raise typer.BadParameter("--certificate goes with --crypto-shred")
    _call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "DELETE", f"/tenants/{name}")
    _print({"deleted": name}, as_json, f"deleted tenant {name}")


@tenant_app.command("public-access-block")
def tenant_pab(
    name: str,
    off: Annotated[bool, typer.Option("--off", help="lift the tenant-wide block (all four settings off)")] = False,
    on: Annotated[bool, typer.Option("--on", help="put the tenant-wide block back (all four settings on)")] = False,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show, or with --on / --off set, the tenant-wide public access block (on for new tenants)."""
    client = _admin(data_dir, endpoint, access_key, secret_key, ca_bundle)
    path = f"/tenants/{name}/public-access-block"
    if on or off:
        value = bool(on)
        names = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        out = _call(client, "PUT", path, {n: value for n in names})
    else:
        out = _call(client, "GET", path)
    _show(out, as_json)


@user_app.command("create")
def user_create(
    ref: Annotated[str, typer.Argument(metavar="TENANT/USER")],
    admin: Annotated[bool, typer.Option("--admin", help="an admin of the tenant (every right in it)")] = False,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a user (a member, with no rights until a policy grants some; or --admin)."""
    tenant, name = _split(ref)
    out = _call(
        _admin(data_dir, endpoint, access_key, secret_key, ca_bundle),
        "POST",
        f"/tenants/{tenant}/users",
        {"name": name, "admin": admin},
    )
    _show(out, as_json)


@user_app.command("list")
def user_list(
    tenant: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a tenant's users."""
    rows = _call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "GET", f"/tenants/{tenant}/users")
    _table(rows, ["name", "admin", "groups", "has_policy", "created_at"], as_json, f"users of {tenant}")


@user_app.command("show")
def user_show(
    ref: Annotated[str, typer.Argument(metavar="TENANT/USER")],
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one user."""
    tenant, name = _split(ref)
    client = _admin(data_dir, endpoint, access_key, secret_key, ca_bundle)
    _show(_call(client, "GET", f"/tenants/{tenant}/users/{name}"), as_json)


@user_app.command("delete")
def user_delete(
    ref: Annotated[str, typer.Argument(metavar="TENANT/USER")],
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a user with its access keys."""
    tenant, name = _split(ref)
    _call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "DELETE", f"/tenants/{tenant}/users/{name}")
    _print({"deleted": ref}, as_json, f"deleted user {ref}")


def _policy_command(kind: str, op: str, ref: str, file: Path | None, opts: AdminOpts, as_json: bool) -> None:
    tenant, name = _split(ref, kind)
    client = _admin(*opts)
    path = f"/tenants/{tenant}/{kind}s/{name}/policy"
    if op == "put":
        if file is None:
            raise typer.BadParameter("name the policy FILE (JSON)")
        _call(client, "PUT", path, raw=file.read_bytes())
        _print({"policy": "set", kind: ref}, as_json, f"policy of {kind} {ref} set")
    elif op == "get":
        typer.echo(json.dumps(_call(client, "GET", path), indent=2))
    else:
        _call(client, "DELETE", path)
        _print({"policy": "deleted", kind: ref}, as_json, f"policy of {kind} {ref} deleted")


@user_policy_app.command("put")
def user_policy_put(
    ref: Annotated[str, typer.Argument(metavar="TENANT/USER")],
    file: Annotated[Path, typer.Argument(metavar="FILE", help="IAM JSON policy document")],
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set the user's identity policy (replaces the previous one)."""
    _policy_command("user", "put", ref, file, (data_dir, endpoint, access_key, secret_key, ca_bundle), as_json)


@user_policy_app.command("get")
def user_policy_get(
    ref: Annotated[str, typer.Argument(metavar="TENANT/USER")],
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
) -> None:
    """Print the user's identity policy."""
    _policy_command("user", "get", ref, None, (data_dir, endpoint, access_key, secret_key, ca_bundle), True)


@user_policy_app.command("delete")
def user_policy_delete(
    ref: Annotated[str, typer.Argument(metavar="TENANT/USER")],
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove the user's identity policy."""
    _policy_command("user", "delete", ref, None, (data_dir, endpoint, access_key, secret_key, ca_bundle), as_json)


@group_app.command("create")
def group_create(
    ref: Annotated[str, typer.Argument(metavar="TENANT/GROUP")],
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a group."""
    tenant, name = _split(ref, "group")
    client = _admin(data_dir, endpoint, access_key, secret_key, ca_bundle)
    _show(_call(client, "POST", f"/tenants/{tenant}/groups", {"name": name}), as_json)


@group_app.command("list")
def group_list(
    tenant: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a tenant's groups."""
    rows = _call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "GET", f"/tenants/{tenant}/groups")
    _table(rows, ["name", "members", "has_policy", "created_at"], as_json, f"groups of {tenant}")


@group_app.command("delete")
def group_delete(
    ref: Annotated[str, typer.Argument(metavar="TENANT/GROUP")],
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a group (its members stay)."""
    tenant, name = _split(ref, "group")
    _call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "DELETE", f"/tenants/{tenant}/groups/{name}")
    _print({"deleted": ref}, as_json, f"deleted group {ref}")


@group_member_app.command("add")
def group_member_add(
    ref: Annotated[str, typer.Argument(metavar="TENANT/GROUP")],
    user: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user of the tenant to the group."""
    tenant, name = _split(ref, "group")
    client = _admin(data_dir, endpoint, access_key, secret_key, ca_bundle)
    _call(client, "PUT", f"/tenants/{tenant}/groups/{name}/members/{user}")
    _print({"group": ref, "added": user}, as_json, f"added {user} to {ref}")


@group_member_app.command("remove")
def group_member_remove(
    ref: Annotated[str, typer.Argument(metavar="TENANT/GROUP")],
    user: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a user from the group."""
    tenant, name = _split(ref, "group")
    client = _admin(data_dir, endpoint, access_key, secret_key, ca_bundle)
    _call(client, "DELETE", f"/tenants/{tenant}/groups/{name}/members/{user}")
    _print({"group": ref, "removed": user}, as_json, f"removed {user} from {ref}")


@group_policy_app.command("put")
def group_policy_put(
    ref: Annotated[str, typer.Argument(metavar="TENANT/GROUP")],
    file: Annotated[Path, typer.Argument(metavar="FILE", help="IAM JSON policy document")],
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set the group's identity policy (its members get it)."""
    _policy_command("group", "put", ref, file, (data_dir, endpoint, access_key, secret_key, ca_bundle), as_json)


@group_policy_app.command("get")
def group_policy_get(
    ref: Annotated[str, typer.Argument(metavar="TENANT/GROUP")],
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
) -> None:
    """Print the group's identity policy."""
    _policy_command("group", "get", ref, None, (data_dir, endpoint, access_key, secret_key, ca_bundle), True)


@group_policy_app.command("delete")
def group_policy_delete(
    ref: Annotated[str, typer.Argument(metavar="TENANT/GROUP")],
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove the group's identity policy."""
    _policy_command("group", "delete", ref, None, (data_dir, endpoint, access_key, secret_key, ca_bundle), as_json)


def _new_key(ref: str, opts: AdminOpts, as_json: bool) -> None:
    tenant, name = _split(ref)
    out = _call(_admin(*opts), "POST", f"/tenants/{tenant}/users/{name}/access-keys")
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "user": out["user"],
                    "access_key_id": out["access_key_id"],
                    "secret_access_key": out["secret_access_key"],
                }
            )
        )
        return
    typer.echo(f"access key for {out['user']} (the secret is shown once):")
    typer.echo(f"  access key: {out['access_key_id']}\n  secret key: {out['secret_access_key']}")


@accesskey_app.command("create")
def accesskey_create(
    ref: Annotated[str, typer.Argument(metavar="TENANT/USER")],
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A new access key for a user (at most two per user); the secret is printed once."""
    _new_key(ref, (data_dir, endpoint, access_key, secret_key, ca_bundle), as_json)


@accesskey_app.command("list")
def accesskey_list(
    ref: Annotated[str | None, typer.Argument(metavar="[TENANT/USER | TENANT]")] = None,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List access keys of a user, of a tenant, or (no argument) of your own tenant."""
    client = _admin(data_dir, endpoint, access_key, secret_key, ca_bundle)
    if ref is None:
        ref = _call(client, "GET", "/whoami")["tenant"]
    assert ref is not None
    if "/" in ref:
        tenant, name = _split(ref)
        rows = _call(client, "GET", f"/tenants/{tenant}/users/{name}/access-keys")
    else:
        rows = _call(client, "GET", f"/tenants/{ref}/access-keys")
    _table(rows, ["access_key_id", "user", "status", "created_at", "last_used_at"], as_json)


def _key_status(key_id: str, status: str | None, opts: AdminOpts, as_json: bool) -> None:
    client = _admin(*opts)
    if status is None:
        _call(client, "DELETE", f"/access-keys/{key_id}")
        _print({"deleted": key_id}, as_json, f"deleted access key {key_id}")
        return
    out = _call(client, "PATCH", f"/access-keys/{key_id}", {"status": status})
    _print(out, as_json, f"access key {key_id} is {out['status']}")


@accesskey_app.command("disable")
def accesskey_disable(
    key_id: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Disable a key: every request signed with it is refused (within a second on every gateway)."""
    _key_status(key_id, "Inactive", (data_dir, endpoint, access_key, secret_key, ca_bundle), as_json)


@accesskey_app.command("enable")
def accesskey_enable(
    key_id: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enable a disabled key."""
    _key_status(key_id, "Active", (data_dir, endpoint, access_key, secret_key, ca_bundle), as_json)


@accesskey_app.command("delete")
def accesskey_delete(
    key_id: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a key (its secret leaves the vault)."""
    _key_status(key_id, None, (data_dir, endpoint, access_key, secret_key, ca_bundle), as_json)


@cred_app.command("create")
def credential_create(
    tenant: Annotated[str, typer.Option(help="tenant of the user")] = "default",
    user: Annotated[str, typer.Option(help="user the key is for")] = "admin",
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Shorthand for `accesskey create TENANT/USER`."""
    _new_key(f"{tenant}/{user}", (data_dir, endpoint, access_key, secret_key, ca_bundle), as_json)


@vault_app.command("token")
def vault_token(
    ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 3600,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A vault token for your tenant's namespace (tenant admins): use it with VAULT_NAMESPACE=<tenant>."""
    out = _call(
        _admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "POST", "/vault/token", {"ttl_seconds": ttl}
    )
    _print(out, as_json, f"token: {out['token']}\nnamespace: {out['namespace']}\nttl: {out['ttl_seconds']} s")


def _register_commands() -> None:
    from strongroom import cli_tenant_lifecycle as lifecycle
    from strongroom.cli_audit import audit_app

    app.add_typer(audit_app, name="audit")
    from strongroom import cli_backup
    from strongroom.cli_metrics import metrics_app

    app.command("backup")(cli_backup.backup)
    app.command("restore")(cli_backup.restore)

    app.add_typer(metrics_app, name="metrics")
    tenant_app.command("export")(lifecycle.tenant_export)
    tenant_app.command("verify-certificate")(lifecycle.tenant_verify_certificate)
    tenant_app.command("certificate-key")(lifecycle.tenant_certificate_key)
    from strongroom.cli_governance import register

    register(app)


def main() -> None:
    """The ``strongroom`` command: a mistake in the configuration or a server out of reach is one line, exit 2."""
    import httpx

    from strongroom.clitargets import unreachable_message
    from strongroom.config import ConfigError, StartupError

    _register_commands()
    try:
        app()
    except (ConfigError, StartupError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise SystemExit(2) from None
    except httpx.TransportError as exc:
        typer.echo(f"Error: {unreachable_message(exc)}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
