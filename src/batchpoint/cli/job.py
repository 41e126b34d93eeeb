"""``batchpoint job ...`` and the job commands of ``batch-endpoint`` (invoke, list-jobs) and ``batch-deployment``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from batchpoint.cli.common import ENDPOINT_FLAGS, FILE_FLAGS, OutputOpt, QueryOpt, SetOpt, client, state
from batchpoint.cli.entry import step_aside
from batchpoint.cli.output import JOB_COLUMNS, OutputFormat, emit
from batchpoint.errors import JobFailed

if TYPE_CHECKING:
    from batchpoint.jobs import downloads
    from batchpoint.jobs.schemas import Job

app = typer.Typer(no_args_is_help=True)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Job name.")]


def _finish_following(job: Job) -> None:
    """Exit 1 (``JobFailed``) unless the followed job completed; when it did, the command ends at once."""
    from batchpoint.cli.entry import leave_now
    from batchpoint.jobs.schemas import JobState

    if job.status is not JobState.completed:
        raise JobFailed(job.message or job.status.value)
    leave_now(0)


def _follow(name: str, follow: Callable[[], Job]) -> None:
    """Follow a job until it ends (exit 0, or 1 if it did not complete); Ctrl-C leaves it running: exit 130.

    Called once the job's driver is started: following must not take CPU from its workers.
    """
    try:
        step_aside()
        job = follow()
    except KeyboardInterrupt:
        _interrupted(name)
    _finish_following(job)


def _interrupted(name: str) -> NoReturn:
    """Ctrl-C while following: only the following stops (the job's driver runs in its own session)."""
    from batchpoint.cli.entry import leave_now

    sys.stdout.flush()
    sys.stderr.write(
        f"Stopped following job {name}: the job continues in the background; "
        f"cancel it with `batchpoint job cancel -n {name}`\n"
    )
    leave_now(130)  # as a shell reports a command ended by SIGINT
    raise typer.Exit(130)


@app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option(*FILE_FLAGS, help="The job's YAML (type: command or pipeline).")],
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Name of the job (default: the file's, else generated).")
    ] = None,
    set_: SetOpt = None,
    stream_: Annotated[bool, typer.Option("--stream", "-s", help="Follow the job's output until it ends.")] = False,
    web: Annotated[
        bool, typer.Option("--web", help="Accepted for Azure CLI scripts; there is no studio to open.")
    ] = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Create a job from a YAML file and start it (a command job runs its command; see docs/command-jobs.md).

    --set overrides fields of the file: --set inputs.lr=0.1 --set inputs.data.path=./other.
    """
    c = client(ctx)
    job = c.jobs.create(file, name=name, set=set_)
    emit(job, output, query, columns=JOB_COLUMNS)
    if stream_:
        sys.stdout.flush()
        _follow(job.name, lambda: c.jobs.stream(job.name))


@app.command("show")
def show(ctx: typer.Context, name: NameOpt, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Show a job: state in plain words, progress, first error, outputs."""
    from batchpoint.jobs import quickview

    # Polling loops call this every few seconds: read the row with sqlite3 when that is the same answer.
    state(ctx).note_workspace()
    job = quickview.get_job(state(ctx).workspace, name)
    emit(job if job is not None else client(ctx).jobs.get(name), output, query, columns=JOB_COLUMNS)


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    endpoint_name: Annotated[
        str | None, typer.Option(*ENDPOINT_FLAGS, help="Only the jobs of this batch endpoint.")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only jobs in this state (Running, Completed, ...).")
    ] = None,
    max_results: Annotated[
        int, typer.Option("--max-results", "-r", help="At most this many jobs, newest first.")
    ] = 100,
    experiment_name: Annotated[
        str | None, typer.Option("--experiment-name", help="Only the jobs of this experiment.")
    ] = None,
    parent_job_name: Annotated[
        str | None,
        typer.Option("--parent-job-name", help="Only the child jobs of this job (batch jobs have none)."),
    ] = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """List jobs, newest first."""
    jobs = client(ctx).jobs.list(
        endpoint_name=endpoint_name,
        status=status,
        limit=max_results,
        experiment_name=experiment_name,
        parent_job_name=parent_job_name,
    )
    emit(jobs, output, query, columns=JOB_COLUMNS)


