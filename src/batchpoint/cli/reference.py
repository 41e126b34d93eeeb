"""The CLI reference page, generated from the commands themselves so that it cannot drift from them.

``python -m batchpoint.cli.reference > docs/cli-reference.md`` writes the page; a unit test
(``tests/unit/test_cli_reference.py``) regenerates it and fails when the committed page differs.

The page is built from the command tree (every group is loaded, the lazy ones included: see
``cli/lazy.py``) and from each option's own help record, the pair of strings that ``--help`` prints.
It never goes through click's or rich's formatters, so the terminal's width, colours and the
``COLUMNS`` variable change nothing: the same tree always gives the same bytes.
"""

from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass
from typing import Any

import typer.main

PAGE = "docs/cli-reference.md"
COMMAND = f"python -m batchpoint.cli.reference > {PAGE}"


@dataclass(frozen=True)
class Entry:
    """One command or group of the tree, with the context ``--help`` would be given."""

    path: tuple[str, ...]
    command: Any
    ctx: Any

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def is_group(self) -> bool:
        return bool(subcommand_names(self.command, self.ctx))

    @property
    def depth(self) -> int:
        return len(self.path) - 1


def subcommand_names(command: Any, ctx: Any) -> list[str]:
    """The visible sub-commands of a group, in the order ``--help`` lists them; [] for a command."""
    if not hasattr(command, "list_commands"):
        return []
    return [n for n in command.list_commands(ctx) if not command.get_command(ctx, n).hidden]


def walk() -> list[Entry]:
    """Every visible command and group, depth first, the root first."""
    from batchpoint.cli.main import app

    root = typer.main.get_command(app)
    context_class = type(root).context_class
    entries: list[Entry] = []

    def visit(command: Any, path: tuple[str, ...], parent: Any) -> None:
        ctx = context_class(command, info_name=path[-1], parent=parent)
        entries.append(Entry(path, command, ctx))
        for name in subcommand_names(command, ctx):
            visit(command.get_command(ctx, name), (*path, name), ctx)

    visit(root, ("batchpoint",), None)
    return entries


def help_paragraphs(text: str | None) -> list[str]:
    """A help text as typer shows it: paragraphs split on blank lines, lines of a paragraph joined."""
    cleaned = inspect.cleandoc(text or "").replace("\b", "")
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", cleaned) if p.strip()]


def escape(text: str) -> str:
    """Plain text made safe in a Markdown table cell: no HTML tags, no cell breaks, no emphasis."""
    for char in ("\\", "|", "<", ">", "*"):
        text = text.replace(char, "\\" + char)
    return text


def code(text: str) -> str:
    """Text as a code span inside a table cell (only the cell separator needs escaping there)."""
    return "`" + text.replace("|", "\\|") + "`"


def anchor(entry: Entry) -> str:
    """GitHub's anchor for the entry's heading (`` `batchpoint job show` `` → ``batchpoint-job-show``)."""
    return "-".join(entry.path)


def usage(entry: Entry) -> str:
    pieces = list(entry.command.collect_usage_pieces(entry.ctx))
    if not entry.is_group:
        # A group run as a command (``batchpoint status``) has no sub-command to name.
        pieces = [p for p in pieces if p != getattr(entry.command, "subcommand_metavar", None)]
    return " ".join([entry.name, *pieces])


def option_rows(entry: Entry) -> list[str]:
    rows = []
    for param in entry.command.get_params(entry.ctx):
        record = param.get_help_record(entry.ctx)
        if record is None or "--help" in getattr(param, "opts", ()):
            continue
        names, help_text = record
        rows.append(f"| {code(names)} | {escape(' '.join(help_text.split()))} |")
    return rows


def render_entry(entry: Entry, children: list[Entry]) -> list[str]:
    level = "#" * min(2 + max(entry.depth - 1, 0), 4)
    deprecated = " (deprecated)" if getattr(entry.command, "deprecated", False) else ""
    lines = [f"{level} `{entry.name}`{deprecated}", ""]
    for paragraph in help_paragraphs(entry.command.help):
        lines += [escape(paragraph), ""]
    lines += ["```text", usage(entry), "```", ""]
    rows = option_rows(entry)
    if rows:
        lines += ["| option | meaning |", "|---|---|", *rows, ""]
    if children:
        lines += ["| command | what it does |", "|---|---|"]
        for child in children:
            short = help_paragraphs(child.command.help)
            summary = escape(short[0]) if short else ""
            lines.append(f"| [{code(child.name)}](#{anchor(child)}) | {summary} |")
        lines.append("")
    return lines


def render() -> str:
    """The whole page, as Markdown."""
    entries = walk()
    children: dict[tuple[str, ...], list[Entry]] = {}
    for entry in entries[1:]:
        children.setdefault(entry.path[:-1], []).append(entry)
    lines = [
        "# CLI reference",
        "",
        f"<!-- Generated from the commands themselves by `{COMMAND}`;",
        "     do not edit by hand: tests/unit/test_cli_reference.py fails when this page differs. -->",
        "",
        "Every `batchpoint` command with its options, as `batchpoint COMMAND --help` shows them (every",
        "command also takes `--help`). Global options such as `-w/--workspace` go before the command",
        "group: `batchpoint -w ~/proj job show -n JOB`. What the commands do, with examples, is in",
        "[cli.md](cli.md), [jobs.md](jobs.md) and the pages under [reference/](reference/).",
        "",
    ]
    for entry in entries:
        lines += render_entry(entry, children.get(entry.path, []))
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    # UTF-8 whatever the locale, so that the page is the same bytes on every machine.
    out = sys.stdout.buffer
    out.write(render().encode("utf-8"))
    out.flush()


if __name__ == "__main__":
    main()
