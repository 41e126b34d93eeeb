"""Which MLflow REST calls read and which write, checked against MLflow's own handler table."""

from __future__ import annotations

import pytest

from batchpoint.server.mlflow_auth import READ_POSTS, action_of, is_mlflow, refusal
from batchpoint.server.mlflow_child import served
from batchpoint.tokens.auth import Action, Principal, Role


def _principal(role: Role, endpoint: str | None = None, invoke_only: bool = False) -> Principal:
    return Principal(token_id="0" * 16, name="t", role=role, endpoint=endpoint, invoke_only=invoke_only)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/2.0/mlflow/runs/get", Action.read),
        ("HEAD", "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/x", Action.read),
        ("POST", "/api/2.0/mlflow/runs/search", Action.read),
        ("POST", "/ajax-api/2.0/mlflow/experiments/search", Action.read),
        ("POST", "/api/2.0/mlflow/logged-models/search", Action.read),
        ("POST", "/api/2.0/mlflow/runs/log-metric", Action.write),
        ("POST", "/api/2.0/mlflow/runs/search/extra", Action.write),
        ("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/x", Action.write),
        ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/x", Action.write),
        ("OPTIONS", "/api/2.0/mlflow/runs/get", Action.write),
    ],
)
def test_action_of(method: str, path: str, expected: Action) -> None:
    assert action_of(method, path) is expected


def test_only_mlflow_prefixes_are_taken() -> None:
    assert is_mlflow("/api/2.0/mlflow/runs/get") and is_mlflow("/api/2.0/mlflow-artifacts/artifacts")
    assert not is_mlflow("/api/v1/jobs") and not is_mlflow("/api/2.0/mlflowx") and not is_mlflow("/health")


def test_roles() -> None:
    assert refusal(_principal(Role.reader), Action.read) is None
    assert refusal(_principal(Role.reader), Action.write) is not None
    assert refusal(_principal(Role.contributor), Action.write) is None
    for limited in (_principal(Role.owner, "ep"), _principal(Role.contributor, "ep", invoke_only=True)):
        for action in (Action.read, Action.write):
            error = refusal(limited, action)
            assert error is not None and (error.status, error.code) == (403, "PERMISSION_DENIED")


def test_every_served_post_that_only_reads_is_classified_read() -> None:
    """A served POST handler named like a read (_search..., _get...) must be in READ_POSTS; a new one fails here."""
    handlers = pytest.importorskip("mlflow.server.handlers")
    served_posts = [
        (path, handler.__name__)
        for path, handler, methods in handlers.get_endpoints()
        if served(path) and "POST" in methods and path.startswith("/api/")
    ]
    assert served_posts, "no served POST endpoints: the handler table changed shape"
    reads = {path for path, name in served_posts if name.startswith(("_search", "_get", "get_", "search_"))}
    assert {p.removeprefix("/api/2.0/mlflow/") for p in reads} == set(READ_POSTS)
    for path, _handler, _methods in handlers.get_endpoints():
        if served(path):
            assert "/gateway/" not in path and "registered-models" not in path and "scorers" not in path


def test_without_the_mlflow_extra_the_paths_answer_501(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    from pathlib import Path

    from batchpoint.server.mlflow_backend import MlflowBackend, MlflowUnavailable

    monkeypatch.setitem(sys.modules, "a2wsgi", None)  # what a package that is not installed looks like
    backend = MlflowBackend(Path("/nonexistent/.batchpoint"), Path("/nonexistent/.batchpoint/mlruns"))
    with pytest.raises(MlflowUnavailable) as missing:
        backend.app()  # nothing is started
    assert (missing.value.error.status, missing.value.error.code) == (501, "NOT_IMPLEMENTED")
    assert "a2wsgi" in missing.value.error.message and "batchpoint[mlflow]" in missing.value.error.message
    assert backend.built is None
