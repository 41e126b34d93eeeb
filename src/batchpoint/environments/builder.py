"""Build environments with ``uv``: one virtual environment per resolved content, cached in the workspace.

    .batchpoint/cache/envs/<spec_hash>/
        spec.json          what was resolved: Python version, requirement lines, notes
        requirements.txt   the lines uv installed
        build.log          uv's output for the last build (kept when the build fails)
        .lock              held (flock) while building: two jobs that need it at once build it once
        venv/              the environment; it appears (renamed from venv.tmp-*) only once complete
        venv/batchpoint-build.json   when it was built and how long that took

``spec_hash`` covers the requirement lines and the exact interpreter version used, so an
environment is built once and every later job and worker reuses it. The interpreter is the
requested Python version when ``uv python find`` (or pyenv) has it on this machine, else the
host's, with a warning in the build log and in the job's ``environment.note``. Nothing of
batchpoint is installed in the environment: workers import ``batchpoint.runtime`` (standard library
only) from batchpoint's own source folder.

Installing a requirement can run its code (an sdist's ``setup.py``), so when batchpoint runs as
root the ``uv`` steps run as the worker user, like the workers (see ``executors/privileges.py``).
Only the environment being built (``venv.tmp-*``) and uv's cache (``cache/build-home/<user>``) are
that user's: the folder around them, whose log, spec and lock the driver writes as root, is not, so
no link the user plants can send those writes elsewhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from batchpoint.environments.definitions import EnvironmentRequest, from_registered
from batchpoint.errors import BatchpointError
from batchpoint.executors import privileges
from batchpoint.executors.privileges import Need, WorkerIdentity

if TYPE_CHECKING:
    from batchpoint.registry.schemas import Environment
    from batchpoint.services import Services

BUILDER_VERSION = 1
"""Part of every spec hash: bump it when the way environments are built changes."""
RUNTIME_MIN_PYTHON = (3, 10)
"""batchpoint's worker runtime (``batchpoint.runtime``) needs this Python or newer."""
MARKER = "batchpoint-build.json"
_ERROR_TAIL_LINES = 25


class EnvironmentBuildFailed(BatchpointError):
    """An environment could not be built; the message carries the resolver's own words and the build log."""

    code = "environment_build_failed"
    status_code = 422
    exit_code = 2


class EnvironmentBuild(BaseModel):
    """A built (or reused) environment, as ``environment build`` and ``job show`` report it."""

    kind: str
    """``registered``, ``model`` or ``current`` (batchpoint's interpreter, nothing built)."""
    name: str | None = None
    version: str | None = None
    model: str | None = None
    python: str
    """The interpreter workers run under."""
    python_version: str
    spec_hash: str | None = None
    path: str | None = None
    build_log: str | None = None
    build_seconds: float = 0.0
    """Time spent building for this request: 0 when the cached environment was reused."""
    reused: bool = False
    built_at: datetime | None = None
    requirements: list[str] = Field(default_factory=list)
    note: str | None = None

    def job_record(self) -> dict[str, Any]:
        """The ``environment`` of ``job show``."""
        return self.model_dump(mode="json", exclude={"requirements"})


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str
    """``X.Y.Z``."""

    @property
    def minor(self) -> tuple[int, int]:
        major, minor = self.version.split(".")[:2]
        return int(major), int(minor)


# -- tools ------------------------------------------------------------------------------------------
def uv_binary() -> str:
    """The ``uv`` executable of the ``uv`` package batchpoint depends on (else one on PATH)."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise EnvironmentBuildFailed(
        "uv is not installed; batchpoint builds environments with it",
        hint="pip install 'uv>=0.4' next to batchpoint",
    )


def _tool_env(run_as: WorkerIdentity | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONHOME")}
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")  # only Pythons already on this machine
    env["UV_NO_PROGRESS"] = "1"
    if run_as is not None:
        env = privileges.user_environment(env, run_as)
        env["UV_CACHE_DIR"] = str(run_as.home / ".cache" / "uv")  # root's cache is not the worker user's
    return env


def _build_user() -> WorkerIdentity | None:
    """Who runs a build's steps (None: this process), from ``BATCHPOINT_ENGINE_WORKER_USER`` as workers do."""
    return privileges.worker_identity(privileges.configured_user())


