"""Arranging the chords and the melody for the ensemble: the pad's voicings, accents at hits, the ending (the bass
line, the figure and the counter-line are ``bass_line.py``'s, ``figures.py``'s and ``counter_line.py``'s; which part
plays where is ``orchestration.py``'s).

Pure functions of the plan, the chord slots and the melody; every number below is a musical rule, not a model.

- **Pad**: three- or four-note voicings (the chord with its colour, ``chord_colour.py``) between
  ``VOICING_RANGE``, each chosen (among all inversions and octave placements) to move the voices least from the
  previous one. Below intensity ``PAD_RESTRIKE`` it sustains each chord; above, it re-strikes it every bar (the
  figure plays the rhythm). No chord tone sounds a semitone from a held melody note (``voicing.py``).
- **Bass**: in ``pipelines/compose/bass_line.py`` (walking, pedal, syncopated … by the groove, with approach notes).
- **Drums**: in ``pipelines/compose/drums.py`` (the groove, its fills, and the drums of hits and endings).
- **Hits**: an accented re-strike of the chord at each hit, voiced against the melody like every strike.
- **Endings** (brief contract): ``ring_out`` a tonic chord on the last bar's downbeat held to the end;
  ``button`` a short accented tonic chord on the last beat; ``fade`` an expression ramp to silence over the last
  bars; ``cut`` plays through; ``loop`` keeps playing into the turnaround, with no note crossing the end.
"""

from __future__ import annotations

from dataclasses import dataclass

from cues.pipelines.compose.chord_colour import Colour
from cues.pipelines.compose.progression import Slot
from cues.pipelines.compose.score import Control, Note
from cues.pipelines.compose.voicing import BASS_RANGE, MelodyLine, lead_voices, lowest_at_or_above, voice_strike
from cues.schemas.brief import Ending
from cues.schemas.palettes import Role
from cues.schemas.plan import Plan

FADE_BARS = 2
HIT_BEATS = 2  # a hit lands as a tutti held this long: the ensemble louder for a beat or two, not only a crash
PAD_RESTRIKE = 0.5  # from this intensity the pad re-strikes its chord every bar


@dataclass(frozen=True)
class Dynamics:
    """Velocity by section intensity: ``softest`` (MIDI velocity) at intensity 0, rising geometrically to
    ``loudest`` × the mood's velocity at intensity 1. Soft is soft in every mood and how loud the climax gets is the
    mood's; the rise is even in decibels (General MIDI's velocity curve is 40 log10), so every step of intensity is
    heard alike, and the loud moods, with the most decibels per step, build most (issue 16: the heroic family has
    the widest dynamic range)."""

    softest: float  # MIDI velocity at intensity 0
    loudest: float  # × the mood's velocity, at intensity 1

    def at(self, mood_velocity: float, intensity: float) -> float:
        return self.softest * (self.loudest * mood_velocity / self.softest) ** intensity


#: The accompaniment's dynamics: 25 dB per unit of intensity for the heroic moods (velocity 30 to 125), 21 for the
#: bright (30 to 101), 16 for the calm (30 to 77), before the layers add theirs; linear in velocity (the mood's × 0.7
#: to 1.3) an arc spread 5–6 dB on half the bench's arcs and the heroic family, at the top of the curve, least.
DYNAMICS = Dynamics(softest=30, loudest=1.2)


def velocity(plan: Plan, intensity: float, scale: float = 1.0) -> int:
    """MIDI velocity from the mood's base velocity, the section's intensity (``DYNAMICS``) and a per-part scale."""
    return round(min(127, max(20, scale * DYNAMICS.at(plan.velocity, intensity))))


def pad_part(plan: Plan, slots: list[Slot], melody: list[Note]) -> list[Note]:
    """The chords, voiced to lead smoothly and sustained (re-struck every bar from ``PAD_RESTRIKE``), each tone
    silent while it would clash with ``melody`` (``voicing.voice_strike``)."""
    line = MelodyLine(melody, plan.total_steps)
    notes, previous = [], None
    for slot in slots:
        section = plan.sections[slot.section]
        voicing = lead_voices(previous, slot.voiced_pitch_classes(plan))
        previous = voicing
        level = velocity(plan, section.intensity, 0.8)
        for start, end in _strikes(plan, slot, section.intensity):
            notes += _struck(plan, slot, voicing, start, end, line, level)
    return notes


def _struck(
    plan: Plan, slot: Slot, voicing, start: int, end: int, line: MelodyLine, level: int, final: bool = False
) -> list[Note]:
    """One strike of ``voicing`` voiced against the melody; the ``final`` chord keeps its root whole."""
    colour = slot.voiced_pitch_classes(plan)[-1] if slot.colour != Colour.plain else None
    held = slot.voiced_pitch_classes(plan)[0] if final else None
    strike = voice_strike(voicing, colour, start, end, line, plan.steps_per_beat, held)
    return [Note(a, b, p, level) for a, b, p in strike]


