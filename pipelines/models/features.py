"""Model inputs from dataset rows, shared by training and generation (the same arrays both ways).

A melody row becomes per-step arrays: the previous token (input), the token (target), the position in the bar, the
bar's chord, density and register, and the tokens one and two bars back (MelodyRNN's lookback). A chorale row becomes
per-beat arrays of chord classes with the beat in the bar and the beats since the last cadence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from cues.schemas.key import Mode

MODES = [m.value for m in Mode]  # index = mode id
UNKNOWN_CHORD = 0


def chord_vocabulary(rows: Iterable[dict], size: int) -> list[str]:
    """The ``size - 1`` most frequent bar-chord labels (index 0 is reserved for unknown), most frequent first."""
    counts = Counter(label for row in rows for label in row["bar_chords"])
    return ["?", *(label for label, _ in counts.most_common(size - 1))]


def melody_steps(row: dict, chords: list[str], max_steps_per_bar: int) -> dict[str, np.ndarray]:
    """Per-step arrays of one melody row (all of length ``len(row["tokens"])``)."""
    tokens = np.asarray(row["tokens"], dtype=np.int64)
    steps = len(tokens)
    bar_of_step = np.zeros(steps, dtype=np.int64)
    starts = list(row["bar_starts"])
    for index, start in enumerate(starts):
        bar_of_step[start:] = index
    start_of_step = np.asarray(starts, dtype=np.int64)[bar_of_step]
    chord_index = {label: i for i, label in enumerate(chords)}
    bar_chord = np.asarray([chord_index.get(c, UNKNOWN_CHORD) for c in row["bar_chords"]], dtype=np.int64)
    density = np.asarray(row["density"], dtype=np.float32) / 16.0
    register = np.asarray(row["register"], dtype=np.float32)
    register = np.where(register >= 0, (register - 60.0) / 12.0, 0.0).astype(np.float32)
    bar = row["steps_per_bar"]
    previous = np.concatenate([[0], tokens[:-1]])  # a piece starts from silence
    back1 = np.concatenate([np.zeros(min(bar, steps), np.int64), tokens[: max(steps - bar, 0)]])
    back2 = np.concatenate([np.zeros(min(2 * bar, steps), np.int64), tokens[: max(steps - 2 * bar, 0)]])
    return {
        "inputs": previous,
        "targets": tokens,
        "position": np.minimum(np.arange(steps) - start_of_step, max_steps_per_bar - 1),
        "chord": bar_chord[bar_of_step],
        "density": density[bar_of_step],
        "register": register[bar_of_step],
        "back1": back1,
        "back2": back2,
        "mode": np.full(steps, MODES.index(row["mode"]), dtype=np.int64),
    }


def windows(arrays: dict[str, np.ndarray], length: int) -> list[dict[str, np.ndarray]]:
    """Non-overlapping windows of ``length`` steps; the last, shorter one is padded and masked."""
    steps = len(next(iter(arrays.values())))
    result = []
    for start in range(0, steps, length):
        piece = {k: v[start : start + length] for k, v in arrays.items()}
        size = len(piece["targets"])
        if size < 2:
            continue
        mask = np.zeros(length, dtype=np.float32)
        mask[:size] = 1.0
        piece = {k: np.pad(v, (0, length - size)) for k, v in piece.items()}
        piece["mask"] = mask
        result.append(piece)
    return result


def phrases(row: dict, steps: int) -> list[np.ndarray]:
    """Every ``steps``-long token window that starts on a bar line and holds at least two onsets (VAE data)."""
    tokens = np.asarray(row["tokens"], dtype=np.int64)
    result = []
    for start in row["bar_starts"]:
        window = tokens[start : start + steps]
        if len(window) == steps and (window >= 2).sum() >= 2:
            result.append(window)
    return result


def chord_beats(row: dict, max_beats_per_bar: int, max_phrase_beats: int) -> dict[str, np.ndarray]:
    """Per-beat arrays of one chorale row."""
    tokens = np.asarray(row["chord_tokens"], dtype=np.int64)
    beats = len(tokens)
    cadences = set(row["cadences"])
    since, count = np.zeros(beats, dtype=np.int64), 0
    for beat in range(beats):
        since[beat] = min(count, max_phrase_beats - 1)
        count = 0 if beat in cadences else count + 1
    return {
        "inputs": np.concatenate([[0], tokens[:-1]]),
        "targets": tokens,
        "position": np.arange(beats) % max(1, min(row["beats_per_bar"], max_beats_per_bar)),
        "phrase": since,
        "mode": np.full(beats, MODES.index(row["mode"]), dtype=np.int64),
    }
