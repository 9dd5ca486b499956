"""The admin API against its own OpenAPI document: schemathesis generates requests for every operation, each one
SigV4-signed as sent, and every response must be no server error and conform to the document (status code, content
type, body schema).

The document is loaded from the running server. Requests are signed by a second admin of tenant ``default`` (made
for this test), so destructive generated calls (deleting users, keys, groups, changing the public access block) run
against a disposable server without removing the key that signs them. Nothing is excluded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import requests
import schemathesis
import tests.conftest as ct
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from strongroom.http.admin.client import sign

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
MAX_EXAMPLES = 15


class SigV4(requests.auth.AuthBase):
    """Signs the final prepared request: method, URL with its query, body bytes (and the headers sign adds)."""

    def __init__(self, access: str, secret: str) -> None:
        self.access, self.secret = access, secret

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
            r.body = body
        assert r.method is not None and r.url is not None
        r.headers.update(sign(r.method, r.url, body, self.access, self.secret))
        return r


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = ct.start_server(tmp_path_factory.mktemp("admin-schema") / "data")
    yield server
    server.stop()


def test_admin_api_conforms_to_its_openapi_document(srv: Server) -> None:
    root = srv.admin()
    root.request("POST", "/tenants/default/users", {"name": "schema-fuzzer", "admin": True})
    key = root.request("POST", "/tenants/default/users/schema-fuzzer/access-keys")
    session = requests.Session()
    session.verify = srv.ca
    session.auth = SigV4(key["access_key_id"], key["secret_access_key"])

    s3 = srv.client()
    s3.create_bucket(Bucket="fuzz-bucket")
    s3.put_object(Bucket="fuzz-bucket", Key="fuzz-object", Body=b"fuzz")
    known = {"tenant": "default", "user": "fuzz-target", "group": "fuzz-group", "bucket": "fuzz-bucket"}
    known["key"] = "fuzz-object"

    def ensure() -> None:
        """(Re)make the entities the fixed cases name: a generated DELETE may have removed them."""
        users = {u["name"] for u in root.request("GET", "/tenants/default/users")}
        if "fuzz-target" not in users:
            root.request("POST", "/tenants/default/users", {"name": "fuzz-target"})
        if "fuzz-group" not in {g["name"] for g in root.request("GET", "/tenants/default/groups")}:
            root.request("POST", "/tenants/default/groups", {"name": "fuzz-group"})
        keys = root.request("GET", "/tenants/default/users/fuzz-target/access-keys")
        if not keys:
            keys = [root.request("POST", "/tenants/default/users/fuzz-target/access-keys")]
        known["key_id"] = keys[0]["access_key_id"]

    schema = schemathesis.openapi.from_url(f"{srv.endpoint}/_strongroom/api/v1/openapi.json", verify=srv.ca)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    succeeded: set[str] = set()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        seen: set[str] = set()

        ensure()
        names = set(re.findall(r"{(\w+)", operation.path))
        fixed = {k: v for k, v in known.items() if k in names}
        # positive cases, and negative ones (values the document rules out: the answer must still be a documented
        # 4xx with the error body)
        strategy = operation.as_strategy() | operation.as_strategy(GenerationMode.NEGATIVE)
        if fixed:  # half the cases on entities that exist, so the handlers run past "no such tenant"
            strategy = strategy | operation.as_strategy(path_parameters=fixed)

        @given(case=strategy)
        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call(base_url=srv.endpoint, session=session, verify=srv.ca, timeout=30)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code < 300:
                succeeded.add(operation.label)
            if response.status_code == 403 and "AccessDenied" not in response.text:
                # the signer and the server disagree: nothing else of this case would be tested
                failures.append(f"{operation.label}: {response.request.url} not accepted: {response.text[:300]}")
            try:
                case.validate_response(response, checks=CHECKS)
            except BaseException as exc:  # noqa: BLE001 - FailureGroup: collected, reported together below
                text = (
                    f"{case.method} {response.request.url} -> {response.status_code} {response.text[:300]!r}: "
                    + (" ".join(str(exc).split())[-700:])
                )
                first = str(exc).split("\n")[0] + f"{operation.label} {response.status_code}"
                if first not in seen:
                    seen.add(first)
                    failures.append(text)

        run()
    assert operations >= 30, operations
    # the fuzzer's own key survived the run
    assert root.request("GET", f"/access-keys/{key['access_key_id']}")["status"] == "Active"
    # the tenant admin reaches success on most operations (the rest are the operators' tenant and health endpoints,
    # and policy PUTs whose generated documents are no policies): the signing works and the handlers ran
    assert len(succeeded) >= 20, (statuses, sorted(succeeded))
    assert failures == [], "\n".join(failures)
