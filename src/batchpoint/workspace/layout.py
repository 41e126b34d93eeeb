"""Where everything lives inside a workspace folder.

.batchpoint/
  workspace.json                 id, format version, creation time
  metadata.db                    SQLite metadata (WAL mode) unless BATCHPOINT_DATABASE_URL is set
  artifacts/blobs/sha256/ab/...  content-addressed file blobs (read-only)
  artifacts/manifests/<sha>.json tree manifests: relative path -> blob, mode
  datastores/workspaceblobstore/ the default datastore (a local folder)
  jobs/<job-name>/               plan, part files, logs/ and outputs/ of one job
  cache/                         materialised models and code snapshots, built environments
  state/supervisor/              the workspace's supervisor: lock, pid, status.json, log (docs/supervisor.md)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DIRNAME = ".batchpoint"
DEFAULT_DATASTORE = "workspaceblobstore"
INFO_FILE = "workspace.json"


def as_root(path: Path) -> Path | None:
    """The ``.batchpoint`` folder for ``path`` if ``path`` is one or contains one."""
    if path.name == DIRNAME and (path / INFO_FILE).is_file():
        return path
    candidate = path / DIRNAME
    return candidate if (candidate / INFO_FILE).is_file() else None


def locate(explicit: Path | str | None = None, *, start: Path | None = None) -> Path | None:
    """The workspace root: at ``explicit`` when given, else the nearest one up from ``start`` (the cwd); None if none."""
    if explicit:
        return as_root(Path(explicit).expanduser().resolve())
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        root = as_root(folder)
        if root is not None:
            return root
    return None


@dataclass(frozen=True)
class WorkspaceLayout:
    """Paths of one workspace; ``root`` is the ``.batchpoint`` folder itself."""

    root: Path

    @property
    def info_file(self) -> Path:
        return self.root / INFO_FILE

    @property
    def database(self) -> Path:
        return self.root / "metadata.db"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def datastores(self) -> Path:
        return self.root / "datastores"

    @property
    def default_datastore(self) -> Path:
        return self.datastores / DEFAULT_DATASTORE

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def state(self) -> Path:
        """Runtime state of the workspace's long-running processes (created by them, not by ``init``)."""
        return self.root / "state"

    @property
    def supervisor(self) -> Path:
        """The supervisor's files; ``batchpoint.supervisor.files`` names them (and finds them without this class)."""
        return self.state / "supervisor"

    def job_dir(self, job_name: str) -> Path:
        return self.jobs / job_name

    def folders(self) -> list[Path]:
        return [self.artifacts, self.default_datastore, self.jobs, self.cache]
