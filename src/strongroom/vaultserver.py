"""The key vault process: one per deployment, beside the S3 gateways, on --vault-port over TLS."""

from __future__ import annotations

import logging
import os
import secrets
import string
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from strongroom import logs
from strongroom.config import Settings
from strongroom.core import errors
from strongroom.http.accesslog import AccessLog
from strongroom.http.vault.app import VaultApp
from strongroom.keys.seal import SealManager
from strongroom.metadata.repository import Repository
from strongroom.metadata.vaultstore import SqlPhysicalStorage
from strongroom.service import vaultregister
from strongroom.service.vault import VaultCore

log = logging.getLogger("strongroom.vault")

INTERNAL_TOKEN_ENV = "STRONGROOM__INTERNAL_TOKEN"
UNSEAL_KEY_FILE = "unseal.key"
DEFAULT_TENANT = "default"  # the first tenant (its admin's credential is made at first unseal)
OPERATOR_TENANT = "system"  # the operators' tenant: the vault's root namespace
AUTO_UNSEAL_RETRY_SECONDS = 10.0


def make_seal_manager(settings: Settings, physical: SqlPhysicalStorage) -> SealManager:
    if settings.seal == "keyfile":
        return SealManager.with_keyfile(physical, settings.keys_dir / UNSEAL_KEY_FILE)
    if settings.seal == "pkcs11":
        return SealManager.with_pkcs11(
            physical, settings.pkcs11_lib, settings.pkcs11_token_label, settings.pkcs11_pin, settings.pkcs11_key_label
        )
    return SealManager(physical)


def _credential_from_env(access_env: str, secret_env: str) -> tuple[str, str, bool]:
    access = os.environ.get(access_env)
    secret = os.environ.get(secret_env)
    if access and secret:
        return access, secret, False
    alphabet = string.ascii_uppercase + string.digits
    return "SR" + "".join(secrets.choice(alphabet) for _ in range(18)), secrets.token_urlsafe(30), True


def _banner(label: str, access: str, secret: str) -> None:
    """Printed to stdout, never logged (whatever log_format): the one place a secret leaves the vault unasked."""
    print("=" * 72)
    print(f"strongroom {label} S3 credentials (shown once; the secret is sealed in the vault):")
    print(f"  access key: {access}")
    print(f"  secret key: {secret}")
    print("=" * 72, flush=True)


def ensure_root_credentials(core: VaultCore) -> None:
    """At every unseal: upgrade data of the single-tenant version (idempotent). At the first: the first tenant's
    namespace ``default`` and its admin's S3 credential, and the operators' (tenant ``system``) credential, each
    taken from the environment or generated and printed once."""
    core.upgrade()
    if core.count_credentials() > 0:
        return
    core.create_namespace(DEFAULT_TENANT)
    access, secret, generated = _credential_from_env("STRONGROOM_ROOT_ACCESS_KEY", "STRONGROOM_ROOT_SECRET_KEY")
    core.put_credential(access, secret, DEFAULT_TENANT, "admin", bootstrap=True)
    if generated:
        _banner("root (tenant default, user admin)", access, secret)
    op_access, op_secret, op_generated = _credential_from_env(
        "STRONGROOM_OPERATOR_ACCESS_KEY", "STRONGROOM_OPERATOR_SECRET_KEY"
    )
    if op_access == access:  # one access key cannot be both: the operator's is generated instead
        op_access, op_secret, op_generated = _credential_from_env("", "")
    core.put_credential(op_access, op_secret, OPERATOR_TENANT, "admin", bootstrap=True)
    if op_generated:
        _banner("operator (tenant system, user admin)", op_access, op_secret)


def on_unsealed(settings: Settings) -> Callable[[VaultCore], None]:
    """What every unseal does before the vault serves: re-destroy what the register of destroyed keys handed to a
    restore lists (service/vaultregister.py; a register this vault did not sign seals it again), then the root
    credentials' upkeep."""
    register_file = settings.keys_dir / vaultregister.FILE

    def hook(core: VaultCore) -> None:
        if register_file.is_file():
            try:
                vaultregister.apply(core, vaultregister.read(register_file))
            except (errors.StrongroomError, ValueError, KeyError, TypeError) as exc:
                core.seal()
                raise errors.InvalidRequest(f"{register_file} cannot be applied: {exc}") from None
        ensure_root_credentials(core)

    return hook


