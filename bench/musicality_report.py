"""Issue 15's musicality numbers over the benchmark's cues (``bench/quality.py``'s rows): per cue, by mode and mood,
and as targets beside the real-music reference (``bench/reference.py``). Over cues, a number is the mean of the
per-cue values where it applies; ♭7 counts are pooled over the minor cues.
"""

from __future__ import annotations

import numpy as np

from cues.schemas.moods import MOODS


def mean(rows: list[dict], key: str) -> float | None:
    """Mean of ``key`` over the rows where it applies (not ``None``)."""
    values = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(values)) if values else None


def flat_seventh_share(rows: list[dict]) -> tuple[int, int]:
    """♭7 melody notes over a sounding leading tone, and all ♭7 melody notes, pooled over the minor cues."""
    minor = [r for r in rows if r["mode"] == "minor"]
    return sum(r["flat_sevenths_over_leading_tone"] for r in minor), sum(r["flat_sevenths"] for r in minor)


def print_musicality(rows: list[dict]) -> None:
    """Issue 15's numbers per cue."""
    print(
        f"\n{'cue':<10}{'mood':<12}{'mode':<11}{'ending':<9}{'clash':>7}{'beat':>7}{'b7/LT':>7}{'exact':>7}"
        f"{'transp':>7}{'|int|':>7}{'repeat':>7}{'dir':>6}{'tonic':>7}{'long':>6}{'>4':>4}{'cad':>6}{'chrom':>7}"
    )
    for r in rows:
        cells = [
            f"{r['clash_share']:>7.3f}" if r["clash_share"] is not None else f"{'':>7}",
            f"{r['clash_share_on_beat']:>7.3f}" if r["clash_share_on_beat"] is not None else f"{'':>7}",
            f"{r['flat_sevenths_over_leading_tone']}/{r['flat_sevenths']}".rjust(7),
            *(
                f"{r[k]:>{w}.{d}f}" if r[k] is not None else " " * w
                for k, w, d in (
                    ("exact_repeat_share", 7, 2),
                    ("transposed_repeat_share", 7, 2),
                    ("mean_abs_interval", 7, 2),
                    ("repeated_note_share", 7, 3),
                    ("direction_change_share", 6, 2),
                    ("tonic_bar_share", 7, 2),
                    ("longest_chord_bars", 6, 1),
                )
            ),
            f"{r['chords_over_4_bars']:>4}",
            f"{str(r['final_cadence']):>6}",
            f"{r['chromatic_share']:>7.3f}" if r["chromatic_share"] is not None else f"{'':>7}",
        ]
        print(f"{r['id']:<10}{r['mood']:<12}{r['mode']:<11}{r['ending']:<9}" + "".join(cells))


def print_breakdowns(rows: list[dict], reference: dict) -> None:
    """Clashes by mode (against the chorales by mode), and the melody's chromatic share by mood beside the mood
    table's chromaticism."""
    chorales = reference["chorales"]
    print(f"\n{'mode':<12}{'cues':>5}{'clash':>8}{'on beat':>9}{'b7 over LT':>12}   Bach chorales")
    for mode in ("major", "minor", "dorian", "phrygian", "lydian", "mixolydian"):
        group = [r for r in rows if r["mode"] == mode]
        if not group:
            continue
        sevenths, total = flat_seventh_share(group) if mode == "minor" else (0, 0)
        real = chorales.get(f"clash_share_{mode}")
        print(
            f"{mode:<12}{len(group):>5}{_fmt(mean(group, 'clash_share')):>8}"
            f"{_fmt(mean(group, 'clash_share_on_beat')):>9}"
            f"{f'{sevenths}/{total}' if mode == 'minor' else '':>12}   {'' if real is None else f'clash {real:.3f}'}"
        )
    print(f"\n{'mood':<12}{'family':<8}{'cues':>5}{'chromatic share':>17}{'table chromaticism':>20}")
    for mood in MOODS:
        group = [r for r in rows if r["mood"] == mood]
        if group:
            print(
                f"{mood:<12}{group[0]['family']:<8}{len(group):>5}{_fmt(mean(group, 'chromatic_share')):>17}"
                f"{_fmt(mean(group, 'chromaticism')):>20}"
            )


def musicality_targets(rows: list[dict], reference: dict, mood_accuracy: float) -> list[tuple]:
    """Issue 15's "Done when" lines: (name, measured, goal, met, real-music value)."""
    chorales, folk = reference["chorales"], reference["folk"]
    sevenths, total = flat_seventh_share(rows)
    non_loop = [r for r in rows if r["ending"] != "loop"]
    uncadenced = [r for r in non_loop if not r["final_cadence"]]
    long_chords = sum(r["chords_over_4_bars"] for r in rows)
    value = {
        k: mean(rows, k)
        for k in (
            "clash_share",
            "clash_share_on_beat",
            "exact_repeat_share",
            "transposed_repeat_share",
            "mean_abs_interval",
            "repeated_note_share",
            "direction_change_share",
            "tonic_bar_share",
            "longest_chord_bars",
        )
    }
    minor_clash = mean([r for r in rows if r["mode"] == "minor"], "clash_share")

    def bound(name: str, key: str, goal: str, real: float | str | None = "", places: int = 3) -> tuple:
        """A mean held to ``goal`` ("≤ 0.05", "≥ 0.10"): the limit is written once, in the goal. ``real`` is the
        real-music value ("" where there is none)."""
        sign, limit = goal.split()
        met = value[key] <= float(limit) if sign == "≤" else value[key] >= float(limit)
        return name, f"{value[key]:.{places}f}", goal, met, real if real == "" else _fmt(real, places)

    clash = bound("clash share (melody vs accompaniment)", "clash_share", "≤ 0.05", chorales["clash_share"])
    return [
        (clash[0], f"{clash[1]} (minor {_fmt(minor_clash)})", *clash[2:]),
        bound("clash share on the beat", "clash_share_on_beat", "≤ 0.03", chorales["clash_share_on_beat"]),
        (
            "minor: ♭7 over a sounding leading tone",
            f"{sevenths}/{total} ♭7s",
            "none",
            sevenths == 0,
            _fmt(chorales["flat_seventh_over_leading_tone_share"]),
        ),
        bound("exact bar repeats (bars 2.. of a period)", "exact_repeat_share", "≥ 0.10", folk["exact_repeat_share"]),
        bound("transposed bar repeats", "transposed_repeat_share", "≥ 0.10", folk["transposed_repeat_share"]),
        bound("mean melodic interval (semitones)", "mean_abs_interval", "≤ 2.8", folk["mean_abs_interval"], 2),
        bound("repeated-note share", "repeated_note_share", "≥ 0.08", folk["repeated_note_share"]),
        bound("direction changes", "direction_change_share", "≤ 0.45", folk["direction_change_share"]),
        (
            "non-loop cues ending on a final cadence",
            f"{len(non_loop) - len(uncadenced)}/{len(non_loop)}",
            "all",
            not uncadenced,
            "",
        ),
        bound("bars on the tonic chord", "tonic_bar_share", "≤ 0.45"),
        (
            "chords longer than 4 bars (longest, mean)",
            f"{long_chords} ({max(r['longest_chord_bars'] or 0 for r in rows):.1f}, {value['longest_chord_bars']:.1f})",
            "none",
            long_chords == 0,
            "",
        ),
        ("mood family from the melody (leave-one-out)", f"{mood_accuracy:.3f}", "≥ 0.65", mood_accuracy >= 0.65, ""),
    ]


def _fmt(value: float | None, places: int = 3) -> str:
    return "—" if value is None else f"{value:.{places}f}"
