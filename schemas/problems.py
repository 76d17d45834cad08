"""Turning pydantic's validation errors into :class:`Problem` lines a brief's author can act on.

Each problem names the field path, the bad value and what is allowed; unknown fields get a did-you-mean. Values
are echoed shortened (:func:`~cues.schemas.errors.echo`), so a huge value never makes a huge message.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from cues.schemas.errors import MAX_ECHO, Problem, echo
from cues.schemas.moods import did_you_mean
from cues.schemas.yaml_safety import LongNumber

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SLUG_RE = re.compile(SLUG_PATTERN)
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
MAX_DATA_PROBLEMS = 10  # of data_problems: a file of 10,000 numeric keys gets ten lines, not 10,000


def data_problems(data: object) -> list[Problem]:
    """What YAML can give but no field takes, anywhere in ``data``: field names that are not text (``1:``,
    ``null:``), binary data (``!!binary``) and numbers too long to convert (:class:`LongNumber`). Checked before
    the fields are, whose own messages would mislead ("must be a whole number" for a number of 5,000 digits)."""
    problems: list[Problem] = []
    stack: list[tuple[tuple, object]] = [((), data)]
    while stack and len(problems) < MAX_DATA_PROBLEMS:
        loc, value = stack.pop()
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str):
                    where = format_path((*loc, _written(key)))
                    problems.append(Problem(where, f"field names are text; this one is {_spelled(key)}"))
            children = [((*loc, k), v) for k, v in value.items() if isinstance(k, str)]
        elif isinstance(value, list | tuple):
            children = [((*loc, i), v) for i, v in enumerate(value)]
        else:
            children = []
            if isinstance(value, bytes | bytearray):
                problems.append(Problem(format_path(loc), "must be text, not binary data (!!binary)"))
            elif isinstance(value, LongNumber):
                problems.append(
                    Problem(format_path(loc), f"a number of {value.digits:,} digits is too large for any field")
                )
        stack.extend(reversed(children))  # depth first, in the order the file gives them
    return problems[:MAX_DATA_PROBLEMS]


def _written(key: object) -> str:
    """A non-text mapping key as YAML spells it: ``1``, ``null``, ``true``, ``2024-01-01``."""
    if key is None or isinstance(key, bool):
        return {None: "null", True: "true", False: "false"}[key]
    return str(key)


def _spelled(key: object) -> str:
    """A non-text mapping key described: ``the number 1``, ``null``, ``true``, ``the date 2024-01-01``."""
    if key is None or isinstance(key, bool):
        return _written(key)
    if isinstance(key, LongNumber):
        return repr(key).strip("<>")
    if isinstance(key, int | float):
        return f"the number {echo(key)}"
    text = str(key)  # a date (2024-01-01:) or binary data
    return f"the {type(key).__name__} {text if len(text) <= MAX_ECHO else echo(key)}"


def inconsistent(problems: list[Problem]) -> PydanticCustomError:
    """The error a model validator raises for cross-field problems; :func:`problems_from` unpacks it again."""
    return PydanticCustomError(
        INCONSISTENT, "{summary}", {"summary": "; ".join(map(str, problems)), "problems": problems}
    )


def problems_from(error: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """One :class:`Problem` per pydantic error of ``model``, in the order pydantic reports them."""
    problems: list[Problem] = []
    for detail in error.errors(include_url=False):
        if detail["type"] == INCONSISTENT:  # a nested value's problems have paths under its own
            base = format_path(tuple(detail["loc"]))
            problems.extend(_under(base, problem) for problem in detail["ctx"]["problems"])
            continue
        problems.append(_problem(detail, model))
    return problems


def _under(base: str, problem: Problem) -> Problem:
    """``problem`` with its path below ``base`` (``delivery.stems`` + ``music[1]``)."""
    if not base:
        return problem
    path = base + ("" if not problem.path else problem.path if problem.path.startswith("[") else "." + problem.path)
    return Problem(path, problem.message, problem.value, problem.has_value)


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
        return Problem(path, f"unknown field {echo(name)}{hint}; allowed fields: {', '.join(names)}")
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
            name = str(part)
            if len(name) > MAX_ECHO:
                name = f"{name[: MAX_ECHO // 2 - 2]}...{name[-(MAX_ECHO // 2 - 1) :]}"
            path += ("." if path else "") + name
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
