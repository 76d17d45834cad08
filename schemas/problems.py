"""Turning pydantic's validation errors into :class:`Problem` lines a brief's author can act on.

Each problem names the field path, the bad value and what is allowed; unknown fields get a did-you-mean.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from cues.schemas.errors import Problem
from cues.schemas.moods import did_you_mean

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SLUG_RULE = "lowercase letters, digits, - and _, starting with a letter or digit, at most 64 characters"

_TYPE_WORDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping of fields",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
}


INCONSISTENT = "inconsistent"


def inconsistent(problems: list[Problem]) -> PydanticCustomError:
    """The error a model validator raises for cross-field problems; :func:`problems_from` unpacks it again."""
    return PydanticCustomError(
        INCONSISTENT, "{summary}", {"summary": "; ".join(map(str, problems)), "problems": problems}
    )


def problems_from(error: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """One :class:`Problem` per pydantic error of ``model``, in the order pydantic reports them."""
    problems: list[Problem] = []
    for detail in error.errors(include_url=False):
        if detail["type"] == INCONSISTENT:
            problems.extend(detail["ctx"]["problems"])
            continue
        problems.append(_problem(detail, model))
    return problems


def _problem(detail: dict[str, Any], model: type[BaseModel]) -> Problem:
    loc = tuple(detail["loc"])
    path = format_path(loc)
    kind = detail["type"]
    value = detail.get("input")
    parent, info = field_at(model, loc)
    allowed = _allowed(info)
    if kind == "extra_forbidden":
        name = str(loc[-1])
        names = list(parent.model_fields) if parent else []
        hint = did_you_mean(name, names)
        return Problem(path, f"unknown field {name!r}{hint}; allowed fields: {', '.join(names)}")
    if kind == "missing":
        return Problem(path, "required field is missing" + (f"; {allowed}" if allowed else ""))
    if kind in {"literal_error", "enum"}:
        expected = detail.get("ctx", {}).get("expected", "")
        return Problem(path, f"not allowed; allowed: {expected.replace(chr(39), '')}", value, True)
    if kind in _TYPE_WORDS:
        numeric = kind.startswith(("int", "float", "finite"))
        extra = f"; allowed: {allowed}" if allowed and numeric else ""
        return Problem(path, f"must be {_TYPE_WORDS[kind]}{extra}", value, True)
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        return Problem(path, "out of range" + (f"; allowed: {allowed}" if allowed else ""), value, True)
    if kind == "string_pattern_mismatch":
        pattern = detail.get("ctx", {}).get("pattern", "")
        if pattern == SLUG_PATTERN:
            return Problem(path, f"must be a slug; allowed: {SLUG_RULE}", value, True)
        return Problem(path, f"must match {pattern}" + (f" ({allowed})" if allowed else ""), value, True)
    if kind in {"too_long", "too_short"}:
        return Problem(path, detail["msg"][0].lower() + detail["msg"][1:], _short(value), True)
    # Our own parsers raise PydanticCustomError whose message already says what is allowed.
    return Problem(path, detail["msg"], value, True)


def _short(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > 40:
        return f"{type(value).__name__} of length {len(value)}"
    return value


def format_path(loc: tuple) -> str:
    """``('delivery', 'loudness')`` → ``delivery.loudness``; ``('hits', 2)`` → ``hits[2]``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _is_internal(part):
            path += ("." if path else "") + str(part)
    return path


def _is_internal(part: str) -> bool:
    # pydantic adds the names of validators and union members (e.g. "function-before[...]") to locations.
    return "[" in part or part in {"float", "int", "str", "tuple", "list", "none"}


def field_at(model: type[BaseModel], loc: tuple) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model that holds the field at ``loc`` and that field's info (None where ``loc`` leaves the models)."""
    current: type[BaseModel] | None = model
    info: FieldInfo | None = None
    parent: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int) or _is_internal(str(part)):
            continue
        if current is None or part not in current.model_fields:
            return current, None
        parent = current
        info = current.model_fields[part]
        current = _model_in(info.annotation)
    return parent, info


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            if found := _model_in(arg):
                return found
    return None


def _allowed(info: FieldInfo | None) -> str:
    """First sentence of the field's description, which states units and range."""
    if info is None or not info.description:
        return ""
    return info.description.split(". ")[0].rstrip(".")