def build_vault(settings: Settings) -> VaultCore:
    repo = Repository.open(settings.db_url, run_migrations=False)
    physical = SqlPhysicalStorage(repo)
    return VaultCore(physical, make_seal_manager(settings, physical), on_unsealed=on_unsealed(settings), repo=repo)


def start_vault(core: VaultCore, settings: Settings) -> None:
    """First start and every start: initialise (auto-unseal seals only) and unseal if the seal allows it."""
    if settings.seal == "keyfile":
        logs.notice(
            logging.WARNING,
            "WARNING: the vault's unseal key is in a key file under the data directory (seal = keyfile).",
            "That is for development only: anyone who can read the data directory can unseal the vault.",
            'Use seal = "shamir" (strongroom operator init/unseal) or "pkcs11" (an HSM) in production.',
            loud=True,
        )
    if settings.seal == "shamir":
        if not core.initialized():
            logs.notice(
                logging.INFO,
                "The vault is not initialised: run `strongroom operator init`, then `strongroom operator unseal`.",
            )
        else:
            logs.notice(
                logging.INFO, "The vault is sealed: run `strongroom operator unseal` with the threshold of key shares."
            )
        return
    try:
        if not core.initialized():
            wanted = os.environ.get("STRONGROOM_ROOT_TOKEN")
            out = core.initialize(1, 1, root_token=wanted or None)
            if not wanted:
                print("=" * 72)
                print("strongroom vault root token (shown once): " + out.root_token)
                print("=" * 72, flush=True)
        core.auto_unseal()
    except (errors.SealDeviceError, errors.DecryptionFailed, errors.SealMismatch, errors.InvalidRequest) as exc:
        # fail closed but keep serving: S3 answers 503 and sys/seal-status says sealed until the device works
        logs.notice(
            logging.ERROR,
            f"ERROR: the vault could not auto-unseal ({exc.message}); it stays sealed and retries every "
            f"{AUTO_UNSEAL_RETRY_SECONDS:.0f} s.",
        )
        threading.Thread(target=_retry_auto_unseal, args=(core,), daemon=True).start()


def _retry_auto_unseal(core: VaultCore) -> None:
    while core.sealed:
        time.sleep(AUTO_UNSEAL_RETRY_SECONDS)
        try:
            if core.initialized():
                core.auto_unseal()
                logs.notice(logging.INFO, "the vault auto-unsealed")
        except errors.StrongroomError:
            continue


def run_vault(settings: Settings) -> None:
    from strongroom.server import VAULT_FD_ENV, TLSConfig, inherited_socket
    from strongroom.tls import TLS12_CIPHERS, ensure_tls

    logs.configure(settings.log_level, settings.log_format)
    core = build_vault(settings)
    start_vault(core, settings)
    chain = None
    if settings.audit_log and core.repo is not None:
        from strongroom.audit.sink import AuditLog
        from strongroom.metadata.auditstore import AuditStore

        chain = AuditLog(AuditStore(core.repo))  # every vault call in the audit chains; changes with their entry
    vault_app = VaultApp(
        core, internal_token=os.environ.get(INTERNAL_TOKEN_ENV), chain=chain, metrics_public=settings.metrics_public
    )
    app = AccessLog(vault_app, "strongroom.vault.access")
    kwargs: dict[str, Any] = dict(
        host=settings.host,
        port=settings.vault_port,
        log_level=settings.log_level,
        log_config=logs.logging_config(settings.log_level, settings.log_format),
        access_log=False,  # AccessLog writes the access lines
        server_header=False,
        timeout_graceful_shutdown=30,
        lifespan="on",
        http="h11",  # httptools refuses the LIST method
        ws="none",  # no WebSocket endpoint: an Upgrade request stays an HTTP request (as the gateway's, server.py)
    )
    tls_files = None
    if not settings.insecure_http:
        tls_files = ensure_tls(settings)
        tls_files = type(tls_files)(tls_files.cert, tls_files.key, tls_files.ca, None)  # tokens, not client certs
        kwargs.update(ssl_certfile=str(tls_files.cert), ssl_keyfile=str(tls_files.key), ssl_ciphers=TLS12_CIPHERS)
    config = TLSConfig(app, tls_files=tls_files, **kwargs)
    sock = inherited_socket(VAULT_FD_ENV)  # bound by `strongroom serve` before it printed anything
    uvicorn.Server(config).run(sockets=[sock] if sock is not None else None)


if __name__ == "__main__":
    from strongroom.config import load_settings

    run_vault(load_settings())
