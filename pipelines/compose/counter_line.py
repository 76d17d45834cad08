"""The counter-line: a second melodic voice below the lead, answering it.

Pure functions of the plan, the chord slots, the melody and the counter's part (its register). Derived from the lead,
which the models wrote, rather than sampled from a model of its own: a second pass of the melody LSTM and its
reranking would cost about what the melody costs, and the composer must stay under 1 CPU s per 60 s of music.
Where it plays is the plan's (``Section.roles``: the counter is among the first four roles of every mood's
``enters``, so it plays from intensity 0.6 at the latest).

- **Where it answers**: in the lead's *quiet spans*, runs of whole beats inside one chord in which the lead starts
  no note (it rests or holds). Where the lead moves, the counter holds the chord tone it struck at the chord change,
  or rests after an answer: call and response.
- **What it answers with**: the lead's own figure one bar earlier (*imitation a bar later*): the notes the lead
  started in the same beats of the bar before, with their rhythm, moved by scale steps so that the first lands on
  a chord tone near the counter's last note (*transposed to the harmony*); every later note keeps the lead's
  intervals in scale steps. Where the lead started nothing there a bar before, a line of chord tones, one a beat,
  moving against the lead: down when it rose since the counter's last note, up when it fell.
- **Pitches**: in the part's register, which lies below the lead. A note that starts on a beat is a chord tone of
  its slot (an imitated note is moved to the nearest); between beats a chord tone or a scale step (*passing*), but
  never a semitone from a chord tone outside the scale (the minor's raised leading tone under V, say), which would
  rub against the pad. A struck chord tone avoids the pitch class the lead sounds at its onset (no doubling).
- **Clashes**: ``voicing.py``'s rule holds: never a semitone from a sounding melody note. A note whose onset would
  clash takes the nearest tone of its kind that does not (it is dropped when none is free); one that clashes later
  is cut where the clash begins, and dropped if that leaves less than two steps.
"""

from __future__ import annotations

import numpy as np

from cues.pipelines.compose.musicality import scale_pitch_classes
from cues.pipelines.compose.progression import Slot
from cues.pipelines.compose.score import Note
from cues.pipelines.compose.voicing import REST, MelodyLine
from cues.schemas.plan import Part, Plan

LEAP_LIMIT = 7  # semitones: a larger move is taken only when nothing nearer is free
MIN_STEPS = 2  # a counter note shorter than this (after a clash cut it) is not played

Event = tuple[int, int, str, int | None]  # (start, end, kind, the imitated lead pitch): kind is strike, line, or
#                                          answer (an imitation's first note) and echo (its others)


class Harmony:
    """The pitches the counter may use under one chord slot: chord tones and passing tones in the register."""

    def __init__(self, plan: Plan, slot: Slot, part: Part):
        chord = slot.voiced_pitch_classes(plan)
        scale = scale_pitch_classes(plan.tonic, plan.mode)
        altered = [pc for pc in chord if pc not in scale]
        passing = {pc for pc in scale if not any((pc - a) % 12 in (1, 11) for a in altered)} | set(chord)
        register = range(part.low, part.high + 1)
        self.chord = [p for p in register if p % 12 in chord]
        self.fifth = chord[2] if len(chord) > 2 else None
        self.passing = [p for p in register if p % 12 in passing]


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
    scale = sorted(scale_pitch_classes(plan.tonic, plan.mode))
    notes: list[Note] = []
    previous, lead_before = None, None
    for slot in slots:
        level = level_of(plan.sections[slot.section].intensity)
        harmony = Harmony(plan, slot, part)
        if not harmony.chord:
            continue
        shift = None  # scale steps from the imitated lead to the counter, fixed for one answer
        for start, end, kind, source in events(plan, slot, melody, onsets):
            lead = int(pitches[start]) if pitches[start] != REST else None
            on_beat = start % plan.steps_per_beat == 0
            if kind == "answer":
                first = strike(harmony.chord if on_beat else harmony.passing, previous, lead, None, start, end, line)
                shift = None if first is None else degree(first, scale) - degree(source, scale)
            if kind in ("answer", "echo"):
                pitch = None if shift is None else imitate(source, shift, scale, harmony, on_beat, start, line)
            else:
                pitch = strike(harmony.chord, previous, lead, lead_before, start, end, line, harmony.fifth)
            lead_before = lead if lead is not None else lead_before
            if pitch is None:
                continue
            end = clear_until(line, pitch, start, end)
            if end - start >= MIN_STEPS:
                notes.append(Note(start, end, pitch, level))
                previous = pitch
    return notes


