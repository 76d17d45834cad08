"""Repeated and sequenced bars kept as such after the harmonic fitting: a figure fitted as a whole.

The melody develops its motif bar by bar (repetition, sequence: ``motifs.py``), and ``line_fit.fit_line`` then checks
every note against the chord sounding under it. Once the chords move, re-snapping each note on its own turns a
sequence into a new figure, so the ear no longer hears the motif come back. A composer moves the whole figure
instead: the bar is the earlier bar transposed by the number of scale steps that puts its strong-beat notes on tones
of its own chord.

:func:`keep_figures` compares each bar of the written (unfitted) section with the earlier bars: a bar with the same
rhythm and the same successive scale steps as an earlier one (at least two onsets) was written as its repetition or
sequence. That bar is then rebuilt from the earlier bar *as fitted*, moved by the scale-step shift (``-MAX_SHIFT`` …
``MAX_SHIFT``) that costs least (:func:`_cost`: strong beats on chord tones or resolving by step, no semitone against
the chord on a beat, the mode's notes, no jump at the bar lines, the written shift preferred); the rebuilt bar replaces
the fitted one where it breaks no rule and stays in the section's register. Cadence bars (a phrase's last) keep
their fitted close.

Pure functions on plain values, like ``line_fit.py``.
"""

from __future__ import annotations

from cues.pipelines.compose.line_fit import Harmony, to_line
from cues.pipelines.compose.motifs import degree, from_degree
from cues.pipelines.music.harmony import FLAT_SEVEN, LEADING_TONE
from cues.pipelines.music.melody_tokens import FIRST_NOTE, LOW, token_pitch

MAX_SHIFT = 4  # scale steps either way a repeated figure may move to fit its chord
BROKEN = 100.0  # cost of a rule broken: a strong beat off the chord unresolved, a beat's semitone, a note off the mode
JUMP = 0.25  # cost per semitone beyond a fourth at the bar lines
TURN = 0.3  # cost per turn of the line's direction at the bar lines (the line zigzags where copies meet)
WRITTEN_SHIFT = 0.3  # cost per scale step away from the shift the bar was written at
EXACT = 1.0  # cost spared a plain repetition (shift 0): tunes restate bars note for note as often as they sequence
UNHEARD = 1.0  # cost of a shift the ear (and the metric) hears as a new figure: a raised 7th in one copy, not the other


def _onsets(bar: list[int]) -> list[tuple[int, int]]:
    return [(i, token_pitch(t, 0)) for i, t in enumerate(bar) if t >= FIRST_NOTE]


def _shape(bar: list[int]) -> tuple:
    """The bar's rhythm: each step an onset, a hold or a rest."""
    return tuple(min(t, FIRST_NOTE) for t in bar)


def written_source(tokens: list[int], bar: int, steps_per_bar: int, scale: tuple[int, ...]) -> tuple[int, int] | None:
    """The earliest earlier bar of ``tokens`` whose repetition or sequence bar ``bar`` is, and the shift in scale
    steps; ``None`` when it is new material."""
    spb = steps_per_bar
    here = tokens[bar * spb : (bar + 1) * spb]
    onsets = _onsets(here)
    if len(onsets) < 2:
        return None
    steps = [degree(r, scale)[0] for _, r in onsets]
    for earlier in range(bar):
        there = tokens[earlier * spb : (earlier + 1) * spb]
        if _shape(there) != _shape(here):
            continue
        others = [degree(r, scale)[0] for _, r in _onsets(there)]
        moves = [b - a for a, b in zip(steps, steps[1:], strict=False)]
        if moves == [b - a for a, b in zip(others, others[1:], strict=False)]:
            return earlier, steps[0] - others[0]
    return None


