"""Errors of the supervisor's start and stop (what the CLI prints and exits with)."""

from __future__ import annotations

from batchpoint.errors import BatchpointError


class SupervisorError(BatchpointError):
    """The background supervisor could not be started, or did not stop; the message says why."""

    code = "supervisor_error"
    status_code = 500
    exit_code = 1
