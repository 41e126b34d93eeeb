"""A model registered through the server from a job's output: the remote SDK passes the job URI, the
server resolves it inside that job's output and records the lineage."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from batchpoint.errors import BatchpointError

from .conftest import ServerFactory

WRITE = "import pathlib, sys; pathlib.Path(sys.argv[1], 'w.txt').write_text('0.5')"


def test_a_model_from_a_server_job_output(server_factory: ServerFactory, tmp_path: Path) -> None:
    server = server_factory()
    job_spec = {
        "type": "command",
        "command": f'{sys.executable} -c "{WRITE}" ${{{{outputs.model}}}}',
        "outputs": {"model": {"type": "custom_model"}},
    }
    with server.client() as client:
        job = client.jobs.create(job_spec)
        assert client.jobs.wait(job.name, timeout=120).status.value == "Completed"
        model = client.models.create("remote-tiny", f"azureml://jobs/{job.name}/outputs/model", type="custom_model")
        assert model.job_name == job.name
        dest = client.models.download("remote-tiny", "1", tmp_path / "dl")
        assert (dest / "w.txt").read_text() == "0.5" or (tmp_path / "dl" / "model" / "w.txt").read_text() == "0.5"
        with pytest.raises(BatchpointError, match="outside"):
            client.models.create("bad", f"azureml://jobs/{job.name}/outputs/model/paths/../../../..")
