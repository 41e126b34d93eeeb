"""Command jobs through the server: the remote SDK uploads the local code and inputs, the server's queue runs the job."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchpoint.errors import BatchpointError

from .conftest import ServerFactory

JOB = {
    "type": "command",
    "code": "src",
    "command": "python main.py ${{inputs.data}} ${{inputs.n}} ${{outputs.out}}",
    "inputs": {"data": {"type": "uri_file", "path": "data/words.txt"}, "n": 2},
    "outputs": {"out": {"type": "uri_folder"}},
}
MAIN = """\
import pathlib, sys
data, n, out = sys.argv[1:]
text = pathlib.Path(data).read_text().strip()
print("remote:", text * int(n))
pathlib.Path(out, "result.txt").write_text(text.upper())
"""


def test_local_code_and_inputs_are_uploaded_and_the_queue_runs_the_job(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text(MAIN)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "words.txt").write_text("ab\n")
    with server.client() as client:
        job = client.jobs.create(JOB, base_dir=tmp_path, set=["inputs.n=3"])
        assert job.type == "command" and job.experiment_name == tmp_path.name
        # the input now names the upload on the server, not a path of this machine
        assert job.inputs["data"].path.startswith("azureml://datastores/workspaceblobstore/paths/uploads/")
        final = client.jobs.wait(job.name, timeout=120)
        assert final.status.value == "Completed", final.message
        assert "remote: ababab" in client.jobs.logs(job.name, "user_logs/std_log.txt")
        dest = client.jobs.download(job.name, download_path=tmp_path / "dl")
        assert (dest / "named-outputs" / "out" / "result.txt").read_text() == "AB"
        with pytest.raises(BatchpointError, match="outside the folders this server reads"):
            client.jobs.create({**JOB, "code": None, "inputs": {"n": 1, "data": {"path": "/no-such-folder/x"}}})
        long = client.jobs.create({**JOB, "code": None, "command": "sleep 600", "inputs": {}, "outputs": {}})
        client.jobs.cancel(client.jobs.wait(long.name, timeout=5).name)
        assert client.jobs.wait(long.name, timeout=60).status.value == "Canceled"
