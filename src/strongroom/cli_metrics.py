"""`strongroom metrics token`: a vault token that may scrape the gateway's and the vault's metrics."""

from __future__ import annotations

from typing import Annotated

import typer

from strongroom.cli import AddrOpt, ConfigOpt, DataDirOpt, JsonOpt, TokenOpt, Vault, _print
from strongroom.config import load_settings

metrics_app = typer.Typer(
    help="Prometheus metrics (/_strongroom/metrics, the vault's sys/metrics).", no_args_is_help=True
)


@metrics_app.command("token")
def metrics_token(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    vault_addr: AddrOpt = None,
    token: TokenOpt = None,
    ttl: Annotated[str, typer.Option("--ttl", help="how long the token lives (Vault duration)")] = "8760h",
    as_json: JsonOpt = False,
) -> None:
    """Make a scrape token: `Authorization: Bearer TOKEN` on /_strongroom/metrics and /v1/sys/metrics.

    Needs a root-namespace token that may write policies and create tokens (the vault root token). The token
    holds the strongroom-metrics policy (read on sys/metrics) beside Vault's default policy; revoke it with
    `vault token revoke` (the gateways notice within 10 s).
    """
    from strongroom.http.vault.metrics import POLICY, POLICY_NAME

    v = Vault(load_settings(config, data_dir=data_dir), vault_addr, token)
    v.call("PUT", f"sys/policies/acl/{POLICY_NAME}", {"policy": POLICY})
    out = v.call(
        "POST",
        "auth/token/create-orphan",
        {"policies": [POLICY_NAME], "ttl": ttl, "display_name": "metrics"},
    )
    auth = out["auth"]
    info = {
        "token": auth["client_token"],
        "accessor": auth["accessor"],
        "ttl_seconds": auth["lease_duration"],
        "policies": auth["policies"],
    }
    _print(info, as_json, f"token: {info['token']}\naccessor: {info['accessor']}\nttl: {info['ttl_seconds']} s")
