"""Phrases: the four-bar spans inside each section that the harmony cadences and the melody shapes.

A section is cut into phrases of ``phrase_bars`` bars from its first bar (four bars, eight of 2/4, whose bars are
half as long); a remainder shorter than half a phrase joins the phrase before it, a longer one is a phrase of its own.
Phrases pair up as the classical period does: an *antecedent* that ends open (a half cadence on the dominant) and a
*consequent* that answers it and closes (an authentic cadence). A section's last phrase is always a consequent, so a
section of one phrase closes; one of three runs antecedent, consequent, consequent.

Pure: the harmony (``progression``) and the melody (``melody``) read the same spans, so the half cadence and the
melody's open ending fall in the same bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cues.schemas.plan import Plan


class PhraseRole(StrEnum):
    antecedent = "antecedent"  # ends on a half cadence
    consequent = "consequent"  # ends on a full (authentic or the mode's own) cadence


@dataclass(frozen=True)
class Phrase:
    """Bars ``start_bar`` .. ``start_bar + bars`` (exclusive) of section ``section``; ``index`` counts phrases in
    the section from 0."""

    section: int
    index: int
    start_bar: int
    bars: int
    role: PhraseRole

    @property
    def end_bar(self) -> int:
        return self.start_bar + self.bars


def phrase_bars(plan: Plan) -> int:
    """Bars per phrase: four, or eight of a two-beat 2/4 bar (a 6/8 bar is two dotted beats but as long as 2/4's
    two bars of eighths, and its phrases are four bars like a 4/4 tune's)."""
    return 8 if plan.meter == "2/4" else 4


def phrase_spans(plan: Plan) -> list[Phrase]:
    """Every phrase of the cue, in order (see the module docstring)."""
    size = phrase_bars(plan)
    phrases: list[Phrase] = []
    for index, section in enumerate(plan.sections):
        lengths = [size] * (section.bars // size)
        remainder = section.bars % size
        if remainder and lengths and remainder < size / 2:
            lengths[-1] += remainder
        elif remainder:
            lengths.append(remainder)
        start = section.start_bar
        for number, bars in enumerate(lengths):
            last = number == len(lengths) - 1
            role = PhraseRole.consequent if last or number % 2 == 1 else PhraseRole.antecedent
            phrases.append(Phrase(index, number, start, bars, role))
            start += bars
    return phrases


def phrase_at_bar(phrases: list[Phrase], bar: int) -> Phrase:
    """The phrase holding ``bar`` (0-based bar of the cue)."""
    return next(p for p in phrases if p.start_bar <= bar < p.end_bar)
