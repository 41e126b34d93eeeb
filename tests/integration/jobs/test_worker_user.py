"""Workers never run as root: run as root, batchpoint starts them (and environment builds) as the worker user.

These tests leave ``BATCHPOINT_ENGINE_WORKER_USER`` at its default (the rest of the suite sets it to
``root``, see tests/conftest.py) and keep their workspace and inputs in a folder the worker user can
enter: pytest's ``tmp_path`` is 0700 under /tmp/pytest-of-root, which it cannot.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchpoint.common import yamlio
from batchpoint.config import EngineSettings
from batchpoint.executors import privileges
from batchpoint.executors.privileges import WorkerIdentity

from .conftest import Env, _jobs_env, write_inputs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="workers change user only when batchpoint runs as root")

VARIABLE = privileges.WORKER_USER_VARIABLE

UID_SCORER = """
import os

def init():
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "factor.txt")) as fh:
        fh.read()
    with open(os.path.join(os.environ["HOME"], "written-by-init.txt"), "w") as fh:
        fh.write("a library would cache here")

def run(mini_batch):
    rows = []
    for path in mini_batch:
        with open(path) as fh:
            fh.read()
        crash = os.path.join(os.environ["HOME"], "crashed-once")
        if os.path.basename(path) == "f00001.csv" and not os.path.exists(crash):
            open(crash, "w").close()
            os._exit(1)  # the replacement worker is started by the executor, not from the launch plan
        rows.append((os.path.basename(path), os.getuid(), os.geteuid(), os.getgid(), os.environ["HOME"]))
    return rows
"""

SUMMARY_SCORER = """
import os

def run(mini_batch):
    for path in mini_batch:
        with open(os.path.join(os.environ["AZUREML_BI_OUTPUT_PATH"], os.path.basename(path) + ".out"), "w") as fh:
            fh.write(str(os.getuid()))
    return mini_batch
"""


@pytest.fixture
def open_jobs(engine_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The ``jobs`` environment in a folder the worker user can enter, with the default worker user."""
    monkeypatch.delenv(VARIABLE, raising=False)
    root = Path(tempfile.mkdtemp(prefix="bp-worker-user-"))
    root.chmod(0o755)
    try:
        yield from _jobs_env(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _deploy(env: Env, script: str, environment: dict[str, Any] | None = None, **settings: Any) -> str:
    """A deployment of ``script`` (with the jobs model) as the endpoint's default; returns its name."""
    env.deployments += 1
    name = f"uid{env.deployments}"
    folder = env.root / name
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "factor.txt").write_text("3")
    (folder / "code").mkdir()
    (folder / "code" / "score.py").write_text(script)
    spec: dict[str, Any] = {
        "name": name,
        "endpoint_name": "jobs-ep",
        "type": "model",
        "model": {"name": f"m-{name}", "path": "model"},
        "code_configuration": {"code": "code", "scoring_script": "score.py"},
        "settings": {"mini_batch_size": 1, "max_concurrency_per_instance": 2, **settings},
    }
    if environment is not None:
        spec["environment"] = environment
    (folder / "deployment.yml").write_text(yamlio.dumps(spec))
    env.client.batch_deployments.create_from_file(folder / "deployment.yml", set_default=True)
    return name


def _rows(path: str | None) -> list[list[str]]:
    with open(path or "", newline="") as fh:
        return list(csv.reader(fh))


def test_workers_run_as_the_worker_user_with_a_home_they_can_write(open_jobs: Env, worker_user: WorkerIdentity) -> None:
    write_inputs(open_jobs.root / "data", 4, rows=1)
    _deploy(open_jobs, UID_SCORER)
    job = open_jobs.wait(open_jobs.client.batch_endpoints.invoke("jobs-ep", input=str(open_jobs.root / "data")))
    assert job.status == "Completed", job.message
    rows = _rows(job.outputs["score"].file)
    assert [r[0] for r in rows] == [f"f{i:05d}.csv" for i in range(4)]
    assert {(int(r[1]), int(r[2]), int(r[3])) for r in rows} == {(worker_user.uid, worker_user.uid, worker_user.gid)}
    home = Path(rows[0][4])
    assert home == worker_user.for_job(open_jobs.job_dir(job)).home
    assert (home / "written-by-init.txt").stat().st_uid == worker_user.uid
    assert (home / "crashed-once").exists(), "the replacement worker did not run"
    assert "run as root" not in (open_jobs.job_dir(job) / "logs" / "driver.log").read_text()


