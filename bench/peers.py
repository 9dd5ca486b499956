"""The servers under test, each started fresh on loopback: strongroom (1 or 2 workers), rclone ``serve s3`` over a
crypt remote and over a plain directory, moto's server (in memory), and the null server (harness ceiling).

Every server gets TLS: strongroom its own generated CA, the others a CA and server certificate made with
``strongroom.crypto.x509ca.create_ca_and_server_cert``. The process tree of each is what RSS and CPU are read from.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from bench.loadgen import Endpoint

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
RCLONE = shutil.which("rclone", path=str(VENV_BIN)) or shutil.which("rclone") or "rclone"
MOTO = shutil.which("moto_server", path=str(VENV_BIN)) or shutil.which("moto_server") or "moto_server"
KMS_KEY = "benchkey"

# capabilities a target supports; a figure needing one the target lacks is "n/a"
SMALL, LARGE, MPU, RANGE, LIST, SSE = "small", "large", "mpu", "range", "list", "sse"
S3_CAPS = frozenset({SMALL, LARGE, MPU, RANGE, LIST})


SOURCE: dict[str, str | Path] = {
    "root": ROOT,
    "desc": "working tree",
}  # where strongroom's code comes from (see use_snapshot)


def use_snapshot(rev: str, into: Path) -> str:
    """Benchmark commit ``rev`` instead of the working tree: ``git archive`` (read-only for the repository) of src/
    and tests/conftest.py into ``into``, put first on PYTHONPATH for this process and every server it starts.
    Returns the full commit id."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", sha, "src", "tests/conftest.py"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    src = str(into / "src")
    sys.path.insert(0, src)
    os.environ["PYTHONPATH"] = os.pathsep.join([src, str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    SOURCE.update(root=into, desc=f"git archive {sha[:12]} (--rev {rev})")
    for name in [m for m in sys.modules if m == "strongroom" or m.startswith("strongroom.")]:
        del sys.modules[name]
    return sha


def load_starter() -> ModuleType:
    """The server starter (start_server, ROOT_ACCESS, ROOT_SECRET): strongroom.devserver of the code under test; a
    --rev older than that module has it in its tests/conftest.py, loaded without pytest collecting anything."""
    try:
        import strongroom.devserver as devserver

        return devserver
    except ImportError:
        pass
    name = "strongroom_tests_conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(SOURCE["root"]) / "tests" / "conftest.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up there
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]  # or every later target would get the half-loaded module (and a confusing error)
        raise
    return mod


def credentials() -> tuple[str, str]:
    """One access key pair for every server (the test suite's root pair; rclone refuses very short keys)."""
    ct = load_starter()
    return ct.ROOT_ACCESS, ct.ROOT_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    """A started server."""

    name: str  # column id: strongroom-w1, rclone-crypt, ...
    label: str  # human description
    ep: Endpoint
    pid: int
    stop: Callable[[], None]
    caps: frozenset[str]
    version: str = ""
    notes: list[str] = field(default_factory=list)
    log_path: Path | None = None

    def log_tail(self, n: int = 4000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-n:]


def peer_tls(workdir: Path) -> Path:
    """A CA + localhost server certificate for the peers (ca.pem, server.pem, server-key.pem)."""
    from strongroom.crypto.x509ca import create_ca_and_server_cert

    tls = workdir / "peer-tls"
    if not (tls / "server.pem").exists():
        create_ca_and_server_cert(tls)
    return tls


def wait_ready(ep: Endpoint, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Until an HTTP request over the endpoint's transport gets any answer."""
    ctx = ep.ssl_context()
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection((ep.host, ep.port), timeout=2) as raw:
                sock: socket.socket | ssl.SSLSocket = (
                    ctx.wrap_socket(raw, server_hostname=ep.host) if ctx is not None else raw
                )
                sock.sendall(f"GET / HTTP/1.1\r\nHost: {ep.hostport}\r\nConnection: close\r\n\r\n".encode())
                if sock.recv(12).startswith(b"HTTP/1."):
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server not ready after {timeout}s ({last}):\n{log.read_text(errors='replace')[-3000:]}")


def _stopper(proc: subprocess.Popen[bytes]) -> Callable[[], None]:
    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    return stop


def _spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    fh = log.open("wb")
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=full_env, cwd=log.parent)


def strongroom_version() -> str:
    import strongroom

    return getattr(strongroom, "__version__", "?")


AUDIT_OFF_ENV = {"STRONGROOM_AUDIT_LOG": "false"}
AUDIT_OFF_BANNER = "audit_log = false"  # what `strongroom serve` prints when the audit log is off


def start_strongroom(workdir: Path, workers: int, audit: bool = True) -> Running:
    """strongroom on its defaults (TLS, SQLite, local disk) with --workers N, plus the SSE-KMS key. ``audit=False``
    turns the audit log off (``STRONGROOM_AUDIT_LOG=false``, for measuring what it costs): ``strongroom-wN-noaudit``."""
    ct = load_starter()
    name = f"strongroom-w{workers}" + ("" if audit else "-noaudit")
    base = workdir / name
    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []

    def key_create() -> str | None:
        """None when created, else the last line of the error."""
        made = subprocess.run(
            [sys.executable, "-m", "strongroom", "key", "create", KMS_KEY, "--data-dir", str(data)],
            capture_output=True,
            text=True,
            cwd=base,
            timeout=120,
        )
        if made.returncode == 0:
            return None
        return ((made.stderr or made.stdout).strip().splitlines() or ["?"])[-1][:200]

    # Before the first start (the key store of the early commits); since keys live in the vault the server starts,
    # only afterwards. The CLI reaches the vault with STRONGROOM_ROOT_TOKEN (the starter's root token).
    os.environ.setdefault("STRONGROOM_ROOT_TOKEN", ct.ROOT_TOKEN)
    before = key_create()
    srv = ct.start_server(data, ["--workers", str(workers)], **({} if audit else {"env": AUDIT_OFF_ENV}))
    if not audit:
        if AUDIT_OFF_BANNER in srv.log():
            notes.append("audit log OFF (`STRONGROOM_AUDIT_LOG=false`; the server printed its warning)")
        else:
            notes.append(
                "**`STRONGROOM_AUDIT_LOG=false` was set but the server did not print its audit-off warning: this code "
                "may not know the setting, so this column may be measuring the audit log on (or a commit without it)**"
            )
    if before is not None:
        after = key_create()
        if after is not None:
            notes.append(f"`strongroom key create {KMS_KEY}` failed ({before}; after start: {after}): SSE-KMS void")
        else:
            notes.append(f"SSE-KMS key `{KMS_KEY}` created after the server started (keys live in its vault)")
    ep = Endpoint("https", "localhost", srv.port, srv.ca, ct.ROOT_ACCESS, ct.ROOT_SECRET, "local")
    label = f"strongroom {strongroom_version()}, --workers {workers}, defaults (TLS, SQLite, local disk)"
    if not audit:
        label += " except the audit log, OFF (`STRONGROOM_AUDIT_LOG=false`, for measuring only)"
    return Running(
        name=name,
        label=label,
        ep=ep,
        pid=srv.proc.pid,
        stop=lambda: srv.stop(),
        caps=S3_CAPS | {SSE},
        version=strongroom_version(),
        notes=notes,
        log_path=srv.log_path,
    )


def rclone_version() -> str:
    out = subprocess.run([RCLONE, "version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0].strip() if out else "?"


def start_rclone(workdir: Path, crypt: bool, access: str, secret: str) -> Running:
    """rclone serve s3 over TLS, over a crypt remote wrapping a local dir (or over the plain local dir)."""
    name = "rclone-crypt" if crypt else "rclone-plain"
    base = workdir / name
    backing = base / "backing"
    backing.mkdir(parents=True, exist_ok=True)
    tls = peer_tls(workdir)
    conf = base / "rclone.conf"
    if crypt:

        def obscure(pw: str) -> str:
            return subprocess.run([RCLONE, "obscure", pw], capture_output=True, text=True, check=True).stdout.strip()

        conf.write_text(
            "[benchcrypt]\n"
            "type = crypt\n"
            f"remote = {backing}\n"
            f"password = {obscure(secrets.token_urlsafe(24))}\n"
            f"password2 = {obscure(secrets.token_urlsafe(24))}\n"
        )
        remote = "benchcrypt:"
    else:
        conf.write_text("")
        remote = str(backing)
    port = free_port()
    log = base / "rclone.log"
    proc = _spawn(
        [
            RCLONE,
            "serve",
            "s3",
            remote,
            "--config",
            str(conf),
            "--addr",
            f"127.0.0.1:{port}",
            "--cert",
            str(tls / "server.pem"),
            "--key",
            str(tls / "server-key.pem"),
            "--auth-key",
            f"{access},{secret}",
            "--log-level",
            "ERROR",
        ],
        log,
    )
    ep = Endpoint("https", "localhost", port, str(tls / "ca.pem"), access, secret, "us-east-1")
    wait_ready(ep, proc, log)
    what = "crypt remote (XSalsa20-Poly1305, names encrypted) over a local dir" if crypt else "a plain local dir"
    return Running(
        name=name,
        label=f"{rclone_version()} serve s3 over {what}, TLS, defaults (--vfs-cache-mode off)",
        ep=ep,
        pid=proc.pid,
        stop=_stopper(proc),
        caps=S3_CAPS,
        version=rclone_version(),
        log_path=log,
    )


def moto_version() -> str:
    from importlib.metadata import version

    try:
        return "moto " + version("moto")
    except Exception:
        return "moto ?"


def start_moto(workdir: Path, access: str, secret: str) -> Running:
    """moto_server (in memory, no encryption at rest) with our certificate; plain HTTP if TLS fails to come up."""
    base = workdir / "moto"
    base.mkdir(parents=True, exist_ok=True)
    tls = peer_tls(workdir)
    notes: list[str] = []
    for use_tls in (True, False):
        port = free_port()
        log = base / f"moto-{'tls' if use_tls else 'http'}.log"
        args = [MOTO, "-H", "127.0.0.1", "-p", str(port)]
        if use_tls:
            args += ["-c", str(tls / "server.pem"), "-k", str(tls / "server-key.pem")]
        proc = _spawn(args, log)
        ep = Endpoint(
            "https" if use_tls else "http", "localhost", port, str(tls / "ca.pem"), access, secret, "us-east-1"
        )
        try:
            wait_ready(ep, proc, log, timeout=30)
        except RuntimeError as exc:
            _stopper(proc)()
            notes.append(f"TLS start failed, ran over plain HTTP: {str(exc)[:200]}")
            continue
        return Running(
            name="moto",
            label=f"{moto_version()} server (werkzeug, threaded), in memory, unencrypted, "
            + ("TLS (our certificate)" if use_tls else "**plain HTTP**"),
            ep=ep,
            pid=proc.pid,
            stop=_stopper(proc),
            caps=S3_CAPS,
            version=moto_version(),
            notes=notes,
            log_path=log,
        )
    raise RuntimeError("moto_server did not start")


def start_null(workdir: Path) -> Running:
    """bench/nullserver.py: in-memory PUT/GET, no auth, no crypto at rest (the harness ceiling)."""
    base = workdir / "null"
    base.mkdir(parents=True, exist_ok=True)
    tls = peer_tls(workdir)
    port = free_port()
    log = base / "null.log"
    proc = _spawn(
        [
            sys.executable,
            "-m",
            "bench.nullserver",
            "--port",
            str(port),
            "--cert",
            str(tls / "server.pem"),
            "--key",
            str(tls / "server-key.pem"),
        ],
        log,
        env={"PYTHONPATH": str(ROOT)},
    )
    ep = Endpoint("https", "localhost", port, str(tls / "ca.pem"), "null", "null", "us-east-1")
    wait_ready(ep, proc, log)
    return Running(
        name="null",
        label="null server: asyncio+uvloop, Python ssl, dict in memory, no auth (harness ceiling)",
        ep=ep,
        pid=proc.pid,
        stop=_stopper(proc),
        caps=frozenset({SMALL, LARGE, RANGE}),
        version="bench/nullserver.py",
        log_path=log,
    )
