"""One work → one training row: ``process_work`` is the only function the preprocessing pipeline calls per work.

Pure: bytes in, a dict of plain values out (or :class:`WorkDropped` with the reason). Never raises anything else for
bad input.

Drop reasons, in the order they are checked: ``parse_error`` (the parser failed), ``empty`` (no notes),
``no_meter``/``meter_change`` (see :mod:`cues.pipelines.preprocess.melody`), ``too_short`` (fewer than ``MIN_NOTES``
notes), ``off_grid`` (a note starts or ends off the grid by more than ``GRID_TOLERANCE`` quarter notes; ``extra``
says whether the work fits 12 steps per quarter), ``too_short``/``too_long`` (fewer than ``MIN_BARS`` or more than
``MAX_BARS`` bars), ``pitch_range`` (a note outside the token range, see :mod:`cues.pipelines.music.melody_tokens`).

The token sequence covers the work up to the end of its last bar: a last bar shorter than the meter (the complement
of a pickup) is padded with rests to a full bar.

Key (``choose_key``): an ABC key with a tonic (``K:G`` = G major, ``K:Ador``, ``K:Gm``) is "notated", except a plain
major that the notes clearly contradict in favour of the parallel minor (Essen writes the final as ``K:`` and puts
the accidentals in the notes), which becomes that minor, "estimated". A MusicXML key signature allows its major and
its relative minor: for a chorale the one whose tonic is the lowest final note, else the better Krumhansl–Schmuckler
fit on all parts; a single-part score by the melody. No key at all: the best of the 24 major and minor keys. ABC
locrian keys count as a bare signature. ``key_correlation`` is always the chosen key's correlation with the melody.
"""

from __future__ import annotations

import hashlib
import math
from fractions import Fraction

import numpy as np

from cues.pipelines.music import harmony, melody_tokens
from cues.pipelines.preprocess.dataset import NOTE_NAMES
from cues.pipelines.preprocess.melody import Melody, WorkDropped, melody_from_midi, melody_from_score, parse_score
from cues.schemas.key import Mode

__all__ = ["WorkDropped", "process_work"]

MIN_NOTES = 8  # fewer notes is not a tune
MIN_BARS = 2
MAX_BARS = 512  # the longest corpus tunes have about 200 bars; longer "tunes" are medleys or parse errors
GRID_TOLERANCE = 1e-6  # quarter notes
CHORD_COLUMNS = ("chord_tokens", "chord_labels", "cadences", "beats_per_bar")


def process_work(fmt: str, payload: bytes, *, steps_per_quarter: int = 4) -> dict:
    """The row of one work (``fmt``: ``abc`` — one tune's text, ``musicxml``, or ``midi``), or :class:`WorkDropped`."""
    if fmt not in ("abc", "musicxml", "midi"):
        raise WorkDropped("parse_error", f"unknown format {fmt!r}")
    try:
        if fmt == "midi":
            melody = melody_from_midi(payload, steps_per_quarter)
        else:
            melody = melody_from_score(parse_score(fmt, payload), is_musicxml=fmt == "musicxml")
        return melody_row(melody, steps_per_quarter)
    except WorkDropped:
        raise
    except Exception as err:  # a score music21 parsed but we cannot read consistently
        raise WorkDropped("parse_error", f"{type(err).__name__}: {str(err)[:200]}") from None


def _on_step(time: Fraction, steps_per_quarter: int) -> bool:
    steps = time * steps_per_quarter
    return abs(steps - round(steps)) <= GRID_TOLERANCE * steps_per_quarter


def on_grid(melody: Melody, steps_per_quarter: int) -> bool:
    """Whether every note of ``melody`` starts and ends on a grid of ``steps_per_quarter`` steps per quarter note."""
    return all(_on_step(n.start, steps_per_quarter) and _on_step(n.end, steps_per_quarter) for n in melody.notes)


