"""The server end to end: SDK and CLI against a real server process, uploads, tokens, the Azure data plane, metrics."""

from __future__ import annotations

import io
import stat
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from batchpoint.errors import InvalidInput, NotFound, Unauthorized

from .conftest import BIN, Server, ServerFactory, deploy, read_predictions, wait_for, write_inputs

MAX_UPLOAD = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def server(server_factory: ServerFactory) -> Server:
    return server_factory({"BATCHPOINT_SERVER_MAX_UPLOAD_BYTES": str(MAX_UPLOAD)})


@pytest.fixture(scope="module")
def deployed(server: Server) -> dict[str, Any]:
    """Endpoint ``api-ep`` with a default deployment, created through the SDK from local files."""
    client = server.client()
    client.batch_endpoints.create_from_file(None, name="api-ep")
    folder = server.project.parent / "local-project"
    deploy(client, folder, "api-ep", "blue")
    inputs = folder / "data"
    expected = write_inputs(inputs, 5)
    return {"client": client, "folder": folder, "inputs": inputs, "expected": expected}


def _db_url(server: Server) -> str:
    return server.env.get("BATCHPOINT_DATABASE_URL") or f"sqlite:///{server.workspace / 'metadata.db'}"


def test_health_is_public_and_says_nothing_else(server: Server) -> None:
    response = httpx.get(f"{server.url}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_sdk_end_to_end_scores_in_workers_not_in_the_server(server: Server, deployed: dict[str, Any]) -> None:
    client = deployed["client"]
    job = client.batch_endpoints.invoke("api-ep", input=str(deployed["inputs"]))
    assert job.status.value == "Queued"
    assert job.invoked_by is not None and job.invoked_by.startswith("bootstrap:")
    final = client.jobs.wait(job.name, timeout=120)
    assert final.status.value == "Completed", final.message
    dest = client.jobs.download(job.name, download_path=deployed["folder"] / "out")
    rows = read_predictions(dest / "named-outputs" / "score" / "predictions.csv")
    assert {r[0]: int(r[1]) for r in rows} == deployed["expected"]
    scorer_pids = {int(r[2]) for r in rows}
    assert server.pid not in scorer_pids, "user code ran in the server process"
    assert {r[3] for r in rows} == {"0"}, "the bootstrap token reached user code"
    logs = client.jobs.logs(job.name)
    assert "Completed" in logs


def test_errors_come_back_as_the_same_exception_classes(server: Server, deployed: dict[str, Any]) -> None:
    client = deployed["client"]
    with pytest.raises(NotFound):
        client.models.get("no-such-model", "1")
    with pytest.raises(InvalidInput) as caught:  # not a local path, so it names a server path: refused
        client.batch_endpoints.invoke("api-ep", input="/no-such-folder-here/data")
    assert caught.value.field == "input"
    with pytest.raises(Unauthorized):
        server.client(token="bp_0000000000000000_" + "x" * 43).models.list()


def test_model_upload_as_file_tar_and_zip_and_download(server: Server, deployed: dict[str, Any]) -> None:
    owner = server.http(server.token)
    single = owner.post(
        "/api/v1/uploads",
        params={"name": "weights.bin"},
        content=b"\x00\x01weights",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert single.status_code == 201, single.text
    model = owner.post("/api/v1/models", json={"name": "single-file", "path": single.json()["uri"]})
    assert model.status_code == 201, model.text
    assert model.json()["path"] == "weights.bin"

    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w:gz") as tar:
        for name, data in (("MLmodel", b"flavors: {}\n"), ("sub/params.txt", b"a=1\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    folder = owner.post(
        "/api/v1/uploads",
        params={"name": "tarred"},
        content=tar_bytes.getvalue(),
        headers={"Content-Type": "application/gzip"},
    )
    assert folder.status_code == 201, folder.text
    assert folder.json()["files"] == 2
    created = owner.post("/api/v1/models", json={"name": "from-tar", "path": folder.json()["uri"]}).json()
    assert created["type"] == "mlflow_model" and created["path"] == "tarred"

    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("a.txt", "A")
        zf.writestr("b/c.txt", "C")
    up = owner.post(
        "/api/v1/uploads",
        params={"name": "zipped"},
        content=zipped.getvalue(),
        headers={"Content-Type": "application/zip"},
    )
    assert up.status_code == 201, up.text
    owner.post("/api/v1/models", json={"name": "from-zip", "path": up.json()["uri"]}).raise_for_status()

    target = deployed["client"].models.download("from-zip", "1", server.project.parent / "dl")
    assert (target / "a.txt").read_text() == "A" and (target / "b" / "c.txt").read_text() == "C"
    # the upload was copied into the artifact store, then removed
    upload_id = up.json()["id"]
    assert not (server.workspace / "datastores" / "workspaceblobstore" / "uploads" / upload_id).exists()


def test_upload_size_cap_with_and_without_content_length(server: Server) -> None:
    owner = server.http(server.token)
    big = b"x" * (MAX_UPLOAD + 1)
    announced = owner.post(
        "/api/v1/uploads", params={"name": "big.bin"}, content=big, headers={"Content-Type": "application/octet-stream"}
    )
    assert announced.status_code == 413
    assert announced.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Any:
        for _ in range(5):
            yield b"y" * (1024 * 1024)

    streamed = owner.post(
        "/api/v1/uploads",
        params={"name": "big2.bin"},
        content=chunks(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert streamed.status_code == 413
    leftovers = list((server.workspace / "tmp").glob("upload-*")) if (server.workspace / "tmp").exists() else []
    assert leftovers == []


def test_tokens_roles_revocation_expiry_and_hashing(server: Server) -> None:
    client = server.client()
    reader = client.tokens.create("reader", name="viewer")
    assert server.client(reader.token).models.list() is not None
    from batchpoint.errors import Forbidden

    with pytest.raises(Forbidden):
        server.client(reader.token).batch_endpoints.create_from_file(None, name="not-allowed")
    listed = {t.id: t for t in client.tokens.list()}
    assert listed[reader.id].role.value == "reader" and "token" not in listed[reader.id].model_dump()
    client.tokens.revoke(reader.id)
    with pytest.raises(Unauthorized):
        server.client(reader.token).models.list()
    short = client.tokens.create("reader", expires="1s")
    time.sleep(1.2)
    assert server.http(short.token).get("/api/v1/models").status_code == 401
    engine = create_engine(_db_url(server))
    with engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM tokens")) for v in row)
    engine.dispose()
    for token in (reader.token, short.token, server.token):
        # A bp_ token's secret is its last part; the bootstrap token is free-form (its "_" are no separator).
        secret = token.rsplit("_", 1)[-1] if token.startswith("bp_") else token
        assert token not in dump and secret not in dump


def test_last_owner_token_cannot_be_revoked(server: Server) -> None:
    client = server.client()
    owners = [t for t in client.tokens.list() if t.role.value == "owner" and t.active]
    assert len(owners) == 1
    from batchpoint.errors import Conflict

    with pytest.raises(Conflict):
        client.tokens.revoke(owners[0].id)


def test_cli_login_config_file_and_remote_commands(server: Server, deployed: dict[str, Any]) -> None:
    env = {**server.env, "BATCHPOINT_CONFIG": str(server.project.parent / "cfg" / "config.json")}
    env.pop("BATCHPOINT_BOOTSTRAP_TOKEN")
    cwd = deployed["folder"]

    def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(BIN / "batchpoint"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
        )
        if check:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    cli("login", "--server", server.url, "--token", server.token)
    config = Path(env["BATCHPOINT_CONFIG"])
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert "api-ep" in cli("batch-endpoint", "list", "-o", "tsv").stdout
    run = cli("batch-endpoint", "invoke", "-n", "api-ep", "--input", "data", "--stream", "-o", "json")
    job = __import__("json").loads(run.stdout[: run.stdout.rindex("}") + 1])["name"]
    cli("job", "download", "-n", job, "--download-path", "cli-out")
    rows = read_predictions(cwd / "cli-out" / "named-outputs" / "score" / "predictions.csv")
    assert {r[0]: int(r[1]) for r in rows} == deployed["expected"]
    created = cli("token", "create", "--role", "reader", "--name", "from-cli", "-o", "json")
    assert '"token": "bp_' in created.stdout
    cli("logout")
    assert not config.exists()
    failed = cli("model", "list", check=False)  # no login, no workspace here: a clear error, not a traceback
    assert failed.returncode != 0 and "Traceback" not in failed.stderr


def test_azure_data_plane_invoke_and_poll(server: Server, deployed: dict[str, Any]) -> None:
    client = deployed["client"]
    # The application reads the data asset the team registered and writes where it was granted.
    app = client.tokens.create(
        "contributor", name="business-app", endpoint="api-ep", invoke_only=True,
        grants=["azureml://datastores/workspaceblobstore/paths/az-out/"],
    )  # fmt: skip
    upload = client.data.create("scoring-input", str(deployed["inputs"]))
    asset_id = f"azureml://locations/local/workspaces/ws/data/{upload.name}/versions/{upload.version}"
    scoring_uri = client.batch_endpoints.get("api-ep").scoring_uri
    assert scoring_uri == f"{server.url}/endpoints/batch/api-ep/jobs"
    body = {
        "properties": {
            "InputData": {"heart_data": {"JobInputType": "UriFolder", "Uri": asset_id}},
            "OutputData": {
                "score": {"JobOutputType": "UriFolder", "Uri": "azureml://datastores/workspaceblobstore/paths/az-out"}
            },
            "properties": {"experimentName": "rest-experiment"},
        }
    }
    headers = {"Authorization": f"Bearer {app.token}", "azureml-model-deployment": "blue"}
    response = httpx.post(scoring_uri, json=body, headers=headers, timeout=60)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    suffix = job_id.rsplit("/", 1)[-1]

    def status() -> str | None:
        answer = httpx.get(f"{scoring_uri}/{suffix}", headers=headers, timeout=30).json()
        value = answer["properties"]["status"]
        return value if value in ("Completed", "Failed", "Canceled") else None

    assert wait_for(status, timeout=120, interval=0.5) == "Completed"
    out = server.workspace / "datastores" / "workspaceblobstore" / "az-out" / "predictions.csv"
    assert {r[0]: int(r[1]) for r in read_predictions(out)} == deployed["expected"]
    assert client.jobs.get(suffix).experiment_name == "rest-experiment"

    legacy = {"properties": {"dataset": {"dataInputType": "DatasetVersion", "datasetName": "scoring-input"}}}
    assert httpx.post(scoring_uri, json=legacy, headers=headers, timeout=60).status_code == 202
    literal = {"properties": {"InputData": {"mode": {"JobInputType": "Literal", "Value": "x"}}}}
    refused = httpx.post(scoring_uri, json=literal, headers=headers, timeout=60)
    assert refused.status_code == 422 and "LiteralJobInput" in refused.json()["error"]["message"]
    # the application's token does nothing else
    assert httpx.get(f"{server.url}/api/v1/models", headers=headers).status_code == 403


def test_metrics_count_requests_jobs_and_mini_batches(server: Server, deployed: dict[str, Any]) -> None:
    client = deployed["client"]
    job = client.batch_endpoints.invoke("api-ep", input=str(deployed["inputs"]))
    assert client.jobs.wait(job.name, timeout=120).status.value == "Completed"
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    text_ = server.http(server.token).get("/metrics").text
    metrics = {}
    for line in text_.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            metrics[name] = float(value)
    assert metrics['batchpoint_jobs{state="Completed"}'] >= 1
    assert metrics["batchpoint_minibatches_scored_total"] >= 3
    assert metrics["batchpoint_items_scored_total"] >= 10
    assert "batchpoint_minibatches_failed_total" in metrics and "batchpoint_jobs_failed_total" in metrics
    assert any(
        k.startswith(
            'batchpoint_http_requests_total{method="POST",route="/api/v1/batch-endpoints/{endpoint_name}/jobs"'
        )
        for k in metrics
    )
    assert metrics["batchpoint_auth_failures_total"] >= 1


def test_openapi_document_needs_a_token(server: Server) -> None:
    assert httpx.get(f"{server.url}/api/v1/openapi.json").status_code == 401
    assert httpx.get(f"{server.url}/openapi.json").status_code == 401
    doc = server.http(server.token).get("/api/v1/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "/endpoints/batch/{endpoint_name}/jobs" in doc["paths"]
    assert "/api/v1/batch-endpoints/{endpoint_name}/deployments" in doc["paths"]
