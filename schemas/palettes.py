"""The arranger's palettes (``schemas/palettes.yaml``) as typed data: the roles a cue's parts play, the ensembles
each mood chooses from, the instruments' playable ranges, the stem group of every General MIDI program, and how many
layers play at an intensity.

A mood's palette may name its own soundfont (``soundfont:``), used for its cues instead of the renderer's.

A cue is played by *parts*, one per *role* (:class:`Role`): the lead (the melody), a counter-line, a sustained pad,
a rhythmic figure (its :class:`Texture`: arpeggio, ostinato, pulse, strum, tremolo), the bass, the drums (a kit on
MIDI channel 10) and effects. A mood's :class:`MoodPalette` lists at least three :class:`Ensemble`\\ s (role →
instrument) and the order in which the accompanying roles join as a section's intensity rises. Parts are delivered
in *stem groups* (:class:`StemGroup`) a mixer knows: the lead in ``melody``, the bass line in ``bass``, the drums in
``drums_perc``, effects in ``fx``; a counter, pad or figure in the group of its instrument's General MIDI program.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cues.schemas.moods import MOODS


class Role(StrEnum):
    """What a part does in the arrangement; the order is the MIDI track order."""

    lead = "lead"  # the melody
    counter = "counter"  # a second melodic voice below the lead, answering it where it rests or holds
    pad = "pad"  # sustained chords
    figure = "figure"  # rhythmic accompaniment from the chords: arpeggio, ostinato, pulsed/strummed/tremolo chords
    bass = "bass"
    drums = "drums"  # a drum kit on the General MIDI percussion channel
    fx = "fx"  # risers and impacts (schemas/effects.yaml): two parts, ``fx`` and ``impact``


#: The roles that join the lead as intensity rises (the lead always plays, effects only at hits).
ACCOMPANIMENT = (Role.counter, Role.pad, Role.figure, Role.bass, Role.drums)
#: The counter enters among the first this many roles of a mood's ``enters``: with the ``layers`` steps of
#: ``palettes.yaml`` (five parts from intensity 0.6), it answers the lead from the middle intensities up.
COUNTER_ENTERS_BY = 4


class Texture(StrEnum):
    """How a figure plays the chords (``pipelines/compose/figures.py``)."""

    arpeggio = "arpeggio"  # chord tones one at a time, up and down
    ostinato = "ostinato"  # a repeated root–fifth–octave cell, low
    pulse = "pulse"  # the chord re-struck short on every eighth (pulsing strings, brass stabs)
    strum = "strum"  # the chord on the beats, a beat long (guitar)
    tremolo = "tremolo"  # the chord held a bar (on a tremolo or bowed patch)


class StemGroup(StrEnum):
    """The delivered stems, in delivery order."""

    melody = "melody"
    strings = "strings"
    brass_winds = "brass_winds"
    keys_pads = "keys_pads"
    bass = "bass"
    drums_perc = "drums_perc"
    fx = "fx"


#: The group of a role whose stem does not depend on its instrument.
ROLE_GROUP = {
    Role.lead: StemGroup.melody,
    Role.bass: StemGroup.bass,
    Role.drums: StemGroup.drums_perc,
    Role.fx: StemGroup.fx,
}


class PlayableRange(BaseModel):
    """Lowest and highest MIDI pitch (sounding) an instrument plays well."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    low: int = Field(ge=0, le=127)
    high: int = Field(ge=0, le=127)

    @model_validator(mode="after")
    def _wide_enough(self) -> PlayableRange:
        if self.high - self.low < 12:
            raise ValueError(f"a playable range spans an octave at least, got {self.low}–{self.high}")
        return self