def keep_figures(written: list[int], fitted: list[int], offset: int, harmony: Harmony, scale: tuple[int, ...],
                 cadence_bars: set[int]) -> list[int]:  # fmt: skip
    """``fitted`` (a section's line fitted note by note, starting at cue step ``offset``) with every bar that
    ``written`` repeats or sequences rebuilt from its source bar as a whole (module docstring)."""
    spb = harmony.steps_per_bar
    tokens = list(fitted)
    pitches = [r for _, r in _onsets(fitted)]
    register = (min(pitches, default=0) - 2, max(pitches, default=0) + 2)
    for bar in range(1, len(tokens) // spb):
        source = written_source(written, bar, spb, scale)
        if source is None or bar in cadence_bars:
            continue
        earlier, shift = source
        lo, hi = bar * spb, (bar + 1) * spb
        figure = tokens[earlier * spb : (earlier + 1) * spb]
        if len(_onsets(figure)) < 2:
            continue
        options = []
        for k in range(-MAX_SHIFT, MAX_SHIFT + 1):
            moved = _moved(figure, k, scale, offset + lo, harmony)
            trial = tokens[:lo] + moved + tokens[hi:]
            outside = any(not register[0] <= r <= register[1] for _, r in _onsets(moved))
            cost = _cost(trial, lo, hi, offset, harmony, scale, figure) + BROKEN * outside
            if cost < BROKEN:
                options.append((cost + WRITTEN_SHIFT * abs(k - shift) - EXACT * (k == 0), k, trial))
        if not options:
            continue
        tokens = min(options, key=lambda o: (o[0], abs(o[1] - shift), o[1]))[2]
    return tokens


def _moved(figure: list[int], steps: int, scale: tuple[int, ...], start: int, harmony: Harmony) -> list[int]:
    """The bar moved ``steps`` scale steps, each note spelled as the mode asks at its step (minor's 7th over V)."""
    result = []
    for i, token in enumerate(figure):
        if token < FIRST_NOTE:
            result.append(token)
            continue
        index, alteration = degree(token_pitch(token, 0), scale)
        relative = from_degree(index + steps, alteration, scale)
        legal = harmony.legal(start + i)
        if relative % 12 not in legal and alteration and (relative - alteration) % 12 in legal:
            relative -= alteration
        if relative % 12 not in legal and relative % 12 == FLAT_SEVEN and LEADING_TONE in legal:
            relative += 1
        result.append(relative - LOW + FIRST_NOTE)
    return result


def _cost(tokens: list[int], lo: int, hi: int, offset: int, harmony: Harmony, scale: tuple[int, ...],
          figure: list[int] | None) -> float:  # fmt: skip
    """What bar ``lo``–``hi`` of the line breaks (``BROKEN`` per rule), its jumps at the bar lines, and, against the
    ``figure`` it copies, whether the copy still sounds like it."""
    notes = to_line(tokens)
    inside = [i for i, n in enumerate(notes) if lo <= n[0] < hi]
    if not inside:
        return BROKEN
    cost = 0.0
    beat = harmony.steps_per_beat
    for i in inside:
        start, end, relative = notes[i]
        step = offset + start
        if any(relative % 12 not in harmony.legal(offset + s) for s in range(start, end)):
            cost += BROKEN
        if start % beat == 0 and harmony.clashes(relative % 12, step):
            cost += BROKEN
        if harmony.is_strong(step) and relative % 12 not in harmony.at(step):
            after = notes[i + 1] if i + 1 < len(notes) else None
            resolves = (
                after is not None
                and 1 <= abs(after[2] - relative) <= 2
                and after[0] - start <= beat
                and after[2] % 12 in harmony.at(offset + after[0])
            )
            cost += 0 if resolves else BROKEN
    for a, b in ((inside[0] - 1, inside[0]), (inside[-1], inside[-1] + 1)):
        if 0 <= a and b < len(notes):
            cost += JUMP * max(0, abs(notes[b][2] - notes[a][2]) - 5)
    for j in (inside[0] - 1, inside[0], inside[-1], inside[-1] + 1):  # the bar's own turns are the same at any shift
        if 0 < j < len(notes) - 1:
            cost += TURN * ((notes[j][2] - notes[j - 1][2]) * (notes[j + 1][2] - notes[j][2]) < 0)
    if figure is not None:
        copied = [r for _, r in _onsets(tokens[lo:hi])]
        source = [r for _, r in _onsets(figure)]
        same = [b - a for a, b in zip(copied, copied[1:], strict=False)] == [
            b - a for a, b in zip(source, source[1:], strict=False)
        ]
        in_scale = all(r % 12 in scale for r in copied + source)
        cost += 0 if same or in_scale else UNHEARD
    return cost
