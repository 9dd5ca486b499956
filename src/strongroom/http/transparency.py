"""The public transparency page, ``GET /_strongroom/transparency[?period=2026H2][&format=json]``: no signature,
plain server-rendered HTML (no script, no external asset; every recorded value escaped; a CSP that allows nothing
else), or the same figures as JSON. The figures are ``service/transparency.py``'s."""

from __future__ import annotations

import datetime as dt
import json
from html import escape

import anyio
from starlette.responses import Response

from strongroom.core import errors
from strongroom.metadata.governance import GovernanceStore
from strongroom.service.runtime import Runtime
from strongroom.service.transparency import BAND, REPORTED_OUTCOMES, Report, build, current_period, parse_period

PATH = "/_strongroom/transparency"
_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}
OUTCOME_NAMES = {
    "redirected": "Redirected to the customer",
    "rejected": "Rejected",
    "no_data": "No data",
    "disclosed_with_consent": "Disclosed with the customer's consent",
    "pending": "Pending",
}
LOCKBOX_NAMES = {
    "requested": "Requests filed",
    "approved": "Approved by the customer",
    "denied": "Denied by the customer",
    "expired": "Expired unanswered",
    "pending": "Awaiting an answer",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:bold}"
)


def render_html(report: Report) -> str:
    p = report.period
    out: list[str] = []
    w = out.append
    w("<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>")
    w(f"<title>Transparency report {escape(p.label)}</title><style>{_STYLE}</style></head><body><main>")
    w(f"<h1>Transparency report <span id='period'>{escape(p.label)}</span></h1>")
    w(
        f"<p>Requests from governments and other third parties for our customers' data received from "
        f"<time id='from'>{p.start.isoformat()}</time> to <time id='to'>{p.last_day.isoformat()}</time>, and "
        f"requests by our operators to read customer data (the lockbox). Counted from the recorded cases when this "
        f"page was made (<time id='generated'>{escape(report.generated_at.strftime('%Y-%m-%d %H:%M UTC'))}</time>). "
        f"Our default answer to a request is to redirect it to the customer; no data leaves without the customer's "
        f"approval.</p>"
    )
    w("<h2>Requests for customer data</h2>")
    w("<table id='outcomes'><caption>By outcome</caption><tr><th>Outcome</th><th>Requests</th></tr>")
    for key in REPORTED_OUTCOMES:
        w(f"<tr><td>{OUTCOME_NAMES[key]}</td><td class='n' id='outcome-{key}'>{report.outcomes[key]}</td></tr>")
    w(f"<tr><th>Total</th><td class='n' id='cases-total'>{report.cases}</td></tr></table>")
    w(f"<p>Customers affected: <strong id='tenants-affected'>{report.tenants_affected}</strong></p>")
    w("<table id='jurisdictions'><caption>By jurisdiction</caption><tr><th>Jurisdiction</th><th>Total</th>")
    w("".join(f"<th>{OUTCOME_NAMES[k]}</th>" for k in REPORTED_OUTCOMES) + "</tr>")
    for name, counts in report.jurisdictions.items():
        w(f"<tr data-jurisdiction='{escape(name, quote=True)}'><td class='name'>{escape(name)}</td>")
        w(f"<td class='n total'>{counts['total']}</td>")
        w("".join(f"<td class='n {k}'>{counts[k]}</td>" for k in REPORTED_OUTCOMES) + "</tr>")
    if not report.jurisdictions:
        w(f"<tr><td colspan='{len(REPORTED_OUTCOMES) + 2}'>No requests.</td></tr>")
    w("</table>")
    w("<h2>Requests under a non-disclosure order</h2>")
    w(
        f"<p>Requests that came with an order forbidding us to tell the customer, still in force, are not in the "
        f"figures above; as the law allows, we report them in bands of {BAND}: "
        f"<strong id='gagged-band'>{escape(report.gagged_band)}</strong>.</p>"
    )
    w("<h2>Operator access (lockbox)</h2>")
    w("<table id='lockbox'><tr><th></th><th>Requests</th></tr>")
    for key, label in LOCKBOX_NAMES.items():
        w(f"<tr><td>{label}</td><td class='n' id='lockbox-{key}'>{report.lockbox[key]}</td></tr>")
    w("</table></main></body></html>\n")
    return "".join(out)


def _error(status: int, message: str) -> Response:
    page = f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>{status}</title></head>" + (
        f"<body><p>{escape(message)}</p></body></html>\n"
    )
    return Response(page, status_code=status, media_type="text/html; charset=utf-8", headers=_HEADERS)


async def page(rt: Runtime, method: str, query: dict[str, str]) -> Response:
    """The page (or its JSON) for ``?period=`` (default: the current half year)."""
    if method not in ("GET", "HEAD"):
        return _error(405, "Only GET and HEAD.")
    now = dt.datetime.now(dt.UTC)
    fmt = query.get("format", "html")
    if fmt not in ("html", "json"):
        return _error(400, "format is html or json")
    try:
        period = parse_period(query["period"]) if "period" in query else current_period(now.date())
    except errors.InvalidRequest as exc:
        return _error(400, exc.message)
    report = await anyio.to_thread.run_sync(build, GovernanceStore(rt.repo), period, now)
    if fmt == "json":
        body = json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False)
        return Response(body, media_type="application/json", headers=_HEADERS)
    return Response(render_html(report), media_type="text/html; charset=utf-8", headers=_HEADERS)


__all__ = ["PATH", "page", "render_html"]
