"""CORS on the wire: what a browser's request asks (``Origin``, ``Access-Control-Request-*``) and the response
headers of the rule that allows it. The decision is ``service.cors`` / ``policy.cors``'s."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Final

from starlette.responses import Response

from strongroom.policy.cors import VARY, CorsMatch, requested_headers

if TYPE_CHECKING:
    from strongroom.http.s3.request import S3Request
    from strongroom.service.cors import CorsService

log = logging.getLogger("strongroom.s3")

#: an HTTP field name (RFC 9110 token): exposed headers that are not one are left out of the answer
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def response_headers(match: CorsMatch) -> list[tuple[bytes, bytes]]:
    """The CORS response headers of ``match``, in S3's order."""
    out = [(b"access-control-allow-origin", match.allow_origin.encode("latin-1"))]
    if match.allow_credentials:
        out.append((b"access-control-allow-credentials", b"true"))
    out.append((b"access-control-allow-methods", ", ".join(match.allow_methods).encode("ascii")))
    if match.allow_headers:
        out.append((b"access-control-allow-headers", ", ".join(match.allow_headers).encode("latin-1")))
    exposed = [h for h in match.expose_headers if _TOKEN.fullmatch(h)]
    if exposed:
        out.append((b"access-control-expose-headers", ", ".join(exposed).encode("ascii")))
    if match.max_age_seconds is not None:
        out.append((b"access-control-max-age", str(match.max_age_seconds).encode("ascii")))
    out.append((b"vary", VARY.encode("ascii")))
    return out


def preflight_response(match: CorsMatch) -> Response:
    """200, no body, the CORS headers."""
    response = Response(status_code=200)
    response.raw_headers.extend(response_headers(match))
    return response


async def add_headers(service: CorsService, req: S3Request, response: Response) -> None:
    """Add the CORS headers S3 adds to the response of an actual (not preflight) request with an ``Origin`` on a
    bucket, errors included, when a rule of the bucket allows it. The rule is matched on the
    ``Access-Control-Request-Method`` and ``-Headers`` when the request carries them (as S3 does), else on its own
    method. A failure to read the rules leaves the response without them (the browser then refuses it)."""
    origin = req.headers.get("origin")
    route = req.route
    if not origin or req.bucket is None or (route is not None and route.public):
        return
    seen = req.op.grants.get(req.bucket) if req.op is not None else None
    try:
        match = await service.answer(
            req.bucket,
            seen[0] if seen is not None else None,
            origin,
            req.headers.get("access-control-request-method") or req.method,
            requested_headers(req.headers.get("access-control-request-headers")),
        )
    except Exception:  # noqa: BLE001 - the answer stands; it only lacks CORS headers
        log.debug("CORS rules of %s could not be read", req.bucket, exc_info=True)
        return
    if match is not None:
        response.raw_headers.extend(response_headers(match))
