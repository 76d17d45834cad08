"""The dataset card: what went in, what was kept or dropped and why, and what the data looks like (JSON + Markdown)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from cues.pipelines.preprocess.sources import COLLECTIONS, Work
from cues.schemas.config import PreprocessConfig

REPRESENTATION = {
    "grid": "metrical grid of {spq} steps per quarter note ({grid_name}), as MelodyRNN/MusicVAE",
    "melody_tokens": "0 = rest, 1 = hold (previous note continues), 2 + (pitch - tonic pitch class - 36) = note onset "
    "for relative pitches 36..95 (62 classes); monophonic: the first part of a score (soprano of a chorale, the "
    "highest line of a MIDI file), chords reduced to their top note, ties merged, grace notes dropped",
    "labels": "tonic (pitch class and name), mode (notated when the score states it, else Krumhansl-Schmuckler "
    "estimate), meter, bar starts (step index; a pickup bar is shorter), note density (onsets) and register (mean "
    "MIDI pitch) per bar, per-bar chord estimate",
    "bar_chords": "per bar, the diatonic triad of the work's mode whose pitch classes carry the most note duration "
    "(downbeat notes weigh double, non-chord tones count against), as a key-relative Roman numeral",
    "chords": "Bach chorales: the chordified score sampled on every beat, matched to chord templates (triads, "
    "sevenths) on all 12 roots; token = 1 + 8 × (root − tonic mod 12) + quality, 0 = no chord; cadences = fermata "
    "beats of the soprano",
    "splits": "by sha256 of the work's source id (stable), after removing works whose key-relative melody and "
    "meter repeat an earlier work's (dedup by content)",
    "augmentation": "train only: copies transposed by {transpositions} semitones; key-relative tokens change only by "
    "octave when the tonic wraps, so the copies mainly vary the absolute register labels",
}


def build_card(
    config: PreprocessConfig,
    version: str,
    works: list[Work],
    tables: dict[str, list[dict]],
    dropped: list[dict],
    files: list[dict],
    seconds: float,
) -> dict:
    """The card as a JSON-ready dict. Counts add up: works in = kept + dropped (duplicates included)."""
    melody_rows = [r for name, rows in tables.items() if name.startswith("melody/") for r in rows]
    originals = [r for r in melody_rows if r.get("transpose", 0) == 0]
    chord_rows = [r for name, rows in tables.items() if name.startswith("chords/") for r in rows]
    by_collection_in = Counter(w.collection for w in works)
    by_collection_kept = Counter(r["collection"] for r in originals)
    reasons = Counter(d["reason"] for d in dropped)
    off_grid = [d for d in dropped if d["reason"] == "off_grid"]
    tokens = Counter()
    for row in originals:
        tokens.update("rest" if t == 0 else "hold" if t == 1 else "note" for t in row["tokens"])
    total_tokens = sum(tokens.values()) or 1
    spq = config.steps_per_quarter
    return {
        "name": config.name,
        "version": version,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 1),
        "config": config.model_dump(mode="json", exclude={"store", "ray", "workers"}),
        "sources": [
            {
                "name": name,
                "title": COLLECTIONS[name].title if name in COLLECTIONS else name,
                "licence": COLLECTIONS[name].licence if name in COLLECTIONS else "user catalogue",
                "commercial_use": COLLECTIONS[name].commercial_use if name in COLLECTIONS else None,
                "works_in": by_collection_in[name],
                "kept": by_collection_kept[name],
            }
            for name in sorted(by_collection_in)
        ],
        "noncommercial_excluded": not config.include_noncommercial,
        "representation": {
            k: v.format(
                spq=spq,
                grid_name="16th notes" if spq == 4 else f"1/{4 * spq} notes",
                transpositions=list(config.transpositions) or "no",
            )
            for k, v in REPRESENTATION.items()
        },
        "counts": {
            "works_in": len(works),
            "kept": len(originals),
            "dropped": len(dropped),
            "dropped_by_reason": dict(reasons.most_common()),
            "dropped_by_collection_and_reason": _nested(
                Counter((d["collection"] or "-", d["reason"]) for d in dropped)
            ),
        },
        "grid": {
            "steps_per_quarter": spq,
            "dropped_off_grid": len(off_grid),
            "of_those_on_12_steps_per_quarter": sum(bool(d.get("on_grid_12")) for d in off_grid),
            "why": "off-grid works are mostly triplets; a 12-steps-per-quarter grid would keep those but triples "
            "sequence length and makes the hold token even more frequent",
        },
        "splits": {
            name: {"works": sum(r.get("transpose", 0) == 0 for r in rows), "rows": len(rows)}
            for name, rows in tables.items()
        },
        "histograms": {
            "keys": dict(Counter(f"{r['tonic_name']} {r['mode']}" for r in originals).most_common()),
            "modes": dict(Counter(r["mode"] for r in originals).most_common()),
            "key_source": dict(Counter(r["key_source"] for r in originals).most_common()),
            "meters": dict(Counter(r["meter"] for r in originals).most_common()),
            "length_bars": _binned([r["n_bars"] for r in originals], (4, 8, 16, 32, 64, 128)),
            "tokens": {k: round(v / total_tokens, 4) for k, v in sorted(tokens.items())},
            "notes_per_bar": _binned([d for r in originals for d in r["density"]], (0, 1, 2, 4, 6, 8, 12)),
            "bar_chords": dict(Counter(c for r in originals for c in r["bar_chords"]).most_common(12)),
            "chorale_chords": dict(Counter(c for r in chord_rows for c in r["chord_labels"]).most_common(16)),
            "chorale_cadences": sum(len(r["cadences"]) for r in chord_rows),
        },
        "files": files,
    }


def _nested(counter: Counter) -> dict:
    result: dict[str, dict[str, int]] = {}
    for (outer, inner), count in sorted(counter.items()):
        result.setdefault(outer, {})[inner] = count
    return result


def _binned(values: list[int | float], edges: tuple[int, ...]) -> dict[str, int]:
    """Counts in bins ``≤e0``, ``e0+1–e1``, …, ``>eN``."""
    labels, low = [], None
    for edge in edges:
        labels.append(f"≤{edge}" if low is None else f"{low}–{edge}")
        low = edge + 1
    counts = dict.fromkeys([*labels, f">{edges[-1]}"], 0)
    for value in values:
        for edge, label in zip(edges, labels, strict=True):
            if value <= edge:
                counts[label] += 1
                break
        else:
            counts[f">{edges[-1]}"] += 1
    return counts


def render_card(card: dict) -> str:
    """Markdown a person can read: sources and licences, kept/dropped, splits, histograms."""
    lines = [
        f"# Dataset `{card['name']}` {card['version']}",
        "",
        f"Built {card['created']} in {card['build_seconds']} s. "
        f"{card['counts']['works_in']} works in, {card['counts']['kept']} kept, {card['counts']['dropped']} dropped.",
        "",
        "## Sources and licences",
        "",
        "| source | works in | kept | commercial use | licence (as the files state) |",
        "|---|---|---|---|---|",
    ]
    for s in card["sources"]:
        use = {True: "no restriction stated", False: "**no** (non-commercial only)", None: "user's own"}[
            s["commercial_use"]
        ]
        lines.append(f"| {s['name']} | {s['works_in']} | {s['kept']} | {use} | {s['licence']} |")
    if card["noncommercial_excluded"]:
        lines += ["", "Collections restricted to non-commercial use were **excluded**."]
    lines += ["", "## Dropped, by reason", "", "| reason | works |", "|---|---|"]
    lines += [f"| {reason} | {count} |" for reason, count in card["counts"]["dropped_by_reason"].items()]
    grid = card["grid"]
    lines += [
        "",
        f"Grid: {grid['steps_per_quarter']} steps per quarter. {grid['dropped_off_grid']} works were off the grid, "
        f"{grid['of_those_on_12_steps_per_quarter']} of which a 12-steps-per-quarter grid would have kept; "
        f"{grid['why']}.",
        "",
        "## Splits",
        "",
        "| table | works | rows (with augmentation) |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {v['works']} | {v['rows']} |" for name, v in card["splits"].items()]
    lines += ["", "## Representation", ""]
    lines += [f"- **{k}**: {v}" for k, v in card["representation"].items()]
    lines += ["", "## Histograms", ""]
    for name, histogram in card["histograms"].items():
        if isinstance(histogram, dict):
            body = ", ".join(f"{k}: {v}" for k, v in histogram.items())
            lines.append(f"- **{name}**: {body}")
        else:
            lines.append(f"- **{name}**: {histogram}")
    lines += ["", "## Files", "", "| file | rows | bytes | sha256 |", "|---|---|---|---|"]
    lines += [f"| {f['key']} | {f['rows']} | {f['bytes']} | `{f['sha256'][:16]}…` |" for f in card["files"]]
    return "\n".join(lines) + "\n"
