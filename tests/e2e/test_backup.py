"""Backup and restore (issue 13, item 5), with the real server and the real CLI.

A backup is taken while eight writers keep putting, overwriting and deleting objects; it verifies; it is restored
into a new data directory (with the root files supplied apart), the restored server starts, and every object
acknowledged before the backup began reads back byte for byte, while every object written during it reads back as
one of the versions written or not at all. A flipped byte anywhere in the backup is reported by `backup verify`;
the backup holds no plaintext and neither root file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import tests.conftest as ct

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.e2e

MARKER = b"BACKUP-PLAINTEXT-MARKER-" + uuid.uuid4().hex.encode()
MIB = 1024 * 1024


def body(key: str, seq: int, size: int) -> bytes:
    head = MARKER + f":{key}:{seq}:".encode()
    return (head * (size // len(head) + 1))[:size]


def cli(*args: str, cwd: Path | None = None, token: str | None = ct.ROOT_TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "VAULT_"))}
    env["COLUMNS"] = "200"
    if token:
        env["VAULT_TOKEN"] = token  # the backup reads the vault's register of destroyed keys
    return subprocess.run(
        [sys.executable, "-m", "strongroom", *args], env=env, capture_output=True, text=True, timeout=600, cwd=cwd
    )


def roots(srv: Server) -> list[str]:
    """The restore's root-file options: the backed-up deployment's infrastructure root and unseal key."""
    keys = srv.data_dir / "keys"
    return ["--infra-root-file", str(keys / "infra-root.key"), "--unseal-key-file", str(keys / "unseal.key")]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = ct.start_server(tmp_path_factory.mktemp("backup") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def taken(srv: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Objects written before the backup, the backup taken under eight writers, and what they wrote meanwhile."""
    s3 = srv.client()
    bucket = "backup-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    before: dict[str, bytes] = {}
    for i in range(40):
        key = f"pre/{i:03d}"
        data = body(key, 0, 1000 + i * 997)
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        before[key] = data
    for i in range(10):  # overwritten before the backup: only the second version counts
        key = f"pre/{i:03d}"
        data = body(key, 1, 3000 + i)
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        before[key] = data
    s3.delete_object(Bucket=bucket, Key="pre/039")
    del before["pre/039"]
    big = body("pre/multipart", 0, 12 * MIB)
    up = s3.create_multipart_upload(Bucket=bucket, Key="pre/multipart")
    parts = []
    for n, off in enumerate(range(0, len(big), 5 * MIB), start=1):
        etag = s3.upload_part(
            Bucket=bucket, Key="pre/multipart", UploadId=up["UploadId"], PartNumber=n, Body=big[off : off + 5 * MIB]
        )["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="pre/multipart", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    before["pre/multipart"] = big

    stop = threading.Event()
    written: dict[str, set[bytes]] = {}
    acked = [0]
    failures: list[str] = []
    lock = threading.Lock()

    def writer(w: int) -> None:
        client = srv.client()
        seq = 0
        while not stop.is_set():
            seq += 1
            key = f"during/{w}/{seq % 7}"  # overwrites make garbage while the backup runs
            data = body(key, seq, 2000 + (seq * 131) % 60000)
            with lock:
                written.setdefault(key, set()).add(data)
            try:
                client.put_object(Bucket=bucket, Key=key, Body=data)
                if seq % 5 == 0:
                    client.delete_object(Bucket=bucket, Key=f"during/{w}/{(seq + 3) % 7}")
                with lock:
                    acked[0] += 1
            except Exception as exc:  # noqa: BLE001 - reported below: no write may fail under a backup
                failures.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(8)]
    for t in threads:
        t.start()
    while acked[0] < 16:  # every writer is going
        threading.Event().wait(0.05)
    dest = tmp_path_factory.mktemp("backups") / "b1"
    started_with = acked[0]
    out = cli("backup", str(dest), "--data-dir", str(srv.data_dir))
    during = acked[0] - started_with
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert out.returncode == 0, out.stderr
    assert failures == []
    return {"bucket": bucket, "before": before, "written": written, "dest": dest, "out": out, "during": during}


