"""The scoring brief, version 1 (``docs/contracts/brief-v1.md``), as a frozen pydantic model.

Values are parsed into music-domain objects (:class:`Key`, :class:`Length`, :class:`FormSection`) and dumped back in
their canonical brief spelling, so ``Brief.model_validate(brief.model_dump(mode="json"))`` round-trips.
Fields left out stay ``None`` here; :meth:`Brief.resolve` fills in what depends on the medium.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cues.schemas.errors import Problem, echo
from cues.schemas.form import ALLOWED_FORMS, FormParseError, FormSection, format_form, parse_form
from cues.schemas.general_midi import FAMILIES, GM_PROGRAMS
from cues.schemas.key import ALLOWED_KEYS, Key, KeyParseError, parse_key
from cues.schemas.moods import MAX_MOODS, MOOD_ALIASES, MOODS, canonical_mood, did_you_mean
from cues.schemas.problems import SLUG_PATTERN, data_problems, inconsistent
from cues.schemas.timing import (
    ALLOWED_LENGTHS,
    ALLOWED_TIMES,
    MAX_LENGTH_S,
    MAX_TEMPO,
    MIN_LENGTH_S,
    MIN_TEMPO,
    Length,
    Meter,
    TimingParseError,
    format_clock,
    parse_length,
    parse_time,
)

_SLUG_RE = re.compile(SLUG_PATTERN)
# Control characters (C0 with tab and newline, DEL, C1), line and paragraph separators, and the bidirectional
# embeddings, overrides and isolates that make text display differently from what it is ("Trojan Source").
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class Medium(StrEnum):
    film = "film"
    tv = "tv"
    trailer = "trailer"
    game = "game"
    ad = "ad"
    web = "web"


class Ending(StrEnum):
    ring_out = "ring_out"
    button = "button"
    cut = "cut"
    fade = "fade"
    loop = "loop"


class AudioFormat(StrEnum):
    wav = "wav"
    flac = "flac"
    mp3 = "mp3"
    midi = "midi"


#: Per-medium defaults from the brief contract.
DEFAULT_ENDING: dict[Medium, Ending] = {
    Medium.film: Ending.ring_out,
    Medium.tv: Ending.ring_out,
    Medium.trailer: Ending.ring_out,
    Medium.web: Ending.ring_out,
    Medium.ad: Ending.button,
    Medium.game: Ending.loop,
}
DEFAULT_LOUDNESS: dict[Medium, float] = {  # integrated loudness, LUFS
    Medium.film: -23.0,
    Medium.tv: -23.0,
    Medium.trailer: -23.0,
    Medium.ad: -23.0,
    Medium.game: -18.0,
    Medium.web: -16.0,
}

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
            raise PydanticCustomError("unknown_mood", f"unknown mood {echo(word)}{hint}; allowed: {', '.join(MOODS)}")
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


# --- the models -----------------------------------------------------------------------------------------------


class Delivery(BaseModel):
    """How the audio is delivered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample_rate: Literal[44100, 48000] = Field(48000, description="Samples per second (Hz).")
    bit_depth: Literal[16, 24] = Field(24, description="Bits per sample of WAV/FLAC files.")
    loudness: float | None = Field(
        None,
        ge=-40.0,
        le=-8.0,
        strict=True,
        allow_inf_nan=False,
        description="Integrated loudness target in LUFS, -40 to -8. Default by medium: film, tv, trailer, ad -23; "
        "game -18; web -16.",
    )
    true_peak: float = Field(
        -1.0,
        ge=-9.0,
        le=0.0,
        strict=True,
        allow_inf_nan=False,
        description="True-peak ceiling in dBTP, -9 to 0.",
    )
    formats: tuple[AudioFormat, ...] = Field(
        (AudioFormat.wav, AudioFormat.mp3, AudioFormat.midi),
        min_length=1,
        description="Files to deliver: a subset of wav, flac, mp3, midi.",
    )
    stems: bool = Field(True, strict=True, description="Deliver one audio file per stem besides the mix.")

    @model_validator(mode="after")
    def _formats_unique(self) -> Delivery:
        if len(set(self.formats)) != len(self.formats):
            raise PydanticCustomError("formats_repeated", "a format is listed twice")
        return self