def test_a_summary_only_script_writes_into_the_output_folder(open_jobs: Env, worker_user: WorkerIdentity) -> None:
    write_inputs(open_jobs.root / "data", 3, rows=1)
    _deploy(open_jobs, SUMMARY_SCORER, output_action="summary_only")
    job = open_jobs.wait(open_jobs.client.batch_endpoints.invoke("jobs-ep", input=str(open_jobs.root / "data")))
    assert job.status == "Completed", job.message
    out = Path(job.outputs["score"].path)
    written = sorted(out.glob("*.out"))
    assert [p.name for p in written] == [f"f{i:05d}.csv.out" for i in range(3)]
    assert {p.read_text() for p in written} == {str(worker_user.uid)}


def test_an_input_the_worker_user_cannot_enter_fails_the_job_in_plain_words(open_jobs: Env) -> None:
    identity = privileges.worker_identity(None)
    assert identity is not None
    locked = open_jobs.root / "locked"
    write_inputs(locked / "data", 2, rows=1)
    locked.chmod(0o700)  # like /tmp/pytest-of-root
    _deploy(open_jobs, UID_SCORER)
    job = open_jobs.wait(open_jobs.client.batch_endpoints.invoke("jobs-ep", input=str(locked / "data")))
    assert job.status == "Failed"
    message = job.message or ""
    assert f"the input {locked / 'data'}" in message
    assert f"cannot enter the folder {locked}" in message
    assert f"'{identity.name}'" in message and VARIABLE in message
    assert "Traceback" not in message


def test_an_unknown_worker_user_fails_the_job_naming_the_setting(
    open_jobs: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, "nosuchuser")
    write_inputs(open_jobs.root / "data", 2, rows=1)
    _deploy(open_jobs, UID_SCORER)
    job = open_jobs.wait(open_jobs.client.batch_endpoints.invoke("jobs-ep", input=str(open_jobs.root / "data")))
    assert job.status == "Failed"
    assert f"{VARIABLE} is 'nosuchuser', but this machine has no such user" in (job.message or "")


def test_root_keeps_workers_as_root_and_the_driver_log_says_so(open_jobs: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "root")
    write_inputs(open_jobs.root / "data", 2, rows=1)
    _deploy(open_jobs, UID_SCORER)
    job = open_jobs.wait(open_jobs.client.batch_endpoints.invoke("jobs-ep", input=str(open_jobs.root / "data")))
    assert job.status == "Completed", job.message
    assert {(r[1], r[2]) for r in _rows(job.outputs["score"].file)} == {("0", "0")}
    log = (open_jobs.job_dir(job) / "logs" / "driver.log").read_text()
    assert f"WARNING [epoch 1] {VARIABLE}=root: workers run as root" in log


def test_an_environment_is_built_by_the_worker_user(open_jobs: Env, worker_user: WorkerIdentity) -> None:
    pytest.importorskip("uv")
    write_inputs(open_jobs.root / "data", 2, rows=1)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"  # this interpreter's: uv venv, no download
    _deploy(open_jobs, UID_SCORER, environment={"name": "bare", "python_version": python})
    job = open_jobs.wait(open_jobs.client.batch_endpoints.invoke("jobs-ep", input=str(open_jobs.root / "data")))
    assert job.status == "Completed", job.message
    venv = Path((job.environment or {})["path"])
    assert venv.stat().st_uid == worker_user.uid, "uv venv did not run as the worker user"
    assert {int(r[1]) for r in _rows(job.outputs["score"].file)} == {worker_user.uid}


@pytest.mark.parametrize("value", ["", "root", "nobody", "None", " batchpoint "])
def test_the_driver_reads_the_setting_as_engine_settings_do(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Drivers read it before importing pydantic (to prestart workers): both readings must agree."""
    monkeypatch.setenv(VARIABLE, value)
    assert privileges.configured_user() == EngineSettings().worker_user
    # str(None), an unset setting passed on as text, means the default too.
    assert privileges.worker_identity("None") == privileges.worker_identity(None) == privileges.worker_identity("")
