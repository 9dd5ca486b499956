"""Signature V2 end to end (issue 12 item 1): botocore's V2 signer (``signature_version="s3"``) for header auth,
V2 presigned URLs (``AWSAccessKeyId``/``Expires``/``Signature``), virtual-hosted style, the ``sigv2 = false``
switch, and a bucket policy that refuses V2 through ``s3:signatureversion``."""

from __future__ import annotations

import json
import ssl
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import boto3
import httpx
import pytest
import tests.conftest as _ct
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.conftest import register_secret

from strongroom.devserver import ROOT_ACCESS, ROOT_SECRET
from strongroom.http.s3 import sigv2

pytestmark = pytest.mark.e2e

BUCKET = "sigv2"


def v2_client(srv: _ct.Server, **s3: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=srv.endpoint,
        aws_access_key_id=ROOT_ACCESS,
        aws_secret_access_key=ROOT_SECRET,
        region_name="local",
        verify=srv.ca,
        config=Config(signature_version="s3", s3={"addressing_style": "path", **s3}, retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ct.Server]:
    server = _ct.start_server(tmp_path_factory.mktemp("sigv2") / "data")
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def v4_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ct.Server]:
    server = _ct.start_server(tmp_path_factory.mktemp("sigv2-off") / "data", env={"STRONGROOM_SIGV2": "false"})
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


def code(r: httpx.Response) -> str:
    return ET.fromstring(r.content).findtext("Code") or ""


def http(srv: _ct.Server) -> httpx.Client:
    return httpx.Client(verify=ssl.create_default_context(cafile=srv.ca), timeout=30)


def test_a_v2_client_round_trips_objects_multipart_and_listings(srv: _ct.Server) -> None:
    s3 = v2_client(srv)
    body = bytes(range(256)) * 4096  # 1 MiB
    s3.put_object(Bucket=BUCKET, Key="dir/a b+c.bin", Body=body, Metadata={"k": "v"}, ContentType="x/y")
    got = s3.get_object(Bucket=BUCKET, Key="dir/a b+c.bin")
    assert got["Body"].read() == body and got["Metadata"] == {"k": "v"} and got["ContentType"] == "x/y"
    assert s3.get_object(Bucket=BUCKET, Key="dir/a b+c.bin", Range="bytes=10-19")["Body"].read() == body[10:20]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="dir/")["Contents"]] == ["dir/a b+c.bin"]
    s3.copy_object(Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "dir/a b+c.bin"})
    assert s3.head_object(Bucket=BUCKET, Key="copy")["ContentLength"] == len(body)
    up = s3.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
    parts = [b"x" * (5 * 1024 * 1024), b"tail"]
    etags = [
        s3.upload_part(Bucket=BUCKET, Key="mp", UploadId=up, PartNumber=n, Body=p)["ETag"]
        for n, p in enumerate(parts, 1)
    ]
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=BUCKET, Key="mp", UploadId=up)["Parts"]] == [1, 2]
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="mp",
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    assert s3.get_object(Bucket=BUCKET, Key="mp")["Body"].read() == b"".join(parts)
    s3.put_object_acl(Bucket=BUCKET, Key="mp", ACL="private")  # a subresource (?acl) in the signed resource
    s3.delete_object(Bucket=BUCKET, Key="copy")
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=BUCKET, Key="copy")
    assert info.value.response["Error"]["Code"] == "404"


