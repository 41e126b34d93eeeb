"""The log filter: tokens, bearer headers, secret query parameters and the bootstrap token are masked."""

from __future__ import annotations

import io
import logging
import secrets
import sys
from collections.abc import Iterator

import pytest
import uvicorn.config
import uvicorn.logging

from batchpoint.cli.server import log_config
from batchpoint.common.redact import RedactingFilter, add_to, redact

TOKEN_ID = "0123456789abcdef"
SECRET = "A1b2-C3d4_" + "x" * 33
TOKEN = f"bp_{TOKEN_ID}_{SECRET}"


def test_a_batchpoint_token_keeps_its_id_only() -> None:
    assert redact(f"used {TOKEN} here") == f"used bp_{TOKEN_ID}_*** here"
    assert redact(f"x={TOKEN},y") == f"x=bp_{TOKEN_ID}_***,y"


def test_a_token_that_is_not_one_is_left_alone() -> None:
    for text in ("bp_not-a-token", f"bp_{TOKEN_ID}_short", "bp_XYZ"):
        assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer not-a-token-at-all",
        "authorization: bearer not-a-token-at-all",
        "('authorization', 'Bearer not-a-token-at-all')",
        '{"Authorization": "Bearer not-a-token-at-all"}',
        f"Bearer {TOKEN}",
    ],
)
def test_bearer_credentials_are_masked(text: str) -> None:
    masked = redact(text)
    assert "not-a-token-at-all" not in masked and SECRET not in masked
    assert "Bearer ***" in masked or "bearer ***" in masked


def test_prose_about_bearer_tokens_is_kept() -> None:
    text = "a bearer token is required (Authorization: Bearer <token>)"
    assert redact(text) == text


@pytest.mark.parametrize("name", ["token", "access_token", "sig", "key", "code", "password", "secret", "TOKEN"])
def test_secret_query_parameters_are_masked(name: str) -> None:
    line = f'127.0.0.1:5000 - "GET /api/v1/whoami?a=1&{name}=s3cr3t-value&b=2 HTTP/1.1" 200'
    assert redact(line) == f'127.0.0.1:5000 - "GET /api/v1/whoami?a=1&{name}=***&b=2 HTTP/1.1" 200'
    assert redact(f"/x?{name}=s3cr3t-value") == f"/x?{name}=***"


def test_other_query_parameters_are_kept() -> None:
    for text in ("/api/v1/jobs?limit=10&tokenizer=bpe", "/x?monkey=1", "/x?keys=a"):
        assert redact(text) == text


def test_a_token_in_the_query_string_is_masked_whole() -> None:
    masked = redact(f"GET /api/v1/whoami?token={TOKEN} HTTP/1.1")
    assert SECRET not in masked
    assert "?token=***" in masked


@pytest.mark.parametrize(
    "text",
    [
        "BATCHPOINT_BOOTSTRAP_TOKEN=my-long-secret-value",
        "env: BATCHPOINT_BOOTSTRAP_TOKEN = 'my-long-secret-value'",
        "{'BATCHPOINT_BOOTSTRAP_TOKEN': 'my-long-secret-value'}",
        "BATCHPOINT_TOKEN=my-long-secret-value",
    ],
)
def test_the_token_variables_are_masked(text: str) -> None:
    masked = redact(text)
    assert "my-long-secret-value" not in masked and "***" in masked


def test_literal_secrets_are_masked_also_percent_encoded() -> None:
    bootstrap = "bp-test-" + secrets.token_urlsafe(32) + "/+"
    filt = RedactingFilter([bootstrap, "short"])
    encoded = bootstrap.replace("/", "%2F").replace("+", "%2B")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", (bootstrap, f"/x?t={encoded}"), None)
    filt.filter(record)
    assert record.getMessage() == "*** /x?t=***"
    assert filt.secrets and "short" not in filt.secrets  # too short to be worth masking


def test_the_filter_keeps_the_args_a_tuple_of_the_same_length() -> None:
    """uvicorn's access formatter unpacks exactly five arguments, the last an int."""
    args = ("127.0.0.1:5000", "GET", f"/api/v1/whoami?token={TOKEN}", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)
    assert RedactingFilter().filter(record) is True
    assert isinstance(record.args, tuple) and len(record.args) == 5
    assert record.args[2] == "/api/v1/whoami?token=***"
    assert record.args[4] == 200
    line = uvicorn.logging.AccessFormatter(use_colors=False).format(record)
    assert '"GET /api/v1/whoami?token=*** HTTP/1.1" 200' in line


def test_objects_and_mapping_args_are_masked_when_they_carry_a_secret() -> None:
    error = ValueError(f"bad token {TOKEN}")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed: %s (%d)", (error, 3), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == f"failed: bad token bp_{TOKEN_ID}_*** (3)"
    plain = object()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%(a)s %(b)s", ({"a": TOKEN, "b": plain},), None)
    RedactingFilter().filter(record)
    assert isinstance(record.args, dict)
    assert record.args == {"a": f"bp_{TOKEN_ID}_***", "b": plain}


def test_the_message_and_the_traceback_are_masked() -> None:
    try:
        raise RuntimeError(f"Authorization: Bearer {TOKEN}")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, f"with {TOKEN}", None, sys.exc_info())
    RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert SECRET not in text
    assert f"with bp_{TOKEN_ID}_***" in text and "Bearer ***" in text and "Traceback" in text


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("batchpoint.tests.redact")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_add_to_attaches_one_filter_per_handler(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    add_to(logger.handlers)
    add_to(logger.handlers)
    assert sum(isinstance(f, RedactingFilter) for f in logger.handlers[0].filters) == 1
    logger.warning("token %s", TOKEN)
    assert stream.getvalue() == f"token bp_{TOKEN_ID}_***\n"


def test_the_server_log_config_filters_every_handler_and_leaves_uvicorns_alone() -> None:
    original = repr(uvicorn.config.LOGGING_CONFIG)
    config = log_config(["x" * 40])
    assert repr(uvicorn.config.LOGGING_CONFIG) == original  # a deep copy
    assert config["filters"]["redact"]["secrets"] == ["x" * 40]
    assert all("redact" in handler["filters"] for handler in config["handlers"].values())
    assert config["root"]["handlers"] == ["default"]
    factory = config["filters"]["redact"]["()"]
    assert factory == f"{RedactingFilter.__module__}.{RedactingFilter.__qualname__}"
