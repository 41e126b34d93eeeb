"""Keeping secrets out of log files: a ``logging.Filter`` that rewrites each record before it is written.

Logs are read by more people than tokens are meant for (operators, support, whoever gets the file),
and a token can reach a log line by many roads: a client that puts it in the query string (uvicorn
logs the whole request line), an exception message, a header dumped while debugging. The filter
rewrites a record's message, its arguments and its traceback text:

* batchpoint tokens ``bp_<id>_<secret>`` become ``bp_<id>_***`` (the id is not secret, and it tells
  an operator which token was used);
* ``Bearer X`` (also in ``Authorization: Bearer X``) becomes ``Bearer ***``;
* the values of query parameters that commonly carry secrets (``?token=``, ``&sig=``, ...) become ``***``;
* ``BATCHPOINT_BOOTSTRAP_TOKEN=X`` and ``BATCHPOINT_TOKEN=X`` (an environment dump) become ``...=***``;
* any literal secret the filter was given (the server's bootstrap token, which need not look like a
  batchpoint token) becomes ``***``.

No FastAPI or uvicorn here: job drivers use it for ``driver.log`` too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

MASK = "***"

_TOKEN = re.compile(r"(bp_[0-9a-f]{16}_)[A-Za-z0-9_-]{43,}")
# Stops at quotes and separators so that a header shown as a Python tuple or JSON keeps its shape. A
# credential has 8 characters or more and is no <placeholder>: prose such as "a bearer token is
# required (Authorization: Bearer <token>)" is left alone.
_BEARER = re.compile(r"(?i)\b(bearer)\s+(?!\*\*\*|<)[^\s\"',;]{8,}")
# The parameters named in the security review, and a few spellings that other clients use.
SECRET_PARAMETERS = (
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "sig",
    "signature",
    "key",
    "api_key",
    "apikey",
    "code",
    "password",
    "secret",
    "client_secret",
)
_QUERY = re.compile(r"(?i)([?&;](?:" + "|".join(SECRET_PARAMETERS) + r")=)[^&;#\s\"']*")
_ENV = re.compile(r"(BATCHPOINT_(?:BOOTSTRAP_)?TOKEN[\"']?\s*[=:]\s*[\"']?)[^\s\"',;]+")
# A literal secret shorter than this is not a secret worth masking (and would mask ordinary words).
MIN_LITERAL = 8


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret it carries masked."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _ENV.sub(lambda m: m.group(1) + MASK, text)
    text = _QUERY.sub(lambda m: m.group(1) + MASK, text)
    return _TOKEN.sub(lambda m: m.group(1) + MASK, text)


def _literal_secrets(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret as given and as it appears percent-encoded in a URL, longest first."""
    spellings = {s for secret in secrets if len(secret) >= MIN_LITERAL for s in (secret, quote(secret, safe=""))}
    return tuple(sorted(spellings, key=len, reverse=True))


class RedactingFilter(logging.Filter):
    """Masks secrets in every record it sees; never drops a record.

    Attach it to handlers (not loggers): a handler's filters see the records of every logger that
    propagates to it. ``record.args`` stays a tuple of the same length, since some formatters
    unpack it (uvicorn's access formatter reads ``(client, method, path, version, status)``).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = _literal_secrets(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self._redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._redact_arg(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: self._redact_arg(value) for key, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the traceback is written masked.
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True

    def _redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def _redact_arg(self, arg: Any) -> Any:
        """A string argument masked; another object replaced by its masked text only if that text had a secret.

        Numbers keep their type, so ``%d`` and uvicorn's ``int(status_code)`` still work.
        """
        if isinstance(arg, str):
            return self._redact(arg)
        if arg is None or isinstance(arg, (int, float)):
            return arg
        try:
            text = str(arg)
        except Exception:  # a broken __str__ must not make logging raise; the formatter reports it
            return arg
        masked = self._redact(text)
        return arg if masked == text else masked


def add_to(handlers: Iterable[logging.Handler], secrets: Iterable[str] = ()) -> RedactingFilter:
    """Attach one filter to each of ``handlers`` (those without one already); returns the filter."""
    filt = RedactingFilter(secrets)
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(filt)
    return filt