def test_the_backup_runs_online_and_says_what_it_holds(taken: dict[str, Any]) -> None:
    assert taken["during"] > 0  # writes were acknowledged while it ran
    assert f"backup written to {taken['dest'].resolve()}: database (sqlite)" in taken["out"].stdout
    manifest = json.loads((taken["dest"] / "manifest.json").read_text())
    assert manifest["format"] == "strongroom-backup/1"
    assert manifest["database"] == {"kind": "sqlite", "file": "metadata.sqlite3"}
    assert manifest["seal"] == "keyfile"
    assert set(manifest["root_fingerprints"]) == {"infra_root", "unseal_key"}
    assert set(manifest["files"]) == {"metadata.sqlite3", "blobs.jsonl", "destroyed-keys.json"}
    register = json.loads((taken["dest"] / "destroyed-keys.json").read_text())
    assert register["kind"] == "strongroom.destroyed-keys.register.v1" and register["signature"]
    assert manifest["blobs"]["count"] >= 40 + 3  # the pre objects and the multipart upload's three parts
    index = [json.loads(line) for line in (taken["dest"] / "blobs.jsonl").read_text().splitlines()]
    assert len(index) == manifest["blobs"]["count"]
    assert sum(b["size"] for b in index) == manifest["blobs"]["bytes"] == manifest["regions"]["local"]["bytes"]


def test_it_verifies(taken: dict[str, Any]) -> None:
    out = cli("backup", "verify", str(taken["dest"]))
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"backup {taken['dest']} verifies: every file matches its manifest\n"


def test_it_holds_no_plaintext_and_no_root_file(srv: Server, taken: dict[str, Any]) -> None:
    secrets = [(srv.data_dir / "keys" / name).read_bytes() for name in ("infra-root.key", "unseal.key")]
    for path in taken["dest"].rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert MARKER not in data, path
            for secret in secrets:
                assert secret not in data, path


def test_a_flipped_byte_is_reported(taken: dict[str, Any], tmp_path: Path) -> None:
    index = [json.loads(line) for line in (taken["dest"] / "blobs.jsonl").read_text().splitlines()]
    for victim in (f"blobs/{index[0]['region']}/{index[0]['id'][:2]}/{index[0]['id']}", "metadata.sqlite3"):
        copy = tmp_path / f"copy-{victim.replace('/', '_')}"
        shutil.copytree(taken["dest"], copy)
        path = copy / victim
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        out = cli("backup", "verify", str(copy))
        assert out.returncode == 1
        assert f"problem: {victim}: content differs from" in out.stderr
        assert "does not verify (1 problems)" in out.stderr
    copy = tmp_path / "copy-manifest"
    shutil.copytree(taken["dest"], copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["blobs"]["count"] += 1
    (copy / "manifest.json").write_text(json.dumps(manifest))
    out = cli("backup", "verify", str(copy))
    assert out.returncode == 1 and "manifest.json: its digest does not match its content" in out.stderr


def test_restore_needs_the_root_files_and_refuses_wrong_ones(
    srv: Server, taken: dict[str, Any], tmp_path: Path
) -> None:
    out = cli("restore", str(taken["dest"]), "--data-dir", str(tmp_path / "r1"), "--newest")
    assert out.returncode == 1
    assert out.stderr == ("Error: the backup holds no infrastructure root (on purpose): pass --infra-root-file FILE\n")
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(os.urandom(32))
    out = cli(
        "restore", str(taken["dest"]), "--data-dir", str(tmp_path / "r2"), "--infra-root-file", str(wrong), "--newest"
    )
    assert out.returncode == 1
    assert out.stderr == f"Error: {wrong} is not the backed-up deployment's infrastructure root\n"
    infra = ["--infra-root-file", str(srv.data_dir / "keys" / "infra-root.key")]
    out = cli("restore", str(taken["dest"]), "--data-dir", str(tmp_path / "r3"), *infra, "--newest")
    assert out.returncode == 1
    assert out.stderr == "Error: the backup holds no unseal key (on purpose): pass --unseal-key-file FILE\n"
    out = cli("restore", str(taken["dest"]), "--data-dir", str(tmp_path / "r4"), *roots(srv))
    assert out.returncode == 1
    assert out.stderr.startswith("Error: a key destroyed after this backup was taken would come back with it: pass")
    out = cli("restore", str(taken["dest"]), "--data-dir", str(srv.data_dir), "--newest")
    assert out.returncode == 1 and out.stderr == f"Error: the data directory {srv.data_dir} is not empty\n"


def test_the_restored_deployment_serves_every_object(srv: Server, taken: dict[str, Any], tmp_path: Path) -> None:
    new = tmp_path / "restored"
    out = cli("restore", str(taken["dest"]), "--data-dir", str(new), *roots(srv), "--newest", "--quiet")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"restored {taken['dest']} into {new}: ")
    restored = ct.start_server(new)
    try:
        s3 = restored.client()
        bucket = taken["bucket"]
        for key, data in taken["before"].items():
            got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest(), key
        with pytest.raises(s3.exceptions.NoSuchKey):
            s3.get_object(Bucket=bucket, Key="pre/039")  # deleted before the backup
        listed = {
            o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in p.get("Contents", [])
        }
        for key in listed - set(taken["before"]):
            got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert got in taken["written"][key], key  # one of the versions written, whole
        # the restored deployment takes writes
        s3.put_object(Bucket=bucket, Key="after-restore", Body=b"new")
        assert s3.get_object(Bucket=bucket, Key="after-restore")["Body"].read() == b"new"
    finally:
        restored.stop()


