"""Fixtures of the CLI scenarios: the job components' short engine timings, shared with tests/integration/jobs."""

from tests.integration.jobs.conftest import engine_env

__all__ = ["engine_env"]
