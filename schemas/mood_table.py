"""The composer's mood table (``schemas/mood_table.yaml``) as typed data, and the blend of a brief's 1–3 moods.

The first mood of a brief dominates: numbers (tempo, melody centre, density, harmonic rhythm, velocity, chromaticism,
intensity, chord colours, and the numbers of the melodic style) are weighted averages with weights 1, ½, ⅓
normalised; modes, tonics, grooves and the melody's contour come from the first mood, since an average
of two grooves or a rising and a falling line is neither.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cues.schemas.grooves import Groove
from cues.schemas.key import Mode
from cues.schemas.moods import MOODS


class TempoRange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min: float = Field(ge=40, le=220, description="bpm")
    max: float = Field(ge=40, le=220, description="bpm")
    preferred: float = Field(ge=40, le=220, description="bpm")

    @model_validator(mode="after")
    def _ordered(self) -> TempoRange:
        if not self.min <= self.preferred <= self.max:
            raise ValueError(f"tempo needs min ≤ preferred ≤ max, got {self.min}, {self.preferred}, {self.max}")
        return self


class ChordColours(BaseModel):
    """How often the accompaniment colours a chord, each a share of chords (0–1). The models see the plain triad;
    the colour is a voicing (``pipelines/compose/chord_colour.py``), and a colour tone that would clash with the
    melody is left out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sevenths: float = Field(0.0, ge=0, le=1, description="chords voiced with their diatonic seventh (V7, ii7, Imaj7)")
    suspensions: float = Field(0.0, ge=0, le=1, description="chords voiced sus4 or sus2 (the third replaced)")
    added_ninths: float = Field(0.0, ge=0, le=1, description="chords voiced with an added ninth (add9)")
    borrowed_iv: float = Field(
        0.0, ge=0, le=1, description="share of a major key's IV chords voiced as minor iv (its ♭6 is out of the scale)"
    )


class Contour(StrEnum):
    """The shape a melody's phrases take: where the line heads over the phrase."""

    rising = "rising"  # climbs towards the phrase's end (uplifting, triumphant, epic)
    falling = "falling"  # sinks from an early high point (sad, melancholic)
    arch = "arch"  # rises to a peak in the middle and comes back (romantic, calm)
    wave = "wave"  # rises and falls within each half-phrase (playful, mysterious)
    level = "level"  # circles one register (tense, suspense)


class MelodyStyle(BaseModel):
    """How the melody of a mood moves: biases of the melody LSTM's sampling and terms of the choice among candidate
    phrases (``pipelines/compose/melody_sampler.py``, ``phrase_choice.py``). Units in ``schemas/mood_table.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    leap: float = Field(ge=0, le=1, description="0 moves by step, 1 leaps freely (fourths, fifths, sixths)")
    repeat: float = Field(ge=0, le=0.5, description="share of notes that repeat the note before (0–0.5)")
    contour: Contour
    span: int = Field(ge=7, le=24, description="semitones from the melody's lowest to its highest note")
    sustain: float = Field(ge=-1, le=1, description="-1 short detached notes … 1 long held notes and ties")
    syncopation: float = Field(ge=0, le=1, description="preference for onsets off the beat (0–1)")
    dotted: float = Field(ge=0, le=1, description="preference for dotted (long–short) rhythms (0–1)")


class MoodProfile(BaseModel):
    """How a cue in one mood (or a blend) is planned and arranged. Units in ``schemas/mood_table.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tempo: TempoRange
    modes: tuple[Mode, ...] = Field(min_length=1)
    tonics: tuple[str, ...] = Field(min_length=1)
    melody_centre: float = Field(ge=48, le=84, description="MIDI pitch at the centre of the melody")
    density: float = Field(gt=0, le=1, description="share of 16th steps with a melody onset")
    harmonic_rhythm: float = Field(gt=0, le=2, description="chords per bar")
    grooves: tuple[Groove, ...] = Field(min_length=3, description="the grooves a cue may play, taken in turn by seed")
    velocity: float = Field(ge=1, le=127)
    chromaticism: float = Field(ge=0, le=0.1)
    intensity: float = Field(ge=0, le=1)
    colours: ChordColours = ChordColours()
    melody_style: MelodyStyle


@cache
def mood_table() -> dict[str, MoodProfile]:
    """Every mood of the vocabulary → its profile (read once per process)."""
    text = resources.files("cues.schemas").joinpath("mood_table.yaml").read_text(encoding="utf-8")
    table = {name: MoodProfile.model_validate(entry) for name, entry in yaml.safe_load(text).items()}
    missing = sorted(set(MOODS) - set(table))
    if missing:
        raise ValueError(f"schemas/mood_table.yaml lacks the moods {', '.join(missing)}")
    return table


def blend(moods: tuple[str, ...] | list[str]) -> MoodProfile:
    """The profile of a brief's moods (vocabulary words, first dominant): see the module docstring."""
    table = mood_table()
    profiles = [table[m] for m in moods]
    weights = [1 / (i + 1) for i in range(len(profiles))]
    total = sum(weights)

    def mix(get) -> float:
        return sum(w * get(p) for w, p in zip(weights, profiles, strict=True)) / total

    first = profiles[0]
    style = first.melody_style.model_copy(
        update={
            name: mix(lambda p, name=name: getattr(p.melody_style, name))
            for name in ("leap", "repeat", "sustain", "syncopation", "dotted")
        }
        | {"span": round(mix(lambda p: p.melody_style.span))}
    )
    tempo = TempoRange(
        min=mix(lambda p: p.tempo.min), max=mix(lambda p: p.tempo.max), preferred=mix(lambda p: p.tempo.preferred)
    )
    numbers = {
        name: mix(lambda p, name=name: getattr(p, name))
        for name in ("melody_centre", "density", "harmonic_rhythm", "velocity", "chromaticism", "intensity")
    }
    colours = ChordColours(
        **{name: mix(lambda p, name=name: getattr(p.colours, name)) for name in ChordColours.model_fields}
    )
    # A blend's harmonic rhythm snaps to what the arranger plays: one chord per two bars, per bar, or two per bar.
    numbers["harmonic_rhythm"] = min((0.5, 1.0, 2.0), key=lambda r: abs(r - numbers["harmonic_rhythm"]))
    return first.model_copy(update={"tempo": tempo, "colours": colours, "melody_style": style, **numbers})
