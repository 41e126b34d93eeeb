"""A scoring script that does not compile is a warning at create through the server too, as embedded."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from batchpoint.client.transport import ServerWarning

from .conftest import ServerFactory, deploy


def test_the_remote_create_and_update_warn_about_a_script_that_does_not_compile(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    client = server_factory().client()
    client.batch_endpoints.create_from_file(None, name="warn-ep")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a good script: no warning at all
        spec = deploy(client, tmp_path / "project", "warn-ep", "dep")
    (tmp_path / "project" / "code" / "score.py").write_text("def init():\n    pass\n\ndef run(mini_batch:\n")
    with pytest.warns(ServerWarning, match=r"score\.py does not compile: SyntaxError at line 4: "):
        client.batch_deployments.create_from_file(spec)  # create of an existing one updates it