def host_interpreter() -> Interpreter:
    return Interpreter(sys.executable, platform.python_version())


def probe(python: str) -> str | None:
    """The ``X.Y.Z`` version of an interpreter, or None if it does not run."""
    code = "import platform; print(platform.python_version())"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30, env=_tool_env())
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def _candidates(minor: str, uv: str) -> Iterator[str]:
    """Interpreters that may be Python ``minor`` (``3.12``): uv's choice, PATH, then pyenv's versions."""
    try:
        found = subprocess.run(
            [uv, "python", "find", minor], capture_output=True, text=True, timeout=60, env=_tool_env()
        )
        if found.returncode == 0 and found.stdout.strip():
            yield found.stdout.strip().splitlines()[-1]
    except (OSError, subprocess.SubprocessError):
        pass
    on_path = shutil.which(f"python{minor}")
    if on_path:
        yield on_path
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    for folder in sorted(pyenv.glob(f"{minor}.*"), reverse=True):
        if (folder / "bin" / f"python{minor}").is_file():
            yield str(folder / "bin" / f"python{minor}")


def find_interpreter(requested: str | None, uv: str) -> tuple[Interpreter, str | None]:
    """The interpreter for a requested ``X.Y[.Z]`` and a warning when the host's must do instead."""
    host = host_interpreter()
    if not requested:
        return host, None
    try:
        want = tuple(int(p) for p in str(requested).split(".")[:2])
    except ValueError:
        return host, f"warning: '{requested}' is not a Python version; using the host's Python {host.version}"
    if len(want) < 2 or want == host.minor:
        return host, None
    wanted = f"{want[0]}.{want[1]}"
    if want < RUNTIME_MIN_PYTHON:
        return host, (
            f"warning: Python {requested} was asked for, but batchpoint's worker runtime needs Python "
            f"{RUNTIME_MIN_PYTHON[0]}.{RUNTIME_MIN_PYTHON[1]} or newer; using the host's Python {host.version}"
        )
    for candidate in _candidates(wanted, uv):
        version = probe(candidate)
        if version and Interpreter(candidate, version).minor == want:
            return Interpreter(candidate, version), None
    return host, (
        f"warning: Python {requested} was asked for but none is installed on this machine (and uv does not "
        f"download one); using the host's Python {host.version}"
    )


def spec_hash(interpreter: Interpreter, requirements: list[str]) -> str:
    payload = {
        "builder": BUILDER_VERSION,
        "python": interpreter.version,
        "machine": f"{sys.platform}-{platform.machine()}",
        "requirements": requirements,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def has_module(python: str, module: str) -> bool:
    """Whether ``module`` can be found by ``python`` (without importing it)."""
    if os.path.abspath(python) == os.path.abspath(sys.executable):  # not realpath: a venv links to its base
        import importlib.util

        return importlib.util.find_spec(module) is not None
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 3)"
    # A built environment's interpreter runs its packages' .pth files at start: not as root.
    run_as = _build_user()
    options = {"cwd": "/", **run_as.popen_options()} if run_as is not None else {}
    try:
        return subprocess.run([python, "-c", code], capture_output=True, timeout=60, **options).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class _StepFailed(Exception):
    def __init__(self, command: list[str], tail: str) -> None:
        super().__init__(tail)
        self.command = command
        self.tail = tail


