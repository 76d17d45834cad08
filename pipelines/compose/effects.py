"""The effects part: risers that prepare the hits and the builds, impacts that land them, timpani rolls into them.

Pure functions of the plan, the chord slots and the melody (grid steps). Which instruments play them is data, by
mood family (``schemas/effects.yaml``); the parts are ``ensemble.py``'s (``fx``: the riser, ``impact``: the impact).

- **Targets**: every hit the plan could place, and the downbeat of every section whose intensity rises by
  ``RISE_STEP`` or more over the section before (a clear step of the arc, not a wobble). A rise within a beat of a
  hit is the hit's.
- **Risers** end exactly on their target (the note-off on the hit's step: the swell stops where the hit lands) and
  start ``RISER_BEATS`` before it, never before the previous target (two risers never overlap) nor before the cue;
  one shorter than a beat is left out. The riser's expression (CC 11) ramps from ``SWELL_FROM`` to full over its
  span, rising slowly first (squared: most of the swell in its last beats), and stays full after it. A sound effect
  (a reverse cymbal) is one note; a melodic riser (a tremolo or slow string, a pad) a chord tone doubled at the
  octave. Its pitch class is a chord tone of every chord under the span that the melody never sounds a semitone
  from (the tonic and the dominant first); with none, the target has no riser. A sound effect plays at the
  impact's velocity, a melodic riser at ``SWELL_SCALE`` of the section's: it prepares the hit, it must not cover it.
- **Impacts** land on every hit (``ACCENT``) and on the downbeat of a climax (a rise into intensity ``CLIMAX_FROM``
  or more, at the section's velocity), low in the instrument's range (from ``IMPACT_FLOOR``) on the chord's root
  (its fifth, the riser's tone or its third when the melody is a semitone from the root), held
  ``arrangement.HIT_BEATS``.
- **Rolls** (families with ``roll``): into what an impact lands (a hit, a climax; a quiet section's step up is
  prepared by the riser alone), the impact instrument strikes every sixteenth of the riser's last ``ROLL_BEATS``,
  crescendo from ``ROLL_FROM`` to ``ROLL_TO`` of the accent, on the riser's tone.

What stays exact: the impacts start on the hit's step and the risers end on it (``performance.py`` keeps the
effects on the grid: hits ±10 ms hold); nothing sounds past the cue's end (a loop's seam and a cutdown's length stay
exact: a cutdown has no hits, only its rises); no riser reaches into a ``fade`` ending's bars, whose expression ramp
owns CC 11 there. A cue without targets has empty effects parts, which ``orchestration.delivered`` drops (the fx
stem is then absent, not silent).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from cues.pipelines.compose.arrangement import FADE_BARS, HIT_BEATS, velocity
from cues.pipelines.compose.drums import section_at
from cues.pipelines.compose.progression import Slot
from cues.pipelines.compose.score import Control, Note
from cues.pipelines.compose.voicing import MelodyLine, lowest_at_or_above
from cues.schemas.brief import Ending
from cues.schemas.effects import FamilyEffects
from cues.schemas.palettes import Role
from cues.schemas.plan import Plan

RISE_STEP = 0.15  # a section this much more intense than the one before gets a riser into its downbeat
CLIMAX_FROM = 0.75  # a rise into a section at least this intense lands with an impact
RISER_BEATS = 4  # a riser's length before its target (a bar of 4/4)
ROLL_BEATS = 2  # a roll's length: the riser's last beats
SWELL_FROM = 24  # the riser's expression at its start (CC 11; about −29 dB in General MIDI's squared curve)
ACCENT = 118  # velocity of an impact, and of a sound-effect riser, on a hit (the drums' landing)
SWELL_SCALE = 0.6  # a melodic riser's velocity × the section's: a sustained string or pad at full velocity in the
# second before a hit masks the hit (the 60 bench cues' tense and tender hit accents fell by 4-6 dB)
ROLL_FROM, ROLL_TO = 0.3, 0.85  # a roll's first and last stroke, as shares of ACCENT
IMPACT_FLOOR = 36  # an impact's lowest pitch (C2): a boom, not a rumble
RISER_CENTRE = 60  # a riser sits in the octave from here (within its instrument's range)
EXPRESSION, FULL = 11, 127
RISER, IMPACT = "fx", "impact"  # the effects parts' names (``ensemble.py``)


@dataclass(frozen=True)
class Target:
    """A step an effect prepares and lands: a hit or a rising section's downbeat, with the intensity it reaches."""

    step: int
    hit: bool
    intensity: float

    @property
    def lands(self) -> bool:
        """Does an impact land on it: every hit, and a rise into a climax."""
        return self.hit or self.intensity >= CLIMAX_FROM - 1e-9


def targets(plan: Plan) -> list[Target]:
    """The hits the plan placed and the downbeats of the sections that rise by ``RISE_STEP`` (module docstring)."""
    bar, beat = plan.steps_per_bar, plan.steps_per_beat
    hits = sorted({h.step for h in plan.hits if 0 < h.step < plan.total_steps})
    found = [Target(step, True, section_at(plan, step).intensity) for step in hits]
    for previous, section in itertools.pairwise(plan.sections):
        step = section.start_bar * bar
        if section.intensity - previous.intensity >= RISE_STEP - 1e-9 and all(abs(step - h) >= beat for h in hits):
            found.append(Target(step, False, section.intensity))
    return sorted(found, key=lambda t: t.step)


