"""The bass line: the chords' roots played as the cue's groove asks (its ``bass`` style in ``schemas/grooves.yaml``,
which the plan records as ``Plan.bass_line``), with approach notes into the chord changes.

Pure functions of the plan, the chord slots, the melody and the bass part (its register ``Part.low``–``Part.high``,
the palette's window under the pad). The styles:

- **walking**: a note a beat (half notes below ``WALK_QUARTERS``; in 3/4 the bar's root): the root on the chord's
  first beat, then a line toward the next chord's root — chord tones on the strong beats (the bar's first and, in
  4/4, third), scale steps between — and an approach note on the last beat before the change.
- **pedal**: one pitch held under changing chords, as a deliberate device: the tonic, or the dominant in a section
  that builds into a louder one (``BUILD_RISE``). A cadence's chords take their own roots, so every cadence is heard.
  Held a bar at a time, struck on the groove's kick pattern from ``PEDAL_PULSE``. The chord lengths that
  ``musicality.harmony_stats`` measures are the progression's, so a pedal is never counted as a long chord.
- **syncopated**: a note on each kick of the groove's bar (and of its answer in every second bar), lasting to the
  next; the root on the chord's first note and on downbeats, then the bar's later kicks alternating the fifth and
  the root (the octave in loud sections); from
  ``DRIVE_EIGHTHS`` an approach on the chord's last eighth when no kick falls in its last beat.
- **root_fifth**: root and fifth by the beat; from ``DRIVE_EIGHTHS`` driving eighths: root, root, fifth, octave.
- **octaves**: driving eighths on the root; from ``DRIVE_EIGHTHS`` the off-beat eighths jump the octave.
- **sustained**: the root held, re-struck every bar. Every style but the pedal plays so below ``SPARSE_BELOW``.

Rules for every style:

- **Register**: each chord's root is taken nearest the note before it (the line moves little); a fifth, third or
  octave above it that would leave the window is taken an octave lower.
- **Approach notes** (walking, syncopated, root_fifth, octaves): the last note before a chord with another root is
  a step into that root, a semitone or a whole tone, from below when the line comes from below and from above when
  it comes from above, the semitone first, and not the note the line already holds. They stay in the key (the
  mode's scale, and in minor its raised 6th and 7th, so the leading tone approaches the tonic from below): the
  in-key rate is a guarantee, so a chromatic approach is taken only where it is in the key. None into the end of
  the cue.
- **Clashes**: ``voicing.py``'s rule holds: never a semitone from a sounding melody note. An approach that would
  clash anywhere takes the other side, else the chord's fifth; a root on a downbeat, in a cadence or a held pedal
  stays if the melody is clear of it at its onset; any other note that would clash is replaced by the chord tone
  clashing least (``voicing.bass_pitch``); a note that still clashes is cut to its clear spans
  (``voicing.bass_spans``).
"""

from __future__ import annotations

from cues.pipelines.compose.arrangement import velocity
from cues.pipelines.compose.chord_colour import Colour
from cues.pipelines.compose.grooves import stroke_steps
from cues.pipelines.compose.musicality import key_pitch_classes
from cues.pipelines.compose.progression import Slot
from cues.pipelines.compose.score import Note
from cues.pipelines.compose.voicing import MelodyLine, bass_pitch, bass_spans, lowest_at_or_above
from cues.schemas.grooves import BassStyle, Drum, groove_table
from cues.schemas.plan import Part, Plan

SPARSE_BELOW = 0.35  # below this every style but the pedal holds its roots a bar at a time
WALK_QUARTERS = 0.45  # a walking bass walks in quarters from here, in half notes below (a "two feel")
DRIVE_EIGHTHS = 0.6  # root_fifth in eighths, octaves jumping, syncopated with pickups, from here
PEDAL_PULSE = 0.6  # a pedal is struck on the kicks from here, held a bar below
BUILD_RISE = 0.15  # a section whose next one is this much more intense builds: its pedal is the dominant
EIGHTH = 2  # grid steps (sixteenths); in 6/8 the beat's three eighths
KICKS = frozenset({Drum.kick, Drum.bass_drum, Drum.taiko})  # the drums a syncopated bass locks to
BASS_LEVEL = 0.9  # × the mood's velocity: the bass sits near the lead

Event = tuple[int, int, str]  # (start, end, what): root, fifth, third, octave, walk, approach, pedal


