"""The drum part: the plan's groove bar by bar, crashes into rising sections, hits prepared and landed, the ending.

Pure functions of the plan (grid steps). The grooves are data (``schemas/grooves.yaml``), a bar of one is written by
``pipelines/compose/grooves.py``, and drums become notes per kit in ``pipelines/compose/drum_kit.py``.

- **Groove**: every bar of every section, thinned by the section's intensity and at its drum velocity; a fill at
  the end of each four-bar phrase and, longer, of each section; a crash on the downbeat of a section that rises
  (from intensity 0.6), and after a phrase's fill from intensity 0.75.
- **Hits** are prepared and land: over the beat(s) before a hit (two from intensity 0.5, never reaching back over
  the previous hit) the groove gives way, but for its kick, to a crescendo roll — timpani on the orchestra kit,
  snare elsewhere — under a swelling suspended cymbal; on the hit itself a crash, the kick and a low drum (timpani
  and taiko on the orchestra kit).
- **Endings**: a crash and a kick on a ``ring_out``'s last downbeat or a ``button``'s last beat, when the cue has a
  groove.
- A cue whose groove is ``none`` and has no hits has no drum notes: its part is empty, and says so by being empty.

Decisions where the issue is silent: each bar's variations and ghost notes come from a generator seeded with the
plan's seed and the bar's number, so a bar does not depend on any other choice; a hit's roll is written in
sixteenths (the score's grid), which at slow tempi is a measured roll rather than a buzz.
"""

from __future__ import annotations

import random

from cues.pipelines.compose.arrangement import velocity
from cues.pipelines.compose.drum_kit import ORCHESTRA_KIT, drum_note
from cues.pipelines.compose.grooves import Strike, fill_beats, groove_bar, with_fill
from cues.pipelines.compose.score import Note
from cues.schemas.brief import Ending
from cues.schemas.grooves import Drum, Groove, groove_table
from cues.schemas.palettes import Role
from cues.schemas.plan import Plan

DRUM_PART = "drums"  # the part (and role) the drums are written for
PHRASE_BARS = 4
ACCENT = 118  # velocity of a hit's landing (the crash a little above)
ROLL_FROM, ROLL_TO = 0.3, 0.95  # a roll's first and last stroke, as shares of ACCENT
SWELL_FROM, SWELL_TO = 0.2, 0.7  # the suspended cymbal under it
LONG_ROLL_FROM = 0.5  # a hit in a section at least this intense is prepared over two beats, else one
RISING_CRASH_FROM, PHRASE_CRASH_FROM = 0.6, 0.75
SOFTEST = 12  # a ghost note or a quiet section's shaker below this velocity is not heard at all


def drum_kit(plan: Plan) -> int:
    """The program of the cue's drum kit (the orchestra kit when it has no drums part)."""
    drums = plan.part(Role.drums)
    return drums.program if drums else ORCHESTRA_KIT


def percussion_part(plan: Plan) -> list[Note]:
    """The groove of every section with its fills and crashes, giving way (but for the kick) to each hit's roll;
    empty for the ``none`` groove."""
    spec = groove_table()[plan.groove]
    kit, bar_steps, beat = drum_kit(plan), plan.steps_per_bar, plan.steps_per_beat
    rolls = preparations(plan)
    notes: list[Note] = []
    for index, section in enumerate(plan.sections):
        level = velocity(plan, section.intensity, 0.85)
        for bar in range(section.bars):
            rng = random.Random(f"{plan.seed}:drums:{section.start_bar + bar}")
            strikes = groove_bar(spec, bar_steps, beat, section.intensity, bar % 2 == 1, rng)
            section_end = bar == section.bars - 1 and index < len(plan.sections) - 1
            phrase_end = bar % PHRASE_BARS == PHRASE_BARS - 1 and bar < section.bars - 1
            beats = fill_beats(bar_steps, beat, section.intensity, section_end)
            if strikes and beats and (section_end or phrase_end):
                strikes = with_fill(strikes, spec.fill, bar_steps, beat, beats, rng)
            if strikes and bar and bar % PHRASE_BARS == 0 and section.intensity >= PHRASE_CRASH_FROM:
                strikes.append((0, Drum.crash, 0.8))
            bar_start = (section.start_bar + bar) * bar_steps
            notes += _notes(plan, kit, bar_start, strikes, level)
        previous = plan.sections[index - 1].intensity if index else 0.0
        if index and spec.bar and section.intensity >= RISING_CRASH_FROM and section.intensity > previous - 0.05:
            start, crash = section.start_bar * bar_steps, drum_note(Drum.crash, kit, plan.tonic)
            notes.append(Note(start, start + 1, crash, velocity(plan, section.intensity)))
    foundation = {drum_note(d, kit, plan.tonic) for d in (Drum.kick, Drum.bass_drum)}
    notes = [n for n in notes if n.pitch in foundation or not any(a <= n.start < b for a, b in rolls)]
    return _distinct(notes)


