"""Security property: tenants are isolated, and errors never reveal that another tenant's resource exists.

A second tenant ``t2`` (made by the operator through the admin API)
tries every bucket and object operation on the root tenant's bucket. Each must fail exactly as it does for a bucket
that does not exist (404 NoSuchBucket; never AccessDenied), change nothing, and ListBuckets shows each tenant only its
own buckets. Bucket names are global, so creating one with the other tenant's name is BucketAlreadyExists. A tenant
cannot use another tenant's SSE-KMS key either.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e


import tests.conftest as _ct  # noqa: E402

ROOT_BUCKET = "sec-tenant-root"
T2_BUCKET = "sec-tenant-two"
MISSING = "sec-tenant-nonexistent"
ROOT_KMS = "sec-root-kms-key"
BODY = b"root tenant's private object" * 100


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("STRONGROOM__RESOLVED_SETTINGS", None)
    return env


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Any, Any, str]]:
    """(server, root client, t2 client, root's pending upload id) with the root tenant's data in place. The operator
    creates tenant t2 through the admin API; t2's admin signs with the first access key it got."""
    srv = _ct.start_server(tmp_path_factory.mktemp("sec-tenants") / "data")
    try:
        made = srv.admin(_ct.OPERATOR_ACCESS, _ct.OPERATOR_SECRET).request("POST", "/tenants", {"name": "t2"})
        key = made["access_key"]
        cmd = [sys.executable, "-m", "strongroom", "key", "create", ROOT_KMS, "--data-dir", str(srv.data_dir)]
        out = subprocess.run(cmd, cwd=srv.data_dir.parent, env=_clean_env(), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        root = srv.client()
        t2 = srv.client(access=key["access_key_id"], secret=key["secret_access_key"])
        root.create_bucket(Bucket=ROOT_BUCKET)
        root.put_object(Bucket=ROOT_BUCKET, Key="secret.txt", Body=BODY, Metadata={"owner": "root"})
        root.put_object(
            Bucket=ROOT_BUCKET, Key="kms.txt", Body=BODY, ServerSideEncryption="aws:kms", SSEKMSKeyId=ROOT_KMS
        )
        upload_id = root.create_multipart_upload(Bucket=ROOT_BUCKET, Key="pending")["UploadId"]
        t2.create_bucket(Bucket=T2_BUCKET)
        t2.put_object(Bucket=T2_BUCKET, Key="mine.txt", Body=b"t2 data")
        yield srv, root, t2, upload_id
    finally:
        srv.stop()


def _failure(fn: Callable[[], Any]) -> tuple[int, str, str]:
    try:
        fn()
    except ClientError as exc:
        err = exc.response.get("Error", {})
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], err.get("Code", ""), err.get("Message", "")
    pytest.fail("the operation succeeded")


def _operations(t2: Any, upload_id: str) -> dict[str, Callable[[str], Any]]:
    """Every bucket/object operation, parameterised by the target bucket name."""
    return {
        "HeadBucket": lambda b: t2.head_bucket(Bucket=b),
        "GetBucketLocation": lambda b: t2.get_bucket_location(Bucket=b),
        "GetBucketEncryption": lambda b: t2.get_bucket_encryption(Bucket=b),
        "PutBucketEncryption": lambda b: t2.put_bucket_encryption(
            Bucket=b,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        ),
        "DeleteBucketEncryption": lambda b: t2.delete_bucket_encryption(Bucket=b),
        "GetBucketVersioning": lambda b: t2.get_bucket_versioning(Bucket=b),
        "ListObjects": lambda b: t2.list_objects(Bucket=b),
        "ListObjectsV2": lambda b: t2.list_objects_v2(Bucket=b),
        "ListObjectVersions": lambda b: t2.list_object_versions(Bucket=b),
        "ListMultipartUploads": lambda b: t2.list_multipart_uploads(Bucket=b),
        "HeadObject": lambda b: t2.head_object(Bucket=b, Key="secret.txt"),
        "GetObject": lambda b: t2.get_object(Bucket=b, Key="secret.txt"),
        "GetObjectRange": lambda b: t2.get_object(Bucket=b, Key="secret.txt", Range="bytes=0-3"),
        "GetObjectAttributes": lambda b: t2.get_object_attributes(
            Bucket=b, Key="secret.txt", ObjectAttributes=["ETag", "ObjectSize"]
        ),
        "PutObject": lambda b: t2.put_object(Bucket=b, Key="secret.txt", Body=b"overwritten by t2"),
        "PutObjectNewKey": lambda b: t2.put_object(Bucket=b, Key="planted.txt", Body=b"planted by t2"),
        "DeleteObject": lambda b: t2.delete_object(Bucket=b, Key="secret.txt"),
        "DeleteObjects": lambda b: t2.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "secret.txt"}]}),
        "CopyObjectOut": lambda b: t2.copy_object(
            Bucket=T2_BUCKET, Key="stolen.txt", CopySource={"Bucket": b, "Key": "secret.txt"}
        ),
        "CopyObjectIn": lambda b: t2.copy_object(
            Bucket=b, Key="secret.txt", CopySource={"Bucket": T2_BUCKET, "Key": "mine.txt"}
        ),
        "CreateMultipartUpload": lambda b: t2.create_multipart_upload(Bucket=b, Key="planted-mp"),
        "UploadPart": lambda b: t2.upload_part(Bucket=b, Key="pending", UploadId=upload_id, PartNumber=1, Body=b"x"),
        "ListParts": lambda b: t2.list_parts(Bucket=b, Key="pending", UploadId=upload_id),
        "CompleteMultipartUpload": lambda b: t2.complete_multipart_upload(
            Bucket=b, Key="pending", UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0"'}]}
        ),
        "AbortMultipartUpload": lambda b: t2.abort_multipart_upload(Bucket=b, Key="pending", UploadId=upload_id),
        "DeleteBucket": lambda b: t2.delete_bucket(Bucket=b),
        # access control subresources
        "GetBucketPolicy": lambda b: t2.get_bucket_policy(Bucket=b),
        "PutBucketPolicy": lambda b: t2.put_bucket_policy(
            Bucket=b,
            Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",'
            f'"Resource":"arn:aws:s3:::{b}/*"}}]}}',
        ),
        "DeleteBucketPolicy": lambda b: t2.delete_bucket_policy(Bucket=b),
        "GetBucketPolicyStatus": lambda b: t2.get_bucket_policy_status(Bucket=b),
        "GetBucketAcl": lambda b: t2.get_bucket_acl(Bucket=b),
        "PutBucketAcl": lambda b: t2.put_bucket_acl(Bucket=b, ACL="public-read"),
        "GetObjectAcl": lambda b: t2.get_object_acl(Bucket=b, Key="secret.txt"),
        "PutObjectAcl": lambda b: t2.put_object_acl(Bucket=b, Key="secret.txt", ACL="public-read"),
        "GetPublicAccessBlock": lambda b: t2.get_public_access_block(Bucket=b),
        "PutPublicAccessBlock": lambda b: t2.put_public_access_block(
            Bucket=b, PublicAccessBlockConfiguration={"BlockPublicAcls": False}
        ),
        "DeletePublicAccessBlock": lambda b: t2.delete_public_access_block(Bucket=b),
        "GetBucketOwnershipControls": lambda b: t2.get_bucket_ownership_controls(Bucket=b),
        "PutBucketOwnershipControls": lambda b: t2.put_bucket_ownership_controls(
            Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
        ),
        "DeleteBucketOwnershipControls": lambda b: t2.delete_bucket_ownership_controls(Bucket=b),
    }


