"""Packing folders into tar streams and unpacking untrusted archives safely.

Unpacking never calls ``extractall``: members are read one by one and refused (the whole archive,
and whatever was written of it) when a name is absolute, climbs with ``..`` (also spelled with
backslashes or Unicode look-alikes), repeats an earlier name, or when a member is a link, a
device or a FIFO. Regular files are created with ``O_EXCL | O_NOFOLLOW`` below a folder that only
this code writes to; set-uid bits are dropped. The member count and the total expanded size are
capped (zip sizes are checked in the central directory first and counted again while reading,
since a header can lie). A folder member that names the archive's own root (``.``, as ``tar -C
dir .`` writes first) is skipped, and a leading ``./`` is dropped from names.

No FastAPI here: the SDK unpacks what a server sends with the same code.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from batchpoint.errors import InvalidInput, PayloadTooLarge, UnsafePath

_CHUNK = 1024 * 1024
MAX_NAME = 4096
SKIPPED_NAMES = frozenset({"__pycache__", ".git", ".ipynb_checkpoints", ".DS_Store", ".batchpoint"})


@dataclass(frozen=True)
class Limits:
    max_members: int
    max_bytes: int


@dataclass
class Extracted:
    files: int = 0
    bytes: int = 0


def safe_name(name: str, field: str = "archive") -> str:
    """The relative POSIX path of an archive member, or ``UnsafePath`` naming the member."""
    shown = name[:200]
    if not name or len(name) > MAX_NAME:
        raise UnsafePath(f"archive member name of {len(name)} characters is refused", field=field)
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UnsafePath(f"archive member '{shown!r}' has control characters in its name", field=field)
    folded = unicodedata.normalize("NFKC", name).replace("\\", "/")
    if folded.startswith("/") or name.startswith(("/", "\\")) or (len(folded) > 1 and folded[1] == ":"):
        raise UnsafePath(f"archive member '{shown}' has an absolute path", field=field)
    parts = [p for p in folded.split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafePath(f"archive member '{shown}' has no name", field=field)
    if any(set(p) <= {"."} for p in parts) or any(len(p.encode()) > 255 for p in parts):
        raise UnsafePath(f"archive member '{shown}' climbs out of the archive ('..')", field=field)
    return "/".join(parts)


def is_root_folder(name: str) -> bool:
    """Whether a folder member names the archive's root itself (``.``, ``./``, ``././``).

    ``tar -C dir .`` starts with such a member. It creates nothing, so it is skipped; only a
    folder may be skipped this way (a regular file named ``./`` is still refused by ``safe_name``).
    """
    return bool(name) and not name.startswith(("/", "\\")) and all(p in ("", ".") for p in name.split("/"))


class _Writer:
    """Writes members under ``dest`` with the caps and the duplicate check."""

    def __init__(self, dest: Path, limits: Limits, field: str) -> None:
        self.dest = dest
        self.limits = limits
        self.field = field
        self.seen: set[str] = set()
        self.result = Extracted()
        self.members = 0

    def count(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise PayloadTooLarge(f"archive has more than {self.limits.max_members} members", field=self.field)

    def claim(self, rel: str) -> Path:
        key = unicodedata.normalize("NFC", rel).casefold()
        if key in self.seen:
            raise UnsafePath(f"archive member '{rel[:200]}' appears twice", field=self.field)
        self.seen.add(key)
        return self.dest.joinpath(*rel.split("/"))

    def directory(self, rel: str) -> None:
        target = self.claim(rel)
        target.mkdir(parents=True, exist_ok=True)

    def file(self, rel: str, source: IO[bytes], executable: bool) -> None:
        target = self.claim(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o755 if executable else 0o644)
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(_CHUNK):
                self.result.bytes += len(chunk)
                if self.result.bytes > self.limits.max_bytes:
                    raise PayloadTooLarge(
                        f"archive expands to more than {self.limits.max_bytes} bytes", field=self.field
                    )
                out.write(chunk)
        self.result.files += 1


def extract(archive: Path, dest: Path, media_type: str, limits: Limits, *, field: str = "archive") -> Extracted:
    """Unpack ``archive`` (tar, tar.gz or zip, by ``media_type``) into the new folder ``dest``."""
    dest.mkdir(parents=True, exist_ok=False)
    writer = _Writer(dest, limits, field)
    try:
        if media_type in ("application/zip", "application/x-zip-compressed"):
            _extract_zip(archive, writer)
        else:
            _extract_tar(archive, writer)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return writer.result


def _extract_tar(archive: Path, writer: _Writer) -> None:
    try:
        tar = tarfile.open(archive, mode="r:*")  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidInput(f"not a readable tar archive: {exc}", field=writer.field) from None
    with tar:
        try:
            for member in _members(tar):
                writer.count()
                if member.isdir() and is_root_folder(member.name):
                    continue
                rel = safe_name(member.name, writer.field)
                _data_filter(member, writer)
                if member.isdir():
                    writer.directory(rel)
                elif member.isreg():
                    if member.size > writer.limits.max_bytes - writer.result.bytes:
                        raise PayloadTooLarge(
                            f"archive expands to more than {writer.limits.max_bytes} bytes", field=writer.field
                        )
                    source = tar.extractfile(member)
                    if source is None:
                        raise InvalidInput(f"archive member '{rel}' cannot be read", field=writer.field)
                    with source:
                        writer.file(rel, source, bool(member.mode & stat.S_IXUSR))
                else:
                    kind = "link" if member.issym() or member.islnk() else "device or FIFO"
                    raise UnsafePath(
                        f"archive member '{rel}' is a {kind}; only regular files and folders are accepted",
                        field=writer.field,
                    )
        except (tarfile.TarError, EOFError, OSError) as exc:
            if isinstance(exc, FileExistsError):
                raise UnsafePath(f"archive member collides with another: {exc.filename}", field=writer.field) from None
            raise InvalidInput(f"corrupt tar archive: {exc}", field=writer.field) from None


def _data_filter(member: tarfile.TarInfo, writer: _Writer) -> None:
    """Python's own ``filter="data"`` check as a second gate behind ``safe_name`` and the type checks."""
    try:
        tarfile.data_filter(member, str(writer.dest))
    except tarfile.FilterError as exc:
        raise UnsafePath(f"archive member '{member.name[:200]}' is refused: {exc}", field=writer.field) from None


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while True:
        member = tar.next()
        if member is None:
            return
        yield member


