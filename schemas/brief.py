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
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cues.schemas.alternates import AlternatesValue, alternate_problems
from cues.schemas.brief_fields import (
    FormValue,
    HitValue,
    InstrumentValue,
    IntensityValue,
    KeyValue,
    LengthValue,
    MoodValue,
    StemsValue,
    TitleValue,
    VersionValue,
)
from cues.schemas.errors import Problem
from cues.schemas.game_delivery import LayersValue, StingersValue
from cues.schemas.key import ALLOWED_KEYS
from cues.schemas.problems import SLUG_PATTERN, SLUG_RE, data_problems, inconsistent
from cues.schemas.timing import (
    MAX_LENGTH_S,
    MAX_TEMPO,
    MIN_LENGTH_S,
    MIN_TEMPO,
    Length,
    Meter,
    format_clock,
)


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
    stems: StemsValue = Field(
        True,
        description="Stems besides the mix: true (one per role group), false, a preset or a mapping of stem names "
        "to role groups.",
    )
    alternates: AlternatesValue = Field(
        (),
        # left out of the canonical form when none is asked for: older briefs keep their hash and derived seed
        exclude_if=lambda value: not value,
        description="Alternate mixes (schemas/alternates.py): presets or a mapping of names to the stems each keeps.",
    )

    layers: LayersValue = Field(
        False,
        description="Game cues only: vertical intensity layers (layers/<name>.wav), additive, quietest first.",
    )
    stingers: StingersValue = Field(
        (), description="Game cues only: short in-key transition stingers (stingers/<kind>.wav)."
    )

    @model_validator(mode="after")
    def _formats_unique(self) -> Delivery:
        if len(set(self.formats)) != len(self.formats):
            raise PydanticCustomError("formats_repeated", "a format is listed twice")
        return self

    @model_validator(mode="after")
    def _alternates_known(self) -> Delivery:
        problems = alternate_problems(self.alternates, self.stems)
        if problems:
            raise inconsistent([Problem(f"alternates.{p.path}", p.message, p.value, p.has_value) for p in problems])
        return self


# the brief's fields that decide its music, and so a seedless brief's seed (``Brief.musical_hash``)
MUSICAL_FIELDS = (
    "id",
    "medium",
    "mood",
    "length",
    "key",
    "tempo",
    "meter",
    "form",
    "ending",
    "hits",
    "instruments",
    "intensity",
)
_MUSIC_BUT_ID = set(MUSICAL_FIELDS) - {"id"}


class Brief(BaseModel):
    """One cue to compose: what a music supervisor asks for. See ``docs/contracts/brief-v1.md``."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Scoring brief v1")

    version: VersionValue = Field(1, description="Brief format version; only 1 exists.")
    id: str = Field(
        None,
        pattern=SLUG_PATTERN,
        description="Stable name of the cue. Default: slug of the title, else cue- + 8 hex chars of the brief's hash.",
    )
    title: TitleValue | None = Field(
        None, description="Title, at most 200 characters, one line without control characters."
    )
    artist: TitleValue | None = Field(
        None,
        # left out of the canonical form when not given: briefs without it keep their hash
        exclude_if=lambda value: value is None,
        description="Credited artist or composer, at most 200 characters, one line: the MP3 preview's ID3 artist. "
        "Default: cues.",
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
    revise: str | None = Field(
        None,
        pattern=SLUG_PATTERN,
        # left out of the canonical form when not given: briefs without it keep their hash
        exclude_if=lambda value: value is None,
        description="A delivered cue's id: this brief revises it, keeping its seed, key, form, chords, ensemble "
        "and groove where they still fit, and gives only the fields that change. Resolved against the store.",
    )

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
        seed = self.seed if self.seed is not None else int(self.musical_hash()[:15], 16)
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
        return canonical_hash(self.hashed_form())

    def hashed_form(self, **dump: Any) -> dict:
        """The brief's JSON as hashed: without the delivery fields added after v1 while they are at their default,
        so a brief written before them keeps its derived seed, id and render key."""
        return without_unset_additions(self.model_dump(mode="json", **dump))

    def musical_hash(self) -> str:
        """sha256 hex of the fields that decide the notes (``MUSICAL_FIELDS``): a seedless brief's seed. A new
        title, another delivery (formats, stems, alternates) or another cutdown list must not change approved music,
        so those fields are left out; a cutdown's music depends only on its parent and its own length."""
        return canonical_hash(self.model_dump(mode="json", include=set(MUSICAL_FIELDS)))

    def summary(self) -> str:
        """One line for listings: medium, moods, length, key, ending."""
        parts = [self.medium.value, "+".join(self.mood), str(self.length)]
        if self.revise:
            parts.insert(0, f"revision of {self.revise}")
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


#: Delivery fields added after briefs v1 were first hashed, with their default as JSON.
ADDED_DELIVERY_DEFAULTS = {"layers": False, "stingers": []}


def without_unset_additions(data: dict) -> dict:
    """A brief's JSON without the :data:`ADDED_DELIVERY_DEFAULTS` fields that are at their default."""
    delivery = data.get("delivery")
    if not isinstance(delivery, dict):
        return data
    kept = {k: v for k, v in delivery.items() if ADDED_DELIVERY_DEFAULTS.get(k, object()) != v}
    return {**data, "delivery": kept}


def canonical_hash(value: Any) -> str:
    """sha256 hex of JSON with sorted keys; values YAML may produce but JSON lacks (dates) are stringified."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def slugify(text: str) -> str:
    """Lowercase ``a-z0-9`` words joined by ``-``, at most 64 characters; empty when nothing is left."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:64].rstrip("-")


def default_brief_id(data: dict) -> str:
    """The id a brief gets when it names none: the slug of its title, else ``cue-`` + 8 hex of its musical fields
    (so that adding a format or a cutdown keeps the cue's id, as it keeps its music)."""
    title = data.get("title")
    if isinstance(title, str) and (slug := slugify(title)) and SLUG_RE.match(slug):
        return slug
    try:  # hash the canonical form, so `length: 30` and `length: "0:30"` get the same id
        canonical = Brief.model_validate({**data, "id": "x"}).model_dump(mode="json", include=_MUSIC_BUT_ID)
    except ValidationError:  # the brief is invalid anyway; any stable id will do for its error message
        canonical = {k: v for k, v in data.items() if k in _MUSIC_BUT_ID}
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
    if brief.medium != Medium.game:
        for name in ("layers", "stingers"):
            if getattr(brief.delivery, name):
                problems.append(
                    Problem(
                        f"delivery.{name}",
                        f"{name} are for game cues (medium: game); this brief's medium is {brief.medium.value}",
                    )
                )
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
