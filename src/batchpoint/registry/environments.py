"""Environments: named, versioned Python dependency definitions.

The conda file and the requirements file are read when the environment is registered and their
content is stored, so a version means the same dependencies forever even if the files change.
``spec_hash`` identifies the dependencies (image, conda content, pip lines, Python version); the
builder caches virtual environments by it, and inline environments of deployments reuse a version
that has the same hash instead of piling up copies.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from batchpoint.common import validation, yamlio
from batchpoint.common.paths import must_exist, resolve_relative
from batchpoint.common.timefmt import to_datetime
from batchpoint.errors import BatchpointError, Conflict, InvalidInput, NotFound
from batchpoint.registry.schemas import Environment
from batchpoint.registry.specs import EnvironmentSpec, load_spec
from batchpoint.registry.versioned import VersionedRows, VersionedService, deployments_using, with_file
from batchpoint.store.tables import EnvironmentRow

if TYPE_CHECKING:
    from batchpoint.environments.builder import EnvironmentBuild
    from batchpoint.services import Services

PATH_FIELDS = ("conda_file", "pip_requirements")
HASHED = ("image", "conda_file", "pip_requirements", "python_version")
ANONYMOUS_PREFIX = "anon-env-"


class CuratedWarning(UserWarning):
    """A curated environment was registered as a local approximation of Azure's image."""


