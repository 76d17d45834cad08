"""Expression (CC 11) crescendos of the pitched parts into each hit and each section that rises.

Over a hit's preparation (``drums.preparations``: the beat or two of its roll) and over the last bar before a
section whose intensity rises by ``RISE`` or more, the expression of every pitched part dips and swells back to
full on the downbeat: the ensemble draws back and grows into the hit or the louder section, the way an orchestra
plays a crescendo into a tutti. Pure functions of the plan (grid steps).

Decisions where the issue is silent: the dip is a third of the span down and the swell two thirds back up, one
control per sixteenth; a hit's dip goes to ``HIT_DIP`` (about −10 dB in General MIDI's squared expression curve),
a section's deepens with the size of the rise; no ramp reaches into a ``fade`` ending's bars (the fade owns CC 11
there) or into another ramp; every ramp ends at full expression, so a loop's seam and everything after a ramp play
as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from cues.pipelines.compose.arrangement import FADE_BARS
from cues.pipelines.compose.drums import preparations
from cues.pipelines.compose.score import Control
from cues.schemas.brief import Ending
from cues.schemas.plan import Plan

EXPRESSION = 11
FULL = 127
HIT_DIP = 72
RISE = 0.1  # a section at least this much more intense than the one before is prepared by a crescendo
RISE_DIP_PER_UNIT, LEAST_DIP = 110, 72  # a rise of 0.3 dips to 127 − 33 = 94; never below 72


def crescendo_spans(plan: Plan) -> list[tuple[int, int, int]]:
    """``(start, end, dip)`` of every crescendo: the hits' preparations first, then the rising sections' last bars
    that overlap neither a hit's nor a fade's."""
    limit = plan.total_steps - FADE_BARS * plan.steps_per_bar if plan.ending == Ending.fade else plan.total_steps
    spans = [(start, end, HIT_DIP) for start, end in preparations(plan) if end <= limit]
    for previous, section in itertools.pairwise(plan.sections):
        rise = section.intensity - previous.intensity
        end = section.start_bar * plan.steps_per_bar
        start = max(previous.start_bar * plan.steps_per_bar, end - plan.steps_per_bar)
        if rise < RISE - 1e-9 or end > limit or any(a < end and start < b for a, b, _ in spans):
            continue
        spans.append((start, end, max(LEAST_DIP, round(FULL - RISE_DIP_PER_UNIT * rise))))
    return sorted(spans)


def crescendos(plan: Plan, parts: Iterable[str]) -> dict[str, list[Control]]:
    """The expression ramps of :func:`crescendo_spans` for each of ``parts`` (the pitched ones)."""
    ramp: list[Control] = []
    for start, end, dip in crescendo_spans(plan):
        low = start + max(1, (end - start) // 3)
        for step in range(start, end + 1):
            if step <= low:
                value = FULL - (FULL - dip) * (step - start) / (low - start)
            else:
                value = dip + (FULL - dip) * (step - low) / (end - low)
            if step < plan.total_steps:
                ramp.append(Control(step, EXPRESSION, round(value)))
    return {name: list(ramp) for name in parts} if ramp else {}
