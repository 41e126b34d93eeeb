"""A light read path for ``batchpoint job show`` on an embedded workspace with its SQLite database.

Polling loops (``while ...; do batchpoint job show -n JOB --query status -o tsv; sleep 10; done``)
call ``job show`` over and over, on the machine the job runs on. The full path opens the workspace
through the services: SQLAlchemy's ORM, pydantic-settings and the services' modules, about half a
second of imports, a core busy for every call. This one reads the job's row with the standard
library's ``sqlite3``, read-only, and builds the ``Job`` with the same function as the services
(``jobs/views.py: to_job``), so both print the same.

It answers only where it would read what the full path reads; otherwise ``get_job`` returns None and
the caller takes the full path (which also reports every error: no workspace, no such job, ...):

* the target is the embedded workspace: no ``BATCHPOINT_SERVER`` and no saved login unless a
  workspace is named (``--workspace``, ``BATCHPOINT_WORKSPACE``), the order of ``client._server_of``;
* its database is the default SQLite file inside it (no ``BATCHPOINT_DATABASE_URL``), at the schema
  revision of this batchpoint (an older one is migrated by the full path first);
* the settings ``job show`` uses are plain: ``BATCHPOINT_ENGINE_DRIVER_STALE_SECONDS`` (when a driver
  counts as lost) is unset or a positive decimal number, and there is no ``BATCHPOINT_ENGINE`` (JSON)
  and no lower-case ``batchpoint_*`` variable (pydantic-settings reads names in any case).

Settings ``job show`` does not use are not read here, so a malformed one (which every full-path
command refuses) does not stop it.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from batchpoint.jobs.schemas import Job
    from batchpoint.jobs.views import StaleAfter

#: Seconds between two reads of a followed job's row.
FOLLOW_POLL_S = 0.1

#: Seconds a read waits for a lock (a writer checkpointing the WAL); the full path waits as long.
BUSY_TIMEOUT_S = 60.0

# Defaults and names of the settings read here, as ``config.py`` has them (tests/unit/test_cli_imports.py
# checks that they agree with ``Settings()``).
DEFAULT_DRIVER_STALE_SECONDS = 15.0
_STALE_VAR = "BATCHPOINT_ENGINE_DRIVER_STALE_SECONDS"
_FULL_PATH_VARS = ("BATCHPOINT_SERVER", "BATCHPOINT_DATABASE_URL", "BATCHPOINT_ENGINE")


@dataclass(frozen=True)
class Engine:
    """The engine setting the view needs (``views.StaleAfter``)."""

    driver_stale_seconds: float = DEFAULT_DRIVER_STALE_SECONDS


def engine_settings(environ: Mapping[str, str] | None = None) -> Engine | None:
    """The engine settings ``job show`` uses, or None when the environment needs the full path."""
    env = os.environ if environ is None else environ
    names = [key for key in env if key.lower().startswith("batchpoint_")]
    if any(key != key.upper() or key in _FULL_PATH_VARS for key in names):
        return None
    if env.get("BATCHPOINT_WORKSPACE") == "":
        return None  # the settings read it as the current folder, the --workspace option as unset
    text = env.get(_STALE_VAR)
    if text is None:
        return Engine()
    if not text.isascii() or not text.replace(".", "", 1).isdigit():
        return None  # pydantic reads more forms ("1e3", " 15"); those it validates itself
    stale = float(text)
    return Engine(stale) if stale > 0 and math.isfinite(stale) else None


def find_root(explicit: Path | str | None = None) -> Path | None:
    """The workspace root ``find_workspace`` resolves, or None where it would raise."""
    from batchpoint.workspace.layout import locate

    return locate(explicit)


def _saved_server() -> bool | None:
    """Whether ``batchpoint login`` saved a server; None when the file cannot be read (the full path says why)."""
    from batchpoint.client import userconfig
    from batchpoint.errors import BatchpointError

    try:
        return bool(userconfig.load().server)
    except (BatchpointError, OSError):
        return None


def embedded_root(workspace: Path | str | None) -> Path | None:
    """The embedded workspace the CLI would open given ``--workspace`` (or None), if this path can read it.

    As ``Client`` and ``Workspace.open`` resolve it: the named workspace (``--workspace``, else the
    setting ``BATCHPOINT_WORKSPACE``), else, unless ``batchpoint login`` saved a server, the one found
    from the current folder.
    """
    named = workspace if workspace is not None else os.environ.get("BATCHPOINT_WORKSPACE") or None
    if named is None and _saved_server() is not False:
        return None
    return find_root(named)


def connect(database: Path) -> sqlite3.Connection:
    """A read-only connection to a workspace's SQLite file (WAL readers never block its writers)."""
    uri = f"file:{quote(str(database))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only=ON")
    return conn


