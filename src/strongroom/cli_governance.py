"""`strongroom lockbox|webhook|disclosure ...`, `strongroom transparency-report`: the customer lockbox, tenant
notices, third-party requests and the transparency report, over the admin API (the report: its public page)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import typer

from strongroom.cli import AccessOpt, CaOpt, DataDirOpt, EndpointOpt, JsonOpt, SecretOpt, _admin, _call, _table

lockbox_app = typer.Typer(
    help="The customer lockbox: operators request read access to a tenant's data; its admins approve or deny.",
    no_args_is_help=True,
)
webhook_app = typer.Typer(help="Your tenant's webhook for notices (lockbox and third-party requests).")
disclosure_app = typer.Typer(
    help="Third-party requests for tenant data (operators): recorded, redirected to the customer, reported.",
    no_args_is_help=True,
)

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?")
_COLUMNS = ["id", "tenant", "operator", "bucket", "prefix", "key", "status", "ticket"]


def parse_duration(text: str) -> int:
    """``90m``, ``2h``, ``1h30m``, ``3600`` (seconds) -> seconds."""
    m = _DURATION.fullmatch(text.strip())
    if not text.strip() or m is None or not any(m.groups()):
        raise typer.BadParameter("a duration like 2h, 90m, 1h30m or 3600 (seconds)")
    h, mins, s = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mins * 60 + s


def _out(obj: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))
        return
    grant = obj.get("grant") or {}
    typer.echo(f"{obj['id']}  {obj['status']}")
    scope = obj["key"] if obj.get("key") else f"{obj['prefix']}*"
    typer.echo(f"  {obj['operator']} -> {obj['tenant']}: s3://{obj['bucket']}/{scope} for {obj['duration_seconds']} s")
    typer.echo(f"  reason: {obj['reason']} (ticket {obj['ticket']})")
    if grant:
        typer.echo(f"  grant {grant['id']} until {grant['expires_at']}" + (" (revoked)" if grant["revoked_at"] else ""))


@lockbox_app.command("request")
def lockbox_request(
    tenant: Annotated[str, typer.Option(help="the tenant whose data you need")],
    bucket: Annotated[str, typer.Option(help="its bucket")],
    reason: Annotated[str, typer.Option(help="why (the tenant's admins read this)")],
    ticket: Annotated[str, typer.Option(help="your ticket id")],
    duration: Annotated[str, typer.Option(help="how long, once approved: at most 8h")] = "1h",
    prefix: Annotated[str, typer.Option(help="key prefix (default: the whole bucket)")] = "",
    key: Annotated[str | None, typer.Option(help="one key only (instead of a prefix)")] = None,
    case: Annotated[str | None, typer.Option(help="the third-party case this serves")] = None,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """File a lockbox request (operators). The tenant's admins are notified; it expires unanswered after 12 h."""
    body: dict[str, Any] = {
        "tenant": tenant,
        "bucket": bucket,
        "prefix": prefix,
        "reason": reason,
        "ticket": ticket,
        "duration_seconds": parse_duration(duration),
    }
    if key is not None:
        body["key"] = key
    if case is not None:
        body["case_id"] = case
    out = _call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "POST", "/lockbox/requests", body)
    _out(out, as_json)


@lockbox_app.command("list")
def lockbox_list(
    tenant: Annotated[str | None, typer.Option(help="operators: only this tenant's requests")] = None,
    status: Annotated[str | None, typer.Option(help="only requests with this status")] = None,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Lockbox requests: all of them (operators) or your tenant's."""
    path = "/lockbox/requests" + (f"?tenant={tenant}" if tenant else "")
    rows = _call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "GET", path)
    if status:
        rows = [r for r in rows if r["status"] == status]
    _table(rows, _COLUMNS, as_json, "lockbox requests")


