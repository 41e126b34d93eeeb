"""A job's latest metrics and params read with ``sqlite3`` (standard library): ``job show``'s light path.

The same rows ``runs/records.py`` reads through SQLAlchemy, from the workspace's ``tracking.db``,
read-only. MLflow's table and column names here are the ones every MLflow version since 1.x has.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from urllib.parse import quote


def run_data(database: Path, run_id: str) -> tuple[dict[str, float], dict[str, str]] | None:
    """``(latest metrics, params)`` of the run; empty when the store does not exist; None on a read error."""
    if not database.is_file():
        return {}, {}
    try:
        conn = sqlite3.connect(f"file:{quote(str(database))}?mode=ro", uri=True, timeout=60.0)
    except sqlite3.Error:
        return None
    try:
        metrics = conn.execute(
            "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = ? ORDER BY key", (run_id,)
        ).fetchall()
        params = conn.execute("SELECT key, value FROM params WHERE run_uuid = ? ORDER BY key", (run_id,)).fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return {k: (math.nan if nan else float(v)) for k, v, nan in metrics}, dict(params)
