"""Components over HTTP.

A component is sent as one request: its code folder uploaded, an inline environment's files read,
and for a pipeline component every step component given as a local file read here and sent inline
(with its own code uploaded), since the server cannot read this machine's files.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

from batchpoint.client.transport import API, Transport, q, with_file
from batchpoint.common import refs
from batchpoint.components.schemas import Component
from batchpoint.components.service import load_component_file
from batchpoint.components.specs import ComponentSpec, dump, is_local_file, load_local, parse_component, walk
from batchpoint.endpoints import snapshot
from batchpoint.errors import BatchpointError, InvalidInput


class RemoteComponents:
    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def _url(self, *parts: str) -> str:
        return "/".join([f"{API}/components", *(q(p) for p in parts)])

    # -- registering ---------------------------------------------------------------------------------
    def create(self, spec: ComponentSpec, *, base_dir: Path | None = None, file: str | None = None) -> Component:
        return self._post(spec, base_dir, file, anonymous=False)

    def create_from_file(
        self,
        path: Path,
        /,
        *,
        name: str | None = None,
        version: str | None = None,
        set_pairs: builtins.list[tuple[str, Any]] | None = None,
    ) -> Component:
        path = Path(path)
        spec = load_component_file(path, name=name, version=version, set_pairs=set_pairs)
        return self.create(spec, base_dir=path.resolve().parent, file=str(path))

    def _post(self, spec: ComponentSpec, base_dir: Path | None, file: str | None, *, anonymous: bool) -> Component:
        try:
            sent = walk(
                spec,
                lambda s, folder, _file: self.t.upload_paths(s, base_dir=folder),
                base_dir=base_dir,
                file=file,
                local_files="inline",
            )
            body = {"spec": dump(sent), "anonymous": anonymous}
            return self.t.send(Component, "POST", f"{API}/components", json=body)
        except BatchpointError as exc:
            raise with_file(exc, file) from None

    # -- reading -------------------------------------------------------------------------------------
    def resolve(
        self,
        ref: str | dict[str, Any],
        *,
        base_dir: Path | None = None,
        field: str = "component",
        file: str | None = None,
    ) -> Component:
        if isinstance(ref, dict):
            return self._post(parse_component(ref, file=file, prefix=field), base_dir, file, anonymous=True)
        if isinstance(ref, str) and snapshot.is_snapshot(ref):
            raise InvalidInput(
                f"'{ref}': a stored snapshot is resolved on the server, not here", field=field, file=file
            )
        if isinstance(ref, str) and is_local_file(ref):
            spec, path = load_local(ref, base_dir, field, file, ())
            return self._post(spec, path.parent, str(path), anonymous=True)
        return refs.lookup(self.get, ref, field, file)

    def get(self, name: str, version: str | None = None) -> Component:
        path = self._url(name) if version is None else self._url(name, "versions", version)
        return self.t.get(Component, path)

    def list(self, name: str | None = None, *, include_archived: bool = False) -> builtins.list[Component]:
        params: dict[str, Any] = {"include_archived": include_archived}
        if name is not None:
            params["name"] = name
        return self.t.get_list(Component, f"{API}/components", params=params)

    def archive(self, name: str, version: str | None = None) -> Component:
        params = {} if version is None else {"version": version}
        return self.t.send(Component, "POST", self._url(name, "archive"), params=params)

    def restore(self, name: str, version: str | None = None) -> Component:
        params = {} if version is None else {"version": version}
        return self.t.send(Component, "POST", self._url(name, "restore"), params=params)
