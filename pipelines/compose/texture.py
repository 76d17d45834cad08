"""The texture of a composed cue as its score shows it (issue 16): how many parts sound in each section, how far the
plan's intensity moves, which parts never play, and how often a drum bar only repeats another.

Pure functions of the :class:`Score` and its plan (grid steps); what the audio does with them is measured by
``pipelines/render/dynamics.py``.

Decisions where the issue is silent:

- A part *sounds* in a section when one of its notes overlaps the section's steps (a chord held into the next
  section counts there too: it is heard there). Every part counts as one layer, whatever its role.
- Two drum bars are *identical* when they strike the same drums at the same steps of the bar; velocity and length
  are ignored, so a bar only counts as varied when it plays something else (a louder copy, or a humanised one, is
  still the same bar). A note belongs to the bar its onset is in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cues.pipelines.compose.musicality import DRUM_CHANNEL
from cues.pipelines.compose.score import Note, Score
from cues.schemas.plan import Plan, Section

ARC_SPAN = 0.4  # the "has an arc": the plan's section intensities span at least this


def intensity_span(plan: Plan) -> float:
    """Highest minus lowest section intensity of ``plan`` (0–1)."""
    intensities = [section.intensity for section in plan.sections]
    return max(intensities) - min(intensities)


def has_arc(plan: Plan) -> bool:
    """Whether the plan's sections span at least :data:`ARC_SPAN` of intensity."""
    return intensity_span(plan) >= ARC_SPAN - 1e-9


def section_steps(plan: Plan, section: Section) -> tuple[int, int]:
    """The grid steps ``[start, end)`` of ``section``."""
    return section.start_bar * plan.steps_per_bar, (section.start_bar + section.bars) * plan.steps_per_bar


def sounding_parts(parts: Mapping[str, Sequence[Note]], start: int, end: int) -> list[str]:
    """The names of the parts with a note overlapping steps ``[start, end)``, in ``parts`` order."""
    return [name for name, notes in parts.items() if any(n.start < end and n.end > start for n in notes)]


def layers_per_section(score: Score) -> list[int]:
    """How many parts sound in each of the plan's sections, in plan order."""
    return [len(sounding_parts(score.parts, *section_steps(score.plan, s))) for s in score.plan.sections]


def plays_in_sections(score: Score, part: str) -> list[bool]:
    """For each of the plan's sections, whether ``part`` sounds in it (False throughout for a part not in the
    score)."""
    notes = {part: score.parts.get(part, [])}
    return [bool(sounding_parts(notes, *section_steps(score.plan, s))) for s in score.plan.sections]


def silent_parts(score: Score) -> list[str]:
    """The parts of ``score`` without a single note (their stems would be delivered silent)."""
    return [name for name, notes in score.parts.items() if not notes]


def drum_parts(score: Score) -> list[str]:
    """The parts played on the General MIDI drum channel."""
    return [part.name for part in score.plan.parts if part.channel == DRUM_CHANNEL and part.name in score.parts]


@dataclass(frozen=True)
class BarRepetition:
    """Bars with at least one onset, and how many of them are identical to another such bar (module docstring)."""

    identical: int
    bars: int

    @property
    def share(self) -> float | None:
        return self.identical / self.bars if self.bars else None


def repeated_bars(notes: Sequence[Note], steps_per_bar: int) -> BarRepetition:
    """How many bars of ``notes`` (one part, or several drum parts together) strike exactly what another bar does."""
    bars: dict[int, set[tuple[int, int]]] = {}
    for note in notes:
        bars.setdefault(note.start // steps_per_bar, set()).add((note.start % steps_per_bar, note.pitch))
    patterns = Counter(frozenset(pattern) for pattern in bars.values())
    return BarRepetition(sum(count for count in patterns.values() if count > 1), len(bars))


def ensemble(plan: Plan) -> tuple[tuple[str, int], ...]:
    """The cue's instruments: (part, General MIDI program) of each part, the drum kit's program for drums."""
    return tuple((part.name, part.program) for part in plan.parts)
