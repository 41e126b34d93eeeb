"""What a path in a request may mean on the server.

Embedded, a path in a spec is a file of the user's machine. Through the server it would be a file
of the *server's* machine, so every path-like field of a request is checked here before a service
sees it:

* ``azureml://datastores/<name>/paths/<path>`` URIs are fine (the datastore layer keeps them inside
  their datastore); uploads land in the default datastore under ``uploads/<id>/`` and are named
  by such URIs;
* registry references (``azureml:NAME:VERSION``) are fine where the field takes one;
* an absolute path is accepted only inside the allowed input roots (``BATCHPOINT_SERVER_INPUT_ROOTS``,
  and always the workspace's datastores folder), after ``..`` is refused and links are resolved;
* relative paths, other URI schemes (``file:``, ``http:``...) and NUL characters are refused.

Fields that the services read as local paths only (code folders, conda and requirements files,
pipeline component files) get the URI turned into the local path here.

Which fields are paths, and what each accepts, is not listed here: ``PathPolicy.spec`` walks the
fields marked ``SpecPath`` in the spec models (``common/specpaths.py``), so a path field added to a
spec is checked as soon as it is marked.

Beyond where a path may point, *who* may name it (the threat model is ``docs/security.md``):

* an upload is its uploader's: another endpoint-scoped token naming it gets 403; unscoped tokens
  (which may read the whole datastore) may use any;
* an endpoint-scoped token (``--endpoint``, including invoke-only tokens) names no server path at
  all: only its own uploads, data assets, and datastore paths granted to it (``--grant``); its job
  outputs go to the job's own folder or under a granted path;
* no job writes into the uploads area (uploads are inputs).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from batchpoint.common import refs
from batchpoint.common.specpaths import PathRef, replace_paths
from batchpoint.common.text import shown
from batchpoint.endpoints.specs import DeploymentSpec
from batchpoint.errors import Forbidden, InvalidInput, UnsafePath
from batchpoint.registry.specs import DataSpec, EnvironmentSpec
from batchpoint.server import uploads_store
from batchpoint.workspace.layout import DEFAULT_DATASTORE

if TYPE_CHECKING:
    from batchpoint.services import Services
    from batchpoint.tokens.auth import Principal

UPLOADS = "uploads"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_UPLOAD_URI = re.compile(rf"^azureml://datastores/{DEFAULT_DATASTORE}/paths/{UPLOADS}/(?P<id>[0-9a-f]{{32}})(?:/|$)")
_GLOB = re.compile(r"[*?\[]")
_SCOPED_READS = "it reads its own uploads, data assets (azureml:NAME@latest) and the datastore paths granted to it"
_SCOPED_WRITES = (
    "its job outputs go to the job's own folder (give no output path) or under a datastore path granted to it"
)
_HOW = "upload the files (the SDK and the CLI do it for you) or name them with azureml://datastores/<name>/paths/<path>"


def upload_folder(services: Services, upload_id: str) -> Path:
    return services.layout.default_datastore / UPLOADS / upload_id


def upload_uri(upload_id: str, name: str) -> str:
    return f"azureml://datastores/{DEFAULT_DATASTORE}/paths/{UPLOADS}/{upload_id}/{name}"


class PathPolicy:
    """Checks the paths of one request; remembers the uploads it consumed (to delete them afterwards)."""

    def __init__(self, services: Services, roots: list[Path], principal: Principal | None = None) -> None:
        self.services = services
        self.roots = [r.resolve() for r in roots]
        self.principal = principal
        self.consumed: set[str] = set()
        self.uploads_root = (services.layout.default_datastore / UPLOADS).resolve()

    @property
    def scoped(self) -> bool:
        return self.principal is not None and self.principal.scoped

    # -- single values -------------------------------------------------------------------------------
    def local(self, value: str, field: str) -> Path:
        """An absolute server path inside an allowed root (links resolved), else ``UnsafePath``."""
        if "\x00" in value:
            raise UnsafePath("path contains a NUL character", field=field)
        if not value.startswith("/"):
            raise UnsafePath(f"'{value[:200]}' is not an absolute server path; {_HOW}", field=field)
        if ".." in PurePosixPath(value).parts or "\\" in value:
            raise UnsafePath(f"'{value[:200]}' contains '..' or a backslash", field=field)
        resolved = Path(os.path.realpath(value))
        if not any(resolved == root or root in resolved.parents for root in self.roots):
            raise UnsafePath(
                f"'{value[:200]}' is outside the folders this server reads from",
                field=field,
                hint="an operator can allow more folders with BATCHPOINT_SERVER_INPUT_ROOTS; or " + _HOW,
            )
        return resolved

    def location(
        self, value: Any, field: str, *, refs_ok: bool = False, glob_ok: bool = False, jobs_ok: bool = False
    ) -> Any:
        """A location as the services take it: a datastore URI, a reference, or a checked absolute path."""
        if not isinstance(value, str):
            return value  # the spec's own validation names the type error
        if "\x00" in value:
            raise UnsafePath("path contains a NUL character", field=field)
        if value.startswith("azureml://datastores/"):
            target = self.services.datastores.resolve_uri(value, field=field)  # refuses a URI leaving its datastore
            self._may_read(target, value, field)
            self._note_upload(value)
            return value
        if refs_ok and refs.is_reference(value):
            return value
        if jobs_ok and value.startswith(("azureml://jobs/", "runs:/")) and not self.scoped:
            # What a job of this server produced: resolved by the services inside that job's output
            # or its run's artifact folder (``registry/model_sources.py``), never elsewhere.
            return value
        if _SCHEME.match(value):
            raise InvalidInput(
                f"'{value[:200]}': only azureml://datastores/<name>/paths/<path> URIs are accepted", field=field
            )
        if self.scoped:
            raise Forbidden(f"this token may not name server paths; {_SCOPED_READS}", field=field)
        if glob_ok and _GLOB.search(value):
            head = _GLOB.split(value, maxsplit=1)[0]
            self.local(head.rsplit("/", 1)[0] or "/", field)
            if ".." in PurePosixPath(value).parts:
                raise UnsafePath(f"'{value[:200]}' contains '..'", field=field)
            return value
        return str(self.local(value, field))

    def local_file(self, value: Any, field: str) -> Any:
        """A location turned into the local path (for fields the services read as local paths only)."""
        checked = self.location(value, field)
        if isinstance(checked, str) and checked.startswith("azureml://"):
            return str(self.services.datastores.resolve_uri(checked, field=field))
        return checked

    # -- who may name what ----------------------------------------------------------------------------
    def upload_of(self, target: Path) -> str | None:
        """The upload id when ``target`` (resolved) is inside one upload's folder."""
        if target == self.uploads_root or self.uploads_root not in target.parents:
            return None
        return target.relative_to(self.uploads_root).parts[0]

    def granted(self, target: Path) -> bool:
        """Whether ``target`` is at or under one of the principal's granted datastore paths."""
        for grant in self.principal.grants if self.principal else ():
            try:
                root = self.services.datastores.resolve_uri(grant, field="grants")
            except Exception:  # a grant to a datastore deleted since: grants nothing
                continue
            if target == root or root in target.parents:
                return True
        return False

    def _may_read(self, target: Path, uri: str, field: str) -> None:
        """An upload is its owner's; a scoped token reads only its uploads and granted paths."""
        principal = self.principal
        if principal is None or not principal.scoped:
            return
        upload_id = self.upload_of(target)
        if upload_id is not None:  # a grant never extends to uploads: each is its uploader's
            if uploads_store.owner_of(self.services, upload_id) == principal.actor:
                return
            raise Forbidden(f"upload '{shown(upload_id, 40)}' was made by another token", field=field)
        holds_uploads = target == self.uploads_root or target in self.uploads_root.parents
        if self.granted(target) and not holds_uploads:
            return
        raise Forbidden(f"'{shown(uri, 200)}' is not this token's to read; {_SCOPED_READS}", field=field)

    def _note_upload(self, uri: str) -> None:
        match = _UPLOAD_URI.match(uri)
        if match:
            self.consumed.add(match.group("id"))

    def discard_consumed(self) -> None:
        """Delete the caller's own uploads that a registration copied into the artifact store (models, code).

        Another token's upload (which an unscoped contributor may register) is left where it is: using
        it is allowed, deleting it is not.
        """
        actor = self.principal.actor if self.principal else None
        for upload_id in self.consumed:
            if actor is None or uploads_store.owner_of(self.services, upload_id) == actor:
                shutil.rmtree(upload_folder(self.services, upload_id), ignore_errors=True)
        self.consumed.clear()

    # -- specs ---------------------------------------------------------------------------------------
    def spec(self, spec: Any, spec_type: Any = None, *, fields: Mapping[str, str] | None = None) -> Any:
        """``spec`` (a model, or the mapping of a ``spec_type``) with every ``SpecPath`` field checked.

        Each value is checked as its marker says: an ``output`` where a job may write, a ``glob``-able
        job input (links inside included), a ``local`` file turned into its local path, else a location.
        References and snapshots pass where the marker accepts them. ``fields`` renames fields in
        errors (the Azure body names its own: ``properties.InputData.<name>.Uri``).
        """
        names = fields or {}

        def check(ref: PathRef) -> Any:
            value, marker = ref.location, ref.marker
            if value is None:
                return ref.value
            field = names.get(ref.field, ref.field)
            if marker.output:
                return self.output_path(value, field)
            if marker.glob:
                return self.invoke_input(value, field)
            if marker.local:
                return self.local_file(value, field)
            return self.location(value, field, jobs_ok=marker.job_outputs)

        return replace_paths(spec, check, spec_type)

    # The shapes the routes send (each is ``spec`` over one spec type).
    def data_spec(self, data: dict[str, Any]) -> dict[str, Any]:
        checked: dict[str, Any] = self.spec(data, DataSpec)
        return checked

    def environment_spec(self, data: dict[str, Any]) -> dict[str, Any]:
        checked: dict[str, Any] = self.spec(data, EnvironmentSpec)
        return checked

    def deployment_spec(self, data: dict[str, Any]) -> dict[str, Any]:
        checked: dict[str, Any] = self.spec(data, DeploymentSpec)
        return checked

    def invoke_input(self, value: Any, field: str = "input") -> Any:
        """A job input; a folder holding links out of the allowed roots is refused too."""
        if value is None:
            return None
        checked = self.location(value, field, refs_ok=True, glob_ok=True)
        if isinstance(checked, str) and checked.startswith("azureml://datastores/"):
            self.check_links(str(self.services.datastores.resolve_uri(checked, field=field)), field)
        elif isinstance(checked, str) and checked.startswith("/"):
            self.check_links(checked, field)
        return checked

    def output_path(self, value: Any, field: str = "output_path") -> Any:
        """Where a job writes: never into an upload; for a scoped token only under a granted path."""
        if value is None:
            return None
        if self.scoped and not (isinstance(value, str) and value.startswith("azureml://datastores/")):
            raise Forbidden(f"this token may not name server paths; {_SCOPED_WRITES}", field=field)
        checked = self.location(value, field)
        if not isinstance(checked, str):
            return checked
        target = (
            self.services.datastores.resolve_uri(checked, field=field)
            if checked.startswith("azureml://")
            else Path(checked)
        )
        if target == self.uploads_root or self.uploads_root in target.parents:
            raise Forbidden("a job never writes into the uploads folder (uploads are inputs)", field=field)
        if self.scoped and not self.granted(target):
            raise Forbidden(f"'{shown(value, 200)}' is not granted to this token; {_SCOPED_WRITES}", field=field)
        return checked

    def check_links(self, value: str, field: str, limit: int = 100_000) -> None:
        """Refuse an input folder holding links that lead out of the allowed roots (bounded walk)."""
        if not value.startswith("/") or _GLOB.search(value):
            return
        seen = 0
        for dirpath, dirnames, filenames in os.walk(value, followlinks=False):
            for name in (*dirnames, *filenames):
                seen += 1
                full = os.path.join(dirpath, name)
                if os.path.islink(full):
                    self.local(os.path.realpath(full), field)
            if seen > limit:
                return
