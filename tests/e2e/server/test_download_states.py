"""A job that has not completed has no output, over REST and the remote SDK as embedded (issue 17).

``GET /jobs/{name}/outputs/{output}`` answers 409 with the job's state in words (it used to hand out
an empty archive); ``?partial=true`` hands out the rows of the committed mini-batches, and the remote
``jobs.download(partial=True)`` lays them out as embedded: ``partial-outputs/`` with a README.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from batchpoint.errors import Conflict

from .conftest import ServerFactory, deploy, wait_for, write_inputs


def test_a_running_jobs_output_is_refused_and_its_partial_results_named(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory()
    client = server.client()
    client.batch_endpoints.create_from_file(None, name="dl-ep")
    slow = {"environment_variables": {"SCORER_SLEEP": "3"}}
    deploy(client, tmp_path / "project", "dl-ep", "slow", mini_batch_size=1, max_concurrency_per_instance=1, **slow)
    write_inputs(tmp_path / "data", 4)
    name = client.batch_endpoints.invoke("dl-ep", input=str(tmp_path / "data")).name
    try:

        def first_committed() -> bool:
            job = client.jobs.get(name)
            return job.status.value == "Running" and job.progress.mini_batches.done >= 1

        wait_for(first_committed, 120)
        with server.http(server.token) as http:
            refused = http.get(f"/api/v1/jobs/{name}/outputs/score")
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["message"] == f"job '{name}' is Running; its output appears when it completes"
            assert "--partial" in error["hint"]
            partial = http.get(f"/api/v1/jobs/{name}/outputs/score", params={"partial": "true"})
            assert partial.status_code == 200, partial.text
            with tarfile.open(fileobj=io.BytesIO(partial.content)) as tar:
                assert tar.getnames() == ["predictions.csv"]
        with pytest.raises(Conflict, match="is Running; its output appears when it completes"):
            client.jobs.download(name, download_path=tmp_path / "dl")
        assert not (tmp_path / "dl").exists()

        dest = client.jobs.download(name, download_path=tmp_path / "dl", partial=True)
        readme = (dest / "partial-outputs" / "README.txt").read_text()
        assert readme.startswith(f"PARTIAL RESULTS of job {name}: this is not the job's output.")
        rows = (dest / "partial-outputs" / "score" / "predictions.csv").read_text().splitlines()
        assert rows and len(rows) % 2 == 0  # two rows per committed file
        assert not (dest / "named-outputs").exists()
    finally:
        client.jobs.cancel(name)
    wait_for(lambda: client.jobs.get(name).status.value == "Canceled", 60)
    with pytest.raises(Conflict, match="has no output: it was Canceled"):
        client.jobs.download(name, download_path=tmp_path / "dl")