def melody_row(melody: Melody, spq: int) -> dict:
    if len(melody.notes) < MIN_NOTES:
        raise WorkDropped("too_short", f"{len(melody.notes)} notes; at least {MIN_NOTES}")
    if not on_grid(melody, spq):
        off = sum(not (_on_step(n.start, spq) and _on_step(n.end, spq)) for n in melody.notes)
        raise WorkDropped(
            "off_grid",
            f"triplets or finer: {off} notes off the {spq}-steps-per-quarter grid",
            {"on_grid_12": on_grid(melody, 12)},
        )
    bar_length = melody.bar_length
    if (bar_length * spq).denominator != 1:
        raise WorkDropped("off_grid", f"a {melody.meter[0]}/{melody.meter[1]} bar is not a whole number of steps")
    steps_per_bar = int(bar_length * spq)
    total_steps = math.ceil(melody.end * spq)
    bar_starts = [round(b * spq) for b in melody.bar_starts if b * spq < total_steps]
    if bar_starts and (Fraction(bar_starts[0]) != 0):
        bar_starts.insert(0, 0)
    if len(bar_starts) < MIN_BARS:
        raise WorkDropped("too_short", f"{len(bar_starts)} bar; at least {MIN_BARS}")
    if len(bar_starts) > MAX_BARS:
        raise WorkDropped("too_long", f"{len(bar_starts)} bars; at most {MAX_BARS}")
    pickup = bar_starts[1] if len(bar_starts) > 1 and bar_starts[1] < steps_per_bar else 0

    grid_notes = [(round(n.start * spq), round(n.end * spq), n.pitch) for n in melody.notes]
    tonic, mode, source, correlation = choose_key(melody, grid_notes)
    try:
        tokens = melody_tokens.encode(grid_notes, tonic, total_steps)
    except melody_tokens.TokenRangeError as err:
        raise WorkDropped("pitch_range", str(err)) from None

    bounds = [*bar_starts, total_steps]
    density, register, chords = [], [], []
    triads = harmony.diatonic_triads(tonic, mode)
    previous = harmony.roman(0, 0 if mode in (Mode.major, Mode.lydian, Mode.mixolydian) else 1, mode)
    for start, end in zip(bounds, bounds[1:], strict=False):
        onsets = [p for s, _, p in grid_notes if start <= s < end]
        density.append(len(onsets))
        register.append(round(float(np.mean(onsets)), 3) if onsets else -1.0)
        weights = np.zeros(12)
        for s, e, p in grid_notes:
            overlap = min(e, end) - max(s, start)
            if overlap > 0:
                weights[p % 12] += overlap * (2 if s == start else 1)
        chord = harmony.bar_chord(weights, triads) or previous
        chords.append(chord)
        previous = chord

    pitches = [p for _, _, p in grid_notes]
    meter = f"{melody.meter[0]}/{melody.meter[1]}"
    row = {
        "tokens": tokens,
        "steps_per_quarter": spq,
        "steps_per_bar": steps_per_bar,
        "meter": meter,
        "pickup_steps": pickup,
        "bar_starts": bar_starts,
        "tonic": tonic,
        "tonic_name": NOTE_NAMES[tonic],
        "mode": mode.value,
        "key_source": source,
        "key_correlation": round(correlation, 4),
        "n_notes": len(grid_notes),
        "n_bars": len(bar_starts),
        "lowest": min(pitches),
        "highest": max(pitches),
        "density": density,
        "register": register,
        "bar_chords": chords,
        "on_grid_12": on_grid(melody, 12),
        "content_hash": hashlib.sha256(f"{meter}|{','.join(map(str, tokens))}".encode()).hexdigest(),
    }
    row |= chorale_chords(melody, tonic, mode) if melody.parts >= 3 else dict.fromkeys(CHORD_COLUMNS)
    return row


def choose_key(melody: Melody, grid_notes: list[tuple[int, int, int]]) -> tuple[int, Mode, str, float]:
    """(tonic pitch class, mode, "notated"|"estimated", correlation with the melody); rules in the module docstring."""
    hist = harmony.pitch_class_histogram([p for *_, p in grid_notes], [e - s for s, e, _ in grid_notes])
    if melody.notated_key is not None:
        tonic, mode = melody.notated_key
        notated = harmony.key_correlation(hist, tonic, mode)
        if mode == Mode.major:
            minor = harmony.key_correlation(hist, tonic, Mode.minor)
            if minor > notated + 0.1:
                return tonic, Mode.minor, "estimated", minor
        return tonic, mode, "notated", notated
    if melody.key_signature is not None:
        major = (7 * melody.key_signature) % 12
        candidates = [(major, Mode.major), ((major + 9) % 12, Mode.minor)]
        by_final = [(t, m) for t, m in candidates if t == melody.final_bass]
        if by_final:  # chorales end on their tonic, except Phrygian endings, whose final is neither candidate
            tonic, mode = by_final[0]
        else:
            weights = np.asarray(melody.texture) if melody.texture is not None else hist
            tonic, mode, _ = harmony.estimate_key(weights, candidates)
        return tonic, mode, "estimated", harmony.key_correlation(hist, tonic, mode)
    tonic, mode, correlation = harmony.estimate_key(hist)
    return tonic, mode, "estimated", correlation


def chorale_chords(melody: Melody, tonic: int, mode: Mode) -> dict:
    """Per-beat (quarter-note) chord classes of a multi-part score, and the beats where phrases end (fermatas)."""
    chordified = melody.score.chordify().flatten().notes
    spans = [(Fraction(c.offset), Fraction(c.offset) + Fraction(c.quarterLength), c) for c in chordified]
    beats = math.ceil(max(e for _, e, _ in spans)) if spans else 0
    tokens, labels = [], []
    index = 0
    for beat in range(beats):
        while index < len(spans) and spans[index][1] <= beat:
            index += 1
        sounding = next((c for s, e, c in spans[index : index + 4] if s <= beat < e), None)
        matched = None
        if sounding is not None:
            pcs = {p.pitchClass for p in sounding.pitches}
            bass = min(sounding.pitches, key=lambda p: p.midi).pitchClass
            matched = harmony.match_chord(pcs, bass)
        if matched is None:
            tokens.append(harmony.NO_CHORD)
            labels.append("N")
        else:
            root, quality = matched
            interval = (root - tonic) % 12
            tokens.append(harmony.chord_token(interval, quality))
            labels.append(harmony.roman(interval, quality, mode))
    cadences = sorted({int(f) for f in melody.fermatas if f < beats})
    return {
        "chord_tokens": tokens,
        "chord_labels": labels,
        "cadences": cadences,
        "beats_per_bar": int(melody.bar_length),
    }