# -- the builder --------------------------------------------------------------------------------------
class EnvironmentBuilder:
    """Builds and caches environments under ``<cache>/envs``."""

    def __init__(self, cache: Path) -> None:
        self.root = Path(cache) / "envs"

    def build(self, request: EnvironmentRequest, *, force: bool = False) -> EnvironmentBuild:
        """The environment for ``request``: reused when built before, else built now (once, under a lock)."""
        if request.kind == "current":
            host = host_interpreter()
            return EnvironmentBuild(
                kind="current", name=request.name, version=request.version, python=host.path,
                python_version=host.version, note=_note(["batchpoint's own interpreter", *request.notes]),
            )  # fmt: skip
        uv = uv_binary()
        interpreter, warning = find_interpreter(request.python_version, uv)
        notes = [*request.notes, *([warning] if warning else [])]
        digest = spec_hash(interpreter, request.requirements)
        folder = self.root / digest
        folder.mkdir(parents=True, exist_ok=True)
        if not force and (folder / "venv" / MARKER).is_file():
            return self._result(request, interpreter, folder, notes, reused=True)
        with _locked(folder / ".lock"):
            if not force and (folder / "venv" / MARKER).is_file():  # built by another job while we waited
                return self._result(request, interpreter, folder, notes, reused=True)
            started = time.monotonic()
            self._build(request, interpreter, folder, notes, uv, digest)
            return self._result(request, interpreter, folder, notes, seconds=time.monotonic() - started)

    def _build(
        self,
        request: EnvironmentRequest,
        interpreter: Interpreter,
        folder: Path,
        notes: list[str],
        uv: str,
        digest: str,
    ) -> None:
        for stale in folder.glob("venv.tmp-*"):  # left by a build that was killed
            shutil.rmtree(stale, ignore_errors=True)
        tmp = folder / f"venv.tmp-{uuid.uuid4().hex[:12]}"
        spec = {
            "spec_hash": digest, "kind": request.kind, "name": request.name, "version": request.version,
            "model": request.model, "python_requested": request.python_version, "python": interpreter.path,
            "python_version": interpreter.version, "requirements": request.requirements, "notes": notes,
        }  # fmt: skip
        (folder / "spec.json").write_text(json.dumps(spec, indent=2) + "\n")
        requirements_file = folder / "requirements.txt"
        requirements_file.write_text("".join(line + "\n" for line in request.requirements))
        reads = [
            Need("uv", Path(uv), "run"),
            Need("the Python interpreter", Path(interpreter.path), "run"),
            Need("the requirements file", requirements_file),
        ]
        run_as = self._builder(tmp, reads)
        log_path = folder / "build.log"
        started = time.monotonic()
        with open(log_path, "w", encoding="utf-8") as log:
            log.write(f"# batchpoint environment build {_now().isoformat()}\n# {request.label}\n")
            log.write(f"# python {interpreter.version} ({interpreter.path})\n")
            for note in notes:
                log.write(f"# {note}\n")
            try:
                _run([uv, "venv", "--relocatable", "--python", interpreter.path, str(tmp)], log, folder, run_as)
                if request.requirements:
                    python = str(tmp / "bin" / "python")
                    command = [
                        uv,
                        "pip",
                        "install",
                        "--python",
                        python,
                        "--compile-bytecode",
                        "-r",
                        str(requirements_file),
                    ]
                    _run(command, log, folder, run_as)
            except _StepFailed as failed:
                log.write(f"# build FAILED after {time.monotonic() - started:.1f} s\n")
                shutil.rmtree(tmp, ignore_errors=True)
                raise EnvironmentBuildFailed(
                    f"{request.label} did not build: '{Path(failed.command[0]).name} {' '.join(failed.command[1:3])}' "
                    f"failed:\n{failed.tail}\n(build log: {log_path})",
                    hint="fix the dependencies, then run the job again (or 'batchpoint environment build')",
                    details={"build_log": str(log_path), "spec_hash": digest},
                ) from None
            seconds = time.monotonic() - started
            marker = {"spec_hash": digest, "built_at": _now().isoformat(), "build_seconds": round(seconds, 3)}
            _place_marker(folder, tmp, json.dumps(marker, indent=2) + "\n")
            _swap_in(tmp, folder / "venv")
            log.write(f"# built in {seconds:.1f} s\n")

    def _builder(self, tmp: Path, reads: list[Need]) -> WorkerIdentity | None:
        """The worker user the build runs as, with the folders it writes made and handed to it (None: this process).

        What it needs is checked first, so that an interpreter or a folder the user cannot reach fails
        the build with a sentence naming it, not with uv's words about a file it could not open.
        """
        run_as = _build_user()
        if run_as is None:
            return None
        run_as = dataclasses.replace(run_as, home=self.root.parent / "build-home" / run_as.name)
        privileges.grant(run_as, tmp, run_as.home)  # uv venv fills the empty folder it is given
        writes = [Need("the environment folder", tmp, "write"), Need("the build's home", run_as.home, "write")]
        privileges.require(run_as, [*reads, *writes])
        return run_as

    def _result(
        self, request: EnvironmentRequest, interpreter: Interpreter, folder: Path, notes: list[str], *,
        reused: bool = False, seconds: float = 0.0,
    ) -> EnvironmentBuild:  # fmt: skip
        venv = folder / "venv"
        try:
            marker = json.loads((venv / MARKER).read_text())
        except (OSError, ValueError):
            marker = {}
        return EnvironmentBuild(
            kind=request.kind, name=request.name, version=request.version, model=request.model,
            python=str(venv / "bin" / "python"), python_version=interpreter.version, spec_hash=folder.name,
            path=str(venv), build_log=str(folder / "build.log"), build_seconds=0.0 if reused else round(seconds, 3),
            reused=reused, built_at=marker.get("built_at"), requirements=request.requirements, note=_note(notes),
        )  # fmt: skip


