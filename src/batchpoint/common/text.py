"""Showing user-supplied values in messages: never more than a screenful of them."""

from __future__ import annotations


def shown(value: object, limit: int = 80) -> str:
    """``value`` as text, cut to ``limit`` characters (with an ellipsis) so an error never echoes 100 KB."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"
