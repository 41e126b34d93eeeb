"""The console script's entry point: the calls scripts make most often, answered without the CLI framework.

``batchpoint --version`` and ``batchpoint job show -n JOB [-o FORMAT] [--query Q]`` (polling loops
call it every few seconds while a job runs, on the job's machine) are answered here without
importing typer and click: only the standard library, pydantic for the job's view, and the light
``sqlite3`` read (``jobs/quickview.py``). Anything else, and anything here that is not exactly the
simple form (another flag, a server target, an error to report), goes to the full CLI
(``cli/main.py``), which parses and reports as always.
"""

from __future__ import annotations

import contextlib
import os
import sys

_SHOW_FLAGS = {"-n": "name", "--name": "name", "-o": "output", "--output": "output", "--query": "query"}
_ROOT_FLAGS = {"-w": "workspace", "--workspace": "workspace"}
_FORMATS = ("json", "jsonc", "none", "tsv", "yaml", "table")
_console_script = False


def run() -> None:
    global _console_script
    _console_script = True
    argv = sys.argv[1:]
    if argv == ["--version"]:
        from batchpoint._version import __version__

        sys.stdout.write(f"batchpoint {__version__}\n")
        return
    if _job_show(argv):
        return
    from batchpoint.cli.main import run as full_cli

    full_cli()


def leave_now(code: int = 0) -> None:
    """End the console script at once, its output flushed, skipping the interpreter's teardown.

    Tearing down a process that has imported the ORM, pydantic and rich takes about 0.15 s, which a
    shell script waiting on ``invoke --stream`` would wait for after its job has ended. Only for the
    console script (an embedding program calling the CLI in process keeps running) and only after a
    command has finished everything it writes (nothing is left in a buffer or a file still open).
    """
    if not _console_script:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def step_aside() -> None:
    """Lower this console script's CPU priority (``nice`` +10) while it only watches a job.

    A command that follows a job (``invoke --stream``, ``job stream``) runs on the machine the job
    runs on; at a low priority it never takes CPU from the job's workers, and it gets the CPU back as
    soon as they are done. Called after the job's driver has been started (the driver, and the
    workers it starts, keep the normal priority); only for the console script.
    """
    if _console_script and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(10)


def parse_job_show(argv: list[str]) -> dict[str, str] | None:
    """``[-w W] job show -n NAME [-o F] [--query Q]`` as a dict; None for any other form."""
    values: dict[str, str] = {}
    rest = _take(argv, _ROOT_FLAGS, values, until=("job",))
    if rest is None or rest[:2] != ["job", "show"]:
        return None
    if _take(rest[2:], _SHOW_FLAGS, values) != [] or "name" not in values:
        return None
    if values.get("output", "json") not in _FORMATS:
        return None  # the full CLI names the allowed values
    return values


def _take(
    argv: list[str], flags: dict[str, str], into: dict[str, str], until: tuple[str, ...] = ()
) -> list[str] | None:
    """Consume ``FLAG VALUE`` / ``--flag=VALUE`` pairs of ``flags``; what is left from ``until`` on, or None."""
    i = 0
    while i < len(argv) and argv[i] not in until:
        flag, eq, value = argv[i].partition("=") if argv[i].startswith("--") else (argv[i], "", "")
        if flag not in flags or flags[flag] in into:
            return None
        if not eq:
            i += 1
            if i >= len(argv):
                return None
            value = argv[i]
        into[flags[flag]] = value
        i += 1
    return argv[i:]


def _job_show(argv: list[str]) -> bool:
    """Print the job as ``job show`` does, when the light path can answer; False to leave it to the full CLI."""
    args = parse_job_show(argv)
    if args is None:
        return False
    # This process only prints one job and exits: pydantic's plugin discovery (it scans every installed
    # package's entry points) is not needed for that.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from batchpoint.errors import BatchpointError
    from batchpoint.jobs import quickview

    try:
        job = quickview.get_job(args.get("workspace"), args["name"])
        if job is None:
            return False
        _note_workspace(args.get("workspace"))
        from batchpoint.cli.output import JOB_COLUMNS, emit

        emit(job, args.get("output", "json"), args.get("query"), columns=JOB_COLUMNS)
    except BatchpointError:
        return False  # a bad --query, say: the full CLI reports it in its usual words
    return True


def _note_workspace(workspace: str | None) -> None:
    """The note ``CliState.note_workspace`` prints on the full path (only when this path answers: said once)."""
    from batchpoint.workspace.origin import env_note

    text = env_note(workspace)
    if text is not None:
        from batchpoint.cli import notices

        notices.note(text)
