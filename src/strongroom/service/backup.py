"""Backup, verify and restore: a consistent online copy of a deployment, everything still ciphertext.

A backup directory holds

- ``metadata.sqlite3`` or ``metadata.pgdump``: the metadata database (metadata/snapshot.py), which also holds the
  vault's storage (sealed by its barrier) and the audit chains;
- ``blobs/REGION/ID[:2]/ID``: every blob that database references, byte for byte as the backend stores it (sealed
  twice);
- ``blobs.jsonl``: one line per blob (region, id, size, SHA-256);
- ``manifest.json``: format, time, version, seal, regions, the SHA-256 and size of every other file, and its own
  digest. It is written last: a directory without it is not a backup.

Not in it, on purpose: the infrastructure root (``keys/infra-root.key``, layer 2), the keyfile seal's unseal key,
and TLS private keys. A backup alone opens nothing; ``restore`` takes the root files from the operator (and checks
them against fingerprints the manifest keeps), Shamir and HSM deployments unseal the restored vault as usual.

While the copy runs the server keeps serving: a backup lease in the database (``backup_leases``) keeps every
gateway's sweeper from deleting blobs queued as garbage since the lease began, so every blob the snapshot references
is still there when it is copied. The lease expires by itself if the backup dies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strongroom import __version__
from strongroom.config import Settings
from strongroom.core import errors
from strongroom.metadata import snapshot
from strongroom.metadata.repository import Repository
from strongroom.service import vaultregister
from strongroom.storage import BlobStore, open_blob_store

FORMAT = "strongroom-backup/1"
MANIFEST = "manifest.json"
BLOB_INDEX = "blobs.jsonl"
REGISTER = "destroyed-keys.json"  # the vault's register of destroyed keys when the backup began
CHUNK = 8 * 1024 * 1024
LEASE_SECONDS = 900.0
RENEW_SECONDS = 60.0
#: the lease holds garbage queued from this long before the backup began (gateways' clocks may run behind)
CLOCK_MARGIN = dt.timedelta(minutes=5)
INFRA_ROOT_FILE = "infra-root.key"
UNSEAL_KEY_FILE = "unseal.key"
_REGION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_BLOB = re.compile(r"^[0-9a-f-]{8,64}$")  # storage.base.validate_blob_id's alphabet

Progress = Callable[[int], None]  # called with the bytes just copied or checked


@dataclass(frozen=True)
class Blob:
    region: str
    id: str
    size: int
    sha256: str

    @property
    def path(self) -> str:
        return f"blobs/{self.region}/{self.id[:2]}/{self.id}"


def fingerprint(material: bytes) -> str:
    """A root file's fingerprint (SHA-256 under a label): says whether a file is the right one, reveals nothing."""
    return hashlib.sha256(b"strongroom root fingerprint v1\x00" + material).hexdigest()


