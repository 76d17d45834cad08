"""Benchmark of the bass line and the counter-line (issue 16), from the composed scores alone (no rendering).

Composes ``bench/quality.py``'s briefs (default 60, four per mood) with the shipped models and prints, over them:
the bass styles the plans chose (``Plan.bass_line``, the groove's ``bass`` in ``schemas/grooves.yaml``), the share
of bass notes that are approach notes, the counter's notes per minute of the music it plays in and the share of the
lead's rests and holds it fills, and issue 15's clash measures (``pipelines/compose/musicality.py``) with the in-key
rate and the layers per section, which must not get worse; writes ``bench/results/lines.json``.

    python bench/lines.py [--count 60] [--models DIR]

Definitions (pure functions below, on grid steps):

- **approach note**: a bass note that ends where a new chord begins (a chord span of the score starts at its end),
  is followed by a bass note starting there, a whole tone or a semitone away, and is not the new chord's first note
  itself (the first note of the next chord is the target).
- **imitation**: a counter note starting at a step where the lead starts none, but started one a bar before (the
  lead's rhythm answered a bar later).
- **lead's quiet beats**: beats of the sections where the counter plays in which the lead starts no note (it rests
  or holds); **filled**: the counter starts a note in such a beat. **Lead rests filled**: of the steps in those
  sections where the lead is silent, the share where the counter sounds.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from quality import briefs  # bench/ on sys.path
from scipy import stats

from cues.pipelines.compose import texture
from cues.pipelines.compose.composer import COMPOSER_VERSION, ComposerModels, compose_cue
from cues.pipelines.compose.quality import measure
from cues.pipelines.compose.score import Note, Score
from cues.schemas.palettes import Role

RESULTS = Path(__file__).parent / "results"


def approach_notes(bass: list[Note], chord_starts: set[int]) -> int:
    """Bass notes leading by step into a chord change (module docstring)."""
    ordered = sorted(bass)
    onsets = {n.start: n for n in ordered}
    count = 0
    for note in ordered:
        after = onsets.get(note.end)
        if note.end in chord_starts and after is not None and 1 <= abs(after.pitch - note.pitch) <= 2:
            count += 1
    return count


def counter_figures(score: Score) -> dict:
    """The counter's notes and seconds in the sections it plays in, and how it fills the lead's quiet beats and
    rests there (module docstring)."""
    plan = score.plan
    counter = score.parts.get(Role.counter.value, [])
    lead = score.parts.get(Role.lead.value, [])
    steps, beat = plan.total_steps, plan.steps_per_beat
    lead_onsets = np.zeros(steps + 1, dtype=bool)
    lead_sounds = np.zeros(steps, dtype=bool)
    for note in lead:
        lead_onsets[min(note.start, steps)] = True
        lead_sounds[note.start : min(note.end, steps)] = True
    counter_onsets = np.zeros(steps + 1, dtype=bool)
    counter_sounds = np.zeros(steps, dtype=bool)
    for note in counter:
        counter_onsets[min(note.start, steps)] = True
        counter_sounds[note.start : min(note.end, steps)] = True
    bar = plan.steps_per_bar
    imitating = sum(1 for n in counter if n.start >= bar and lead_onsets[n.start - bar] and not lead_onsets[n.start])
    quiet = filled = rest = rest_filled = 0
    seconds = 0.0
    plays = texture.plays_in_sections(score, Role.counter.value)
    for section, playing in zip(plan.sections, plays, strict=True):
        if not playing:
            continue
        seconds += section.end_s - section.start_s
        start, end = texture.section_steps(plan, section)
        for b in range(start, end, beat):
            if not lead_onsets[b : b + beat].any():
                quiet += 1
                filled += bool(counter_onsets[b : b + beat].any())
        silent = ~lead_sounds[start:end]
        rest += int(silent.sum())
        rest_filled += int((silent & counter_sounds[start:end]).sum())
    return {
        "counter_notes": sum(1 for n in counter),
        "imitating_notes": imitating,
        "counter_seconds": seconds,
        "quiet_beats": quiet,
        "quiet_beats_filled": filled,
        "rest_steps": rest,
        "rest_steps_filled": rest_filled,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--models", default=None, help="model bundle folder (default: the shipped bundle)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in the job's composer actors
    models = ComposerModels.load(args.models)
    rows, cpu, music_s = [], 0.0, 0.0
    for brief in briefs(args.count):
        started = time.process_time()
        cue = compose_cue(brief, brief.seed, None, models)
        cpu += time.process_time() - started
        music_s += cue.plan.length_s
        score, plan = cue.score, cue.plan
        quality = measure(score)
        bass = score.parts.get(Role.bass.value, [])
        chord_starts = {start for start, _, _ in score.chord_spans}
        rows.append(
            {
                "id": brief.id,
                "mood": plan.moods[0],
                "groove": plan.groove.value,
                "bass_line": getattr(plan, "bass_line", None),
                "bass_notes": len(bass),
                "approach_notes": approach_notes(bass, chord_starts),
                **counter_figures(score),
                "intensities": [s.intensity for s in plan.sections],
                "layers": texture.layers_per_section(score),
                "in_key_rate": quality["in_key_rate"],
                "clash_share": quality["musicality"]["clash_share"],
                "clash_share_on_beat": quality["musicality"]["clash_share_on_beat"],
                "flat_sevenths_over_leading_tone": quality["musicality"]["flat_sevenths_over_leading_tone"],
                "longest_chord_bars": quality["musicality"]["longest_chord_bars"],
            }
        )
    summary = summarise(rows, cpu, music_s)
    by_style: dict[str, list[int]] = {}
    for row in rows:
        counts = by_style.setdefault(str(row["bass_line"]), [0, 0])
        counts[0] += row["approach_notes"]
        counts[1] += row["bass_notes"]
    summary["approach share by bass style"] = {k: round(a / max(1, n), 3) for k, (a, n) in sorted(by_style.items())}
    for name, value in summary.items():
        print(f"{name:<52}{value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lines.json").write_text(json.dumps({"summary": summary, "cues": rows}, indent=2, default=str))


def summarise(rows: list[dict], cpu: float, music_s: float) -> dict:
    """The figures over every cue (pooled counts; means of the per-cue shares)."""
    counter_s = sum(r["counter_seconds"] for r in rows)
    bass_notes = sum(r["bass_notes"] for r in rows)
    intensities = [i for r in rows for i in r["intensities"]]
    layers = [n for r in rows for n in r["layers"]]
    clashes = [r["clash_share"] for r in rows if r["clash_share"] is not None]
    on_beat = [r["clash_share_on_beat"] for r in rows if r["clash_share_on_beat"] is not None]
    return {
        "composer": COMPOSER_VERSION,
        "cues": len(rows),
        "bass styles (cues)": dict(Counter(str(r["bass_line"]) for r in rows).most_common()),
        "bass notes": bass_notes,
        "approach notes, share of bass notes": round(sum(r["approach_notes"] for r in rows) / max(1, bass_notes), 3),
        "cues whose counter plays": sum(1 for r in rows if r["counter_seconds"]),
        "counter notes per minute it plays": round(
            sum(r["counter_notes"] for r in rows) / max(1e-9, counter_s) * 60, 1
        ),
        "counter notes imitating the lead a bar later": round(
            sum(r["imitating_notes"] for r in rows) / max(1, sum(r["counter_notes"] for r in rows)), 3
        ),
        "lead's quiet beats the counter fills": round(
            sum(r["quiet_beats_filled"] for r in rows) / max(1, sum(r["quiet_beats"] for r in rows)), 3
        ),
        "lead's rest steps the counter sounds in": round(
            sum(r["rest_steps_filled"] for r in rows) / max(1, sum(r["rest_steps"] for r in rows)), 3
        ),
        "clash share, mean (≤ 0.05)": round(float(np.mean(clashes)), 4),
        "clash share on the beat, mean (≤ 0.03)": round(float(np.mean(on_beat)), 4),
        "flat 7ths over a leading tone (0)": sum(r["flat_sevenths_over_leading_tone"] for r in rows),
        "in-key rate, mean / lowest": (
            round(float(np.mean([r["in_key_rate"] for r in rows])), 4),
            min(r["in_key_rate"] for r in rows),
        ),
        "longest chord, bars (max)": max(r["longest_chord_bars"] or 0 for r in rows),
        "layers vs intensity, Spearman": round(float(stats.spearmanr(intensities, layers).statistic), 3),
        "compose CPU s per 60 s of music": round(cpu / music_s * 60, 3),
    }


if __name__ == "__main__":
    main()
