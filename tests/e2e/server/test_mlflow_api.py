"""The team server's MLflow REST paths with the stock MLflow client (issue #14, "Team server").

One real ``batchpoint server`` per backend (SQLite and PostgreSQL, from ``conftest.py``); the client
runs in this process with ``MLFLOW_TRACKING_URI=http://127.0.0.1:<port>`` and
``MLFLOW_TRACKING_TOKEN=<batchpoint token>``, as a remote user would set them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
from pathlib import Path
from typing import Any

import pytest

from .conftest import Server, ServerFactory

pytest.importorskip("mlflow")
pytest.importorskip("flask")
pytest.importorskip("a2wsgi")

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def server(server_factory: ServerFactory) -> Server:
    return server_factory()


@pytest.fixture(scope="module")
def tokens(server: Server) -> dict[str, str]:
    make = server.client().tokens.create
    return {
        "owner": server.token,
        "contributor": make("contributor", name="tracker").token,
        "reader": make("reader").token,
        "invoke": make("contributor", endpoint="ep-a", invoke_only=True).token,
        "scoped": make("contributor", endpoint="ep-a").token,
    }


@pytest.fixture
def as_token(server: Server, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``as_token(token)``: an ``MlflowClient`` of the server that sends ``token`` (None: no token)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)

    def make(token: str | None) -> MlflowClient:
        if token is None:
            monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
        else:
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
        return MlflowClient(tracking_uri=server.url)

    return make


def _error_code(exc: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(exc.value.error_code)


def _raw(server: Server, method: str, path: str, body: bytes = b"", token: str | None = None) -> tuple[int, Any]:
    """One request with the path sent as written (httpx and requests would resolve ``..`` first)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    headers = {"Content-Type": "application/octet-stream" if method == "PUT" else "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=body, headers=headers)
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    try:
        return answer.status, json.loads(data)
    except ValueError:
        return answer.status, data


def test_the_stock_client_logs_a_run_and_reads_it_back(
    server: Server, tokens: dict[str, str], as_token: Any, tmp_path: Path
) -> None:
    import mlflow

    client = as_token(tokens["contributor"])
    mlflow.set_tracking_uri(server.url)
    experiment = mlflow.set_experiment("remote-tracking")
    assert experiment.artifact_location == f"mlflow-artifacts:/{experiment.experiment_id}"
    artifact = tmp_path / "notes" / "hello.bin"
    artifact.parent.mkdir()
    artifact.write_bytes(bytes(range(256)) * 8)
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        for step in range(20):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", 0.9, 0, 1), Metric("acc", 0.95, 0, 2)],
            params=[Param("depth", "3")],
            tags=[RunTag("team", "ml")],
        )
        mlflow.set_tag("stage", "test")
        mlflow.log_artifact(str(artifact), artifact_path="notes")
    run_id = run.info.run_id

    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.info.artifact_uri == f"mlflow-artifacts:/{experiment.experiment_id}/{run_id}/artifacts"
    assert got.data.params == {"alpha": "0.5", "depth": "3"}
    assert got.data.tags["team"] == "ml" and got.data.tags["stage"] == "test"
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(20)]
    assert [m.value for m in client.get_metric_history(run_id, "acc")] == [0.9, 0.95]
    found = client.search_runs([experiment.experiment_id], filter_string="params.alpha = '0.5'")
    assert [r.info.run_id for r in found] == [run_id]

    downloaded = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="notes/hello.bin", dst_path=str(tmp_path / "back")
    )
    assert Path(downloaded).read_bytes() == artifact.read_bytes()
    stored = server.workspace / "mlruns" / experiment.experiment_id / run_id / "artifacts" / "notes" / "hello.bin"
    assert stored.read_bytes() == artifact.read_bytes()
    assert [f.path for f in client.list_artifacts(run_id, "notes")] == ["notes/hello.bin"]


