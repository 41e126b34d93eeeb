"""``/api/v1/models``: register (from an upload or a datastore URI), show, list, archive, delete, download."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import BackgroundTasks
from fastapi.responses import FileResponse

from batchpoint.artifacts import archives
from batchpoint.registry.schemas import Model
from batchpoint.registry.specs import ModelSpec
from batchpoint.server.deps import AssetName, Svc, Version
from batchpoint.server.routes._versioned import Reader, versioned_router

router = versioned_router(prefix="/models", noun="model", service="models", schema=Model, spec_type=ModelSpec)


@router.get(
    "/{name}/versions/{version}/download",
    response_class=FileResponse,
    responses={200: {"content": {"application/gzip": {}}, "description": "the model's files as a tar.gz"}},
)
def download_model(
    name: AssetName, version: Version, svc: Svc, who: Reader, background: BackgroundTasks
) -> FileResponse:
    """The registered files as a tar.gz whose top entry is the model's file or folder (``path``)."""
    model = svc.models.get(name, version)
    staging = Path(tempfile.mkdtemp(prefix="download-", dir=_tmp(svc)))
    background.add_task(shutil.rmtree, staging, True)
    svc.artifacts.export(model.manifest, staging / "tree")
    archive = staging / "model.tar.gz"
    with open(archive, "wb") as out:
        archives.pack(staging / "tree", out)
    return FileResponse(archive, media_type="application/gzip", filename=f"{name}-{version}.tar.gz")


def _tmp(svc: Svc) -> Path:
    folder = svc.layout.root / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
