"""What the job service offers the SDK's operations, embedded (``jobs/service.py``) or over HTTP
(``client/remote_endpoints.py``)."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from batchpoint.jobs.invoke import InvokeRequest
from batchpoint.jobs.schemas import Job


class JobContract(Protocol):
    def invoke(self, endpoint_name: str, request: InvokeRequest, *, start: bool = True) -> Job: ...
    def create(
        self,
        source: str | Path | dict[str, Any],
        *,
        name: str | None = None,
        set_pairs: builtins.list[tuple[str, Any]] | None = None,
        base_dir: Path | None = None,
        file: str | None = None,
        start: bool = True,
    ) -> Job: ...
    def get(self, name: str) -> Job: ...
    def list(
        self,
        *,
        endpoint_name: str | None = None,
        deployment_name: str | None = None,
        status: str | None = None,
        limit: int = 100,
        experiment_name: str | None = None,
        parent_job_name: str | None = None,
        job_type: str | None = None,
    ) -> builtins.list[Job]: ...
    def wait(
        self, name: str, *, timeout: float | None = None, on_update: Callable[[Job], None] | None = None
    ) -> Job: ...
    def cancel(self, name: str) -> Job: ...
    def resume(self, name: str) -> Job: ...
    def read_log(self, name: str, file: str | None = None) -> str: ...
    def download(
        self,
        name: str,
        *,
        output_name: str | None = "score",
        download_path: str | Path = ".",
        all: bool = False,
        partial: bool = False,
    ) -> Path: ...