def _run(command: list[str], log: IO[str], cwd: Path, run_as: WorkerIdentity | None = None) -> None:
    log.write(f"$ {shlex.join(command)}\n")
    log.flush()
    start = log.tell()
    # Environments are shared by every job that needs them: readable by all, whoever built them.
    options: dict[str, Any] = {**run_as.popen_options(), "umask": 0o022} if run_as is not None else {}
    try:
        proc = subprocess.run(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=_tool_env(run_as), check=False, **options
        )
        code = proc.returncode
    except OSError as exc:
        log.write(f"{exc}\n")
        code = -1
    log.flush()
    if code != 0:
        with open(log.name, encoding="utf-8", errors="replace") as fh:
            fh.seek(start)
            lines = [line.rstrip() for line in fh.read().splitlines() if line.strip()]
        raise _StepFailed(command, "\n".join(lines[-_ERROR_TAIL_LINES:]) or f"exit status {code}")


def _place_marker(folder: Path, venv: Path, text: str) -> None:
    """Write the build marker into ``venv`` by renaming it in: the venv may be the worker user's, and a
    rename replaces a link planted under that name where an ``open`` would follow it."""
    staged = folder / f".{MARKER}.{uuid.uuid4().hex[:12]}"
    staged.write_text(text)
    os.replace(staged, venv / MARKER)


def _swap_in(tmp: Path, target: Path) -> None:
    """Rename the finished environment into place (an existing one, on a forced rebuild, is replaced)."""
    if target.exists():
        old = target.with_name(f"venv.old-{uuid.uuid4().hex[:12]}")
        os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, target)


def _note(notes: list[str]) -> str | None:
    return "; ".join(notes) if notes else None


def _now() -> datetime:
    return datetime.now(UTC)


# -- registered environments ----------------------------------------------------------------------------
def build_registered(ctx: Services, environment: Environment, *, force: bool = False) -> EnvironmentBuild:
    """Build (or find in the cache) a registered environment, as ``batchpoint environment build`` does."""
    return EnvironmentBuilder(ctx.layout.cache).build(from_registered(environment), force=force)
