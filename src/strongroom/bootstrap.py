"""Every start: data directory, database schema, the infrastructure root, regions, the vault client."""

from __future__ import annotations

import logging
import os

from strongroom.config import Settings
from strongroom.keys.keystore import KeyStore
from strongroom.keys.rootfile import load_or_create_root_file
from strongroom.keys.vaultclient import VaultClient
from strongroom.metadata.repository import Repository
from strongroom.service.runtime import Runtime
from strongroom.storage import open_blob_store

log = logging.getLogger("strongroom")

INFRA_ROOT_FILE = "infra-root.key"
INTERNAL_TOKEN_ENV = "STRONGROOM__INTERNAL_TOKEN"


def build_runtime(settings: Settings, run_migrations: bool) -> Runtime:
    os.umask(0o077)  # every file strongroom creates (database, blobs, keys) is private to its user
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(settings.data_dir, 0o700)
    repo = Repository.open(settings.db_url, run_migrations=run_migrations)
    infra_root = load_or_create_root_file(settings.infra_root_file or settings.keys_dir / INFRA_ROOT_FILE)
    vault = VaultClient(settings.vault_endpoint, os.environ.get(INTERNAL_TOKEN_ENV, ""), settings.vault_ca_file())
    keys = KeyStore(repo, infra_root, vault)
    stores = {region: open_blob_store(settings.region_backend(region)) for region in settings.regions}
    return Runtime(settings=settings, repo=repo, keys=keys, vault=vault, stores=stores)


def first_start(rt: Runtime) -> None:
    """Create each configured region's infrastructure key (layer 2) once."""
    for region in rt.settings.regions:
        rt.keys.ensure_region(region)
