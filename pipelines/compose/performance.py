"""How the score is played: timing and velocity that breathe, articulation by role, and a swell over each phrase.

The score is on the 16th-note grid; players are not. :func:`perform` turns each part's notes into MIDI ticks the
way its role plays (:data:`ARTICULATIONS`, looked up by the part's name, drums by their channel):

- **Timing**: each onset leaves the grid by a few milliseconds (a standard deviation of ``timing_ms`` at the local
  tempo), drawn as a slow drift (each offset half the one before plus a fresh draw), as a player rushes or drags a
  little over a few notes rather than at random per note. Drums keep the grid: the groove is the clock.
- **Velocity**: a few steps either way per note (``velocity_steps``), and a phrase-shaped swell: ``swell`` steps
  times ``sin(π x) − 2/π`` at the note's place ``x`` (0–1) in its phrase (``phrases.py``), which averages to zero
  over the phrase, so a part's level stays the arrangement's and only its shape is the player's.
- **Articulation**: a legato part (the lead) holds each note ``legato_ms`` into the next note when that one starts
  where it ends (a slur; never into a repeated pitch); a rhythmic part plays its notes of a beat or less for
  ``short_length`` of their written length (detached), and holds longer notes as written (sustained).
- **Initial balance**: a volume (CC 7) per role at the start, the lead a little above the accompaniment (+2 dB in
  General MIDI's curve), so the MIDI file sounds balanced in any player; the mix's own rule
  (``pipelines/render/balance.py``) is what guarantees it in the delivered audio.

What stays exact (the brief's promises): a note struck at a hit (``Score.accents``) or on a section's first step
keeps its tick, length and velocity, so hits land on their sample and each section starts together; no note
starts before the cue or sounds past its end (a loop's seam and a cutdown's length are as written); a note is
released before its pitch is struck again on its channel. Deterministic: each part draws from a generator seeded
by the plan's seed and the part's name (Python's ``random``, whose string seeding and streams are stable across
versions), so the same plan gives the same bytes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from cues.pipelines.compose.phrases import phrase_at_bar, phrase_spans
from cues.pipelines.compose.score import Score
from cues.pipelines.compose.tempo_map import TempoMap
from cues.schemas.plan import Plan

DRUM_CHANNEL = 9  # General MIDI channel 10
DRIFT = 0.5  # each timing offset keeps this much of the one before (a slow rush or drag, not a jitter)
MAX_DEVIATIONS = 2.5  # offsets are clipped to this many standard deviations
MIN_LENGTH_TICKS = 10  # a note a player shortens still sounds at least this long


@dataclass(frozen=True)
class Articulation:
    """How one role plays: onset spread (ms, standard deviation), velocity spread (MIDI steps, standard
    deviation), phrase swell (velocity steps at the phrase's middle), the share of its written length a note of a
    beat or less keeps, the overlap into the next note (ms; 0 = not legato), and its CC 7 volume (0–127)."""

    timing_ms: float
    velocity_steps: float
    swell: float
    short_length: float
    legato_ms: float
    volume: int


# columns: timing_ms, velocity_steps, swell, short_length, legato_ms, volume (CC 7)
ARTICULATIONS: dict[str, Articulation] = {  # by role (``schemas/palettes.py``)
    "lead": Articulation(5.0, 3.0, 8.0, 1.0, 25.0, 112),  # the tune: sung, slurred, a little above the rest
    "counter": Articulation(5.0, 2.5, 7.0, 0.9, 15.0, 100),  # a second voice: legato, a little less
    "pad": Articulation(3.0, 2.0, 5.0, 1.0, 0.0, 100),  # sustained chords: held
    "figure": Articulation(4.0, 2.5, 6.0, 0.8, 0.0, 100),  # arpeggios, ostinati, pulses: detached
    "bass": Articulation(3.0, 2.5, 4.0, 0.85, 0.0, 100),
    "fx": Articulation(0.0, 0.0, 0.0, 1.0, 0.0, 100),  # risers and impacts land where they are written
}
DRUMS = Articulation(0.0, 2.0, 0.0, 1.0, 0.0, 100)  # the grid is the clock: only the velocity moves
OTHER = Articulation(4.0, 2.5, 5.0, 0.85, 0.0, 100)


@dataclass(frozen=True, order=True)
class Played:
    """A note as played: note-on and note-off in MIDI ticks (``off > on``), pitch and velocity (1–127)."""

    on: int
    off: int
    pitch: int
    velocity: int


def articulation(plan: Plan, part: str) -> Articulation:
    """The articulation of ``part``: drums by their channel, else by its role, else :data:`OTHER`."""
    found = next((p for p in plan.parts if p.name == part), None)
    if found is not None and found.channel == DRUM_CHANNEL:
        return DRUMS
    return ARTICULATIONS.get(found.role.value if found is not None else part, OTHER)


def perform(score: Score, part: str, ticks_per_step: int) -> list[Played]:
    """The notes of ``part`` as played (module docstring), in ticks of ``ticks_per_step`` per grid step."""
    plan = score.plan
    style = articulation(plan, part)
    notes = sorted(score.parts.get(part, []))
    end_tick = plan.total_steps * ticks_per_step
    exact = set(score.accents) | {s.start_bar * plan.steps_per_bar for s in plan.sections}
    rng = random.Random(f"{plan.seed}:{part}")
    tick_us = _tick_lengths(plan, ticks_per_step)
    swell = _phrase_swell(plan)
    onsets = {note.start for note in notes}
    played, drift = [], 0.0
    for note in notes:
        on, off = note.start * ticks_per_step, note.end * ticks_per_step
        if note.start in exact:
            played.append(Played(on, off, note.pitch, note.velocity))
            continue
        drift = DRIFT * drift + math.sqrt(1 - DRIFT**2) * rng.gauss(0.0, 1.0)
        per_ms = 1000.0 / tick_us(note.start)
        shift = round(_clipped(drift) * style.timing_ms * per_ms)
        level = note.velocity + style.velocity_steps * _clipped(rng.gauss(0.0, 1.0)) + style.swell * swell(note.start)
        if style.legato_ms and note.end in onsets:
            off += round(style.legato_ms * per_ms)
        elif note.end - note.start <= plan.steps_per_beat and style.short_length < 1.0:
            off = on + max(MIN_LENGTH_TICKS, round((off - on) * style.short_length))
        on = min(max(0, on + shift), end_tick - MIN_LENGTH_TICKS)
        off = min(max(off, on + MIN_LENGTH_TICKS), end_tick)
        played.append(Played(on, off, note.pitch, min(127, max(1, round(level)))))
    return _released_before_restruck(played)


def _clipped(deviations: float) -> float:
    return min(MAX_DEVIATIONS, max(-MAX_DEVIATIONS, deviations))


def _tick_lengths(plan: Plan, ticks_per_step: int):
    """A function step → microseconds per tick at that step's tempo."""
    segments = TempoMap.of(plan).segments

    def tick_us(step: int) -> float:
        segment = next((s for s in segments if step < s.end_step), segments[-1])
        return segment.duration_us / (segment.steps * ticks_per_step)

    return tick_us


def _phrase_swell(plan: Plan):
    """A function step → the swell's shape at that step, ``sin(π x) − 2/π`` for its place ``x`` in its phrase."""
    phrases = phrase_spans(plan)
    bar_steps = plan.steps_per_bar

    def shape(step: int) -> float:
        phrase = phrase_at_bar(phrases, min(step // bar_steps, plan.bars - 1))
        start = phrase.start_bar * bar_steps
        return math.sin(math.pi * (step - start) / (phrase.bars * bar_steps)) - 2.0 / math.pi

    return shape


def _released_before_restruck(played: list[Played]) -> list[Played]:
    """Each note released no later than the next strike of its pitch (a note-off after it would silence the new
    note); of two strikes of one pitch at one tick only the longer sounds, at the louder velocity."""
    ordered = sorted(played)
    kept: list[Played] = []
    next_on: dict[int, Played] = {}
    for note in reversed(ordered):
        following = next_on.get(note.pitch)
        if following is not None and following.on == note.on:
            louder = Played(following.on, following.off, note.pitch, max(note.velocity, following.velocity))
            kept[kept.index(following)] = louder
            next_on[note.pitch] = louder
            continue
        if following is not None and note.off > following.on:
            note = Played(note.on, following.on, note.pitch, note.velocity)
        kept.append(note)
        next_on[note.pitch] = note
    return sorted(kept)


def volumes(score: Score) -> dict[str, int]:
    """The CC 7 volume of each part of ``score``'s plan (module docstring: the initial balance)."""
    return {part.name: articulation(score.plan, part.name).volume for part in score.plan.parts}