def test_a_backup_needs_an_operator_token(srv: Server, tmp_path: Path) -> None:
    out = cli("backup", str(tmp_path / "b"), "--data-dir", str(srv.data_dir), token=None)
    assert out.returncode == 2
    assert out.stderr == "Error: no vault token: set VAULT_TOKEN or pass --token\n"


def test_a_key_destroyed_after_a_backup_stays_destroyed_when_it_is_restored(srv: Server, tmp_path: Path) -> None:
    s3 = srv.client()
    bucket = "shred-" + uuid.uuid4().hex[:8]
    key = "k-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    assert cli("key", "create", key, "--data-dir", str(srv.data_dir)).returncode == 0
    s3.put_object(Bucket=bucket, Key="doc", Body=b"under the key", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    s3.put_object(Bucket=bucket, Key="plain", Body=b"under the bucket key")
    old = tmp_path / "before-destroy"
    assert cli("backup", str(old), "--data-dir", str(srv.data_dir)).returncode == 0
    out = cli("key", "destroy", key, "--force", "--data-dir", str(srv.data_dir))
    assert out.returncode == 0, out.stderr
    live = cli("backup", "destroyed-keys", "--data-dir", str(srv.data_dir))
    assert live.returncode == 0, live.stderr
    register = json.loads(live.stdout)
    assert [(e["namespace"], e["key"]) for e in register["keys"] if e["key"] == key] == [("default", key)]
    (tmp_path / "live.json").write_text(live.stdout)
    root_args = roots(srv)

    # an altered register is refused before anything is written
    forged = dict(register, keys=[])
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    out = cli(
        "restore",
        str(old),
        "--data-dir",
        str(tmp_path / "x"),
        *root_args,
        "--destroyed-keys",
        str(tmp_path / "forged.json"),
    )
    assert out.returncode == 1
    assert out.stderr == f"Error: {tmp_path / 'forged.json'}: the register of destroyed keys is altered or not one\n"
    assert not (tmp_path / "x").exists()

    # with the live register the restored vault erases the key again before it serves
    new = tmp_path / "restored"
    out = cli("restore", str(old), "--data-dir", str(new), *root_args, "--destroyed-keys", str(tmp_path / "live.json"))
    assert out.returncode == 0, out.stderr
    restored = ct.start_server(new)
    try:
        s3r = restored.client()
        assert s3r.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"under the bucket key"
        with pytest.raises(s3r.exceptions.ClientError) as refused:
            s3r.get_object(Bucket=bucket, Key="doc")
        assert refused.value.response["Error"]["Code"] == "KMS.KMSInvalidStateException"
        shown = cli("key", "show", key, "--json", "--data-dir", str(new))
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["state"] == "destroyed"
        assert "re-destroyed after a restore" in restored.log()
        restored.restart()  # and at every later start
        with pytest.raises(s3r.exceptions.ClientError):
            restored.client().get_object(Bucket=bucket, Key="doc")
    finally:
        restored.stop()

    # what the register prevents: restored as "the newest state there is", the old backup brings the key back
    back = tmp_path / "resurrected"
    assert cli("restore", str(old), "--data-dir", str(back), *root_args, "--newest").returncode == 0
    again = ct.start_server(back)
    try:
        assert again.client().get_object(Bucket=bucket, Key="doc")["Body"].read() == b"under the key"
    finally:
        again.stop()
