"""``/api/v1/components``: register (code uploaded, step components inline), show, list, archive, restore.

The body is ``{"spec": <component YAML as JSON>, "anonymous": false}``. Every path in it, the step
components' own included, must be an upload or a datastore URI (``PathPolicy.spec``); a step's
component given as a file name is refused, since it would name a file of the server (the SDK sends
local component files inline). There is no delete: component versions are archived, as in Azure ML.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from batchpoint.components.schemas import Component
from batchpoint.components.specs import dump, parse_component, walk
from batchpoint.server.deps import AssetName, Paths, Svc, Version, present
from batchpoint.server.errors import ERROR_RESPONSES
from batchpoint.server.routes._versioned import NameFilter, OptionalVersion, Reader, Writer

router = APIRouter(prefix="/components", tags=["components"], responses=ERROR_RESPONSES)


class ComponentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: dict[str, Any]
    """A component YAML as JSON; its code must be an upload or a datastore URI."""
    anonymous: bool = False
    """Store it as an anonymous version (versioned by its content), as a pipeline's inline component is."""


@router.get("", response_model=list[Component], summary="List component versions (archived ones with include_archived)")
def list_components(svc: Svc, who: Reader, name: NameFilter = None, include_archived: bool = False) -> Any:
    return present(who, svc.components.list(name, include_archived=include_archived))


@router.post("", response_model=Component, status_code=201, summary="Register a component version")
def create_component(body: ComponentCreate, svc: Svc, paths: Paths, who: Writer) -> Any:
    spec = walk(
        parse_component(body.spec),
        lambda s, _folder, _file: paths.spec(s),
        base_dir=None,
        file=None,
        local_files="refuse",
    )
    if body.anonymous:
        created = svc.components.resolve(dump(spec), base_dir=None)
    else:
        created = svc.components.create(spec, base_dir=None)
    paths.discard_consumed()  # the code is in the artifact store now
    return present(who, created)


@router.get("/{name}", response_model=Component, summary="The latest component version that is not archived")
def get_component(name: AssetName, svc: Svc, who: Reader) -> Any:
    return present(who, svc.components.get(name))


@router.get("/{name}/versions/{version}", response_model=Component, summary="One component version")
def get_component_version(name: AssetName, version: Version, svc: Svc, who: Reader) -> Any:
    return present(who, svc.components.get(name, version))


@router.post("/{name}/archive", response_model=Component, summary="Archive one version, or every version")
def archive_component(name: AssetName, svc: Svc, who: Writer, version: OptionalVersion = None) -> Any:
    return svc.components.archive(name, version)


@router.post("/{name}/restore", response_model=Component, summary="Restore one version, or every version")
def restore_component(name: AssetName, svc: Svc, who: Writer, version: OptionalVersion = None) -> Any:
    return svc.components.restore(name, version)
