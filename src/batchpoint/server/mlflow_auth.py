"""Who may call which MLflow REST path, and MLflow-shaped error answers (standard library only).

The MLflow client reads errors as ``{"error_code": ..., "message": ...}`` and raises
``MlflowException`` with that code, so every refusal on these paths is in that form rather than
batchpoint's own ``{"error": {...}}``.

Reads are ``GET`` (and ``HEAD``) and the few ``POST`` searches; everything else writes. An
endpoint-scoped or invoke-only token may not use the tracking API at all: runs are not tied to an
endpoint, so such a token could otherwise log into any run (``Principal.allows`` refuses workspace
``read``/``write`` to those tokens).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from batchpoint.tokens.auth import Action, Principal

TRACKING_PREFIXES = ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/")
"""MLflow's tracking service (experiments, runs, metrics, logged models)."""
ARTIFACTS_PREFIX = "/api/2.0/mlflow-artifacts/"
"""MLflow's artifact proxy (``mlflow server --serve-artifacts``), relative to the artifact root."""

READ_POSTS = frozenset({"experiments/search", "runs/search", "logged-models/search"})
"""The ``POST`` endpoints that only read: searches take their filters in a body (checked against the
handler table of mlflow 3.18; every other ``POST``/``PATCH``/``PUT``/``DELETE`` changes something)."""
_READ_METHODS = frozenset({"GET", "HEAD"})


def is_tracking(path: str) -> bool:
    return path.startswith(TRACKING_PREFIXES)


def is_artifacts(path: str) -> bool:
    return path.startswith(ARTIFACTS_PREFIX)


def is_mlflow(path: str) -> bool:
    return is_tracking(path) or is_artifacts(path)


def action_of(method: str, path: str) -> Action:
    """``Action.read`` or ``Action.write`` for one request on an MLflow path."""
    if method.upper() in _READ_METHODS:
        return Action.read
    for prefix in TRACKING_PREFIXES:
        if path.startswith(prefix) and path[len(prefix) :].rstrip("/") in READ_POSTS:
            return Action.read
    return Action.write


@dataclass(frozen=True)
class MlflowError:
    """One refusal: HTTP status, MLflow error code, message."""

    status: int
    code: str
    message: str
    retry_after: int | None = None
    """Seconds, for a 429."""

    def body(self) -> bytes:
        return json.dumps({"error_code": self.code, "message": self.message}).encode()


def refusal(principal: Principal, action: Action) -> MlflowError | None:
    """Why ``principal`` may not do ``action`` on the tracking API, or None when it may."""
    if principal.allows(action):
        return None
    if principal.invoke_only or principal.scoped:
        return MlflowError(
            403,
            "PERMISSION_DENIED",
            f"this token is limited to endpoint '{principal.endpoint}'; the MLflow tracking API needs "
            "a workspace token (reader to read, contributor to log)",
        )
    return MlflowError(
        403,
        "PERMISSION_DENIED",
        f"a {principal.role.value} token may only read the MLflow tracking API; logging needs a contributor token",
    )


__all__ = [
    "ARTIFACTS_PREFIX",
    "READ_POSTS",
    "TRACKING_PREFIXES",
    "MlflowError",
    "action_of",
    "is_artifacts",
    "is_mlflow",
    "is_tracking",
    "refusal",
]
