"""The gateway's half of a tenant's crypto-shred (service/shred.py) on a real SQLite repository and blob store, with
the vault's half (service/vaultshred.py) in process behind a client that can fail on purpose: the order of the
steps, the fence, and runs that stop half way and are run again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from strongroom.config import load_settings
from strongroom.core import errors
from strongroom.core.types import KeyUse, Principal
from strongroom.keys.certificates import verify_certificate
from strongroom.keys.keystore import KeyStore
from strongroom.keys.seal import SealManager
from strongroom.keys.storage import MemoryStorage
from strongroom.metadata.models import Bucket, MultipartUpload, ObjectPart, ObjectRecord, UploadPart
from strongroom.metadata.repository import Repository
from strongroom.policy import iam
from strongroom.service import vaultshred
from strongroom.service.access import AccessService
from strongroom.service.runtime import Runtime
from strongroom.service.shred import FENCE_SID, TenantShredder, fence_policy
from strongroom.service.tenants import TenantService
from strongroom.service.vault import VaultCore
from strongroom.storage import new_blob_id
from strongroom.storage.filesystem import FilesystemBlobStore

OPERATOR = Principal(access_key="SROPERATOR", tenant_id="system", user="admin", is_admin=True)
NOW = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)


class Boom(Exception):
    pass


class InProcessVault:
    """The VaultClient methods the tenant services use, on an in-memory VaultCore; ``fail`` names one to break."""

    def __init__(self) -> None:
        physical = MemoryStorage()
        self.core = VaultCore(physical, SealManager(physical))
        out = self.core.initialize(1, 1, root_token="hvs.unit")
        self.core.submit_unseal_key(out.keys[0], reset=False)
        self.fail: str | None = None
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail == name:
            self.fail = None
            raise Boom(name)

    def create_namespace(self, name: str) -> dict[str, Any]:
        self._call("create_namespace")
        return self.core.create_namespace(name)

    def delete_namespace(self, name: str) -> None:
        self.core.delete_namespace(name)

    def put_credential(self, access_key: str, secret: str, tenant: str, user: str) -> None:
        self.core.put_credential(access_key, secret, tenant, user)

    def delete_credential(self, access_key: str) -> None:
        self.core.delete_credential(access_key)

    def namespace_keys(self, name: str) -> dict[str, Any]:
        self._call("namespace_keys")
        try:
            keys = vaultshred.namespace_keys(self.core.namespace(name))
        except errors.NotFound:
            raise errors.NotFound(name) from None
        return {"keys": keys, "blockers": vaultshred.blockers(keys)}

    def shred_namespace(self, name: str, who: dict[str, Any], rid: str, inventory: dict[str, Any]) -> dict[str, Any]:
        self._call("shred_namespace")
        return vaultshred.destroy_keys(self.core, name, who, rid, inventory)

    def complete_shred(self, name: str) -> dict[str, Any]:
        self._call("complete_shred")
        return vaultshred.complete(self.core, name)

    def shredded(self, name: str) -> dict[str, Any] | None:
        return vaultshred.record(self.core, name)

    def key_info(self, name: str, namespace: str) -> dict[str, Any]:
        return self.core.key_info(name, namespace)

    def create_key(self, name: str, namespace: str, region: str) -> dict[str, Any]:
        self.core.namespace(namespace).transit.create_key(name, tenant=namespace, region=region)
        return self.core.key_info(name, namespace)

    def bucket_key(
        self, name: str, version: int | None, namespace: str, bucket: str, bucket_id: str, use: KeyUse
    ) -> tuple[int, bytes, float]:
        got = self.core.release_bucket_key(name, version, namespace, bucket, bucket_id, use)
        return got.version, got.key, got.ttl

    def close(self) -> None:
        pass


class World:
    def __init__(self, tmp: Path) -> None:
        settings = load_settings(None, data_dir=tmp / "data")
        self.repo = Repository.open(f"sqlite:///{tmp / 'meta.db'}")
        self.vault = InProcessVault()
        self.store = FilesystemBlobStore(tmp / "blobs")
        self.rt = Runtime(
            settings=settings,
            repo=self.repo,
            keys=KeyStore(self.repo, b"\x01" * 32, self.vault),
            vault=self.vault,  # type: ignore[arg-type]
            stores={"local": self.store},
        )
        self.access = AccessService(self.rt)
        self.tenants = TenantService(self.rt, self.access)
        self.shredder = TenantShredder(self.rt, self.access)

    def blob(self) -> str:
        blob_id = new_blob_id()
        with self.store.writer(blob_id) as w:
            w.write(b"ciphertext")
            w.commit()
        return blob_id

    def bucket(self, tenant: str, name: str) -> Bucket:
        b = Bucket(
            id=f"id-{name}",
            name=name,
            tenant_id=tenant,
            region="local",
            created_at=NOW,
            bucket_key_id=f"bucket-id-{name}",
        )
        self.repo.create_bucket(b)
        self.rt.vault.create_key(b.bucket_key_id, tenant, "local")
        return b

    def put(self, b: Bucket, key: str, size: int, mode: str = "SSE-S3") -> str:
        blob_id = self.blob()
        record = ObjectRecord(bucket_id=b.id, key=key, version_id="v", size=size, etag="e", last_modified=NOW)
        record.sse_mode = mode
        record.user_metadata = "{}"
        self.repo.put_object(record, [_part(ObjectPart(part_number=1, offset=0), blob_id, size)], "local")
        return blob_id

    def upload(self, b: Bucket, key: str, size: int) -> str:
        self.repo.create_upload(
            MultipartUpload(
                upload_id=f"up-{key}", bucket_id=b.id, key=key, version_id="v", initiated=NOW, sse_mode="SSE-S3"
            )
        )
        blob_id = self.blob()
        self.repo.put_upload_part(_part(UploadPart(upload_id=f"up-{key}", part_number=1), blob_id, size), "local")
        return blob_id


def _part(p: Any, blob_id: str, size: int) -> Any:
    p.size, p.etag, p.blob_id = size, "e", blob_id
    p.inner_header = p.outer_header = p.wrapped_dek1 = p.wrapped_dek2 = b"h"
    p.kek_id, p.kek_version, p.infra_version, p.last_modified = "k", 1, 1, NOW
    return p


@pytest.fixture()
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    w.tenants.create_tenant("acme", admin="boss")
    w.tenants.create_tenant("other")
    return w


def _fill(w: World) -> dict[str, Any]:
    a, b = w.bucket("acme", "acme-a"), w.bucket("acme", "acme-b")
    blobs = [w.put(a, "x", 3), w.put(a, "y", 4, "SSE-C"), w.put(b, "z", 5, "SSE-KMS"), w.upload(b, "u", 7)]
    w.vault.create_key("kms-a", "acme", "local")
    keep = w.put(w.bucket("other", "other-a"), "x", 1)
    return {"buckets": [a, b], "blobs": blobs, "other_blob": keep}


def test_a_shred_destroys_keys_first_then_data_then_the_namespace(world: World) -> None:
    got = _fill(world)
    preview = world.shredder.preview("acme")
    assert preview["data"]["objects"] == 3 and preview["data"]["bytes"] == 12 and preview["data"]["uploads"] == 1
    assert preview["blockers"] == [] and len(preview["keys"]) == 3
    world.vault.calls.clear()
    cert = world.shredder.shred("acme", OPERATOR, "REQ1")
    assert world.vault.calls == ["namespace_keys", "shred_namespace", "complete_shred"]
    assert verify_certificate(cert, vaultshred.certificate_key(world.vault.core)["public_key"])
    assert cert["data"]["by_sse"] == {
        "SSE-C": {"objects": 1, "bytes": 4},
        "SSE-KMS": {"objects": 1, "bytes": 5},
        "SSE-S3": {"objects": 1, "bytes": 3},
    }
    assert cert["requested_by"]["arn"] == "arn:aws:iam::system:user/admin" and cert["request_id"] == "REQ1"
    assert [b.name for b in world.repo.list_buckets("acme")] == [] and world.repo.get_tenant("acme") is None
    assert not any(world.store.exists(b) for b in got["blobs"])
    assert world.repo.take_garbage() == []  # deleted at once, not left for the sweeper's grace period
    assert world.store.exists(got["other_blob"]) and world.repo.get_bucket("other-a") is not None
    with pytest.raises(errors.EntityAlreadyExists, match="crypto-shredded"):
        world.tenants.create_tenant("acme")
    assert world.shredder.shred("acme", OPERATOR, "REQ2") == cert  # again: the same certificate


def test_the_fence_policy_denies_everything_to_everyone() -> None:
    policy = iam.parse_policy(fence_policy("acme-a"), kind="bucket", bucket="acme-a")
    (statement,) = policy.statements
    assert statement.sid == FENCE_SID and statement.effect == "Deny"
    for action, resource in (("s3:GetObject", "acme-a/x"), ("s3:PutObject", "acme-a/y"), ("s3:ListBucket", "acme-a")):
        for arn, tenant in (
            ("arn:aws:iam::acme:user/boss", "acme"),
            ("arn:aws:iam::other:user/u", "other"),
            (None, None),
        ):
            ctx = iam.RequestContext(action, f"arn:aws:s3:::{resource}", arn, tenant, {})
            assert iam.evaluate(policy, ctx) == "Deny", (action, arn)


def test_a_refused_shred_fences_nothing(world: World) -> None:
    got = _fill(world)
    world.vault.core.namespace("acme").transit.enable_purge_protection("kms-a")
    with pytest.raises(errors.DeleteConflict, match="kms-a"):
        world.shredder.shred("acme", OPERATOR, "REQ1")
    assert {k.status for k in world.repo.list_access_keys("acme")} == {"Active"}
    assert all(b.policy is None for b in world.repo.list_buckets("acme"))
    assert world.vault.shredded("acme") is None and all(world.store.exists(b) for b in got["blobs"])


@pytest.mark.parametrize("fails", ["shred_namespace", "complete_shred"])
def test_an_interrupted_shred_finishes_when_run_again(world: World, fails: str) -> None:
    got = _fill(world)
    world.vault.fail = fails
    with pytest.raises(Boom):
        world.shredder.shred("acme", OPERATOR, "REQ1")
    # whatever happened, the tenant's keys are cut off and its buckets fenced or gone
    assert {k.status for k in world.repo.list_access_keys("acme")} <= {"Inactive"}
    for b in world.repo.list_buckets("acme"):
        assert b.policy is not None and FENCE_SID in b.policy
    cert = world.shredder.shred("acme", OPERATOR, "REQ2")
    assert cert["tenant"] == "acme" and cert["data"]["objects"] == 3
    # the certificate names the first request when its keys were destroyed by it
    assert cert["request_id"] == ("REQ2" if fails == "shred_namespace" else "REQ1")
    assert world.repo.get_tenant("acme") is None and not any(world.store.exists(b) for b in got["blobs"])
    assert "acme" not in world.vault.core.list_namespaces()


def test_the_system_tenant_and_unknown_tenants_are_refused(world: World) -> None:
    with pytest.raises(errors.DeleteConflict):
        world.shredder.shred("system", OPERATOR, "REQ1")
    with pytest.raises(errors.NoSuchEntity):
        world.shredder.shred("nobody", OPERATOR, "REQ1")
    with pytest.raises(errors.NoSuchEntity):
        world.shredder.preview("nobody")
