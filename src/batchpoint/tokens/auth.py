"""Bearer tokens, roles and the permission checks routes declare.

A token reads ``bp_<id>_<secret>``: ``id`` (16 hex characters) finds the stored row, ``secret`` (256
random bits) is checked against the stored sha256 with ``hmac.compare_digest``. A bootstrap token
given by an operator in ``BATCHPOINT_BOOTSTRAP_TOKEN`` may be any string of 32 characters or more;
its id is derived from its hash.

Roles (each includes the one before):

    reader       read everything but secrets (deployment environment variables are masked)
    contributor  + register assets, create and change endpoints and deployments, upload, invoke,
                   cancel and resume its own jobs
    owner        + tokens, datastores, deletes, cancel anyone's job

A token scoped to an endpoint (``--endpoint NAME``) may only use that endpoint's routes and jobs,
and its jobs read only its own uploads, data assets and the datastore paths granted to it
(``--grant``); ``--invoke-only`` narrows it further to invoking the endpoint with data-plane
overrides only, uploading input data and following (or canceling) the jobs it started: what a
business application gets. What the paths of an allowed call may reach is decided in
``server/paths.py``, the per-token quotas in ``server/quotas.py``; ``docs/security.md`` is the
threat model.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from batchpoint.errors import Forbidden, InvalidInput, Unauthorized

PREFIX = "bp"
_TOKEN = re.compile(r"^bp_(?P<id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})$")
MIN_BOOTSTRAP_LENGTH = 32
MAX_TOKEN_LENGTH = 512


class Role(StrEnum):
    reader = "reader"
    contributor = "contributor"
    owner = "owner"

    @property
    def rank(self) -> int:
        return {"reader": 0, "contributor": 1, "owner": 2}[self.value]


class Action(StrEnum):
    """What a route does, as far as permissions go (each route declares exactly one)."""

    read = "read"
    """Read assets, endpoints, deployments, jobs, metrics (reader)."""
    write = "write"
    """Register assets, create or change endpoints and deployments, archive and restore (contributor)."""
    upload = "upload"
    """Upload files (contributor; invoke-only tokens too, for input data)."""
    invoke = "invoke"
    """Start a job on an endpoint (contributor; invoke-only tokens on their endpoint)."""
    delete = "delete"
    """Delete anything (owner)."""
    admin = "admin"
    """Tokens and datastores (owner)."""
    job_read = "job_read"
    """Read one job, its logs and outputs (reader; endpoint-scoped tokens for their endpoint's jobs,
    invoke-only tokens for the jobs they started)."""
    job_control = "job_control"
    """Cancel or resume one job (owner: any; contributor and invoke-only: the jobs they started)."""
    authenticated = "authenticated"
    """Any valid token (who am I, the OpenAPI document)."""


_MIN_ROLE = {
    Action.read: Role.reader,
    Action.job_read: Role.reader,
    Action.write: Role.contributor,
    Action.upload: Role.contributor,
    Action.invoke: Role.contributor,
    Action.job_control: Role.contributor,
    Action.delete: Role.owner,
    Action.admin: Role.owner,
}
_INVOKE_ONLY = frozenset({Action.invoke, Action.upload, Action.job_read, Action.job_control, Action.authenticated})
_ENDPOINT_SCOPED = frozenset({Action.read, Action.write, Action.delete, Action.invoke})


@dataclass(frozen=True)
class Principal:
    """Who is calling: one valid token."""

    token_id: str
    name: str | None
    role: Role
    endpoint: str | None = None
    invoke_only: bool = False
    grants: tuple[str, ...] = ()
    """Datastore URI prefixes (ending with ``/``) an endpoint-scoped token's jobs may read and write."""

    @property
    def scoped(self) -> bool:
        """Limited to one endpoint, and so to its own data (uploads, data assets, granted paths)."""
        return self.endpoint is not None

    @property
    def actor(self) -> str:
        """Recorded on what the caller creates (``invoked_by`` of jobs); unique per token."""
        return f"{self.name or 'token'}:{self.token_id}"

    def allows(self, action: Action, *, endpoint: str | None = None) -> bool:
        """Whether the token may do ``action`` (on ``endpoint``, for endpoint routes)."""
        if action is Action.authenticated:
            return True
        if self.invoke_only and action not in _INVOKE_ONLY:
            return False
        if self.endpoint is not None:
            if endpoint is not None and endpoint != self.endpoint:
                return False
            if action in _ENDPOINT_SCOPED and endpoint is None:
                return False
            if action not in _ENDPOINT_SCOPED and action not in _INVOKE_ONLY:
                return False
        if self.invoke_only:
            return True
        return self.role.rank >= _MIN_ROLE[action].rank

    def require(self, action: Action, *, endpoint: str | None = None) -> None:
        if not self.allows(action, endpoint=endpoint):
            raise Forbidden(self._why(action, endpoint))

    def may_control(self, invoked_by: str | None) -> bool:
        """Cancel/resume: an owner any job, others only the jobs they started."""
        if self.role is Role.owner and not self.invoke_only and self.endpoint is None:
            return True
        return invoked_by == self.actor

    def sees_job(self, endpoint: str | None, invoked_by: str | None = None) -> bool:
        """Whether the job exists for this token: an invoke-only token knows only the jobs it started
        (two applications on one endpoint never see each other's inputs or predictions)."""
        if self.endpoint is not None and endpoint != self.endpoint:
            return False
        return not self.invoke_only or invoked_by == self.actor

    def _why(self, action: Action, endpoint: str | None) -> str:
        if self.invoke_only:
            return f"this token may only invoke endpoint '{self.endpoint}' and follow its jobs"
        if self.endpoint is not None and endpoint != self.endpoint:
            return f"this token is limited to endpoint '{self.endpoint}'"
        return (
            f"a {self.role.value} token may not {action.value.replace('_', ' ')}; it needs a {_MIN_ROLE[action].value}"
        )