def _extract_zip(archive: Path, writer: _Writer) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(f"not a readable zip archive: {exc}", field=writer.field) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > writer.limits.max_members:
            raise PayloadTooLarge(f"archive has more than {writer.limits.max_members} members", field=writer.field)
        if sum(i.file_size for i in infos) > writer.limits.max_bytes:
            raise PayloadTooLarge(f"archive expands to more than {writer.limits.max_bytes} bytes", field=writer.field)
        try:
            for info in infos:
                writer.count()
                if info.is_dir() and is_root_folder(info.filename):
                    continue
                rel = safe_name(info.filename, writer.field)
                mode = info.external_attr >> 16
                if info.flag_bits & 0x1:
                    raise InvalidInput(f"archive member '{rel}' is encrypted", field=writer.field)
                if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise UnsafePath(
                        f"archive member '{rel}' is a link or a device; only regular files and folders are accepted",
                        field=writer.field,
                    )
                if info.is_dir():
                    writer.directory(rel)
                    continue
                with zf.open(info) as source:
                    writer.file(rel, source, bool(mode & stat.S_IXUSR))
        except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
            if isinstance(exc, FileExistsError):
                raise UnsafePath(f"archive member collides with another: {exc.filename}", field=writer.field) from None
            raise InvalidInput(f"corrupt zip archive: {exc}", field=writer.field) from None


def save_file(source: Path, dest: Path, name: str) -> Extracted:
    """A raw upload (one file) moved to ``dest/name``."""
    dest.mkdir(parents=True, exist_ok=False)
    size = source.stat().st_size
    os.replace(source, dest / name)
    return Extracted(files=1, bytes=size)


# -- packing ------------------------------------------------------------------------------------------
def iter_tree(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative posix path, file) for every regular file under ``root``; links out of it are refused."""
    root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES and not (Path(dirpath) / d).is_symlink())
        for fname in sorted(filenames):
            if fname in SKIPPED_NAMES or fname.endswith((".pyc", ".pyo")):
                continue
            full = Path(dirpath) / fname
            target = full.resolve()
            if root not in target.parents or not target.is_file():
                continue
            yield full.relative_to(root).as_posix(), target


def pack(root: Path, out: IO[bytes], *, compress: bool = True) -> None:
    """Write the folder ``root`` (its content, no top folder) as a tar (gzip-compressed) stream."""
    with tarfile.open(fileobj=out, mode="w:gz" if compress else "w", format=tarfile.PAX_FORMAT) as tar:
        for rel, path in iter_tree(root):
            info = tar.gettarinfo(str(path), arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o755 if info.mode & stat.S_IXUSR else 0o644
            with open(path, "rb") as fh:
                tar.addfile(info, fh)


def pack_files(
    entries: list[tuple[str, Path, bool]],
    out: IO[bytes],
    opener: Callable[[Path], IO[bytes] | None] | None = None,
) -> None:
    """Write ``(archive name, file, executable)`` entries as a tar.gz stream (model and job output downloads).

    ``opener`` opens each file (None: skip it); the size and time come from the open file, so a file
    swapped between the check and the open is packed as what was opened, or not at all.
    """
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for rel, path, executable in entries:
            fh = opener(path) if opener else open(path, "rb")  # noqa: SIM115 - closed below
            if fh is None:
                continue
            with fh:
                stat_result = os.fstat(fh.fileno())
                info = tarfile.TarInfo(rel)
                info.size = stat_result.st_size
                info.mode = 0o755 if executable else 0o644
                info.mtime = int(stat_result.st_mtime)
                tar.addfile(info, fh)