class JobReader:
    """Reads job rows of one workspace's SQLite database as the ORM would load them (JSON decoded).

    Opened once, for as many reads as wanted (``job show`` reads one row, a follower one per poll).
    """

    def __init__(self, database: Path) -> None:
        self._conn = connect(database)
        columns = self._conn.execute("PRAGMA table_info(jobs)").fetchall()
        self._json = frozenset(name for _cid, name, decltype, *_ in columns if str(decltype).upper() == "JSON")

    def revision(self) -> str | None:
        try:
            row = self._conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else str(row[0])

    def row(self, name: str) -> dict[str, Any] | None:
        cur = self._conn.execute("SELECT * FROM jobs WHERE name = ?", (name,))
        values = cur.fetchone()
        if values is None:
            return None
        names = [d[0] for d in cur.description]
        return {
            key: json.loads(value) if key in self._json and isinstance(value, str | bytes) else value
            for key, value in zip(names, values, strict=True)
        }

    def history(self, job_id: int) -> list[dict[str, Any]]:
        """The job's ``job_events`` rows, oldest first (as ``jobs/lifecycle.py: history`` reads them)."""
        cur = self._conn.execute(
            "SELECT at, actor, action, from_state, to_state, epoch, detail FROM job_events WHERE job_id = ? ORDER BY id",
            (job_id,),
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, values, strict=True)) for values in cur.fetchall()]

    def children(self, name: str) -> list[dict[str, Any]]:
        """A job's child jobs (a pipeline's steps), oldest first, with their specs decoded."""
        cur = self._conn.execute(
            "SELECT name, state, spec, failure_reason FROM jobs WHERE parent_job_name = ? ORDER BY id", (name,)
        )
        return [
            {"name": n, "state": state, "spec": json.loads(spec) if isinstance(spec, str | bytes) else spec,
             "failure_reason": reason}
            for n, state, spec, reason in cur.fetchall()
        ]  # fmt: skip

    def close(self) -> None:
        self._conn.close()


class Follower:
    """One job's view read again and again over one open connection: what ``job stream`` polls.

    Each poll is one ``SELECT`` of the job's row and ``views.to_job`` (well under a millisecond);
    nothing is imported or opened again. A row that is not there is handed to ``missing`` (the full
    path's ``jobs.get``, which raises ``NotFound`` with its usual message).
    """

    def __init__(
        self, reader: JobReader, jobs_dir: Path, engine: StaleAfter, missing: Callable[[str], Job] | None = None
    ) -> None:
        self.reader = reader
        self.jobs_dir = jobs_dir
        self.engine = engine
        self.missing = missing

    def find(self, name: str) -> Job | None:
        """The job, or None when its row is not there."""
        row = self.reader.row(name)
        if row is None:
            return None
        from batchpoint.jobs.views import to_job

        logs = str(self.jobs_dir / name / "logs")
        children = self.reader.children(name) if row.get("type") == "pipeline" else None
        return to_job(row, self.engine, logs, history=self.reader.history(row["id"]), children=children)

    def get(self, name: str) -> Job:
        job = self.find(name)
        if job is not None:
            return job
        if self.missing is None:
            from batchpoint.errors import NotFound

            raise NotFound(f"job '{name}' does not exist", field="name")
        return self.missing(name)

    def wait(self, name: str, *, timeout: float | None = None, on_update: Callable[[Job], None] | None = None) -> Job:
        """Poll until the job ends, as ``jobs.wait`` does (``jobs/waiting.py``)."""
        from batchpoint.jobs.waiting import wait_for_job

        # A poll here is one indexed SELECT (well under a millisecond): poll often, so that a command
        # following a job (``invoke --stream``) returns within a tenth of a second of its end.
        return wait_for_job(self.get, name, timeout=timeout, poll=FOLLOW_POLL_S, on_update=on_update)

    def close(self) -> None:
        self.reader.close()


def follower(workspace: Path | str | None, missing: Callable[[str], Job] | None = None) -> Follower | None:
    """A ``Follower`` on the embedded workspace the CLI would open, or None where the full path must answer."""
    engine = engine_settings()
    if engine is None:
        return None
    from batchpoint.store.migrate import head_revision
    from batchpoint.workspace.layout import WorkspaceLayout

    root = embedded_root(workspace)
    layout = WorkspaceLayout(root) if root is not None else None
    if layout is None or not layout.database.is_file():
        return None
    try:
        reader = JobReader(layout.database)
    except sqlite3.Error:
        return None
    try:
        if reader.revision() == head_revision():
            return Follower(reader, layout.jobs, engine, missing)
    except sqlite3.Error:
        pass
    reader.close()  # a schema to migrate first: the full path does that
    return None


def get_job(workspace: Path | str | None, name: str) -> Job | None:
    """The job as ``client.jobs.get(name)`` returns it, or None where the full path must answer.

    None also when there is no such job: the full path reports it, with its usual message.
    """
    follow = follower(workspace)
    if follow is None:
        return None
    try:
        job = follow.find(name)
    except sqlite3.Error:
        return None
    finally:
        follow.close()
    if job is not None and job.run_id:
        from batchpoint.runs.quickread import run_data

        found = run_data(follow.jobs_dir.parent / "tracking.db", job.run_id)
        if found is None:
            return None  # the full path reads it (and says why it cannot)
        job.metrics, job.params = found
    return job
