"""The drum part: the groove bar by bar, crashes into rising sections, and the drums of the hits and endings.

Pure functions of the plan (grid steps); the groove patterns themselves are in ``pipelines/compose/grooves.py``.

- **Groove**: the plan's groove thinned by the section's intensity, a fill in the last bar of a section.
- **Crash** at the downbeat of a section that rises (from intensity 0.6), when the cue has drums.
- **Hits**: a crash and a kick (timpani on the orchestra kit) at each hit the plan could place.
- **Endings**: a crash and a kick on a ``ring_out``'s last downbeat or a ``button``'s last beat, when the cue has
  drums.
"""

from __future__ import annotations

from cues.pipelines.compose.arrangement import velocity
from cues.pipelines.compose.grooves import groove_hits
from cues.pipelines.compose.score import Note
from cues.schemas.brief import Ending
from cues.schemas.mood_table import Groove
from cues.schemas.plan import Plan

CRASH, KICK, TIMPANI_LOW = 49, 36, 41
ORCHESTRA_KIT = 48


def percussion_part(plan: Plan) -> list[Note]:
    notes = []
    kit = next(s.program for s in plan.stems if s.name == "percussion")
    for index, section in enumerate(plan.sections):
        start = section.start_bar * plan.steps_per_bar
        level = velocity(plan, section.intensity, 0.85)
        for bar in range(section.bars):
            bar_start = start + bar * plan.steps_per_bar
            last_bar = bar == section.bars - 1 and index < len(plan.sections) - 1
            for offset, drum, scale in groove_hits(
                plan.groove, plan.steps_per_bar, plan.steps_per_beat, section.intensity, fill=last_bar, kit=kit
            ):
                notes.append(Note(bar_start + offset, bar_start + offset + 1, drum, max(1, round(level * scale))))
        previous = plan.sections[index - 1].intensity if index else 0.0
        if index and section.intensity >= 0.6 and section.intensity > previous - 0.05 and plan.groove.value != "none":
            notes.append(Note(start, start + 1, CRASH, velocity(plan, section.intensity)))
    return notes


def hit_drums(plan: Plan) -> list[Note]:
    """A crash and a kick (or timpani) at each hit the plan could place."""
    kit = next(s.program for s in plan.stems if s.name == "percussion")
    low = TIMPANI_LOW if kit == ORCHESTRA_KIT else KICK
    notes = []
    for hit in plan.hits:
        step = hit.step
        if step >= plan.total_steps:
            continue
        notes += [Note(step, step + 1, CRASH, 120), Note(step, step + 1, low, 118)]
    return notes


def ending_drums(plan: Plan) -> list[Note]:
    """The drums of the ending (added after ``arrangement.apply_ending`` has shaped the last bars): a crash and a
    kick under a ``ring_out``'s final chord or a ``button``; none in a cue without drums."""
    if plan.groove == Groove.none:  # a quiet cue without drums ends on its chord alone
        return []
    total = plan.total_steps
    final_level = velocity(plan, plan.sections[-1].intensity)
    if plan.ending == Ending.ring_out:
        last_bar = total - plan.steps_per_bar
        return [Note(last_bar, last_bar + 1, CRASH, final_level), Note(last_bar, last_bar + 1, KICK, final_level)]
    if plan.ending == Ending.button:
        button, accent = total - plan.steps_per_beat, min(127, final_level + 15)
        return [Note(button, button + 1, CRASH, accent), Note(button, button + 1, KICK, accent)]
    return []