class Ensemble(BaseModel):
    """One set of instruments for a mood: a General MIDI program (0–127) per role; ``drums`` is the kit's program
    (0 standard, 16 power, 24 electronic, 40 brush, 48 orchestra); ``fx`` is optional: the riser, instead of its
    mood family's (``schemas/effects.yaml``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="in words, e.g. 'flute over a warm pad, harp arpeggios'")
    lead: int = Field(ge=0, le=127)
    counter: int = Field(ge=0, le=127)
    pad: int = Field(ge=0, le=127)
    figure: int = Field(ge=0, le=127)
    texture: Texture = Field(description="how the figure plays")
    bass: int = Field(ge=0, le=127)
    drums: int = Field(48, ge=0, le=127)
    fx: int | None = Field(None, ge=0, le=127)

    def program(self, role: Role) -> int | None:
        return getattr(self, role.value)


class MoodPalette(BaseModel):
    """A mood's ensembles (chosen by the cue's seed) and the order its accompanying roles join in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enters: tuple[Role, ...] = Field(description="counter, pad, figure, bass and drums, first to join first")
    ensembles: tuple[Ensemble, ...] = Field(min_length=3)
    soundfont: str | None = Field(
        None,
        description="the soundfont this mood's cues render with instead of the renderer's: a path or a known name "
        "(fluidr3, timgm6mb, musescore-general); None: the renderer's (--soundfont, else the default)",
    )

    @model_validator(mode="after")
    def _every_role_once(self) -> MoodPalette:
        if sorted(self.enters) != sorted(ACCOMPANIMENT):
            raise ValueError(f"enters must list {', '.join(ACCOMPANIMENT)} once each, got {', '.join(self.enters)}")
        if self.enters.index(Role.counter) >= COUNTER_ENTERS_BY:
            raise ValueError(
                f"the counter must be among the first {COUNTER_ENTERS_BY} of enters, got {', '.join(self.enters)}"
            )
        return self


class LayerStep(BaseModel):
    """From ``intensity`` up, ``layers`` parts play (the lead included)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    intensity: float = Field(ge=0, le=1)
    layers: int = Field(ge=1, le=len(Role))


class Palettes(BaseModel):
    """Everything in ``schemas/palettes.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    family_ranges: tuple[PlayableRange, ...] = Field(
        min_length=16, max_length=16, description="the playable range of each GM family of 8 programs"
    )
    ranges: dict[int, PlayableRange] = Field(description="GM program → its own range, where not its family's")
    stem_groups: dict[StemGroup, tuple[tuple[int, int], ...]] = Field(
        description="stem group → the GM program spans (first, last) it takes for a counter, pad or figure"
    )
    layers: tuple[LayerStep, ...] = Field(min_length=1, description="by rising intensity")
    moods: dict[str, MoodPalette]

    @model_validator(mode="after")
    def _complete(self) -> Palettes:
        covered = sorted(p for spans in self.stem_groups.values() for a, b in spans for p in range(a, b + 1))
        if covered != list(range(128)):
            raise ValueError("stem_groups must give every GM program 0–127 exactly one group")
        if [s.intensity for s in self.layers] != sorted(s.intensity for s in self.layers) or self.layers[0].intensity:
            raise ValueError("layers must start at intensity 0 and rise")
        missing = sorted(set(MOODS) - set(self.moods))
        if missing:
            raise ValueError(f"schemas/palettes.yaml lacks the moods {', '.join(missing)}")
        return self

    def playable(self, program: int) -> PlayableRange:
        """The playable range of a General MIDI program."""
        return self.ranges.get(program) or self.family_ranges[program // 8]

    def group(self, role: Role, program: int) -> StemGroup:
        """The stem a part of ``role`` on ``program`` is delivered in."""
        if role in ROLE_GROUP:
            return ROLE_GROUP[role]
        return next(g for g, spans in self.stem_groups.items() if any(a <= program <= b for a, b in spans))

    def layer_count(self, intensity: float) -> int:
        """How many parts play (the lead included) at ``intensity``."""
        return [s.layers for s in self.layers if s.intensity <= intensity + 1e-9][-1]


@cache
def palettes() -> Palettes:
    """The palettes (read once per process)."""
    text = resources.files("cues.schemas").joinpath("palettes.yaml").read_text(encoding="utf-8")
    return Palettes.model_validate(yaml.safe_load(text))
