"""HEAD /health answers the same status as GET /health, with no body, also when the database is down."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from batchpoint.server.routes import system


class _Db:
    def __init__(self, up: bool) -> None:
        self.up = up

    def ping(self) -> None:
        if not self.up:
            raise ConnectionError("database unreachable")


@pytest.mark.parametrize(("up", "status"), [(True, 200), (False, 503)])
def test_head_and_get_agree(up: bool, status: int) -> None:
    ctx: Any = SimpleNamespace(workspace=SimpleNamespace(db=_Db(up)))
    head = system.health_head(ctx)
    assert head.status_code == status and head.body == b""
    get = system.health(ctx)
    assert getattr(get, "status_code", 200) == status
