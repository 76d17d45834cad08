"""The schedule, version 1 (``docs/contracts/schedule-v1.md``): bulk cue generation at cron times."""

from __future__ import annotations

import datetime as dt
import itertools
import sys
import zoneinfo
from typing import Any, Literal

from croniter import CroniterError, croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from cues.schemas.brief import SLUG_PATTERN, Brief, canonical_hash, slugify
from cues.schemas.errors import Problem, ScheduleError
from cues.schemas.moods import did_you_mean
from cues.schemas.problems import inconsistent, problems_from
from cues.schemas.yaml_safety import YamlInputError, load_documents

MAX_MATRIX_BRIEFS = 1000
MAX_REPORTED_MATRIX_PROBLEMS = 20
_CRON_PROBE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # any start: croniter searches 50 years, more than any gap
_BRIEF_FIELDS = tuple(name for name in Brief.model_fields if name != "id")


class Schedule(BaseModel):
    """Generate a set of cues at every cron occurrence. See ``docs/contracts/schedule-v1.md``."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Schedule v1")

    version: Literal[1] = Field(1, description="Schedule format version; only 1 exists.")
    name: str = Field(pattern=SLUG_PATTERN, description="Identifies the schedule and its runs (a slug).")
    cron: str = Field(description='5-field cron expression, e.g. "0 3 * * MON", evaluated in timezone.')
    timezone: str = Field("UTC", description="IANA time zone name, e.g. Europe/London.")
    briefs: tuple[str, ...] = Field(
        (), description="Brief sources generated at every run: files, folders, globs, s3://bucket/prefix/."
    )
    matrix: dict[str, list[Any]] = Field(
        default_factory=dict, description="Brief field → list of values; every combination becomes one brief."
    )
    template: dict[str, Any] = Field(default_factory=dict, description="Brief fields under every matrix brief.")
    store: str | None = Field(None, description="file://… or s3://bucket/prefix. Default: the configured store.")
    keep_last: int | None = Field(None, ge=1, strict=True, description="How many past runs' batch records to list.")
    seed: Literal["fixed", "per_occurrence"] = Field(
        "fixed",
        description="fixed: every occurrence gives the same music (a cue already delivered is not made again); "
        "per_occurrence: new music at each occurrence for every brief without its own seed (the same within one "
        "occurrence, so a re-run completes it).",
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not croniter.is_valid(value):
            raise PydanticCustomError(
                "cron",
                "not a 5-field cron expression; allowed: minute hour day-of-month month day-of-week, "
                'e.g. "0 3 * * MON" (every Monday 03:00)',
            )
        try:  # an expression that matches no date (30 February) makes croniter give up after searching
            croniter(value, _CRON_PROBE).get_next(dt.datetime)
            croniter(value, _CRON_PROBE).get_prev(dt.datetime)
        except CroniterError:
            raise PydanticCustomError(
                "cron",
                "matches no date (like 30 February), so it would never run; "
                "check the day of month, the month and the day of week",
            ) from None
        return " ".join(fields)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone", "unknown time zone; allowed: an IANA name such as UTC or Europe/London"
            ) from None
        return value

    @field_validator("matrix", "template")
    @classmethod
    def _brief_fields(cls, value: dict[str, Any], info) -> dict[str, Any]:
        for name in value:
            if name not in _BRIEF_FIELDS:
                hint = did_you_mean(str(name), _BRIEF_FIELDS)
                why = " (ids of matrix briefs are derived from the schedule)" if name == "id" else ""
                raise PydanticCustomError(
                    "brief_field",
                    f"{name!r} is not a brief field{why}{hint}; allowed: {', '.join(_BRIEF_FIELDS)}",
                )
            if info.field_name == "matrix" and not (isinstance(value[name], list) and value[name]):
                raise PydanticCustomError("matrix_values", f"matrix.{name} must be a non-empty list of values")
        return value

    @model_validator(mode="before")
    @classmethod
    def _plain_values(cls, data: Any) -> Any:
        """Keys that are not text and numbers beyond a float's range are refused before anything reads them (ids
        are made from matrix values: ``canonical_hash`` sorts keys and brief fields convert numbers to float)."""
        if isinstance(data, dict) and (problems := _odd_values(data, "")):
            raise inconsistent(problems)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        problems = []
        if not self.briefs and not self.matrix:
            problems.append(Problem("", "a schedule needs briefs:, matrix: or both"))
        if self.template and not self.matrix:
            problems.append(Problem("template", "template: is the base of matrix briefs; add a matrix:"))
        count = 1
        for values in self.matrix.values():
            count *= len(values)
        if count > MAX_MATRIX_BRIEFS:
            problems.append(Problem("matrix", f"{count} combinations; at most {MAX_MATRIX_BRIEFS}"))
        elif self.matrix:
            problems.extend(_matrix_problems(self))
        if problems:
            raise inconsistent(problems)
        return self

    def matrix_briefs(self) -> list[dict[str, Any]]:
        """Every matrix combination over the template, each with a deterministic id (stable across runs)."""
        return expand_matrix(self.name, self.template, self.matrix)


def expand_matrix(name: str, template: dict[str, Any], matrix: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Brief mappings for every combination of ``matrix`` values over ``template``, in a stable order.

    Ids are ``<name>-<value>-<value>…`` (slugs); when that exceeds 64 characters, it is cut and ends in 8 hex
    characters of the combination's hash, so ids stay unique and the same on every run.
    """
    if not matrix:
        return []  # a schedule of briefs: sources only (the product of no lists would be one empty brief)
    names = list(matrix)
    briefs = []
    for combination in itertools.product(*(matrix[n] for n in names)):
        chosen = dict(zip(names, combination, strict=True))
        parts = [slugify(_value_text(v)) or "x" for v in combination]
        brief_id = "-".join([name, *parts])
        if len(brief_id) > 64:
            brief_id = brief_id[:55].rstrip("-") + "-" + canonical_hash(chosen)[:8]
        briefs.append({**template, **chosen, "id": brief_id})
    return briefs