class Brief(BaseModel):
    """One cue to compose: what a music supervisor asks for. See ``docs/contracts/brief-v1.md``."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Scoring brief v1")

    version: Annotated[Literal[1], BeforeValidator(_version)] = Field(
        1, description="Brief format version; only 1 exists."
    )
    id: str = Field(
        None,
        pattern=SLUG_PATTERN,
        description="Stable name of the cue. Default: slug of the title, else cue- + 8 hex chars of the brief's hash.",
    )
    title: TitleValue | None = Field(
        None, description="Title, at most 200 characters, one line without control characters."
    )
    medium: Medium = Field(description="Sets defaults for ending, loudness and form.")
    mood: MoodValue
    length: LengthValue
    key: KeyValue | None = Field(None, description=f"Key: {ALLOWED_KEYS}. Default: chosen from the mood.")
    tempo: float | None = Field(
        None,
        ge=MIN_TEMPO,
        le=MAX_TEMPO,
        strict=True,
        allow_inf_nan=False,
        description="Beats per minute, 40 to 220 (6/8 counts dotted quarters). Default: from the mood, fitted to "
        "length, form and hits.",
    )
    meter: Meter = Field(Meter.four_four, description="Time signature.")
    form: FormValue | None = None
    ending: Ending | None = Field(None, description="Default: film/tv/trailer/web ring_out, ad button, game loop.")
    hits: tuple[HitValue, ...] = Field((), max_length=256, description="Sync points inside (0, length), seconds.")
    instruments: tuple[InstrumentValue, ...] = Field((), max_length=16, description="Overrides the mood's ensemble.")
    intensity: IntensityValue | None = None
    variations: int = Field(1, ge=1, le=10, strict=True, description="Alternate cues with different seeds, 1 to 10.")
    cutdowns: tuple[LengthValue, ...] = Field(
        (), max_length=16, description="Shorter edits of the same material, each shorter than length."
    )
    seed: int | None = Field(
        None,
        ge=0,
        le=2**63 - 1,
        strict=True,
        description="Same brief + seed + model version => the same MIDI.",
    )
    delivery: Delivery = Field(default_factory=Delivery)

    @model_validator(mode="before")
    @classmethod
    def _default_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and (problems := data_problems(data)):
            raise inconsistent(problems)  # before the fields: they would call a 5,000-digit number "not a number"
        if isinstance(data, dict) and data.get("id") is None:
            data = {**data, "id": default_brief_id(data)}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Brief:
        problems = consistency_problems(self)
        if problems:
            raise inconsistent(problems)
        return self

    def resolve(self) -> ResolvedBrief:
        """This brief with the medium's defaults decided (ending, loudness) and a seed derived from its content: what
        the composer and the renderer take. Not validated again: every value is one this brief already passed."""
        seed = self.seed if self.seed is not None else int(self.content_hash()[:15], 16)
        loudness = self.delivery.loudness if self.delivery.loudness is not None else DEFAULT_LOUDNESS[self.medium]
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        fields.update(
            ending=self.ending or DEFAULT_ENDING[self.medium],
            seed=seed,
            delivery=ResolvedDelivery.model_construct(**{**dict(self.delivery), "loudness": loudness}),
        )
        return ResolvedBrief.model_construct(**fields)

    def content_hash(self) -> str:
        """sha256 hex of the brief's canonical JSON: equal briefs, however spelled, hash equal."""
        return canonical_hash(self.model_dump(mode="json"))

    def summary(self) -> str:
        """One line for listings: medium, moods, length, key, ending."""
        parts = [self.medium.value, "+".join(self.mood), str(self.length)]
        if self.key:
            parts.append(str(self.key))
        if self.form:
            parts.append("-".join(s.label for s in self.form))
        if self.hits:
            parts.append(f"{len(self.hits)} hit{'s' * (len(self.hits) > 1)}")
        if self.cutdowns:
            parts.append("cutdowns " + "/".join(str(c.to_brief()) for c in self.cutdowns))
        return ", ".join(parts)


class ResolvedDelivery(Delivery):
    """A delivery whose loudness target is decided (the medium's default when the brief gives none)."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Resolved delivery")

    loudness: float = Field(ge=-40.0, le=-8.0, allow_inf_nan=False, description="Integrated loudness target, LUFS.")


class ResolvedBrief(Brief):
    """A valid brief with every default decided: its ending, seed and loudness are never None. Made by
    :meth:`Brief.resolve`; the composer, the renderer, cue specs and manifests take only this type."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Resolved brief v1")

    ending: Ending = Field(description="How the cue ends (the medium's default when the brief gives none).")
    seed: int = Field(ge=0, le=2**63 - 1, description="The brief's seed, or one derived from its content.")
    delivery: ResolvedDelivery

    def resolve(self) -> ResolvedBrief:
        return self


def canonical_hash(value: Any) -> str:
    """sha256 hex of JSON with sorted keys; values YAML may produce but JSON lacks (dates) are stringified."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def slugify(text: str) -> str:
    """Lowercase ``a-z0-9`` words joined by ``-``, at most 64 characters; empty when nothing is left."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:64].rstrip("-")


def default_brief_id(data: dict) -> str:
    """The id a brief gets when it names none: the slug of its title, else ``cue-`` + 8 hex of its content."""
    title = data.get("title")
    if isinstance(title, str) and (slug := slugify(title)) and _SLUG_RE.match(slug):
        return slug
    try:  # hash the canonical form, so `length: 30` and `length: "0:30"` get the same id
        canonical = Brief.model_validate({**data, "id": "x"}).model_dump(mode="json", exclude={"id"})
    except ValidationError:  # the brief is invalid anyway; any stable id will do for its error message
        canonical = {k: v for k, v in data.items() if k != "id"}
    return "cue-" + canonical_hash(canonical)[:8]


