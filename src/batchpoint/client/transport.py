"""The HTTP transport of the remote SDK: one connection pool, the token, errors back as exceptions, uploads."""

from __future__ import annotations

import builtins
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import httpx
from pydantic import BaseModel, TypeAdapter

from batchpoint.artifacts import archives
from batchpoint.common import yamlio
from batchpoint.common.specpaths import PathRef, replace_paths
from batchpoint.errors import BatchpointError, InvalidInput

M = TypeVar("M", bound=BaseModel)
API = "/api/v1"
_DOWNLOAD_LIMITS = archives.Limits(max_members=1_000_000, max_bytes=1 << 62)
#: A warning of the server's for the caller (URL-quoted), e.g. a scoring script that does not compile.
WARNING_HEADER = "X-Batchpoint-Warning"


class ServerWarning(UserWarning):
    """A warning the server passed on with its answer; the CLI prints it as its own."""


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
        if WARNING_HEADER in response.headers:
            warnings.warn(unquote(response.headers[WARNING_HEADER]), ServerWarning, stacklevel=3)
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

    def upload_paths(self, spec: Any, spec_type: Any = None, *, base_dir: Path | None = None) -> Any:
        """``spec`` (a model, or the mapping of a ``spec_type``) with the local files its path fields name
        uploaded (or read inline), as each field's ``SpecPath`` marker says; relative paths are relative
        to ``base_dir`` (default: the current folder)."""

        def one(ref: PathRef) -> Any:
            value, marker = ref.location, ref.marker
            if value is None or marker.output or marker.upload == "none":
                return ref.value
            if marker.upload in ("yaml", "lines"):
                return _read_inline(value, base_dir, ref.field, marker.upload)
            if marker.upload == "parent":
                return self._upload_parent(value, base_dir)
            return self.local_or_remote(value, base_dir, ref.field, missing=marker.missing)

        return replace_paths(spec, one, spec_type)

    def local_or_remote(self, value: Any, base_dir: Path | None, field: str, *, missing: str = "error") -> Any:
        """A path of this machine is uploaded (its URI returned); URIs, references and server paths pass.

        A relative path that does not exist here is an error, or with ``missing="send"`` sent as it is.
        """
        if not isinstance(value, str) or "://" in value or value.startswith(("azureml:", "runs:/")):
            return value
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
            if not path.exists() and missing == "error":
                raise InvalidInput(f"path '{path.resolve()}' does not exist", field=field)
        if path.exists():
            return self.upload(path)
        self.server_paths.add(value)
        return value

    def _upload_parent(self, value: str, base_dir: Path | None) -> str:
        """A local file is uploaded with its folder (what it names next to it travels too): ``<uri>/<name>``."""
        if "://" in value:
            return value
        local = (base_dir or Path.cwd()) / Path(value).expanduser()
        if not local.is_file():
            return value
        return f"{self.upload(local.parent)}/{local.name}"

    def explain(self, exc: BatchpointError) -> BatchpointError:
        """A refused server path that was meant as a local one: say it does not exist here either."""
        for value in self.server_paths:
            if value in exc.message and not exc.hint:
                exc.hint = f"'{value}' does not exist on this machine either, so it was sent as a path of the server"
        self.server_paths.clear()
        return exc

    def close(self) -> None:
        self.http.close()


def _read_inline(value: str, base_dir: Path | None, field: str, form: str) -> Any:
    """A conda file (``yaml``: its mapping) or a requirements file (``lines``) read, to travel inline."""
    if "://" in value:
        return value
    path = (base_dir or Path.cwd()) / Path(value).expanduser()
    if not path.is_file():
        raise InvalidInput(f"path '{path.resolve()}' does not exist", field=field)
    if form == "yaml":
        return yamlio.load_file(path)
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _chunks(fh: Any, size: int = 1024 * 1024) -> Iterator[bytes]:
    while chunk := fh.read(size):
        yield chunk
