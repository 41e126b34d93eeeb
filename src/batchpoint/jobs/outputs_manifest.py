"""The files a job wrote into its output folder, recorded when it completes.

A job's output folder is new or empty when the job starts (``jobs/invoke.py``), and at the end
the driver lists what is in it: regular files only, never links. Downloads hand out exactly
those files, so an output path that names a shared folder can never be used to read what others
put there later, and a link planted in the folder leads nowhere.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import IO

from batchpoint.jobs.schemas import JobOutput

MANIFEST = "output-manifest.json"


def list_files(output_dir: Path) -> list[str]:
    """The regular files under ``output_dir`` (relative POSIX paths, sorted), links left out."""
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(output_dir, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_file() and not full.is_symlink():
                files.append(full.relative_to(output_dir).as_posix())
    return files


def write(job_dir: Path, output_dir: Path) -> list[str]:
    """List the regular files under ``output_dir`` (relative POSIX paths) into the job's manifest."""
    files = list_files(output_dir)
    _write(job_dir, {"output": str(output_dir), "files": files})
    return files


def write_outputs(job_dir: Path, outputs: dict[str, list[str]]) -> None:
    """The manifest of a job with several output folders (a command job): folder → its files."""
    _write(job_dir, {"outputs": outputs})


def _write(job_dir: Path, data: dict[str, object]) -> None:
    tmp = job_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, job_dir / MANIFEST)


def read(job_dir: Path, output_dir: Path | None = None) -> list[str] | None:
    """The files the job wrote (into ``output_dir``, for a job with several), or None when it has not
    completed (or predates manifests)."""
    try:
        data = json.loads((job_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    by_folder = data.get("outputs")
    files = by_folder.get(str(output_dir)) if isinstance(by_folder, dict) else data.get("files")
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else None


def open_inside(root: Path, path: Path) -> IO[bytes] | None:
    """Open ``path`` for reading only if it is, once opened, a regular file inside ``root``.

    The last component is opened without following a link, and the opened file's real path is read
    back from ``/proc/self/fd``: a file or folder swapped for a link after ``written_files`` looked at
    it (by a process still running as the worker user, say) can then not make a download read a
    file elsewhere.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        real = Path(os.readlink(f"/proc/self/fd/{fd}")) if os.path.exists("/proc/self/fd") else path.resolve()
        if not stat.S_ISREG(os.fstat(fd).st_mode) or root.resolve() not in real.parents:
            os.close(fd)
            return None
    except OSError:
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def written_files(job_dir: Path, output_dir: Path, fallback: str | None = None) -> list[tuple[str, Path]]:
    """``(relative name, path)`` of the job's output files that are still regular files inside ``output_dir``.

    ``fallback``: the output file name to offer when there is no manifest (a job completed before
    manifests existed).
    """
    names = read(job_dir, output_dir)
    if names is None:
        names = [fallback] if fallback else []
    root = output_dir.resolve()
    found = []
    for rel in names:
        path = output_dir / rel
        if ".." in Path(rel).parts or path.is_symlink() or not path.is_file():
            continue
        resolved = path.resolve()
        if root in resolved.parents:
            found.append((rel, path))
    return found


def job_files(job_dir: Path, output: JobOutput, completed: bool) -> list[tuple[str, Path]]:
    """The files of one job output to hand out; a completed job from before manifests offers its output file."""
    fallback = Path(output.file).name if output.file and completed else None
    return written_files(job_dir, Path(output.path), fallback)