def _digest(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _file_sha256(path: Path, progress: Progress | None = None) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
            if progress is not None:
                progress(len(chunk))
    return size, h.hexdigest()


def _fsync_write(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _root_files(settings: Settings) -> dict[str, str]:
    """Fingerprints of the root files the restore will ask for (the files stay out of the backup)."""
    out: dict[str, str] = {}
    infra = settings.infra_root_file or settings.keys_dir / INFRA_ROOT_FILE
    if infra.is_file():
        out["infra_root"] = fingerprint(infra.read_bytes())
    unseal = settings.keys_dir / UNSEAL_KEY_FILE
    if settings.seal == "keyfile" and unseal.is_file():
        out["unseal_key"] = fingerprint(unseal.read_bytes())
    return out


def _empty_dir(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise errors.InvalidArgument(f"{what} {path} is not empty")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


# --- backup ------------------------------------------------------------------------------------------------------


def plan(settings: Settings) -> tuple[Repository, dict[str, BlobStore]]:
    repo = Repository.open(settings.db_url, run_migrations=False)
    stores = {region: open_blob_store(settings.region_backend(region)) for region in settings.regions}
    return repo, stores


def take(
    settings: Settings,
    dest: Path,
    register: Callable[[], dict[str, Any]],
    on_total: Callable[[int, int], None] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Back up the deployment ``settings`` describes into the new directory ``dest``; returns the manifest.
    Blocking. ``register()``: the live vault's register of destroyed keys (asked before the snapshot, so it holds
    at least what the snapshot's tombstones say). ``on_total(blobs, bytes)`` once the blob list is known,
    ``progress(n)`` as bytes are copied."""
    for region in settings.regions:
        if not _REGION.match(region):
            raise errors.InvalidArgument(f"region name {region!r} cannot be a backup path")
    _empty_dir(dest, "the backup directory")
    _fsync_write(dest / REGISTER, (json.dumps(register(), indent=2, sort_keys=True) + "\n").encode())
    repo, stores = plan(settings)
    lease = secrets.token_hex(8)
    began = dt.datetime.now(dt.UTC)
    try:
        repo.hold_backup(lease, began - CLOCK_MARGIN, began + dt.timedelta(seconds=LEASE_SECONDS))
        db_kind = snapshot.kind(settings.db_url)
        with snapshot.snapshot(settings.db_url, dest) as refs:
            snapped = dt.datetime.now(dt.UTC)
        blobs = _copy_blobs(repo, lease, stores, refs, dest, on_total, progress)
    finally:
        try:
            repo.release_backup(lease)
        finally:
            repo.close()
    db_file = snapshot.SQLITE_FILE if db_kind == "sqlite" else snapshot.POSTGRES_FILE
    index = "".join(
        json.dumps({"region": b.region, "id": b.id, "size": b.size, "sha256": b.sha256}, sort_keys=True) + "\n"
        for b in blobs
    ).encode()
    _fsync_write(dest / BLOB_INDEX, index)
    files = {}
    for name in (db_file, BLOB_INDEX, REGISTER):
        size, sha = _file_sha256(dest / name)
        files[name] = {"size": size, "sha256": sha}
    regions: dict[str, dict[str, Any]] = {}
    for region, store in sorted(stores.items()):
        mine = [b for b in blobs if b.region == region]
        regions[region] = {"backend": store.describe(), "blobs": len(mine), "bytes": sum(b.size for b in mine)}
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "strongroom_version": __version__,
        "began_at": began.isoformat(),
        "snapshot_at": snapped.isoformat(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "database": {"kind": db_kind, "file": db_file},
        "seal": settings.seal,
        "root_fingerprints": _root_files(settings),
        "regions": regions,
        "blobs": {"count": len(blobs), "bytes": sum(b.size for b in blobs)},
        "files": files,
        "excluded": [
            "keys/infra-root.key (the infrastructure root, layer 2)",
            "keys/unseal.key (the keyfile seal's unseal key)",
            "tls/ (private keys; a restored deployment makes new TLS files)",
            "run/ (this run's addresses and metrics)",
        ],
    }
    manifest["digest"] = _digest(manifest)
    _fsync_write(dest / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest


def _copy_blobs(
    repo: Repository,
    lease: str,
    stores: dict[str, BlobStore],
    refs: list[tuple[str, str]],
    dest: Path,
    on_total: Callable[[int, int], None] | None,
    progress: Progress | None,
) -> list[Blob]:
    sizes: list[tuple[str, str, int]] = []
    for region, blob_id in refs:
        if region not in stores:
            raise errors.InvalidArgument(f"the database references region {region}, which is not configured")
        if not _BLOB.match(blob_id):
            raise errors.InvalidArgument(f"unexpected blob id {blob_id!r} in the database")
        try:
            sizes.append((region, blob_id, stores[region].size(blob_id)))
        except errors.BlobNotFound:
            raise errors.Unavailable(
                f"blob {blob_id} of region {region} is missing from its backend (deleted behind strongroom's back, "
                "or by a tenant crypto-shred running now)"
            ) from None
    if on_total is not None:
        on_total(len(sizes), sum(s for _, _, s in sizes))
    out: list[Blob] = []
    renewed = time.monotonic()
    for region, blob_id, size in sizes:
        if time.monotonic() - renewed > RENEW_SECONDS:
            now = dt.datetime.now(dt.UTC)
            repo.hold_backup(lease, now, now + dt.timedelta(seconds=LEASE_SECONDS))  # held_since stays
            renewed = time.monotonic()
        target = dest / "blobs" / region / blob_id[:2] / blob_id
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        h = hashlib.sha256()
        store = stores[region]
        with target.open("wb") as fh:
            offset = 0
            while offset < size:
                chunk = store.read(blob_id, offset, min(CHUNK, size - offset))
                if not chunk:
                    raise errors.Unavailable(f"blob {blob_id} of region {region} ended early")
                fh.write(chunk)
                h.update(chunk)
                offset += len(chunk)
                if progress is not None:
                    progress(len(chunk))
            fh.flush()
            os.fsync(fh.fileno())
        out.append(Blob(region, blob_id, size, h.hexdigest()))
    return out


# --- verify ------------------------------------------------------------------------------------------------------


def read_manifest(backup: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((backup / MANIFEST).read_text())
    except FileNotFoundError:
        raise errors.InvalidArgument(f"{backup} is not a strongroom backup (no {MANIFEST})") from None
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidArgument(f"{backup}/{MANIFEST} is damaged (not JSON)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise errors.InvalidArgument(f"{backup}/{MANIFEST} is not a {FORMAT} manifest")
    return manifest


def blob_index(backup: Path) -> Iterator[Blob]:
    with (backup / BLOB_INDEX).open() as fh:
        for line in fh:
            d = json.loads(line)
            blob = Blob(str(d["region"]), str(d["id"]), int(d["size"]), str(d["sha256"]))
            if not _REGION.match(blob.region) or not _BLOB.match(blob.id):
                raise errors.InvalidArgument(f"{BLOB_INDEX} names an invalid blob {blob.region}/{blob.id}")
            yield blob


def verify(
    backup: Path, on_total: Callable[[int, int], None] | None = None, progress: Progress | None = None
) -> list[str]:
    """Every problem found (empty: the backup is whole). Blocking. Checks the manifest's digest, every file's size
    and SHA-256, every blob the index lists, and that no file is there that the manifest does not name."""
    manifest = read_manifest(backup)
    problems: list[str] = []
    if manifest.get("digest") != _digest(manifest):
        problems.append(f"{MANIFEST}: its digest does not match its content")
    files: dict[str, dict[str, Any]] = manifest.get("files") or {}
    for name, want in sorted(files.items()):
        path = backup / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        size, sha = _file_sha256(path)
        if (size, sha) != (want.get("size"), want.get("sha256")):
            problems.append(f"{name}: content differs from the manifest (size {size}, sha256 {sha[:16]}...)")
    if any(p.startswith(BLOB_INDEX) for p in problems):
        return problems  # the index itself is not to be trusted
    try:
        blobs = list(blob_index(backup))
    except (ValueError, KeyError, errors.StrongroomError) as exc:
        return [*problems, f"{BLOB_INDEX}: unreadable ({exc})"]
    want_blobs = manifest.get("blobs") or {}
    if len(blobs) != want_blobs.get("count") or sum(b.size for b in blobs) != want_blobs.get("bytes"):
        problems.append(f"{BLOB_INDEX}: {len(blobs)} blobs, the manifest says {want_blobs.get('count')}")
    if on_total is not None:
        on_total(len(blobs), sum(b.size for b in blobs))
    for b in blobs:
        path = backup / b.path
        if not path.is_file():
            problems.append(f"{b.path}: missing")
            continue
        size, sha = _file_sha256(path, progress)
        if size != b.size or sha != b.sha256:
            problems.append(f"{b.path}: content differs from the index (size {size}, sha256 {sha[:16]}...)")
    expected = {b.path for b in blobs} | set(files) | {MANIFEST}
    for path in sorted(backup.rglob("*")):
        if path.is_file() and path.relative_to(backup).as_posix() not in expected:
            problems.append(f"{path.relative_to(backup).as_posix()}: not part of the backup")
    return problems


# --- restore -----------------------------------------------------------------------------------------------------


def _place_root(supplied: Path | None, want: str | None, target: Path, what: str, option: str) -> None:
    if want is None:
        return
    if target.exists():
        if fingerprint(target.read_bytes()) != want:
            raise errors.InvalidArgument(f"{target} is not the backed-up deployment's {what}")
        return
    if supplied is None:
        raise errors.InvalidArgument(f"the backup holds no {what} (on purpose): pass {option} FILE")
    material = supplied.read_bytes()
    if fingerprint(material) != want:
        raise errors.InvalidArgument(f"{supplied} is not the backed-up deployment's {what}")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(material)
        fh.flush()
        os.fsync(fh.fileno())


def restore(
    backup: Path,
    settings: Settings,
    infra_root_file: Path | None = None,
    unseal_key_file: Path | None = None,
    newer_register: Path | None = None,
    newest: bool = False,
    on_total: Callable[[int, int], None] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Restore ``backup`` into the empty data directory (and, for PostgreSQL, the empty database) ``settings``
    names, after verifying it whole. Blocking. Returns the manifest.

    ``newer_register``: a register of destroyed keys newer than the backup (the live vault's, or a newer backup's
    destroyed-keys.json); the restored vault re-destroys what it lists at every unseal. Without one, ``newest``
    must say this backup is the newest state there is (else a key destroyed after it would come back)."""
    problems = verify(backup)
    if problems:
        raise errors.InvalidArgument(
            f"the backup does not verify: {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    manifest = read_manifest(backup)
    if manifest.get("seal") != settings.seal:
        raise errors.InvalidArgument(
            f"the backup's vault uses seal = {manifest.get('seal')}; the configuration says {settings.seal}"
        )
    own = json.loads((backup / REGISTER).read_text())
    registers = [own]
    if newer_register is not None:
        try:
            supplied = vaultregister.read(newer_register)
        except (OSError, ValueError) as exc:
            raise errors.InvalidArgument(f"{newer_register}: not a register of destroyed keys ({exc})") from None
        for reg in supplied:
            why = vaultregister.check(reg, like=own)
            if why is not None:
                raise errors.InvalidArgument(f"{newer_register}: {why}")
        registers += supplied
    elif not newest:
        raise errors.InvalidArgument(
            "a key destroyed after this backup was taken would come back with it: pass --destroyed-keys FILE (the "
            "live vault's register, `strongroom backup destroyed-keys > FILE`, or a newer backup's "
            "destroyed-keys.json), or --newest if this backup is the newest state there is"
        )
    blobs = list(blob_index(backup))
    missing = sorted({b.region for b in blobs} - set(settings.regions))
    if missing:
        raise errors.InvalidArgument(f"the backup has blobs in region {missing[0]}, which the configuration lacks")
    _empty_dir(settings.data_dir, "the data directory")
    roots = manifest.get("root_fingerprints") or {}
    _place_root(
        infra_root_file,
        roots.get("infra_root"),
        settings.infra_root_file or settings.keys_dir / INFRA_ROOT_FILE,
        "infrastructure root",
        "--infra-root-file",
    )
    if settings.seal == "keyfile":
        _place_root(
            unseal_key_file,
            roots.get("unseal_key"),
            settings.keys_dir / UNSEAL_KEY_FILE,
            "unseal key",
            "--unseal-key-file",
        )
    register_file = settings.keys_dir / vaultregister.FILE
    register_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _fsync_write(register_file, (json.dumps(vaultregister.merge(registers), indent=2) + "\n").encode())
    snapshot.restore(backup, str(manifest["database"]["kind"]), settings.db_url)
    if on_total is not None:
        on_total(len(blobs), sum(b.size for b in blobs))
    stores = {region: open_blob_store(settings.region_backend(region)) for region in settings.regions}
    for b in blobs:
        with (backup / b.path).open("rb") as fh, stores[b.region].writer(b.id) as writer:
            while chunk := fh.read(CHUNK):
                writer.write(chunk)
                if progress is not None:
                    progress(len(chunk))
            writer.commit()
    return manifest
