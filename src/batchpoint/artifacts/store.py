"""Content-addressed artifact store.

A file or folder is stored as blobs named by the sha256 of their content plus a *manifest* (a JSON
list of relative paths, blob hashes, sizes and executable bits) named by the sha256 of its own
canonical JSON. Identical content is stored once; a manifest id pins a tree forever.

Materialising a manifest hard-links its blobs (read-only) into a folder, so a model or a code
snapshot appears in place without copying; ``export`` copies instead, for downloads.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from pydantic import BaseModel

from batchpoint.errors import InvalidInput, NotFound

_CHUNK = 1024 * 1024
IGNORED_NAMES = frozenset({"__pycache__", ".git", ".ipynb_checkpoints", ".DS_Store", ".batchpoint"})
IGNORED_SUFFIXES = (".pyc", ".pyo")


class ManifestEntry(BaseModel):
    path: str
    sha256: str
    size: int
    executable: bool = False


class Manifest(BaseModel):
    """A stored tree; ``name`` is the base name of what was registered (a file or a folder)."""

    name: str
    kind: str  # "file" or "dir"
    entries: list[ManifestEntry]

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    def digest(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    def canonical(self) -> bytes:
        return json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":")).encode()


def _iter_files(src: Path) -> list[tuple[str, Path]]:
    """(relative posix path, absolute path) for every file under ``src``, sorted, links checked."""
    root = src.resolve()
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_NAMES)
        for dname in dirnames:
            full = Path(dirpath) / dname
            if full.is_symlink():
                raise InvalidInput(f"'{full}' is a symbolic link to a folder; copy the folder instead", field="path")
        for fname in sorted(filenames):
            if fname in IGNORED_NAMES or fname.endswith(IGNORED_SUFFIXES):
                continue
            full = Path(dirpath) / fname
            target = full.resolve()
            if root not in target.parents:
                raise InvalidInput(f"'{full}' links outside '{root}'", field="path")
            if not target.is_file():
                raise InvalidInput(f"'{full}' is not a regular file", field="path")
            found.append((full.relative_to(root).as_posix(), target))
    return found


class ArtifactStore:
    """Blobs and manifests under ``root`` (the workspace's ``artifacts`` folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.manifests = root / "manifests"

    # -- writing -----------------------------------------------------------------------------------
    def put_tree(self, src: Path) -> tuple[str, Manifest]:
        """Store a file or folder; returns (manifest id, manifest)."""
        src = Path(src)
        if not src.exists():
            raise InvalidInput(f"path '{src}' does not exist", field="path")
        if src.is_file():
            entries = [self._entry(src.name, src)]
            manifest = Manifest(name=src.name, kind="file", entries=entries)
        else:
            entries = [self._entry(rel, full) for rel, full in _iter_files(src)]
            manifest = Manifest(name=src.resolve().name, kind="dir", entries=entries)
        return self.put_manifest(manifest), manifest

    def put_manifest(self, manifest: Manifest) -> str:
        digest = manifest.digest()
        target = self.manifests / f"{digest}.json"
        if not target.exists():
            self.manifests.mkdir(parents=True, exist_ok=True)
            self._atomic_write(target, manifest.canonical())
        return digest

    def put_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        blob = self._blob_path(digest)
        if not blob.exists():
            blob.parent.mkdir(parents=True, exist_ok=True)
            self._atomic_write(blob, data, readonly=True)
        return digest

    def _entry(self, rel: str, full: Path) -> ManifestEntry:
        digest, size = self._put_file(full)
        executable = bool(full.stat().st_mode & stat.S_IXUSR)
        return ManifestEntry(path=rel, sha256=digest, size=size, executable=executable)

    def _put_file(self, path: Path) -> tuple[str, int]:
        self.blobs.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.blobs, prefix=".incoming-")
        hasher = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                while chunk := src.read(_CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            digest = hasher.hexdigest()
            blob = self._blob_path(digest)
            if blob.exists():
                os.unlink(tmp_name)
            else:
                blob.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp_name, 0o444)
                os.replace(tmp_name, blob)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
        return digest, size

    @staticmethod
    def _atomic_write(target: Path, data: bytes, *, readonly: bool = False) -> None:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        if readonly:
            os.chmod(tmp_name, 0o444)
        os.replace(tmp_name, target)

    # -- reading -----------------------------------------------------------------------------------
    def _blob_path(self, digest: str) -> Path:
        return self.blobs / digest[:2] / digest

    def read_entry(self, entry: ManifestEntry) -> bytes:
        """The stored bytes of one file of a manifest."""
        blob = self._blob_path(entry.sha256)
        if not blob.is_file():
            raise NotFound(f"blob {entry.sha256} for '{entry.path}' is missing from the artifact store")
        return blob.read_bytes()

    def manifest(self, digest: str) -> Manifest:
        path = self.manifests / f"{digest}.json"
        if not path.is_file():
            raise NotFound(f"artifact manifest {digest} is missing from the artifact store")
        return Manifest.model_validate_json(path.read_bytes())

    def materialise(self, digest: str, dest_parent: Path) -> Path:
        """Make the tree appear under ``dest_parent/<name>`` (hard links, read-only); idempotent.

        Returns the path of the materialised file or folder. Built in a temporary folder and renamed
        into place, so a concurrent reader never sees half a tree.
        """
        manifest = self.manifest(digest)
        final = dest_parent / manifest.name
        if final.exists():
            return final
        dest_parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=dest_parent, prefix=".staging-"))
        try:
            self._populate(manifest, staging / manifest.name, link=True)
            try:
                os.rename(staging / manifest.name, final)
            except OSError:
                if not final.exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return final

    def export(self, digest: str, dest_parent: Path) -> Path:
        """Copy the tree to ``dest_parent/<name>`` as ordinary writable files."""
        manifest = self.manifest(digest)
        final = dest_parent / manifest.name
        self._populate(manifest, final, link=False)
        return final

    def _populate(self, manifest: Manifest, target: Path, *, link: bool) -> None:
        if manifest.kind == "file":
            self._place(manifest.entries[0], target, link=link)
            return
        target.mkdir(parents=True, exist_ok=True)
        for entry in manifest.entries:
            self._place(entry, target / entry.path, link=link)

    def _place(self, entry: ManifestEntry, target: Path, *, link: bool) -> None:
        blob = self._blob_path(entry.sha256)
        if not blob.is_file():
            raise NotFound(f"blob {entry.sha256} for '{entry.path}' is missing from the artifact store")
        target.parent.mkdir(parents=True, exist_ok=True)
        if link:
            try:
                os.link(blob, target)
                return
            except OSError:
                pass
        shutil.copyfile(blob, target)
        mode = 0o755 if entry.executable else 0o644
        os.chmod(target, mode if not link else mode & 0o555)
