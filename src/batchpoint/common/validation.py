"""Turn pydantic validation errors into one ``InvalidInput`` that names the file and the field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from batchpoint.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "float_parsing": "a number",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "list_type": "a list",
    "missing": "a value (the field is required)",
}


def _location(loc: tuple[Any, ...], prefix: str) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
    joined = ".".join(parts)
    return f"{prefix}.{joined}" if prefix and joined else (prefix or joined)


def describe(exc: ValidationError, *, prefix: str = "") -> tuple[str, str]:
    """(field, message) for the first error, with every further error appended to the message."""
    messages: list[str] = []
    first_field = ""
    for i, err in enumerate(exc.errors(include_url=False)):
        field = _location(tuple(err["loc"]), prefix)
        kind = err["type"]
        if kind == "extra_forbidden":
            text = "unknown field (check the spelling; see the YAML reference)"
        elif kind in _EXPECTED:
            got = err.get("input")
            text = f"expected {_EXPECTED[kind]}" + ("" if kind == "missing" else f", got {got!r}")
        else:
            text = str(err["msg"]).removeprefix("Value error, ")
        if i == 0:
            first_field = field
            messages.append(text)
        else:
            messages.append(f"field '{field}': {text}")
    return first_field, "; ".join(messages)


def parse(model: type[M], data: Any, *, file: str | None = None, prefix: str = "") -> M:
    """Validate ``data`` as ``model``; failures become ``InvalidInput`` (the YAML ``$schema`` key is dropped)."""
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "$schema"}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        field, message = describe(exc, prefix=prefix)
        raise InvalidInput(message, field=field or None, file=file) from None
    except InvalidInput as exc:
        if file and not exc.file:
            exc.file = file
        raise
