"""The symbolic cue: notes per part on the 16th-note grid of its plan, before they become a MIDI file.

Times are grid steps (four to a quarter note); the plan's tempo map turns them into seconds. Percussion notes are
General MIDI drum numbers (36 kick, 38 snare, 42 closed hi-hat, 49 crash …) on channel 10.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cues.pipelines.compose.tempo_map import TempoMap
from cues.schemas.plan import Plan

LEAD_STEM = "melody"  # the stem of the lead part (the tune); the mix keeps it on top (pipelines/render/balance.py)


@dataclass(frozen=True, order=True)
class Note:
    """One note: ``start`` and ``end`` in grid steps (end exclusive, ``end > start``), MIDI ``pitch`` and
    ``velocity`` (1–127)."""

    start: int
    end: int
    pitch: int
    velocity: int

    def __post_init__(self) -> None:
        if not self.end > self.start >= 0:
            raise ValueError(f"a note needs 0 <= start < end, got {self.start}..{self.end}")
        if not (0 <= self.pitch <= 127 and 1 <= self.velocity <= 127):
            raise ValueError(f"pitch 0–127 and velocity 1–127, got {self.pitch} and {self.velocity}")


@dataclass(frozen=True)
class Control:
    """A MIDI control change at a grid step (``number`` 7 volume, 11 expression; ``value`` 0–127)."""

    step: int
    number: int
    value: int


@dataclass
class Score:
    """A composed cue: its plan, notes per part (keys: part names, in ``Plan.parts`` order), and control changes
    per part."""

    plan: Plan
    parts: dict[str, list[Note]]
    controls: dict[str, list[Control]] = field(default_factory=dict)
    accents: list[int] = field(default_factory=list)  # steps of the accents played at the hits
    section_melodies: list[list[int]] = field(default_factory=list)  # melody tokens of each section, in plan order
    chords: list[str] = field(default_factory=list)  # Roman numeral of every chord slot, in order
    chord_spans: list[tuple[int, int, str]] = field(default_factory=list)  # (start step, end step, numeral) per slot

    def seconds(self, step: float) -> float:
        return TempoMap.of(self.plan).seconds(step)
