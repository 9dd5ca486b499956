"""First run and every start: data directory, database schema, key roots, regions, root credentials."""

from __future__ import annotations

import logging
import os
import secrets
import string
from dataclasses import dataclass

from strongroom.config import Settings
from strongroom.keys.keystore import KeyStore
from strongroom.keys.rootfile import load_or_create_root_file
from strongroom.metadata.repository import Repository
from strongroom.service.runtime import Runtime
from strongroom.storage import open_blob_store

log = logging.getLogger("strongroom")

ROOT_TENANT = "root"
SERVICE_ROOT_FILE = "service-root.key"
INFRA_ROOT_FILE = "infra-root.key"


@dataclass(frozen=True)
class GeneratedCredentials:
    access_key: str
    secret_key: str


def build_runtime(settings: Settings, run_migrations: bool) -> Runtime:
    os.umask(0o077)  # every file strongroom creates (database, blobs, keys) is private to its user
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(settings.data_dir, 0o700)
    repo = Repository.open(settings.db_url, run_migrations=run_migrations)
    service_root = load_or_create_root_file(settings.keys_dir / SERVICE_ROOT_FILE)
    infra_root = load_or_create_root_file(settings.keys_dir / INFRA_ROOT_FILE)
    keys = KeyStore(repo, service_root, infra_root)
    stores = {region: open_blob_store(settings.region_backend(region)) for region in settings.regions}
    return Runtime(settings=settings, repo=repo, keys=keys, stores=stores)


def first_start(rt: Runtime) -> GeneratedCredentials | None:
    """Create regions' infrastructure keys and, once, the root tenant's credentials.

    Root credentials come from STRONGROOM_ROOT_ACCESS_KEY / STRONGROOM_ROOT_SECRET_KEY, or are
    generated and returned (to be printed once). The secret is stored sealed, never in plaintext.
    """
    for region in rt.settings.regions:
        rt.keys.ensure_region(region)
    rt.repo.ensure_tenant(ROOT_TENANT, ROOT_TENANT)
    if rt.repo.count_access_keys() > 0:
        return None
    access = os.environ.get("STRONGROOM_ROOT_ACCESS_KEY")
    secret = os.environ.get("STRONGROOM_ROOT_SECRET_KEY")
    generated = None
    if not access or not secret:
        alphabet = string.ascii_uppercase + string.digits
        access = "SR" + "".join(secrets.choice(alphabet) for _ in range(18))
        secret = secrets.token_urlsafe(30)
        generated = GeneratedCredentials(access, secret)
    rt.repo.add_access_key(access, ROOT_TENANT, rt.keys.seal_credential(access, secret), is_operator=False)
    return generated
