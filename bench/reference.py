"""Real-music reference values for issue 15's musicality numbers, measured with the same functions as the cues
(``pipelines/compose/musicality.py``) on the music21 corpus:

- **Bach chorales** (``bach/*``, four parts): the soprano as the melody against alto, tenor and bass as the
  accompaniment: clash share overall and on the beat, and in minor chorales the ♭7s over a sounding leading tone;
  the soprano's intervals too.
- **Folk tunes**: Essen (German, ``essenFolksong/altdeu10.abc``, ``ballad10.abc``) and O'Neill's 1850 Irish tunes:
  motif repetition (periods of two four-bar phrases from the first full bar), intervals, repeated notes, direction
  changes.

Notes go on a grid of ``GRID`` steps to a quarter note (triplets and 16ths both land on it), ties joined, grace notes
and chord symbols left out; bar lines from the first full bar (a pickup is bar −1's tail). The key (for ♭7 and for
scale-step transpositions) is music21's estimate of the piece. Per-piece values are averaged over pieces; ♭7 counts
are pooled. The result is cached in ``bench/results/reference.json``; ``bench/quality.py`` reads it (and writes it
first when it is missing).

    python bench/reference.py [--chorales 150] [--folk 300] [--force]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from cues.pipelines.compose.musicality import (
    clash_share,
    flat_sevenths_over_leading_tone,
    interval_stats,
    line_figures,
    periods_from_start,
    scale_pitch_classes,
)
from cues.pipelines.compose.score import Note
from cues.schemas.key import Mode

RESULTS = Path(__file__).parent / "results"
CACHE = RESULTS / "reference.json"
GRID = 12  # steps to a quarter note
FOLK_FILES = ("essenFolksong/altdeu10.abc", "essenFolksong/ballad10.abc")
ONEILL_FILES = ("oneills1850/0001-0050.abc", "oneills1850/0051-0100.abc", "oneills1850/0101-0200.abc")
log = logging.getLogger("reference")


def grid_notes(part, shift: float) -> list[Note]:
    """The part's notes (ties joined, grace notes dropped, a chord's top note) on the grid, ``shift`` quarter notes
    later."""
    notes = []
    for element in part.stripTies().flatten().notes:
        if element.duration.quarterLength <= 0 or element.classes[0] == "ChordSymbol":
            continue
        pitch = max(p.midi for p in element.pitches)
        start = round((float(element.offset) + shift) * GRID)
        end = round((float(element.offset + element.duration.quarterLength) + shift) * GRID)
        if end > start >= 0:
            notes.append(Note(start, end, pitch, 64))
    return notes


def bar_grid(part) -> tuple[int, int, float]:
    """(steps per beat, steps per bar, shift in quarter notes that puts the first full bar on a bar line)."""
    meter = part.flatten().getElementsByClass("TimeSignature").first()
    beat, bar = (1.0, 4.0) if meter is None else (meter.beatDuration.quarterLength, meter.barDuration.quarterLength)
    measures = part.getElementsByClass("Measure")
    first = measures.first()
    pickup = 0.0
    if first is not None and len(measures) > 1 and first.duration.quarterLength < bar:
        pickup = float(first.duration.quarterLength)
    return round(beat * GRID), round(bar * GRID), (bar - pickup) % bar


def chorale_values(score) -> dict | None:
    """Clash shares and ♭7 counts of one four-part chorale, soprano against the others; ``None`` if not four parts."""
    if len(score.parts) != 4:
        return None
    beat, _, shift = bar_grid(score.parts[0])
    soprano = grid_notes(score.parts[0], shift)
    others = [n for part in score.parts[1:] for n in grid_notes(part, shift)]
    key = score.analyze("key")
    minor = key.mode == "minor"
    sevenths = flat_sevenths_over_leading_tone(soprano, others, key.tonic.pitchClass) if minor else (0, 0)
    motion = interval_stats(soprano)
    return {
        "clash_share": clash_share(soprano, others),
        "clash_share_on_beat": clash_share(soprano, others, beat),
        "minor": minor,
        "flat_sevenths_over_leading_tone": sevenths[0],
        "flat_sevenths": sevenths[1],
        "mean_abs_interval": motion.mean_abs_interval,
        "repeated_note_share": motion.repeated_note_share,
        "direction_change_share": motion.direction_change_share,
    }


def tune_values(score) -> dict | None:
    """Repetition and interval numbers of one monophonic folk tune; ``None`` if it has too few notes."""
    part = score.parts[0] if score.parts else score
    beat, bar, shift = bar_grid(part)
    melody = grid_notes(part, shift)
    if len(melody) < 8:
        return None
    key = score.analyze("key")
    mode = Mode.minor if key.mode == "minor" else Mode.major
    scale = sorted(scale_pitch_classes(key.tonic.pitchClass, mode))
    bars = max(n.end for n in melody) // bar + 1
    return line_figures(melody, periods_from_start(bars), bar, scale)


def chorales(limit: int) -> list[dict]:
    from music21 import corpus

    paths = sorted(str(p) for p in corpus.getCorePaths() if "/bach/" in str(p) and str(p).endswith(".mxl"))
    values = []
    for path in paths:
        if len(values) >= limit:
            break
        result = chorale_values(corpus.parse(path))
        if result is not None:
            values.append({"piece": Path(path).stem, **result})
    return values


def folk_tunes(limit: int) -> list[dict]:
    """Half from Essen, half from O'Neill (each collection's files in order, tune by tune)."""
    from music21 import corpus

    values = []
    for files, share in ((FOLK_FILES, limit // 2), (ONEILL_FILES, limit - limit // 2)):
        taken = 0
        for name in files:
            if taken >= share:
                break
            for score in corpus.parse(name).scores:
                if taken >= share:
                    break
                result = tune_values(score)
                if result is not None:
                    values.append({"piece": f"{name}#{score.metadata.number}", **result})
                    taken += 1
    return values


def summarise(chorale_rows: list[dict], folk_rows: list[dict]) -> dict:
    """Mean of each per-piece number (pieces where it applies), ♭7 counts pooled over the minor chorales."""

    def mean(rows: list[dict], key: str) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return float(np.mean(values)) if values else None

    minor = [r for r in chorale_rows if r["minor"]]
    sevenths = sum(r["flat_sevenths"] for r in minor)
    return {
        "chorales": {
            "pieces": len(chorale_rows),
            "minor_pieces": len(minor),
            "clash_share": mean(chorale_rows, "clash_share"),
            "clash_share_on_beat": mean(chorale_rows, "clash_share_on_beat"),
            "clash_share_minor": mean(minor, "clash_share"),
            "clash_share_major": mean([r for r in chorale_rows if not r["minor"]], "clash_share"),
            "flat_sevenths": sevenths,
            "flat_seventh_over_leading_tone_share": (
                sum(r["flat_sevenths_over_leading_tone"] for r in minor) / sevenths if sevenths else None
            ),
            **{
                k: mean(chorale_rows, k) for k in ("mean_abs_interval", "repeated_note_share", "direction_change_share")
            },
        },
        "folk": {
            "pieces": len(folk_rows),
            **{
                k: mean(folk_rows, k)
                for k in (
                    "exact_repeat_share",
                    "transposed_repeat_share",
                    "mean_abs_interval",
                    "repeated_note_share",
                    "direction_change_share",
                )
            },
        },
    }


def measure_reference(chorale_count: int, folk_count: int) -> dict:
    started = time.time()
    chorale_rows, folk_rows = chorales(chorale_count), folk_tunes(folk_count)
    result = {
        "summary": summarise(chorale_rows, folk_rows),
        "chorales": chorale_rows,
        "folk": folk_rows,
        "seconds": round(time.time() - started, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    CACHE.write_text(json.dumps(result, indent=2))
    return result


def load_reference(chorale_count: int = 150, folk_count: int = 300) -> dict:
    """The cached summary, measured (a few minutes) when there is no cache."""
    if CACHE.exists():
        return json.loads(CACHE.read_text())["summary"]
    return measure_reference(chorale_count, folk_count)["summary"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chorales", type=int, default=150)
    parser.add_argument("--folk", type=int, default=300)
    parser.add_argument("--force", action="store_true", help="measure again even if the cache exists")
    args = parser.parse_args()
    if args.force or not CACHE.exists():
        result = measure_reference(args.chorales, args.folk)
        summary, seconds = result["summary"], result["seconds"]
    else:
        summary, seconds = load_reference(), None
    print(json.dumps(summary, indent=2))
    if seconds is not None:
        print(f"measured in {seconds} s; cached in {CACHE}")


if __name__ == "__main__":
    main()
