"""A real browser against the server: headless Chromium on a page of another origin (a plain HTTP server on
127.0.0.1) PUTs and GETs presigned URLs of the server with ``fetch``, as the bucket's CORS rule allows, and is
refused where it does not; and it uploads files through HTML forms signed with SigV4 and with Signature V2 (POST
Object), as a web page would. Chromium trusts the server's certificate through ``--ignore-certificate-errors-spki-list`` (the server's
and its CA's public keys only), not by ignoring certificate errors altogether."""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import tests.conftest as _ct
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

pytestmark = pytest.mark.e2e

PAGE = b"<!doctype html><html><head><title>cors page</title></head><body>another origin</body></html>"
BODY = bytes(range(256)) * 4 + b"strongroom"

FETCHES = """
const [putUrl, getUrl, deleteUrl, plainUrl, bodyBase64, done] = arguments;
const refused = async (url, init) => {
  try { const r = await fetch(url, init); return "resolved " + r.status; }
  catch (e) { return e.name; }
};
(async () => {
  const body = Uint8Array.from(atob(bodyBase64), c => c.charCodeAt(0));
  const put = await fetch(putUrl, {method: "PUT", body, headers: {"Content-Type": "application/octet-stream"}});
  const get = await fetch(getUrl);
  const got = new Uint8Array(await get.arrayBuffer());
  done({
    origin: location.origin,
    putStatus: put.status,
    etag: put.headers.get("ETag"),
    getStatus: get.status,
    got: btoa(String.fromCharCode(...got)),
    contentType: get.headers.get("Content-Type"),
    deleted: await refused(deleteUrl, {method: "DELETE"}),
    plain: await refused(plainUrl),
  });
})().catch(e => done({error: String(e)}));
"""


