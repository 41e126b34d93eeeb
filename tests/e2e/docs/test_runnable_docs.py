"""Every code block of the README and docs/ that is marked as runnable runs, exactly as a user types it.

Markers, in a fenced block's info string (GitHub colours the block by the first word and ignores the rest):

- ```` ```bash runnable ````: the block's commands are run with bash;
- ```` ```bash runnable requires=mlflow ````: the same, and the page is skipped when that module (a
  comma-separated list) cannot be imported, for an environment installed without the extra;
- ```` ```yaml file=deployment.yml ```` (any language): not run; the block's text is written to that
  file, relative to the folder the commands run in, when the page gets there, as a reader saves it.

Each page runs in a fresh folder holding a copy of the repository's ``examples/`` as a fresh clone
has it (the sample data shipped in the repository), with the virtual environment's ``bin`` first on
``PATH``, no ``BATCHPOINT_*`` variable set (``BATCHPOINT_WORKSPACE`` in particular), and a throw-away
``HOME`` and ``BATCHPOINT_CONFIG``. A page's blocks run in order in one bash process
(``set -eE -o pipefail``), so a variable set in one block (``JOB=...``) is there in the next. A
failure names the page, the block and its line, the command that failed with its exit status, and
the block's output.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PAGE_TIMEOUT = 120  # seconds for one page; the pages together take well under a minute
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
FAILED = "@@bp-failed"
BLOCK = "@@bp-block"


@dataclass
class Block:
    """A fenced block of a page, with what its info string says to do with it."""

    line: int  # of the opening fence, counting from 1
    language: str
    text: str
    runnable: bool = False
    file: str | None = None
    requires: list[str] = field(default_factory=list)


def parse_blocks(markdown: str) -> list[Block]:
    """The page's fenced blocks that are runnable or saved to a file, in page order."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, words = len(opening["indent"]), opening["fence"], opening["info"].split()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not re.match(rf"^ *{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[j]):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        block = Block(line=i + 1, language=words[0] if words else "", text="\n".join(body) + "\n")
        for word in words[1:]:
            if word == "runnable":
                block.runnable = True
            elif word.startswith("file="):
                block.file = word.removeprefix("file=")
            elif word.startswith("requires="):
                block.requires = word.removeprefix("requires=").split(",")
        if block.runnable or block.file:
            blocks.append(block)
        i = j + 1
    return blocks


TRAP = (
    # The first report is the innermost command (inside a $(...) too); later ones are its callers.
    'trap \'bp_rc=$?; printf "\\n%s %s %s %s %s\\n" '
    + FAILED
    + ' "$BP_BLOCK" "$LINENO" "$bp_rc" "$BASH_COMMAND" >&2\' ERR'
)


def script_for(blocks: list[Block]) -> tuple[str, list[int]]:
    """One bash script that runs the page's blocks in order, marking where each starts and what failed.

    Also returns, for each block, the script's line number of the block's first line.
    """
    lines = ["set -eE -o pipefail", TRAP]
    starts = []
    for n, block in enumerate(blocks, 1):
        lines.append(f"BP_BLOCK={n}; echo '{BLOCK} {n}'")
        if block.file:
            delimiter = f"BP_END_OF_FILE_{n}"
            assert delimiter not in block.text
            lines += [f"mkdir -p \"$(dirname '{block.file}')\"", f"cat > '{block.file}' <<'{delimiter}'"]
        starts.append(len(lines) + 1)
        lines += block.text.splitlines()
        if block.file:
            lines.append(delimiter)
    return "\n".join(lines) + "\n", starts


def fresh_clone_examples(dest: Path) -> None:
    """``examples/`` as a fresh clone has it: the tracked files only (no model or data a run wrote)."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--", "examples"], capture_output=True, text=True, check=False
    )
    files = [f for f in listed.stdout.split("\0") if f] if listed.returncode == 0 else []
    if not files:  # not a git checkout: copy the folder, without what runs leave behind
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".batchpoint", "model", "data", "out")
        shutil.copytree(ROOT / "examples", dest / "examples", ignore=ignore)
        return
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


def user_environment(home: Path) -> dict[str, str]:
    """A new user's shell: the venv first on PATH, no batchpoint settings, a home and config of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHPOINT_") and not k.startswith("XDG_")}
    # As root the suite keeps workers as root (tests/conftest.py): pytest's folders are private to root.
    if "BATCHPOINT_ENGINE_WORKER_USER" in os.environ:
        env["BATCHPOINT_ENGINE_WORKER_USER"] = os.environ["BATCHPOINT_ENGINE_WORKER_USER"]
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        VIRTUAL_ENV=str(BIN.parent),
        HOME=str(home),
        BATCHPOINT_CONFIG=str(home / ".config" / "batchpoint" / "config.json"),
        NO_COLOR="1",
        COLUMNS="120",
    )
    return env


