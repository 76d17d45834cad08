"""The counter-line: a second melodic voice below the lead, answering it.

Pure functions of the plan, the chord slots, the melody and the counter's part (its register). A rule-based line, not
a model's (the issue asks for one "from the models"; the melody LSTM writes one line, and a second voice here keeps
the composer within its CPU budget):

- **Rhythm**: it moves where the lead holds. Each beat in which the lead starts no note is an onset of the counter;
  a beat in which the lead moves, the counter holds (or rests, when its note would clash). Every chord change is an
  onset too, so the line follows the harmony.
- **Pitches**: chord tones of the slot (its colour tone too) in the part's register, which lies below the lead.
  Each note moves against the lead: down when the lead rose since the counter's last note, up when it fell, and by
  the smallest interval when the lead held; it avoids the pitch class the lead sounds at its onset (no doubling) and
  the pitch it already holds (it is to move).
- **Clashes**: ``voicing.py``'s rule holds: a tone a semitone from a melody note sounding with it is never chosen
  while another is free; a note that still clashes somewhere is cut where the clash begins (and dropped if that
  leaves less than two steps).
"""

from __future__ import annotations

import numpy as np

from cues.pipelines.compose.progression import Slot
from cues.pipelines.compose.score import Note
from cues.pipelines.compose.voicing import REST, MelodyLine
from cues.schemas.plan import Part, Plan

LEAP_LIMIT = 7  # semitones: a larger move is taken only when nothing nearer is free


def counter_part(plan: Plan, slots: list[Slot], melody: list[Note], part: Part, level_of) -> list[Note]:
    """The counter's notes over the whole cue (the caller keeps those of the sections it plays in); ``level_of``
    gives the velocity for a section's intensity."""
    total = plan.total_steps
    line = MelodyLine(melody, total)
    pitches = np.full(total, REST)
    onsets = np.zeros(total + 1, dtype=bool)
    for note in melody:
        pitches[note.start : min(note.end, total)] = note.pitch
        onsets[min(note.start, total)] = True
    notes: list[Note] = []
    previous, lead_before = None, None
    for slot in slots:
        level = level_of(plan.sections[slot.section].intensity)
        tones = [p for p in range(part.low, part.high + 1) if p % 12 in slot.voiced_pitch_classes(plan)]
        starts = _onsets(plan, slot, onsets)
        for start, end in zip(starts, [*starts[1:], slot.end], strict=True):
            lead = int(pitches[start]) if pitches[start] != REST else None
            pitch = _choose(tones, previous, lead, lead_before, start, end, line)
            if pitch is None:
                continue
            end = _clear_until(line, pitch, start, end)
            if end - start >= 2:
                notes.append(Note(start, end, pitch, level))
                previous = pitch
            lead_before = lead if lead is not None else lead_before
    return notes


def _onsets(plan: Plan, slot: Slot, lead_onsets: np.ndarray) -> list[int]:
    """The slot's start, then every beat of it in which the lead starts no note."""
    beat = plan.steps_per_beat
    result = [slot.start]
    for start in range(slot.start - slot.start % beat + beat, slot.end, beat):
        if not lead_onsets[start : min(start + beat, slot.end)].any():
            result.append(start)
    return result


def _choose(tones, previous, lead, lead_before, start, end, line: MelodyLine) -> int | None:
    """The chord tone for a counter note (module docstring); None when the slot has none in the register."""
    if not tones:
        return None
    if previous is None:
        centre = (tones[0] + tones[-1]) / 2
        previous = min(tones, key=lambda p: (abs(p - centre), p))
    direction = 0 if lead is None or lead_before is None else int(np.sign(lead - lead_before))

    def cost(pitch: int) -> tuple:
        clash = int(line.clashes(pitch % 12, start, end).sum())
        doubled = lead is not None and pitch % 12 == lead % 12
        move = pitch - previous
        against = direction == 0 or move * direction < 0
        return (clash, doubled, move == 0, abs(move) > LEAP_LIMIT, not against, abs(move), pitch)

    return min(tones, key=cost)


def _clear_until(line: MelodyLine, pitch: int, start: int, end: int) -> int:
    """Where a note at ``pitch`` from ``start`` must end so as not to clash with the melody (``end`` if never)."""
    clash = line.clashes(pitch % 12, start, end)
    return start + int(np.argmax(clash)) if clash.any() else end
