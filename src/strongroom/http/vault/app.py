"""The Vault-compatible HTTP API (hvac-compatible subset): parse, authenticate, authorise, render.

Every path starts with /v1/. PUT and POST are the same; LIST and GET ?list=true are the same.
Errors are ``{"errors": [...]}`` with Content-Type application/json; success with data is the
Vault envelope; success without data is 204.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from strongroom import __version__
from strongroom.core import errors, metrics
from strongroom.core.types import JUSTIFICATIONS, KeyUse
from strongroom.http.vault import audit as audit_entry
from strongroom.http.vault import fields as f
from strongroom.http.vault import metrics as vault_metrics
from strongroom.http.vault.chainaudit import call_pending
from strongroom.http.vault.errors import VaultHTTPError, from_domain, permission_denied
from strongroom.keys import namespaces as ns
from strongroom.keys.auditdevices import AuditBroker
from strongroom.keys.auditkey import AuditSigningKey
from strongroom.keys.mounts import MountEntry
from strongroom.keys.namespaces import Namespace, operator_may
from strongroom.keys.tokenroles import TokenRole, role_policies
from strongroom.keys.tokens import TENANT_ADMIN_POLICY_NAME, TokenEntry
from strongroom.service.vault import VaultCore

if TYPE_CHECKING:
    from strongroom.audit.sink import AuditLog

log = logging.getLogger("strongroom.vault.http")

MAX_BODY = 32 * 1024 * 1024
VAULT_VERSION = f"1.15.0+strongroom.{__version__}"
UNAUTHENTICATED = {
    "sys/init",
    "sys/seal-status",
    "sys/unseal",
    "sys/health",
    "sys/leader",
    "strongroom/certificate-key",  # a public key (http/vault/shred.py)
}
#: calls not recorded in the audit chains: the unauthenticated seal and health endpoints (as Vault's audit devices),
#: the gateways' once-a-second seal probe, and the checkpoint signing the chains' own upkeep makes
NOT_CHAINED = UNAUTHENTICATED | {"strongroom/internal/status", "strongroom/internal/audit/sign"}


@dataclass
class Call:
    method: str  # read | list | update | delete | patch
    path: str  # without /v1/
    body: dict[str, Any]
    query: dict[str, str]
    token: TokenEntry | None
    raw_token: str | None
    request_id: str
    internal: bool = False
    namespace: str = ns.ROOT  # the namespace X-Vault-Namespace selects ("" = root)
    ns: Namespace | None = None  # that namespace, once the token may act in it (authenticated routes)
    source_ip: str | None = None
    source_port: int | None = None
    bytes_in: int = 0
    #: what an internal bucket-key call asked for and (when granted) released: key, version, acting principal,
    #: operation, justification, grant, bucket (the audit entry's ``key_release``)
    key_release: dict[str, Any] | None = None
    audited: bool = False  # its audit chain entry is written
    #: the path the route table sees: a mount's path replaced by its type's (``apps/data/x`` of a KV v2 mount at
    #: ``apps/`` is ``secret/data/x``, ``auth/my-approle/login`` is ``auth/approle/login``); None: no mount matches
    route_path: str | None = None
    mount: MountEntry | None = None  # the secrets or auth mount the path belongs to
    engine: Any = None  # that mount's engine

    @property
    def mount_path(self) -> str:
        """The path of the call's mount as the request spells it (``transit/``, ``apps/``, ``auth/userpass/``)."""
        assert self.mount is not None
        return ("auth/" if self.mount.type in AUTH_MOUNT_TYPES else "") + self.mount.path

    @property
    def transit(self) -> Any:
        """The transit engine of the call's mount."""
        assert self.mount is not None and self.mount.type == "transit"
        return self.engine

    @property
    def kv(self) -> Any:
        """The KV engine of the call's mount."""
        assert self.mount is not None and self.mount.type == "kv"
        return self.engine

    # --- the operation record (what the audit log records): a vault request's action is the capability its
    # path needs, its resource the path within its namespace (the namespace of tenant T is T; root = "system")
    @property
    def action(self) -> str:
        return "vault:" + {"read": "read", "list": "list", "update": "update", "delete": "delete"}.get(
            self.method, self.method
        )

    @property
    def resource(self) -> str:
        return f"vault:{self.namespace or 'system'}/{self.path}"

    @property
    def principal(self) -> str:
        """Who: the token's accessor (never the token), or the gateway for internal calls, or nobody."""
        if self.internal:
            return "gateway"
        return f"token:{self.token.accessor}" if self.token is not None else "anonymous"

    @property
    def space(self) -> Namespace:
        """The request's namespace (authenticated routes only)."""
        assert self.ns is not None
        return self.ns


def needs_sudo(path: str) -> bool:
    """Paths that need ``sudo`` beside their capability, whatever the operation (Vault's root paths): the audit
    devices (``sys/audit``, ``sys/audit-hash``) and rotating the audit checkpoint key."""
    return (
        path == "sys/audit"
        or path.startswith(("sys/audit/", "sys/audit-hash/"))
        or path == "sys/strongroom/audit-key/rotate"
        or path.startswith("sys/auth/")  # enabling, tuning, disabling auth methods (Vault's sys "auth/*")
    )


#: the sys/ paths that are per namespace (everything else under sys/ is the deployment's own)
TENANT_SYS = (
    "sys/policy",
    "sys/policies/",
    "sys/mounts",
    "sys/auth",
    "sys/internal/ui/mounts",
    "sys/capabilities-self",
)
AUTH_MOUNT_TYPES = frozenset({"token", "userpass", "approle"})
#: the route path a mount's type answers under (the route table's patterns are written for these)
ROUTE_PREFIX = {("kv", 2): "secret", ("kv", 1): "kv1", ("transit", 0): "transit"}
#: login routes: no token, they make one
LOGIN_ROUTES = (re.compile(r"auth/userpass/login/[^/]+"), re.compile(r"auth/approle/login"))


def resolve_route(space: Namespace, path: str) -> tuple[str | None, MountEntry | None, Any]:
    """(route path, mount, engine) of ``path`` in ``space``: ``sys/`` and ``strongroom/`` paths are their own
    routes; ``auth/MOUNT/...`` goes to an auth mount and anything else to a secrets mount, by longest prefix."""
    head = path.split("/", 1)[0]
    if head in ("sys", "strongroom"):
        return path, None, None
    table, rest = (space.auth_mounts, path[5:]) if head == "auth" else (space.mounts, path)
    found = table.resolve(rest)
    if found is None:
        return None, None, None
    mount, sub = found
    kind = mount.type if head == "auth" else ROUTE_PREFIX[(mount.type, mount.version)]
    prefix = f"auth/{kind}" if head == "auth" else kind
    return (prefix + "/" + sub if sub else prefix), mount, table.engine(mount)
