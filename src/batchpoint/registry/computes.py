"""Computes: named targets that jobs run on.

``local`` runs worker processes on this machine; ``amlcompute`` is treated as a local cluster so
Azure deployment files that name ``azureml:batch-cluster`` run unchanged once that name exists;
``ray`` points at a Ray cluster. A compute named ``local`` is built in: it always exists, is never
stored, and has one instance per CPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from batchpoint.common import names, validation
from batchpoint.common.timefmt import to_datetime
from batchpoint.errors import BatchpointError, Conflict, InvalidInput, NotFound
from batchpoint.registry.schemas import Compute
from batchpoint.registry.specs import ComputeSpec, load_spec
from batchpoint.registry.versioned import deployments_using, refuse_in_use, with_file
from batchpoint.store.tables import BatchDeploymentRow, ComputeRow

if TYPE_CHECKING:
    from batchpoint.services import Services

BUILTIN = "local"
UPDATABLE = ("description", "tags", "min_instances", "max_instances", "address", "resources")


def builtin_local() -> Compute:
    return Compute(
        name=BUILTIN,
        type="local",
        description="Built in: worker processes on this machine.",
        max_instances=os.cpu_count() or 1,
    )


class ComputeService:
    """Registers, updates and resolves computes."""

    def __init__(self, ctx: Services) -> None:
        self.ctx = ctx

    def create(self, spec: ComputeSpec, *, file: str | None = None) -> Compute:
        if spec.name == BUILTIN:
            raise Conflict(f"'{BUILTIN}' is the built-in compute; choose another name", field="name", file=file)
        max_instances = spec.max_instances
        if max_instances is None:
            default = (os.cpu_count() or 1) if spec.type == "local" else 1
            max_instances = max(default, spec.min_instances)
        try:
            with self.ctx.db.session() as s:
                if self._find(s, spec.name) is not None:
                    raise Conflict(f"compute '{spec.name}' already exists", field="name")
                row = ComputeRow(
                    name=spec.name,
                    type=spec.type,
                    description=spec.description,
                    tags=spec.tags,
                    min_instances=spec.min_instances,
                    max_instances=max_instances,
                    address=spec.address,
                    resources=spec.resources,
                )
                s.add(row)
                s.flush()
        except IntegrityError:
            raise Conflict(f"compute '{spec.name}' already exists", field="name") from None
        except BatchpointError as exc:
            raise with_file(exc, file) from None
        return self._to_schema(row)

    def create_from_file(
        self, path: Path, /, *, overrides: list[tuple[str, Any]] | None = None, **fields: Any
    ) -> Compute:
        """Register from a compute YAML (Azure ``amlCompute`` form, or batchpoint's local/ray)."""
        path = Path(path)
        spec = load_spec(ComputeSpec, path, fields=fields, pairs=overrides, path_fields=())
        return self.create(spec, file=str(path))

    def get(self, name: str) -> Compute:
        if name == BUILTIN:
            return builtin_local()
        with self.ctx.db.read() as s:
            row = self._find(s, name)
            if row is None:
                raise NotFound(f"compute '{name}' does not exist", hint=self._hint(name))
            return self._to_schema(row)

    def resolve(self, ref: str | None, *, field: str = "compute", file: str | None = None) -> Compute:
        """``azureml:NAME`` or ``NAME``; None or ``local`` is the built-in local compute."""
        if ref is None:
            return builtin_local()
        name = ref.removeprefix("azureml:") if isinstance(ref, str) else ref
        try:
            names.asset_name(name, field)
            return self.get(name)
        except NotFound as exc:
            raise NotFound(f"'{ref}': {exc.message}", field=field, file=file, hint=exc.hint) from None
        except InvalidInput as exc:
            raise with_file(exc, file) from None

    def list(self) -> list[Compute]:
        """The built-in ``local`` first, then the registered computes by name."""
        with self.ctx.db.read() as s:
            rows = list(s.scalars(select(ComputeRow).order_by(ComputeRow.name)))
            return [builtin_local(), *(self._to_schema(r) for r in rows)]

    def update(self, name: str, **fields: Any) -> Compute:
        """Change settings (``max_instances``, ``tags``...); the result is validated like a new spec."""
        if name == BUILTIN:
            raise InvalidInput(f"the built-in compute '{BUILTIN}' cannot be changed", field="name")
        unknown = sorted(set(fields) - set(UPDATABLE))
        if unknown:
            raise InvalidInput(f"cannot update {', '.join(unknown)}; updatable: {', '.join(UPDATABLE)}")
        with self.ctx.db.session() as s:
            row = self._find(s, name)
            if row is None:
                raise NotFound(f"compute '{name}' does not exist", hint=self._hint(name))
            current = self._to_schema(row).model_dump(include={"name", "type", *UPDATABLE})
            given = {k: v for k, v in fields.items() if v is not None}
            if isinstance(given.get("tags"), dict):
                given["tags"] = {**current["tags"], **given["tags"]}
            spec = validation.parse(ComputeSpec, {**current, **given})
            for key in UPDATABLE:
                setattr(row, key, getattr(spec, key))
            return self._to_schema(row)

    def delete(self, name: str) -> None:
        """Remove a compute; refused while a deployment names it."""
        if name == BUILTIN:
            raise InvalidInput(f"the built-in compute '{BUILTIN}' cannot be deleted", field="name")
        with self.ctx.db.session() as s:
            row = self._find(s, name)
            if row is None:
                raise NotFound(f"compute '{name}' does not exist", hint=self._hint(name))
            refuse_in_use(f"compute '{name}'", deployments_using(s, lambda d: _compute_of(d) == name), "delete")
            s.delete(row)

    @staticmethod
    def _find(s: Session, name: str) -> ComputeRow | None:
        return s.scalars(select(ComputeRow).where(ComputeRow.name == name)).first()

    @staticmethod
    def _hint(name: str) -> str:
        return f"create it with 'batchpoint compute create -n {name} --type amlcompute', or use 'local'"

    @staticmethod
    def _to_schema(row: ComputeRow) -> Compute:
        return Compute(
            name=row.name,
            type=row.type,
            description=row.description,
            tags=row.tags or {},
            min_instances=row.min_instances,
            max_instances=row.max_instances,
            address=row.address,
            resources=row.resources or {},
            created_at=to_datetime(row.created_at),
        )


def _compute_of(row: BatchDeploymentRow) -> str | None:
    spec = row.spec or {}
    # Model deployments name their compute; pipeline deployments keep it as their default_compute.
    ref = spec.get("compute") or (spec.get("pipeline_settings") or {}).get("default_compute")
    return ref.removeprefix("azureml:") if isinstance(ref, str) else None
