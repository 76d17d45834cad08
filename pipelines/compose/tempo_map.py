"""A composer's tempo map: piecewise-constant tempo that fills a length exactly and puts each hit on a downbeat.

Time is counted in grid steps (16th notes; four to a quarter note). Between consecutive anchors — the start, each hit,
the end — the tempo is constant, and each anchor falls on a step. The solver chooses the step of every anchor by
dynamic programming over the anchors, minimising

    Σ segment seconds × ln(segment tempo / preferred tempo)²  +  placement cost of each hit

with placement costs: a downbeat 0, a beat 0.5, a 16th step 2, not anchored at all 50 (the hit then falls wherever
the neighbouring segments put it, and the plan reports its error). The end is always a bar line, so a cue is a whole
number of bars. Segment tempos stay inside a band around the mood's range (or around the brief's own tempo), and
never outside the brief contract's 40–220 bpm.

Pure: no models, no I/O. Times in the map are integer microseconds, the resolution of a MIDI tempo event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from cues.schemas.errors import ScoringError
from cues.schemas.plan import Plan
from cues.schemas.timing import MAX_TEMPO, MIN_TEMPO, Meter

STEPS_PER_QUARTER = 4
HIT_TOLERANCE_MS = 10.0  # the brief contract: an accent within 10 ms of each hit
PLACEMENT_COST = {"downbeat": 0.0, "beat": 0.5, "step": 2.0}
UNANCHORED_COST = 50.0
MAX_SKIPPED_IN_A_ROW = 3  # bounds the search; a run of unreachable hits longer than this is rare and stays unanchored


class PlanError(ScoringError):
    """The brief cannot be planned as asked (for example a form with more sections than the length has bars)."""


@dataclass(frozen=True)
class Grid:
    """Steps of a meter: 16 to a 4/4 bar, 4 to a quarter-note beat, 6 to a dotted-quarter beat in 6/8."""

    steps_per_bar: int
    steps_per_beat: int

    @classmethod
    def of(cls, meter: Meter) -> Grid:
        steps_per_bar = round(meter.quarter_notes_per_bar * STEPS_PER_QUARTER)
        return cls(steps_per_bar, steps_per_bar // meter.beats_per_bar)

    def placement(self, step: int) -> str:
        if step % self.steps_per_bar == 0:
            return "downbeat"
        if step % self.steps_per_beat == 0:
            return "beat"
        return "step"


@dataclass(frozen=True)
class TempoSegment:
    """Constant tempo from ``start_step`` for ``steps`` steps, starting at ``start_us`` and lasting ``duration_us``."""

    start_step: int
    steps: int
    start_us: int
    duration_us: int
    steps_per_beat: int

    @property
    def bpm(self) -> float:
        """Beats per minute (the meter's beat: a dotted quarter in 6/8)."""
        return self.steps / self.steps_per_beat * 60e6 / self.duration_us

    @property
    def end_step(self) -> int:
        return self.start_step + self.steps


@dataclass(frozen=True)
class TempoMap:
    segments: tuple[TempoSegment, ...]

    @classmethod
    def of(cls, plan: Plan) -> TempoMap:
        """The exact tempo map (microseconds) ``plan`` was solved with."""
        return cls(tuple(TempoSegment(*s, plan.steps_per_beat) for s in plan.tempo_map_us))

    @property
    def total_steps(self) -> int:
        return self.segments[-1].end_step

    @property
    def duration_us(self) -> int:
        last = self.segments[-1]
        return last.start_us + last.duration_us

    def time_us(self, step: float) -> Fraction:
        """Exact time of a (possibly fractional) step, in microseconds; steps past the end continue the last tempo."""
        step = Fraction(step)
        for segment in self.segments:
            if step <= segment.end_step or segment is self.segments[-1]:
                return segment.start_us + (step - segment.start_step) * Fraction(segment.duration_us, segment.steps)
        raise AssertionError("unreachable")

    def seconds(self, step: float) -> float:
        return float(self.time_us(step)) / 1e6

    def nearest_step(self, seconds: float) -> int:
        """The grid step whose time is nearest to ``seconds``."""
        target = Fraction(round(seconds * 1e6))
        best = 0
        for segment in self.segments:
            per_step = Fraction(segment.duration_us, segment.steps)
            guess = segment.start_step + round((target - segment.start_us) / per_step)
            for step in (guess - 1, guess, guess + 1):
                step = min(max(step, 0), self.total_steps)
                if abs(self.time_us(step) - target) < abs(self.time_us(best) - target):
                    best = step
        return best

    def bpm_range(self) -> tuple[float, float]:
        tempos = [s.bpm for s in self.segments]
        return min(tempos), max(tempos)


@dataclass(frozen=True)
class HitPlacement:
    """Where one requested hit landed: its step, exact time and error, and how it sits in the bar."""

    requested_s: float
    step: int
    achieved_s: float
    error_ms: float
    placement: str  # downbeat, beat, step
    anchored: bool  # the solver put a segment boundary on it
    achievable: bool  # within HIT_TOLERANCE_MS

    def as_dict(self, grid: Grid) -> dict:
        return {
            "requested_s": self.requested_s,
            "achieved_s": round(self.achieved_s, 6),
            "error_ms": round(self.error_ms, 4),
            "bar": self.step // grid.steps_per_bar + 1,
            "beat": (self.step % grid.steps_per_bar) // grid.steps_per_beat + 1,
            "step": self.step,
            "placement": self.placement,
            "achievable": self.achievable,
        }


@dataclass(frozen=True)
class TempoBand:
    """Segment tempos allowed (bpm) and the one preferred."""

    low: float
    high: float
    preferred: float

    @classmethod
    def around(cls, low: float, high: float, preferred: float, slack: float) -> TempoBand:
        """``[low / slack, high × slack]`` clipped to the contract's 40–220 bpm."""
        return cls(max(MIN_TEMPO, low / slack), min(MAX_TEMPO, high * slack), preferred)


def solve_tempo_map(
    grid: Grid,
    length_s: float,
    hits: tuple[float, ...] | list[float],
    band: TempoBand,
    total_steps: int | None = None,
    min_steps: int = 1,
) -> tuple[TempoMap, list[HitPlacement]]:
    """The tempo map of a cue ``length_s`` long with ``hits`` (seconds, inside the cue), and where each hit lands.

    ``total_steps`` fixes the length in steps (a length in bars, or a form whose sections all give bars); otherwise
    the solver picks the whole number of bars, at least ``min_steps``. Raises :class:`PlanError` when no tempo from
    40 to 220 bpm fits.
    """
    requested = sorted(hits)
    times_us = [0, *(round(h * 1e6) for h in requested), round(length_s * 1e6)]
    # The band first; the whole contract range when the band cannot reach the end or leaves a hit unanchored.
    steps = _search(grid, times_us, band, total_steps, min_steps)
    if steps is None or None in steps:
        wide = _search(grid, times_us, TempoBand(MIN_TEMPO, MAX_TEMPO, band.preferred), total_steps, min_steps)
        if wide is not None and (steps is None or wide.count(None) < steps.count(None)):
            steps = wide
    if steps is None:
        bars = (
            f"{total_steps // grid.steps_per_bar} bars"
            if total_steps
            else f"{math.ceil(min_steps / grid.steps_per_bar)} or more whole bars"
        )
        raise PlanError(
            f"{length_s:g} s cannot hold {bars} at any tempo from {MIN_TEMPO:g} to {MAX_TEMPO:g} bpm; "
            "change the length or the number of bars"
        )
    anchors = [(s, t) for s, t in zip(steps, times_us, strict=True) if s is not None]
    segments, start_us = [], 0
    for (a_step, _), (b_step, b_us) in zip(anchors, anchors[1:], strict=False):
        segments.append(TempoSegment(a_step, b_step - a_step, start_us, b_us - start_us, grid.steps_per_beat))
        start_us = b_us
    tempo_map = TempoMap(tuple(segments))
    placements = []
    for index, hit in enumerate(requested, start=1):
        step = steps[index] if steps[index] is not None else tempo_map.nearest_step(hit)
        achieved = tempo_map.seconds(step)
        error_ms = abs(achieved - hit) * 1e3
        placements.append(
            HitPlacement(
                hit,
                step,
                achieved,
                error_ms,
                grid.placement(step),
                steps[index] is not None,
                error_ms <= HIT_TOLERANCE_MS,
            )
        )
    return tempo_map, placements


def _search(
    grid: Grid, times_us: list[int], band: TempoBand, total_steps: int | None, min_steps: int
) -> list[int | None] | None:
    """The step of every anchor (``None`` for a hit left unanchored), or ``None`` when the end cannot be reached."""
    last = len(times_us) - 1
    # best[j]: step of anchor j → (cost, previous anchor index, previous step)
    best: list[dict[int, tuple[float, int, int]]] = [{} for _ in times_us]
    best[0][0] = (0.0, -1, -1)
    preferred = math.log(band.preferred)
    for j in range(1, last + 1):
        for i in range(max(0, j - 1 - MAX_SKIPPED_IN_A_ROW), j):
            if not best[i]:
                continue
            seconds = (times_us[j] - times_us[i]) / 1e6
            if seconds <= 0:
                continue
            # steps m with tempo = m / steps_per_beat × 60 / seconds inside the band
            low = max(1, math.ceil(band.low * seconds * grid.steps_per_beat / 60 - 1e-9))
            high = math.floor(band.high * seconds * grid.steps_per_beat / 60 + 1e-9)
            if low > high:
                continue
            skipped = (j - i - 1) * UNANCHORED_COST
            for start, (cost, _, _) in best[i].items():
                for m in range(low, high + 1):
                    step = start + m
                    if j == last:
                        if step % grid.steps_per_bar or step < min_steps or total_steps not in (None, step):
                            continue
                        placement = 0.0
                    else:
                        placement = PLACEMENT_COST[grid.placement(step)]
                    tempo = m / grid.steps_per_beat * 60 / seconds
                    total = cost + skipped + placement + seconds * (math.log(tempo) - preferred) ** 2
                    if step not in best[j] or total < best[j][step][0]:
                        best[j][step] = (total, i, start)
    if not best[last]:
        return None
    step = min(best[last], key=lambda s: (best[last][s][0], s))
    steps: list[int | None] = [None] * len(times_us)
    j = last
    while j >= 0:
        steps[j] = step
        _, i, previous = best[j][step]
        j, step = i, previous
    return steps