Handler = Callable[["VaultApp", Call, re.Match[str]], Any]
ROUTES: list[tuple[set[str], re.Pattern[str], Handler]] = []


def route(methods: str, pattern: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        ROUTES.append((set(methods.split(",")), re.compile(pattern + r"$"), fn))
        return fn

    return deco


def envelope(data: Any = None, *, auth: Any = None, request_id: str = "", warnings: Any = None) -> dict[str, Any]:
    return {
        "request_id": request_id or str(uuid.uuid4()),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": data,
        "wrap_info": None,
        "warnings": warnings,
        "auth": auth,
    }


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")).encode(), status_code=status, media_type="application/json")


def _b64(value: Any, field: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise VaultHTTPError(400, [f"invalid {field}: must be base64"]) from None


def error_response(exc: Exception, url_path: str) -> Response:
    """The Vault error answer for any exception (``{"errors": [...]}``); unknown failures are a bare 500."""
    if isinstance(exc, VaultHTTPError):
        err = exc
    elif isinstance(exc, errors.StrongroomError):
        err = from_domain(exc)
    else:
        log.error("vault internal error", exc_info=exc)
        return json_response({"errors": ["internal error"]}, 500)
    body: dict[str, Any] = {"errors": err.messages}
    if err.data is not None:
        body["data"] = err.data
    if isinstance(exc, errors.StrongroomError) and url_path.startswith("/v1/strongroom/internal/"):
        body["error_class"] = type(exc).__name__
    return json_response(body, err.status)


class VaultApp:
    def __init__(
        self,
        core: VaultCore,
        internal_token: str | None = None,
        chain: AuditLog | None = None,
        metrics_public: bool = False,
    ) -> None:
        self.core = core
        self.metrics_public = metrics_public  # sys/metrics answers without a token
        self.internal_token = internal_token
        self.chain = chain  # the audit chains (strongroom's own log; the devices below are Vault's sys/audit)
        self.audit_key = AuditSigningKey(core.seal_manager.barrier)
        self.audit = AuditBroker(core.seal_manager.barrier)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            async with anyio.create_task_group() as tg:
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        tg.start_soon(self._auto_rotate)
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        tg.cancel_scope.cancel()
                        metrics.process_exited()
                        await send({"type": "lifespan.shutdown.complete"})
                        return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request = Request(scope, receive)
        call: Call | None = None
        try:
            call = await self._parse(request)
            response = await self.handle(call)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a Vault error answer
            response = error_response(exc, request.url.path)
        if self.chain is not None and call is not None and call.path not in NOT_CHAINED:
            try:
                await self.chain.submit(call, call_pending(call, response.status_code, None))
            except errors.AuditUnavailable:
                response = json_response({"errors": ["internal error"]}, 500)
        response.headers["cache-control"] = "no-store"
        response.headers["strict-transport-security"] = "max-age=31536000"
        try:
            await response(scope, receive, send)
        finally:
            if call is not None:
                metrics.count_vault(call.method, call.path, response.status_code, time.perf_counter() - started)

    async def _auto_rotate(self, interval: float = 60.0) -> None:
        """Rotate transit keys whose auto_rotate_period has passed (while unsealed)."""
        while True:
            await anyio.sleep(interval)
            if self.core.sealed:
                continue
            try:
                rotated = await anyio.to_thread.run_sync(self.core.maybe_auto_rotate)
                if rotated:
                    log.info("auto-rotated %d key(s)", len(rotated))
            except errors.StrongroomError:
                log.warning("auto-rotation pass failed", exc_info=True)

    async def handle(self, call: Call) -> Response:
        """Authenticate, audit the request, serve it, audit the response (audit devices fail closed)."""
        namespace = None
        if not self.audit.known_empty and call.path not in UNAUTHENTICATED:
            namespace = await anyio.to_thread.run_sync(self._audit_namespace, call)
        try:
            await self._authenticate(call)
        except VaultHTTPError as exc:
            if namespace is not None and exc.status == 403:
                refused = audit_entry.request_input(call, namespace, error="permission denied")
                await anyio.to_thread.run_sync(self.audit.log_request, refused)
            raise
        if namespace is not None:
            await anyio.to_thread.run_sync(self.audit.log_request, audit_entry.request_input(call, namespace))
        if self.chain is not None and call.method in ("update", "delete", "patch"):
            # a change's chain entry commits with it (the first write to the vault's storage it makes)
            status = 204 if call.method == "delete" else 200
            self.chain.arm_entry(call, lambda: call_pending(call, status, None))
        response = await self._dispatch(call)
        if namespace is not None:
            answer = audit_entry.response_input(call, namespace, response)
            await anyio.to_thread.run_sync(self.audit.log_response, answer)
        if self.core.sealed:
            self.audit.reset()  # the devices load again, from the barrier, after the next unseal
        return response

    async def _parse(self, request: Request) -> Call:
        path = request.url.path
        if not path.startswith("/v1/"):
            raise VaultHTTPError(404, [])
        vpath = path[4:].strip("/")
        query = dict(request.query_params)
        method = request.method.upper()
        if method == "LIST" or (method == "GET" and query.get("list") in ("true", "1")):
            op = "list"
        elif method in ("GET", "HEAD"):
            op = "read"
        elif method in ("PUT", "POST"):
            op = "update"
        elif method == "DELETE":
            op = "delete"
        elif method == "PATCH":
            op = "patch"
        else:
            raise VaultHTTPError(405, ["unsupported operation"])
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise VaultHTTPError(413, ["request body too large"])
        body: dict[str, Any] = {}
        if raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError:
                raise VaultHTTPError(400, ["failed to parse JSON input"]) from None
            if not isinstance(parsed, dict):
                raise VaultHTTPError(400, ["failed to parse JSON input: not an object"])
            body = parsed
        raw_token = request.headers.get("x-vault-token")
        auth = request.headers.get("authorization", "")
        if not raw_token and auth.lower().startswith("bearer "):
            raw_token = auth[7:].strip()
        call = Call(op, vpath, body, query, None, raw_token, str(uuid.uuid4()))
        call.bytes_in = len(raw)
        client = request.scope.get("client")
        call.source_ip = client[0] if client else None
        call.source_port = client[1] if client else None
        call.namespace = ns.normalize(request.headers.get("x-vault-namespace"))
        return call

    def _audit_namespace(self, call: Call) -> dict[str, str] | None:
        """The audit entries' ``namespace`` block when ``call`` is to be audited (devices are enabled and the vault
        is unsealed; Vault does not audit its unauthenticated seal/health endpoints); else None."""
        if call.path in UNAUTHENTICATED or self.core.sealed:
            return None
        try:
            if not self.audit.enabled:
                return None
            info = self.core.namespace_info(call.namespace) if call.namespace != ns.ROOT else None
        except errors.KeyStoreSealed:
            return None
        except errors.InvalidRequest:
            info = None
        if call.namespace == ns.ROOT:
            return {"id": "root"}
        return {"id": str(info["id"]) if info else "", "path": f"{call.namespace}/"}

    async def _authenticate(self, call: Call) -> None:
        if call.path.startswith("strongroom/internal/"):
            token = call.raw_token
            if not self.internal_token or not token or not hmac.compare_digest(token, self.internal_token):
                raise permission_denied()
            call.internal = True
        elif call.path not in UNAUTHENTICATED and not (self.metrics_public and call.path == vault_metrics.PATH):
            if self.core.sealed:
                raise VaultHTTPError(503, ["Vault is sealed"])
            if call.path.startswith("auth/") and await anyio.to_thread.run_sync(self._login, call):
                return
            entry = await anyio.to_thread.run_sync(self.core.lookup_token, call.raw_token)
            if entry is None or not entry.usable_from(call.source_ip):
                raise permission_denied()
            call.token = entry
            if not await anyio.to_thread.run_sync(self.authorized, call):
                raise permission_denied()

    def _login(self, call: Call) -> bool:
        """Is ``call`` a login (an auth method's login path, which needs no token)? Routes it when it is."""
        try:
            space = self.core.namespace(call.namespace)
        except errors.NotFound:
            return False
        route_path, mount, engine = resolve_route(space, call.path)
        if route_path is None or not any(p.fullmatch(route_path) for p in LOGIN_ROUTES):
            return False
        call.ns, call.route_path, call.mount, call.engine = space, route_path, mount, engine
        return True

    async def _dispatch(self, call: Call) -> Response:
        """The route's answer; a failure becomes its Vault error answer here, so that the audit log records it."""
        try:
            if call.route_path is None and call.ns is not None:
                raise VaultHTTPError(404, [f'no handler for route "{call.path}". route entry not found.'])
            path = call.route_path or call.path
            for methods, pattern, handler in ROUTES:
                m = pattern.match(path)
                if m and call.method in methods:
                    result = await anyio.to_thread.run_sync(handler, self, call, m)
                    if isinstance(result, Response):
                        return result
                    if result is None:
                        return Response(status_code=204)
                    return json_response(result)
            for _methods, pattern, _handler in ROUTES:
                if pattern.match(path):
                    raise VaultHTTPError(405, ["unsupported operation"])
            raise VaultHTTPError(404, [f'no handler for route "{call.path}". route entry not found.'])
        except Exception as exc:  # noqa: BLE001 - mapped to the wire error in one place
            return error_response(exc, "/v1/" + call.path)

    def authorized(self, call: Call) -> bool:
        """May the call's token act on its path in the request's namespace? Sets ``call.ns`` when it may.

        A child-namespace token works only in its own namespace. A root-namespace token works in the root
        namespace and, within :func:`~strongroom.keys.namespaces.operator_may`, in child namespaces; its policies
        then apply to ``<namespace>/<path>``, as Vault evaluates them. ``sys/namespaces`` is for root-namespace
        tokens with root or sudo.
        """
        token = call.token
        assert token is not None
        if token.namespace not in (ns.ROOT, call.namespace):
            return False
        if call.namespace != ns.ROOT and call.path.startswith("sys/") and not call.path.startswith(TENANT_SYS):
            # seal, rotate, key status, namespaces... act on the whole deployment: never from a tenant namespace,
            # whatever a namespace policy grants (tenant-admin holds sudo on "*")
            return False
        if token.namespace == ns.ROOT and call.namespace != ns.ROOT and not operator_may(call.method, call.path):
            return False
        try:
            call.ns = self.core.namespace(call.namespace)
        except errors.NotFound:
            return False
        call.route_path, call.mount, call.engine = resolve_route(call.ns, call.path)
        caps = self.capabilities(token, call.path, call.namespace)
        if "root" in caps:
            return True
        if "deny" in caps:
            return False
        if call.path == "sys/namespaces" or call.path.startswith("sys/namespaces/"):
            return token.namespace == ns.ROOT and "sudo" in caps
        if call.path.startswith("sys/") and call.path.split("/")[1] in ("seal", "rotate", "policy", "policies"):
            if call.method == "update" or call.method == "delete":
                return "sudo" in caps and (call.method in caps or "update" in caps)
        if needs_sudo(call.path) and "sudo" not in caps:
            return False
        if call.method == "update":
            return "update" in caps or "create" in caps
        return call.method in caps

    def capabilities(self, token: TokenEntry, path: str, namespace: str) -> set[str]:
        """What ``token``'s policies (in the token's own namespace) grant on ``path`` of ``namespace``."""
        if token.namespace == namespace:
            return self.core.namespace(namespace).policies.capabilities(token, path)
        return self.core.tokens.capabilities(token, f"{namespace}/{path}")


# --- sys ------------------------------------------------------------------------------------------


@route("read", r"sys/init")
def sys_init_status(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return {"initialized": app.core.initialized()}


@route("update", r"sys/init")
def sys_init(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    shares = int(call.body.get("secret_shares", 1) or 1)
    threshold = int(call.body.get("secret_threshold", 1) or 1)
    out = app.core.initialize(shares, threshold)
    return {
        "keys": [k.hex() for k in out.keys],
        "keys_base64": [base64.b64encode(k).decode() for k in out.keys],
        "root_token": out.root_token,
    }


def _seal_status(app: VaultApp) -> dict[str, Any]:
    st = app.core.status().to_dict()
    st.update(
        {
            "version": VAULT_VERSION,
            "build_date": "",
            "migration": False,
            "recovery_seal": False,
            "storage_type": "strongroom",
        }
    )
    if not st["sealed"]:
        st.update({"cluster_name": "strongroom", "cluster_id": "strongroom"})
    return st


@route("read", r"sys/seal-status")
def sys_seal_status(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return _seal_status(app)


@route("update", r"sys/unseal")
def sys_unseal(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    reset = bool(call.body.get("reset", False))
    key = call.body.get("key")
    raw: bytes | None = None
    if key:
        try:
            raw = bytes.fromhex(key)
        except ValueError:
            raw = _b64(key, "key")
    elif not reset:
        raise VaultHTTPError(400, ["'key' must be specified in request body as JSON, or 'reset' set to true"])
    app.core.submit_unseal_key(raw, reset)
    return _seal_status(app)


@route("update", r"sys/seal")
def sys_seal(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    app.core.seal()
    return None


@route("read", r"sys/health")
def sys_health(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    initialized = app.core.initialized()
    sealed = app.core.sealed if initialized else True
    body = {
        "initialized": initialized,
        "sealed": sealed,
        "standby": False,
        "performance_standby": False,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": int(dt.datetime.now(dt.UTC).timestamp()),
        "version": VAULT_VERSION,
        "cluster_name": "strongroom",
        "cluster_id": "strongroom",
    }
    if not initialized:
        status = int(call.query.get("uninitcode", 501))
    elif sealed:
        status = int(call.query.get("sealedcode", 503))
    else:
        status = int(call.query.get("activecode", 200))
    return json_response(body, status)


@route("read", r"sys/metrics")
def sys_metrics(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    fmt = call.query.get("format", "")
    if fmt not in ("", "prometheus"):
        raise VaultHTTPError(400, [f"metrics format {fmt!r} is not supported: use format=prometheus or none"])
    return vault_metrics.render(app.core, fmt)


@route("read", r"sys/leader")
def sys_leader(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return {"ha_enabled": False, "is_self": True, "leader_address": "", "leader_cluster_address": ""}


@route("update", r"sys/rotate")
def sys_rotate(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    app.core.seal_manager.barrier.rotate()
    return None


@route("read", r"sys/key-status")
def sys_key_status(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    info = app.core.seal_manager.barrier.key_info()
    installed = getattr(info, "install_time", None)
    when = installed.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(installed, dt.datetime) else str(installed or "")
    data = {"term": info.term, "install_time": when}
    return envelope(data, request_id=call.request_id) | data


@route("list,read", r"sys/(policy|policies/acl)")
def sys_policy_list(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    names = call.space.policies.list_policies()
    data = {"policies": names, "keys": names}
    return envelope(data, request_id=call.request_id) | data


@route("read", r"sys/(?:policy|policies/acl)/(?P<name>[^/]+)")
def sys_policy_read(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    text = call.space.policies.get_policy(m["name"])
    if text is None:
        raise VaultHTTPError(404, [])
    data = {"name": m["name"], "rules": text, "policy": text}
    return envelope(data, request_id=call.request_id) | data


@route("update", r"sys/(?:policy|policies/acl)/(?P<name>[^/]+)")
def sys_policy_write(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    text = call.body.get("policy", call.body.get("rules"))
    if isinstance(text, dict):
        text = json.dumps(text)
    if not isinstance(text, str) or not text.strip():
        raise VaultHTTPError(400, ["'policy' parameter not supplied or empty"])
    call.space.policies.put_policy(m["name"], text)
    return None


@route("delete", r"sys/(?:policy|policies/acl)/(?P<name>[^/]+)")
def sys_policy_delete(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.space.policies.delete_policy(m["name"])
    return None


# --- sys/namespaces ---------------------------------------------------------------------------------------------


def _namespace_data(info: dict[str, Any]) -> dict[str, Any]:
    return {"id": info["id"], "path": info["path"], "custom_metadata": info.get("custom_metadata") or {}}


def _root_only(call: Call) -> None:
    if call.namespace != ns.ROOT:
        raise VaultHTTPError(400, ["nested namespaces are not supported"])


@route("list", r"sys/namespaces")
def sys_namespaces_list(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    _root_only(call)
    infos = [info for name in app.core.list_namespaces() if (info := app.core.namespace_info(name)) is not None]
    if not infos:
        raise VaultHTTPError(404, [])
    data = {"keys": [i["path"] for i in infos], "key_info": {i["path"]: _namespace_data(i) for i in infos}}
    return _data(call, data)


@route("read", r"sys/namespaces/(?P<name>[^/]+)")
def sys_namespace_read(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    _root_only(call)
    info = app.core.namespace_info(m["name"])
    if info is None:
        raise VaultHTTPError(404, [])
    return _data(call, _namespace_data(info))


@route("update", r"sys/namespaces/(?P<name>[^/]+)")
def sys_namespace_create(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    _root_only(call)
    custom = f.pick(call.body, {"custom_metadata": f.mapping}).get("custom_metadata")
    return _data(call, _namespace_data(app.core.create_namespace(m["name"], custom)))


@route("delete", r"sys/namespaces/(?P<name>[^/]+)")
def sys_namespace_delete(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    _root_only(call)
    app.core.delete_namespace(m["name"])
    return None


# --- sys/audit, sys/audit-hash: Vault's audit devices (root namespace only; sudo) -------------------------------


def _audit_devices(app: VaultApp, call: Call) -> dict[str, Any]:
    devices = app.audit.list()
    return envelope(devices, request_id=call.request_id) | devices


@route("read", r"sys/audit")
def sys_audit_list(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """The enabled devices by path, at the top level and under ``data`` (as Vault answers)."""
    return _audit_devices(app, call)


@route("update", r"sys/audit/(?P<path>.+)")
def sys_audit_enable(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """Enable a device: ``type`` (``file``), ``description``, ``options`` (strings), ``local``."""
    body = f.pick(call.body, f.SYS_AUDIT_ENABLE)
    app.audit.enable(
        m["path"],
        body.get("type", ""),
        body.get("description", ""),
        body.get("options") or {},
        bool(body.get("local", False)),
    )
    return None


@route("delete", r"sys/audit/(?P<path>.+)")
def sys_audit_disable(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """Disable a device (its salt is forgotten); disabling a path that has none is not an error."""
    app.audit.disable(m["path"])
    return None


@route("update", r"sys/audit-hash/(?P<path>.+)")
def sys_audit_hash(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """The HMAC the device writes for ``input``: ``{"hash": "hmac-sha256:..."}``."""
    value = f.pick(call.body, {"input": f.string}).get("input", "")
    data = {"hash": app.audit.hash(m["path"], value)}
    return envelope(data, request_id=call.request_id) | data


# --- sys/strongroom/audit-key: the audit checkpoint key (public part; rotation needs sudo) -------------------------


@route("read", r"sys/strongroom/audit-key")
def sys_audit_key_read(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """The audit checkpoint key's versions and public keys (read shaped like a transit ed25519 key)."""
    return _data(call, app.audit_key.read())


@route("update", r"sys/strongroom/audit-key/rotate")
def sys_audit_key_rotate(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """Add a version that signs from now on; older versions keep verifying."""
    app.audit_key.rotate()
    return _data(call, app.audit_key.read())


# --- auth/token -----------------------------------------------------------------------------------


def _token_data(entry: TokenEntry, token_id: str | None = None) -> dict[str, Any]:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    exp = entry.expire_time()
    data: dict[str, Any] = {
        "accessor": entry.accessor,
        "creation_time": entry.creation_time,
        "creation_ttl": entry.ttl,
        "display_name": entry.display_name,
        "entity_id": "",
        "expire_time": dt.datetime.fromtimestamp(exp, dt.UTC).isoformat() if exp else None,
        "explicit_max_ttl": entry.explicit_max_ttl,
        "id": token_id or "",
        "issue_time": dt.datetime.fromtimestamp(entry.creation_time, dt.UTC).isoformat(),
        "meta": entry.meta or None,
        "num_uses": entry.num_uses,
        "orphan": entry.orphan,
        "path": entry.path,
        "policies": entry.policies,
        "renewable": entry.renewable,
        "ttl": max(0, exp - now) if exp else 0,
        "type": "service",
    }
    if entry.period:
        data["period"] = entry.period
    if entry.role:
        data["role"] = entry.role
    return data


@route("read", r"auth/token/lookup-self")
def token_lookup_self(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    assert call.token is not None
    return envelope(_token_data(call.token, call.raw_token), request_id=call.request_id)


@route("update", r"auth/token/lookup")
def token_lookup(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    token = call.body.get("token")
    entry = app.core.tokens.lookup(str(token)) if token else None
    if entry is None or entry.namespace != call.namespace:
        raise VaultHTTPError(403, ["bad token"])
    return envelope(_token_data(entry, str(token)), request_id=call.request_id)


def _duration(value: Any, field: str = "duration") -> int:
    """A duration in seconds (0 when absent): the one parser of Vault's duration forms (fields.seconds)."""
    return f.seconds(field, value) or 0


@route("update", r"auth/token/create(?P<orphan>-orphan)?")
def token_create(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return create_token(app, call, orphan=bool(m["orphan"]))


def create_token(app: VaultApp, call: Call, *, orphan: bool = False, role: TokenRole | None = None) -> Any:
    """``auth/token/create``, ``-orphan`` and ``/:role_name``: a child of the caller's token (or an orphan)."""
    assert call.token is not None
    b = call.body
    if (f.string("type", b.get("type")) or "service") not in ("service", "default"):
        raise VaultHTTPError(400, ["batch tokens are not supported"])
    renewable = b.get("renewable", True)
    no_parent = b.get("no_parent", False)
    period = _duration(b.get("period"))
    requested = f.comma_list("policies", b.get("policies")) or []
    explicit_max_ttl = _duration(b.get("explicit_max_ttl"))
    no_default = f.boolean("no_default_policy", b.get("no_default_policy", False))
    path = "auth/token/create" + ("-orphan" if orphan else "")
    decided = False
    if role is not None:
        path = f"auth/token/create/{role.name}" + (f"/{role.path_suffix}" if role.path_suffix else "")
        requested = role_policies(role, requested, call.token.policies, call.token.is_root)
        decided = True
        orphan = role.orphan
        renewable = role.renewable and (f.boolean("renewable", renewable) if renewable is not None else True)
        period = role.token_period or period
        if role.token_explicit_max_ttl:
            explicit_max_ttl = min(explicit_max_ttl or role.token_explicit_max_ttl, role.token_explicit_max_ttl)
    elif period:
        caps = app.capabilities(call.token, call.path, call.namespace)
        if not ({"root", "sudo"} & caps):
            raise VaultHTTPError(400, ["root or sudo privileges required to create periodic token"])
    if no_default and not decided:
        requested = [p for p in requested if p != "default"] or []
    token, entry = app.core.tokens.create(
        policies=requested,
        parent=call.token,
        ttl=_duration(b.get("ttl")),
        explicit_max_ttl=explicit_max_ttl,
        display_name=f.string("display_name", b.get("display_name")) or "token",
        meta=f.string_map("meta", b.get("meta")) or {},
        renewable=f.boolean("renewable", renewable) if renewable is not None else True,
        no_parent=orphan or (f.boolean("no_parent", no_parent) if no_parent is not None else False),
        num_uses=f.integer("num_uses", b.get("num_uses")) or (role.token_num_uses if role else 0),
        token_id=f.string("id", b.get("id")) or None,
        namespace=call.namespace,
        period=period,
        path=path,
        role=role.name if role else "",
        policies_decided=decided,
    )
    return envelope(None, auth=token_auth(token, entry), request_id=call.request_id)


def token_auth(token: str, entry: TokenEntry) -> dict[str, Any]:
    """The ``auth`` block of an answer that hands out a token."""
    return {
        "client_token": token,
        "accessor": entry.accessor,
        "policies": entry.policies,
        "token_policies": entry.policies,
        "metadata": entry.meta or None,
        "lease_duration": entry.ttl,
        "renewable": entry.renewable,
        "entity_id": "",
        "token_type": "service",
        "orphan": entry.orphan,
        "mfa_requirement": None,
        "num_uses": entry.num_uses,
    }


@route("update", r"auth/token/revoke")
def token_revoke(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    token = call.body.get("token")
    if not token:
        raise VaultHTTPError(400, ["missing token"])
    entry = app.core.tokens.lookup(str(token))
    if entry is not None and entry.namespace == call.namespace:
        app.core.tokens.revoke(str(token))
    return None


@route("update", r"auth/token/revoke-self")
def token_revoke_self(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    assert call.raw_token is not None
    app.core.tokens.revoke(call.raw_token)
    return None


@route("update", r"auth/token/revoke-accessor")
def token_revoke_accessor(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    entry = app.core.tokens.lookup_accessor(str(call.body.get("accessor", "")))
    if entry is not None and entry.namespace == call.namespace:
        app.core.tokens.revoke_accessor(entry.accessor)
    return None


@route("update", r"auth/token/renew-self")
def token_renew_self(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    assert call.token is not None
    entry = app.core.tokens.renew(call.token, _duration(call.body.get("increment")) or None)
    auth = {
        "client_token": call.raw_token,
        "accessor": entry.accessor,
        "policies": entry.policies,
        "lease_duration": entry.ttl,
        "renewable": entry.renewable,
    }
    return envelope(None, auth=auth, request_id=call.request_id)


# --- transit ----------------------------------------------------------------------------------------


def _data(call: Call, data: Any) -> dict[str, Any]:
    return envelope(data, request_id=call.request_id)


def keys_or_404(call: Call, keys: list[str]) -> Any:
    """A LIST answer: ``{"keys": [...]}``, or Vault's bare 404 when there is nothing to list."""
    if not keys:
        raise VaultHTTPError(404, [])
    return _data(call, {"keys": keys})


def _with_alg(body: dict[str, Any], alg: str | None, field: str) -> dict[str, Any]:
    return {**body, field: alg} if alg else body


@route("list", r"transit/keys")
def transit_list(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    data = call.transit.list_keys()
    return keys_or_404(call, data["keys"] if isinstance(data, dict) else list(data))


@route("update", r"transit/keys/(?P<name>[^/]+)")
def transit_create(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.transit.create_key(m["name"], tenant=call.space.tenant, **f.pick(call.body, f.TRANSIT_CREATE))
    return None


@route("read", r"transit/keys/(?P<name>[^/]+)")
def transit_read(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return _data(call, call.transit.read_key(m["name"]))


@route("delete", r"transit/keys/(?P<name>[^/]+)")
def transit_delete(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.transit.delete_key(m["name"])
    return None


@route("update", r"transit/keys/(?P<name>[^/]+)/config")
def transit_config(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    out = call.transit.update_config(m["name"], **f.pick(call.body, f.TRANSIT_CONFIG))
    return _data(call, out) if isinstance(out, dict) else None


@route("update", r"transit/keys/(?P<name>[^/]+)/rotate")
def transit_rotate(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    out = call.transit.rotate(m["name"])
    return _data(call, out) if isinstance(out, dict) else None


@route("update", r"transit/keys/(?P<name>[^/]+)/trim")
def transit_trim(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    body = f.pick(call.body, f.TRANSIT_TRIM)
    if "min_available_version" not in body:
        raise VaultHTTPError(400, ["missing min_available_version"])
    out = call.transit.trim(m["name"], **body)
    return _data(call, out) if isinstance(out, dict) else None


@route("read", r"transit/export/(?P<type>[^/]+)/(?P<name>[^/]+)(?:/(?P<version>[^/]+))?")
def transit_export(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return _data(call, call.transit.export(m["name"], m["type"], m["version"]))


def _may_create_key(app: VaultApp, call: Call, name: str) -> bool:
    """Encrypt creates a missing key (Vault's upsert) only for a token with ``create`` on ``<mount>/keys/<name>``."""
    assert call.token is not None
    caps = app.capabilities(call.token, f"{call.mount_path}keys/{name}", call.namespace)
    return "root" in caps or ("create" in caps and "deny" not in caps)


@route("update", r"transit/(?P<op>encrypt|decrypt|rewrap)/(?P<name>[^/]+)")
def transit_crypt(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    from strongroom.keys.transit import batch_response_status

    transit, name, op = call.transit, m["name"], m["op"]
    if op == "encrypt":
        body = f.pick(call.body, f.TRANSIT_ENCRYPT, rename={"type": "key_type"})
        data = transit.encrypt(name, upsert=_may_create_key(app, call, name), tenant=call.space.tenant, **body)
    elif op == "decrypt":
        data = transit.decrypt(name, **f.pick(call.body, f.TRANSIT_DECRYPT))
    else:
        data = transit.rewrap(name, **f.pick(call.body, f.TRANSIT_REWRAP))
    code = f.integer("partial_failure_response_code", call.body.get("partial_failure_response_code"))
    status = 200 if op == "rewrap" else batch_response_status(data, code)
    return json_response(_data(call, data), status)


@route("update", r"transit/datakey/(?P<kind>plaintext|wrapped)/(?P<name>[^/]+)")
def transit_datakey(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    body = f.pick(call.body, f.TRANSIT_DATAKEY)
    return _data(call, call.transit.generate_data_key(m["name"], kind=m["kind"], **body))


@route("update", r"transit/hmac/(?P<name>[^/]+)(?:/(?P<alg>[^/]+))?")
def transit_hmac(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    body = _with_alg(f.pick(call.body, f.TRANSIT_HMAC), m["alg"], "algorithm")
    return _data(call, call.transit.hmac(m["name"], **body))


@route("update", r"transit/sign/(?P<name>[^/]+)(?:/(?P<alg>[^/]+))?")
def transit_sign(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    body = _with_alg(f.pick(call.body, f.TRANSIT_SIGN), m["alg"], "hash_algorithm")
    return _data(call, call.transit.sign(m["name"], **body))


@route("update", r"transit/verify/(?P<name>[^/]+)(?:/(?P<alg>[^/]+))?")
def transit_verify(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    if "hmac" in call.body:
        body = _with_alg(f.pick(call.body, f.TRANSIT_VERIFY_HMAC), m["alg"], "algorithm")
        return _data(call, call.transit.verify_hmac(m["name"], **body))
    body = _with_alg(f.pick(call.body, f.TRANSIT_VERIFY), m["alg"], "hash_algorithm")
    return _data(call, call.transit.verify(m["name"], **body))


@route("update", r"transit/random(?:/(?P<a>[^/]+))?(?:/(?P<b>[^/]+))?")
def transit_random(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    body = f.pick(call.body, f.TRANSIT_RANDOM, rename={"bytes": "num_bytes"})
    for part in (m["a"], m["b"]):
        if part is None:
            continue
        if part.isdigit():
            body["num_bytes"] = int(part)
        elif part in ("base64", "hex"):
            body["format"] = part
    return _data(call, call.transit.random(**body))


# --- strongroom key lifecycle extensions ------------------------------------------------------------


@route(
    "update",
    r"strongroom/keys/(?P<name>[^/]+)/(?P<op>disable|enable|schedule-deletion|cancel-deletion|destroy|"
    r"purge-protection)",
)
def sr_key_lifecycle(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    t = call.space.transit
    name, op = m["name"], m["op"]
    if op == "disable":
        out = t.disable(name)
    elif op == "enable":
        out = t.enable(name)
    elif op == "schedule-deletion":
        days = f.integer("days", call.body.get("days"))
        out = t.schedule_deletion(name, days=30 if days is None else days)
    elif op == "cancel-deletion":
        out = t.cancel_deletion(name)
    elif op == "destroy":
        out = t.destroy(name, force=f.boolean("force", call.body.get("force", False)))
    else:
        out = t.enable_purge_protection(name)
    return _data(call, out) if isinstance(out, dict) else None


@route("read", r"strongroom/keys/(?P<name>[^/]+)/key-access")
def sr_key_access(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """Which key access justifications the key's owner refuses for this key (keys/release.py)."""
    t = call.space.transit
    t.read_key(m["name"])  # 404 for a missing key
    return _data(
        call,
        {"refused_justifications": list(t.refused_justifications(m["name"])), "justifications": list(JUSTIFICATIONS)},
    )


@route("update", r"strongroom/keys/(?P<name>[^/]+)/key-access")
def sr_key_access_set(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """Set the refused justifications: ``{"refused_justifications": [...]}`` (an empty list refuses none)."""
    refused = f.comma_list("refused_justifications", call.body.get("refused_justifications"))
    if refused is None:
        raise VaultHTTPError(400, ["refused_justifications is required (a list; empty refuses none)"])
    unknown = sorted(set(refused) - set(JUSTIFICATIONS))
    if unknown:
        raise VaultHTTPError(
            400, [f"unknown justification(s) {', '.join(unknown)}; valid: {', '.join(JUSTIFICATIONS)}"]
        )
    got = call.space.transit.set_refused_justifications(m["name"], tuple(refused))
    return _data(call, {"refused_justifications": list(got), "justifications": list(JUSTIFICATIONS)})


def _bucket(app: VaultApp, call: Call, name: str) -> Any:
    """The bucket ``name`` if it belongs to the request namespace's tenant (its keys live there); else 404."""
    bucket = app.core.repo.get_bucket(name) if app.core.repo is not None else None
    if bucket is None or bucket.tenant_id != call.space.tenant:
        raise VaultHTTPError(404, [])
    return bucket


@route("read", r"strongroom/buckets/(?P<name>[^/]+)")
def sr_bucket(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """Where a bucket of the namespace's tenant lives and which key protects it."""
    bucket = _bucket(app, call, m["name"])
    return _data(
        call,
        {
            "name": bucket.name,
            "id": bucket.id,
            "region": bucket.region,
            "tenant": bucket.tenant_id,
            "key": bucket.bucket_key_id,
            "default_sse": bucket.sse_algorithm,
            "default_kms_key": bucket.kms_key_id,
        },
    )


@route("list", r"strongroom/buckets/?")
def sr_bucket_list(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """The namespace tenant's buckets, with the key that protects each (``key_info``, as Vault's LIST answers)."""
    buckets = app.core.repo.list_buckets(call.space.tenant) if app.core.repo is not None else []
    if not buckets:
        raise VaultHTTPError(404, [])
    return _data(
        call,
        {
            "keys": [b.name for b in buckets],
            "key_info": {b.name: {"id": b.id, "key": b.bucket_key_id, "region": b.region} for b in buckets},
        },
    )


@route("update", r"strongroom/buckets/(?P<name>[^/]+)/rewrap")
def sr_bucket_rewrap(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """Rewrap every DEK1 of the bucket under its keys' latest versions; streams NDJSON progress."""
    from starlette.responses import StreamingResponse

    from strongroom.service.rewrap import rewrap_bucket

    _bucket(app, call, m["name"])
    repo = app.core.repo
    assert repo is not None
    transit = call.space.transit

    def lines() -> Any:
        try:
            for p in rewrap_bucket(repo, transit, call.space.tenant, m["name"]):
                yield json.dumps(p.__dict__).encode() + b"\n"
        except errors.StrongroomError as exc:
            yield json.dumps({"error": exc.message}).encode() + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


# --- internal API (S3 gateways, with the per-start internal token); X-Vault-Namespace selects the tenant ---------


def _key_use(body: dict[str, Any]) -> KeyUse:
    """The acting principal, operation, grant and justification of a bucket-key request (the wire shape is
    ``KeyUse.to_wire``)."""
    principal = f.mapping("principal", body.get("principal")) or {}
    kind = f.string("principal.type", principal.get("type"))
    operation = f.string("operation", body.get("operation"))
    justification = f.string("justification", body.get("justification"))
    if not kind or not operation or not justification:
        raise VaultHTTPError(400, ["principal.type, operation and justification are required"])
    return KeyUse(
        principal_type=kind,
        tenant=f.string("principal.tenant", principal.get("tenant")) or "",
        user=f.string("principal.user", principal.get("user")) or "",
        access_key=f.string("principal.access_key", principal.get("access_key")),
        operation=operation,
        grant=f.string("grant", body.get("grant")),
        justification=justification,
    )


@route("update", r"strongroom/internal/bucket-key/(?P<name>[^/]+)")
def sr_internal_bucket_key(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """The bucket key of one bucket under a version of the key (None: the latest, to encrypt with), for whom the
    gateway acts (keys/release.py decides; the key's own material never leaves the vault)."""
    version = f.integer("version", call.body.get("version"))
    bucket = f.string("bucket", call.body.get("bucket"))
    bucket_id = f.string("bucket_id", call.body.get("bucket_id"))
    if not bucket or not bucket_id:
        raise VaultHTTPError(400, ["bucket and bucket_id are required"])
    use = _key_use(call.body)
    call.key_release = {
        "key": {"name": m["name"], "version": version},
        "bucket": bucket,
        "acting": {"type": use.principal_type, "tenant": use.tenant, "user": use.user, "access_key": use.access_key},
        "operation": use.operation,
        "justification": use.justification,
        "grant": use.grant,
    }
    got = app.core.release_bucket_key(m["name"], version, call.namespace, bucket, bucket_id, use)
    call.key_release["key"]["version"] = got.version
    call.key_release["justification"] = got.justification
    return _data(
        call,
        {
            "version": got.version,
            "key": base64.b64encode(got.key).decode(),
            "justification": got.justification,
            "ttl": got.ttl,
        },
    )


@route("read", r"strongroom/internal/keyinfo/(?P<name>[^/]+)")
def sr_internal_keyinfo(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return _data(call, app.core.key_info(m["name"], call.namespace))


def _existing(app: VaultApp, name: str) -> Namespace:
    try:
        return app.core.namespace(name)
    except errors.NotFound:
        raise VaultHTTPError(400, [f"namespace {name or 'root'} does not exist"]) from None


@route("update", r"strongroom/internal/keys/(?P<name>[^/]+)")
def sr_internal_create(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """A bucket's or customer's key in the header's namespace; only ``region`` is read from the body."""
    space = _existing(app, call.namespace)
    region = f.string("region", call.body.get("region")) or "local"
    space.transit.create_key(m["name"], type="aes256-gcm96", tenant=space.tenant, region=region)
    return _data(call, app.core.key_info(m["name"], call.namespace))


@route("update", r"strongroom/internal/namespaces/(?P<name>[^/]+)")
def sr_internal_namespace_create(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """Create a tenant's namespace (idempotent)."""
    return _data(call, _namespace_data(app.core.create_namespace(m["name"])))


@route("delete", r"strongroom/internal/namespaces/(?P<name>[^/]+)")
def sr_internal_namespace_delete(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """Delete a tenant's namespace; refused (DeleteConflict, 400) while it holds keys or secrets."""
    app.core.delete_namespace(m["name"])
    return None


@route("update", r"strongroom/internal/namespaces/(?P<name>[^/]+)/token")
def sr_internal_namespace_token(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """A token of the namespace with its built-in ``tenant-admin`` policy (every capability in the namespace)."""
    name = ns.check_name(m["name"])
    if app.core.namespace_info(name) is None:
        raise errors.NotFound(f"namespace {name} not found")
    ttl = f.integer("ttl", call.body.get("ttl"))
    display_name = f.string("display_name", call.body.get("display_name")) or "tenant-admin"
    user = f.string("user", call.body.get("user"))
    token, entry = app.core.tokens.create(
        policies=[TENANT_ADMIN_POLICY_NAME],
        parent=None,
        ttl=max(0, ttl or 0),
        display_name=display_name,
        renewable=False,
        namespace=name,
        meta={TOKEN_USER_META: user} if user else None,
    )
    return _data(
        call,
        {
            "client_token": token,
            "accessor": entry.accessor,
            "policies": entry.policies,
            "lease_duration": entry.ttl,
            "namespace": name,
        },
    )


#: the metadata key naming the tenant user a namespace token was minted for (revoked with that user)
TOKEN_USER_META = "strongroom_user"


@route("update", r"strongroom/internal/namespaces/(?P<name>[^/]+)/revoke-user-tokens")
def sr_internal_revoke_user_tokens(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """Revoke the namespace tokens minted for a user of the tenant (the user was deleted or lost admin)."""
    name = ns.check_name(m["name"])
    user = f.string("user", call.body.get("user"))
    if not user:
        raise VaultHTTPError(400, ["user is required"])
    return _data(call, {"revoked": app.core.tokens.revoke_where(name, TOKEN_USER_META, user)})


@route("read", r"strongroom/internal/credentials/(?P<ak>[^/]+)")
def sr_internal_credential(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    cred = app.core.get_credential(m["ak"])
    if cred is None:
        raise VaultHTTPError(404, [])
    return _data(
        call,
        {
            "secret": cred["secret"],
            "tenant": cred["tenant"],
            "user": cred.get("user", "admin"),
            "bootstrap": bool(cred.get("bootstrap", False)),
        },
    )


@route("update", r"strongroom/internal/credentials/(?P<ak>[^/]+)")
def sr_internal_credential_put(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    secret = f.string("secret", call.body.get("secret"))
    tenant = f.string("tenant", call.body.get("tenant"))
    if not secret or not tenant:
        raise VaultHTTPError(400, ["secret and tenant are required"])
    app.core.put_credential(m["ak"], secret, tenant, f.string("user", call.body.get("user")) or "admin")
    return None


@route("read", r"strongroom/internal/bootstrap")
def sr_internal_bootstrap(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """The first unseal's credentials (ids, tenants, users), so the gateway can make their tenant and user rows."""
    return _data(call, {"credentials": app.core.bootstrap_credentials()})


@route("delete", r"strongroom/internal/credentials/(?P<ak>[^/]+)")
def sr_internal_credential_delete(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    app.core.delete_credential(m["ak"])
    return None


@route("read", r"strongroom/internal/status")
def sr_internal_status(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return _data(
        call,
        {
            "sealed": app.core.sealed,
            "initialized": app.core.initialized(),
            "credentials": app.core.count_credentials() if not app.core.sealed else None,
        },
    )


@route("update", r"strongroom/internal/audit/sign")
def sr_internal_audit_sign(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """Sign an audit checkpoint (base64 ``input``) with the vault's audit key: raw Ed25519, base64."""
    raw = call.body.get("input")
    if not isinstance(raw, str):
        raise VaultHTTPError(400, ["missing input"])
    version, signature = app.audit_key.sign(_b64(raw, "input"))
    return _data(call, {"signature": base64.b64encode(signature).decode(), "key_version": version})


@route("read", r"strongroom/internal/audit/public-keys")
def sr_internal_audit_public_keys(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    """Every version's raw 32-byte Ed25519 public key, base64, and the version that signs now."""
    keys = app.audit_key.public_keys()
    return _data(
        call,
        {"keys": {str(v): base64.b64encode(k).decode() for v, k in sorted(keys.items())}, "latest_version": max(keys)},
    )


# --- KV v2 -------------------------------------------------------------------------------------------------


@route("read", r"secret/config")
def kv_read_config(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return _data(call, call.kv.read_config())


@route("update", r"secret/config")
def kv_config(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.kv.configure(**f.pick(call.body, f.KV_CONFIG))
    return None


@route("read", r"secret/data/(?P<path>.+)")
def kv_read(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    version = call.query.get("version")
    try:
        return _data(call, call.kv.read(m["path"], int(version) if version else None))
    except errors.KVVersionDeleted as exc:
        return json_response(_data(call, exc.data), 404)


@route("update", r"secret/data/(?P<path>.+)")
def kv_write(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    options = call.body.get("options") or {}
    cas = options.get("cas") if isinstance(options, dict) else None
    data = call.body.get("data")
    if not isinstance(data, dict):
        raise VaultHTTPError(400, ["no data provided"])
    return _data(call, call.kv.create_or_update(m["path"], data, None if cas is None else int(cas)))


@route("patch", r"secret/data/(?P<path>.+)")
def kv_patch(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    options = call.body.get("options") or {}
    cas = options.get("cas") if isinstance(options, dict) else None
    return _data(call, call.kv.patch(m["path"], call.body.get("data"), None if cas is None else int(cas)))


@route("delete", r"secret/data/(?P<path>.+)")
def kv_delete_latest(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.kv.delete_latest(m["path"])
    return None


@route("update", r"secret/(?P<op>delete|undelete|destroy)/(?P<path>.+)")
def kv_versions_op(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    versions = call.body.get("versions")
    if not versions:
        raise VaultHTTPError(400, ["no version number provided"])
    fn = {
        "delete": call.kv.delete_versions,
        "undelete": call.kv.undelete_versions,
        "destroy": call.kv.destroy_versions,
    }[m["op"]]
    fn(m["path"], versions)
    return None


@route("list", r"secret/metadata(?:/(?P<path>.*))?")
def kv_list(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    out = call.kv.list(m["path"] or "")
    return keys_or_404(call, (out.get("keys") if isinstance(out, dict) else out) or [])


@route("read", r"secret/metadata/(?P<path>.+)")
def kv_read_metadata(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return _data(call, call.kv.read_metadata(m["path"]))


@route("update", r"secret/metadata/(?P<path>.+)")
def kv_update_metadata(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.kv.update_metadata(m["path"], **f.pick(call.body, f.KV_METADATA))
    return None


@route("patch", r"secret/metadata/(?P<path>.+)")
def kv_patch_metadata(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.kv.patch_metadata(m["path"], **f.pick(call.body, f.KV_METADATA))
    return None


@route("delete", r"secret/metadata/(?P<path>.+)")
def kv_delete_metadata(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.kv.delete_metadata(m["path"])
    return None


# --- KV v1 (enabled mounts only: ``sys/mounts/PATH`` with ``type=kv``) ----------------------------------------


@route("read", r"kv1/(?P<path>.+)")
def kv1_read(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    data = call.kv.read(m["path"])
    if data is None:
        raise VaultHTTPError(404, [])
    assert call.mount is not None
    body = _data(call, data)
    body["lease_duration"] = call.mount.effective_ttls()[0]  # Vault shows the mount's default TTL on a v1 read
    return body


@route("list", r"kv1(?:/(?P<path>.*))?")
def kv1_list(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    return keys_or_404(call, call.kv.list(m["path"] or ""))


@route("update", r"kv1/(?P<path>.+)")
def kv1_write(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.kv.write(m["path"], dict(call.body))
    return None


@route("delete", r"kv1/(?P<path>.+)")
def kv1_delete(app: VaultApp, call: Call, m: re.Match[str]) -> Any:
    call.kv.delete(m["path"])
    return None


# the crypto-shred's, the mount tables' and the auth methods' routes (they register in ROUTES as they are imported)
from strongroom.http.vault import authmethods as _authmethods  # noqa: E402, F401
from strongroom.http.vault import mounts as _mounts  # noqa: E402, F401
from strongroom.http.vault import shred as _shred  # noqa: E402, F401
from strongroom.http.vault import token_roles as _token_roles  # noqa: E402, F401
