"""Publish the append_row output: merge committed part files in mini-batch order, atomically.

The merged file is written under a temporary name, fsynced, then *linked* to its final name
(``os.link`` fails if the name exists, so an output is never overwritten, even by a race), the
temporary name is removed and the folder fsynced. Readers see no file or the whole file.

Part files are written by workers, which run user code (as an unprivileged user when batchpoint
runs as root), so the driver never follows a link there: a part is opened with ``O_NOFOLLOW`` and
must be a regular file, and the temporary file is created with ``O_EXCL | O_NOFOLLOW``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

from batchpoint.errors import Conflict


class PartProblem(Exception):
    """A committed part file is missing or not the size that was committed."""

    def __init__(self, mini_batches: list[int]) -> None:
        super().__init__(f"{len(mini_batches)} part file(s) missing or damaged")
        self.mini_batches = mini_batches


def check_parts(parts: Iterable[tuple[int, str, int | None]]) -> list[int]:
    """Mini-batches whose part file is missing or has the wrong size."""
    bad: list[int] = []
    for idx, path, size in parts:
        try:
            info = os.lstat(path)
        except OSError:
            bad.append(idx)
            continue
        if not stat.S_ISREG(info.st_mode) or (size is not None and info.st_size != size):
            bad.append(idx)
    return bad


def _open_part(path: str) -> int:
    """A part file's descriptor, refusing links and anything but a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PartProblem([])
    return fd


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def merge_parts(parts: Iterable[str], target: Path, *, header_enabled: bool = True) -> int:
    """Concatenate ``parts`` (paths, in order) into ``target``; returns the bytes of rows written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise Conflict(f"output file '{target}' already exists; batchpoint never overwrites an output")
    tmp = target.parent / f".{target.name}.merging-{os.getpid()}"
    written = 0
    header_written = False
    try:
        tmp.unlink(missing_ok=True)  # left by an earlier driver with the same pid
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(tmp, flags, 0o644), "wb") as out:
            for part in parts:
                with os.fdopen(_open_part(part), "rb") as src:
                    meta = json.loads(src.readline() or b"{}")
                    header = meta.get("header")
                    if header and header_enabled and not header_written:
                        out.write((header + "\n").encode())
                        header_written = True
                    before = out.tell()
                    shutil.copyfileobj(src, out, 1 << 20)
                    written += out.tell() - before
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise Conflict(f"output file '{target}' appeared while the job was merging; not overwritten") from None
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return written
