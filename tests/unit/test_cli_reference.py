"""docs/cli-reference.md is generated from the command tree; the committed page must be what it generates."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from batchpoint.cli import reference

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / reference.PAGE


def test_committed_page_is_what_the_commands_generate() -> None:
    generated = reference.render()
    committed = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    if generated != committed:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    generated.splitlines(keepends=True),
                    fromfile=f"{reference.PAGE} (committed)",
                    tofile=f"{reference.PAGE} (generated)",
                )
            )[:60]
        )
        pytest.fail(f"{reference.PAGE} is out of date: run `{reference.COMMAND}`\n{diff}")


def test_every_group_and_command_has_a_section() -> None:
    page = reference.render()
    for entry in reference.walk():
        assert f"`{entry.name}`" in page
    # The ones the lazy root group loads only on use, and a command two levels down.
    for heading in ("## `batchpoint job`", "### `batchpoint job show`", "### `batchpoint batch-deployment list-jobs`"):
        assert heading in page.splitlines()
    assert "[`batchpoint batch-deployment list-jobs`](#batchpoint-batch-deployment-list-jobs)" in page


def test_the_page_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    wide = reference.render()
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("TERM", "dumb")
    assert reference.render() == wide


def test_option_text_cannot_break_the_markdown() -> None:
    assert reference.escape("a|b <name> *x*") == "a\\|b \\<name\\> \\*x\\*"
    assert reference.code("-o <table|json>") == "`-o <table\\|json>`"