@dataclass
class Failure:
    block: int
    script_line: int
    status: int
    command: str


def first_failure(output: str) -> Failure | None:
    for line in output.splitlines():
        if line.startswith(FAILED + " "):
            _, block, script_line, status, command = line.split(" ", 4)
            return Failure(int(block), int(script_line), int(status), command)
    return None


def block_output(output: str, n: int) -> str:
    """What block ``n`` printed (between its marker and the next one)."""
    chunks = re.split(rf"^{BLOCK} (\d+)$", output, flags=re.M)
    by_block = {int(chunks[k]): chunks[k + 1] for k in range(1, len(chunks) - 1, 2)}
    text = by_block.get(n, output)
    return "\n".join(line for line in text.splitlines() if not line.startswith(FAILED)).strip("\n")


def run_page(page: str, blocks: list[Block], folder: Path) -> str | None:
    """Run the page's blocks in ``folder``; None when all ran, else a report of the failure."""
    home = folder.parent / f"{folder.name}-home"
    home.mkdir()
    fresh_clone_examples(folder)
    script, starts = script_for(blocks)
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=folder,
        env=user_environment(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=PAGE_TIMEOUT,
    )
    if proc.returncode == 0:
        return None
    failure = first_failure(proc.stdout)
    if failure is None:
        return f"{page}: the runnable blocks exited {proc.returncode}\n{proc.stdout[-4000:]}"
    block = blocks[failure.block - 1]
    line = block.line + 1 + failure.script_line - starts[failure.block - 1]
    return (
        f"{page}, block {failure.block} of {len(blocks)} (line {block.line}): "
        f"`{failure.command}` (line {line}) exited {failure.status}\n"
        f"--- the block ---\n{block.text}--- its output ---\n{block_output(proc.stdout, failure.block)[-4000:]}"
    )


def pages_with_blocks() -> list[tuple[str, list[Block]]]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = []
    for path in pages:
        blocks = parse_blocks(path.read_text(encoding="utf-8"))
        if any(b.runnable for b in blocks):
            found.append((str(path.relative_to(ROOT)), blocks))
    return found


PAGES = pages_with_blocks()


@pytest.mark.parametrize(("page", "blocks"), PAGES, ids=[page for page, _ in PAGES])
def test_runnable_blocks_run(page: str, blocks: list[Block], tmp_path: Path) -> None:
    missing = [m for b in blocks if b.runnable for m in b.requires if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{page} needs {', '.join(missing)}, which this environment lacks (`make venv` has every extra)")
    folder = tmp_path / "project"
    folder.mkdir()
    report = run_page(page, blocks, folder)
    if report:
        pytest.fail(report, pytrace=False)


def test_the_readme_tour_is_checked() -> None:
    """The README's tour and a few walkthroughs keep their markers (losing one would skip its check)."""
    runnable = {page for page, _ in PAGES}
    assert {"README.md", "docs/workspace.md", "docs/mlflow.md", "docs/scoring-scripts.md"} <= runnable
    readme = dict(PAGES)["README.md"]
    commands = "".join(b.text for b in readme if b.runnable)
    for expected in ("batchpoint init", "batch-endpoint invoke", "job stream", "job download"):
        assert expected in commands


def test_a_failure_names_the_page_the_block_and_the_command(tmp_path: Path) -> None:
    page = (
        "# A page\n\n"
        "```bash runnable\necho first block\n```\n\n"
        "```text file=notes/hello.txt\nhello\n```\n\n"
        "```bash runnable\ncat notes/hello.txt\nWHO=$(batchpoint no-such-group)\necho never\n```\n"
    )
    blocks = parse_blocks(page)
    assert [(b.line, b.runnable, b.file) for b in blocks] == [
        (3, True, None),
        (7, False, "notes/hello.txt"),
        (11, True, None),
    ]
    folder = tmp_path / "project"
    folder.mkdir()
    report = run_page("page.md", blocks, folder)
    assert report is not None
    assert report.startswith("page.md, block 3 of 3 (line 11): `batchpoint no-such-group` (line 13) exited 2")
    assert "hello" in report  # the block's output, the saved file's text
    assert "No such command" in report
    assert "never" not in report.split("--- its output ---")[1]
