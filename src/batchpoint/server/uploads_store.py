"""Which principal made each upload: recorded when it lands, checked whenever a request names it.

An upload lives in the default datastore under ``uploads/<id>/``; its row here names the token
that sent it (``Principal.actor``). Only that token, and unscoped tokens (which may read the whole
datastore anyway), may use it as an input, a model, code or an environment file. Rows stay after
a registration has copied an upload into the artifact store and deleted its files: they are also
what the per-token upload budget (``quotas.py``) counts.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import select

from batchpoint.store.tables import UploadRow

if TYPE_CHECKING:
    from batchpoint.services import Services

UNKNOWN = object()
"""The owner of an upload with no row (made before owners were recorded, or not an upload at all)."""


def record(svc: Services, upload_id: str, name: str, owner: str | None, size_bytes: int) -> None:
    with svc.db.session() as s:
        s.add(UploadRow(upload_id=upload_id, name=name, owner=owner, size_bytes=size_bytes, created_at=time.time()))


def owner_of(svc: Services, upload_id: str) -> str | None | object:
    """The actor that uploaded ``upload_id``, or ``UNKNOWN`` when there is no record of it."""
    with svc.db.read() as s:
        row = s.execute(select(UploadRow.owner).where(UploadRow.upload_id == upload_id)).first()
    return UNKNOWN if row is None else row[0]
