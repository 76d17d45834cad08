"""The plan of a cue: everything the composer decided before writing a note (``plan.json`` in a cue's folder, and
``plan`` in its manifest). Made by ``cues.pipelines.compose.plan.make_plan``; read by the composer, the renderer's
request, the report, the cue sheet and ``cues show``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cues.schemas.brief import Ending, Medium
from cues.schemas.key import Mode
from cues.schemas.mood_table import ChordColours, Groove


class Hit(BaseModel):
    """Where one of the brief's hits landed: the time asked for, the time achieved, and its place in the bar."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requested_s: float = Field(description="seconds from the cue's start, as the brief asked")
    achieved_s: float = Field(description="seconds from the cue's start, where the hit's step falls")
    error_ms: float = Field(description="achieved minus requested, milliseconds")
    bar: int = Field(ge=1, description="1-based bar of the hit's step")
    beat: int = Field(ge=1, description="1-based beat in that bar")
    step: int = Field(ge=0, description="16th-note grid step from the cue's start")
    placement: str = Field(description="downbeat, beat or step")
    achievable: bool = Field(description="within the hit tolerance (10 ms)")


class Section(BaseModel):
    """One section of the cue: its label (``A'``), its material letter and variation, and where it lies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    name: str = Field(description="letter A–Z or a named section (intro, outro, bridge, build, break, sting)")
    primes: int = Field(ge=0, description="0 = the material itself, 1 = A', …")
    start_bar: int = Field(ge=0, description="0-based")
    bars: int = Field(ge=1)
    start_s: float
    end_s: float
    intensity: float = Field(ge=0, le=1)


class Stem(BaseModel):
    """One stem: its role, General MIDI program, and MIDI channel (9 = drums)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    program: int = Field(ge=0, le=127)
    channel: int = Field(ge=0, le=15)
    instrument: str


class TempoChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int = Field(ge=0, description="16th-note grid step where this tempo starts")
    bar: float = Field(description="1-based bar position (fractional when not on a bar line)")
    start_s: float
    bpm: float


class Plan(BaseModel):
    """Everything the composer decided before writing a note; saved with the cue."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    brief_id: str
    seed: int
    motif_seed: int | None = Field(
        None,
        description="seed of the melody's motifs: the brief's seed, shared by all its variations and cutdowns so "
        "they develop the same motifs; None in plans made before it (the cue's seed is used)",
    )
    cutdown: float | str | None = None
    medium: Medium
    moods: tuple[str, ...]
    key: str = Field(description='"D minor"')
    tonic: int = Field(ge=0, le=11, description="pitch class of the tonic, 0 = C")
    mode: Mode
    meter: str
    steps_per_bar: int
    steps_per_beat: int
    length_s: float = Field(description="the cue's musical length (the file's, except the ring-out tail)")
    bars: int
    tempo_bpm: float = Field(description="mean tempo over the cue")
    tempo_map: tuple[TempoChange, ...]
    tempo_map_us: tuple[tuple[int, int, int, int], ...] = Field(
        description="exact segments: (start step, steps, start µs, duration µs)"
    )
    ending: Ending
    sections: tuple[Section, ...]
    hits: tuple[Hit, ...] = Field(description="where each of the brief's hits landed, in time order")
    stems: tuple[Stem, ...]
    groove: Groove
    melody_centre: float
    density: float
    harmonic_rhythm: float
    velocity: float
    chromaticism: float
    colours: ChordColours = Field(ChordColours(), description="how often chords are voiced with a colour, per kind")
    notes: tuple[str, ...] = Field(description="adaptations the plan made, in words")

    @property
    def total_steps(self) -> int:
        return self.bars * self.steps_per_bar
