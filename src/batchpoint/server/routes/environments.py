"""``/api/v1/environments``: conda and pip definitions travel inline (the SDK reads the files for you)."""

from __future__ import annotations

from batchpoint.environments.builder import EnvironmentBuild
from batchpoint.registry.schemas import Environment
from batchpoint.registry.specs import EnvironmentSpec
from batchpoint.server.deps import AssetName, Svc
from batchpoint.server.routes._versioned import OptionalVersion, Writer, versioned_router

router = versioned_router(
    prefix="/environments",
    noun="environment",
    service="environments",
    schema=Environment,
    spec_type=EnvironmentSpec,
)


@router.post("/{name}/build", response_model=EnvironmentBuild)
def build_environment(
    name: AssetName, svc: Svc, who: Writer, version: OptionalVersion = None, force: bool = False
) -> EnvironmentBuild:
    """Build a version (the latest by default) into its cached virtual environment now (may take minutes)."""
    return svc.environments.build(name, version, force=force)