def _notes(plan: Plan, kit: int, bar_start: int, strikes: list[Strike], level: int) -> list[Note]:
    return [
        Note(
            bar_start + step, bar_start + step + 1, drum_note(drum, kit, plan.tonic), max(SOFTEST, round(level * share))
        )
        for step, drum, share in strikes
    ]


def _distinct(notes: list[Note]) -> list[Note]:
    """One note per step and drum note (two drums may map to one timpani), the loudest; sorted."""
    loudest: dict[tuple[int, int], Note] = {}
    for note in notes:
        key = (note.start, note.pitch)
        if key not in loudest or note.velocity > loudest[key].velocity:
            loudest[key] = note
    return sorted(loudest.values())


def preparations(plan: Plan) -> list[tuple[int, int]]:
    """The steps ``[start, hit)`` over which each hit the plan could place is prepared (see the module docstring)."""
    spans, previous = [], None
    for hit in sorted(h.step for h in plan.hits if h.step < plan.total_steps):
        section = section_at(plan, hit)
        beats = 2 if section.intensity >= LONG_ROLL_FROM else 1
        start = max(0, hit - beats * plan.steps_per_beat, previous + plan.steps_per_beat if previous is not None else 0)
        if start < hit:
            spans.append((start, hit))
        previous = hit
    return spans


def section_at(plan: Plan, step: int):
    """The section the grid step ``step`` lies in."""
    bar = step // plan.steps_per_bar
    return next(s for s in reversed(plan.sections) if s.start_bar <= bar)


def hit_drums(plan: Plan) -> list[Note]:
    """Each hit's preparation (a crescendo roll and a swelling cymbal over its :func:`preparations` span) and its
    landing: crash, kick, and timpani and taiko on the orchestra kit (a low tom elsewhere)."""
    kit, tonic, beat = drum_kit(plan), plan.tonic, plan.steps_per_beat
    orchestral = kit == ORCHESTRA_KIT
    roll = drum_note(Drum.timpani_root if orchestral else Drum.snare, kit, tonic)
    cymbal = drum_note(Drum.ride, kit, tonic)
    notes = []
    for start, hit in preparations(plan):
        length = hit - start
        for step in range(start, hit):
            rise = (step - start + 1) / length
            notes.append(Note(step, step + 1, roll, round(ACCENT * (ROLL_FROM + (ROLL_TO - ROLL_FROM) * rise**1.5))))
            if (hit - step) % 2 == 0:  # the cymbal in eighths
                swell = round(ACCENT * (SWELL_FROM + (SWELL_TO - SWELL_FROM) * rise))
                notes.append(Note(step, step + 1, cymbal, swell))
    for hit in sorted(h.step for h in plan.hits if h.step < plan.total_steps):
        ring = min(hit + beat, plan.total_steps)
        low = (Drum.timpani_root, Drum.taiko) if orchestral else (Drum.tom_floor,)
        notes += [Note(hit, ring, drum_note(Drum.crash, kit, tonic), ACCENT + 2)]
        notes += [Note(hit, ring, drum_note(d, kit, tonic), ACCENT) for d in (Drum.kick, *low)]
    return _distinct(notes)


def ending_drums(plan: Plan) -> list[Note]:
    """The drums of the ending (added after ``arrangement.apply_ending`` has shaped the last bars): a crash and a
    kick under a ``ring_out``'s final chord or a ``button``; none in a cue without a groove."""
    if plan.groove == Groove.none:  # a quiet cue without drums ends on its chord alone
        return []
    total, kit = plan.total_steps, drum_kit(plan)
    crash, kick = drum_note(Drum.crash, kit, plan.tonic), drum_note(Drum.kick, kit, plan.tonic)
    final_level = velocity(plan, plan.sections[-1].intensity)
    if plan.ending == Ending.ring_out:
        last_bar = total - plan.steps_per_bar
        return [Note(last_bar, last_bar + 1, crash, final_level), Note(last_bar, last_bar + 1, kick, final_level)]
    if plan.ending == Ending.button:
        button, accent = total - plan.steps_per_beat, min(127, final_level + 15)
        return [Note(button, button + 1, crash, accent), Note(button, button + 1, kick, accent)]
    return []
