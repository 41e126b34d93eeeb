"""A newcomer's scoring-script mistakes through the real console script (issue 17): each one is said, with the fix.

* a script that does not compile: a WARNING at ``batch-deployment create`` naming file and line, and
  the job fails at the first worker start with the same words;
* ``run()`` returning ``None``: the job fails (exit 1), its items are failed with the reason, each
  error names its file, and the counts of mini-batches and items agree;
* ``parse_args()`` in ``init()``: argparse's own line and the ``parse_known_args()`` fix in the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli

DEPLOYMENT = """\
name: script-dep
endpoint_name: script-ep
type: model
model:
  name: script-model
  path: model
code_configuration:
  code: code
  scoring_script: score.py
settings:
  mini_batch_size: 2
  max_concurrency_per_instance: 1
"""


def _deploy(root: Path, cli: Cli, script: str) -> str:
    """Create the endpoint and its default deployment of ``script``; returns create's stderr."""
    (root / "model").mkdir()
    (root / "model" / "weights.txt").write_text("1")
    (root / "code").mkdir()
    (root / "code" / "score.py").write_text(script)
    (root / "deployment.yml").write_text(DEPLOYMENT)
    (root / "data").mkdir()
    for name in ("a.csv", "b.csv", "c.csv"):
        (root / "data" / name).write_text("x\n")
    cli("batch-endpoint", "create", "-n", "script-ep")
    return cli("batch-deployment", "create", "-f", "deployment.yml", "--set-default").stderr


def _invoke_streamed(cli: Cli) -> tuple[int, str, dict[str, object]]:
    """Invoke with ``--stream``: (exit code, everything it printed, ``job show`` of the job)."""
    result = cli("batch-endpoint", "invoke", "-n", "script-ep", "--input", "data", "--stream", check=False)
    job = cli("batch-endpoint", "list-jobs", "-n", "script-ep", "--query", "[0].name", "-o", "tsv").stdout.strip()
    shown: dict[str, object] = json.loads(cli("job", "show", "-n", job).stdout)
    return result.returncode, result.output, shown


def test_a_syntax_error_is_a_warning_at_create_and_fails_the_job_at_once(
    workspace: Path, cli: Cli, engine_env: None
) -> None:
    stderr = _deploy(workspace, cli, "import os\n\ndef run(mini_batch:\n    return mini_batch\n")
    assert "WARNING: score.py does not compile: SyntaxError at line 3: '(' was never closed" in stderr
    code, output, shown = _invoke_streamed(cli)
    assert code == 1
    reason = "loading score.py failed: SyntaxError at line 3: '(' was never closed"
    assert reason in output and shown["failure_reason"] == reason
    assert "times in a row" not in output


def test_run_returning_none_fails_the_job_and_names_each_file(workspace: Path, cli: Cli, engine_env: None) -> None:
    stderr = _deploy(workspace, cli, "def run(mini_batch):\n    print(mini_batch)\n")
    assert "WARNING" not in stderr
    code, output, shown = _invoke_streamed(cli)
    assert code == 1 and "Failed" in output
    assert "run() returned None; return one result per input (a list or a DataFrame)" in output
    progress = shown["progress"]
    assert isinstance(progress, dict)
    assert progress["mini_batches"] == {"total": 2, "done": 0, "failed": 2, "pending": 0}
    assert progress["items"] == {"total": 3, "succeeded": 0, "failed": 3}
    job_dir = workspace / ".batchpoint" / "jobs" / str(shown["name"])
    errors = [json.loads(line) for line in (job_dir / "logs" / "errors.jsonl").read_text().splitlines()]
    assert sorted(Path(e["file"]).name for e in errors) == ["a.csv", "b.csv", "c.csv"]
    assert (job_dir / "code" / "score.py").is_file()  # the snapshot is code/, not code/code/


def test_parse_args_in_init_shows_argparse_and_the_fix(workspace: Path, cli: Cli, engine_env: None) -> None:
    script = "import argparse\n\ndef init():\n    argparse.ArgumentParser().parse_args()\n\ndef run(mini_batch):\n"
    _deploy(workspace, cli, script + "    return mini_batch\n")
    code, output, shown = _invoke_streamed(cli)
    assert code == 1
    reason = str(shown["failure_reason"])
    assert "error: unrecognized arguments: --logging_level INFO" in reason
    assert "use parse_known_args(): batchpoint passes the deployment's program arguments" in reason
    assert "use parse_known_args()" in output
