"""Musicality numbers (issue 15): how the melody sits on the accompaniment, how it repeats itself, how it moves, how
the chords move and close. The same functions measure a composed :class:`Score` and real music (``bench/reference.py``
feeds them Bach chorales and folk tunes), so a cue's number and the corpus's are computed alike.

Notes are :class:`Note` on an integer grid: a cue's 16th-note steps, or any finer grid for real music (12 steps to a
quarter holds triplets). Each function takes the grid facts it needs (steps per beat or bar). Pure: numpy and the
standard library only.

Definitions (0–1 shares unless said; ``None`` when nothing is there to count):

- *Accompaniment*: every pitched stem except ``melody`` (off the drum channel). A *clash*: a melody note and a
  sounding accompaniment note whose pitch classes differ by 1 or 11 semitones (semitone, minor 9th, major 7th; a
  whole tone is not one). :func:`clash_share` = grid steps where the melody sounds and clashes / grid steps where the
  melody sounds; *on the beat* = the same over steps that start a beat (``step % steps_per_beat == 0``).
- :func:`flat_sevenths_over_leading_tone`: melody notes on the minor ♭7 (pitch class tonic + 10) during which an
  accompaniment note on the leading tone (tonic + 11) sounds at some step, and all melody ♭7 notes.
- :func:`motif_repetition`: periods are phrase pairs (``phrases.py``: four-bar spans, eight of 2/4; antecedent and
  the consequent after it; a lone last phrase is a period of its own; a plain melody without a plan has one section,
  cut into four-bar phrases from its first bar). Every bar of a period but its first (bars 2–8 of a four-bar pair)
  that has at least 2 onsets is compared with every earlier bar of the same section. A bar's *figure* is its onsets
  as (offset in the bar, duration clipped at the bar line, pitch). *Exact*: an earlier bar with the same figure.
  *Transposed*: not exact, but an earlier bar with the same onsets and durations and the same successive intervals,
  in semitones or in scale steps (every note of both bars in the scale), at another pitch. Shares are of the
  compared bars.
- :func:`interval_stats`: the line is the highest pitch of each onset time (a monophonic melody is itself); its
  successive intervals, across rests: mean absolute interval (semitones), repeated-note share (intervals of 0), and
  direction-change share: among successive pairs of non-zero intervals (repeated notes skipped over), the share whose
  directions differ.
- :func:`harmony_stats` on chord spans (start step, end step, numeral): consecutive spans with the same numeral are
  one chord. Tonic bars: bars whose downbeat falls in a tonic chord (I, i, I7, i7). Chord lengths in bars. A final
  cadence, non-loop: the last chord is the tonic and the chord before it is the mode's cadence chord
  (``progression.CADENCE_CHORD``) or V, V7, vii°(7), viiø7, IV, iv; loop: the first chord is the tonic and the last
  is one of those (it leads back into the first).
- :func:`chromatic_share`: melody notes whose pitch class is outside the key (the mode's scale; in minor the raised
  6th and 7th belong to the key, as a leading tone over V is no chromatic colour). :func:`allowed_notes`, the
  in-key test ``quality.in_key_rate`` uses: in the scale, or in minor the raised 6th or 7th, or, when
  ``chromatic_steps`` (the plan's chromaticism > 0, melody only), a semitone from the note before or after it in
  time (a chromatic passing or neighbour tone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cues.pipelines.compose.phrases import PhraseRole, phrase_spans
from cues.pipelines.compose.progression import CADENCE_CHORD
from cues.pipelines.compose.score import Note, Score
from cues.pipelines.music.harmony import FLAT_SEVEN, LEADING_TONE, RAISED_SIX
from cues.schemas.brief import Ending
from cues.schemas.key import MODE_INTERVALS, Mode
from cues.schemas.palettes import Role
from cues.schemas.plan import Plan

DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0
MINOR_RAISED = (RAISED_SIX, LEADING_TONE)  # melodic minor's raised 6th and 7th, allowed in minor
TONIC_CHORDS = ("I", "i", "I7", "i7")
DOMINANT_FUNCTION = ("V", "V7", "vii°", "vii°7", "viiø7", "#vii°", "#vii°7", "#viiø7", "IV", "iv")
LONG_CHORD_BARS = 4  # a chord longer than this is a drone unless meant


# -- melody against the accompaniment --------------------------------------------------------------------------------


def sounding(notes: Sequence[Note], steps: int) -> np.ndarray:
    """(steps, 12) booleans: which pitch classes sound at each grid step (``start <= step < end``)."""
    grid = np.zeros((steps, 12), dtype=bool)
    for note in notes:
        grid[note.start : min(note.end, steps), note.pitch % 12] = True
    return grid


def clash_share(
    melody: Sequence[Note], accompaniment: Sequence[Note], steps_per_beat: int | None = None
) -> float | None:
    """Share of melody-sounding steps with a clash (module docstring); with ``steps_per_beat``, of those steps that
    start a beat only. ``None`` when the melody never sounds (there)."""
    steps = max((n.end for n in [*melody, *accompaniment]), default=0)
    tune, under = sounding(melody, steps), sounding(accompaniment, steps)
    # pitch class p clashes with p ± 1: shift the accompaniment's classes one semitone each way
    near = np.roll(under, 1, axis=1) | np.roll(under, -1, axis=1)
    clashes = (tune & near).any(axis=1)
    heard = tune.any(axis=1)
    if steps_per_beat is not None:
        on_beat = np.arange(steps) % steps_per_beat == 0
        clashes, heard = clashes & on_beat, heard & on_beat
    return float(clashes.sum() / heard.sum()) if heard.any() else None


def flat_sevenths_over_leading_tone(
    melody: Sequence[Note], accompaniment: Sequence[Note], tonic: int
) -> tuple[int, int]:
    """(melody ♭7 notes sounding against an accompaniment leading tone, all melody ♭7 notes); ``tonic`` a pitch
    class 0–11."""
    flat_seventh, leading_tone = (tonic + FLAT_SEVEN) % 12, (tonic + LEADING_TONE) % 12
    steps = max((n.end for n in [*melody, *accompaniment]), default=0)
    leading = sounding([n for n in accompaniment if n.pitch % 12 == leading_tone], steps).any(axis=1)
    sevenths = [n for n in melody if n.pitch % 12 == flat_seventh]
    return sum(bool(leading[n.start : n.end].any()) for n in sevenths), len(sevenths)


# -- motif repetition ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Bars ``start_bar``..``end_bar`` (exclusive) of a phrase pair in the section starting at ``section_start_bar``."""

    section_start_bar: int
    start_bar: int
    end_bar: int


