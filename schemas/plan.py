"""The plan of a cue: everything the composer decided before writing a note (``plan.json`` in a cue's folder, and
``plan`` in its manifest). Made by ``cues.pipelines.compose.plan.make_plan``; read by the composer, the renderer's
request, the report, the cue sheet and ``cues show``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cues.schemas.brief import Ending, Medium
from cues.schemas.grooves import BassStyle
from cues.schemas.key import Mode
from cues.schemas.mood_table import ChordColours, Groove
from cues.schemas.palettes import Role, StemGroup, Texture


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
    roles: tuple[Role, ...] = Field(
        (), description="the roles playing in this section, by its intensity (empty in plans made before roles)"
    )


class Part(BaseModel):
    """One part of the arrangement: its role, instrument (General MIDI program; a drum kit's program for drums),
    MIDI channel (9 = drums), the stem it is delivered in, and the pitches it is written between."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        description="the part's name, also its MIDI track's: its role's (the fx role has two, fx and impact)"
    )
    role: Role
    program: int = Field(ge=0, le=127)
    instrument: str
    channel: int = Field(ge=0, le=15)
    stem: StemGroup
    low: int = Field(ge=0, le=127, description="lowest MIDI pitch the part plays (its register within the range)")
    high: int = Field(ge=0, le=127, description="highest MIDI pitch the part plays")
    transpose: int = Field(0, description="semitones the written line is moved (whole octaves) to fit the range")
    texture: Texture | None = Field(None, description="how a figure plays its chords; None for other roles")


class Stem(BaseModel):
    """One delivered stem: its name, General MIDI program, MIDI channel (9 = drums) and instrument (of its first
    part), and every part and channel it carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    program: int = Field(ge=0, le=127)
    channel: int = Field(ge=0, le=15)
    instrument: str = Field(description="the instruments of its parts, comma-separated")
    channels: tuple[int, ...] = Field((), description="MIDI channels of its parts (empty in plans before roles)")
    parts: tuple[str, ...] = Field((), description="names of its parts (empty in plans made before roles)")


class TempoChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int = Field(ge=0, description="16th-note grid step where this tempo starts")
    bar: float = Field(description="1-based bar position (fractional when not on a bar line)")
    start_s: float
    bpm: float


class Revision(BaseModel):
    """What a revision (a brief with ``revise: <cue-id>``) is of, what its brief changed, what the plan kept from the
    revised cue and what it had to change, in words."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    of: str = Field(description="the revised cue's id")
    render_key: str = Field(description="the revised cue's render key (the render read from the store)")
    changed: tuple[str, ...] = Field(description="what the revision's brief asks differently, e.g. 'length 60 → 45 s'")
    kept: tuple[str, ...] = Field(description="what the plan kept from the revised cue, e.g. 'key D minor'")
    adapted: tuple[str, ...] = Field(
        description="what the plan had to change to fit, e.g. 'tempo 96 → 100 bpm to land the new hit'"
    )

    def lines(self) -> list[str]:
        """The revision in words, one line per kind, for ``cues plan``, ``show``, the submit table and the report."""
        lines = [f"revision of {self.of} ({self.render_key})"]
        lines += [f"{head}: {'; '.join(items)}" for head, items in self._kinds() if items]
        return lines

    def _kinds(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return (("changed by the brief", self.changed), ("kept", self.kept), ("adapted", self.adapted))


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
    stems: tuple[Stem, ...] = Field(
        description="the stems the cue is rendered and balanced in, one per role group with notes; delivered as they "
        "are unless the brief's delivery.stems gathers them (the manifest's audio.stems)"
    )
    absent_stems: tuple[str, ...] = Field(
        (), description="role groups not rendered: no part of this cue plays in them (no silent files)"
    )
    parts: tuple[Part, ...] = Field((), description="the parts, in MIDI track order (empty in plans before roles)")
    ensemble: str | None = Field(None, description="the palette's ensemble, in words; None for a brief's instruments")
    groove: Groove
    bass_line: BassStyle | None = Field(
        None,
        description="how the bass plays: the groove's style (schemas/grooves.yaml): walking, pedal (a held tonic, "
        "or dominant in a build, under changing chords: deliberate, not a long chord), syncopated, root_fifth, "
        "octaves, sustained; None in plans made before it",
    )
    melody_centre: float
    density: float
    harmonic_rhythm: float
    velocity: float
    chromaticism: float
    colours: ChordColours = Field(ChordColours(), description="how often chords are voiced with a colour, per kind")
    notes: tuple[str, ...] = Field(description="adaptations the plan made, in words")
    warnings: tuple[str, ...] = Field(
        (),
        description="the notes that depart from what the brief asked (a given tempo moved, a hit missed by more than "
        "10 ms, intensities stretched over the sections): shown by submit, show and plan; --strict exits 3 on them",
    )
    revision: Revision | None = Field(
        None,
        # left out when None: the plans (and plan.json bytes) of cues that are no revision stay as they were
        exclude_if=lambda value: value is None,
        description="for a revision (brief field revise): of which cue, what changed, what was kept and adapted",
    )

    @property
    def total_steps(self) -> int:
        return self.bars * self.steps_per_bar

    def part(self, role: Role) -> Part | None:
        """The part playing ``role``, if the cue has one."""
        return next((p for p in self.parts if p.role == role), None)
