"""From processed works to a dataset: de-duplication by content, deterministic splits, train-only augmentation.

Pure functions on row dicts (the rows ``process_work`` returns, plus ``source_id`` and ``collection``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

SPLITS = ("train", "validation", "test")
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class SplitFractions:
    """Shares of works in each split; they must add up to 1."""

    train: float = 0.90
    validation: float = 0.05
    test: float = 0.05


def assign_split(source_id: str, fractions: SplitFractions = SplitFractions()) -> str:
    """The split of a work, from the hash of its source id: stable across runs, machines and corpus changes."""
    position = int(hashlib.sha256(source_id.encode("utf-8")).hexdigest()[:12], 16) / 16**12
    if position < fractions.train:
        return "train"
    if position < fractions.train + fractions.validation:
        return "validation"
    return "test"


@dataclass
class Deduplicated:
    """Unique rows, and for each dropped duplicate the source id of the row kept in its place."""

    rows: list[dict] = field(default_factory=list)
    duplicates: dict[str, str] = field(default_factory=dict)


def deduplicate(rows: Iterable[dict]) -> Deduplicated:
    """Keep the first row of each ``content_hash``, in ``source_id`` order, so the choice is stable."""
    result = Deduplicated()
    kept: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r["source_id"]):
        first = kept.get(row["content_hash"])
        if first is None:
            kept[row["content_hash"]] = row["source_id"]
            result.rows.append(row)
        else:
            result.duplicates[row["source_id"]] = first
    return result


def transpose(row: dict, semitones: int, *, low: int, high: int, first_note_token: int) -> dict | None:
    """The row transposed by ``semitones`` (key and melody together), or ``None`` if it leaves the pitch range.

    Tokens are relative to the tonic's pitch class, so they only change when the tonic wraps past B/C: then every
    note moves by an octave. What transposition really varies here is the absolute register (``lowest``,
    ``highest``, ``register``, ``tonic``), which the models take as conditioning.
    """
    new_tonic = (row["tonic"] + semitones) % 12
    delta = semitones - (new_tonic - row["tonic"])  # a multiple of 12: relative pitches move by whole octaves
    tokens = []
    for token in row["tokens"]:
        if token >= first_note_token:
            relative = token - first_note_token + low + delta
            if not low <= relative <= high:
                return None
            token = relative - low + first_note_token
        tokens.append(token)
    return {
        **row,
        "tokens": tokens,
        "tonic": new_tonic,
        "tonic_name": NOTE_NAMES[new_tonic],
        "lowest": row["lowest"] + semitones,
        "highest": row["highest"] + semitones,
        "register": [r + semitones if r >= 0 else r for r in row["register"]],
        "transpose": semitones,
    }
