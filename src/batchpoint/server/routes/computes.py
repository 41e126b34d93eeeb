"""``/api/v1/computes``: the built-in ``local`` plus registered compute targets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from batchpoint.registry.schemas import Compute
from batchpoint.registry.specs import ComputeSpec
from batchpoint.server.deps import AssetName, Svc, allow
from batchpoint.server.errors import ERROR_RESPONSES
from batchpoint.server.schemas import ComputeUpdate
from batchpoint.tokens.auth import Action, Principal

router = APIRouter(prefix="/computes", tags=["computes"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(allow(Action.read))]
Writer = Annotated[Principal, Depends(allow(Action.write))]
Deleter = Annotated[Principal, Depends(allow(Action.delete))]


@router.get("", response_model=list[Compute])
def list_computes(svc: Svc, who: Reader) -> list[Compute]:
    """The built-in ``local`` first, then the registered computes by name."""
    return svc.computes.list()


@router.post("", response_model=Compute, status_code=201)
def create_compute(spec: ComputeSpec, svc: Svc, who: Writer) -> Compute:
    """Register a compute (Azure ``amlCompute`` form, or batchpoint's local/ray)."""
    return svc.computes.create(spec)


@router.get("/{name}", response_model=Compute)
def get_compute(name: AssetName, svc: Svc, who: Reader) -> Compute:
    return svc.computes.get(name)


@router.patch("/{name}", response_model=Compute)
def update_compute(name: AssetName, changes: ComputeUpdate, svc: Svc, who: Writer) -> Compute:
    """Change ``max_instances``, ``min_instances``, ``address``, ``resources``, ``description`` or ``tags``."""
    return svc.computes.update(name, **changes.model_dump(exclude_unset=True))


@router.delete("/{name}", status_code=204, response_class=Response)
def delete_compute(name: AssetName, svc: Svc, who: Deleter) -> Response:
    """Delete a compute; refused while a deployment names it."""
    svc.computes.delete(name)
    return Response(status_code=204)
