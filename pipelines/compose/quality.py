"""Objective quality numbers of a composed cue, stored in its manifest: key adherence, pitch and rhythm statistics,
form, hit accuracy and stem ranges.

:func:`measure` is pure: a :class:`Score` in, a JSON-ready dict out (floats rounded to 4 places, ``None`` where a
number does not apply). Pitched stems are those off the drum channel; percussion notes are drum numbers, not pitches.

Definitions (MusPy 0.5.0 where it has one; real-corpus reference values in ``notes/models-data.md``):

- ``in_key_rate``: share of pitched notes, each note counted once whatever its length, that are in key against the
  scale plus the allowed chromatic notes (``musicality.allowed_notes``): the plan key's scale
  (``cues.schemas.key.MODE_INTERVALS``), in minor also the raised 6th and 7th (the chorales' major V and melodic
  minor), and, in the melody of a plan whose chromaticism is above 0, a chromatic passing or neighbour tone (a
  semitone from the melody note before or after it). 0–1. (Until issue 15 it was the scale alone.)
- ``pitch_class_entropy``: Shannon entropy, in bits (0 to log2 12 ≈ 3.585), of the histogram of note counts per
  pitch class; on the melody stem, and ``pitch_class_entropy_all`` on all pitched stems.
- ``groove_consistency``: 1 − mean over consecutive bars of the Hamming distance between their onset patterns
  (which grid steps of the bar have an onset) divided by the steps per bar. 0–1; 1 = every bar has the same onsets.
  Bars are the plan's: MusPy counts bars up to the last note's end, which would add a silent bar for a ring-out.
- ``key_estimate``: music21's ``analyze('key')`` (Krumhansl–Schmuckler correlation with its default Aarden–Essen
  key profiles, notes weighted by duration) of all pitched notes, durations in quarter notes (grid steps / 4). It
  knows only major and minor, so ``key_match`` is ``None`` for a modal plan and ``tonic_match`` compares tonics alone.
- ``section_similarity``: for two lettered sections (``A``, ``A'``, ``B`` …), the share of equal melody tokens over
  the first min(length) steps where either has a note onset, averaged over pairs with the same letter and over
  pairs with different letters.
- ``hits``: the accent nearest each requested hit, its time from the tempo map and its error
  (accent − requested, milliseconds, positive = late). An unmatched hit has error ``None`` and fails the 10 ms check.
- ``stems``: note count, notes per bar, lowest and highest MIDI note and their distance in semitones.
- ``musicality``: clashes of the melody with the accompaniment, ♭7 over a leading tone, motif repetition, melodic
  intervals, the chords' tonic share, lengths and final cadence, the melody's chromatic share
  (``musicality.summary``; definitions in ``pipelines/compose/musicality.py``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import combinations

from cues.pipelines.compose import musicality
from cues.pipelines.compose.musicality import DRUM_CHANNEL, allowed_notes
from cues.pipelines.compose.score import Note, Score
from cues.pipelines.compose.tempo_map import HIT_TOLERANCE_MS, STEPS_PER_QUARTER, TempoMap
from cues.pipelines.music.melody_tokens import FIRST_NOTE
from cues.schemas.key import Mode
from cues.schemas.palettes import Role

MAJOR_MINOR = (Mode.major, Mode.minor)
LEAD = Role.lead.value  # the melody's part  # the only modes music21's key finder reports


def measure(score: Score) -> dict:
    """The quality block of a cue's manifest (see the module docstring for each number's definition and units)."""
    plan = score.plan
    parts = {part.name: score.parts.get(part.name, []) for part in plan.parts}
    pitched_names = {part.name for part in plan.parts if part.channel != DRUM_CHANNEL}
    pitched = {name: notes for name, notes in parts.items() if name in pitched_names}
    all_pitched = [note for notes in pitched.values() for note in notes]
    in_key = {
        name: allowed_notes(notes, plan.tonic, plan.mode, name == LEAD and plan.chromaticism > 0)
        for name, notes in pitched.items()
    }
    percussion = [note for name, notes in parts.items() if name not in pitched for note in notes]
    all_notes = [note for notes in parts.values() for note in notes]
    estimate = key_estimate(all_pitched)
    hits = hit_errors(score)
    errors = [abs(h["error_ms"]) for h in hits if h["error_ms"] is not None]
    return {
        "in_key_rate": _round(in_key_rate([ok for flags in in_key.values() for ok in flags])),
        "in_key_rate_per_stem": {name: _round(in_key_rate(flags)) for name, flags in in_key.items()},
        "pitch_class_entropy": _round(pitch_class_entropy(parts.get(LEAD, []))),
        "pitch_class_entropy_all": _round(pitch_class_entropy(all_pitched)),
        "groove_consistency": _round(groove_consistency(all_notes, plan.steps_per_bar, plan.bars)),
        "groove_consistency_percussion": _round(groove_consistency(percussion, plan.steps_per_bar, plan.bars)),
        "key_estimate": estimate,
        "key_match": _key_match(estimate, plan.tonic, plan.mode),
        "tonic_match": None if estimate is None else estimate["tonic_pc"] == plan.tonic,
        "section_similarity": section_similarity(score),
        "hits": hits,
        "hit_error_max_ms": _round(max(errors)) if errors else None,
        "hits_all_within_10ms": (len(errors) == len(hits) and max(errors) <= HIT_TOLERANCE_MS) if hits else None,
        "stems": {name: stem_stats(notes, plan.bars) for name, notes in parts.items()},
        "empty_stems": [name for name, notes in parts.items() if not notes],
        "musicality": musicality.summary(score),
    }


def in_key_rate(in_key: Sequence[bool]) -> float | None:
    """Share (0–1) of notes in key, from one flag per note (``musicality.allowed_notes``); ``None`` without notes."""
    if not in_key:
        return None
    return sum(in_key) / len(in_key)


def pitch_class_entropy(notes: Sequence[Note]) -> float | None:
    """Entropy in bits of the pitch-class histogram of note counts (MusPy's); ``None`` without notes."""
    counts = Counter(note.pitch % 12 for note in notes)
    total = sum(counts.values())
    if total == 0:
        return None
    return sum(n / total * math.log2(total / n) for n in counts.values())


def groove_consistency(notes: Iterable[Note], steps_per_bar: int, bars: int) -> float | None:
    """1 − mean Hamming distance between the onset patterns of consecutive bars / ``steps_per_bar`` (MusPy's).

    ``bars`` is the cue's length in bars (a note starting after it extends it). ``None`` with fewer than two bars or
    no notes.
    """
    onsets = {note.start for note in notes}
    if not onsets:
        return None
    bars = max(bars, max(onsets) // steps_per_bar + 1)
    if bars < 2:
        return None
    patterns = [{s % steps_per_bar for s in onsets if s // steps_per_bar == bar} for bar in range(bars)]
    distance = sum(
        len(a ^ b) for a, b in zip(patterns, patterns[1:], strict=False)
    )  # symmetric difference = Hamming distance
    return 1 - distance / (steps_per_bar * (bars - 1))


def key_estimate(notes: Sequence[Note]) -> dict | None:
    """music21's key of ``notes``: tonic name ("Bb", "F#"), tonic pitch class, mode ("major"/"minor") and the
    correlation (−1 to 1) of the winning key profile. ``None`` without notes."""
    if not notes:
        return None
    from music21 import note as m21note  # slow to import: only when a cue is measured
    from music21 import stream

    melody = stream.Stream()
    for n in notes:
        melody.insert(
            n.start / STEPS_PER_QUARTER, m21note.Note(n.pitch, quarterLength=(n.end - n.start) / STEPS_PER_QUARTER)
        )
    key = melody.analyze("key")
    return {
        "tonic": key.tonic.name.replace("-", "b"),  # music21 spells flats with "-"
        "tonic_pc": key.tonic.pitchClass,
        "mode": key.mode,
        "correlation": _round(key.correlationCoefficient),
    }


def _key_match(estimate: dict | None, tonic: int, mode: Mode) -> bool | None:
    if estimate is None or mode not in MAJOR_MINOR:
        return None
    return estimate["tonic_pc"] == tonic and estimate["mode"] == mode.value


def section_similarity(score: Score) -> dict:
    """Mean token agreement (0–1) between lettered sections with the same letter and with different letters.

    Sections without tokens (a score with fewer ``section_melodies`` than sections) take no part.
    """
    lettered = [
        (section.name, tokens)
        for section, tokens in zip(score.plan.sections, score.section_melodies, strict=False)
        if len(section.name) == 1 and section.name.isalpha() and tokens
    ]
    same, different = [], []
    for (name_a, a), (name_b, b) in combinations(lettered, 2):
        (same if name_a == name_b else different).append(token_agreement(a, b))
    same_mean, different_mean = _mean(same), _mean(different)
    return {
        "same_letter": _round(same_mean),
        "different_letter": _round(different_mean),
        "same_more_similar": None if same_mean is None or different_mean is None else same_mean > different_mean,
    }


def token_agreement(a: Sequence[int], b: Sequence[int]) -> float:
    """Share of equal tokens over the first ``min(len(a), len(b))`` steps where either melody has an onset.

    Steps where both hold or rest are left out: otherwise two unrelated melodies of long notes look alike.
    """
    steps = min(len(a), len(b))
    events = [(x, y) for x, y in zip(a[:steps], b[:steps], strict=True) if x >= FIRST_NOTE or y >= FIRST_NOTE]
    if not events:
        return 1.0
    return sum(x == y for x, y in events) / len(events)


def hit_errors(score: Score) -> list[dict]:
    """Per plan hit: requested time (s), time of the nearest accent (s) and its error (ms, + = late), or ``None``s
    when the score has no accents."""
    tempo = TempoMap.of(score.plan)
    accent_times = [tempo.seconds(step) for step in score.accents]
    result = []
    for hit in score.plan.hits:
        requested = hit.requested_s
        nearest = min(accent_times, key=lambda t: abs(t - requested), default=None)
        error = None if nearest is None else (nearest - requested) * 1000
        result.append({"requested_s": requested, "accent_s": _round(nearest), "error_ms": _round(error)})
    return result


def stem_stats(notes: Sequence[Note], bars: int) -> dict:
    """Note count, notes per bar, and lowest, highest and range (semitones) of the MIDI notes (``None`` if empty)."""
    pitches = [note.pitch for note in notes]
    low, high = (min(pitches), max(pitches)) if pitches else (None, None)
    return {
        "notes": len(notes),
        "notes_per_bar": _round(len(notes) / bars),
        "lowest": low,
        "highest": high,
        "range": None if low is None else high - low,
    }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)