def bass_part(plan: Plan, slots: list[Slot], melody: list[Note], part: Part) -> list[Note]:
    """The bass line over the whole cue (the caller keeps the sections the bass plays in), in the plan's style."""
    line = MelodyLine(melody, plan.total_steps)
    style = plan.bass_line or BassStyle.sustained
    key = key_pitch_classes(plan.tonic, plan.mode)
    register = (part.low, part.high + 1)
    notes: list[Note] = []
    previous = part.low + 7
    for index, slot in enumerate(slots):
        section = plan.sections[slot.section]
        tones = chord_tones(plan, slot)
        root = nearest(tones[0], previous, part)
        following = slots[index + 1] if index + 1 < len(slots) else None
        changes = following is not None and chord_tones(plan, following)[0] != tones[0]
        level = velocity(plan, section.intensity, BASS_LEVEL)
        pedal = pedal_pitch(plan, slot.section, part) if style == BassStyle.pedal and not slot.cadence else None
        for start, end, what in rhythm(plan, slot, style, section.intensity, changes):
            if what == "approach":
                target = nearest(chord_tones(plan, following)[0], previous, part)
                pitch = approach(target, previous, key, start, end, line, part)
                if pitch is None:
                    pitch = bass_pitch(above(root, tones[2], part), tones, start, end, line, register=register)
            elif what == "walk":
                pitch = walk(plan, slot, start, end, previous, following, key, line, part)
            elif what == "pedal" and pedal is not None and not line.clashes(pedal % 12, start, start + 1).any():
                pitch = pedal
            else:
                planned = {
                    "fifth": above(root, tones[2], part),
                    "third": above(root, tones[1], part),
                    "octave": root + 12 if root + 12 <= part.high else root,
                }.get(what, root)
                keep = slot.cadence or start % plan.steps_per_bar == 0 or start == slot.start
                pitch = bass_pitch(planned, tones, start, end, line, keep, register)
            notes += [Note(a, b, pitch, level) for a, b in bass_spans(pitch, start, end, line, plan.steps_per_beat)]
            previous = pitch
    return notes


def chord_tones(plan: Plan, slot: Slot) -> list[int]:
    """Root, third and fifth pitch classes the bass may play (a borrowed iv's minor third included)."""
    root, third, fifth, *_ = slot.chord.pitch_classes(plan.tonic)
    if slot.colour == Colour.borrowed:
        third = (root + 3) % 12
    return [root, third, fifth]


def nearest(pitch_class: int, previous: int, part: Part) -> int:
    """The pitch of ``pitch_class`` in the part's register nearest ``previous`` (the lower one of a tie)."""
    options = [p for p in range(part.low, part.high + 1) if p % 12 == pitch_class]
    return min(options, key=lambda p: (abs(p - previous), p))


def above(root: int, pitch_class: int, part: Part) -> int:
    """``pitch_class`` above ``root``, or an octave lower when that leaves the register."""
    pitch = lowest_at_or_above(pitch_class, root)
    return pitch if pitch <= part.high else pitch - 12


def pedal_pitch(plan: Plan, section_index: int, part: Part) -> int:
    """The pedal of a section (module docstring), the lowest of its pitch class in the register."""
    intensities = [s.intensity for s in plan.sections]
    builds = section_index + 1 < len(intensities) and (
        intensities[section_index + 1] - intensities[section_index] >= BUILD_RISE - 1e-9
    )
    pitch_class = (plan.tonic + 7) % 12 if builds else plan.tonic
    return lowest_at_or_above(pitch_class, part.low)


