"""Conversions between stored epoch seconds and the datetimes the SDK returns."""

from __future__ import annotations

from datetime import UTC, datetime


def to_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)
