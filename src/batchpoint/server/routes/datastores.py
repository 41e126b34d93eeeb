"""``/api/v1/datastores``: the default datastore plus local folders an owner registered (inside the input roots)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from batchpoint.registry.schemas import Datastore
from batchpoint.server.deps import AssetName, Paths, Svc, allow
from batchpoint.server.errors import ERROR_RESPONSES
from batchpoint.server.schemas import DatastoreCreate
from batchpoint.tokens.auth import Action, Principal

router = APIRouter(prefix="/datastores", tags=["datastores"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(allow(Action.read))]
Admin = Annotated[Principal, Depends(allow(Action.admin))]


@router.get("", response_model=list[Datastore])
def list_datastores(svc: Svc, who: Reader) -> list[Datastore]:
    return svc.datastores.list()


@router.get("/{name}", response_model=Datastore)
def get_datastore(name: AssetName, svc: Svc, who: Reader) -> Datastore:
    return svc.datastores.get(name)


@router.post("", response_model=Datastore, status_code=201)
def create_datastore(body: DatastoreCreate, svc: Svc, paths: Paths, who: Admin) -> Datastore:
    """Register a server folder as a datastore (owner only; the folder must be inside the input roots)."""
    root = paths.local(body.root, "root")
    return svc.datastores.create(body.name, root, body.description)
