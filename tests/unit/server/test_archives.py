"""Unpacking archives: the root member of ``tar -C dir .`` is accepted, every unsafe member is still refused."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path
from typing import Literal

import pytest

from batchpoint.artifacts import archives
from batchpoint.errors import PayloadTooLarge, UnsafePath

LIMITS = archives.Limits(max_members=100, max_bytes=1024 * 1024)


def _source_folder(root: Path) -> Path:
    folder = root / "src"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("key,x\na,1\n")
    (folder / "sub" / "b.csv").write_text("key,x\nb,2\n")
    return folder


def _tar_like_tar_c_dot(folder: Path, out: Path, mode: Literal["w", "w:gz"] = "w:gz") -> list[str]:
    """What ``tar -C folder -czf out .`` writes: ``.`` first, then ``./a.csv``, ``./sub``, ``./sub/b.csv``."""
    with tarfile.open(out, mode) as tar:
        tar.add(folder, arcname=".")
        return tar.getnames()


def _tar(out: Path, members: list[tuple[str, bytes, bytes | None]]) -> Path:
    """(name, tar type, content) members written as they are, without tarfile's own normalisation."""
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.size = len(data) if data is not None else 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_a_tar_made_with_tar_c_dir_dot_unpacks(tmp_path: Path, mode: Literal["w", "w:gz"]) -> None:
    names = _tar_like_tar_c_dot(_source_folder(tmp_path), tmp_path / "x.tar", mode)
    assert names[0] == "." and "./a.csv" in names and "./sub/b.csv" in names
    dest = tmp_path / "out"
    result = archives.extract(tmp_path / "x.tar", dest, "application/x-tar", LIMITS)
    assert _files(dest) == {"a.csv": "key,x\na,1\n", "sub/b.csv": "key,x\nb,2\n"}
    assert result.files == 2


@pytest.mark.parametrize("root", [".", "./", "././"])
def test_every_spelling_of_the_root_folder_is_skipped(tmp_path: Path, root: str) -> None:
    archive = _tar(tmp_path / "x.tar", [(root, tarfile.DIRTYPE, None), ("./a.csv", tarfile.REGTYPE, b"1")])
    archives.extract(archive, tmp_path / "out", "application/x-tar", LIMITS)
    assert _files(tmp_path / "out") == {"a.csv": "1"}


def test_a_zip_with_a_root_folder_entry_unpacks(tmp_path: Path) -> None:
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("./", b"")
        zf.writestr("./sub/", b"")
        zf.writestr("./sub/b.csv", b"2")
    archives.extract(archive, tmp_path / "out", "application/zip", LIMITS)
    assert _files(tmp_path / "out") == {"sub/b.csv": "2"}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("./", tarfile.REGTYPE),  # a file, not a folder: no name to write it to
        (".", tarfile.SYMTYPE),
        (".", tarfile.CHRTYPE),
        ("..", tarfile.DIRTYPE),
        ("./..", tarfile.DIRTYPE),
        ("./../evil.py", tarfile.REGTYPE),
        ("./a/../../evil.py", tarfile.REGTYPE),
        ("/", tarfile.DIRTYPE),
        ("/etc/evil", tarfile.REGTYPE),
        (".\\", tarfile.DIRTYPE),
        ("．/..", tarfile.DIRTYPE),
        ("./link", tarfile.SYMTYPE),
    ],
)
def test_unsafe_members_are_still_refused(tmp_path: Path, name: str, kind: bytes) -> None:
    data = b"x" if kind == tarfile.REGTYPE else None
    archive = _tar(tmp_path / "x.tar", [(".", tarfile.DIRTYPE, None), (name, kind, data)])
    with pytest.raises(UnsafePath):
        archives.extract(archive, tmp_path / "out", "application/x-tar", LIMITS)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil.py").exists()


def test_the_root_member_still_counts_against_the_member_cap(tmp_path: Path) -> None:
    members: list[tuple[str, bytes, bytes | None]] = [(".", tarfile.DIRTYPE, None)] * 3
    members.append(("./a.csv", tarfile.REGTYPE, b"1"))
    archive = _tar(tmp_path / "x.tar", members)
    with pytest.raises(PayloadTooLarge, match="more than 3 members"):
        archives.extract(archive, tmp_path / "out", "application/x-tar", archives.Limits(3, 1024))


@pytest.mark.parametrize(("name", "expected"), [(".", True), ("./", True), ("././", True), ("", False),
                                                ("/", False), ("..", False), ("./a", False), (".\\", False)])  # fmt: skip
def test_is_root_folder(name: str, expected: bool) -> None:
    assert archives.is_root_folder(name) is expected
