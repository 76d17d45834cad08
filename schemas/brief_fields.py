"""How each field of a brief is read: parsers that accept every spelling the brief contract allows
(``docs/contracts/brief-v1.md``) and dump the canonical one, as annotated types the :class:`Brief` model uses.

Each parser raises a ``PydanticCustomError`` whose message says what is allowed, so a bad value becomes a
:class:`~cues.schemas.errors.Problem` with its field path.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from cues.schemas.errors import echo
from cues.schemas.form import ALLOWED_FORMS, FormParseError, FormSection, format_form, parse_form
from cues.schemas.general_midi import FAMILIES, GM_PROGRAMS
from cues.schemas.key import ALLOWED_KEYS, Key, KeyParseError, parse_key
from cues.schemas.moods import MAX_MOODS, MOOD_ALIASES, MOODS, canonical_mood, did_you_mean
from cues.schemas.stem_grouping import (
    ALLOWED_STEMS,
    GROUP_NAMES,
    PRESETS,
    STEM_NAME_PATTERN,
    StemPreset,
    StemsSetting,
    parse_stems,
)
from cues.schemas.timing import (
    ALLOWED_LENGTHS,
    ALLOWED_TIMES,
    MAX_LENGTH_S,
    MIN_LENGTH_S,
    Length,
    TimingParseError,
    parse_length,
    parse_time,
)

# Control characters (C0 with tab and newline, DEL, C1), line and paragraph separators, and the bidirectional
# embeddings, overrides and isolates that make text display differently from what it is ("Trojan Source").
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

_INSTRUMENT_NAMES: dict[str, str] = {name.lower(): name for name in GM_PROGRAMS} | {f: f for f in FAMILIES}


# --- parsed field types ---------------------------------------------------------------------------------------


def _parser(parse, error_type: str):
    """Wrap a pure parser so its message reaches the user verbatim (pydantic would prefix "Value error, ")."""

    def validate(value: Any) -> Any:
        if isinstance(value, Key | Length | FormSection):
            return value
        try:
            return parse(value)
        except (KeyParseError, TimingParseError, FormParseError) as err:
            raise PydanticCustomError(error_type, str(err)) from None

    return BeforeValidator(validate)


def _parse_moods(value: Any) -> tuple[str, ...]:
    words = [value] if isinstance(value, str) else value
    if not isinstance(words, list | tuple) or not words:
        raise PydanticCustomError(
            "mood_type",
            f"a mood is one word or a list of 1 to {MAX_MOODS} words; allowed: {', '.join(MOODS)}",
        )
    if len(words) > MAX_MOODS:
        raise PydanticCustomError("mood_count", f"at most {MAX_MOODS} moods (the first dominates)")
    moods = []
    for word in words:
        if not isinstance(word, str):
            raise PydanticCustomError("mood_type", f"a mood is a word; allowed: {', '.join(MOODS)}")
        mood = canonical_mood(word)
        if mood is None:
            hint = did_you_mean(word, (*MOODS, *MOOD_ALIASES))
            allowed = f"allowed: {', '.join(MOODS)}, or a synonym (`cues moods` lists them)"
            raise PydanticCustomError("unknown_mood", f"unknown mood {echo(word)}{hint}; {allowed}")
        if mood in moods:
            raise PydanticCustomError("mood_repeated", f"mood {echo(word)} is given twice")
        moods.append(mood)
    return tuple(moods)


def _parse_instrument(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("instrument_type", "an instrument is a General MIDI name or a family name")
    name = _INSTRUMENT_NAMES.get(" ".join(value.lower().split()))
    if name is None:
        hint = did_you_mean(value, _INSTRUMENT_NAMES)
        raise PydanticCustomError(
            "unknown_instrument",
            f"unknown instrument {echo(value)}{hint}; allowed: a General MIDI instrument name "
            f"(e.g. 'Acoustic Grand Piano', 'String Ensemble 1') or a family: {', '.join(FAMILIES)}",
        )
    return name


def _parse_hit(value: Any) -> float:
    try:
        return parse_time(value)
    except TimingParseError as err:
        raise PydanticCustomError("hit_time", str(err)) from None


# Editors' view of the text forms; the parsers in cues.schemas.timing are the authority.
_SECONDS_FORMS = r"\d+(\.\d+)?\s*(s|sec|secs|seconds?)?|(\d+:)?\d+:\d{1,2}(\.\d+)?"
_SECONDS_PATTERN = rf"^\s*({_SECONDS_FORMS})\s*$"
_LENGTH_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": MIN_LENGTH_S, "maximum": MAX_LENGTH_S},
        {
            "type": "string",
            "pattern": rf"^\s*({_SECONDS_FORMS}|\d+\s*(bars?|measures?))\s*$",
        },
    ],
    "description": f"Cue length: {ALLOWED_LENGTHS}.",
    "examples": [30, "1:30", "0:07.5", "16 bars"],
}
_TIME_SCHEMA = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {
            "type": "string",
            "pattern": r"^\s*(\d+(\.\d+)?\s*(s|sec|secs|seconds?)?|(\d+:)?\d+:\d{1,2}(\.\d+)?)\s*$",
        },
    ],
    "description": f"A time in the cue: {ALLOWED_TIMES}.",
}

LengthValue = Annotated[
    Length,
    _parser(parse_length, "length"),
    PlainSerializer(lambda v: v.to_brief()),
    WithJsonSchema(_LENGTH_SCHEMA),
]
KeyValue = Annotated[
    Key,
    _parser(parse_key, "key"),
    PlainSerializer(str),
    WithJsonSchema(
        {
            "type": "string",
            "description": f"Key: {ALLOWED_KEYS}.",
            "examples": ["C major", "F# minor", "Bb dorian", "Eb", "c#m"],
        }
    ),
]
FormValue = Annotated[
    tuple[FormSection, ...],
    _parser(parse_form, "form"),
    PlainSerializer(format_form),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {
                            "section": {"type": "string"},
                            "bars": {"type": "integer", "minimum": 1, "maximum": 256},
                        },
                        "required": ["section"],
                        "additionalProperties": False,
                    },
                },
            ],
            "description": f"Form: {ALLOWED_FORMS}. Same letter = same material; X' = a variation of X.",
            "examples": ["AABA", "intro-A-A'-B-outro"],
        }
    ),
]
MoodValue = Annotated[
    tuple[str, ...],
    BeforeValidator(_parse_moods),
    PlainSerializer(list),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "enum": list(MOODS)},
                {
                    "type": "array",
                    "items": {"type": "string", "enum": list(MOODS)},
                    "minItems": 1,
                    "maxItems": MAX_MOODS,
                },
            ],
            "description": f"One mood or a list of up to {MAX_MOODS} (the first dominates). "
            f"Synonyms also accepted: {', '.join(sorted(MOOD_ALIASES))}.",
        }
    ),
]
InstrumentValue = Annotated[
    str,
    BeforeValidator(_parse_instrument),
    WithJsonSchema(
        {
            "type": "string",
            "description": "A General MIDI instrument name or a family name.",
            "examples": list(FAMILIES),
        }
    ),
]
HitValue = Annotated[float, BeforeValidator(_parse_hit), WithJsonSchema(_TIME_SCHEMA)]


def _version(value: Any) -> Any:
    if type(value) is not int or value != 1:  # not True or 1.0, which equal 1
        raise PydanticCustomError("version", "only version 1 exists")
    return value


VersionValue = Annotated[Literal[1], BeforeValidator(_version)]


def _one_line(text: str) -> str:
    if match := _CONTROL_RE.search(text):
        raise PydanticCustomError(
            "control_character",
            f"must be one line of text without control characters; found U+{ord(match.group()):04X} at character "
            f"{match.start() + 1}",
        )
    return text


TitleValue = Annotated[str, Field(max_length=200), AfterValidator(_one_line)]


def _parse_intensity(value: Any) -> float | tuple[float, ...]:
    def unit(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
            raise PydanticCustomError(
                "intensity", "intensity is a number from 0 to 1, or a list of such numbers, one per section"
            )
        return float(v)

    if isinstance(value, list | tuple):
        if not 1 <= len(value) <= 64:
            raise PydanticCustomError("intensity", "an intensity list has 1 to 64 numbers, one per section")
        return tuple(unit(v) for v in value)
    return unit(value)


IntensityValue = Annotated[
    float | tuple[float, ...],
    BeforeValidator(_parse_intensity),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 1},
                {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}, "minItems": 1},
            ],
            "description": "0 to 1, or a list with one number per section. Default from the mood.",
        }
    ),
]


_GROUP_SCHEMA = {"type": "string", "enum": list(GROUP_NAMES)}
#: JSON Schema of a mapping of file names to role groups (a ``delivery.stems`` grouping, ``delivery.layers``).
GROUPING_SCHEMA = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": {"pattern": STEM_NAME_PATTERN},
    "additionalProperties": {
        "anyOf": [_GROUP_SCHEMA, {"type": "array", "items": _GROUP_SCHEMA, "minItems": 1, "uniqueItems": True}]
    },
}
StemsValue = Annotated[
    StemsSetting,
    BeforeValidator(parse_stems),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "boolean"},
                {"type": "string", "enum": list(PRESETS)},
                GROUPING_SCHEMA,
            ],
            "description": f"Stems besides the mix: {ALLOWED_STEMS}. Role groups a mapping does not list go to the "
            "stem 'other'; a group goes in one stem only.",
            "examples": [True, StemPreset.compact.value, {"lead": ["melody"], "rhythm": ["bass", "drums_perc"]}],
        }
    ),
]
