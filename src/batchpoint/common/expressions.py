"""Azure ML's binding expressions: ``${{inputs.x}}``, ``${{outputs.y}}``, ``${{parent.jobs.s.outputs.o}}``.

Two places use them. A command (a command job's or a command component's ``command``) names its
own inputs and outputs, and ``$[[ ... ]]`` wraps a fragment that is dropped when an optional input
inside it is unset. A pipeline step's ``inputs:``/``outputs:`` values bind to the pipeline's own
inputs and outputs (``${{parent.inputs.x}}``, ``${{parent.outputs.y}}``) or to an earlier step's
output (``${{parent.jobs.<step>.outputs.<name>}}``).

Each value is substituted as one shell word (``shlex.quote``: a plain word or path is unchanged).
Azure substitutes the text as it is; here a value can come from whoever invokes a pipeline
deployment (an invoke-only token sets its literal inputs), and the command runs in a shell, so a
value must never be able to add shell syntax (``x; curl ...``) to the deployed command.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from batchpoint.errors import InvalidInput

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.S)
_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


@dataclass(frozen=True)
class Reference:
    """One ``${{...}}``: its text as written and its dotted path."""

    text: str
    path: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def parse(text: str, *, field: str | None = None, file: str | None = None) -> Reference:
    """``${{ a.b.c }}`` (or the inner ``a.b.c``) → ``Reference``; a malformed one is ``InvalidInput``."""
    match = _EXPRESSION.fullmatch(text.strip())
    inner = match.group(1) if match else text
    path = tuple(part.strip() for part in inner.strip().split("."))
    if not path or not all(_SEGMENT.match(part) for part in path):
        raise InvalidInput(f"'{text}' is not a valid binding expression", field=field, file=file)
    return Reference(text=f"${{{{{inner}}}}}" if not match else text.strip(), path=path)


def references(text: str, *, field: str | None = None, file: str | None = None) -> list[Reference]:
    """Every ``${{...}}`` in ``text``, in order."""
    return [parse(m.group(0), field=field, file=file) for m in _EXPRESSION.finditer(text)]


def binding(value: object, *, field: str | None = None, file: str | None = None) -> Reference | None:
    """The reference when ``value`` is exactly one ``${{...}}`` (a step's input bound to something)."""
    if not isinstance(value, str) or not _EXPRESSION.fullmatch(value.strip()):
        return None
    return parse(value, field=field, file=file)


def literal_text(value: object) -> str:
    """How a literal input appears in a command line (Azure writes booleans as ``True``/``False``)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def render_command(
    command: str,
    inputs: Mapping[str, str | None],
    outputs: Mapping[str, str],
    *,
    owner: str,
    field: str = "command",
    file: str | None = None,
) -> str:
    """``command`` with its ``${{inputs.x}}``/``${{outputs.y}}`` replaced; ``None`` marks an unset optional input.

    ``owner`` names the job or component in messages ("component 'train'"). A ``$[[...]]``
    fragment is kept (without its brackets) when every input it names is set, dropped otherwise.
    """

    def keep_or_drop(match: re.Match[str]) -> str:
        inner = match.group(1)
        for ref in references(inner, field=field, file=file):
            if _kind(ref, owner, inputs, outputs, field, file) == "inputs" and inputs[ref.path[1]] is None:
                return ""
        return inner

    text = _OPTIONAL.sub(keep_or_drop, command)

    def substitute(match: re.Match[str]) -> str:
        ref = parse(match.group(0), field=field, file=file)
        kind = _kind(ref, owner, inputs, outputs, field, file)
        name = ref.path[1]
        if kind == "outputs":
            return shlex.quote(outputs[name])
        value = inputs[name]
        if value is None:
            raise InvalidInput(
                f"{owner}: input '{name}' is optional and not set, but {ref.text} is used outside a $[[...]] "
                "fragment; give it a value or wrap that part of the command in $[[ ]]",
                field=field,
                file=file,
            )
        return shlex.quote(value)

    return _EXPRESSION.sub(substitute, text)


def _kind(
    ref: Reference,
    owner: str,
    inputs: Mapping[str, object],
    outputs: Mapping[str, object],
    field: str,
    file: str | None,
) -> str:
    """``inputs`` or ``outputs`` for a reference a command may make; anything else names the problem."""
    if len(ref.path) == 2 and ref.path[0] in ("inputs", "outputs"):
        kind, name = ref.path
        declared = inputs if kind == "inputs" else outputs
        if name in declared:
            return kind
        known = ", ".join(sorted(declared)) or "none"
        raise InvalidInput(
            f"{owner}: {ref.text} names {kind[:-1]} '{name}', which is not declared ({kind}: {known})",
            field=field,
            file=file,
        )
    raise InvalidInput(
        f"{owner}: {ref.text} cannot be used in a command; use ${{{{inputs.<name>}}}} or ${{{{outputs.<name>}}}}",
        field=field,
        file=file,
    )
