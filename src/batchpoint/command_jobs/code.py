"""A command job's code snapshot, taken when the job is created: the folder as it is then, less what it ignores.

As Azure ML does, a ``.amlignore`` at the top of the code folder lists what to leave out, else its
``.gitignore`` (both in gitignore syntax: ``*``, ``?``, ``**``, ``[...]``, a leading ``/`` anchors,
a trailing ``/`` names folders only, ``!`` re-includes; the last matching line decides, and nothing
under an ignored folder comes back). Only the top-level file is read, not ignore files of subfolders.
The workspace folder (``.batchpoint``), ``.git`` and ``__pycache__`` are always left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from batchpoint.artifacts.store import IGNORED_NAMES, IGNORED_SUFFIXES, ArtifactStore, Manifest, ManifestEntry
from batchpoint.errors import InvalidInput

IGNORE_FILES = (".amlignore", ".gitignore")


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    negate: bool
    folders_only: bool


def _translate(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and "]" in glob[i + 1 :]:
            end = glob.index("]", i + 1)
            body = glob[i + 1 : end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def parse_rules(text: str) -> list[_Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:] if negate else line
        line = line.removeprefix("\\")
        folders_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        prefix = "" if anchored else "(?:.*/)?"
        rules.append(_Rule(re.compile(f"^{prefix}{_translate(line)}$"), negate, folders_only))
    return rules


def ignored(rules: list[_Rule], rel: str, is_dir: bool) -> bool:
    verdict = False
    for rule in rules:
        if rule.folders_only and not is_dir:
            continue
        if rule.pattern.match(rel):
            verdict = not rule.negate
    return verdict


def ignore_rules(folder: Path) -> tuple[str | None, list[_Rule]]:
    """(the ignore file used, its rules): ``.amlignore`` first, else ``.gitignore``."""
    for name in IGNORE_FILES:
        path = folder / name
        if path.is_file():
            return name, parse_rules(path.read_text(encoding="utf-8", errors="replace"))
    return None, []


def take(store: ArtifactStore, folder: Path, *, exclude: Path, field: str = "code", file: str | None = None) -> str:
    """Store the code folder (or a lone file) without what it ignores; the manifest sha."""
    folder = folder.resolve()
    if not folder.exists():
        raise InvalidInput(f"code folder '{folder}' does not exist", field=field, file=file)
    if folder.is_file():
        return store.put_tree(folder)[0]
    if folder == exclude.resolve():
        raise InvalidInput(f"'{folder}' is the workspace folder itself", field=field, file=file)
    _, rules = ignore_rules(folder)
    entries: list[ManifestEntry] = []
    try:
        _collect(store, folder, folder, rules, exclude.resolve(), entries)
    except InvalidInput as exc:
        exc.field, exc.file = field, file
        raise
    manifest = Manifest(name=folder.name, kind="dir", entries=sorted(entries, key=lambda e: e.path))
    return store.put_manifest(manifest)


def _collect(
    store: ArtifactStore, root: Path, folder: Path, rules: list[_Rule], exclude: Path, entries: list[ManifestEntry]
) -> None:
    for child in sorted(folder.iterdir()):
        if child == exclude or child.name in IGNORED_NAMES or child.name.endswith(IGNORED_SUFFIXES):
            continue
        rel = child.relative_to(root).as_posix()
        is_dir = child.is_dir()
        if ignored(rules, rel, is_dir):
            continue
        if child.is_symlink():
            target = child.resolve()
            if is_dir or root not in target.parents:
                raise InvalidInput(f"'{child}' is a link to a folder or out of the code folder; copy it instead")
        if is_dir:
            _collect(store, root, child, rules, exclude, entries)
        elif child.is_file():
            _, single = store.put_tree(child)
            entries.append(single.entries[0].model_copy(update={"path": rel}))
