"""``batchpoint job ...`` and the job commands of ``batch-endpoint`` (invoke, list-jobs) and ``batch-deployment``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from batchpoint.cli.common import ENDPOINT_FLAGS, FILE_FLAGS, OutputOpt, QueryOpt, SetOpt, client, state
from batchpoint.cli.entry import step_aside
from batchpoint.cli.output import JOB_COLUMNS, OutputFormat, emit
from batchpoint.errors import JobFailed

if TYPE_CHECKING:
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


@app.command("show")
def show(ctx: typer.Context, name: NameOpt, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Show a job: state in plain words, progress, first error, outputs."""
    from batchpoint.jobs import quickview

    # Polling loops call this every few seconds: read the row with sqlite3 when that is the same answer.
    job = quickview.get_job(state(ctx).workspace, name)
    emit(job if job is not None else client(ctx).jobs.get(name), output, query, columns=JOB_COLUMNS)


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    endpoint_name: Annotated[str | None, typer.Option(*ENDPOINT_FLAGS)] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    max_results: Annotated[int, typer.Option("--max-results", "-r")] = 100,
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
    """Follow a job with a live progress bar; exits 1 if it does not complete."""
    from batchpoint.jobs import quickview

    step_aside()
    # Embedded on SQLite: follow the row over one read-only sqlite3 connection, without the services.
    follow = quickview.follower(state(ctx).workspace, missing=lambda job: client(ctx).jobs.get(job))
    if follow is None:
        _finish_following(client(ctx).jobs.stream(name))
        return
    from batchpoint.jobs.progress import stream as follow_with_bar

    try:
        _finish_following(follow_with_bar(follow, name))
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
    output_name: Annotated[str | None, typer.Option("--output-name")] = "score",
    download_path: Annotated[Path, typer.Option("--download-path", "-p")] = Path("."),
    all_: Annotated[bool, typer.Option("--all", help="Also download the logs.")] = False,
) -> None:
    """Download a job's output to DOWNLOAD_PATH/named-outputs/<output-name>/."""
    dest = client(ctx).jobs.download(name, output_name=output_name, download_path=download_path, all=all_)
    typer.echo(f"Downloaded to {dest}")


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
        deployment_name: Annotated[str | None, typer.Option("--deployment-name", "-d")] = None,
        output_path: Annotated[str | None, typer.Option("--output-path")] = None,
        mini_batch_size: Annotated[int | None, typer.Option("--mini-batch-size", "-m")] = None,
        instance_count: Annotated[int | None, typer.Option("--instance-count", "-c")] = None,
        job_name: Annotated[str | None, typer.Option("--job-name")] = None,
        experiment_name: Annotated[str | None, typer.Option("--experiment-name")] = None,
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
            step_aside()  # the driver is started: following must not take CPU from its workers
            _finish_following(c.jobs.stream(job.name))

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
        endpoint_name: Annotated[str, typer.Option(*ENDPOINT_FLAGS)],
        output: OutputOpt = OutputFormat.json,
        query: QueryOpt = None,
    ) -> None:
        """List the jobs of one deployment."""
        emit(
            client(ctx).jobs.list(endpoint_name=endpoint_name, deployment_name=name), output, query, columns=JOB_COLUMNS
        )
