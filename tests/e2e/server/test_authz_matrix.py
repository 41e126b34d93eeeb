"""The route × method × role matrix, generated from the app's routers and checked against the expected table.

Each route is listed below with the permission class it must have. The test first checks that the
routers the app mounts and this table name exactly the same (method, path) pairs, then calls
every route with every kind of caller and compares the answer with the class's expected outcome:
``ok`` (anything but 401/403, never a 5xx), 401, 403 or 404 (a job another endpoint's token may
not know of). Requests that would change something are sent with a body that fails validation
after the permission check, or name things that do not exist, so the matrix leaves no trace.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from batchpoint.server.routes import all_routers

from .conftest import Server, ServerFactory, deploy, write_inputs

ROLES = (
    "anonymous",
    "malformed",
    "revoked",
    "expired",
    "reader",
    "contributor",
    "contributor2",
    "owner",
    "invoke_a",
    "scoped_b",
)
UNAUTHENTICATED = ("anonymous", "malformed", "revoked", "expired")
BAD = {"bogus": 1}

# permission class -> role -> expected ("ok", 401, 403 or 404); unauthenticated callers get 401 everywhere but public
_ALL_OK = dict.fromkeys(ROLES[4:], "ok")
OUTCOMES: dict[str, dict[str, Any]] = {
    "public": dict.fromkeys(ROLES, "ok"),
    "any": _ALL_OK,
    "read": {**_ALL_OK, "invoke_a": 403, "scoped_b": 403},
    "write": {**_ALL_OK, "reader": 403, "invoke_a": 403, "scoped_b": 403},
    "delete": {**dict.fromkeys(ROLES[4:], 403), "owner": "ok"},
    "admin": {**dict.fromkeys(ROLES[4:], 403), "owner": "ok"},
    "upload": {**_ALL_OK, "reader": 403},
    "ep_read": {**_ALL_OK, "invoke_a": 403, "scoped_b": 403},
    "ep_write": {**_ALL_OK, "reader": 403, "invoke_a": 403, "scoped_b": 403},
    "ep_delete": {**dict.fromkeys(ROLES[4:], 403), "owner": "ok"},
    "ep_invoke": {**_ALL_OK, "reader": 403, "scoped_b": 403},
    # The matrix's job was started by "contributor": an invoke-only token knows only its own jobs.
    "ep_jobs": {**_ALL_OK, "scoped_b": 403},
    "job_read": {**_ALL_OK, "scoped_b": 404, "invoke_a": 404},
    "job_control": {**_ALL_OK, "reader": 403, "contributor2": 403, "invoke_a": 404, "scoped_b": 404},
    "az_job_read": {**_ALL_OK, "scoped_b": 403, "invoke_a": 404},
}

# (method, route template) -> (permission class, concrete path, JSON body or None)
EXPECTED: dict[tuple[str, str], tuple[str, str, Any]] = {
    ("GET", "/health"): ("public", "/health", None),
    ("HEAD", "/health"): ("public", "/health", None),
    ("GET", "/metrics"): ("read", "/metrics", None),
    ("GET", "/api/v1/whoami"): ("any", "/api/v1/whoami", None),
    ("GET", "/api/v1/supervisor"): ("admin", "/api/v1/supervisor", None),
    ("GET", "/api/v1/openapi.json"): ("any", "/api/v1/openapi.json", None),
    # models, environments, data: the same seven routes each
    **{
        key: value
        for noun in ("models", "environments", "data")
        for key, value in {
            ("GET", f"/api/v1/{noun}"): ("read", f"/api/v1/{noun}", None),
            ("POST", f"/api/v1/{noun}"): ("write", f"/api/v1/{noun}", BAD),
            ("GET", f"/api/v1/{noun}/{{name}}"): ("read", f"/api/v1/{noun}/nothing", None),
            ("GET", f"/api/v1/{noun}/{{name}}/versions/{{version}}"): (
                "read",
                f"/api/v1/{noun}/nothing/versions/1",
                None,
            ),
            ("DELETE", f"/api/v1/{noun}/{{name}}/versions/{{version}}"): (
                "delete",
                f"/api/v1/{noun}/nothing/versions/1",
                None,
            ),
            ("POST", f"/api/v1/{noun}/{{name}}/archive"): ("write", f"/api/v1/{noun}/nothing/archive", None),
            ("POST", f"/api/v1/{noun}/{{name}}/restore"): ("write", f"/api/v1/{noun}/nothing/restore", None),
        }.items()
    },
    ("POST", "/api/v1/environments/{name}/build"): ("write", "/api/v1/environments/nothing/build", None),
    ("GET", "/api/v1/models/{name}/versions/{version}/download"): (
        "read",
        "/api/v1/models/nothing/versions/1/download",
        None,
    ),
    # components: the versioned routes but delete (versions are archived, never deleted)
    ("GET", "/api/v1/components"): ("read", "/api/v1/components", None),
    ("POST", "/api/v1/components"): ("write", "/api/v1/components", BAD),
    ("GET", "/api/v1/components/{name}"): ("read", "/api/v1/components/nothing", None),
    ("GET", "/api/v1/components/{name}/versions/{version}"): ("read", "/api/v1/components/nothing/versions/1", None),
    ("POST", "/api/v1/components/{name}/archive"): ("write", "/api/v1/components/nothing/archive", None),
    ("POST", "/api/v1/components/{name}/restore"): ("write", "/api/v1/components/nothing/restore", None),
    ("GET", "/api/v1/computes"): ("read", "/api/v1/computes", None),
    ("POST", "/api/v1/computes"): ("write", "/api/v1/computes", BAD),
    ("GET", "/api/v1/computes/{name}"): ("read", "/api/v1/computes/local", None),
    ("PATCH", "/api/v1/computes/{name}"): ("write", "/api/v1/computes/nothing", BAD),
    ("DELETE", "/api/v1/computes/{name}"): ("delete", "/api/v1/computes/nothing", None),
    ("GET", "/api/v1/datastores"): ("read", "/api/v1/datastores", None),
    ("GET", "/api/v1/datastores/{name}"): ("read", "/api/v1/datastores/workspaceblobstore", None),
    ("POST", "/api/v1/datastores"): ("admin", "/api/v1/datastores", BAD),
    ("GET", "/api/v1/experiments"): ("read", "/api/v1/experiments", None),
    ("GET", "/api/v1/experiments/{name}"): ("read", "/api/v1/experiments/Default", None),
    ("GET", "/api/v1/batch-endpoints"): ("read", "/api/v1/batch-endpoints", None),
    ("POST", "/api/v1/batch-endpoints"): ("write", "/api/v1/batch-endpoints", BAD),
    ("GET", "/api/v1/batch-endpoints/{endpoint_name}"): ("ep_read", "/api/v1/batch-endpoints/ep-a", None),
    ("PATCH", "/api/v1/batch-endpoints/{endpoint_name}"): ("ep_write", "/api/v1/batch-endpoints/ep-a", BAD),
    ("DELETE", "/api/v1/batch-endpoints/{endpoint_name}"): ("ep_delete", "/api/v1/batch-endpoints/ep-zzz", None),
    ("GET", "/api/v1/batch-endpoints/{endpoint_name}/route"): ("ep_read", "/api/v1/batch-endpoints/ep-a/route", None),
    ("POST", "/api/v1/batch-endpoints/{endpoint_name}/jobs"): ("ep_invoke", "/api/v1/batch-endpoints/ep-a/jobs", BAD),
    ("GET", "/api/v1/batch-endpoints/{endpoint_name}/jobs"): ("ep_jobs", "/api/v1/batch-endpoints/ep-a/jobs", None),
    ("GET", "/api/v1/batch-endpoints/{endpoint_name}/deployments"): (
        "ep_read",
        "/api/v1/batch-endpoints/ep-a/deployments",
        None,
    ),
    ("POST", "/api/v1/batch-endpoints/{endpoint_name}/deployments"): (
        "ep_write",
        "/api/v1/batch-endpoints/ep-a/deployments",
        BAD,
    ),
    ("GET", "/api/v1/batch-endpoints/{endpoint_name}/deployments/{name}"): (
        "ep_read",
        "/api/v1/batch-endpoints/ep-a/deployments/dep",
        None,
    ),
    ("PATCH", "/api/v1/batch-endpoints/{endpoint_name}/deployments/{name}"): (
        "ep_write",
        "/api/v1/batch-endpoints/ep-a/deployments/dep",
        BAD,
    ),
    ("DELETE", "/api/v1/batch-endpoints/{endpoint_name}/deployments/{name}"): (
        "ep_delete",
        "/api/v1/batch-endpoints/ep-zzz/deployments/dep",
        None,
    ),
    ("GET", "/api/v1/batch-endpoints/{endpoint_name}/deployments/{name}/jobs"): (
        "ep_read",
        "/api/v1/batch-endpoints/ep-a/deployments/dep/jobs",
        None,
    ),
    ("GET", "/api/v1/jobs"): ("read", "/api/v1/jobs", None),
    ("POST", "/api/v1/jobs"): ("write", "/api/v1/jobs", BAD),
    ("GET", "/api/v1/jobs/{name}"): ("job_read", "/api/v1/jobs/{job}", None),
    ("POST", "/api/v1/jobs/{name}/cancel"): ("job_control", "/api/v1/jobs/{job}/cancel", None),
    ("POST", "/api/v1/jobs/{name}/resume"): ("job_control", "/api/v1/jobs/{job}/resume", None),
    ("GET", "/api/v1/jobs/{name}/logs"): ("job_read", "/api/v1/jobs/{job}/logs", None),
    ("GET", "/api/v1/jobs/{name}/metrics"): ("job_read", "/api/v1/jobs/{job}/metrics", None),
    ("GET", "/api/v1/jobs/{name}/logs/archive"): ("job_read", "/api/v1/jobs/{job}/logs/archive", None),
    ("GET", "/api/v1/jobs/{name}/outputs/{output_name}"): ("job_read", "/api/v1/jobs/{job}/outputs/score", None),
    ("GET", "/api/v1/tokens"): ("admin", "/api/v1/tokens", None),
    ("POST", "/api/v1/tokens"): ("admin", "/api/v1/tokens", BAD),
    ("DELETE", "/api/v1/tokens/{token_id}"): ("admin", "/api/v1/tokens/0000000000000000", None),
    ("POST", "/api/v1/uploads"): ("upload", "/api/v1/uploads", None),
    ("POST", "/endpoints/batch/{endpoint_name}/jobs"): ("ep_invoke", "/endpoints/batch/ep-a/jobs", BAD),
    ("GET", "/endpoints/batch/{endpoint_name}/jobs"): ("ep_jobs", "/endpoints/batch/ep-a/jobs", None),
    ("GET", "/endpoints/batch/{endpoint_name}/jobs/{job_name}"): (
        "az_job_read",
        "/endpoints/batch/ep-a/jobs/{job}",
        None,
    ),
}


def app_routes() -> set[tuple[str, str]]:
    return {
        (method, prefix + route.path)  # type: ignore[attr-defined]
        for router, prefix in all_routers()
        for route in router.routes
        for method in route.methods  # type: ignore[attr-defined]
    }


@pytest.fixture(scope="module")
def world(server_factory: ServerFactory) -> dict[str, Any]:
    server = server_factory()
    owner = server.client()
    owner.batch_endpoints.create_from_file(None, name="ep-a")
    owner.batch_endpoints.create_from_file(None, name="ep-b")
    deploy(owner, server.project.parent / "local", "ep-a", "dep")
    make = owner.tokens.create
    tokens = {
        "reader": make("reader").token,
        "contributor": make("contributor", name="alice").token,
        "contributor2": make("contributor", name="bob").token,
        "owner": server.token,
        "invoke_a": make("contributor", endpoint="ep-a", invoke_only=True).token,
        "scoped_b": make("contributor", endpoint="ep-b").token,
    }
    revoked = make("contributor")
    owner.tokens.revoke(revoked.id)
    expired = make("owner", expires="1s")
    data = server.project.parent / "matrix-data"
    write_inputs(data, 2)
    alice = server.client(tokens["contributor"])
    job = alice.batch_endpoints.invoke("ep-a", input=str(data))
    assert alice.jobs.wait(job.name, timeout=120).status.value == "Completed"
    time.sleep(max(0.0, 1.2 - (time.time() - expired.created_at.timestamp())) if expired.created_at else 1.2)
    headers: dict[str, dict[str, str]] = {
        "anonymous": {},
        "malformed": {"Authorization": "Bearer not-a-token"},
        "revoked": {"Authorization": f"Bearer {revoked.token}"},
        "expired": {"Authorization": f"Bearer {expired.token}"},
        **{role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()},
    }
    return {"server": server, "headers": headers, "job": job.name}


def test_the_table_names_exactly_the_routes_of_the_app() -> None:
    routes = app_routes()
    assert routes - set(EXPECTED) == set(), "routes without an expected permission"
    assert set(EXPECTED) - routes == set(), "expected routes the app does not have"


def test_every_route_method_and_role(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    mismatches = []
    checked = 0
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for (method, template), (klass, path, body) in sorted(EXPECTED.items()):
            url = path.replace("{job}", world["job"])
            for role in ROLES:
                expected = OUTCOMES[klass][role] if klass == "public" or role not in UNAUTHENTICATED else 401
                response = http.request(method, url, json=body, headers=world["headers"][role])
                status = response.status_code
                actual: Any = "ok" if status not in (401, 403) and status < 500 else status
                if expected == 404:
                    actual = status
                if status >= 500 or actual != expected:
                    mismatches.append(
                        f"{method} {template} as {role}: expected {expected}, got {status} {response.text[:120]}"
                    )
                checked += 1
    assert checked == len(EXPECTED) * len(ROLES)
    assert not mismatches, "\n".join(mismatches)


def test_undeclared_methods_are_refused_too(world: dict[str, Any]) -> None:
    """Default deny: a method a path does not have is 401 without a token, 405 with one."""
    server: Server = world["server"]
    declared: dict[str, set[str]] = {}
    concrete: dict[str, str] = {}
    for (method, template), (_, path, _) in EXPECTED.items():
        declared.setdefault(template, set()).add(method)
        concrete.setdefault(template, path.replace("{job}", world["job"]))
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for template, methods in declared.items():
            path = concrete[template]
            for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - methods:
                anonymous = http.request(method, path)
                owner = http.request(method, path, headers=world["headers"]["owner"])
                if path == "/health":
                    assert anonymous.status_code == 401
                    continue
                assert anonymous.status_code == 401, (method, path)
                assert owner.status_code == 405, (method, path, owner.status_code)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer null",
        "bearer {token}",
        "BEARER {token}",
        "Basic {token}",
        "Bearer  {token}",
        "Token {token}",
        "Bearer {token}x",
        "Bearer x{token}",
        "Bearer " + "A" * 2048,
        "Bearer bp_0123456789abcdef_" + "A" * 43,
        "Bearer {token},{token}",
    ],
)
def test_malformed_authorization_headers_are_401(world: dict[str, Any], header: str) -> None:
    server: Server = world["server"]
    owner = world["headers"]["owner"]["Authorization"].removeprefix("Bearer ")
    value = header.replace("{token}", owner)
    response = httpx.get(f"{server.url}/api/v1/models", headers={"Authorization": value} if value else {})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_a_token_in_the_query_string_is_not_accepted(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    owner = world["headers"]["owner"]["Authorization"].removeprefix("Bearer ")
    for name in ("token", "access_token", "api_key", "Authorization"):
        assert httpx.get(f"{server.url}/api/v1/models", params={name: owner}).status_code == 401
