"""The figure: rhythmic accompaniment played from the chord slots, as its texture says (``schemas/palettes.py``).

Pure functions of the plan, the chord slots, the melody and the figure's part (its register and texture). The
pitches are the chord the pad voices (``Slot.voiced_pitch_classes``, colour included), laid out in the part's
register; every note obeys ``voicing.py``'s rule: no tone a semitone from a melody note sounding with it.

- **arpeggio**: the chord's tones from the lowest root of the register up (two octaves at most) and back, one at a
  time: quarter notes below intensity ``ARPEGGIO_EIGHTHS``, eighths up to ``ARPEGGIO_SIXTEENTHS``, then sixteenths.
- **ostinato**: root, fifth, octave, fifth, repeated from the lowest root of the register: eighths, sixteenths from
  ``OSTINATO_SIXTEENTHS``.
- **pulse**: the chord in close position struck short (half its spacing) on every eighth (every beat below
  ``PULSE_EIGHTHS``).
- **strum**: the chord on every beat, a beat long (every eighth from ``STRUM_EIGHTHS``).
- **tremolo**: the chord held a bar (half a bar from ``TREMOLO_HALVES``); the tremolo is the instrument's.

A single tone that would clash is replaced by the chord tone nearest it that does not; if none is free it rests.
A chord's tones are each held only where they do not clash (``voicing.voice_strike``). Patterns restart at every
chord, so a figure always begins on the root.
"""

from __future__ import annotations

from cues.pipelines.compose.chord_colour import Colour
from cues.pipelines.compose.progression import Slot
from cues.pipelines.compose.score import Note
from cues.pipelines.compose.voicing import MelodyLine, lowest_at_or_above, voice_strike
from cues.schemas.palettes import Texture
from cues.schemas.plan import Part, Plan

ARPEGGIO_EIGHTHS, ARPEGGIO_SIXTEENTHS = 0.5, 0.85
OSTINATO_SIXTEENTHS = 0.75
PULSE_EIGHTHS = 0.5
STRUM_EIGHTHS = 0.8
TREMOLO_HALVES = 0.8
EIGHTH = 2  # grid steps (sixteenths)


def figure_part(plan: Plan, slots: list[Slot], melody: list[Note], part: Part, level_of) -> list[Note]:
    """The figure's notes over the whole cue (the caller keeps those of the sections it plays in); ``level_of``
    gives the velocity for a section's intensity."""
    line = MelodyLine(melody, plan.total_steps)
    notes: list[Note] = []
    for slot in slots:
        intensity = plan.sections[slot.section].intensity
        level = level_of(intensity)
        pitch_classes = slot.voiced_pitch_classes(plan)
        colour = pitch_classes[-1] if slot.colour != Colour.plain else None
        tones = chord_tones(pitch_classes, part.low, part.high)
        if part.texture in (Texture.arpeggio, Texture.ostinato):
            cycle = _arpeggio(tones) if part.texture == Texture.arpeggio else _ostinato(tones, pitch_classes)
            for k, (start, end) in enumerate(_spans(plan, slot, _step(plan, part.texture, intensity))):
                pitch = _free_tone(cycle[k % len(cycle)], tones, start, end, line)
                if pitch is not None:
                    notes.append(Note(start, end, pitch, level))
        else:
            chord = tuple(tones[: len(pitch_classes)])
            step = _step(plan, part.texture, intensity)
            length = max(1, step // 2) if part.texture == Texture.pulse else step
            for start, end in _spans(plan, slot, step):
                end = min(start + length, end)
                strike = voice_strike(chord, colour, start, end, line, plan.steps_per_beat)
                notes += [Note(a, b, p, level) for a, b, p in strike]
    return sorted(notes)


def chord_tones(pitch_classes: list[int], low: int, high: int) -> list[int]:
    """The chord's pitches from the lowest root at or above ``low`` upwards, at most two octaves of them, up to
    ``high``."""
    root = lowest_at_or_above(pitch_classes[0], low)
    candidates = sorted(p for p in range(root, min(high, root + 24) + 1) if p % 12 in pitch_classes)
    return candidates or [root]


def _arpeggio(tones: list[int]) -> list[int]:
    """Up through the tones and back down, without repeating the top or the bottom."""
    rising = tones[: min(len(tones), 6)]
    return rising + rising[-2:0:-1] if len(rising) > 2 else rising


def _ostinato(tones: list[int], pitch_classes: list[int]) -> list[int]:
    root = tones[0]
    fifth = next((p for p in tones if p % 12 == pitch_classes[2 if len(pitch_classes) > 2 else -1]), root)
    octave = next((p for p in tones if p == root + 12), root)
    return [root, fifth, octave, fifth]


def _step(plan: Plan, texture: Texture, intensity: float) -> int:
    """Grid steps between the figure's onsets, by texture and intensity."""
    beat, bar = plan.steps_per_beat, plan.steps_per_bar
    if texture == Texture.arpeggio:
        return beat if intensity < ARPEGGIO_EIGHTHS else EIGHTH if intensity < ARPEGGIO_SIXTEENTHS else 1
    if texture == Texture.ostinato:
        return EIGHTH if intensity < OSTINATO_SIXTEENTHS else 1
    if texture == Texture.pulse:
        return beat if intensity < PULSE_EIGHTHS else EIGHTH
    if texture == Texture.strum:
        return beat if intensity < STRUM_EIGHTHS else EIGHTH
    return bar if intensity < TREMOLO_HALVES or bar % 2 else bar // 2


def _spans(plan: Plan, slot: Slot, step: int) -> list[tuple[int, int]]:
    """Onsets every ``step`` on the cue's grid inside the slot (and one at its start), each lasting to the next."""
    starts = [slot.start] + [s for s in range(slot.start - slot.start % step + step, slot.end, step)]
    return [(a, b) for a, b in zip(starts, [*starts[1:], slot.end], strict=True)]


def _free_tone(pitch: int, tones: list[int], start: int, end: int, line: MelodyLine) -> int | None:
    """``pitch`` if it does not clash with the melody over ``start``..``end``, else the nearest chord tone that
    does not; None when every one does."""
    for candidate in sorted(tones, key=lambda p: (abs(p - pitch), p)):
        if not line.clashes(candidate % 12, start, end).any():
            return candidate
    return None
