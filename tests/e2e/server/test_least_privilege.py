"""Least privilege: what the parameters of an allowed call can reach, for the lowest tokens that can invoke.

The five findings of the least-privilege review, each as a regression test against a real server:
code execution through per-job environment variables, reading and writing other tenants' files
through input and output paths, unbounded workers, token lifetimes that broke token management,
and the smaller hygiene items (server paths in answers, job listing of invoke-only tokens).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from batchpoint.config import Settings
from batchpoint.tokens.auth import Role
from batchpoint.tokens.service import TokenService
from batchpoint.workspace import Workspace

from .conftest import Server, ServerFactory, deploy, upload_csv_folder, wait_for, write_inputs

EP = "lp-ep"
BLOB = "azureml://datastores/workspaceblobstore/paths"


@pytest.fixture(scope="module")
def world(server_factory: ServerFactory) -> dict[str, Any]:
    server = server_factory(
        {"BATCHPOINT_SERVER_MAX_ACTIVE_JOBS_PER_TOKEN": "3", "BATCHPOINT_SERVER_MAX_UPLOAD_BYTES_PER_TOKEN": "200000"}
    )
    owner = server.client()
    owner.batch_endpoints.create_from_file(None, name=EP)
    folder = server.project.parent / "lp-project"
    deploy(owner, folder, EP, "blue", max_concurrency_per_instance=2, environment_variables={"DEPLOYED": "yes"})
    make = owner.tokens.create
    tokens = {
        "contributor": make("contributor", name="carol").token,
        "app_a": make("contributor", name="app-a", endpoint=EP, invoke_only=True).token,
        "app_b": make("contributor", name="app-b", endpoint=EP, invoke_only=True).token,
        "granted": make(
            "contributor", name="app-g", endpoint=EP, invoke_only=True, grants=[f"{BLOB}/shared/app-g/"]
        ).token,
    }
    return {"server": server, "tokens": tokens, "folder": folder}


def _http(world: dict[str, Any], who: str) -> httpx.Client:
    server: Server = world["server"]
    return server.http(world["tokens"][who])


def _invoke(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post(f"/api/v1/batch-endpoints/{EP}/jobs", json=body)


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


# -- finding 1: code execution through per-job environment variables --------------------------------------
def test_invoke_only_tokens_cannot_set_environment_variables_code_or_more_workers(world: dict[str, Any]) -> None:
    with _http(world, "app_a") as app:
        source = upload_csv_folder(app, "sitecustomize-in")
        jobs_before = app.get(f"/api/v1/batch-endpoints/{EP}/jobs").json()
        for key, value in [
            ("environment_variables.PYTHONPATH", "/tmp"),
            ("environment_variables.LD_PRELOAD", "/tmp/evil.so"),
            ("environment_variables.DEPLOYED", "replaced"),
            ("environment_variables", {"PYTHONSTARTUP": "/tmp/x.py"}),
            ("max_concurrency_per_instance", 1024),
            ("max_concurrency_per_instance", 3),  # above the deployment's own 2
            ("instance_count", 2),
            ("retry_settings.max_retries", 50),
            ("retry_settings.timeout", 3600),
        ]:
            response = _invoke(app, input=source, overrides=[[key, value]])
            assert response.status_code == 403, (key, response.text)
            error = response.json()["error"]
            assert error["code"] == "forbidden" and key.split(".")[0] in error["field"], error
        for direct in ({"instance_count": 5}, {"mini_batch_size": 0}):
            assert _invoke(app, input=source, **direct).status_code in (403, 422)
        assert app.get(f"/api/v1/batch-endpoints/{EP}/jobs").json() == jobs_before  # nothing was queued
        # What a data-plane caller may set, within the deployment's bounds, still works.
        ok = _invoke(
            app, input=source, mini_batch_size=1,
            overrides=[["error_threshold", 3], ["retry_settings.max_retries", 1], ["output_file_name", "out.csv"]],
        )  # fmt: skip
        assert ok.status_code == 202, ok.text
        assert ok.json()["settings"]["environment_variables"] == {"DEPLOYED": "***"}
        wait_for(lambda: app.get(f"/api/v1/jobs/{ok.json()['name']}").json()["status"] == "Completed", 120)


def test_contributors_keep_the_full_override_set_within_the_compute_capacity(world: dict[str, Any]) -> None:
    with _http(world, "contributor") as carol:
        source = upload_csv_folder(carol, "carol-in")
        too_many = _invoke(carol, input=source, overrides=[["max_concurrency_per_instance", 1024]])
        assert too_many.status_code == 422 and "max_concurrency_per_instance" in too_many.json()["error"]["field"]
        ok = _invoke(carol, input=source, overrides=[["environment_variables.EXTRA", "1"]])
        assert ok.status_code == 202, ok.text
        wait_for(lambda: carol.get(f"/api/v1/jobs/{ok.json()['name']}").json()["status"] == "Completed", 120)


# -- finding 2: other tenants' files -----------------------------------------------------------------------
def test_a_token_reads_only_its_own_uploads_and_writes_only_its_own_job_folder(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    datastore = server.workspace / "datastores" / "workspaceblobstore"
    with _http(world, "app_a") as app_a, _http(world, "app_b") as app_b:
        b_upload = upload_csv_folder(app_b, "b-private")
        refused = {
            "other tenant's upload as input": {"input": b_upload},
            "the datastore root as input": {"input": f"{BLOB}/"},
            "the uploads folder as input": {"input": f"{BLOB}/uploads/"},
            "a dotted way to another upload": {"input": b_upload.replace("/uploads/", "/./uploads/")},
            "a server path as input": {"input": str(datastore / "uploads")},
            "the datastore root as output": {"input": upload_csv_folder(app_a, "a1"), "output_path": f"{BLOB}/"},
            "another upload as output": {"input": upload_csv_folder(app_a, "a2"), "output_path": b_upload + "/out"},
            "a server path as output": {"input": upload_csv_folder(app_a, "a3"), "output_path": str(datastore / "x")},
            "a datastore path not granted": {
                "input": upload_csv_folder(app_a, "a4"),
                "output_path": f"{BLOB}/elsewhere",
            },
        }
        before = _tree(datastore)
        for case, body in refused.items():
            response = _invoke(app_a, **body)
            assert response.status_code == 403, (case, response.text)
            assert str(server.workspace) not in response.text, case
        azure = app_a.post(
            f"/endpoints/batch/{EP}/jobs",
            json={"properties": {"InputData": {"d": {"JobInputType": "UriFolder", "Uri": b_upload}}}},
        )
        assert azure.status_code == 403, azure.text
        assert _tree(datastore) == before  # nothing written anywhere


def test_downloads_hold_only_what_the_job_wrote_and_only_for_its_owner(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    with _http(world, "app_a") as app_a, _http(world, "app_b") as app_b:
        job = _invoke(app_a, input=upload_csv_folder(app_a, "a-own")).json()
        wait_for(lambda: app_a.get(f"/api/v1/jobs/{job['name']}").json()["status"] == "Completed", 120)
        # A file planted in the output folder after the job completed is not handed out.
        out = server.workspace / "jobs" / job["name"] / "outputs" / "score"
        (out / "planted.txt").write_text("not the job's\n")
        archive = app_a.get(f"/api/v1/jobs/{job['name']}/outputs/score")
        assert archive.status_code == 200
        with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
            assert tar.getnames() == ["predictions.csv"]
        # Another application on the same endpoint does not know of the job, nor lists it.
        for path in ("", "/outputs/score", "/logs"):
            assert app_b.get(f"/api/v1/jobs/{job['name']}{path}").status_code == 404
        assert job["name"] not in [j["name"] for j in app_b.get(f"/api/v1/batch-endpoints/{EP}/jobs").json()]
        own = app_a.get(f"/api/v1/batch-endpoints/{EP}/jobs")
        assert own.status_code == 200 and job["name"] in [j["name"] for j in own.json()]
        assert app_b.get(f"/endpoints/batch/{EP}/jobs/{job['name']}").status_code == 404


def test_granted_datastore_paths_and_new_or_empty_output_folders(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    shared = server.workspace / "datastores" / "workspaceblobstore" / "shared"
    write_inputs(shared / "app-g" / "in", 2)
    write_inputs(shared / "other", 1)
    with _http(world, "granted") as app_g, _http(world, "contributor") as carol:
        assert _invoke(app_g, input=f"{BLOB}/shared/other").status_code == 403
        assert _invoke(app_g, input=f"{BLOB}/shared/app-g-2/in").status_code == 403  # a prefix is a folder
        assert _invoke(app_g, input=f"{BLOB}/shared/app-g/in", output_path=f"{BLOB}/shared/").status_code == 403
        job = _invoke(app_g, input=f"{BLOB}/shared/app-g/in", output_path=f"{BLOB}/shared/app-g/run1")
        assert job.status_code == 202, job.text
        name = job.json()["name"]
        wait_for(lambda: app_g.get(f"/api/v1/jobs/{name}").json()["status"] == "Completed", 120)
        assert (shared / "app-g" / "run1" / "predictions.csv").is_file()
        # An output folder must be new or empty, for every role: never a parent of other data.
        again = _invoke(app_g, input=f"{BLOB}/shared/app-g/in", output_path=f"{BLOB}/shared/app-g/run1")
        assert again.status_code == 409, again.text
        source = upload_csv_folder(carol, "carol-2")
        assert _invoke(carol, input=source, output_path=f"{BLOB}/shared").status_code == 409
        assert _invoke(carol, input=source, output_path=f"{BLOB}/").status_code == 409
        assert _invoke(carol, input=source, output_path=f"{BLOB}/uploads/new").status_code == 403
    # A grant never extends to uploads, even one over the whole datastore.
    owner = server.client()
    wide = owner.tokens.create("contributor", name="wide", endpoint=EP, invoke_only=True, grants=[f"{BLOB}/"]).token
    with server.http(wide) as app_w, _http(world, "app_b") as app_b:
        other = upload_csv_folder(app_b, "b-for-wide")
        for target in (other, f"{BLOB}/", f"{BLOB}/uploads"):
            assert _invoke(app_w, input=target).status_code == 403, target
        assert _invoke(app_w, input=f"{BLOB}/shared/other").status_code == 202


# -- finding 3: resource bounds ------------------------------------------------------------------------------
def test_per_token_limits_on_active_jobs_and_upload_bytes(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    owner = server.client()
    busy = owner.tokens.create("contributor", name="busy").token
    with server.http(busy) as app, _http(world, "app_b") as other:
        source = upload_csv_folder(app, "slow-in", files=1)
        slow = [["environment_variables.SCORER_SLEEP", "20"]]
        started = []
        for _ in range(3):
            response = _invoke(app, input=source, overrides=slow)
            assert response.status_code == 202, response.text
            started.append(response.json()["name"])
        refused = _invoke(app, input=source, overrides=slow)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert "at once (3)" in refused.json()["error"]["message"]
        assert _invoke(other, input=upload_csv_folder(other, "b-in")).status_code == 202  # another token has its own
        for name in started:
            app.post(f"/api/v1/jobs/{name}/cancel")
        ended = ("Canceled", "Completed", "Failed")
        wait_for(lambda: all(app.get(f"/api/v1/jobs/{n}").json()["status"] in ended for n in started), 60)
        assert _invoke(app, input=source).status_code == 202  # slots free again once the jobs ended
        # Upload budget: 200 kB per token per window; another token has its own.
        blob = b"x" * 150_000
        headers = {"Content-Type": "application/octet-stream"}
        assert app.post("/api/v1/uploads", params={"name": "a.bin"}, content=blob, headers=headers).status_code == 201
        over = app.post("/api/v1/uploads", params={"name": "b.bin"}, content=blob, headers=headers)
        assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1, over.text
        ok = other.post("/api/v1/uploads", params={"name": "c.bin"}, content=b"y" * 1000, headers=headers)
        assert ok.status_code == 201


# -- finding 4: token lifetimes ------------------------------------------------------------------------------
def test_token_lifetimes_are_bounded_and_one_bad_row_breaks_nothing(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    with server.http(server.token) as admin:
        count = len(admin.get("/api/v1/tokens").json())
        for expires in ("999999w", "3651d", "99999999d", "0d", "-1d", "1y"):
            response = admin.post("/api/v1/tokens", json={"role": "reader", "expires": expires})
            assert response.status_code == 422, (expires, response.text)
        assert len(admin.get("/api/v1/tokens").json()) == count  # nothing was written
        assert admin.post("/api/v1/tokens", json={"role": "reader", "expires": "3650d"}).status_code == 201
        # A row from before lifetimes were bounded (or edited by hand) does not break listing or revoking.
        url = server.env.get("BATCHPOINT_DATABASE_URL")
        workspace = Workspace.open(server.workspace, Settings(database_url=url) if url else Settings())
        try:
            token = "bp_00000000deadbeef_" + "A" * 43
            bad = TokenService(workspace.db)._insert("00000000deadbeef", token, Role.reader, "old", None, False, 1e15)
        finally:
            workspace.close()
        listed = admin.get("/api/v1/tokens")
        assert listed.status_code == 200 and bad.id in [t["id"] for t in listed.json()]
        revoked = admin.delete(f"/api/v1/tokens/{bad.id}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None


# -- finding 5: server paths and echoed values in answers ----------------------------------------------------
def test_answers_carry_no_server_paths(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    with _http(world, "contributor") as carol:
        job = _invoke(carol, input=upload_csv_folder(carol, "paths-in")).json()
        wait_for(lambda: carol.get(f"/api/v1/jobs/{job['name']}").json()["status"] == "Completed", 120)
        answers = [
            carol.get(f"/api/v1/jobs/{job['name']}"),
            carol.get(f"/api/v1/batch-endpoints/{EP}/deployments/blue"),
            carol.get(f"/api/v1/jobs/{job['name']}/logs"),
            _invoke(carol, input=f"{BLOB}/no/such/folder"),
            _invoke(carol, input=f"{BLOB}/../../etc"),
            carol.get("/api/v1/jobs/" + "x" * 100 + "/logs", params={"file": "../../../etc/passwd"}),
        ]
        shown = carol.get(f"/api/v1/jobs/{job['name']}").json()
    for response in answers:
        assert response.status_code < 500, response.text
        for secret_path in {str(server.workspace), str(server.workspace.resolve()), str(server.project)}:
            assert secret_path not in response.text, (response.request.url, response.text[:300])
    assert shown["inputs"]["input_data"]["resolved"].startswith("azureml://datastores/workspaceblobstore/paths/")
    assert shown["outputs"]["score"]["path"].startswith("<workspace>/jobs/")
