"""The drummer's repertoire (``schemas/grooves.yaml``) as typed data: named grooves, each a bar of strokes thinned by
intensity, an answering second bar, variations and ghost notes chosen bar by bar, and a kind of fill.

Drums are named by what they are (``kick``, ``closed_hat``, ``timpani_root`` …), not by General MIDI number: the
same groove is played on the standard kits and on the orchestra kit, whose drum maps differ
(``pipelines/compose/drum_kit.py``). Which groove a cue plays is the plan's choice among its mood's grooves
(``schemas/mood_table.yaml``); how the bars are written is ``pipelines/compose/grooves.py``.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Groove(StrEnum):
    """The named grooves of ``schemas/grooves.yaml`` (``none``: the cue has no groove, only the drums of hits)."""

    none = "none"
    pulse = "pulse"
    straight = "straight"
    driving = "driving"
    half_time = "half_time"
    shuffle = "shuffle"
    march = "march"
    ostinato = "ostinato"
    backbeat_push = "backbeat_push"
    four_on_floor = "four_on_floor"
    clap_bounce = "clap_bounce"
    half_time_toms = "half_time_toms"
    snare_march = "snare_march"
    timpani_march = "timpani_march"
    taiko = "taiko"
    heartbeat = "heartbeat"
    tension = "tension"
    tick_tock = "tick_tock"
    shaker = "shaker"
    brushes = "brushes"
    timpani_swell = "timpani_swell"


class BassStyle(StrEnum):
    """How the bass line plays under a groove (``pipelines/compose/bass_line.py``)."""

    walking = "walking"  # a note a beat: chord tones on the strong beats, a step into the next chord's root
    pedal = "pedal"  # the tonic (the dominant in a build) held under changing chords, released at cadences
    syncopated = "syncopated"  # the groove's kick pattern, root and octave, a step into each chord change
    root_fifth = "root_fifth"  # root and fifth by the beat, driving eighths in loud sections
    octaves = "octaves"  # driving eighths on the root, jumping the octave in loud sections
    sustained = "sustained"  # the chord's root held, re-struck every bar


class Drum(StrEnum):
    """A drum or percussion instrument, mapped to a General MIDI drum note per kit."""

    kick = "kick"
    snare = "snare"
    side_stick = "side_stick"
    clap = "clap"
    closed_hat = "closed_hat"
    pedal_hat = "pedal_hat"
    open_hat = "open_hat"
    ride = "ride"
    ride_bell = "ride_bell"
    crash = "crash"
    splash = "splash"
    tom_high = "tom_high"
    tom_mid = "tom_mid"
    tom_low = "tom_low"
    tom_floor = "tom_floor"
    timpani_root = "timpani_root"  # tuned to the key's tonic on the orchestra kit
    timpani_fifth = "timpani_fifth"  # tuned to its dominant
    bass_drum = "bass_drum"  # the concert bass drum
    taiko = "taiko"
    taiko_short = "taiko_short"
    shaker = "shaker"
    tambourine = "tambourine"
    triangle = "triangle"
    woodblock = "woodblock"
    cabasa = "cabasa"


class Beats(StrEnum):
    """Which beats of the bar a stroke plays on."""

    all = "all"
    odd = "odd"  # 1, 3 …
    even = "even"  # 2, 4 …
    first = "first"
    middle = "middle"  # the half-time backbeat: beat 3 of 4, beat 2 of 2 or 3
    last = "last"


class Stroke(BaseModel):
    """``drum`` on ``beats`` at ``at`` (fractions of a beat: 0.5 is the offbeat; in 6/8 the halves and quarters of
    a beat fall on its eighths), at ``level`` of the section's drum velocity, from intensity ``start`` up to (not
    including) ``stop``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drum: Drum
    beats: Beats = Beats.all
    at: tuple[float, ...] = Field((0.0,), min_length=1, description="fractions of a beat, each in [0, 1)")
    level: float = Field(gt=0, le=1, description="share of the section's drum velocity (0–1)")
    start: float = Field(0.0, ge=0, le=1, description="lowest section intensity at which it plays")
    stop: float = Field(1.01, gt=0, le=1.01, description="section intensity from which it no longer plays")

    @model_validator(mode="after")
    def _offsets_in_the_beat(self) -> Stroke:
        if not all(0 <= a < 1 for a in self.at):
            raise ValueError(f"stroke offsets are fractions of a beat in [0, 1), got {list(self.at)}")
        return self


class Ghosts(BaseModel):
    """Quiet strokes of ``drum`` on free sixteenths, placed anew in each bar (from intensity ``start``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drum: Drum
    level: float = Field(gt=0, le=1, description="share of the section's drum velocity (0–1)")
    count: int = Field(ge=1, le=6, description="ghost strokes per bar at full intensity (fewer below)")
    start: float = Field(0.5, ge=0, le=1, description="lowest section intensity at which they play")


class Fill(StrEnum):
    """What the drummer plays into the next section or phrase."""

    toms = "toms"  # sixteenths down the toms (down the timpani on the orchestra kit)
    snare_roll = "snare_roll"  # a crescendo of sixteenths on the snare
    timpani_roll = "timpani_roll"  # a crescendo roll on the tonic's timpani
    cymbal_swell = "cymbal_swell"  # soft-mallet ride strokes rising into the downbeat


class GrooveSpec(BaseModel):
    """One groove: the bass line's style under it, its main bar, what the second bar of each pair adds, the
    variations a bar may take, ghost notes, and its fill."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bass: BassStyle = Field(description="how the bass line plays under this groove")
    about: str = Field(description="what it sounds like, and for which moods")
    bar: tuple[Stroke, ...] = Field(description="the strokes of every bar")
    answer: tuple[Stroke, ...] = Field((), description="strokes added in the second bar of every two")
    variations: tuple[Stroke, ...] = Field((), description="strokes a bar may add (chosen bar by bar by the seed)")
    ghosts: Ghosts | None = None
    fill: Fill = Fill.toms


@cache
def groove_table() -> dict[Groove, GrooveSpec]:
    """Every named groove → its spec (read once per process); ``none`` has no strokes."""
    text = resources.files("cues.schemas").joinpath("grooves.yaml").read_text(encoding="utf-8")
    table = {Groove(name): GrooveSpec.model_validate(entry) for name, entry in yaml.safe_load(text).items()}
    missing = sorted(set(Groove) - set(table))
    if missing:
        raise ValueError(f"schemas/grooves.yaml lacks the grooves {', '.join(missing)}")
    return table
