"""Result types a scorer can return besides a list or a DataFrame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PartialResult:
    """Rows for the files that scored, plus one record per file that did not.

    Used by batchpoint's built-in scorers for per-file accounting: the mini-batch succeeds for the
    files that scored, and each failed file is reported with its own error instead of failing the
    whole mini-batch as Azure does.
    """

    rows: Any
    failed: list[dict[str, Any]] = field(default_factory=list)
    """``{"file", "exception", "message", "traceback"}`` per failed file."""