def effect_parts(
    plan: Plan, slots: list[Slot], melody: list[Note], effects: FamilyEffects
) -> tuple[dict[str, list[Note]], dict[str, list[Control]]]:
    """The notes of the riser and impact parts the plan has (keyed by part name) and the riser's expression ramps;
    empty for a cue without an effects part (a brief's ``instruments``)."""
    riser = next((p for p in plan.parts if p.role == Role.fx and p.name == RISER), None)
    impact = next((p for p in plan.parts if p.role == Role.fx and p.name == IMPACT), None)
    if riser is None:
        return {}, {}
    line = MelodyLine(melody, plan.total_steps)
    beat = plan.steps_per_beat
    fade_from = plan.total_steps - FADE_BARS * plan.steps_per_bar if plan.ending == Ending.fade else plan.total_steps
    notes: dict[str, list[Note]] = {RISER: [], **({IMPACT: []} if impact else {})}
    ramp: dict[int, Control] = {}  # by step: a riser starting where the one before ends takes its step
    previous = 0
    for target in targets(plan):
        start = max(previous, target.step - RISER_BEATS * beat)
        previous = target.step
        tone = _riser_tone(plan, slots, line, start, target.step)
        level = ACCENT if target.hit else velocity(plan, target.intensity)
        if target.step - start >= beat and target.step <= fade_from and tone is not None:
            swell = velocity(plan, target.intensity, SWELL_SCALE) if effects.riser_is_pitched else level
            notes[RISER] += _riser_notes(start, target.step, tone, riser.low, riser.high, effects, swell)
            ramp |= {control.step: control for control in _swell(start, target.step)}
            if impact is not None and effects.roll and target.lands:
                notes[IMPACT] += _roll(max(start, target.step - ROLL_BEATS * beat), target.step, tone, impact.low)
        if impact is not None and target.lands:
            end = min(target.step + HIT_BEATS * beat, plan.total_steps)
            pitch = _low(_impact_class(plan, slots, line, target.step, end, tone), impact.low)
            notes[IMPACT].append(Note(target.step, end, pitch, level))
    swells = {RISER: sorted(ramp.values(), key=lambda control: control.step)} if ramp else {}
    return {name: sorted(set(part)) for name, part in notes.items()}, swells


def _riser_notes(
    start: int, end: int, tone: int, low: int, high: int, effects: FamilyEffects, level: int
) -> list[Note]:
    """One note (a sound effect) or a tone and its octave (a melodic riser) of pitch class ``tone``, near
    ``RISER_CENTRE`` inside ``low``–``high``."""
    floor = max(low, min(RISER_CENTRE, high - 11))
    pitch = lowest_at_or_above(tone, floor)
    pitches = [pitch] + ([pitch + 12] if effects.riser_is_pitched and pitch + 12 <= high else [])
    return [Note(start, end, p, min(127, level)) for p in pitches]


def _swell(start: int, end: int) -> list[Control]:
    """CC 11 from ``SWELL_FROM`` at ``start`` to full at ``end``, squared (slow first), one control per step."""
    return [
        Control(step, EXPRESSION, round(SWELL_FROM + (FULL - SWELL_FROM) * ((step - start) / (end - start)) ** 2))
        for step in range(start, end + 1)
    ]


def _roll(start: int, end: int, tone: int, low: int) -> list[Note]:
    """A crescendo roll of sixteenths on ``tone`` low in the impact's range, from ``start`` up to ``end``."""
    pitch = _low(tone, low)
    length = end - start
    return [
        Note(step, step + 1, pitch, round(ACCENT * (ROLL_FROM + (ROLL_TO - ROLL_FROM) * (step - start + 1) / length)))
        for step in range(start, end)
    ]


def _low(pitch_class: int, low: int) -> int:
    return lowest_at_or_above(pitch_class, max(low, IMPACT_FLOOR))


def _riser_tone(plan: Plan, slots: list[Slot], line: MelodyLine, start: int, end: int) -> int | None:
    """A pitch class every chord under ``start``–``end`` holds and the melody never sounds a semitone from: the
    tonic, the dominant, then the first chord's other tones; None when there is none."""
    under = [s for s in slots if s.start < end and start < s.end] if end > start else []
    common = set.intersection(*(set(s.chord.pitch_classes(plan.tonic)) for s in under)) if under else set()
    first = under[0].chord.pitch_classes(plan.tonic) if under else []
    order = [plan.tonic, (plan.tonic + 7) % 12, *first]
    for tone in dict.fromkeys(order):
        if tone in common and not line.clashes(tone, start, end).any():
            return tone
    return None


def _impact_class(plan: Plan, slots: list[Slot], line: MelodyLine, start: int, end: int, tone: int | None) -> int:
    """The chord's root at ``start``, or its fifth, or ``tone`` (or the tonic), or its third: the first the melody
    sounds a semitone from on the fewest steps of ``start``–``end`` (none, unless every one clashes)."""
    slot = next(s for s in slots if s.start <= start < s.end)
    root, third, fifth, *_ = slot.chord.pitch_classes(plan.tonic)
    candidates = (root, fifth, tone if tone is not None else plan.tonic, third)
    return min(candidates, key=lambda pitch_class: int(line.clashes(pitch_class, start, end).sum()))
