"""Snapshots of code and pipeline folders taken when a deployment is created or updated.

A deployment pins its code as a content-addressed manifest (``snapshot:<sha>``), so editing the
folder afterwards changes nothing until ``update``. People often keep their workspace
(``.batchpoint``) inside the very folder they deploy from (``batchpoint init`` in the example's
folder, then ``component: pipeline.yml``); that folder is left out of the snapshot here so a
deployment never copies the workspace into itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from batchpoint.artifacts.store import IGNORED_NAMES, IGNORED_SUFFIXES, ArtifactStore, Manifest, ManifestEntry
from batchpoint.errors import InvalidInput, NotFound

PREFIX = "snapshot:"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def is_snapshot(value: str) -> bool:
    return value.startswith(PREFIX)


def take(store: ArtifactStore, src: Path, *, exclude: Path, field: str, file: str | None) -> tuple[str, Manifest]:
    """Store the folder ``src`` (without ``exclude`` if it lies inside); errors name ``field``."""
    src = src.resolve()
    exclude = exclude.resolve()
    try:
        if exclude == src:
            raise InvalidInput(f"'{src}' is the workspace folder itself", field=field, file=file)
        if src not in exclude.parents:
            return store.put_tree(src)
        entries = sorted(_entries_without(store, src, src, exclude), key=lambda e: e.path)
        manifest = Manifest(name=src.name, kind="dir", entries=entries)
        return store.put_manifest(manifest), manifest
    except InvalidInput as exc:
        exc.field, exc.file = field, file
        raise


def _entries_without(store: ArtifactStore, root: Path, folder: Path, exclude: Path) -> list[ManifestEntry]:
    entries: list[ManifestEntry] = []
    for child in sorted(folder.iterdir()):
        if child == exclude or child.name in IGNORED_NAMES or child.name.endswith(IGNORED_SUFFIXES):
            continue
        if child.is_symlink() and root not in child.resolve().parents:
            raise InvalidInput(f"'{child}' links outside '{root}'")
        rel = child.relative_to(root).as_posix()
        if child.is_dir() and child in exclude.parents:
            entries.extend(_entries_without(store, root, child, exclude))
            continue
        _, sub = store.put_tree(child)
        if sub.kind == "file":
            entries.append(sub.entries[0].model_copy(update={"path": rel}))
        else:
            entries.extend(e.model_copy(update={"path": f"{rel}/{e.path}"}) for e in sub.entries)
    return entries


def existing(store: ArtifactStore, value: str, *, field: str, file: str | None) -> tuple[str, Manifest]:
    """``snapshot:<sha>`` (as stored on a deployment) back to its manifest; a missing one is an input error."""
    digest = value[len(PREFIX) :].split("/", 1)[0]
    try:
        if not _DIGEST.match(digest):
            raise ValueError(digest)
        return digest, store.manifest(digest)
    except (NotFound, ValueError):
        raise InvalidInput(f"'{value}' is not a snapshot in this workspace", field=field, file=file) from None


def contains(manifest: Manifest, relative: str) -> bool:
    return any(entry.path == relative for entry in manifest.entries)