def test_autolog_and_a_logged_model_through_the_server(
    server: Server, backend: str, tokens: dict[str, str], as_token: Any
) -> None:
    """scikit-learn autolog and ``log_model`` (MLflow 3's logged models, artifacts through the proxy), loaded back."""
    if backend != "postgres":
        pytest.skip("the team server's case (PostgreSQL); the SQLite server shares every handler")
    import mlflow
    import numpy as np
    from sklearn.linear_model import LinearRegression

    as_token(tokens["contributor"])
    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment("autolog")
    mlflow.sklearn.autolog(log_datasets=False, silent=True)
    try:
        features = np.arange(20, dtype=float).reshape(-1, 1)
        with mlflow.start_run() as run:
            model = LinearRegression().fit(features, 2 * features.ravel() + 1)
            info = mlflow.sklearn.log_model(model, name="model")
    finally:
        mlflow.sklearn.autolog(disable=True)
        _stop_autologging_threads()
    assert mlflow.get_run(run.info.run_id).data.params["fit_intercept"] == "True"
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert loaded.predict(np.array([[3.0]])).tolist() == pytest.approx([7.0])


def _stop_autologging_threads() -> None:
    """MLflow's autologging keeps a thread pool for the process; a later test needs the pytest process
    single-threaded (a driver is forked only from such a caller), so its threads are ended here. A new,
    idle pool (threads start on first use) takes its place."""
    from concurrent.futures import ThreadPoolExecutor

    from mlflow.utils.autologging_utils import client as autologging_client

    pool = autologging_client._AUTOLOGGING_QUEUEING_CLIENT_THREAD_POOL
    pool.shutdown(wait=True)
    autologging_client._AUTOLOGGING_QUEUEING_CLIENT_THREAD_POOL = ThreadPoolExecutor(
        max_workers=pool._max_workers, thread_name_prefix="MlflowAutologgingQueueingClient"
    )


def test_runs_are_in_the_workspace_tracking_store(
    server: Server, backend: str, tokens: dict[str, str], as_token: Any
) -> None:
    """SQLite: the workspace's tracking.db; PostgreSQL: the schema ``mlflow`` of the metadata database."""
    run_id = as_token(tokens["contributor"]).create_run("0").info.run_id
    query = "SELECT count(*) FROM runs WHERE run_uuid = ?"
    if backend == "sqlite":
        import sqlite3

        with contextlib.closing(sqlite3.connect(server.workspace / "tracking.db")) as conn:
            assert conn.execute(query, (run_id,)).fetchone() == (1,)
        return
    import psycopg

    url = server.env["BATCHPOINT_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM mlflow.runs WHERE run_uuid = %s", (run_id,)).fetchone()
    assert row == (1,)


def test_a_reader_reads_but_may_not_log(tokens: dict[str, str], as_token: Any) -> None:
    writer = as_token(tokens["contributor"])
    experiment_id = writer.create_experiment("reader-visible")
    run = writer.create_run(experiment_id)
    writer.log_metric(run.info.run_id, "m", 1.0)

    reader = as_token(tokens["reader"])
    assert reader.get_run(run.info.run_id).data.metrics == {"m": 1.0}
    assert [r.info.run_id for r in reader.search_runs([experiment_id])] == [run.info.run_id]
    with pytest.raises(MlflowException) as refused:
        reader.log_metric(run.info.run_id, "m", 2.0)
    assert _error_code(refused) == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as refused:
        reader.create_experiment("not-mine")
    assert _error_code(refused) == "PERMISSION_DENIED"


def test_no_token_is_unauthenticated(server: Server, as_token: Any) -> None:
    anonymous = as_token(None)
    with pytest.raises(MlflowException) as refused:
        anonymous.search_experiments()
    assert _error_code(refused) == "UNAUTHENTICATED"
    status, body = _raw(server, "GET", "/api/2.0/mlflow/experiments/search", token="bp_0000000000000000_" + "x" * 43)
    assert (status, body["error_code"]) == (401, "UNAUTHENTICATED")


@pytest.mark.parametrize("kind", ["invoke", "scoped"])
def test_endpoint_tokens_may_not_use_the_tracking_api(
    server: Server, tokens: dict[str, str], as_token: Any, kind: str
) -> None:
    run = as_token(tokens["contributor"]).create_run("0")
    limited = as_token(tokens[kind])
    with pytest.raises(MlflowException) as refused:
        limited.log_metric(run.info.run_id, "m", 1.0)
    assert _error_code(refused) == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as refused:
        limited.get_run(run.info.run_id)
    assert _error_code(refused) == "PERMISSION_DENIED"
    status, body = _raw(server, "GET", "/api/2.0/mlflow-artifacts/artifacts?path=0", token=tokens[kind])
    assert (status, body["error_code"]) == (403, "PERMISSION_DENIED")


