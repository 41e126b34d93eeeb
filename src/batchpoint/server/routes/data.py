"""``/api/v1/data``: data assets point at a datastore URI (an upload) or a folder inside the input roots."""

from __future__ import annotations

from pydantic import BaseModel

from batchpoint.registry.schemas import Data
from batchpoint.registry.specs import DataSpec
from batchpoint.server.deps import Paths
from batchpoint.server.routes._versioned import versioned_router


def _rewrite(paths: Paths, spec: BaseModel) -> BaseModel:
    assert isinstance(spec, DataSpec)
    return spec.model_copy(update=paths.data_spec({"path": spec.path}))


router = versioned_router(
    prefix="/data",
    noun="data_asset",
    service="data",
    schema=Data,
    spec_type=DataSpec,
    rewrite=_rewrite,
    copies_files=False,
)
