"""CommandJobService: create command jobs, standalone (``job create -f job.yml``) or as pipeline steps.

The pipeline engine codes against ``create_run``, ``resolve_inputs`` and ``default_output``: it
builds each step's ``CommandRunSpec`` from the step's component and hands it over; the job is then
an ordinary job row (``type = "command"``) that the shared lifecycle runs (driver, cancel, resume,
the server's queue).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.command_jobs import inputs as io
from batchpoint.command_jobs.runspec import CommandRunSpec, ResolvedInput, ResolvedOutput
from batchpoint.command_jobs.specs import CommandJobSpec
from batchpoint.common import expressions, names, refs, validation
from batchpoint.common.paths import resolve_relative
from batchpoint.endpoints import snapshot
from batchpoint.errors import BatchpointError, InvalidInput
from batchpoint.jobs.invoke import check_experiment_name
from batchpoint.jobs.schemas import Job

if TYPE_CHECKING:
    from batchpoint.components.specs import InputPort
    from batchpoint.services import Services

JOB_TYPE = "command"
_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.S)


class CommandJobService:
    def __init__(self, ctx: Services) -> None:
        self.ctx = ctx

    # -- the pipeline engine's interface -----------------------------------------------------------
    def resolve_inputs(
        self,
        raw: Mapping[str, Any],
        *,
        base_dir: Path | None,
        file: str | None,
        declared: Mapping[str, InputPort] | Mapping[str, Any] | None,
        owner: str = "the job",
    ) -> dict[str, ResolvedInput]:
        """Inputs to local paths / literal texts (see ``command_jobs/inputs.py``); with ``declared``
        ports, defaults fill in, required ones are checked and undeclared ones refused."""
        return io.resolve_inputs(self.ctx, raw, base_dir=base_dir, file=file, declared=declared, owner=owner)

    def default_output(self, job_name: str, output_name: str, port_type: str) -> ResolvedOutput:
        return io.default_output(self.ctx, job_name, output_name, port_type)

    def create_run(
        self,
        run: CommandRunSpec,
        *,
        name: str,
        parent_job_name: str | None,
        experiment_name: str,
        start: bool = True,
        invoked_by: str | None = None,
        source_dir: Path | None = None,
    ) -> Job:
        """Store the job (Queued) and, with ``start``, launch its driver; the server passes ``start=False``
        and its queue starts it. ``invoked_by``: whose job it is, when not this caller's (a pipeline's step).
        ``source_dir``: the folder the code came from (its git facts are recorded on the job's run)."""
        names.job_name(name, "name")
        check_rendering(run, owner=f"job '{name}'")
        self.ctx.jobs.add(
            name, type=JOB_TYPE, parent_job_name=parent_job_name, experiment_name=experiment_name,
            spec=run.model_dump(mode="json"), fingerprint=run.fingerprint, invoked_by=invoked_by,
            source_dir=source_dir,
        )  # fmt: skip
        if start:
            self.ctx.jobs.start_driver(name, 1, run.compute.get("type"))
        return self.ctx.jobs.get(name)

    # -- standalone command jobs -------------------------------------------------------------------
    def create_from_spec(
        self,
        data: Mapping[str, Any],
        *,
        base_dir: Path | None,
        file: str | None,
        name: str | None = None,
        start: bool = True,
    ) -> Job:
        """A ``type: command`` job from its YAML mapping; paths are relative to ``base_dir``."""
        spec = validation.parse(CommandJobSpec, dict(data), file=file)
        job_name = names.job_name(name, "name") if name else spec.name or _generated_name()
        try:
            run = self.run_spec(spec, job_name, base_dir=base_dir, file=file)
            experiment = check_experiment_name(spec.experiment_name) or default_experiment(base_dir)
            return self.create_run(
                run, name=job_name, parent_job_name=None, experiment_name=experiment, start=start,
                source_dir=_source_dir(spec.code, base_dir),
            )  # fmt: skip
        except BatchpointError as exc:
            if file and not exc.file:
                exc.file = file
            raise

    def run_spec(
        self, spec: CommandJobSpec, job_name: str, *, base_dir: Path | None, file: str | None
    ) -> CommandRunSpec:
        _check_inputs_given(spec, job_name, file)
        inputs = self.resolve_inputs(spec.inputs, base_dir=base_dir, file=file, declared=None)
        outputs = {
            out: io.resolve_output(self.ctx, job_name, out, value, base_dir=base_dir, file=file)
            for out, value in spec.outputs.items()
        }
        compute = self.ctx.computes.resolve(spec.compute, file=file)
        return CommandRunSpec(
            command=spec.command,
            code=self.snapshot_code(spec.code, base_dir=base_dir, file=file),
            environment=self.resolve_environment(spec.environment, base_dir=base_dir, file=file),
            compute=compute.model_dump(mode="json"),
            inputs=inputs,
            outputs=outputs,
            environment_variables=spec.environment_variables,
            display_name=spec.display_name,
            description=spec.description,
            tags=spec.tags,
            timeout_seconds=float(spec.limits.timeout) if spec.limits and spec.limits.timeout else None,
        )

    def snapshot_code(
        self, value: str | None, *, base_dir: Path | None, file: str | None, field: str = "code"
    ) -> str | None:
        """The code folder stored as a snapshot (``.amlignore``/``.gitignore`` honoured); its manifest sha."""
        if value is None:
            return None
        if snapshot.is_snapshot(value):
            digest, _ = snapshot.existing(self.ctx.artifacts, value, field=field, file=file)
            return digest
        if refs.is_reference(value) or "://" in value:
            raise InvalidInput(
                f"'{value}': code assets and URIs are not supported; point 'code' at a local folder",
                field=field,
                file=file,
            )
        from batchpoint.command_jobs import code

        folder = resolve_relative(value.removeprefix("file:"), base_dir, field, file=file)
        return code.take(self.ctx.artifacts, folder, exclude=self.ctx.layout.root, field=field, file=file)

    def resolve_environment(
        self,
        value: str | Mapping[str, Any] | None,
        *,
        base_dir: Path | None,
        file: str | None,
        field: str = "environment",
    ) -> str | None:
        """An environment reference or inline definition to the id of a registered version (None: batchpoint's)."""
        if value is None:
            return None
        if isinstance(value, Mapping):
            return self.ctx.environments.create_inline(dict(value), base_dir=base_dir, field=field, file=file).id
        return self.ctx.environments.resolve(value, field=field, file=file).id


def check_rendering(run: CommandRunSpec, *, owner: str, file: str | None = None) -> str:
    """The command rendered (so a bad ``${{...}}`` fails the create, not the job)."""
    return expressions.render_command(
        run.command, command_inputs(run), {k: v.path for k, v in run.outputs.items()}, owner=owner, file=file
    )


def _check_inputs_given(spec: CommandJobSpec, job_name: str, file: str | None) -> None:
    """A standalone job declares its inputs by giving them: one the command needs (outside ``$[[...]]``) must be there."""
    given = {name for name, value in spec.inputs.items() if value is not None}
    for ref in expressions.references(_OPTIONAL.sub("", spec.command), field="command", file=file):
        if len(ref.path) == 2 and ref.path[0] == "inputs" and ref.path[1] not in given:
            known = ", ".join(sorted(given)) or "none"
            raise InvalidInput(
                f"job '{job_name}': {ref.text} names input '{ref.path[1]}', which the job does not give (inputs: {known})",
                field="command",
                file=file,
            )


def command_inputs(run: CommandRunSpec) -> dict[str, str | None]:
    """What each ``${{inputs.x}}`` becomes; an input the command names but that is not set is None
    (kept out with its ``$[[...]]`` fragment, an error elsewhere)."""
    values: dict[str, str | None] = {k: v.text for k, v in run.inputs.items()}
    for ref in expressions.references(run.command):
        if len(ref.path) == 2 and ref.path[0] == "inputs" and ref.path[1] not in values:
            values[ref.path[1]] = None
    return values


def _generated_name() -> str:
    return f"cmdjob-{uuid.uuid4().hex[:12]}"


def default_experiment(base_dir: Path | None) -> str:
    """Azure files a job without ``experiment_name`` under the name of the folder it was created from."""
    name = (base_dir or Path.cwd()).resolve().name
    return name if name and name.isprintable() and len(name) <= 255 else "Default"


def create_command_job(
    ctx: Services,
    data: Mapping[str, Any],
    *,
    base_dir: Path | None,
    file: str | None,
    name: str | None = None,
    start: bool = True,
) -> Job:
    """``jobs/kinds.py: CREATORS["command"]``: a command job from its YAML mapping."""
    return CommandJobService(ctx).create_from_spec(data, base_dir=base_dir, file=file, name=name, start=start)


def _source_dir(code: str | None, base_dir: Path | None) -> Path | None:
    """The local folder a job's code came from (the YAML's folder when it names none), for its git facts."""
    if code is not None and (snapshot.is_snapshot(code) or refs.is_reference(code) or "://" in code):
        return None
    base = base_dir or Path.cwd()
    return (base / code.removeprefix("file:")).resolve() if code else base.resolve()
