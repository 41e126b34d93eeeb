"""Components: named, versioned command, parallel and pipeline definitions, stored resolved.

Registering resolves everything a later run would otherwise look up again: the code folder becomes
a snapshot (``snapshot:<sha>``, what it ignores left out), the environment an id
(``azureml:NAME:VERSION``, an inline one registered as environments register inline ones), and
each step of a pipeline component names a stored component by id. So a version means the same
thing forever, and ``content_hash`` (over what decides what runs) says when two definitions are
the same.

Local files and inline definitions that a pipeline names (``component: ./train.yml``,
``component: {type: command, ...}``) are stored as *anonymous* versions: named as written (or
``azureml_anonymous``), versioned by their content hash, hidden from listings and ``@latest``. The
same definition resolves to the same row, so re-running a pipeline adds nothing.

As in Azure ML, registering a version that exists returns it when the definition is the same, and
is a ``Conflict`` when it differs. Without a version, the next number is taken, unless the latest
version has the same definition: then that one is returned, so registering a file twice adds nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from batchpoint.common import expressions, yamlio
from batchpoint.common.paths import resolve_relative
from batchpoint.common.timefmt import to_datetime
from batchpoint.components.schemas import Component
from batchpoint.components.specs import (
    CommandComponentSpec,
    ComponentSpec,
    InputPort,
    ParallelComponentSpec,
    PipelineComponentSpec,
    is_local_file,
    load_local,
    parse_component,
)
from batchpoint.endpoints import snapshot
from batchpoint.errors import BatchpointError, Conflict, InvalidInput
from batchpoint.registry.specs import merge_fields
from batchpoint.registry.versioned import VersionedRows, VersionedService, deployments_using, latest_of, with_file
from batchpoint.store.tables import ComponentRow

if TYPE_CHECKING:
    from batchpoint.services import Services

ANONYMOUS_NAME = "azureml_anonymous"
"""The name of an anonymous component given without one (Azure ML's)."""
HASHED = (
    "type",
    "command",
    "inputs",
    "outputs",
    "code",
    "environment",
    "environment_spec_hash",
    "environment_variables",
    "is_deterministic",
    "jobs",
    "parallel",
)


def content_hash(definition: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of what decides what a component runs (not its name or description)."""
    hashed = {key: definition.get(key) for key in HASHED}
    return hashlib.sha256(json.dumps(hashed, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class ComponentRows(VersionedRows[ComponentRow]):
    """Versioned rows without the anonymous ones, unless asked: they never show up as anyone's latest."""

    def all(
        self,
        s: Session,
        name: str | None = None,
        *,
        include_archived: bool = False,
        include_anonymous: bool = False,
    ) -> list[ComponentRow]:
        rows = super().all(s, name, include_archived=include_archived)
        return rows if include_anonymous else [r for r in rows if not r.anonymous]


class ComponentService(VersionedService[ComponentRow, Component]):
    """Registers, resolves, lists, archives and restores components."""

    def __init__(self, ctx: Services) -> None:
        super().__init__(ctx, ComponentRows(ComponentRow, "component", "component"))

    # -- registering ---------------------------------------------------------------------------------
    def create(self, spec: ComponentSpec, *, base_dir: Path | None = None, file: str | None = None) -> Component:
        """Register a version (the next integer when none is given); relative paths are relative to ``base_dir``."""
        if spec.name is None:
            raise InvalidInput("a component needs a name to be registered", field="name", file=file)
        definition = self._definition(spec, base_dir, file, "", ())
        return self._store(spec, spec.name, definition, anonymous=False, file=file)

    def create_from_file(
        self,
        path: Path,
        /,
        *,
        name: str | None = None,
        version: str | None = None,
        set_pairs: list[tuple[str, Any]] | None = None,
    ) -> Component:
        """Register from a component YAML; ``--set`` pairs, then ``name``/``version``, are laid over the file."""
        path = Path(path)
        spec = load_component_file(path, name=name, version=version, set_pairs=set_pairs)
        return self.create(spec, base_dir=path.resolve().parent, file=str(path))

    # -- resolving -----------------------------------------------------------------------------------
    def resolve(
        self,
        ref: str | dict[str, Any],
        *,
        base_dir: Path | None = None,
        field: str = "component",
        file: str | None = None,
    ) -> Component:
        """The stored component ``ref`` names, storing it (anonymous) when it is a local file or inline.

        ``ref``: ``azureml:NAME:VERSION``, ``azureml:NAME@latest``, ``NAME:VERSION``, a YAML path
        (relative to ``base_dir``; ``file:`` prefix allowed), ``snapshot:<sha>/<path>`` (a file of a
        stored snapshot), or a mapping (a step's ``component:`` given inline).
        """
        return self._resolve_ref(ref, base_dir, field, file, ())

    def _resolve_ref(
        self, ref: Any, base_dir: Path | None, field: str, file: str | None, stack: tuple[Path, ...]
    ) -> Component:
        if isinstance(ref, dict):
            spec = parse_component(ref, file=file, prefix=field)
            return self._anonymous(spec, base_dir, file, f"{field}.", stack)
        if not isinstance(ref, str) or not ref:
            raise InvalidInput(
                "expected a component: 'azureml:NAME:VERSION', 'azureml:NAME@latest', a YAML path or a mapping",
                field=field,
                file=file,
            )
        if snapshot.is_snapshot(ref):
            path = self._snapshot_file(ref, field, file)
            spec = parse_component(yamlio.load_file(path), file=str(path))
            return self._anonymous(spec, path.parent, str(path), "", (*stack, path))
        if is_local_file(ref):
            spec, path = load_local(ref, base_dir, field, file, stack)
            return self._anonymous(spec, path.parent, str(path), "", (*stack, path))
        return self._resolve(ref, field, file)

    def _snapshot_file(self, ref: str, field: str, file: str | None) -> Path:
        """The YAML file ``snapshot:<sha>/<path>`` names, materialised (read-only) from the artifact store."""
        digest, manifest = snapshot.existing(self.ctx.artifacts, ref, field=field, file=file)
        inner = ref.split("/", 1)[1] if "/" in ref else ""
        if not inner or not snapshot.contains(manifest, inner):
            raise InvalidInput(f"'{ref}' names no file of its snapshot", field=field, file=file)
        root = self.ctx.artifacts.materialise(digest, self.ctx.layout.cache / "component-snapshots" / digest)
        return root / inner

    def _anonymous(
        self, spec: ComponentSpec, base_dir: Path | None, file: str | None, prefix: str, stack: tuple[Path, ...]
    ) -> Component:
        definition = self._definition(spec, base_dir, file, prefix, stack)
        return self._store(spec, spec.name or ANONYMOUS_NAME, definition, anonymous=True, file=file)

    # -- the stored definition -----------------------------------------------------------------------
    def _definition(
        self, spec: ComponentSpec, base_dir: Path | None, file: str | None, prefix: str, stack: tuple[Path, ...]
    ) -> dict[str, Any]:
        try:
            if isinstance(spec, CommandComponentSpec):
                body = self._command(spec, base_dir, file, prefix)
            elif isinstance(spec, ParallelComponentSpec):
                body = self._parallel(spec, base_dir, file, prefix)
            else:
                body = self._pipeline(spec, base_dir, file, prefix, stack)
        except BatchpointError as exc:
            raise with_file(exc, file) from None
        return {
            "type": spec.type,
            "display_name": spec.display_name,
            "inputs": {k: p.model_dump(mode="json", exclude_none=True) for k, p in spec.inputs.items()},
            "outputs": {k: p.model_dump(mode="json", exclude_none=True) for k, p in spec.outputs.items()},
            **body,
        }

    def _command(
        self, spec: CommandComponentSpec, base_dir: Path | None, file: str | None, prefix: str
    ) -> dict[str, Any]:
        owner = f"component '{spec.name or ANONYMOUS_NAME}'"
        # Every reference of the command must name a declared port; values here only stand in.
        expressions.render_command(
            spec.command,
            dict.fromkeys(spec.inputs, "x"),
            dict.fromkeys(spec.outputs, "x"),
            owner=owner,
            field=f"{prefix}command",
            file=file,
        )
        environment, env_hash = self._environment(spec.environment, base_dir, file, prefix)
        return {
            "command": spec.command,
            "code": self._code(spec.code, base_dir, file, f"{prefix}code"),
            "environment": environment,
            "environment_spec_hash": env_hash,
            "environment_variables": dict(spec.environment_variables),
            "is_deterministic": spec.is_deterministic,
            "resources": spec.resources,
            "distribution": spec.distribution,
        }

    def _parallel(
        self, spec: ParallelComponentSpec, base_dir: Path | None, file: str | None, prefix: str
    ) -> dict[str, Any]:
        from batchpoint.components.parallel import check_parallel, parallel_settings

        check_parallel(spec, owner=f"component '{spec.name or ANONYMOUS_NAME}'", prefix=prefix, file=file)
        environment, env_hash = self._environment(spec.task.environment, base_dir, file, f"{prefix}task.")
        return {
            "code": self._code(spec.task.code, base_dir, file, f"{prefix}task.code"),
            "environment": environment,
            "environment_spec_hash": env_hash,
            "environment_variables": dict(spec.environment_variables),
            "is_deterministic": spec.is_deterministic,
            "resources": spec.resources,
            "parallel": parallel_settings(spec),
        }

    def _code(self, value: str | None, base_dir: Path | None, file: str | None, field: str) -> str | None:
        if value is None:
            return None
        if snapshot.is_snapshot(value):
            digest, _ = snapshot.existing(self.ctx.artifacts, value, field=field, file=file)
            return f"{snapshot.PREFIX}{digest}"
        from batchpoint.command_jobs import code  # the same snapshot rules as a command job's code

        folder = resolve_relative(value, base_dir, field, file=file)
        if not folder.exists():
            raise InvalidInput(f"code folder '{folder}' does not exist", field=field, file=file)
        digest = code.take(self.ctx.artifacts, folder, exclude=self.ctx.layout.root, field=field, file=file)
        return f"{snapshot.PREFIX}{digest}"

    def _environment(
        self, value: str | dict[str, Any] | None, base_dir: Path | None, file: str | None, prefix: str
    ) -> tuple[str | None, str | None]:
        field = f"{prefix}environment"
        if value is None:
            return None, None
        if isinstance(value, dict):
            env = self.ctx.environments.create_inline(value, base_dir=base_dir, field=field, file=file)
        else:
            env = self.ctx.environments.resolve(value, field=field, file=file)
        return env.id, env.spec_hash

    def _pipeline(
        self,
        spec: PipelineComponentSpec,
        base_dir: Path | None,
        file: str | None,
        prefix: str,
        stack: tuple[Path, ...],
    ) -> dict[str, Any]:
        jobs: dict[str, dict[str, Any]] = {}
        used: dict[str, Component] = {}
        for step, body in spec.jobs.items():
            field = f"{prefix}jobs.{step}"
            if "component" not in body:
                raise InvalidInput(
                    "a step of a pipeline component needs a 'component:' (a reference, a YAML path or an inline "
                    "component)",
                    field=f"{field}.component",
                    file=file,
                )
            component = self._resolve_ref(body["component"], base_dir, f"{field}.component", file, stack)
            kind = body.get("type")
            if kind is not None and kind != component.type:
                raise InvalidInput(
                    f"the step is of type '{kind}' but its component is a {component.type} component",
                    field=f"{field}.type",
                    file=file,
                )
            used[step] = component
            jobs[step] = {**body, "type": component.type, "component": component.id}
        check_bindings(spec, used, prefix=prefix, file=file)
        return {"jobs": jobs, "settings": spec.settings}

    # -- storing -------------------------------------------------------------------------------------
    def _store(
        self, spec: ComponentSpec, name: str, definition: dict[str, Any], *, anonymous: bool, file: str | None
    ) -> Component:
        digest = content_hash(definition)
        version = digest[:16] if anonymous else spec.version
        try:
            with self.ctx.db.session() as s:
                if version is not None:
                    existing = self.rows.find(s, name, version)
                    if existing is not None:
                        return self._same_or_conflict(existing, digest)
                else:  # registering the same file again adds no version
                    latest = latest_of(self.rows.all(s, name))
                    if latest is not None and latest.content_hash == digest:
                        return self._to_schema(latest)
                row = ComponentRow(
                    name=name,
                    version=version or self.rows.next_version(s, name),
                    description=spec.description,
                    tags=spec.tags,
                    properties=spec.properties,
                    type=spec.type,
                    spec=definition,
                    content_hash=digest,
                    anonymous=anonymous,
                    created_by=self.ctx.actor,
                )
                s.add(row)
                s.flush()
                return self._to_schema(row)
        except IntegrityError:
            if anonymous:  # the same definition stored at the same moment by another caller: the same row
                with self.ctx.db.read() as s:
                    found = self.rows.find(s, name, str(version))
                    if found is not None:
                        return self._same_or_conflict(found, digest)
            raise Conflict(f"component '{name}' got the same version twice at once; try again") from None
        except BatchpointError as exc:
            raise with_file(exc, file) from None

    def _same_or_conflict(self, row: ComponentRow, digest: str) -> Component:
        if row.content_hash == digest:
            return self._to_schema(row)
        raise Conflict(
            f"component '{row.name}' version '{row.version}' already exists with a different definition; "
            "versions are immutable",
            field="version",
            hint="leave the version out to get the next number, or pick another version",
        )

    # -- reading -------------------------------------------------------------------------------------
    def _users(self, s: Session, name: str, versions: list[str]) -> list[str]:
        wanted = {f"azureml:{name}:{v}" for v in versions}
        return deployments_using(s, lambda d: (d.spec or {}).get("component") in wanted)

    def find_by_hash(self, digest: str) -> list[Component]:
        """Every version (any name, anonymous ones too) whose definition hashes to ``digest``."""
        with self.ctx.db.read() as s:
            rows = s.scalars(select(ComponentRow).where(ComponentRow.content_hash == digest))
            return [self._to_schema(r) for r in rows]

    def _to_schema(self, row: ComponentRow) -> Component:
        spec = row.spec or {}
        return Component(
            name=row.name,
            version=row.version,
            type=row.type,
            display_name=spec.get("display_name"),
            description=row.description,
            tags=row.tags or {},
            properties=row.properties or {},
            inputs=spec.get("inputs") or {},
            outputs=spec.get("outputs") or {},
            code=spec.get("code"),
            command=spec.get("command"),
            environment=spec.get("environment"),
            environment_variables=spec.get("environment_variables") or {},
            is_deterministic=spec.get("is_deterministic", True),
            resources=spec.get("resources"),
            jobs=spec.get("jobs"),
            settings=spec.get("settings"),
            parallel=spec.get("parallel"),
            content_hash=row.content_hash,
            anonymous=row.anonymous,
            archived=row.archived,
            created_at=to_datetime(row.created_at),
            created_by=row.created_by,
        )


def load_component_file(
    path: Path,
    *,
    name: str | None = None,
    version: str | None = None,
    set_pairs: list[tuple[str, Any]] | None = None,
) -> ComponentSpec:
    """A component YAML with ``--set`` pairs and then ``--name``/``--version`` laid over it, parsed."""
    data = yamlio.load_file(path)
    merge_fields(data, {"name": name, "version": version}, set_pairs, path_fields=())
    return parse_component(data, file=str(path))


def check_bindings(
    spec: PipelineComponentSpec, used: dict[str, Component], *, prefix: str = "", file: str | None = None
) -> None:
    """The steps' ``inputs:``/``outputs:`` against the ports: what is bound exists, what is needed is bound.

    The pipeline engine checks a pipeline job the same way when it runs; these are the errors a
    pipeline component can show when it is registered, naming the step, the port and the expression.
    """
    for step, body in spec.jobs.items():
        component = used[step]
        owner = f"component '{component.name}'"
        given = body.get("inputs") or {}
        if not isinstance(given, dict):
            raise InvalidInput("expected a mapping of input names", field=f"{prefix}jobs.{step}.inputs", file=file)
        for key, value in given.items():
            field = f"{prefix}jobs.{step}.inputs.{key}"
            if key not in component.inputs:
                known = ", ".join(sorted(component.inputs)) or "none"
                raise InvalidInput(f"{owner} has no input '{key}' (inputs: {known})", field=field, file=file)
            _check_source(spec, used, step, value, field, file)
        for key, port in component.inputs.items():
            if key not in given and not _can_be_left_out(port):
                raise InvalidInput(
                    f"{owner} needs input '{key}' (not optional, no default); bind it, e.g. "
                    f"${{{{parent.inputs.{key}}}}}",
                    field=f"{prefix}jobs.{step}.inputs",
                    file=file,
                )
        _check_step_outputs(spec, step, component, body.get("outputs"), prefix, file)
    _refuse_cycles(spec, prefix, file)


def _check_step_outputs(
    spec: PipelineComponentSpec, step: str, component: Component, given: Any, prefix: str, file: str | None
) -> None:
    owner = f"component '{component.name}'"
    outputs = given or {}
    if not isinstance(outputs, dict):
        raise InvalidInput("expected a mapping of output names", field=f"{prefix}jobs.{step}.outputs", file=file)
    for key, value in outputs.items():
        field = f"{prefix}jobs.{step}.outputs.{key}"
        if key not in component.outputs:
            known = ", ".join(sorted(component.outputs)) or "none"
            raise InvalidInput(f"{owner} has no output '{key}' (outputs: {known})", field=field, file=file)
        ref = expressions.binding(value, field=field, file=file)
        if ref is None:
            continue
        if ref.path[:2] != ("parent", "outputs") or len(ref.path) != 3:
            raise InvalidInput(
                f"{ref.text}: a step's output binds to the pipeline's outputs (${{{{parent.outputs.<name>}}}})",
                field=field,
                file=file,
            )
        if ref.path[2] not in spec.outputs:
            raise InvalidInput(f"{ref.text} names pipeline output '{ref.path[2]}', which is not declared",
                               field=field, file=file)  # fmt: skip


def _refuse_cycles(spec: PipelineComponentSpec, prefix: str, file: str | None) -> None:
    """Steps that wait on each other's outputs could never start."""
    after: dict[str, set[str]] = {}
    for step, body in spec.jobs.items():
        after[step] = set()
        for value in (body.get("inputs") or {}).values():
            raw = value.get("path") if isinstance(value, dict) else value
            ref = expressions.binding(raw)
            if ref is not None and len(ref.path) == 5 and ref.path[:2] == ("parent", "jobs"):
                after[step].add(ref.path[2])
    state: dict[str, int] = {}

    def visit(step: str, chain: list[str]) -> None:
        if state.get(step) == 2:
            return
        if state.get(step) == 1:
            loop = " -> ".join([*chain[chain.index(step) :], step])
            raise InvalidInput(f"the steps depend on each other in a loop: {loop}", field=f"{prefix}jobs", file=file)
        state[step] = 1
        for source in sorted(after[step]):
            visit(source, [*chain, step])
        state[step] = 2

    for step in spec.jobs:
        visit(step, [])


def _can_be_left_out(port: InputPort) -> bool:
    return port.optional or port.default is not None


def _check_source(
    spec: PipelineComponentSpec,
    used: dict[str, Component],
    step: str,
    value: Any,
    field: str,
    file: str | None,
) -> None:
    """A step input bound to ``${{parent.inputs.x}}`` or ``${{parent.jobs.s.outputs.o}}`` names what exists."""
    raw = value.get("path") if isinstance(value, dict) else value
    ref = expressions.binding(raw, field=field, file=file)
    if ref is None:
        if isinstance(raw, str) and "${{" in raw:
            raise InvalidInput(f"'{raw}': a binding must be the whole value", field=field, file=file)
        return
    path = ref.path
    if len(path) == 3 and path[:2] == ("parent", "inputs"):
        if path[2] not in spec.inputs:
            known = ", ".join(sorted(spec.inputs)) or "none"
            raise InvalidInput(f"{ref.text} names pipeline input '{path[2]}', which is not declared (inputs: {known})",
                               field=field, file=file)  # fmt: skip
        return
    if len(path) == 5 and path[:2] == ("parent", "jobs") and path[3] == "outputs":
        source, output = path[2], path[4]
        if source not in used or source == step:
            raise InvalidInput(f"{ref.text} names step '{source}', which is not another step of this pipeline",
                               field=field, file=file)  # fmt: skip
        if output not in used[source].outputs:
            raise InvalidInput(f"{ref.text}: component '{used[source].name}' has no output '{output}'",
                               field=field, file=file)  # fmt: skip
        return
    raise InvalidInput(
        f"{ref.text} cannot bind a step input; use ${{{{parent.inputs.<name>}}}} or "
        "${{parent.jobs.<step>.outputs.<name>}}",
        field=field,
        file=file,
    )


__all__ = ["ANONYMOUS_NAME", "ComponentService", "check_bindings", "content_hash", "load_component_file"]
