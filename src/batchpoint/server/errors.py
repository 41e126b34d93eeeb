"""The one place where errors become HTTP answers.

Every error body is ``{"error": {"code", "message", "field"?, "hint"?, ...}}``, the form
``BatchpointError.from_dict`` turns back into the same exception class in the SDK. Nothing the
server answers ever carries a traceback: an unexpected exception is logged with an id, and the
caller gets a 500 with that id only. Messages, hints and field names are capped in length here
too, whatever raised them: no answer echoes a huge rejected value back whole.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from batchpoint.common.text import shown
from batchpoint.errors import BatchpointError

log = logging.getLogger("batchpoint.server")


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    file: str | None = None
    hint: str | None = None
    details: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """What every 4xx/5xx answer carries."""

    error: ErrorDetail


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}

#: Documented on every operation, so that clients and schema checkers know the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code.replace("_", " ")}
    for status, code in _HTTP_CODES.items()
    if status in (400, 401, 403, 404, 409, 413, 415, 422)
}


#: The longest text each of these error keys may carry in an answer (the ellipsis included).
MAX_LENGTHS = {"message": 2000, "hint": 2000, "field": 200}


def capped(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with over-long messages, hints and fields cut: a last line of defence for every error."""
    out = dict(body)
    for key, limit in MAX_LENGTHS.items():
        value = out.get(key)
        if isinstance(value, str) and len(value) > limit:
            out[key] = shown(value, limit - 1)
    return out


def error_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse({"error": capped(body)}, status_code=status, headers=headers)


def from_exception(exc: BatchpointError) -> JSONResponse:
    wait = getattr(exc, "retry_after", None)  # a TooManyRequests says when to try again
    headers = {"Retry-After": str(wait)} if isinstance(wait, int) else None
    return error_response(exc.status_code, exc.to_dict(), headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "path", "query", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, str]:
    first = _field(tuple(errors[0].get("loc", ())))
    texts = []
    for i, err in enumerate(errors[:10]):
        text = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        texts.append(text if i == 0 else f"field '{_field(tuple(err.get('loc', ())))}': {text}")
    return first, "; ".join(texts)


async def _batchpoint_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BatchpointError)
    return from_exception(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if not errors:
        return error_response(422, {"code": "invalid_input", "message": "invalid request", "field": "body"})
    field, message = _validation_message(errors)
    return error_response(422, {"code": "invalid_input", "message": message, "field": field})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such route: {request.method} {request.url.path}"
    return error_response(exc.status_code, {"code": code, "message": message}, dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.exception("internal error %s on %s %s", incident, request.method, request.url.path)
    return error_response(
        500,
        {
            "code": "internal_error",
            "message": f"internal server error (incident {incident}); the server log has the details",
        },
    )


def install(app: FastAPI) -> None:
    """Register the handlers: BatchpointError (by MRO, so every subclass), validation, HTTP, anything else."""
    app.add_exception_handler(BatchpointError, _batchpoint_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