@lockbox_app.command("show")
def lockbox_show(
    request_id: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One lockbox request."""
    client = _admin(data_dir, endpoint, access_key, secret_key, ca_bundle)
    _out(_call(client, "GET", f"/lockbox/requests/{request_id}"), as_json)


def _answer(request_id: str, verb: str, note: str | None, opts: tuple[Any, ...], as_json: bool) -> None:
    body = {"note": note} if note else None
    _out(_call(_admin(*opts), "POST", f"/lockbox/requests/{request_id}/{verb}", body), as_json)


@lockbox_app.command("approve")
def lockbox_approve(
    request_id: str,
    note: Annotated[str | None, typer.Option(help="a note for the record")] = None,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a request (your tenant's admins): the operator may read in its scope for its duration."""
    _answer(request_id, "approve", note, (data_dir, endpoint, access_key, secret_key, ca_bundle), as_json)


@lockbox_app.command("deny")
def lockbox_deny(
    request_id: str,
    note: Annotated[str | None, typer.Option(help="a note for the record")] = None,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deny a request (your tenant's admins)."""
    _answer(request_id, "deny", note, (data_dir, endpoint, access_key, secret_key, ca_bundle), as_json)


@lockbox_app.command("revoke")
def lockbox_revoke(
    request_id: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End an approved request's grant now (your tenant's admins, or the operator holding it)."""
    _answer(request_id, "revoke", None, (data_dir, endpoint, access_key, secret_key, ca_bundle), as_json)


# --- webhook ------------------------------------------------------------------------------------------------------


@webhook_app.command("set")
def webhook_set(
    tenant: str,
    url: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set the tenant's webhook (https, or http://localhost) and print its signing secret (shown once)."""
    client = _admin(data_dir, endpoint, access_key, secret_key, ca_bundle)
    out = _call(client, "PUT", f"/tenants/{tenant}/webhook", {"url": url})
    if as_json:
        typer.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    typer.echo(f"webhook of {tenant}: {out['url']}\nsigning secret (shown once): {out['secret']}")


@webhook_app.command("delete")
def webhook_delete(
    tenant: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
) -> None:
    """Remove the tenant's webhook (its secret leaves the vault)."""
    _call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "DELETE", f"/tenants/{tenant}/webhook")
    typer.echo(f"removed the webhook of {tenant}")


# --- third-party requests ---------------------------------------------------------------------------------------

_CASE_COLUMNS = [
    "id",
    "tenant",
    "authority",
    "jurisdiction",
    "received_on",
    "gag_in_force",
    "notified",
    "status",
    "outcome",
]


def _case(obj: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))
        return
    typer.echo(f"{obj['id']}  {obj['status']}  outcome: {obj['outcome']}")
    typer.echo(f"  {obj['authority']} ({obj['jurisdiction']}), received {obj['received_on']}, about {obj['tenant']}")
    typer.echo(f"  legal basis: {obj['legal_basis']}\n  scope: {obj['scope']}")
    if obj["gag"]:
        typer.echo(
            f"  non-disclosure order until {obj['gag_until'] or '(no end date)'}"
            + (" (in force)" if obj["gag_in_force"] else " (ended)")
        )
    typer.echo(
        "  tenant notified" if obj["notified"] else f"  tenant not notified yet ({obj['notice_at'] or 'withheld'})"
    )
    if obj.get("grant_id"):
        typer.echo(f"  disclosed with consent under lockbox grant {obj['grant_id']}")


@disclosure_app.command("record")
def disclosure_record(
    tenant: Annotated[str, typer.Option(help="the tenant whose data is asked for")],
    authority: Annotated[str, typer.Option(help="who asks (court, agency, ...)")],
    jurisdiction: Annotated[str, typer.Option(help="e.g. US, DE")],
    legal_basis: Annotated[str, typer.Option("--legal-basis", help="the law or order invoked")],
    scope: Annotated[str, typer.Option(help="what data is asked for")],
    received: Annotated[str, typer.Option(help="date received, YYYY-MM-DD")],
    gag: Annotated[bool, typer.Option("--gag", help="a non-disclosure order forbids telling the customer")] = False,
    gag_until: Annotated[str | None, typer.Option("--gag-until", help="the order's end, YYYY-MM-DD")] = None,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a third-party request. The tenant is notified now, or when the non-disclosure order ends."""
    body = {
        "tenant": tenant,
        "authority": authority,
        "jurisdiction": jurisdiction,
        "legal_basis": legal_basis,
        "scope": scope,
        "received_on": received,
        "gag": gag or gag_until is not None,
        "gag_until": gag_until,
    }
    _case(_call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "POST", "/disclosures", body), as_json)


@disclosure_app.command("list")
def disclosure_list(
    tenant: Annotated[str | None, typer.Option(help="only this tenant's cases")] = None,
    status: Annotated[str | None, typer.Option(help="open or closed")] = None,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Third-party cases, newest first."""
    query = "&".join(f"{k}={v}" for k, v in (("tenant", tenant), ("status", status)) if v)
    rows = _call(
        _admin(data_dir, endpoint, access_key, secret_key, ca_bundle),
        "GET",
        "/disclosures" + (f"?{query}" if query else ""),
    )
    _table(rows, _CASE_COLUMNS, as_json, "third-party requests")


@disclosure_app.command("show")
def disclosure_show(
    case_id: str,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One case."""
    _case(
        _call(_admin(data_dir, endpoint, access_key, secret_key, ca_bundle), "GET", f"/disclosures/{case_id}"), as_json
    )


@disclosure_app.command("close")
def disclosure_close(
    case_id: str,
    outcome: Annotated[
        str, typer.Option(help="redirected, rejected, no_data or disclosed_with_consent")
    ] = "redirected",
    grant: Annotated[str | None, typer.Option(help="the approved lockbox grant (disclosed_with_consent)")] = None,
    note: Annotated[str | None, typer.Option(help="a note for the record")] = None,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Close a case with its outcome (default: redirected to the customer)."""
    body: dict[str, Any] = {"outcome": outcome.replace("-", "_")}
    if grant:
        body["grant_id"] = grant
    if note:
        body["note"] = note
    client = _admin(data_dir, endpoint, access_key, secret_key, ca_bundle)
    _case(_call(client, "POST", f"/disclosures/{case_id}/close", body), as_json)


@disclosure_app.command("gag")
def disclosure_gag(
    case_id: str,
    until: Annotated[str | None, typer.Option(help="the order now ends on this date, YYYY-MM-DD")] = None,
    lift: Annotated[bool, typer.Option("--lift", help="the order was lifted: tell the customer now")] = False,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    access_key: AccessOpt = None,
    secret_key: SecretOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a change of a case's non-disclosure order (its notice follows)."""
    if lift == (until is not None):
        raise typer.BadParameter("give --until DATE or --lift")
    body = {"gag": False, "gag_until": None} if lift else {"gag": True, "gag_until": until}
    client = _admin(data_dir, endpoint, access_key, secret_key, ca_bundle)
    _case(_call(client, "PATCH", f"/disclosures/{case_id}", body), as_json)


# --- the transparency report --------------------------------------------------------------------------------------


def transparency_report(
    period: Annotated[str | None, typer.Option(help="2026H2, 2026Q3 or 2026 (default: the current half year)")] = None,
    html: Annotated[bool, typer.Option("--html", help="print the page's HTML")] = False,
    data_dir: DataDirOpt = None,
    endpoint: EndpointOpt = None,
    ca_bundle: CaOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The transparency report of a period (from the public page /_strongroom/transparency: no credentials)."""
    import httpx

    from strongroom.clitargets import s3_target
    from strongroom.config import load_settings

    target = s3_target(load_settings(None, data_dir=data_dir), endpoint, ca_bundle)
    url, verify = target.url, target.verify()
    params = {"format": "html" if html else "json"}
    if period:
        params["period"] = period
    try:
        r = httpx.get(url + "/_strongroom/transparency", params=params, verify=verify, timeout=60)
    except httpx.HTTPError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    if r.status_code != 200:
        import html as html_lib
        import re as re_lib

        text = html_lib.unescape(re_lib.sub(r"<[^>]+>", " ", r.text)).split()
        typer.echo(f"Error: {r.status_code}: {' '.join(text[1:]) or r.reason_phrase}", err=True)
        raise typer.Exit(2)
    if html:
        typer.echo(r.text, nl=False)
        return
    doc = r.json()
    if as_json:
        typer.echo(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False))
        return
    cases = doc["cases"]
    typer.echo(f"Transparency report {doc['period']} ({doc['from']} to {doc['to']})")
    typer.echo(f"requests for customer data: {cases['total']}, customers affected: {cases['tenants_affected']}")
    for outcome, n in cases["by_outcome"].items():
        typer.echo(f"  {outcome}: {n}")
    for name, counts in cases["by_jurisdiction"].items():
        typer.echo(f"  {name}: {counts['total']}")
    typer.echo(f"under a non-disclosure order: {doc['under_non_disclosure_order']['band']}")
    lb = doc["lockbox"]
    typer.echo(
        f"lockbox: {lb['requested']} requested, {lb['approved']} approved, {lb['denied']} denied, "
        f"{lb['expired']} expired, {lb['pending']} pending"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(lockbox_app, name="lockbox")
    app.add_typer(webhook_app, name="webhook")
    app.add_typer(disclosure_app, name="disclosure")
    app.command("transparency-report")(transparency_report)