def spki_hash(pem_path: str) -> str:
    cert = x509.load_pem_x509_certificate(Path(pem_path).read_bytes())
    der = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def signing_client(srv: _ct.Server, signature_version: str) -> Any:
    """A boto3 client that presigns with ``signature_version`` ("s3v4", or "s3": Signature V2)."""
    return boto3.client(
        "s3",
        endpoint_url=srv.endpoint,
        aws_access_key_id=_ct.ROOT_ACCESS,
        aws_secret_access_key=_ct.ROOT_SECRET,
        region_name="local",
        verify=srv.ca,
        config=Config(signature_version=signature_version, s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ct.Server]:
    server = _ct.start_server(tmp_path_factory.mktemp("cors-browser") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """A page on another origin than the server's: plain HTTP on 127.0.0.1, another port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser(srv: _ct.Server) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    pins = ",".join((spki_hash(str(srv.data_dir / "tls" / "server.pem")), spki_hash(srv.ca)))
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--ignore-certificate-errors-spki-list={pins}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_cross_origin_fetch_of_presigned_urls(srv: _ct.Server, page_origin: str, browser: Any) -> None:
    s3 = srv.client()
    bucket, plain = f"web-{uuid.uuid4().hex[:10]}", f"plain-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=plain)
    s3.put_object(Bucket=bucket, Key="keep", Body=b"must survive")
    s3.put_object(Bucket=plain, Key="p", Body=b"no cors here")
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [page_origin],
                    "AllowedMethods": ["GET", "PUT"],
                    "AllowedHeaders": ["content-type"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 60,
                }
            ]
        },
    )
    signer = signing_client(srv, "s3v4")  # as the README says: botocore presigns with SigV2 unless told otherwise

    def url(method: str, b: str, key: str, **params: Any) -> str:
        got: str = signer.generate_presigned_url(method, Params={"Bucket": b, "Key": key, **params}, ExpiresIn=300)
        return got

    browser.get(page_origin + "/page.html")
    assert browser.title == "cors page"
    result = browser.execute_async_script(
        FETCHES,
        url("put_object", bucket, "from-browser.bin", ContentType="application/octet-stream"),
        url("get_object", bucket, "from-browser.bin"),
        url("delete_object", bucket, "keep"),
        url("get_object", plain, "p"),
        base64.b64encode(BODY).decode(),
    )
    assert "error" not in result, result
    assert result["origin"] == page_origin
    assert result["putStatus"] == 200 and result["getStatus"] == 200
    assert base64.b64decode(result["got"]) == BODY
    assert result["contentType"] == "application/octet-stream"  # a CORS-safelisted response header
    stored = s3.get_object(Bucket=bucket, Key="from-browser.bin")
    assert stored["Body"].read() == BODY
    assert result["etag"] == stored["ETag"]  # readable because the rule exposes it
    # DELETE is not in the rule: the preflight is refused, the request never sent
    assert result["deleted"] == "TypeError"
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"must survive"
    # a bucket without CORS rules answers the GET, but without Access-Control-Allow-Origin the page may not read it
    assert result["plain"] == "TypeError"


FORM = """
const [action, fields, fileInputName] = arguments;
const form = document.createElement("form");
form.method = "POST";
form.action = action;
form.enctype = "multipart/form-data";
for (const [name, value] of Object.entries(fields)) {
  const input = document.createElement("input");
  input.type = "hidden";
  input.name = name;
  input.value = value;
  form.appendChild(input);
}
const file = document.createElement("input");
file.type = "file";
file.name = fileInputName;
file.id = "upload";
form.appendChild(file);
document.body.appendChild(form);
"""


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_a_browser_uploads_a_file_through_a_signed_html_form(
    srv: _ct.Server, page_origin: str, browser: Any, tmp_path: Path, signature_version: str
) -> None:
    """The form comes from boto3's generate_presigned_post (SigV4, or botocore's V2 default); the browser submits
    it across origins (a navigation: no CORS needed) with the file Chromium reads from disk. The V4 form asks for
    the 201 XML answer, the V2 one for a redirect back to the page's origin."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    s3 = srv.client()
    bucket = f"form-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    payload = bytes(range(256)) * 64 + signature_version.encode()
    local = tmp_path / f"photo-{signature_version}.bin"
    local.write_bytes(payload)
    signer = signing_client(srv, signature_version)
    if signature_version == "s3v4":
        extra = {"success_action_status": "201"}
    else:
        extra = {"success_action_redirect": page_origin + "/done"}
    post = signer.generate_presigned_post(
        bucket,
        "uploads/${filename}",
        Fields={**extra, "Content-Type": "application/octet-stream"},
        Conditions=[
            {k: v for k, v in extra.items()},
            ["starts-with", "$key", "uploads/"],
            ["starts-with", "$Content-Type", "application/"],
            ["content-length-range", 1, 1024 * 1024],
        ],
        ExpiresIn=300,
    )
    assert ("x-amz-signature" in post["fields"]) == (signature_version == "s3v4")
    assert ("signature" in post["fields"]) == (signature_version == "s3")
    browser.get(page_origin + "/form.html")
    browser.execute_script(FORM, post["url"], post["fields"], "file")
    browser.find_element(By.ID, "upload").send_keys(str(local))
    browser.execute_script("document.forms[0].submit()")
    key = f"uploads/{local.name}"
    if signature_version == "s3v4":
        WebDriverWait(browser, 30).until(lambda d: "PostResponse" in d.page_source)
        text = browser.execute_script("return document.documentElement.outerHTML")
        start = text.index("<PostResponse")
        doc = ET.fromstring(text[start : text.index("</PostResponse>") + len("</PostResponse>")])
        got = {child.tag.split("}")[-1]: child.text for child in doc}
        assert (got["Bucket"], got["Key"]) == (bucket, key)
        assert got["ETag"] == f'"{hashlib.md5(payload, usedforsecurity=False).hexdigest()}"'
    else:
        WebDriverWait(browser, 30).until(lambda d: d.current_url.startswith(page_origin + "/done"))
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(browser.current_url).query)
        assert query["bucket"] == [bucket] and query["key"] == [key]
        assert query["etag"] == [f'"{hashlib.md5(payload, usedforsecurity=False).hexdigest()}"']
    stored = s3.get_object(Bucket=bucket, Key=key)
    assert stored["Body"].read() == payload
    assert stored["ContentType"] == "application/octet-stream"