@dataclass(frozen=True)
class Repetition:
    """Compared bars (bars 2.. of each period with ≥ 2 onsets) and how many repeat an earlier bar exactly or
    transposed."""

    exact: int
    transposed: int
    bars: int

    @property
    def exact_share(self) -> float | None:
        return self.exact / self.bars if self.bars else None

    @property
    def transposed_share(self) -> float | None:
        return self.transposed / self.bars if self.bars else None


def plan_periods(plan: Plan) -> list[Period]:
    """The phrase pairs of a plan's phrases: an antecedent with the phrase after it; any other phrase alone."""
    phrases = phrase_spans(plan)
    starts = {s.start_bar for s in plan.sections}
    periods, index = [], 0
    while index < len(phrases):
        phrase = phrases[index]
        paired = (
            phrase.role == PhraseRole.antecedent
            and index + 1 < len(phrases)
            and phrases[index + 1].section == phrase.section
        )
        last = phrases[index + 1] if paired else phrase
        section_start = max(s for s in starts if s <= phrase.start_bar)
        periods.append(Period(section_start, phrase.start_bar, last.end_bar))
        index += 2 if paired else 1
    return periods


def periods_from_start(bars: int, phrase_bars: int = 4) -> list[Period]:
    """Periods of a plain melody of ``bars`` bars: one section, pairs of ``phrase_bars``-bar phrases from bar 0."""
    size = 2 * phrase_bars
    return [Period(0, start, min(start + size, bars)) for start in range(0, bars, size)]


Figure = tuple[tuple[int, int, int], ...]  # (offset in the bar, duration clipped at the bar line, pitch) per onset


def bar_figures(melody: Sequence[Note], steps_per_bar: int) -> dict[int, Figure]:
    """The figure of every bar with an onset, by bar index."""
    figures: dict[int, list[tuple[int, int, int]]] = {}
    for note in sorted(melody):
        bar = note.start // steps_per_bar
        bar_end = (bar + 1) * steps_per_bar
        figures.setdefault(bar, []).append(
            (note.start - bar * steps_per_bar, min(note.end, bar_end) - note.start, note.pitch)
        )
    return {bar: tuple(figure) for bar, figure in figures.items()}


def _intervals(pitches: Sequence[int | None]) -> tuple[int, ...] | None:
    if any(p is None for p in pitches):
        return None
    return tuple(b - a for a, b in zip(pitches, pitches[1:], strict=False))


