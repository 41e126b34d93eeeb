"""Failures a newcomer met without a word (issue 17), now said, through the real console script.

* ``job download`` of a job that has not completed: refused with its state (exit 2), the same from
  the SDK; ``--partial`` and ``--all`` download what there is, named as such.
* Ctrl-C in ``job stream`` and ``invoke --stream``: exit 130 and a line saying the job goes on (it does).
* ``BATCHPOINT_WORKSPACE`` (or a server) in use inside a folder with its own workspace: a note on
  stderr, once; nothing when they agree, and never a word on stdout.

The running job: its second mini-batch hangs (``HANG``) while the first one is committed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import BIN, Cli, CliResult
from tests.e2e.cli.test_job_cli import _setup
from tests.integration.jobs.conftest import wait_for, write_inputs

from batchpoint import Client
from batchpoint.errors import Conflict

NOTE = "note: using the workspace"


def _invoke(cli: Cli, folder: str) -> str:
    return cli(
        "batch-endpoint", "invoke", "-n", "cli-ep", "--input", folder, "--query", "name", "-o", "tsv"
    ).stdout.strip()


def _show(cli: Cli, job: str) -> dict[str, object]:
    view: dict[str, object] = json.loads(cli("job", "show", "-n", job).stdout)
    return view


@pytest.fixture
def running_job(workspace: Path, cli: Cli, engine_env: None) -> Iterator[str]:
    """A job that is Running with its first mini-batch (files 0 and 1) committed; canceled afterwards."""
    _setup(workspace, cli)
    write_inputs(workspace / "slow", 4, directives={2: "HANG"})
    job = _invoke(cli, "slow")

    def first_committed() -> bool:
        view = _show(cli, job)
        return view["status"] == "Running" and view["progress"]["mini_batches"]["done"] >= 1  # type: ignore[index]

    wait_for(first_committed, timeout=60, interval=0.2)
    yield job
    cli("job", "cancel", "-n", job, check=False)


# -- job download --------------------------------------------------------------------------------------
def test_download_of_a_running_job_is_refused_unless_partial(workspace: Path, cli: Cli, running_job: str) -> None:
    job = running_job
    refused = cli("job", "download", "-n", job, "-p", "dl", check=False)
    assert refused.returncode == 2, refused.output
    assert f"job '{job}' is Running; its output appears when it completes" in refused.stderr
    assert "--partial" in refused.stderr and "Traceback" not in refused.output
    assert "Downloaded" not in refused.stdout and not (workspace / "dl").exists()
    with Client(workspace) as client, pytest.raises(Conflict, match="is Running"):
        client.jobs.download(job, download_path=workspace / "sdk")

    partial = cli("job", "download", "-n", job, "-p", "dl", "--partial")
    assert "partial results" in partial.stdout and "not its output" in partial.stderr
    assert not (workspace / "dl" / "named-outputs").exists()  # never where the output goes
    readme = (workspace / "dl" / "partial-outputs" / "README.txt").read_text()
    assert readme.startswith(f"PARTIAL RESULTS of job {job}: this is not the job's output.")
    rows = (workspace / "dl" / "partial-outputs" / "score" / "predictions.csv").read_text().splitlines()
    assert sorted(r.split(",")[0] for r in rows) == [f"f0000{i}-r{r}" for i in (0, 1) for r in range(3)]

    logs = cli("job", "download", "-n", job, "-p", "logs-only", "--all")
    assert "has no output; only its logs were downloaded" in logs.stderr
    assert (workspace / "logs-only" / "artifacts" / "logs" / "processed_mini-batches.csv").is_file()
    assert not (workspace / "logs-only" / "named-outputs").exists()

    cli("job", "cancel", "-n", job)
    wait_for(lambda: _show(cli, job)["status"] == "Canceled", timeout=60, interval=0.2)
    canceled = cli("job", "download", "-n", job, "-p", "dl2", check=False)
    assert canceled.returncode == 2 and f"job '{job}' has no output: it was Canceled" in canceled.stderr
    assert "--all" in canceled.stderr


def test_download_of_a_failed_job_says_so_and_points_at_the_logs(workspace: Path, cli: Cli, engine_env: None) -> None:
    _setup(workspace, cli)
    write_inputs(workspace / "bad", 2, directives={0: "POISON", 1: "POISON"})
    job = _invoke(cli, "bad")
    assert cli("job", "stream", "-n", job, check=False).returncode == 1
    refused = cli("job", "download", "-n", job, "-p", "dl", check=False)
    assert refused.returncode == 2 and f"job '{job}' has no output: it Failed" in refused.stderr
    assert f"batchpoint job logs -n {job}" in refused.stderr and "--all" in refused.stderr
    assert not (workspace / "dl").exists()
    cli("job", "download", "-n", job, "-p", "dl", "--all")
    assert "poisoned input" in (workspace / "dl" / "artifacts" / "logs" / "job_error.txt").read_text()


# -- Ctrl-C while following -------------------------------------------------------------------------------
def _popen(cwd: Path, *args: str, stdout: Path, stderr: Path) -> subprocess.Popen[bytes]:
    """The console script in a session of its own, as a terminal's foreground job (Ctrl-C: its whole group)."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "BATCHPOINT_CONFIG": str(cwd / ".batchpoint-test-config.json"),
    }
    for key in ("BATCHPOINT_WORKSPACE", "BATCHPOINT_SERVER", "BATCHPOINT_TOKEN"):
        env.pop(key, None)
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        return subprocess.Popen(
            [str(BIN / "batchpoint"), *args], cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True,
            preexec_fn=_as_a_foreground_job,
        )  # fmt: skip


