"""One exception hierarchy for all of batchpoint.

Every error users can cause carries a stable string ``code``, the HTTP status the server answers
with, and the exit code of the CLI. The SDK turns a server's JSON error back into the same class
(``BatchpointError.from_dict``), so callers catch the same exceptions embedded or remote.

    BatchpointError
    ├── InvalidInput            bad YAML, a wrong field, an invalid name, a bad path   (422, exit 2)
    │   └── UnsafePath          a name or path that could escape its root               (422, exit 2)
    ├── NotFound                an asset, endpoint, deployment, job that does not exist (404, exit 2)
    │   └── WorkspaceNotFound   no .batchpoint folder here or above                    (404, exit 2)
    ├── Conflict                duplicate name/version, an asset in use, a bad state    (409, exit 2)
    ├── MissingExtra            an optional dependency is not installed                 (501, exit 2)
    ├── Unauthorized / Forbidden                                                        (401/403, exit 2)
    ├── PayloadTooLarge / UnsupportedMediaType                                          (413/415, exit 2)
    ├── BadRequest              a request the server does not take (an unknown Host)    (400, exit 2)
    ├── TooManyRequests         too many failed sign-ins from one address               (429, exit 2)
    └── JobFailed               a job ended Failed or Canceled (CLI ``--stream``)       (409, exit 1)

Programming mistakes are not part of this tree: they stay ``TypeError``/``ValueError`` so that
``except BatchpointError`` never hides a bug.
"""

from __future__ import annotations

from typing import Any, ClassVar

_REGISTRY: dict[str, type[BatchpointError]] = {}


class BatchpointError(Exception):
    """Base of every error batchpoint raises on purpose."""

    code: ClassVar[str] = "error"
    status_code: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        file: str | None = None,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.file = file
        self.hint = hint
        self.details = details or {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY.setdefault(cls.code, cls)

    def __str__(self) -> str:
        where = ""
        if self.file and self.field:
            where = f"{self.file}: field '{self.field}': "
        elif self.file:
            where = f"{self.file}: "
        elif self.field:
            where = f"field '{self.field}': "
        text = f"{where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The JSON body the server answers with (``{"error": {...}}``)."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("field", "file", "hint"):
            value = getattr(self, key)
            if value:
                body[key] = value
        if self.details:
            body["details"] = self.details
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> BatchpointError:
        """Rebuild the exception a server reported (unknown codes become the base class)."""
        target = _REGISTRY.get(str(body.get("code", "")), BatchpointError)
        return target(
            str(body.get("message", "unknown error")),
            field=body.get("field"),
            file=body.get("file"),
            hint=body.get("hint"),
            details=body.get("details") or {},
        )


_REGISTRY["error"] = BatchpointError


class InvalidInput(BatchpointError):
    """The user gave something batchpoint cannot accept; the message says what and where."""

    code = "invalid_input"
    status_code = 422
    exit_code = 2


class UnsafePath(InvalidInput):
    """A name or path that could escape the folder it belongs to."""

    code = "unsafe_path"


class NotFound(BatchpointError):
    """The named thing does not exist."""

    code = "not_found"
    status_code = 404
    exit_code = 2


class WorkspaceNotFound(NotFound):
    """No workspace could be found from the working directory, the flag or the environment."""

    code = "workspace_not_found"


class Conflict(BatchpointError):
    """The request clashes with what exists: a duplicate, an asset in use, a job in the wrong state."""

    code = "conflict"
    status_code = 409
    exit_code = 2


class MissingExtra(BatchpointError):
    """An optional dependency group is needed; the message names the extra to install."""

    code = "missing_extra"
    status_code = 501
    exit_code = 2


class Unauthorized(BatchpointError):
    """No valid token was presented."""

    code = "unauthorized"
    status_code = 401
    exit_code = 2


class Forbidden(BatchpointError):
    """The token is valid but its role or scope does not allow the operation."""

    code = "forbidden"
    status_code = 403
    exit_code = 2


class PayloadTooLarge(BatchpointError):
    """A request body or upload is over the configured cap."""

    code = "payload_too_large"
    status_code = 413
    exit_code = 2


class UnsupportedMediaType(BatchpointError):
    """A request body of a content type batchpoint refuses (pickle, for instance)."""

    code = "unsupported_media_type"
    status_code = 415
    exit_code = 2


class BadRequest(BatchpointError):
    """A request the server does not take as sent, such as one for a Host it does not serve."""

    code = "bad_request"
    status_code = 400
    exit_code = 2


class TooManyRequests(BatchpointError):
    """A limit was reached (failed authentications, active jobs or upload bytes of one token); try again later.

    ``details["retry_after_seconds"]`` becomes the answer's ``Retry-After`` header.
    """

    code = "too_many_requests"
    status_code = 429
    exit_code = 2

    @property
    def retry_after(self) -> int | None:
        value = self.details.get("retry_after_seconds")
        return max(1, int(value)) if isinstance(value, int | float) else None


class JobFailed(BatchpointError):
    """A job ended in Failed or Canceled while the caller waited for it."""

    code = "job_failed"
    status_code = 409
    exit_code = 1
