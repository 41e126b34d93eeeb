"""What a worker's environment holds: never batchpoint's settings, nor the metadata database's credentials."""

from __future__ import annotations

import pytest

from batchpoint.executors.launch import worker_env


def test_no_batchpoint_settings_and_no_libpq_credentials_with_a_postgres_metadata_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATCHPOINT_DATABASE_URL", "postgresql+psycopg://bp@db/bp")
    monkeypatch.setenv("PGPASSWORD", "s3cret")
    monkeypatch.setenv("PGHOST", "db")
    monkeypatch.setenv("KEEP_ME", "1")
    env = worker_env({"DEPLOYED": "yes"})
    assert not [k for k in env if k.startswith(("BATCHPOINT_", "PG"))]
    assert env["KEEP_ME"] == "1" and env["DEPLOYED"] == "yes"


def test_libpq_variables_stay_when_the_metadata_database_is_not_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCHPOINT_DATABASE_URL", raising=False)
    monkeypatch.setenv("PGHOST", "users-own-db")
    assert worker_env({})["PGHOST"] == "users-own-db"  # the scoring script's own database, embedded
