"""The admin CLI (``python -m strongroom tenant|user|group|accesskey ...``) against a running server, as the README
shows it: a subprocess with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and ``--data-dir``, run from another
directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import tests.conftest as ct
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = ct.start_server(tmp_path_factory.mktemp("cli-admin") / "data")
    yield server
    server.stop()


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def cli(
    srv: Server, *args: str, access: str = ct.ROOT_ACCESS, secret: str = ct.ROOT_SECRET, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("STRONGROOM__RESOLVED_SETTINGS", None)
    env["AWS_ACCESS_KEY_ID"] = access
    env["AWS_SECRET_ACCESS_KEY"] = secret
    return subprocess.run(
        [sys.executable, "-m", "strongroom", *args, "--data-dir", str(srv.data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd or srv.data_dir.parent,
    )


def ok(srv: Server, *args: str, **kw: Any) -> str:
    out = cli(srv, *args, **kw)
    assert out.returncode == 0, (args, out.stdout, out.stderr)
    return out.stdout


def op(srv: Server, *args: str) -> str:
    return ok(srv, *args, access=ct.OPERATOR_ACCESS, secret=ct.OPERATOR_SECRET)


def s3_code(call: Callable[[], Any]) -> str | None:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_readme_flow_read_only_colleague(srv: Server, tmp_path: Path) -> None:
    s3 = srv.client()
    bucket, other = uid("readme-b"), uid("readme-other")
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=bucket, Key="report.txt", Body=b"quarterly numbers")
    s3.put_object(Bucket=other, Key="private.txt", Body=b"not for colleagues")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    policy = elsewhere / "ro.json"
    policy.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
                    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
                ],
            }
        )
    )
    ok(srv, "user", "create", "default/colleague", cwd=elsewhere)
    ok(srv, "user", "policy", "put", "default/colleague", "ro.json", cwd=elsewhere)
    out = ok(srv, "accesskey", "create", "default/colleague", "--json", cwd=elsewhere)
    key = json.loads(out)
    assert list(key) == ["user", "access_key_id", "secret_access_key"]
    assert key["user"] == "default/colleague"
    assert out.strip() == json.dumps(
        {
            "user": "default/colleague",
            "access_key_id": key["access_key_id"],
            "secret_access_key": key["secret_access_key"],
        }
    )

    mate = srv.client(access=key["access_key_id"], secret=key["secret_access_key"])
    assert eventually(lambda: s3_code(lambda: mate.list_objects_v2(Bucket=bucket)) is None)
    assert [o["Key"] for o in mate.list_objects_v2(Bucket=bucket)["Contents"]] == ["report.txt"]
    assert mate.get_object(Bucket=bucket, Key="report.txt")["Body"].read() == b"quarterly numbers"
    assert s3_code(lambda: mate.put_object(Bucket=bucket, Key="new.txt", Body=b"x")) == "AccessDenied"
    assert s3_code(lambda: mate.delete_object(Bucket=bucket, Key="report.txt")) == "AccessDenied"
    assert s3_code(lambda: mate.get_object(Bucket=other, Key="private.txt")) == "AccessDenied"
    assert s3_code(lambda: mate.list_objects_v2(Bucket=other)) == "AccessDenied"
    assert s3_code(lambda: mate.put_object(Bucket=other, Key="x", Body=b"x")) == "AccessDenied"
    assert s3_code(lambda: mate.create_bucket(Bucket=uid("mate-bucket"))) == "AccessDenied"


def test_tenant_commands_as_operator(srv: Server) -> None:
    name = uid("clitenant")
    made = json.loads(op(srv, "tenant", "create", name, "--json"))
    assert made["tenant"]["name"] == name
    assert made["access_key"]["user"] == f"{name}/admin"
    key = made["access_key"]
    assert srv.client(access=key["access_key_id"], secret=key["secret_access_key"]).list_buckets()["Buckets"] == []

    listed = json.loads(op(srv, "tenant", "list", "--json"))
    assert isinstance(listed, list)
    assert {name, "default"} <= {t["name"] for t in listed}

    shown = op(srv, "tenant", "show", name)
    assert name in shown and "public_access_block" in shown
    assert json.loads(op(srv, "tenant", "show", name, "--json"))["name"] == name

    assert json.loads(op(srv, "tenant", "delete", name, "--json")) == {"deleted": name}
    gone = cli(srv, "tenant", "show", name, access=ct.OPERATOR_ACCESS, secret=ct.OPERATOR_SECRET)
    assert gone.returncode != 0
    assert "NoSuchEntity" in gone.stderr


def test_accesskey_list_and_disable(srv: Server) -> None:
    user = uid("clikeys")
    ok(srv, "user", "create", f"default/{user}", "--admin")
    key = json.loads(ok(srv, "accesskey", "create", f"default/{user}", "--json"))
    kid = key["access_key_id"]
    rows = json.loads(ok(srv, "accesskey", "list", f"default/{user}", "--json"))
    assert [(r["access_key_id"], r["user"], r["status"]) for r in rows] == [(kid, f"default/{user}", "Active")]
    assert set(rows[0]) == {"access_key_id", "user", "status", "created_at", "last_used_at"}
    assert kid in [r["access_key_id"] for r in json.loads(ok(srv, "accesskey", "list", "default", "--json"))]
    assert kid in [r["access_key_id"] for r in json.loads(ok(srv, "accesskey", "list", "--json"))]

    s3 = srv.client(access=kid, secret=key["secret_access_key"])
    s3.list_buckets()
    out = json.loads(ok(srv, "accesskey", "disable", kid, "--json"))
    assert out["access_key_id"] == kid and out["status"] == "Inactive"
    assert eventually(lambda: s3_code(s3.list_buckets) == "InvalidAccessKeyId")
    assert json.loads(ok(srv, "accesskey", "list", f"default/{user}", "--json"))[0]["status"] == "Inactive"


def test_user_list_json(srv: Server) -> None:
    user = uid("clilist")
    ok(srv, "user", "create", f"default/{user}")
    rows = json.loads(ok(srv, "user", "list", "default", "--json"))
    mine = [r for r in rows if r["name"] == user]
    assert len(mine) == 1
    assert mine[0]["tenant"] == "default" and mine[0]["admin"] is False and mine[0]["groups"] == []
    assert mine[0]["arn"] == f"arn:aws:iam::default:user/{user}"


def test_group_create_member_add_policy_put(srv: Server, tmp_path: Path) -> None:
    s3 = srv.client()
    bucket = uid("cligroup-b")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="g.txt", Body=b"for the group")
    user, group = uid("cligm"), uid("cligroup")
    ok(srv, "user", "create", f"default/{user}")
    key = json.loads(ok(srv, "accesskey", "create", f"default/{user}", "--json"))
    member = srv.client(access=key["access_key_id"], secret=key["secret_access_key"])
    read = lambda: member.get_object(Bucket=bucket, Key="g.txt")  # noqa: E731
    assert s3_code(read) == "AccessDenied"

    made = json.loads(ok(srv, "group", "create", f"default/{group}", "--json"))
    assert made["name"] == group and made["members"] == []
    assert json.loads(ok(srv, "group", "member", "add", f"default/{group}", user, "--json")) == {
        "group": f"default/{group}",
        "added": user,
    }
    policy = tmp_path / "group.json"
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}],
    }
    policy.write_text(json.dumps(doc))
    assert json.loads(ok(srv, "group", "policy", "put", f"default/{group}", str(policy), "--json")) == {
        "policy": "set",
        "group": f"default/{group}",
    }
    assert json.loads(ok(srv, "group", "policy", "get", f"default/{group}")) == doc
    assert eventually(lambda: s3_code(read) is None)
    groups = json.loads(ok(srv, "group", "list", "default", "--json"))
    assert [g["members"] for g in groups if g["name"] == group] == [[user]]


def test_tenant_public_access_block_off_and_on(srv: Server) -> None:
    names = {"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"}
    off = json.loads(ok(srv, "tenant", "public-access-block", "default", "--off", "--json"))
    assert off == dict.fromkeys(names, False)
    assert json.loads(ok(srv, "tenant", "public-access-block", "default", "--json")) == off
    on = json.loads(ok(srv, "tenant", "public-access-block", "default", "--on", "--json"))
    assert on == dict.fromkeys(names, True)
    assert json.loads(ok(srv, "tenant", "public-access-block", "default", "--json")) == on


@pytest.mark.parametrize(
    "args",
    [
        ("user", "show", "default/no-such-user"),
        ("user", "delete", "default/no-such-user"),
        ("group", "member", "add", "default/no-such-group", "admin"),
        ("accesskey", "disable", "SRNOSUCHKEY000000000"),
        ("user", "policy", "get", "default/no-such-user"),
    ],
)
def test_cli_404_is_one_line_and_non_zero(srv: Server, args: tuple[str, ...]) -> None:
    out = cli(srv, *args)
    assert out.returncode != 0
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("Error: NoSuchEntity"), out.stderr
    assert "Traceback" not in out.stderr