def spec_hash(definition: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of what decides the installed packages."""
    hashed = {key: definition.get(key) for key in HASHED}
    return hashlib.sha256(json.dumps(hashed, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _requirement_lines(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


class EnvironmentService(VersionedService[EnvironmentRow, Environment]):
    """Registers and finds environments; building them is the builder's job."""

    def __init__(self, ctx: Services) -> None:
        super().__init__(ctx, VersionedRows(EnvironmentRow, "environment", "environment"))

    # -- registering ---------------------------------------------------------------------------------
    def create(self, spec: EnvironmentSpec, *, base_dir: Path | None = None, file: str | None = None) -> Environment:
        definition = self._definition(spec, base_dir, file)
        return self._insert(spec, definition, file)

    def create_from_file(
        self, path: Path, /, *, overrides: list[tuple[str, Any]] | None = None, **fields: Any
    ) -> Environment:
        """Register from an environment YAML; relative file paths are relative to the YAML file."""
        path = Path(path)
        spec = load_spec(EnvironmentSpec, path, fields=fields, pairs=overrides, path_fields=PATH_FIELDS)
        return self.create(spec, base_dir=path.resolve().parent, file=str(path))

    def create_inline(
        self, data: dict[str, Any], *, base_dir: Path | None, field: str = "environment", file: str | None = None
    ) -> Environment:
        """A deployment's inline ``environment:`` mapping, registered once per distinct content.

        Without a name it becomes ``anon-env-<hash>``; an existing version with the same content is
        returned instead of adding a new one, so re-creating a deployment adds nothing.
        """
        if not isinstance(data, dict):
            raise InvalidInput("expected a mapping or a reference 'azureml:NAME:VERSION'", field=field, file=file)
        body = dict(data)
        anonymous = body.get("name") is None
        if anonymous:
            body["name"] = ANONYMOUS_PREFIX + "0"  # replaced once the hash is known
        try:
            spec = validation.parse(EnvironmentSpec, body, file=file, prefix=field)
            definition = self._definition(spec, base_dir, file, prefix=f"{field}.")
        except BatchpointError as exc:
            if exc.field and not exc.field.startswith(f"{field}."):
                exc.field = f"{field}.{exc.field}"
            raise
        digest = spec_hash(definition)
        if anonymous:
            spec = spec.model_copy(update={"name": ANONYMOUS_PREFIX + digest[:12]})
        with self.ctx.db.read() as s:
            for row in self.rows.all(s, spec.name):
                if row.spec_hash == digest and spec.version in (None, row.version):
                    return self._to_schema(row)
        return self._insert(spec, definition, file)

    def _definition(
        self, spec: EnvironmentSpec, base_dir: Path | None, file: str | None, prefix: str = ""
    ) -> dict[str, Any]:
        """The stored definition: file contents instead of file paths."""
        conda: Any = spec.conda_file
        if isinstance(conda, str):
            conda_path = must_exist(
                resolve_relative(conda, base_dir, f"{prefix}conda_file", file=file), f"{prefix}conda_file", file=file
            )
            try:
                conda = yamlio.load_file(conda_path)
            except InvalidInput as exc:
                exc.field = f"{prefix}conda_file"
                raise
        pip: Any = spec.pip_requirements
        if isinstance(pip, str):
            field = f"{prefix}pip_requirements"
            pip_path = must_exist(resolve_relative(pip, base_dir, field, file=file), field, file=file)
            try:
                pip = _requirement_lines(pip_path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"cannot read '{pip_path}': {exc}", field=field, file=file) from None
        elif isinstance(pip, list):
            pip = [line.strip() for line in pip if line.strip()]
        return {
            "image": spec.image,
            "conda_file": conda,
            "pip_requirements": pip,
            "python_version": spec.python_version,
            "build": spec.build,
            "inference_config": spec.inference_config,
            "os_type": spec.os_type.lower() if spec.os_type else None,
        }

    def _insert(self, spec: EnvironmentSpec, definition: dict[str, Any], file: str | None) -> Environment:
        try:
            with self.ctx.db.session() as s:
                version = spec.version or self.rows.next_version(s, spec.name)
                self.rows.refuse_duplicate(s, spec.name, version)
                row = EnvironmentRow(
                    name=spec.name,
                    version=version,
                    description=spec.description,
                    tags=spec.tags,
                    properties=spec.properties,
                    spec=definition,
                    spec_hash=spec_hash(definition),
                    created_by=self.ctx.actor,
                )
                s.add(row)
                s.flush()
        except IntegrityError:
            raise Conflict(f"environment '{spec.name}' got the same version twice at once; try again") from None
        except BatchpointError as exc:
            raise with_file(exc, file) from None
        return self._to_schema(row)

    # -- reading -------------------------------------------------------------------------------------
    def resolve(self, ref: str, *, field: str = "environment", file: str | None = None) -> Environment:
        """``azureml:NAME:VERSION`` / ``@latest``, or an Azure ML curated environment (``environments/curated.py``),
        registered here on first use."""
        from batchpoint.environments import curated

        found = curated.parse(ref, field=field, file=file) if isinstance(ref, str) else None
        if found is None:
            return self._resolve(ref, field, file)
        return self._curated(found)

    def _curated(self, ref: Any) -> Environment:
        from batchpoint.environments import curated

        entry: curated.Curated = ref.entry
        try:
            return self.get(entry.name, ref.version)
        except NotFound:
            pass
        approximation = entry.describe()
        spec = EnvironmentSpec(
            name=entry.name,
            version=ref.version or "1",
            description=f"Azure ML curated environment {entry.registry_name}"
            + (f", approximated locally as {approximation}" if entry.approximated else f": {approximation}"),
            tags={curated.TAG: approximation},
            image=entry.image,
            python_version=entry.python,
            pip_requirements=list(entry.pip) or None,
        )
        try:
            created = self.create(spec)
        except Conflict:  # registered by another job at the same moment
            return self.get(entry.name, ref.version)
        if entry.approximated:
            warnings.warn(
                f"curated environment {entry.name} is approximated locally as {approximation}",
                CuratedWarning,
                stacklevel=3,
            )
        return created

    def find_by_hash(self, digest: str) -> list[Environment]:
        """Every version (any name) whose dependencies hash to ``digest``."""
        with self.ctx.db.read() as s:
            rows = s.scalars(select(EnvironmentRow).where(EnvironmentRow.spec_hash == digest))
            return [self._to_schema(r) for r in rows]

    # -- building ------------------------------------------------------------------------------------
    def build(self, name: str, version: str | None = None, *, force: bool = False) -> EnvironmentBuild:
        """Build a version (the latest by default) into its cached virtual environment, or find it built."""
        from batchpoint.environments.builder import build_registered

        return build_registered(self.ctx, self.get(name, version), force=force)

    def _users(self, s: Session, name: str, versions: list[str]) -> list[str]:
        wanted = {f"{name}:{v}" for v in versions}

        def uses(row: Any) -> bool:
            ref = (row.spec or {}).get("environment")
            return isinstance(ref, str) and ref.removeprefix("azureml:") in wanted

        return deployments_using(s, uses)

    def _to_schema(self, row: EnvironmentRow) -> Environment:
        spec = row.spec or {}
        return Environment(
            name=row.name,
            version=row.version,
            description=row.description,
            tags=row.tags or {},
            properties=row.properties or {},
            image=spec.get("image"),
            conda_file=spec.get("conda_file"),
            pip_requirements=spec.get("pip_requirements"),
            python_version=spec.get("python_version"),
            build=spec.get("build"),
            inference_config=spec.get("inference_config"),
            spec_hash=row.spec_hash,
            archived=row.archived,
            created_at=to_datetime(row.created_at),
            created_by=row.created_by,
        )
