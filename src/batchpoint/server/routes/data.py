"""``/api/v1/data``: data assets point at a datastore URI (an upload) or a folder inside the input roots."""

from __future__ import annotations

from batchpoint.registry.schemas import Data
from batchpoint.registry.specs import DataSpec
from batchpoint.server.routes._versioned import versioned_router

router = versioned_router(
    prefix="/data",
    noun="data_asset",
    service="data",
    schema=Data,
    spec_type=DataSpec,
    copies_files=False,
)
