"""What a worker's environment holds (never batchpoint's settings, nor the metadata database's credentials), and
the launch plan a driver prestarts from before it has read its settings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from batchpoint.config import Settings
from batchpoint.executors import privileges
from batchpoint.executors.launch import PLAN_NAME, _prestart_identity, worker_env, write_plan


def test_no_batchpoint_settings_and_no_libpq_credentials_with_a_postgres_metadata_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATCHPOINT_DATABASE_URL", "postgresql+psycopg://bp@db/bp")
    monkeypatch.setenv("PGPASSWORD", "s3cret")
    monkeypatch.setenv("PGHOST", "db")
    monkeypatch.setenv("KEEP_ME", "1")
    env = worker_env({"DEPLOYED": "yes"}, metadata_on_postgres=True)
    assert not [k for k in env if k.startswith(("BATCHPOINT_", "PG"))]
    assert env["KEEP_ME"] == "1" and env["DEPLOYED"] == "yes"


def test_libpq_variables_stay_when_the_metadata_database_is_not_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", "users-own-db")
    assert worker_env({}, metadata_on_postgres=False)["PGHOST"] == "users-own-db"  # the scoring script's own database


def test_the_launch_plan_takes_the_database_and_the_worker_user_from_the_invokers_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver prestarts from the plan before it reads any setting: the plan carries what it needs."""
    monkeypatch.setenv("PGPASSWORD", "s3cret")
    settings = Settings(database_url="postgresql+psycopg://bp@db/bp", engine={"worker_user": "root"})
    write_plan(
        tmp_path, python="python", config_file=tmp_path / "c.json", log_dir=tmp_path, cwd=tmp_path, env={},
        workers=1, settings=settings,
    )  # fmt: skip
    plan = json.loads((tmp_path / PLAN_NAME).read_text())
    assert "PGPASSWORD" not in plan["env"]
    assert plan["worker_user_setting"] == "root"


@pytest.mark.skipif(not privileges.running_as_root(), reason="only root drivers change the workers' user")
def test_a_root_driver_prestarts_only_from_a_plan_no_other_user_could_write(tmp_path: Path) -> None:
    """A plan names the worker user: as root, one that another user wrote (or could have) is not used."""
    job_dir = tmp_path / "jobs" / "job"
    job_dir.mkdir(parents=True, mode=0o755)
    (tmp_path / "jobs").chmod(0o755)
    settings = Settings(engine={"worker_user": "root"})
    write_plan(
        job_dir, python="python", config_file=job_dir / "c.json", log_dir=job_dir, cwd=job_dir, env={}, workers=1,
        settings=settings,
    )  # fmt: skip
    plan_file = job_dir / PLAN_NAME
    plan = json.loads(plan_file.read_text())
    assert _prestart_identity(job_dir, plan) == (True, None)  # root wrote it and asked for root
    plan_file.chmod(0o666)
    assert _prestart_identity(job_dir, plan) == (False, None)
    plan_file.chmod(0o644)
    os.chown(plan_file, 65534, 65534)  # nobody's: it could have named root
    assert _prestart_identity(job_dir, plan) == (False, None)