@app.command("stream")
def stream(ctx: typer.Context, name: NameOpt) -> None:
    """Follow a job with a live progress bar; exits 1 if it does not complete, 130 on Ctrl-C (the job goes on)."""
    _follow(name, lambda: _stream(ctx, name))


def _stream(ctx: typer.Context, name: str) -> Job:
    from batchpoint.jobs import quickview

    state(ctx).note_workspace()
    shown = quickview.get_job(state(ctx).workspace, name)
    if (shown or client(ctx).jobs.get(name)).type in ("command", "pipeline"):  # output or steps, not a progress bar
        return client(ctx).jobs.stream(name)
    # Embedded on SQLite: follow the row over one read-only sqlite3 connection, without the services.
    follow = quickview.follower(state(ctx).workspace, missing=lambda job: client(ctx).jobs.get(job))
    if follow is None:
        return client(ctx).jobs.stream(name)
    from batchpoint.jobs.progress import stream as follow_with_bar

    try:
        return follow_with_bar(follow, name)
    finally:
        follow.close()


@app.command("cancel")
def cancel(ctx: typer.Context, name: NameOpt, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Cancel a job: its workers stop within seconds and no partial output is published."""
    emit(client(ctx).jobs.cancel(name), output, query, columns=JOB_COLUMNS)


@app.command("resume")
def resume(ctx: typer.Context, name: NameOpt, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Continue a job whose driver died, from its committed mini-batches."""
    emit(client(ctx).jobs.resume(name), output, query, columns=JOB_COLUMNS)


@app.command("logs")
def logs(
    ctx: typer.Context,
    name: NameOpt,
    file: Annotated[str | None, typer.Option("--file", help="A file under the job's logs folder.")] = None,
) -> None:
    """Print the job's result and progress logs, or one log file."""
    sys.stdout.write(client(ctx).jobs.logs(name, file))


@app.command("download")
def download(
    ctx: typer.Context,
    name: NameOpt,
    output_name: Annotated[
        str | None,
        typer.Option(
            "--output-name", help="Which output to download (default: every named output; score for batch jobs)."
        ),
    ] = None,
    download_path: Annotated[Path, typer.Option("--download-path", "-p", help="Folder to download into.")] = Path("."),
    all_: Annotated[
        bool, typer.Option("--all", help="Every output and the logs (only the logs of a job not completed).")
    ] = False,
    partial: Annotated[
        bool,
        typer.Option(
            "--partial",
            help="For a job not completed: the mini-batches committed so far, to DOWNLOAD_PATH/partial-outputs/.",
        ),
    ] = False,
) -> None:
    """Download a completed job's output to DOWNLOAD_PATH/named-outputs/<output-name>/.

    A job that has not completed has no output: the download is refused (exit 2), unless --partial
    or --all asks for what there is.
    """
    from batchpoint.jobs import downloads

    c = client(ctx)
    job = c.jobs.get(name)
    # Phrased from the state before the download: a job that completes meanwhile is only under-sold.
    todo = downloads.plan(job, output_name=output_name, all=all_, partial=partial)
    dest = c.jobs.download(name, output_name=output_name, download_path=download_path, all=all_, partial=partial)
    typer.echo(_downloaded(job, todo, dest))


def _downloaded(job: Job, todo: downloads.Plan, dest: Path) -> str:
    """The line ``job download`` prints: what it wrote where, and, when that is not the output, that it is not."""
    from batchpoint.cli import notices
    from batchpoint.jobs import downloads

    logs = f" and its logs to {dest / 'artifacts' / 'logs'}" if todo.logs else ""
    if todo.kind == "output":
        return f"Downloaded to {dest}"
    state = job.status.value
    if todo.kind == "logs":
        notices.warn(f"job '{job.name}' is {state}: it has no output; only its logs were downloaded")
        return f"Downloaded the logs of job {job.name} to {dest / 'artifacts' / 'logs'}"
    mb = job.progress.mini_batches
    folder = dest / downloads.PARTIAL_DIR
    notices.warn(
        f"job '{job.name}' is {state}: these are partial results, not its output ({folder / downloads.README})"
    )
    return f"Downloaded the partial results of job {job.name} ({mb.done} of {mb.total} mini-batches) to {folder}{logs}"


def register_endpoint_jobs(endpoint_app: typer.Typer) -> None:
    """Add ``batch-endpoint invoke`` and ``batch-endpoint list-jobs`` (after the endpoint's own commands)."""

    @endpoint_app.command("invoke")
    def invoke(
        ctx: typer.Context,
        name: Annotated[str, typer.Option("--name", "-n", help="Endpoint name.")],
        input: Annotated[
            str | None,
            typer.Option(
                "--input", "-i", help="Folder, file, glob, azureml:DATA@latest or azureml://datastores/... URI."
            ),
        ] = None,
        input_type: Annotated[str | None, typer.Option("--input-type", help="uri_folder or uri_file.")] = None,
        deployment_name: Annotated[
            str | None,
            typer.Option("--deployment-name", "-d", help="Deployment to run (default: the endpoint's default)."),
        ] = None,
        output_path: Annotated[
            str | None,
            typer.Option(
                "--output-path", help="Output folder or azureml://datastores/... URI (default: in the job's folder)."
            ),
        ] = None,
        mini_batch_size: Annotated[
            int | None, typer.Option("--mini-batch-size", "-m", help="Files per run() call, for this job.")
        ] = None,
        instance_count: Annotated[
            int | None, typer.Option("--instance-count", "-c", help="Instances for this job.")
        ] = None,
        job_name: Annotated[
            str | None, typer.Option("--job-name", help="Name of the new job (default: generated).")
        ] = None,
        experiment_name: Annotated[
            str | None,
            typer.Option("--experiment-name", help="Experiment to file the job under (default: the endpoint's name)."),
        ] = None,
        file: Annotated[Path | None, typer.Option(*FILE_FLAGS, help="inputs.yml with inputs:/outputs: maps.")] = None,
        set_: SetOpt = None,
        stream_: Annotated[bool, typer.Option("--stream", help="Follow the job until it ends.")] = False,
        no_wait: Annotated[
            bool,
            typer.Option("--no-wait", help="Accepted for Azure CLI scripts; invoke returns at once unless --stream."),
        ] = False,
        output: OutputOpt = OutputFormat.json,
        query: QueryOpt = None,
    ) -> None:
        """Start a batch job on the endpoint's default (or named) deployment; prints the job at once."""
        from batchpoint.client.operations.endpoints import invoke_request

        # One InvokeRequest travels from here to the service (through REST when remote).
        request = invoke_request(
            input=input, input_type=input_type, deployment_name=deployment_name, output_path=output_path,
            mini_batch_size=mini_batch_size, instance_count=instance_count, job_name=job_name,
            experiment_name=experiment_name, overrides=set_,
        )  # fmt: skip
        c = client(ctx)
        job = c.batch_endpoints.invoke(name, request, inputs_file=file)
        emit(job, output, query, columns=JOB_COLUMNS)
        if stream_:
            sys.stdout.flush()
            _follow(job.name, lambda: c.jobs.stream(job.name))

    @endpoint_app.command("list-jobs")
    def list_endpoint_jobs(
        ctx: typer.Context,
        name: Annotated[str, typer.Option("--name", "-n")],
        output: OutputOpt = OutputFormat.json,
        query: QueryOpt = None,
    ) -> None:
        """List the jobs of an endpoint."""
        emit(client(ctx).jobs.list(endpoint_name=name), output, query, columns=JOB_COLUMNS)


def register_deployment_jobs(deployment_app: typer.Typer) -> None:
    """Add ``batch-deployment list-jobs`` (after the deployment's own commands)."""

    @deployment_app.command("list-jobs")
    def list_deployment_jobs(
        ctx: typer.Context,
        name: Annotated[str, typer.Option("--name", "-n")],
        endpoint_name: Annotated[str, typer.Option(*ENDPOINT_FLAGS, help="Name of the batch endpoint.")],
        output: OutputOpt = OutputFormat.json,
        query: QueryOpt = None,
    ) -> None:
        """List the jobs of one deployment."""
        emit(
            client(ctx).jobs.list(endpoint_name=endpoint_name, deployment_name=name), output, query, columns=JOB_COLUMNS
        )
