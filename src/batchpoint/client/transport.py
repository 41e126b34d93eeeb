"""The HTTP transport of the remote SDK: one connection pool, the token, errors back as exceptions, uploads."""

from __future__ import annotations

import builtins
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from batchpoint.artifacts import archives
from batchpoint.errors import BatchpointError, InvalidInput

M = TypeVar("M", bound=BaseModel)
API = "/api/v1"
_DOWNLOAD_LIMITS = archives.Limits(max_members=1_000_000, max_bytes=1 << 62)


def q(value: str) -> str:
    """A path segment, escaped."""
    return quote(str(value), safe="")


def with_file(exc: BatchpointError, file: str | None) -> BatchpointError:
    if file and not exc.file:
        exc.file = file
    return exc


class Transport:
    """One HTTP connection pool to a server, with the token; turns error answers into exceptions."""

    def __init__(
        self, server: str, token: str | None, *, timeout: float = 300, transport: httpx.BaseTransport | None = None
    ) -> None:
        if not server.startswith(("http://", "https://")):
            raise InvalidInput(f"'{server}' is not an http:// or https:// URL", field="server")
        self.server = server.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout, transport=transport)
        self.server_paths: set[str] = set()
        """Paths sent as they are (not found here) in the request being made."""

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise BatchpointError(
                f"cannot reach the batchpoint server at {self.server}: {exc}",
                hint="is it running? the URL comes from --server, BATCHPOINT_SERVER or 'batchpoint login'",
            ) from None
        if response.status_code >= 400:
            raise self.explain(self._error(response))
        self.server_paths.clear()
        return response

    def _error(self, response: httpx.Response) -> BatchpointError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return BatchpointError.from_dict(body["error"])
        return BatchpointError(f"the server answered {response.status_code}: {response.text[:300]}")

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def get(self, model: type[M], path: str, **kwargs: Any) -> M:
        return model.model_validate(self.json("GET", path, **kwargs))

    def get_list(self, model: type[M], path: str, **kwargs: Any) -> builtins.list[M]:
        return TypeAdapter(builtins.list[model]).validate_python(self.json("GET", path, **kwargs))  # type: ignore[valid-type]

    def send(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return model.model_validate(self.json(method, path, **kwargs))

    # -- files ---------------------------------------------------------------------------------------
    def upload(self, local: Path) -> str:
        """Upload a file or a folder; returns the ``azureml://datastores/...`` URI naming it on the server."""
        local = local.resolve()
        params = {"name": local.name}
        if local.is_file():
            with open(local, "rb") as fh:
                answer = self.json(
                    "POST",
                    f"{API}/uploads",
                    params=params,
                    content=fh,
                    headers={"Content-Type": "application/octet-stream"},
                )
        else:
            with tempfile.TemporaryFile() as tmp:
                archives.pack(local, tmp)
                tmp.seek(0)
                answer = self.json(
                    "POST",
                    f"{API}/uploads",
                    params=params,
                    content=_chunks(tmp),
                    headers={"Content-Type": "application/gzip"},
                )
        return str(answer["uri"])

    def download(self, path: str, dest: Path) -> Path:
        """Stream a tar.gz from ``path`` and unpack it (safely) into the new folder ``dest``."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=".bp-download-", delete=False) as tmp:
            try:
                with self.http.stream("GET", path) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise self._error(response)
                    for chunk in response.iter_bytes():
                        tmp.write(chunk)
                tmp.close()
                archives.extract(Path(tmp.name), dest, "application/gzip", _DOWNLOAD_LIMITS, field="download")
            except httpx.TransportError as exc:
                raise BatchpointError(f"download from {self.server} failed: {exc}") from None
            finally:
                Path(tmp.name).unlink(missing_ok=True)
        return dest

    def local_or_remote(self, value: Any, base_dir: Path | None, field: str) -> Any:
        """A path of this machine is uploaded (its URI returned); URIs, references and server paths pass."""
        if not isinstance(value, str) or "://" in value or value.startswith("azureml:"):
            return value
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
            if not path.exists():
                raise InvalidInput(f"path '{path.resolve()}' does not exist", field=field)
        if path.exists():
            return self.upload(path)
        self.server_paths.add(value)
        return value

    def explain(self, exc: BatchpointError) -> BatchpointError:
        """A refused server path that was meant as a local one: say it does not exist here either."""
        for value in self.server_paths:
            if value in exc.message and not exc.hint:
                exc.hint = f"'{value}' does not exist on this machine either, so it was sent as a path of the server"
        self.server_paths.clear()
        return exc

    def close(self) -> None:
        self.http.close()


def _chunks(fh: Any, size: int = 1024 * 1024) -> Iterator[bytes]:
    while chunk := fh.read(size):
        yield chunk