# -- token strings ------------------------------------------------------------------------------------
def new_token() -> tuple[str, str]:
    """A fresh ``(token_id, token)`` pair; the token is shown once and never stored."""
    token_id = secrets.token_hex(8)
    return token_id, f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def split_token(token: str) -> tuple[str, str]:
    """``(token_id, secret)``; a free-form (bootstrap) token gets an id derived from its hash."""
    match = _TOKEN.match(token)
    if match:
        return match.group("id"), match.group("secret")
    return digest("id:" + token)[:16], token


def check_bootstrap(token: str) -> str:
    """An operator's bootstrap token, if it is long enough and plain (``InvalidInput`` otherwise)."""
    token = token.strip()
    if len(token) < MIN_BOOTSTRAP_LENGTH or len(token) > MAX_TOKEN_LENGTH or not token.isprintable() or " " in token:
        raise InvalidInput(
            f"BATCHPOINT_BOOTSTRAP_TOKEN must be {MIN_BOOTSTRAP_LENGTH} to {MAX_TOKEN_LENGTH} printable characters "
            "without spaces (generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')",
            field="BATCHPOINT_BOOTSTRAP_TOKEN",
        )
    return token


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_hash)


_DUMMY = digest("batchpoint-no-such-token")


def bearer(header: str | None) -> str:
    """The token in an ``Authorization: Bearer T`` header; ``Unauthorized`` for anything else."""
    if not header:
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)", hint=_LOGIN_HINT)
    if len(header) > MAX_TOKEN_LENGTH + 16:
        raise Unauthorized("the Authorization header is too long")
    scheme, _, value = header.partition(" ")
    if scheme != "Bearer" or not value or value != value.strip() or " " in value or not value.isprintable():
        raise Unauthorized("malformed Authorization header; expected 'Bearer <token>'", hint=_LOGIN_HINT)
    return value


def burn_time(secret: str) -> None:
    """Compare against a dummy hash so unknown ids cost what known ones do."""
    hmac.compare_digest(digest(secret), _DUMMY)


_LOGIN_HINT = "create one with 'batchpoint token create' and log in with 'batchpoint login --server URL --token T'"


def mask_secrets(data: Any) -> Any:
    """Environment variable values hidden (for readers): deployment settings and job settings."""
    if isinstance(data, dict):
        masked = {}
        for key, value in data.items():
            if key == "environment_variables" and isinstance(value, dict):
                masked[key] = dict.fromkeys(value, "***")
            else:
                masked[key] = mask_secrets(value)
        return masked
    if isinstance(data, list):
        return [mask_secrets(v) for v in data]
    return data