def _as_a_foreground_job() -> None:
    """Ctrl-C as a terminal delivers it: a shell's background job (``make test &``) ignores SIGINT, and its
    children inherit that; a terminal's foreground job does not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _has_open(pid: int, name: str) -> bool:
    """Whether process ``pid`` holds ``name`` open (the follower's database connection: it is following)."""
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}").endswith(name) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def _ctrl_c(proc: subprocess.Popen[bytes]) -> int:
    os.killpg(proc.pid, signal.SIGINT)
    return proc.wait(timeout=30)


def test_ctrl_c_in_job_stream_exits_130_and_the_job_goes_on(workspace: Path, cli: Cli, running_job: str) -> None:
    job = running_job
    proc = _popen(workspace, "job", "stream", "-n", job, stdout=workspace / "out", stderr=workspace / "err")
    wait_for(lambda: _has_open(proc.pid, "metadata.db"), timeout=30)
    assert _ctrl_c(proc) == 130
    said = (workspace / "err").read_text()
    assert f"the job continues in the background; cancel it with `batchpoint job cancel -n {job}`" in said
    assert "Traceback" not in said
    assert _show(cli, job)["status"] == "Running"


def test_ctrl_c_in_invoke_stream_exits_130_and_the_job_goes_on(workspace: Path, cli: Cli, engine_env: None) -> None:
    _setup(workspace, cli)
    write_inputs(workspace / "slow", 4, directives={2: "HANG"})
    out = workspace / "out"
    proc = _popen(workspace, "batch-endpoint", "invoke", "-n", "cli-ep", "--input", "slow", "--stream",
                  stdout=out, stderr=workspace / "err")  # fmt: skip
    try:
        # The job is printed (and flushed) before following begins; its driver runs in a session of its own.
        wait_for(lambda: out.read_text().endswith("}\n"), timeout=60)
        job = json.loads(out.read_text())["name"]
        wait_for(lambda: _show(cli, job)["status"] == "Running", timeout=60, interval=0.2)
        assert _ctrl_c(proc) == 130
        assert f"cancel it with `batchpoint job cancel -n {job}`" in (workspace / "err").read_text()
        assert _show(cli, job)["status"] == "Running"
    finally:
        if proc.poll() is None:
            proc.kill()
        for listed in cli("job", "list", "--query", "[].name", "-o", "tsv").stdout.split():
            cli("job", "cancel", "-n", listed, check=False)