def _scale_position(pitch: int, scale: Sequence[int]) -> int | None:
    """Scale steps from pitch class 0's octave (7 per octave for a heptatonic scale), ``None`` off the scale."""
    ordered = sorted(set(scale))
    if pitch % 12 not in ordered:
        return None
    return (pitch // 12) * len(ordered) + ordered.index(pitch % 12)


def is_transposition(a: Figure, b: Figure, scale: Sequence[int]) -> bool:
    """Same onsets and durations, other pitches, same successive intervals in semitones or in scale steps."""
    if [(o, d) for o, d, _ in a] != [(o, d) for o, d, _ in b] or a == b:
        return False
    pitches_a, pitches_b = [p for *_, p in a], [p for *_, p in b]
    if _intervals(pitches_a) == _intervals(pitches_b):
        return True
    steps_a = _intervals([_scale_position(p, scale) for p in pitches_a])
    return steps_a is not None and steps_a == _intervals([_scale_position(p, scale) for p in pitches_b])


def motif_repetition(
    melody: Sequence[Note], periods: Sequence[Period], steps_per_bar: int, scale: Sequence[int]
) -> Repetition:
    """Bars 2.. of each period against the earlier bars of their section (module docstring). ``scale``: pitch
    classes of the key's scale (absolute, 0 = C), for transpositions in scale steps."""
    figures = bar_figures(melody, steps_per_bar)
    exact = transposed = compared = 0
    for period in periods:
        for bar in range(period.start_bar + 1, period.end_bar):
            figure = figures.get(bar, ())
            if len(figure) < 2:
                continue
            compared += 1
            earlier = [figures.get(b, ()) for b in range(period.section_start_bar, bar)]
            if figure in earlier:
                exact += 1
            elif any(is_transposition(figure, other, scale) for other in earlier):
                transposed += 1
    return Repetition(exact, transposed, compared)


# -- melodic motion --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntervalStats:
    mean_abs_interval: float | None  # semitones
    repeated_note_share: float | None
    direction_change_share: float | None
    intervals: int  # how many intervals the line has


def top_line(notes: Sequence[Note]) -> list[int]:
    """The highest pitch of each onset time, in time order."""
    highest: dict[int, int] = {}
    for note in notes:
        highest[note.start] = max(highest.get(note.start, note.pitch), note.pitch)
    return [highest[start] for start in sorted(highest)]


def interval_stats(melody: Sequence[Note]) -> IntervalStats:
    """Mean absolute interval, repeated-note share and direction-change share of the melody's line."""
    line = np.array(top_line(melody))
    steps = np.diff(line)
    if not len(steps):
        return IntervalStats(None, None, None, 0)
    directions = np.sign(steps[steps != 0])
    changes = directions[1:] != directions[:-1]
    return IntervalStats(
        float(np.abs(steps).mean()),
        float((steps == 0).mean()),
        float(changes.mean()) if len(changes) else None,
        len(steps),
    )


# -- harmony ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HarmonyStats:
    tonic_bar_share: float | None
    longest_chord_bars: float | None
    chords_over_4_bars: int
    final_cadence: bool | None  # None for a cut-less score without chords


def chord_runs(spans: Sequence[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Consecutive spans with the same numeral joined into one chord (start step, end step, numeral)."""
    runs: list[tuple[int, int, str]] = []
    for start, end, numeral in sorted(spans):
        if runs and runs[-1][2] == numeral and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end, numeral)
        else:
            runs.append((start, end, numeral))
    return runs


def cadence_numerals(mode: Mode) -> set[str]:
    """Numerals that may precede the final tonic: the mode's own cadence chord and the dominant-function chords."""
    return {CADENCE_CHORD[mode].numeral(mode), *DOMINANT_FUNCTION}


def ends_on_cadence(runs: Sequence[tuple[int, int, str]], mode: Mode, loop: bool) -> bool:
    """Whether the chords close (module docstring): ``… cadence chord → tonic``, or for a loop ``tonic … cadence
    chord`` (the turnaround into the first bar)."""
    if len(runs) < 2:
        return False
    before, last = (runs[-1][2], runs[0][2]) if loop else (runs[-2][2], runs[-1][2])
    return last in TONIC_CHORDS and before in cadence_numerals(mode)


def harmony_stats(spans: Sequence[tuple[int, int, str]], steps_per_bar: int, mode: Mode, loop: bool) -> HarmonyStats:
    """Tonic-bar share, longest chord and chords over ``LONG_CHORD_BARS`` bars (in bars), and the final cadence."""
    runs = chord_runs(spans)
    if not runs:
        return HarmonyStats(None, None, 0, None)
    downbeats = range(runs[0][0] - runs[0][0] % steps_per_bar, runs[-1][1], steps_per_bar)
    tonic = [any(s <= d < e and n in TONIC_CHORDS for s, e, n in runs) for d in downbeats]
    lengths = [(end - start) / steps_per_bar for start, end, _ in runs]
    return HarmonyStats(
        sum(tonic) / len(tonic),
        max(lengths),
        sum(length > LONG_CHORD_BARS for length in lengths),
        ends_on_cadence(runs, mode, loop),
    )


# -- key -------------------------------------------------------------------------------------------------------------


def scale_pitch_classes(tonic: int, mode: Mode) -> set[int]:
    """Pitch classes of the mode's scale on ``tonic``."""
    return {(tonic + i) % 12 for i in MODE_INTERVALS[mode]}


def key_pitch_classes(tonic: int, mode: Mode) -> set[int]:
    """The scale, plus in minor the raised 6th and 7th."""
    raised = {(tonic + i) % 12 for i in MINOR_RAISED} if mode == Mode.minor else set()
    return scale_pitch_classes(tonic, mode) | raised


def chromatic_share(melody: Sequence[Note], tonic: int, mode: Mode) -> float | None:
    """Share of melody notes outside the key (:func:`key_pitch_classes`)."""
    if not melody:
        return None
    scale = key_pitch_classes(tonic, mode)
    return sum(n.pitch % 12 not in scale for n in melody) / len(melody)


def allowed_notes(notes: Sequence[Note], tonic: int, mode: Mode, chromatic_steps: bool) -> list[bool]:
    """Per note of ``notes`` in time order (sorted): in the key (:func:`key_pitch_classes`), or, with
    ``chromatic_steps``, a semitone from the note before or after it (a chromatic passing or neighbour tone)."""
    ordered = sorted(notes)
    key = key_pitch_classes(tonic, mode)
    result = []
    for i, note in enumerate(ordered):
        neighbours = [ordered[j].pitch for j in (i - 1, i + 1) if 0 <= j < len(ordered)]
        stepwise = chromatic_steps and any(abs(note.pitch - p) == 1 for p in neighbours)
        result.append(note.pitch % 12 in key or stepwise)
    return result


def line_figures(melody: Sequence[Note], periods: Sequence[Period], steps_per_bar: int, scale: Sequence[int]) -> dict:
    """The melody's own figures, for a cue and for real music alike: bar repeats in ``periods`` and interval
    statistics (unrounded)."""
    repetition = motif_repetition(melody, periods, steps_per_bar, scale)
    motion = interval_stats(melody)
    return {
        "exact_repeat_share": repetition.exact_share,
        "transposed_repeat_share": repetition.transposed_share,
        "repetition_bars": repetition.bars,
        "mean_abs_interval": motion.mean_abs_interval,
        "repeated_note_share": motion.repeated_note_share,
        "direction_change_share": motion.direction_change_share,
    }


# -- a composed score ------------------------------------------------------------------------------------------------


def accompaniment(score: Score) -> list[Note]:
    """Every pitched part's notes but the melody's (the lead's)."""
    pitched = {p.name for p in score.plan.parts if p.channel != DRUM_CHANNEL and p.role != Role.lead}
    return [n for name, notes in score.parts.items() if name in pitched for n in notes]


def summary(score: Score) -> dict:
    """Every number above for a composed score (JSON-ready; floats rounded to 4 places): the ``musicality`` block of
    ``quality.measure``."""
    plan = score.plan
    melody, under = score.parts.get(Role.lead.value, []), accompaniment(score)
    sevenths, all_sevenths = flat_sevenths_over_leading_tone(melody, under, plan.tonic)
    scale = sorted(scale_pitch_classes(plan.tonic, plan.mode))
    harmony = harmony_stats(score.chord_spans, plan.steps_per_bar, plan.mode, plan.ending == Ending.loop)
    return _rounded(
        {
            "clash_share": clash_share(melody, under),
            "clash_share_on_beat": clash_share(melody, under, plan.steps_per_beat),
            "flat_sevenths_over_leading_tone": sevenths,
            "flat_sevenths": all_sevenths,
            **line_figures(melody, plan_periods(plan), plan.steps_per_bar, scale),
            "tonic_bar_share": harmony.tonic_bar_share,
            "longest_chord_bars": harmony.longest_chord_bars,
            "chords_over_4_bars": harmony.chords_over_4_bars,
            "final_cadence": harmony.final_cadence,
            "chromatic_share": chromatic_share(melody, plan.tonic, plan.mode),
        }
    )


def _rounded(values: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}
