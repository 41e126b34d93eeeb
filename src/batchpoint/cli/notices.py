"""Warnings and notes on stderr: the one way a command prints them, so ``--only-show-errors`` silences all of them.

Call ``warn()`` for something the user should know that did not stop the command ("WARNING: ..."),
``note()`` for an informational line ("Deleted ..."). Both write to stderr, never stdout, so a
script reading a command's output (``-o json``, ``-o tsv``) is never disturbed. The root command
sets ``quiet`` from ``--only-show-errors`` before any command runs; errors are not notices and are
always printed.
"""

from __future__ import annotations

import sys

_state = {"quiet": False}


def set_quiet(quiet: bool) -> None:
    """``--only-show-errors``: warnings and notes from here on are not printed."""
    _state["quiet"] = quiet


def quiet() -> bool:
    return _state["quiet"]


def warn(message: str) -> None:
    """Print ``WARNING: message`` on stderr (unless ``--only-show-errors``)."""
    if not _state["quiet"]:
        sys.stderr.write(f"WARNING: {message}\n")
        sys.stderr.flush()


def note(message: str) -> None:
    """Print an informational line on stderr (unless ``--only-show-errors``)."""
    if not _state["quiet"]:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
