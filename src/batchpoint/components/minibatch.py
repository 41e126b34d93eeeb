"""A parallel step's ``mini_batch_size``: a file count (``10``, ``"10"``) or a size (``"10kb"``, ``"1.5mb"``)."""

from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(b|kb|mb|gb)\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_size(value: int | str) -> tuple[int | None, int | None]:
    """``(files, bytes)``: one of them set. A ValueError names what is wrong (pydantic adds the field)."""
    if isinstance(value, bool):
        raise ValueError("mini_batch_size is a file count or a size such as '10kb'")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        count = int(value)
        if not 1 <= count <= 1_000_000:
            raise ValueError(f"mini_batch_size {count}: a file count between 1 and 1000000")
        return count, None
    match = _SIZE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"mini_batch_size '{value}': give a file count (10) or a size (10kb, 1mb, 1gb)")
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size < 1:
        raise ValueError(f"mini_batch_size '{value}' is below one byte")
    return None, size
