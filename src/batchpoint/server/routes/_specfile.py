"""A spec sent as JSON, written where a service that reads YAML files can read it (updates take a file)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from batchpoint.common import yamlio
from batchpoint.errors import BatchpointError
from batchpoint.services import Services


@contextmanager
def spec_file(services: Services, data: dict[str, Any] | None) -> Iterator[Path | None]:
    """A private YAML file holding ``data`` (None: no file); errors never name it."""
    if data is None:
        yield None
        return
    folder = services.layout.root / "tmp" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path = folder / "spec.yml"
    try:
        path.write_text(yamlio.dumps(data), encoding="utf-8")
        yield path
    except BatchpointError as exc:
        if exc.file == str(path):
            exc.file = None
        raise
    finally:
        if path.exists():
            os.unlink(path)
        folder.rmdir()
