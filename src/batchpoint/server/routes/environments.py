"""``/api/v1/environments``: conda and pip definitions travel inline (the SDK reads the files for you)."""

from __future__ import annotations

from pydantic import BaseModel

from batchpoint.registry.schemas import Environment
from batchpoint.registry.specs import EnvironmentSpec
from batchpoint.server.deps import Paths
from batchpoint.server.routes._versioned import versioned_router


def _rewrite(paths: Paths, spec: BaseModel) -> BaseModel:
    assert isinstance(spec, EnvironmentSpec)
    data = paths.environment_spec({"conda_file": spec.conda_file, "pip_requirements": spec.pip_requirements})
    return spec.model_copy(update=data)


router = versioned_router(
    prefix="/environments",
    noun="environment",
    service="environments",
    schema=Environment,
    spec_type=EnvironmentSpec,
    rewrite=_rewrite,
)
