"""Binding expressions: substitution, optional fragments, and the errors that name the expression."""

from __future__ import annotations

import pytest

from batchpoint.common import expressions as ex
from batchpoint.errors import InvalidInput


def test_inputs_and_outputs_are_substituted() -> None:
    command = "python train.py --data ${{inputs.data}} --lr ${{ inputs.lr }} --out ${{outputs.model}}"
    rendered = ex.render_command(command, {"data": "/d", "lr": "0.1"}, {"model": "/o"}, owner="job 'j'")
    assert rendered == "python train.py --data /d --lr 0.1 --out /o"


def test_optional_fragment_is_dropped_when_its_input_is_unset_and_kept_otherwise() -> None:
    command = "python s.py $[[--seed ${{inputs.seed}}]] --x ${{inputs.x}}"
    assert ex.render_command(command, {"seed": None, "x": "1"}, {}, owner="c") == "python s.py  --x 1"
    assert ex.render_command(command, {"seed": "7", "x": "1"}, {}, owner="c") == "python s.py --seed 7 --x 1"


def test_unknown_input_names_owner_expression_and_declared_inputs() -> None:
    with pytest.raises(InvalidInput) as info:
        ex.render_command("run ${{inputs.nope}}", {"a": "1"}, {}, owner="component 'train'", file="c.yml")
    message = str(info.value)
    assert "component 'train'" in message and "${{inputs.nope}}" in message and "inputs: a" in message
    assert info.value.field == "command" and info.value.file == "c.yml"


def test_unset_optional_input_outside_a_fragment_is_an_error() -> None:
    with pytest.raises(InvalidInput, match=r"optional and not set.*\$\[\["):
        ex.render_command("run ${{inputs.seed}}", {"seed": None}, {}, owner="c")


def test_parent_references_are_not_allowed_in_commands() -> None:
    with pytest.raises(InvalidInput, match="cannot be used in a command"):
        ex.render_command("run ${{parent.inputs.x}}", {}, {}, owner="c")


def test_binding_parses_a_whole_value_only() -> None:
    ref = ex.binding("${{parent.jobs.prep.outputs.clean}}")
    assert ref is not None and ref.path == ("parent", "jobs", "prep", "outputs", "clean")
    assert ex.binding("prefix ${{parent.inputs.x}}") is None
    assert ex.binding(3) is None
    with pytest.raises(InvalidInput, match="not a valid binding"):
        ex.binding("${{parent..x}}")


def test_literals_render_like_azure() -> None:
    assert ex.literal_text(True) == "True" and ex.literal_text(0.5) == "0.5" and ex.literal_text(3) == "3"


def test_values_are_one_shell_word_each() -> None:
    """A value (an invoker's literal, a path with a space) can never add shell syntax to the command."""
    command = "python s.py --mode ${{inputs.mode}} --out ${{outputs.o}}"
    rendered = ex.render_command(command, {"mode": "x; touch /tmp/pwned"}, {"o": "/a b"}, owner="c")
    assert rendered == "python s.py --mode 'x; touch /tmp/pwned' --out '/a b'"
    assert ex.render_command("echo ${{inputs.v}}", {"v": "append"}, {}, owner="c") == "echo append"