# -- which workspace -----------------------------------------------------------------------------------
def _run(cwd: Path, *args: str, env: dict[str, str]) -> CliResult:
    """The console script with these variables (``Cli`` removes BATCHPOINT_WORKSPACE and BATCHPOINT_SERVER)."""
    full = {**os.environ, "NO_COLOR": "1", "BATCHPOINT_CONFIG": str(cwd / ".batchpoint-test-config.json")}
    for key in ("BATCHPOINT_WORKSPACE", "BATCHPOINT_SERVER", "BATCHPOINT_TOKEN"):
        full.pop(key, None)
    proc = subprocess.run(
        [str(BIN / "batchpoint"), *args], cwd=cwd, env={**full, **env}, capture_output=True, text=True, timeout=120
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def test_a_workspace_from_the_environment_is_named_where_the_folder_has_another(
    workspace: Path, tmp_path: Path, cli: Cli
) -> None:
    a = workspace / ".batchpoint"
    cli("batch-endpoint", "create", "-n", "only-in-a")
    other = tmp_path / "other"
    other.mkdir()
    env = {"BATCHPOINT_WORKSPACE": str(workspace)}

    made = _run(other, "init", env=env)
    assert made.returncode == 0 and made.stdout == f"Workspace ready at {other / '.batchpoint'}\n"
    assert f"BATCHPOINT_WORKSPACE is set: commands use the workspace {a}, not the one created here" in made.stderr

    listed = _run(other, "batch-endpoint", "list", "--query", "[].name", "-o", "tsv", env=env)
    assert listed.returncode == 0 and listed.stdout == "only-in-a\n"  # stdout stays clean for scripts
    expected = (
        f"{NOTE} {a} from BATCHPOINT_WORKSPACE, not {other / '.batchpoint'} found in this folder; "
        "unset BATCHPOINT_WORKSPACE to use this one"
    )
    assert listed.stderr.splitlines() == [expected]
    # The light `job show` path, and its hand-over to the full CLI for a job it does not find: once.
    missing = _run(other, "job", "show", "-n", "no-such-job", env=env)
    assert missing.returncode == 2 and missing.stderr.count(NOTE) == 1

    # No word where nothing disagrees: the variable names this folder's workspace, or -w chooses.
    for cwd, extra, args in (
        (workspace, env, ()),
        (other, {}, ()),
        (other, env, ("-w", str(other))),
        (other, {}, ("-w", str(workspace))),
    ):
        quiet = _run(cwd, *args, "batch-endpoint", "list", "-o", "tsv", env=extra)
        assert quiet.returncode == 0 and quiet.stderr == "", (cwd, extra, args, quiet.stderr)

    # A server named by the environment, in a folder with a workspace: named too (nothing listens there).
    remote = _run(other, "batch-endpoint", "list", env={"BATCHPOINT_SERVER": "http://127.0.0.1:9"})
    assert (
        f"note: using the server http://127.0.0.1:9 (from BATCHPOINT_SERVER), not the workspace "
        f"{other / '.batchpoint'} found in this folder" in remote.stderr
    )


def test_the_light_job_show_names_the_workspace_too(
    workspace: Path, tmp_path: Path, cli: Cli, engine_env: None
) -> None:
    _setup(workspace, cli)
    write_inputs(workspace / "data", 2)
    job = _invoke(cli, "data")
    other = tmp_path / "other"
    other.mkdir()
    cli("init", str(other))
    env = {"BATCHPOINT_WORKSPACE": str(workspace), "PYTHONPROFILEIMPORTTIME": "1"}
    shown = _run(other, "job", "show", "-n", job, "--query", "name", "-o", "tsv", env=env)
    assert shown.returncode == 0 and shown.stdout == f"{job}\n"
    assert shown.stderr.count(NOTE) == 1
    assert not any(line.split("|")[-1].strip() == "sqlalchemy" for line in shown.stderr.splitlines())
