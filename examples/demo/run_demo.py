"""The batchpoint demo (``make demo``): a batch endpoint scored end to end with the real CLI.

It trains the heart-sklearn example's model, creates a fresh workspace in ``./demo-workspace/``
(git-ignored, re-created on every run), registers the model, creates the endpoint and the deployment
from the Azure-style YAML files, invokes the endpoint on a folder of CSV files, streams the job's
progress and prints the first lines of ``predictions.csv``. Then it trains the model again as a
pipeline job (prepare → train, the train step logging its accuracy with MLflow), lists the pipeline's
steps, shows the train step's run (params, metrics) and registers the pipeline's model output as the
model's next version, with its lineage (job and run).

Every step is a ``batchpoint`` command run in a subprocess and printed as a shell transcript, so the
output can be replayed by hand. Any failing step stops the demo with a non-zero exit status.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = Path("examples") / "heart-sklearn"
PIPELINE = EXAMPLE / "pipeline" / "train-pipeline.yml"
WORKSPACE = Path("demo-workspace")
ENDPOINT = "heart-batch"
MODEL = "heart-classifier"
COMPUTE = "batch-cluster"
OUTPUT_FILE = "predictions.csv"
HEAD_LINES = 10

COMMAND_TIMEOUT = 300  # seconds for a management command (the first one may import a lot)
JOB_TIMEOUT = 1800  # seconds for `job stream`, which returns when the job ends

BOLD, DIM, RED, GREEN, RESET = (
    ("\033[1m", "\033[2m", "\033[31m", "\033[32m", "\033[0m") if sys.stdout.isatty() else ("",) * 5
)


class DemoError(Exception):
    """A step failed; the message says which and what to look at."""


def say(text: str = "") -> None:
    print(text, flush=True)


def show_command(display: str) -> None:
    say(f"{BOLD}$ {display}{RESET}")


def find_cli() -> Path:
    """The ``batchpoint`` console script installed next to the running interpreter."""
    bin_dir = Path(sys.executable).parent  # not resolved: keep the virtual environment's bin folder
    for name in ("batchpoint", "batchpoint.exe"):
        candidate = bin_dir / name
        if candidate.is_file():
            return candidate
    raise DemoError(
        f"the 'batchpoint' command is not installed next to {sys.executable}; "
        "run the demo with 'make demo', which installs batchpoint into .venv"
    )


def demo_env() -> dict[str, str]:
    """The environment of every command: always the demo workspace, always embedded mode."""
    env = dict(os.environ)
    for key in ("BATCHPOINT_SERVER", "BATCHPOINT_TOKEN", "BATCHPOINT_DATABASE_URL"):
        env.pop(key, None)
    env["BATCHPOINT_WORKSPACE"] = str(ROOT / WORKSPACE)
    env.setdefault("PYTHONUNBUFFERED", "1")
    keep_root = _workers_keep_root(env)
    if keep_root:
        env["BATCHPOINT_ENGINE_WORKER_USER"] = "root"
        print(f"note: {keep_root}", file=sys.stderr)
    if not sys.stdout.isatty():
        env.setdefault("COLUMNS", "160")  # tables stay readable in CI logs and when piped to a file
    return env


def _workers_keep_root(env: dict[str, str]) -> str | None:
    """Why the demo keeps workers as root, when it must (None otherwise).

    As root, batchpoint runs workers as an unprivileged user. When that user cannot reach this
    Python (a pyenv under /root, say) every job would fail with a message saying so; the demo says it
    once here and keeps workers as root instead, which is what setting the variable does for a user.
    """
    from batchpoint.executors import privileges

    if "BATCHPOINT_ENGINE_WORKER_USER" in env or not privileges.running_as_root():
        return None
    identity = privileges.worker_identity(None)
    if identity is None:
        return None
    found = privileges.python_problem(identity, privileges.Need("this demo", ROOT))
    if found is None:
        return None
    need, why = found
    return (
        f"running as root: batchpoint would run workers as {identity.label}, which cannot use {need.label} "
        f"{need.path} ({why}); the demo keeps workers as root (BATCHPOINT_ENGINE_WORKER_USER=root). "
        "See docs/operations.md, 'Running as an unprivileged user'."
    )


class Shell:
    """Runs the demo's commands from the repository root and prints them as a transcript."""

    def __init__(self, cli: Path) -> None:
        self.cli = cli
        self.env = demo_env()

    def run(
        self,
        args: Sequence[str],
        *,
        display: str | None = None,
        capture: bool = False,
        timeout: float = COMMAND_TIMEOUT,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``batchpoint ARGS``; with ``capture`` its standard output is returned, not printed."""
        return self.execute(
            [str(self.cli), *args], display or shlex.join(["batchpoint", *args]), capture, timeout, check
        )

    def execute(
        self, argv: list[str], display: str, capture: bool = False, timeout: float = COMMAND_TIMEOUT, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        if not capture:
            show_command(display)
        try:
            done = subprocess.run(
                argv,
                cwd=ROOT,
                env=self.env,
                text=True,
                stdout=subprocess.PIPE if capture else None,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DemoError(f"'{display}' did not finish within {timeout:.0f} seconds") from None
        if check and done.returncode != 0:
            raise DemoError(f"'{display}' exited with status {done.returncode} (its error is printed above)")
        return done


def fresh_workspace_folder() -> None:
    """Remove the previous run's workspace; refuse to delete a folder the demo did not make."""
    folder = ROOT / WORKSPACE
    if not folder.exists():
        return
    if not folder.is_dir() or not ((folder / ".batchpoint").is_dir() or not any(folder.iterdir())):
        raise DemoError(f"'{folder}' exists but is not a demo workspace; move it away and run the demo again")
    shutil.rmtree(folder)


def predictions_path(shell: Shell, job: str) -> Path:
    """Where the job wrote its ``score`` output, as ``job show`` reports it (or the default place)."""
    default = ROOT / WORKSPACE / ".batchpoint" / "jobs" / job / "outputs" / "score" / OUTPUT_FILE
    done = shell.run(
        ["job", "show", "-n", job, "--query", "outputs.score.path", "-o", "tsv"], capture=True, check=False
    )
    reported = (done.stdout or "").strip() if done.returncode == 0 else ""
    if reported.startswith("file://"):
        reported = reported[len("file://") :]
    if reported and "://" not in reported:
        path = Path(reported)
        path = path if path.is_absolute() else ROOT / path
        if path.is_dir():
            path = path / OUTPUT_FILE
        if path.is_file():
            return path
    return default


def print_head(path: Path) -> None:
    if not path.is_file():
        raise DemoError(f"the job reported success but {path} does not exist")
    try:
        shown = path.relative_to(ROOT)
    except ValueError:
        shown = path
    show_command(f"head -n {HEAD_LINES} {shown}")
    with path.open(encoding="utf-8", errors="replace") as handle:
        lines = handle.readlines()
    for line in lines[:HEAD_LINES]:
        say(line.rstrip("\n"))
    say(f"{DIM}... {max(len(lines) - 1, 0)} prediction rows and a header line in total{RESET}")


def set_up(shell: Shell) -> None:
    """Train, create the workspace, register the model and deploy it."""
    shell.execute([sys.executable, str(EXAMPLE / "train.py")], f"python {EXAMPLE / 'train.py'}")
    fresh_workspace_folder()
    shell.run(["init", str(WORKSPACE)])
    show_command(f"export BATCHPOINT_WORKSPACE=$PWD/{WORKSPACE}")
    shell.run(["compute", "create", "-n", COMPUTE, "--type", "amlcompute", "--max-instances", "2"])
    shell.run(["model", "create", "-n", MODEL, "-p", str(EXAMPLE / "model"), "--type", "custom_model"])
    shell.run(["batch-endpoint", "create", "-f", str(EXAMPLE / "endpoint.yml")])
    shell.run(["batch-deployment", "create", "-f", str(EXAMPLE / "deployment.yml"), "--set-default"])


def started_job(shell: Shell, variable: str, args: list[str]) -> str:
    """Run a command that starts a job, shown as ``VARIABLE=$(batchpoint ARGS --query name -o tsv)``."""
    command = [*args, "--query", "name", "-o", "tsv"]
    show_command(f"{variable}=$({shlex.join(['batchpoint', *command])})")
    name = shell.run(command, capture=True).stdout.strip()
    if not name or len(name.split()) != 1:
        raise DemoError(f"'batchpoint {' '.join(args[:2])}' printed {name!r} instead of a job name")
    return name


def score(shell: Shell) -> str:
    """Invoke the endpoint, follow the job to its end, show it; returns the job name."""
    invoke = ["batch-endpoint", "invoke", "-n", ENDPOINT, "--input", str(EXAMPLE / "data")]
    job = started_job(shell, "JOB", invoke)
    show_command("echo $JOB")
    say(job)

    streamed = shell.run(
        ["job", "stream", "-n", job], display="batchpoint job stream -n $JOB", timeout=JOB_TIMEOUT, check=False
    )
    shell.run(["job", "show", "-n", job, "-o", "table"], display="batchpoint job show -n $JOB -o table", check=False)
    if streamed.returncode != 0:
        raise DemoError(f"job {job} did not complete (see 'batchpoint job show -n {job}' above for the reason)")
    return job


def train_pipeline(shell: Shell) -> str:
    """Train again as a pipeline job, show its steps and the train step's run, register its model."""
    pipeline = started_job(shell, "PIPELINE", ["job", "create", "-f", str(PIPELINE)])
    streamed = shell.run(
        ["job", "stream", "-n", pipeline],
        display="batchpoint job stream -n $PIPELINE",
        timeout=JOB_TIMEOUT,
        check=False,
    )
    if streamed.returncode != 0:
        shell.run(["job", "show", "-n", pipeline], display="batchpoint job show -n $PIPELINE", check=False)
        raise DemoError(f"pipeline job {pipeline} did not complete (see 'batchpoint job show -n {pipeline}')")
    shell.run(
        ["job", "list", "--parent-job-name", pipeline, "-o", "table"],
        display="batchpoint job list --parent-job-name $PIPELINE -o table",
    )
    run = ["job", "show", "-n", f"{pipeline}-train", "--query", "{run: run_id, params: params, metrics: metrics}"]
    shown = shell.run(run, capture=True)
    show_command(shlex.join(["batchpoint", *run]).replace(pipeline, "$PIPELINE"))
    say(shown.stdout.rstrip())
    if '"metrics": {}' in shown.stdout and os.geteuid() == 0:
        say(
            f"{DIM}(no metrics: as root, batchpoint runs job code as an unprivileged user, who may not write "
            f"the workspace's tracking store; see docs/runs.md){RESET}"
        )
    register = ["model", "create", "-n", MODEL, "--path", f"azureml://jobs/{pipeline}/outputs/model"]
    shell.run([*register, "-o", "table"], display=shlex.join(["batchpoint", *register]).replace(pipeline, "$PIPELINE"))
    lineage = [
        "model",
        "show",
        "-n",
        MODEL,
        "--version",
        "2",
        "--query",
        "{version: version, job: job_name, run: run_id}",
    ]
    shell.run(lineage)
    return pipeline


def main() -> int:
    os.chdir(ROOT)
    try:
        shell = Shell(find_cli())
        set_up(shell)
        job = score(shell)
        print_head(predictions_path(shell, job))
        say()
        pipeline = train_pipeline(shell)
    except DemoError as exc:
        say()
        print(f"{RED}demo failed: {exc}{RESET}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\ndemo interrupted", file=sys.stderr)
        return 130
    say()
    say(f"{GREEN}Demo finished.{RESET} The workspace is kept in ./{WORKSPACE}/ to explore, for example:")
    say(f"  export BATCHPOINT_WORKSPACE=$PWD/{WORKSPACE}")
    say(f"  batchpoint job show -n {job}")
    say(f"  batchpoint job download -n {job} --output-name score --download-path out/")
    say(f"  batchpoint job show -n {pipeline}")
    say("  batchpoint experiment list")
    return 0


if __name__ == "__main__":
    sys.exit(main())