def _strikes(plan: Plan, slot: Slot, intensity: float) -> list[tuple[int, int]]:
    """When the chord is struck inside its slot: once, or every bar, by intensity."""
    every = slot.end - slot.start if intensity < PAD_RESTRIKE else plan.steps_per_bar
    starts = list(range(slot.start, slot.end, every))
    return [(s, min(s + every, slot.end)) for s in starts]


def hit_accents(plan: Plan, slots: list[Slot], melody: list[Note]) -> tuple[dict[str, list[Note]], list[int]]:
    """Accents at the hits the plan could place, a tutti held for ``HIT_BEATS``: the chord struck hard (voiced
    against ``melody`` like every strike) over the bass's low root; their drums are ``drums.hit_drums``."""
    line = MelodyLine(melody, plan.total_steps)
    parts: dict[str, list[Note]] = {"pad": [], "bass": []}
    steps = []
    for hit in plan.hits:
        step = hit.step
        if step >= plan.total_steps:
            continue
        steps.append(step)
        slot = next(s for s in slots if s.start <= step < s.end)
        end = min(step + HIT_BEATS * plan.steps_per_beat, plan.total_steps)
        parts["pad"] += _struck(plan, slot, lead_voices(None, slot.voiced_pitch_classes(plan)), step, end, line, 118)
        parts["bass"].append(Note(step, end, _low_root(plan, slot), 118))
    return parts, steps


def apply_ending(plan: Plan, parts: dict[str, list[Note]], slots: list[Slot]) -> dict[str, list[Control]]:
    """Shape the last bar(s) for the ending in place (before the hit accents are added, which an ending must not
    remove); returns the control changes it needs (fade). ``parts`` are keyed by part name (``lead``, ``pad``,
    ``bass``, ``drums``, …); the final chord is the pad's, with the bass's root when the bass plays in the last
    section (the drums' are ``drums.ending_drums``)."""
    total, bar = plan.total_steps, plan.steps_per_bar
    last_bar = total - bar
    controls: dict[str, list[Control]] = {}
    tonic_voicing = lead_voices(None, slots[-1].voiced_pitch_classes(plan))
    line = MelodyLine(parts["lead"], total)
    final_level = velocity(plan, plan.sections[-1].intensity)
    closing = set(plan.sections[-1].roles) or {Role.bass}
    bass = Role.bass in closing and "bass" in parts
    if plan.ending == Ending.ring_out:
        for name in parts:
            if name != "lead":
                parts[name] = [n for n in parts[name] if n.start < last_bar]
        parts["pad"] += _struck(plan, slots[-1], tonic_voicing, last_bar, total, line, final_level, final=True)
        if bass:
            parts["bass"].append(Note(last_bar, total, _low_root(plan, slots[-1]), final_level))
    elif plan.ending == Ending.button:
        button = total - plan.steps_per_beat
        length = max(1, plan.steps_per_beat // 2)
        for name in parts:
            parts[name] = [_clip(n, button) for n in parts[name] if n.start < button]
        accent = min(127, final_level + 15)
        parts["lead"].append(Note(button, button + length, _melody_tonic(plan, parts["lead"]), accent))
        line = MelodyLine(parts["lead"], total)
        parts["pad"] += _struck(plan, slots[-1], tonic_voicing, button, button + length, line, accent, final=True)
        if bass:
            parts["bass"].append(Note(button, button + length, _low_root(plan, slots[-1]), accent))
    elif plan.ending == Ending.fade:
        start = max(0, total - FADE_BARS * bar)
        ramp = [Control(s, 11, round(127 * (total - s) / (total - start))) for s in range(start, total, 2)]
        controls = {name: list(ramp) for name in parts}
    for name in parts:  # nothing sounds past the end: a loop's seam and a cut's edge are exact
        parts[name] = sorted(_clip(n, total) for n in parts[name] if n.start < total)
    return controls


def _clip(note: Note, end: int) -> Note:
    return note if note.end <= end else Note(note.start, end, note.pitch, note.velocity)


def _low_root(plan: Plan, slot: Slot) -> int:
    return lowest_at_or_above(slot.chord.pitch_classes(plan.tonic)[0], BASS_RANGE[0])


def _melody_tonic(plan: Plan, melody: list[Note]) -> int:
    reference = melody[-1].pitch if melody else round(plan.melody_centre)
    return min(
        (p for p in range(reference - 6, reference + 7) if p % 12 == plan.tonic), key=lambda p: abs(p - reference)
    )