def rhythm(plan: Plan, slot: Slot, style: BassStyle, intensity: float, changes: bool) -> list[Event]:
    """The notes of the slot as (start, end, what), by style and intensity; ``changes``: the next chord has
    another root (the last note may approach it)."""
    beat, bar = plan.steps_per_beat, plan.steps_per_bar
    if style == BassStyle.pedal:
        kicks = intensity >= PEDAL_PULSE
        starts = kick_starts(plan, slot, intensity) if kicks else bar_starts(plan, slot)
        return legato(starts, slot.end, ["pedal"] * len(starts))
    if intensity < SPARSE_BELOW or style == BassStyle.sustained:
        starts = bar_starts(plan, slot)
        return legato(starts, slot.end, ["root"] * len(starts))
    if style == BassStyle.walking:
        unit = beat if intensity >= WALK_QUARTERS else bar // 2 if (bar // beat) % 2 == 0 else bar
        starts = grid_starts(slot, unit)
        whats = ["root"] + ["walk"] * (len(starts) - 1)
    elif style == BassStyle.syncopated:
        starts = kick_starts(plan, slot, intensity)
        if intensity >= DRIVE_EIGHTHS and changes and starts[-1] < slot.end - beat:
            starts.append(slot.end - EIGHTH)  # a pickup into the change
        whats = _syncopated(starts, slot, bar, intensity)
    elif style == BassStyle.root_fifth:
        unit = EIGHTH if intensity >= DRIVE_EIGHTHS else beat
        starts = grid_starts(slot, unit)
        cycle = ["root", "root", "fifth", "octave"] if unit == EIGHTH else ["root", "fifth"]
        whats = [cycle[((s - slot.start) // unit) % len(cycle)] for s in starts]
    else:  # octaves
        starts = grid_starts(slot, EIGHTH)
        jump = intensity >= DRIVE_EIGHTHS
        whats = ["octave" if jump and s % beat else "root" for s in starts]
    if changes and len(starts) > 1 and starts[-1] >= slot.end - beat:
        whats[-1] = "approach"
    return legato(starts, slot.end, whats)


def _syncopated(starts: list[int], slot: Slot, bar: int, intensity: float) -> list[str]:
    """Root on the chord's first note and on downbeats; the later kicks of a bar alternate the fifth (the second,
    fourth …: as a bassist plays, and it keeps the dominant's weight that lets the key be heard) and the root, or
    the octave in loud sections."""
    whats, count = [], 0
    for start in starts:
        count = 0 if start == slot.start or start % bar == 0 else count + 1
        other = "octave" if intensity >= DRIVE_EIGHTHS else "root"
        whats.append("root" if count == 0 else "fifth" if count % 2 else other)
    return whats


def legato(starts: list[int], end: int, whats: list[str]) -> list[Event]:
    """Each start held to the next (the last to ``end``)."""
    return [(a, b, what) for a, b, what in zip(starts, [*starts[1:], end], whats, strict=True)]


def bar_starts(plan: Plan, slot: Slot) -> list[int]:
    """The slot's start and every bar line inside it."""
    return grid_starts(slot, plan.steps_per_bar)


def grid_starts(slot: Slot, unit: int) -> list[int]:
    """The slot's start and every multiple of ``unit`` steps (on the cue's grid) inside it."""
    return [slot.start, *range(slot.start - slot.start % unit + unit, slot.end, unit)]


def kick_starts(plan: Plan, slot: Slot, intensity: float) -> list[int]:
    """The slot's start and the steps inside it where the groove's bar (and its answer, in the second bar of every
    two of a section) strikes a kick, bass drum or taiko at ``intensity``; the bar lines where it strikes none."""
    spec = groove_table()[plan.groove]
    bar = plan.steps_per_bar
    starts = {slot.start}
    for bar_start in range(slot.start - slot.start % bar, slot.end, bar):
        answer = (bar_start // bar - plan.sections[slot.section].start_bar) % 2 == 1
        strokes = [*spec.bar, *(spec.answer if answer else ())]
        steps = {
            bar_start + step
            for stroke in strokes
            if stroke.drum in KICKS and stroke.start <= intensity < stroke.stop
            for step in stroke_steps(stroke, bar, plan.steps_per_beat)
        } or {bar_start}
        starts |= {s for s in steps if slot.start <= s < slot.end}
    return sorted(starts)


def approach(
    target: int, previous: int, key: set[int], start: int, end: int, line: MelodyLine, part: Part
) -> int | None:
    """A step into ``target`` from the side the line comes from (module docstring), clear of the melody over
    ``start``..``end``; None when no step in the key and the register is."""
    below = [target - 1, target - 2]
    above_ = [target + 1, target + 2]
    sides = below + above_ if previous <= target else above_ + below
    for pitch in sorted(sides, key=lambda p: p == previous):  # a step onto the note it holds is no approach
        if part.low <= pitch <= part.high and pitch % 12 in key and not line.clashes(pitch % 12, start, end).any():
            return pitch
    return None


def walk(
    plan: Plan,
    slot: Slot,
    start: int,
    end: int,
    previous: int,
    following: Slot | None,
    key: set[int],
    line: MelodyLine,
    part: Part,
) -> int:
    """A walking note: a chord tone on a strong beat, else a chord tone or a scale step, moving toward the next
    chord's root by a step or a third, never repeating the note before, clashing least."""
    strong = start % plan.steps_per_bar == 0 or (
        plan.steps_per_bar // plan.steps_per_beat == 4 and start % plan.steps_per_bar == plan.steps_per_bar // 2
    )
    tones = set(chord_tones(plan, slot))
    allowed = tones if strong else tones | key
    goal = nearest(chord_tones(plan, following)[0], previous, part) if following else previous
    heading = (goal > previous) - (goal < previous)

    def cost(pitch: int) -> tuple:
        move = pitch - previous
        clash = int(line.clashes(pitch % 12, start, end).sum())
        away = heading != 0 and move * heading < 0
        return (clash, move == 0, abs(move) > 4, away, pitch % 12 not in tones, abs(move), pitch)

    return min((p for p in range(part.low, part.high + 1) if p % 12 in allowed), key=cost)
