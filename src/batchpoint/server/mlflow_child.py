"""The MLflow process of the team server: MLflow's own REST handlers on a Unix socket.

    python -m batchpoint.server.mlflow_child --workspace W --socket PATH

Started by the server (``mlflow_backend.py``) on the first MLflow request; the server authenticates
and authorizes every request, then passes it on over the socket. The handlers run here, not in the
server process, so the server never imports mlflow (nor cloudpickle, which mlflow imports): the
rule of ``tests/e2e/server/test_no_user_code_in_server.py`` holds. Nothing here reimplements a
handler: the Flask app holds the handlers of ``mlflow.server.handlers`` for the paths served, with the
store set to the workspace's tracking store (``open_tracking_db``) and the artifact proxy to its
artifact root. The handlers keep their store in module globals, which a process of its own also
makes harmless.

Only tracking paths are served (experiments, runs, metrics, artifact listing, logged models) and
the artifact proxy's plain upload/download/list/delete. MLflow's handler table also holds the AI
gateway (stored secrets, outbound calls), scorers and prompt-optimization jobs (code the server
would run), webhooks (outbound calls), workspaces, GraphQL and the model registry (batchpoint
registers models with ``batchpoint model create``): none of them is served (404).

The process exits when its parent (the server) is gone.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from batchpoint.server.mlflow_auth import MlflowError

log = logging.getLogger("batchpoint.server.mlflow")

SERVED = (
    "/mlflow/experiments/",
    "/mlflow/runs/",
    "/mlflow/metrics/",
    "/mlflow/artifacts/list",
    "/mlflow/logged-models",
    "/mlflow-artifacts/artifacts",
)
"""Path parts (after ``/api/2.0`` or ``/ajax-api/2.0``) of the handlers served."""
_NOT_SERVED = ("presigned", "/mpu/")
"""Presigned URLs and multipart uploads: the local artifact root supports neither."""
_VERSIONS = ("/api/2.0", "/ajax-api/2.0")
REQUIRED = ("mlflow", "flask", "flask_cors", "a2wsgi")
"""What this process imports (the ``mlflow`` extra): the server checks they are installed first."""


def served(path: str) -> bool:
    for version in _VERSIONS:
        if path.startswith(version):
            rest = path[len(version) :]
            return rest.startswith(SERVED) and not any(part in rest for part in _NOT_SERVED)
    return False


def build_app(url: str, root: Path) -> Any:
    """The WSGI app of MLflow's handlers for ``SERVED``, over the store at ``url`` and artifacts under ``root``."""
    # mlflow.server imports starlette's deprecated WSGI middleware; the warning means nothing to operators.
    warnings.filterwarnings("ignore", message="starlette.middleware.wsgi is deprecated")
    from flask import Flask
    from mlflow.server import handlers

    _configure(handlers, url, root)
    flask_app = Flask("batchpoint.mlflow")
    # No redirects: '//etc/x' matches no route (404) rather than a 308 to the merged path, and a
    # trailing slash is not a second URL.
    flask_app.url_map.merge_slashes = False
    flask_app.url_map.strict_slashes = False
    for path, handler, methods in handlers.get_endpoints():
        if served(path) and handler is not handlers._not_implemented:
            flask_app.add_url_rule(path, f"{handler.__name__}:{path}", handler, methods=methods)
    _json_errors(flask_app)
    return flask_app


def _configure(handlers: Any, url: str, root: Path) -> None:
    """Point MLflow's handler globals at this workspace's store and artifact root."""
    from mlflow.server.constants import ARTIFACTS_DESTINATION_ENV_VAR, SERVE_ARTIFACTS_ENV_VAR
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    root.mkdir(parents=True, exist_ok=True)
    # The handlers read these two at each request (proxying on, and where it leads). The store is set
    # directly rather than through MLflow's set_tracking_uri, which would also put the database URL
    # into MLFLOW_TRACKING_URI.
    os.environ[SERVE_ARTIFACTS_ENV_VAR] = "true"
    os.environ[ARTIFACTS_DESTINATION_ENV_VAR] = str(root)
    handlers._tracking_store = SqlAlchemyStore(url, root.as_uri())
    handlers._artifact_repo = LocalArtifactRepository(str(root))


def _json_errors(flask_app: Any) -> None:
    """Unknown paths and methods, and anything MLflow did not catch, answer MLflow's JSON (no traceback)."""
    from flask import Response
    from werkzeug.exceptions import HTTPException

    def answer(error: MlflowError) -> Response:
        return Response(error.body(), status=error.status, mimetype="application/json")

    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 400
        if status in (404, 405):
            return answer(MlflowError(404, "ENDPOINT_NOT_FOUND", "no such MLflow endpoint on this server"))
        code = "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR"
        return answer(MlflowError(status, code, str(exc.description or exc.name)[:500]))

    def unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return http_error(exc)
        error_id = uuid.uuid4().hex[:12]
        log.error("MLflow handler failed (error id %s): %s", error_id, type(exc).__name__, exc_info=exc)
        return answer(MlflowError(500, "INTERNAL_ERROR", f"internal error (error id {error_id})"))

    flask_app.register_error_handler(HTTPException, http_error)
    flask_app.register_error_handler(Exception, unexpected)


def _exit_with_parent() -> None:
    """Exit once the server that started this process is gone (it may be killed without a word)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="MLflow's REST handlers for a batchpoint server")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--socket", required=True)
    args = parser.parse_args(argv)
    _exit_with_parent()
    import uvicorn
    from a2wsgi import WSGIMiddleware

    from batchpoint.runs.tracking import artifact_root, open_tracking_db, tracking_url
    from batchpoint.services import Services
    from batchpoint.workspace import Workspace

    workspace = Workspace.open(args.workspace)
    svc = Services(workspace, actor="mlflow")
    open_tracking_db(svc).dispose()
    app = WSGIMiddleware(build_app(tracking_url(svc), artifact_root(svc)))
    uvicorn.run(app, uds=args.socket, log_level="warning", access_log=False, server_header=False)


if __name__ == "__main__":
    main()
