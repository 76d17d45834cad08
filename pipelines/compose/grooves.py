"""One bar of a groove (``schemas/grooves.yaml``), as a drummer would play it there: the pattern thinned by the
section's intensity, the answering second bar, the bar's own variations and ghost notes, and fills.

Pure functions of the groove, the meter and a per-bar random generator (which the caller seeds from the plan's
seed and the bar, so the same plan gives the same bars). Strokes are ``(step in the bar, drum, level)`` with drums
by name and levels as shares of the section's drum velocity; ``drums.py`` maps them to notes and velocities.

Decisions where the issue is silent:

- Grooves are written in beats and fractions of a beat, so one pattern serves 4/4, 3/4 and 2/4; in compound meters
  (6/8: a beat of six sixteenths) the duple offbeat falls on the beat's third eighth and its sixteenths on the
  second eighth and the last sixteenth, which turns a straight pattern into a lilting one rather than a dotted one.
- A bar takes none, one or two of its groove's variations (one most often), and one to a few ghost notes on offbeat
  sixteenths its ghost drum does not already play, fewer at lower intensity: a drummer repeats the pattern, but
  rarely the same bar twice.
- A fill replaces what the groove plays in its last beat(s) except the kick and bass drum; it is one beat long at
  a phrase's end and two (in bars of three beats or more, from intensity 0.7) at a section's end.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

from cues.schemas.grooves import Beats, Drum, Fill, GrooveSpec, Stroke

Strike = tuple[int, Drum, float]  # (step in the bar, drum, share of the section's drum velocity)

COMPOUND_OFFSETS = {0.25: 2 / 6, 0.5: 4 / 6, 0.75: 5 / 6}  # duple fractions of a beat → eighths of a 6/8 beat
VARIATIONS_PER_BAR = (0, 1, 1, 2)  # how many variations a bar takes, drawn uniformly
FILL_FROM = 0.35  # no fills below this intensity: a quiet section just plays on
LONG_FILL_FROM = 0.7  # a section's end gets a two-beat fill from this intensity
FOUNDATION = frozenset({Drum.kick, Drum.bass_drum})  # what keeps playing under a fill
TOM_RUNS = (
    (Drum.tom_high, Drum.tom_high, Drum.tom_mid, Drum.tom_mid, Drum.tom_low, Drum.tom_low, Drum.tom_floor),
    (Drum.snare, Drum.snare, Drum.tom_high, Drum.tom_mid, Drum.tom_low, Drum.tom_floor, Drum.tom_floor),
    (Drum.tom_high, Drum.snare, Drum.tom_mid, Drum.snare, Drum.tom_low, Drum.tom_floor, Drum.tom_floor),
)


def stroke_steps(stroke: Stroke, steps_per_bar: int, steps_per_beat: int) -> list[int]:
    """The steps of the bar on which ``stroke`` falls."""
    count = steps_per_bar // steps_per_beat
    compound = steps_per_beat % 3 == 0
    steps = []
    for beat in range(count):
        if not _on(stroke.beats, beat, count):
            continue
        for offset in stroke.at:
            fraction = COMPOUND_OFFSETS.get(offset, offset) if compound else offset
            step = beat * steps_per_beat + round(fraction * steps_per_beat)
            if step < steps_per_bar:
                steps.append(step)
    return steps


def _on(beats: Beats, beat: int, count: int) -> bool:
    if beats == Beats.all:
        return True
    if beats == Beats.first:
        return beat == 0
    if beats == Beats.last:
        return beat == count - 1
    if beats == Beats.middle:  # the backbeat of half time: beat 3 of 4, beat 2 of 2 or 3
        return count > 1 and beat == count // 2
    return beat % 2 == (0 if beats == Beats.odd else 1)


def _plays(stroke: Stroke, intensity: float) -> bool:
    return stroke.start <= intensity < stroke.stop


def groove_bar(
    spec: GrooveSpec,
    steps_per_bar: int,
    steps_per_beat: int,
    intensity: float,
    answer: bool,
    rng: random.Random,
) -> list[Strike]:
    """One bar of ``spec`` at ``intensity``: its strokes, the answer's when ``answer``, the variations and ghost
    notes ``rng`` picks for this bar. Empty when nothing of the groove plays at this intensity."""
    strokes = [s for s in spec.bar if _plays(s, intensity)]
    if answer:
        strokes += [s for s in spec.answer if _plays(s, intensity)]
    if not strokes:
        return []
    eligible = [s for s in spec.variations if _plays(s, intensity)]
    taken = min(len(eligible), rng.choice(VARIATIONS_PER_BAR))
    strokes += rng.sample(eligible, taken)
    hits: dict[tuple[int, Drum], float] = {}
    for stroke in strokes:
        for step in stroke_steps(stroke, steps_per_bar, steps_per_beat):
            hits[(step, stroke.drum)] = max(hits.get((step, stroke.drum), 0.0), stroke.level)
    ghosts = spec.ghosts
    if ghosts is not None and intensity >= ghosts.start:
        free = [s for s in range(steps_per_bar) if s % steps_per_beat and (s, ghosts.drum) not in hits]
        most = max(2, math.ceil(ghosts.count * (0.5 + 0.5 * (intensity - ghosts.start) / (1 - ghosts.start))))
        for step in rng.sample(free, min(len(free), rng.randint(1, most))):
            hits[(step, ghosts.drum)] = ghosts.level
    return sorted((step, drum, level) for (step, drum), level in hits.items())


def fill_beats(steps_per_bar: int, steps_per_beat: int, intensity: float, section_end: bool) -> int:
    """How many beats a fill takes at the end of a phrase or (``section_end``) a section; 0 for none."""
    if intensity < FILL_FROM:
        return 0
    if section_end and intensity >= LONG_FILL_FROM and steps_per_bar // steps_per_beat >= 3:
        return 2
    return 1


def with_fill(
    bar: Iterable[Strike],
    kind: Fill,
    steps_per_bar: int,
    steps_per_beat: int,
    beats: int,
    rng: random.Random,
) -> list[Strike]:
    """``bar`` with its last ``beats`` beats replaced by a fill of ``kind`` (the kick and bass drum kept), rising
    in level into the next bar's downbeat."""
    start = steps_per_bar - beats * steps_per_beat
    kept = [s for s in bar if s[0] < start or s[1] in FOUNDATION]
    return sorted(kept + fill_strokes(kind, start, steps_per_bar, rng))


def fill_strokes(kind: Fill, start: int, end: int, rng: random.Random) -> list[Strike]:
    """A fill of ``kind`` over steps ``[start, end)`` (sixteenths, the first half in eighths when it is long),
    rising from about half to full level."""
    length = end - start
    steps = [s for s in range(start, end) if length <= 4 or s >= start + length // 2 or (s - start) % 2 == 0]
    run = rng.choice(TOM_RUNS)
    strokes = []
    for k, step in enumerate(steps):
        position = k / max(1, len(steps) - 1)
        level = 0.5 + 0.45 * position
        if kind == Fill.toms:
            drum = run[min(len(run) - 1, round(position * (len(run) - 1)))]
        else:
            drum = {Fill.snare_roll: Drum.snare, Fill.timpani_roll: Drum.timpani_root, Fill.cymbal_swell: Drum.ride}[
                kind
            ]
            level = (0.3 if kind == Fill.cymbal_swell else 0.4) + 0.5 * position
        strokes.append((step, drum, level))
    return strokes
