"""``POST /api/v1/uploads``: a file or an archive, streamed to disk with a size cap, unpacked safely.

The body is the raw bytes: ``application/octet-stream`` for one file, ``application/x-tar``,
``application/gzip`` (tar.gz) or ``application/zip`` for a folder. It lands in the default
datastore under ``uploads/<id>/<name>`` and the answer's ``uri`` names it in model, deployment,
data and invoke requests. Models and code are copied into the artifact store when registered, and
their upload is deleted then.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator

from batchpoint.artifacts import archives
from batchpoint.common import names
from batchpoint.errors import InvalidInput
from batchpoint.server import quotas, uploads_store
from batchpoint.server.deps import Context, Svc, allow, name_rule
from batchpoint.server.errors import ERROR_RESPONSES
from batchpoint.server.paths import upload_folder, upload_uri
from batchpoint.server.schemas import Upload
from batchpoint.tokens.auth import Action, Principal

router = APIRouter(prefix="/uploads", tags=["uploads"], responses=ERROR_RESPONSES)
Uploader = Annotated[Principal, Depends(allow(Action.upload))]


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def _plain_name(value: str) -> str:
    """The name of the uploaded file or folder: it becomes a model's ``path`` (below ``AZUREML_MODEL_DIR``)."""
    if not _NAME.match(value):
        raise ValueError(f"'{value[:100]}' is not a plain file name (letters, digits, '.', '_', '+', '-')")
    return value


UploadName = Annotated[
    str,
    Query(min_length=1, max_length=255),
    AfterValidator(name_rule(names.file_name, "name")),
    AfterValidator(_plain_name),
]
_BODY = {
    "content": {
        media: {"schema": {"type": "string", "format": "binary"}}
        for media in ("application/octet-stream", "application/x-tar", "application/gzip", "application/zip")
    },
    "required": True,
}


@router.post("", response_model=Upload, status_code=201, openapi_extra={"requestBody": _BODY})
async def upload(request: Request, name: UploadName, ctx: Context, svc: Svc, who: Uploader) -> Upload:
    """Store one file (``name`` is its file name) or unpack an archive into the folder ``name``.

    The upload is recorded as the caller's (only it, and unscoped tokens, may name it later) and
    counts against the caller's upload budget (429 with Retry-After beyond it).
    """
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    serving = ctx.settings.serving
    announced = request.headers.get("content-length")
    announced_bytes = int(announced) if announced and announced.isdigit() else 0
    await anyio.to_thread.run_sync(quotas.check_upload_bytes, svc, who, serving, max(announced_bytes, 1))
    tmp_dir = svc.layout.root / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    incoming = tmp_dir / f"upload-{uuid.uuid4().hex}"
    try:
        size = 0
        with open(incoming, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                await anyio.to_thread.run_sync(out.write, chunk)
        if size == 0:
            raise InvalidInput("the upload is empty", field="body")
        if size > announced_bytes:  # streamed without a length: count what actually came
            await anyio.to_thread.run_sync(quotas.check_upload_bytes, svc, who, serving, size)
        upload_id = uuid.uuid4().hex
        folder = upload_folder(svc, upload_id)
        limits = archives.Limits(max_members=serving.max_archive_members, max_bytes=serving.max_extracted_bytes)
        try:
            if media == "application/octet-stream":
                result = await anyio.to_thread.run_sync(archives.save_file, incoming, folder, name)
            else:
                folder.mkdir(parents=True)
                result = await anyio.to_thread.run_sync(archives.extract, incoming, folder / name, media, limits)
            await anyio.to_thread.run_sync(uploads_store.record, svc, upload_id, name, who.actor, size)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return Upload(
            id=upload_id, name=name, uri=upload_uri(upload_id, name), files=result.files, size_bytes=result.bytes
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(incoming)