def test_a_wrong_v2_secret_and_an_unknown_key_are_refused(srv: _ct.Server) -> None:
    wrong = boto3.client(
        "s3",
        endpoint_url=srv.endpoint,
        aws_access_key_id=ROOT_ACCESS,
        aws_secret_access_key="not-the-secret",
        region_name="local",
        verify=srv.ca,
        config=Config(signature_version="s3", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as info:
        wrong.get_object(Bucket=BUCKET, Key="dir/a b+c.bin")
    err = info.value.response
    assert (err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]) == (403, "SignatureDoesNotMatch")
    assert "StringToSign" not in err["Error"]
    date = formatdate(usegmt=True)
    sig = sigv2.sign(ROOT_SECRET, f"GET\n\n\n{date}\n/{BUCKET}".encode())
    register_secret(sig, "a V2 Authorization signature")
    with http(srv) as c:
        r = c.get(f"{srv.endpoint}/{BUCKET}", headers={"date": date, "authorization": f"AWS AKIANOBODY:{sig}"})
    assert (r.status_code, code(r)) == (403, "InvalidAccessKeyId")


def test_v2_presigned_urls_get_and_put_and_expire(srv: _ct.Server) -> None:
    s3 = v2_client(srv)
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "pre"}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in put_url and "Signature=" in put_url and "X-Amz-" not in put_url
    # the session's scan of every server log and audit entry fails if a V2 signature shows up in one
    signature = urllib.parse.parse_qs(urllib.parse.urlsplit(put_url).query)["Signature"][0]
    register_secret(signature, "a V2 presigned URL's signature")
    register_secret(urllib.parse.quote(signature, safe=""), "a V2 presigned URL's signature, URL-encoded")
    with http(srv) as c:
        assert c.put(put_url, content=b"presigned v2").status_code == 200
        get_url = s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": BUCKET, "Key": "pre", "ResponseContentType": "text/plain"},
            ExpiresIn=300,
        )
        r = c.get(get_url)
        assert (r.status_code, r.content, r.headers["content-type"]) == (200, b"presigned v2", "text/plain")
        tampered = get_url.replace("text%2Fplain", "text%2Fhtml")
        r = c.get(tampered)
        assert (r.status_code, code(r)) == (403, "SignatureDoesNotMatch")
        expired = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "pre"}, ExpiresIn=1)
        time.sleep(2.2)
        r = c.get(expired)
        assert (r.status_code, code(r)) == (403, "AccessDenied")
        assert ET.fromstring(r.content).findtext("Message") == "Request has expired"
        far = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "pre"}, ExpiresIn=8 * 86400)
        r = c.get(far)
        assert (r.status_code, code(r)) == (403, "AccessDenied")
        assert "more than 7 days" in (ET.fromstring(r.content).findtext("Message") or "")


def test_virtual_hosted_style_signs_the_bucket_in_the_resource(srv: _ct.Server) -> None:
    srv.client().put_object(Bucket=BUCKET, Key="vh.txt", Body=b"virtual")
    date = formatdate(usegmt=True)
    sig = sigv2.sign(ROOT_SECRET, f"GET\n\n\n{date}\n/{BUCKET}/vh.txt".encode())
    port = srv.endpoint.rsplit(":", 1)[1]
    with http(srv) as c:
        r = c.get(
            f"{srv.endpoint}/vh.txt",
            headers={
                "host": f"{BUCKET}.s3.localhost:{port}",
                "date": date,
                "authorization": f"AWS {ROOT_ACCESS}:{sig}",
            },
        )
    assert (r.status_code, r.content) == (200, b"virtual")


def test_a_bucket_policy_can_refuse_v2(srv: _ct.Server) -> None:
    v4 = srv.client()
    v4.create_bucket(Bucket="v4-only")
    v4.put_object(Bucket="v4-only", Key="k", Body=b"v4 data")
    v4.put_bucket_policy(
        Bucket="v4-only",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::v4-only/*",
                        "Condition": {"StringEquals": {"s3:signatureversion": "AWS"}},
                    }
                ],
            }
        ),
    )
    with pytest.raises(ClientError) as info:
        v2_client(srv).get_object(Bucket="v4-only", Key="k")
    assert info.value.response["Error"]["Code"] == "AccessDenied"
    assert v4.get_object(Bucket="v4-only", Key="k")["Body"].read() == b"v4 data"


def test_with_sigv2_off_every_v2_form_is_refused_as_s3_does(v4_only: _ct.Server) -> None:
    message = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
    with pytest.raises(ClientError) as info:
        v2_client(v4_only).list_objects_v2(Bucket=BUCKET)
    err = info.value.response
    assert (err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]) == (400, "InvalidRequest")
    assert err["Error"]["Message"] == message
    url = v2_client(v4_only).generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "k"})
    with http(v4_only) as c:
        r = c.get(url)
    assert (r.status_code, code(r)) == (400, "InvalidRequest")
    assert v4_only.client().list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0  # SigV4 is unaffected