OPS = list(_operations(None, "").keys())


@pytest.mark.parametrize("op", OPS)
def test_other_tenants_bucket_looks_missing(tenants: tuple[Server, Any, Any, str], op: str) -> None:
    _srv, root, t2, upload_id = tenants
    call = _operations(t2, upload_id)[op]
    foreign = _failure(lambda: call(ROOT_BUCKET))
    missing = _failure(lambda: call(MISSING))
    assert foreign[0] == 404, f"{op} on another tenant's bucket: {foreign}"
    assert foreign[1] in ("NoSuchBucket", "404"), f"{op} on another tenant's bucket: {foreign}"
    # indistinguishable from a bucket that does not exist (status, code and message)
    assert foreign == missing, f"{op}: foreign bucket {foreign} differs from missing bucket {missing}"

    # nothing changed in the root tenant's bucket
    got = root.get_object(Bucket=ROOT_BUCKET, Key="secret.txt")
    assert got["Body"].read() == BODY and got["Metadata"] == {"owner": "root"}
    keys = [o["Key"] for o in root.list_objects_v2(Bucket=ROOT_BUCKET)["Contents"]]
    assert keys == ["kms.txt", "secret.txt"]
    uploads = root.list_multipart_uploads(Bucket=ROOT_BUCKET).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("pending", upload_id)]
    assert root.list_parts(Bucket=ROOT_BUCKET, Key="pending", UploadId=upload_id).get("Parts", []) == []
    assert [g["Permission"] for g in root.get_object_acl(Bucket=ROOT_BUCKET, Key="secret.txt")["Grants"]] == [
        "FULL_CONTROL"
    ]
    assert [g["Permission"] for g in root.get_bucket_acl(Bucket=ROOT_BUCKET)["Grants"]] == ["FULL_CONTROL"]
    assert _failure(lambda: root.get_bucket_policy(Bucket=ROOT_BUCKET))[:2] == (404, "NoSuchBucketPolicy")
    enc = root.get_bucket_encryption(Bucket=ROOT_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert "Contents" not in t2.list_objects_v2(Bucket=T2_BUCKET, Prefix="stolen")


def test_presigned_url_of_other_tenant_looks_missing(tenants: tuple[Server, Any, Any, str]) -> None:
    srv, _root, t2, _up = tenants
    url = t2.generate_presigned_url("get_object", Params={"Bucket": ROOT_BUCKET, "Key": "secret.txt"})
    r = httpx.get(url, verify=srv.ca, timeout=30)
    assert r.status_code == 404
    assert "<Code>NoSuchBucket</Code>" in r.text
    assert BODY[:20].decode() not in r.text


def test_list_buckets_shows_only_own(tenants: tuple[Server, Any, Any, str]) -> None:
    _srv, root, t2, _up = tenants
    assert [b["Name"] for b in t2.list_buckets()["Buckets"]] == [T2_BUCKET]
    root_names = [b["Name"] for b in root.list_buckets()["Buckets"]]
    assert ROOT_BUCKET in root_names and T2_BUCKET not in root_names
    # the reverse direction: root cannot see t2's bucket either
    assert _failure(lambda: root.list_objects_v2(Bucket=T2_BUCKET))[:2] == (404, "NoSuchBucket")
    assert _failure(lambda: root.get_object(Bucket=T2_BUCKET, Key="mine.txt"))[:2] == (404, "NoSuchBucket")


def test_bucket_names_are_global(tenants: tuple[Server, Any, Any, str]) -> None:
    _srv, root, t2, _up = tenants
    status, code, _msg = _failure(lambda: t2.create_bucket(Bucket=ROOT_BUCKET))
    assert (status, code) == (409, "BucketAlreadyExists")
    status, code, _msg = _failure(lambda: root.create_bucket(Bucket=T2_BUCKET))
    assert (status, code) == (409, "BucketAlreadyExists")
    # and the failed create did not hand the bucket over
    assert [b["Name"] for b in t2.list_buckets()["Buckets"]] == [T2_BUCKET]
    assert root.get_object(Bucket=ROOT_BUCKET, Key="secret.txt")["Body"].read() == BODY


def test_other_tenants_kms_key_is_unusable(tenants: tuple[Server, Any, Any, str]) -> None:
    _srv, root, t2, _up = tenants
    foreign = _failure(
        lambda: t2.put_object(
            Bucket=T2_BUCKET, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=ROOT_KMS
        )
    )
    missing = _failure(
        lambda: t2.put_object(
            Bucket=T2_BUCKET, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="no-such-key-anywhere"
        )
    )
    assert foreign[0] in (400, 403, 404), foreign
    assert foreign[1] != "InternalError"
    assert foreign[:2] == missing[:2], f"root's key {foreign} vs a missing key {missing}"
    assert _failure(lambda: t2.head_object(Bucket=T2_BUCKET, Key="k"))[0] == 404

    cfg = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": ROOT_KMS}}]}
    enc_status, enc_code, _ = _failure(
        lambda: t2.put_bucket_encryption(Bucket=T2_BUCKET, ServerSideEncryptionConfiguration=cfg)
    )
    assert enc_status in (400, 403, 404) and enc_code != "InternalError"
    # the root tenant's own use of it is unaffected
    assert root.get_object(Bucket=ROOT_BUCKET, Key="kms.txt")["Body"].read() == BODY