def _value_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "-".join(_value_text(v) for v in value)
    if isinstance(value, dict):
        return canonical_hash(value)[:6]
    return str(value)


def _odd_values(value: Any, path: str) -> list[Problem]:
    """Problems of keys that are not text and of integers beyond a float's range, anywhere inside ``value``."""
    problems: list[Problem] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                word = "null" if key is None else str(key).lower() if isinstance(key, bool) else repr(key)
                problems.append(Problem(path, f"key {word} is not text; keys are field names (quote it if it is text)"))
            else:
                problems.extend(_odd_values(item, f"{path}.{key}" if path else key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problems.extend(_odd_values(item, f"{path}[{index}]"))
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
        digits = len(str(abs(value))) if value.bit_length() < 14_000 else "over 4,000"
        problems.append(Problem(path, f"number too large ({digits} digits); numbers must be below 1e308"))
    return problems


def _matrix_problems(schedule: Schedule) -> list[Problem]:
    problems: list[Problem] = []
    for raw in schedule.matrix_briefs():
        try:
            Brief.model_validate(raw)
        except ValidationError as err:
            for problem in problems_from(err, Brief):
                path = f"matrix brief {raw['id']}" + (f": {problem.path}" if problem.path else "")
                problems.append(Problem(path, problem.message, problem.value, problem.has_value))
        if len(problems) >= MAX_REPORTED_MATRIX_PROBLEMS:
            problems.append(Problem("matrix", "more problems not shown"))
            break
    return problems


def read_schedule_bytes(data: bytes, source: str) -> Schedule:
    """Parse one schedule file; raises :class:`ScheduleError` naming the file and every problem."""
    try:
        documents = [d for d in load_documents(data) if d is not None]
    except YamlInputError as err:
        raise ScheduleError([Problem("", str(err))], source) from None
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise ScheduleError([Problem("", "a schedule file holds exactly one mapping of schedule fields")], source)
    raw = documents[0]
    label = raw["name"] if isinstance(raw.get("name"), str) else ""
    try:
        return Schedule.model_validate(raw)
    except ValidationError as err:
        raise ScheduleError(problems_from(err, Schedule), source, label) from None


def occurrence_seed(brief: Brief, occurrence: str) -> int:
    """The seed of ``brief`` at one occurrence of a ``seed: per_occurrence`` schedule: its own seed when it names
    one, else derived from its musical seed and the occurrence's stamp (new music each time, the same on a re-run)."""
    if brief.seed is not None:
        return brief.seed
    return int(canonical_hash({"music": brief.musical_hash(), "occurrence": occurrence})[:15], 16)