@pytest.mark.parametrize(
    "path",
    [
        "0/../../escaped.txt",
        "0/%2e%2e/%2e%2e/escaped.txt",
        "0/..%2f..%2fescaped.txt",
        "/tmp/escaped.txt",
        "%2Ftmp%2Fescaped.txt",
    ],
)
def test_artifact_paths_outside_the_root_are_refused(server: Server, tokens: dict[str, str], path: str) -> None:
    root = server.workspace / "mlruns"
    before = set(server.project.parent.rglob("escaped.txt"))
    for method in ("PUT", "GET"):
        status, body = _raw(
            server, method, f"/api/2.0/mlflow-artifacts/artifacts/{path}", b"payload", tokens["contributor"]
        )
        # MLflow refuses the path (400); '//tmp/...' matches no route at all (404)
        assert (status, body["error_code"]) in ((400, "INVALID_PARAMETER_VALUE"), (404, "ENDPOINT_NOT_FOUND")), body
    assert set(server.project.parent.rglob("escaped.txt")) == before
    assert not Path("/tmp/escaped.txt").exists()
    assert not any(p.name == "escaped.txt" for p in root.rglob("*"))


def test_bad_input_answers_mlflow_error_codes(server: Server, tokens: dict[str, str], as_token: Any) -> None:
    client = as_token(tokens["contributor"])
    run_id = client.create_run("0").info.run_id
    token = tokens["contributor"]

    with pytest.raises(MlflowException) as refused:
        client.log_metric("0" * 32, "m", 1.0)
    assert _error_code(refused) == "RESOURCE_DOES_NOT_EXIST"
    # The client splits big batches itself; a request over MLflow's limit of 1,000 metrics is refused.
    metrics = [{"key": f"k{i}", "value": i, "timestamp": 1, "step": 0} for i in range(1001)]
    too_many = json.dumps({"run_id": run_id, "metrics": metrics}).encode()

    cases = [
        ("POST", "/api/2.0/mlflow/runs/log-batch", too_many, 400),
        ("POST", "/api/2.0/mlflow/runs/log-metric", b"{not json", 400),
        ("POST", "/api/2.0/mlflow/runs/create", b"[1, 2]", 400),
        (
            "POST",
            "/api/2.0/mlflow/runs/log-metric",
            json.dumps({"run_id": run_id, "key": "k", "value": "x"}).encode(),
            400,
        ),
        ("POST", "/api/2.0/mlflow/experiments/create", b'{"name": "e", "artifact_location": "file:///etc"}', 400),
        ("POST", "/api/2.0/mlflow/runs/log-batch", b"{" + b" " * (2 * 1024 * 1024) + b"}", 413),
        ("GET", "/api/2.0/mlflow/no-such-thing", b"", 404),
        ("POST", "/api/2.0/mlflow/registered-models/create", b'{"name": "m"}', 404),
        ("GET", "/api/3.0/mlflow/gateway/secrets/list", b"", 404),
    ]
    for method, path, body, expected in cases:
        status, answer = _raw(server, method, path, body, token)
        assert status == expected, (path, status, answer)
        assert isinstance(answer, dict), (path, answer)
        assert "error_code" in answer or "error" in answer, (path, answer)
        assert len(answer.get("message", "")) < 1100
    assert client.search_experiments(filter_string="name = 'e'") == []


def test_nan_and_inf_metrics_are_stored_as_mlflow_stores_them(tokens: dict[str, str], as_token: Any) -> None:
    """MLflow's SQL store keeps NaN (read back as NaN) and clamps infinities to +-1.7976931348623157e308."""
    client = as_token(tokens["contributor"])
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "nan", float("nan"))
    client.log_metric(run_id, "inf", float("inf"))
    client.log_metric(run_id, "-inf", float("-inf"))
    assert math.isnan(client.get_metric_history(run_id, "nan")[0].value)
    assert client.get_metric_history(run_id, "inf")[0].value == 1.7976931348623157e308
    assert client.get_metric_history(run_id, "-inf")[0].value == -1.7976931348623157e308


def test_answers_name_no_server_path(server: Server, tokens: dict[str, str]) -> None:
    status, body = _raw(server, "POST", "/api/2.0/mlflow/experiments/search", b'{"max_results": 50}', tokens["reader"])
    assert status == 200
    text = json.dumps(body)
    assert str(server.workspace) not in text and str(server.project) not in text
    assert "mlflow-artifacts:/0" in text  # the Default experiment created by the store, proxied
