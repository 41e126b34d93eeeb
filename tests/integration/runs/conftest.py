"""The job-engine fixtures (a workspace with an endpoint, on SQLite and on PostgreSQL), shared with tests/integration/jobs."""

from tests.integration.jobs.conftest import any_db_jobs, engine_env, jobs, postgres_url

__all__ = ["any_db_jobs", "engine_env", "jobs", "postgres_url"]
