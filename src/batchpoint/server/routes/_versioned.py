"""The routes every versioned asset has (models, environments, data): list, show, register, archive, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AfterValidator, BaseModel

from batchpoint.common import names
from batchpoint.server.deps import AssetName, Paths, Svc, Version, allow, name_rule, present
from batchpoint.server.errors import ERROR_RESPONSES
from batchpoint.tokens.auth import Action, Principal

Reader = Annotated[Principal, Depends(allow(Action.read))]
Writer = Annotated[Principal, Depends(allow(Action.write))]
Deleter = Annotated[Principal, Depends(allow(Action.delete))]
NameFilter = Annotated[
    str | None,
    Query(max_length=255),
    AfterValidator(lambda v: None if v is None else name_rule(names.asset_name, "name")(v)),
]
OptionalVersion = Annotated[
    str | None,
    Query(max_length=64),
    AfterValidator(lambda v: None if v is None else name_rule(names.version, "version")(v)),
]


def versioned_router(
    *,
    prefix: str,
    noun: str,
    service: str,
    schema: type[BaseModel],
    spec_type: type[BaseModel],
    copies_files: bool = True,
) -> APIRouter:
    """A router for ``/<prefix>``; every ``SpecPath`` field of the spec is checked (``PathPolicy.spec``) before registering.

    ``copies_files``: registering copies the files (models), so the uploads it used can go afterwards.
    """
    router = APIRouter(prefix=prefix, tags=[prefix.strip("/")], responses=ERROR_RESPONSES)

    def list_assets(svc: Svc, who: Reader, name: NameFilter = None, include_archived: bool = False) -> Any:
        return present(who, getattr(svc, service).list(name, include_archived=include_archived))

    def get_latest(name: AssetName, svc: Svc, who: Reader) -> Any:
        return present(who, getattr(svc, service).get(name))

    def get_version(name: AssetName, version: Version, svc: Svc, who: Reader) -> Any:
        return present(who, getattr(svc, service).get(name, version))

    def create(spec: BaseModel, svc: Svc, paths: Paths, who: Writer) -> Any:
        created = getattr(svc, service).create(paths.spec(spec))
        if copies_files:
            paths.discard_consumed()
        return created

    create.__annotations__["spec"] = spec_type  # the body's schema is the asset's spec

    def archive(name: AssetName, svc: Svc, who: Writer, version: OptionalVersion = None) -> Any:
        return getattr(svc, service).archive(name, version)

    def restore(name: AssetName, svc: Svc, who: Writer, version: OptionalVersion = None) -> Any:
        return getattr(svc, service).restore(name, version)

    def delete(name: AssetName, version: Version, svc: Svc, who: Deleter) -> Response:
        getattr(svc, service).delete(name, version)
        return Response(status_code=204)

    plural = prefix.strip("/").replace("-", "_")
    router.add_api_route("", list_assets, methods=["GET"], response_model=list[schema], name=f"list_{plural}",  # type: ignore[valid-type]
                         summary=f"List {noun} versions (archived ones with include_archived)")  # fmt: skip
    router.add_api_route("", create, methods=["POST"], response_model=schema, status_code=201, name=f"create_{noun}",
                         summary=f"Register a {noun} version")  # fmt: skip
    router.add_api_route("/{name}", get_latest, methods=["GET"], response_model=schema, name=f"get_{noun}",
                         summary=f"The latest {noun} version that is not archived")  # fmt: skip
    router.add_api_route("/{name}/versions/{version}", get_version, methods=["GET"], response_model=schema,
                         name=f"get_{noun}_version", summary=f"One {noun} version")  # fmt: skip
    router.add_api_route("/{name}/versions/{version}", delete, methods=["DELETE"], status_code=204,
                         response_class=Response, name=f"delete_{noun}_version",
                         summary=f"Delete one {noun} version (refused while a deployment uses it)")  # fmt: skip
    router.add_api_route("/{name}/archive", archive, methods=["POST"], response_model=schema,
                         name=f"archive_{noun}", summary="Archive one version, or every version")  # fmt: skip
    router.add_api_route("/{name}/restore", restore, methods=["POST"], response_model=schema,
                         name=f"restore_{noun}", summary="Restore one version, or every version")  # fmt: skip
    return router