def consistency_problems(brief: Brief) -> list[Problem]:
    """Rules that tie fields together: hits inside the cue, cutdowns shorter, form bars against length."""
    problems: list[Problem] = []
    shortest, longest = brief.length.duration_range(brief.meter)
    exact = brief.length.duration(brief.meter, brief.tempo)
    if exact is not None:
        shortest = longest = exact
    if longest < MIN_LENGTH_S or shortest > MAX_LENGTH_S:
        at = f" at {brief.tempo:g} bpm" if brief.tempo else f" at any tempo from {MIN_TEMPO:g} to {MAX_TEMPO:g} bpm"
        problems.append(
            Problem(
                "length",
                f"{brief.length} of {brief.meter.value} lasts {format_clock(shortest)}–{format_clock(longest)}{at}; "
                f"allowed: {MIN_LENGTH_S:g} to {MAX_LENGTH_S:g} seconds",
                brief.length.to_brief(),
                True,
            )
        )
    seen: dict[float, int] = {}
    for i, hit in enumerate(brief.hits):
        if not 0 < hit < longest:
            bound = format_clock(longest) + ("" if exact is not None else " (the longest the length can last)")
            problems.append(
                Problem(f"hits[{i}]", f"hit at {format_clock(hit)} is outside the cue (0, {bound})", hit, True)
            )
        if hit in seen:
            problems.append(Problem(f"hits[{i}]", f"repeats hits[{seen[hit]}]", hit, True))
        seen.setdefault(hit, i)
    for i, cut in enumerate(brief.cutdowns):
        if not _shorter(cut, brief.length, brief.meter, brief.tempo):
            problems.append(
                Problem(
                    f"cutdowns[{i}]",
                    f"a cutdown must be shorter than the length ({brief.length})",
                    cut.to_brief(),
                    True,
                )
            )
    if len(set(brief.cutdowns)) != len(brief.cutdowns):
        problems.append(Problem("cutdowns", "a cutdown length is listed twice"))
    if brief.form and isinstance(brief.intensity, tuple) and len(brief.intensity) != len(brief.form):
        problems.append(
            Problem(
                "intensity",
                f"{len(brief.intensity)} values for {len(brief.form)} sections; give one number per section",
            )
        )
    problems.extend(_form_length_problems(brief))
    return problems


def _shorter(cut: Length, length: Length, meter: Meter, tempo: float | None) -> bool:
    """Whether ``cut`` is surely shorter than ``length``; comparisons across bars and seconds need the tempo."""
    if cut.bars is not None and length.bars is not None:
        return cut.bars < length.bars
    cut_s, length_s = cut.duration(meter, tempo), length.duration(meter, tempo)
    if cut_s is not None and length_s is not None:
        return cut_s < length_s
    # Without a tempo, "16 bars" vs 20 s depends on the tempo the plan picks: only reject what no tempo can fix.
    cut_lo, _ = cut.duration_range(meter)
    _, length_hi = length.duration_range(meter)
    return cut_lo < length_hi


def _form_length_problems(brief: Brief) -> list[Problem]:
    if not brief.form:
        return []
    if any(s.bars is None for s in brief.form):
        return _form_fits_problems(brief)
    total = sum(s.bars for s in brief.form)
    if brief.length.bars is not None:
        if total != brief.length.bars:
            return [Problem("form", f"sections add up to {total} bars but length is {brief.length}")]
        return []
    seconds = brief.length.seconds
    if brief.tempo is not None:
        form_s = total * brief.meter.bar_seconds(brief.tempo)
        if abs(form_s - seconds) > 0.010 and brief.ending != Ending.cut and brief.ending != Ending.fade:
            return [
                Problem(
                    "form",
                    f"{total} bars at {brief.tempo:g} bpm last {format_clock(form_s)}, not the length "
                    f"{format_clock(seconds)}; drop tempo to let it be fitted, or change the bars",
                )
            ]
        return []
    fitted = total * brief.meter.beats_per_bar * 60.0 / seconds
    if not MIN_TEMPO <= fitted <= MAX_TEMPO:
        return [
            Problem(
                "form",
                f"{total} bars in {format_clock(seconds)} needs {fitted:.1f} bpm; allowed tempo {MIN_TEMPO:g} to "
                f"{MAX_TEMPO:g} bpm: change the bars or the length",
            )
        ]
    return []


def _form_fits_problems(brief: Brief) -> list[Problem]:
    """A form of which some sections give no bars still needs a bar for each: more than the length can hold at the
    fastest tempo is refused here rather than when the cue is planned."""
    needed = sum(s.bars or 1 for s in brief.form)
    if brief.length.bars is not None:
        most, holds = brief.length.bars, f"the length is {brief.length}"
    else:
        most = math.floor(brief.length.seconds * MAX_TEMPO / 60 / brief.meter.beats_per_bar)
        holds = f"{brief.length} holds at most {most} bars of {brief.meter.value} (at {MAX_TEMPO:g} bpm)"
    if needed <= most:
        return []
    form = "-".join(s.label for s in brief.form)
    return [
        Problem(
            "form",
            f"the form {form} needs at least {needed} bars, but {holds}; give a longer length, fewer sections, "
            "or leave the form out",
        )
    ]
