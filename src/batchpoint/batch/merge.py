"""Publish the append_row output: merge committed part files in mini-batch order, atomically.

The merged file is written under a temporary name and fsynced (``stage_parts``, which also hashes
it); the driver records the staged file's size and hash on the job (the point of no return, see
``jobs/lifecycle.py``); then the file is *linked* to its final name (``link_staged``: ``os.link``
fails if the name exists, so an output is never overwritten, even by a race), the temporary name is
removed and the folder fsynced; only then is the job Completed. Readers see no file or the whole
file, and a driver that resumes after a crash finds the file matching the record (``check_published``)
and completes without scoring again.

Part files are written by workers, which run user code (as an unprivileged user when batchpoint
runs as root), so the driver never follows a link there: a part is opened with ``O_NOFOLLOW`` and
must be a regular file, and the temporary file is created with ``O_EXCL | O_NOFOLLOW``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchpoint.common.processes import pid_alive
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


@dataclass(frozen=True)
class Staged:
    """A merged output written and fsynced under a temporary name, not yet published."""

    tmp: Path
    target: Path
    size: int
    sha256: str

    def record(self) -> dict[str, Any]:
        """What the job records before it links (``jobs.publication``)."""
        return {"file": str(self.target), "size": self.size, "sha256": self.sha256}

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def stage_parts(parts: Iterable[str], target: Path, *, header_enabled: bool = True, owner: int | None = None) -> Staged:
    """Concatenate ``parts`` (paths, in order) into a temporary file beside ``target``, fsynced and hashed.

    The temporary file is named after ``owner``, the process that merges (default: this one), so
    that a later driver knows it for a leftover once that process has ended.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise Conflict(f"output file '{target}' already exists; batchpoint never overwrites an output")
    remove_leftovers(target)
    tmp = target.parent / f".{target.name}.merging-{owner or os.getpid()}"
    digest = hashlib.sha256()
    header_written = False
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(tmp, flags, 0o644), "wb") as out:
            for part in parts:
                with os.fdopen(_open_part(part), "rb") as src:
                    meta = json.loads(src.readline() or b"{}")
                    header = meta.get("header")
                    if header and header_enabled and not header_written:
                        _write(out, digest, (header + "\n").encode())
                        header_written = True
                    while chunk := src.read(1 << 20):
                        _write(out, digest, chunk)
            out.flush()
            os.fsync(out.fileno())
            size = out.tell()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Staged(tmp, target, size, digest.hexdigest())


def _write(out: Any, digest: Any, data: bytes) -> None:
    out.write(data)
    digest.update(data)


def remove_leftovers(target: Path) -> None:
    """Temporary files of earlier drivers of this output that were killed while merging: never published."""
    for stale in target.parent.glob(f".{target.name}.merging-*"):
        pid = stale.name.rsplit("-", 1)[1]
        ended = not pid.isdigit() or int(pid) == os.getpid() or not pid_alive(int(pid))
        if ended and stale.is_file() and not stale.is_symlink():
            stale.unlink(missing_ok=True)


def link_staged(staged: Staged) -> None:
    """Publish: link the staged file to its final name (never over an existing one), then fsync the folder."""
    try:
        os.link(staged.tmp, staged.target)
    except FileExistsError:
        # A driver this one replaced may have published the same output a moment ago: that is this publication.
        if not check_published(staged.record()):
            raise Conflict(
                f"output file '{staged.target}' appeared while the job was merging; not overwritten"
            ) from None
    finally:
        staged.discard()
    _fsync_dir(staged.target.parent)


def check_published(record: dict[str, Any]) -> bool:
    """Whether the recorded output is in place, whole: True; False when it was never linked.

    A file at the name that is not the recorded one is a ``Conflict`` naming both sizes.
    """
    target = Path(record["file"])
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return False
    size = info.st_size if stat.S_ISREG(info.st_mode) else -1
    if size == record["size"] and _sha256(target) == record["sha256"]:
        return True
    raise _mismatch(target, size, record)


def _mismatch(target: Path, size: int, record: dict[str, Any]) -> Conflict:
    what = f"{size} bytes" if size >= 0 else "not a regular file"
    return Conflict(
        f"output file '{target}' is not what this job published: it has {what}, the job published "
        f"{record['size']} bytes (sha256 {record['sha256'][:12]}...); batchpoint never overwrites an output: "
        "move the file away and resume the job"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def merge_parts(parts: Iterable[str], target: Path, *, header_enabled: bool = True) -> int:
    """Stage and link in one go (no record in between); returns the bytes written."""
    staged = stage_parts(parts, target, header_enabled=header_enabled)
    link_staged(staged)
    return staged.size
