"""Git facts of a job's code folder (commit, branch, remote, dirty), as MLflow's ``mlflow.source.git.*`` tags.

A few ``git`` subprocesses with a short timeout each, run when a job is created; nothing when the
folder is not in a work tree, ``git`` is missing or slow: a job never fails for its git info.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

TIMEOUT_S = 2.0
COMMIT, BRANCH, REPO_URL = "mlflow.source.git.commit", "mlflow.source.git.branch", "mlflow.source.git.repoURL"
DIRTY = "batchpoint.git.dirty"


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("git info of %s not taken: %s", folder, exc)
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _in_work_tree(folder: Path) -> bool:
    """A ``.git`` in the folder or above: most job folders are not in one, and this spares them a subprocess."""
    if not folder.is_dir():
        return False
    here = folder.resolve()
    return any((candidate / ".git").exists() for candidate in (here, *here.parents))


def git_tags(folder: Path | None) -> dict[str, str]:
    """The MLflow git tags of the work tree ``folder`` is in; empty when there is none."""
    if folder is None or not _in_work_tree(folder) or shutil.which("git") is None:
        return {}
    heads = (_git(folder, "rev-parse", "HEAD", "--abbrev-ref", "HEAD") or "").split()
    if len(heads) != 2:
        return {}  # not a work tree after all, or a repository without a commit
    commit, branch = heads
    tags = {COMMIT: commit}
    if branch != "HEAD":  # "HEAD": a detached head has no branch
        tags[BRANCH] = branch
    remote = _git(folder, "config", "--get", "remote.origin.url")
    if remote:
        tags[REPO_URL] = remote
    # Only the files under the code folder count, as only they are in the job's snapshot.
    status = _git(folder, "status", "--porcelain", "--untracked-files=normal", "--", ".")
    if status is not None:
        tags[DIRTY] = "true" if status else "false"
    return tags
