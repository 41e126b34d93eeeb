"""A pipeline component used as a step of another pipeline: its steps run as steps of the outer one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from tests.integration.jobs.conftest import Env

from batchpoint.common import yamlio
from batchpoint.errors import InvalidInput
from batchpoint.jobs.schemas import JobState

PY = sys.executable
# Each command appends a word to the text it reads and writes it to its output folder's out.txt.
APPEND = (
    "import sys, pathlib; src, word, out = sys.argv[1:]; "
    "text = pathlib.Path(src, 'out.txt').read_text() if pathlib.Path(src, 'out.txt').exists() else "
    "pathlib.Path(src).read_text(); pathlib.Path(out).mkdir(parents=True, exist_ok=True); "
    "pathlib.Path(out, 'out.txt').write_text(text + ' ' + word)"
)


def _command(name: str) -> dict[str, Any]:
    return {
        "type": "command",
        "name": name,
        "inputs": {"src": {"type": "uri_folder"}, "word": {"type": "string"}},
        "outputs": {"out": {"type": "uri_folder"}},
        "command": f'{PY} -c "{APPEND}" ${{{{inputs.src}}}} ${{{{inputs.word}}}} ${{{{outputs.out}}}}',
    }


INNER = {
    "type": "pipeline",
    "name": "two_words",
    "inputs": {"text": {"type": "uri_folder"}, "first": {"type": "string", "default": "one"}},
    "outputs": {"result": {"type": "uri_folder"}},
    "jobs": {
        "a": {"component": _command("append_a"), "inputs": {"src": "${{parent.inputs.text}}",
                                                             "word": "${{parent.inputs.first}}"}},
        "b": {"component": _command("append_b"), "inputs": {"src": "${{parent.jobs.a.outputs.out}}", "word": "two"},
              "outputs": {"out": "${{parent.outputs.result}}"}},
    },
}  # fmt: skip


def _outer(first: Any = None) -> dict[str, Any]:
    nested_inputs: dict[str, Any] = {"text": "${{parent.inputs.start}}"}
    if first is not None:
        nested_inputs["first"] = first
    return {
        "type": "pipeline",
        "inputs": {"start": {"type": "uri_folder", "path": "start"}},
        "outputs": {"final": {"type": "uri_folder"}},
        "jobs": {
            "nested": {"type": "pipeline", "component": "inner.yml", "inputs": nested_inputs},
            "last": {
                "component": _command("append_last"),
                "inputs": {"src": "${{parent.jobs.nested.outputs.result}}", "word": "three"},
                "outputs": {"out": "${{parent.outputs.final}}"},
            },
        },
    }


def test_a_nested_pipeline_component_runs_its_steps_in_the_outer_pipeline(jobs: Env) -> None:
    (jobs.root / "start").mkdir()
    (jobs.root / "start" / "out.txt").write_text("zero")
    (jobs.root / "inner.yml").write_text(yamlio.dumps(INNER))
    job = jobs.client.jobs.create(_outer(), base_dir=jobs.root)
    final = jobs.wait(job)
    assert final.status is JobState.completed, final.message
    assert [s.name for s in final.steps] == ["nested-a", "nested-b", "last"]
    out = Path(final.outputs["final"].path, "out.txt").read_text()
    assert out == "zero one two three"  # the inner default 'one', then the inner and outer steps in order
    # The outer step's value for an inner input wins over its default; the unchanged steps are not.
    again = jobs.wait(jobs.client.jobs.create(_outer(first="uno"), base_dir=jobs.root))
    assert Path(again.outputs["final"].path, "out.txt").read_text() == "zero uno two three"
    assert all(s.reused_from is None for s in again.steps)


def test_nested_pipeline_errors_name_the_step(jobs: Env) -> None:
    (jobs.root / "start").mkdir()
    (jobs.root / "inner.yml").write_text(yamlio.dumps(INNER))
    bad = _outer()
    bad["jobs"]["nested"]["inputs"]["nope"] = "x"
    with pytest.raises(InvalidInput, match="pipeline component 'two_words'\\) has no input 'nope'"):
        jobs.client.jobs.create(bad, base_dir=jobs.root)
    clash = _outer()
    clash["jobs"]["nested-a"] = clash["jobs"].pop("last")
    with pytest.raises(InvalidInput, match="clashes"):
        jobs.client.jobs.create(clash, base_dir=jobs.root)