def events(plan: Plan, slot: Slot, melody: list[Note], lead_onsets: np.ndarray) -> list[Event]:
    """What the counter plays in the slot: a chord tone struck at its start (held while the lead moves), then in
    each quiet span the lead's figure of a bar before (``answer``, then ``echo``), or a chord tone a beat
    (``line``)."""
    beat, bar = plan.steps_per_beat, plan.steps_per_bar
    quiet = [
        b
        for b in range(slot.start - slot.start % beat + beat, slot.end, beat)
        if not lead_onsets[b : min(b + beat, slot.end)].any()
    ]
    if slot.start % beat == 0 and not lead_onsets[slot.start : min(slot.start + beat, slot.end)].any():
        quiet.insert(0, slot.start)
    starts: list[tuple[int, str, int | None]] = []
    if not quiet or quiet[0] != slot.start:
        starts.append((slot.start, "strike", None))
    for span_start, span_end in spans(quiet, beat, slot.end):
        source = [n for n in melody if span_start - bar <= n.start < span_end - bar and n.start >= 0]
        if source and span_start >= bar:
            if min(n.start for n in source) + bar > span_start:  # the imitation starts late: a chord tone first
                starts.append((span_start, "line", None))
            starts += [(n.start + bar, "echo" if k else "answer", n.pitch) for k, n in enumerate(sorted(source))]
            later = lead_onsets[span_end : slot.end]
            starts.append((span_end + int(np.argmax(later)) if later.any() else slot.end, "rest", None))
        else:
            starts += [(b, "line", None) for b in range(span_start, span_end, beat)]
    ends = [s for s, _, _ in starts[1:]] + [slot.end]
    return [(s, min(e, slot.end), kind, p) for (s, kind, p), e in zip(starts, ends, strict=True) if kind != "rest"]


def spans(quiet: list[int], beat: int, end: int) -> list[tuple[int, int]]:
    """Consecutive quiet beats joined into spans ``[start, end)`` (the last beat of the slot may be short)."""
    result: list[tuple[int, int]] = []
    for b in quiet:
        if result and result[-1][1] == b:
            result[-1] = (result[-1][0], min(b + beat, end))
        else:
            result.append((b, min(b + beat, end)))
    return result


def degree(pitch: int, scale: list[int]) -> int:
    """Scale steps from C0 to ``pitch`` (a pitch off the scale counts as the scale step below it)."""
    below = [i for i, pc in enumerate(scale) if pc <= pitch % 12]
    index = below[-1] if below else -1
    return (pitch // 12) * len(scale) + index


def pitch_of(position: int, scale: list[int]) -> int:
    """The pitch ``position`` scale steps from C0 (the inverse of :func:`degree` on the scale)."""
    return (position // len(scale)) * 12 + scale[position % len(scale)]


def imitate(
    source: int, shift: int, scale: list[int], harmony: Harmony, on_beat: bool, start: int, line: MelodyLine
) -> int | None:
    """The imitated lead note ``source`` moved ``shift`` scale steps, folded into the register, then the nearest
    chord tone (on a beat) or passing tone that does not clash at its onset."""
    target = pitch_of(degree(source, scale) + shift, scale)
    allowed = harmony.chord if on_beat else harmony.passing
    low, high = allowed[0], allowed[-1]
    while target < low:
        target += 12
    while target > high:
        target -= 12
    free = [p for p in allowed if not line.clashes(p % 12, start, start + 1).any()]
    return min(free, key=lambda p: (abs(p - target), p)) if free else None


def strike(tones, previous, lead, lead_before, start, end, line: MelodyLine, fifth: int | None = None) -> int | None:
    """A chord tone for a struck counter note: moving against the lead, avoiding its pitch class and the counter's
    own last pitch, least clashing, and, other things equal, the chord's ``fifth`` (pitch class): a counter-line
    sings the root, third and colour, and piling up fifths would lean the key toward the dominant. None when the
    slot has no tone in the register."""
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
        leaning = pitch % 12 == fifth
        return (clash, doubled, move == 0, abs(move) > LEAP_LIMIT, not against, leaning, abs(move), pitch)

    return min(tones, key=cost)


def clear_until(line: MelodyLine, pitch: int, start: int, end: int) -> int:
    """Where a note at ``pitch`` from ``start`` must end so as not to clash with the melody (``end`` if never)."""
    clash = line.clashes(pitch % 12, start, end)
    return start + int(np.argmax(clash)) if clash.any() else end
