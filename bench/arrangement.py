"""Benchmark of the arrangement's dynamics and texture (issue 16's "Done when" figures).

Composes and renders ``bench/quality.py``'s briefs (default 60, four per mood) with the shipped models, through
the job's own path (``compose_cue``, ``audio_request`` and ``CueRenderer.master_cue``: the mastered stems and mix
before encoding, at each brief's delivery defaults), measures each cue with ``pipelines/render/dynamics.py`` (audio)
and ``pipelines/compose/texture.py`` (score), prints one row per cue, a row per mood and per mood family, the
plan's intensity curve beside the measured section levels of one cue, and the issue's targets (measured against
the goal); writes ``bench/results/arrangement.json``.

    python bench/arrangement.py [--count 60] [--models DIR] [--curve bench-04]

Definitions are in the two modules' docstrings; in short: section level = ungated K-weighted loudness (LUFS) of
the mix over the section (a ``fade`` ending's fading bars left out); hit accent = level of the second after the
hit minus the second before (the 400 ms after it, which a crash alone lifts, is printed as context); lead margin
= melody stem minus the loudest other stem, per section where the melody plays; silent stem = sample peak below
−90 dBFS, or a part without notes; layers = parts with a note sounding in the section; identical drum bars = bars
striking the same drums at the same steps as another bar of the cue; dynamic range = EBU Tech 3342 loudness range
(LU) of the mix (before a fade), the mean over a family's cues.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from melody_mood import FAMILIES, FAMILY_NAMES  # bench/ on sys.path
from quality import briefs
from scipy import stats
from tqdm import tqdm

from cues.pipelines.compose import texture
from cues.pipelines.compose.arrangement import FADE_BARS
from cues.pipelines.compose.composer import ComposedCue, ComposerModels, compose_cue
from cues.pipelines.generate.cue_writer import audio_request
from cues.pipelines.render import dynamics
from cues.pipelines.render.cue_renderer import CueRenderer, MasteredCue
from cues.schemas.brief import Ending, Medium, ResolvedBrief
from cues.schemas.moods import MOODS

RESULTS = Path(__file__).parent / "results"
LEAD = "melody"  # the lead's stem
LEAD_PART = "lead"
BUILD_MEDIA = (Medium.film, Medium.trailer, Medium.ad)  # the issue's cues that should build when 30 s or longer
BUILD_LENGTH_S = 30.0
SPREAD_GOAL_DB, SPREAD_SHARE = 6.0, 0.8
ACCENT_GOAL_DB = 6.0
LEAD_BOUND_DB, LEAD_SHARE = -3.0, 0.9
DRUM_REPEAT_MAX = 0.4
PER_MOOD_MIN = 3
LAYER_CORRELATION = 0.7
FLASH_S = 0.4  # a hit's accent over BS.1770's momentary window only: what a crash alone does


def measure_cue(cue: ComposedCue, audio: MasteredCue) -> dict:
    """Every figure of one cue (a JSON-ready row)."""
    plan, score = cue.plan, cue.score
    spans = [(s.start_s, s.end_s) for s in plan.sections]
    until = None
    if plan.ending == Ending.fade:  # the fade's falling level is the ending's, not the arrangement's
        until = score.seconds(max(0, plan.total_steps - FADE_BARS * plan.steps_per_bar))
    music = audio.mastered.mix[:, : audio.length_samples]  # without a ring-out's or loop's tail
    before_fade = music[:, : round(until * audio.rate)] if until is not None else music
    mix = dynamics.LevelMeter(music, audio.rate)
    stem_files = {route.name: audio.mastered.stems[i] for i, route in enumerate(audio.stems)}  # as delivered
    stems = {
        name: dynamics.LevelMeter(samples[:, : audio.length_samples], audio.rate)
        for name, samples in stem_files.items()
    }
    levels = dynamics.span_levels(mix, spans, until)
    hits = [h.achieved_s for h in plan.hits]
    lead_plays = texture.plays_in_sections(score, LEAD_PART)
    margins = dynamics.lead_margins(stems, LEAD, spans, lead_plays) if LEAD in stems else [None] * len(spans)
    drums = sorted(n for name in texture.drum_parts(score) for n in score.parts[name])
    drum_bars = texture.repeated_bars(drums, plan.steps_per_bar)
    silent = sorted(set(dynamics.silent_stems(stem_files)) | set(texture.silent_parts(score)))
    return {
        "id": plan.brief_id,
        "mood": plan.moods[0],
        "family": FAMILIES[plan.moods[0]],
        "medium": plan.medium.value,
        "ending": plan.ending.value,
        "length_s": plan.length_s,
        "intensities": [s.intensity for s in plan.sections],
        "section_labels": [s.label for s in plan.sections],
        "intensity_span": texture.intensity_span(plan),
        "has_arc": texture.has_arc(plan),
        "section_levels_lufs": _rounded(levels),
        "level_spread_db": _rounded(dynamics.level_spread(levels)),
        "hit_accents_db": _rounded(dynamics.hit_accents(mix, hits, plan.length_s)),
        "hit_flashes_db": _rounded(dynamics.hit_accents(mix, hits, plan.length_s, after_s=FLASH_S)),
        "lead_margins_db": _rounded(margins),
        "silent_stems": silent,
        "layers": texture.layers_per_section(score),
        "drum_bars": drum_bars.bars,
        "drum_bars_identical": drum_bars.identical,
        "ensemble": [list(pair) for pair in texture.ensemble(plan)],
        "groove": plan.groove.value,
        "loudness_range_lu": _rounded(dynamics.loudness_range(before_fade, audio.rate)),
    }


def _rounded(value):
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return None if value is None else round(float(value), 2)


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _fmt(value, spec: str = ".1f", width: int = 7) -> str:
    return f"{value:{spec}}".rjust(width) if value is not None else " " * width


def level_per_intensity(rows: list[dict]) -> float | None:
    """dB of section level per unit of section intensity: the least-squares slope pooled within cues (each cue's
    levels and intensities taken about their own means), over cues whose intensities move at all."""
    xs, ys = [], []
    for row in rows:
        pairs = [
            (i, lv) for i, lv in zip(row["intensities"], row["section_levels_lufs"], strict=True) if lv is not None
        ]
        if len(pairs) < 2 or np.ptp([i for i, _ in pairs]) < 1e-9:
            continue
        intensity, level = np.array(pairs).T
        xs += list(intensity - intensity.mean())
        ys += list(level - level.mean())
    xs, ys = np.array(xs), np.array(ys)
    return float(xs @ ys / (xs @ xs)) if xs.size else None


def layer_correlation(rows: list[dict]) -> float | None:
    """Spearman's rank correlation of section intensity and sounding layers, over every section of every cue."""
    intensity = [i for row in rows for i in row["intensities"]]
    layers = [n for row in rows for n in row["layers"]]
    if len(set(intensity)) < 2 or len(set(layers)) < 2:
        return None  # a constant has no rank order
    return float(stats.spearmanr(intensity, layers).statistic)


def per_group(rows: list[dict], key: str, order) -> list[dict]:
    """The summary figures of the cues of each value of ``key`` (mood or family)."""
    groups = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    summary = []
    for name in order:
        cues = groups.get(name, [])
        if not cues:
            continue
        bars = sum(r["drum_bars"] for r in cues)
        summary.append(
            {
                key: name,
                "cues": len(cues),
                "level_spread_db": _mean(r["level_spread_db"] for r in cues),
                "loudness_range_lu": _mean(r["loudness_range_lu"] for r in cues),
                "intensity_span": _mean(r["intensity_span"] for r in cues),
                "hit_accent_db": _mean(a for r in cues for a in r["hit_accents_db"]),
                "lead_margin_db": _mean(m for r in cues for m in r["lead_margins_db"]),
                "ensembles": len({json.dumps(r["ensemble"]) for r in cues}),
                "grooves": len({r["groove"] for r in cues}),
                "drum_bars_identical": sum(r["drum_bars_identical"] for r in cues) / bars if bars else None,
                "layers": (min(n for r in cues for n in r["layers"]), max(n for r in cues for n in r["layers"])),
                "silent_stems": sum(len(r["silent_stems"]) for r in cues),
            }
        )
    return summary


def targets(rows: list[dict], moods: list[dict], families: list[dict]) -> list[tuple[str, str, str, bool]]:
    """The issue's "Done when" figures: (name, measured, goal, met)."""
    building = [
        r for r in rows if r["ending"] != Ending.loop.value and r["length_s"] >= BUILD_LENGTH_S and r["has_arc"]
    ]
    spread_met = [r for r in building if (r["level_spread_db"] or 0) >= SPREAD_GOAL_DB]
    accents = [a for r in rows for a in r["hit_accents_db"] if a is not None]
    ranges = {f["family"]: f["loudness_range_lu"] for f in families if f["loudness_range_lu"] is not None}
    widest = max(ranges, key=ranges.get) if ranges else None
    ensembles = min((m["ensembles"] for m in moods), default=0)
    grooves = min((m["grooves"] for m in moods), default=0)
    bars = sum(r["drum_bars"] for r in rows)
    identical = sum(r["drum_bars_identical"] for r in rows) / bars if bars else 0.0
    margins = [m for r in rows for m in r["lead_margins_db"] if m is not None]
    on_top = [m for m in margins if m >= LEAD_BOUND_DB]
    silent = sum(len(r["silent_stems"]) for r in rows)
    rho = layer_correlation(rows)
    return [
        (
            "section spread ≥ 6 dB (non-loop, ≥ 30 s, arc)",
            f"{len(spread_met)}/{len(building)}",
            "≥ 80 %",
            bool(building) and len(spread_met) >= SPREAD_SHARE * len(building),
        ),
        (
            "hit accent, mean (dB)",
            f"{np.mean(accents):+.1f} (n={len(accents)})" if accents else "no hits",
            "≥ +6",
            bool(accents) and float(np.mean(accents)) >= ACCENT_GOAL_DB,
        ),
        (
            "widest loudness range: heroic family",
            f"{widest} {ranges.get(widest, 0):.1f} LU; heroic {ranges.get('heroic', 0):.1f}" if widest else "—",
            "heroic",
            widest == "heroic",
        ),
        ("ensembles per mood, fewest", str(ensembles), "≥ 3", ensembles >= PER_MOOD_MIN),
        ("grooves per mood, fewest", str(grooves), "≥ 3", grooves >= PER_MOOD_MIN),
        ("drum bars identical to another bar", f"{identical:.0%}", "≤ 40 %", identical <= DRUM_REPEAT_MAX),
        (
            "sections with the lead within 3 dB of the top",
            f"{len(on_top)}/{len(margins)} ({len(on_top) / max(len(margins), 1):.0%})",
            "≥ 90 %",
            bool(margins) and len(on_top) >= LEAD_SHARE * len(margins),
        ),
        ("silent stems", f"{silent} in {sum(bool(r['silent_stems']) for r in rows)} cues", "0", silent == 0),
        (
            "layers vs intensity, Spearman",
            f"{rho:.2f}" if rho is not None else "undefined (constant)",
            "≥ 0.7",
            rho is not None and rho >= LAYER_CORRELATION,
        ),
    ]


def context(rows: list[dict]) -> list[tuple[str, str]]:
    """The issue's other "today" figures, measured the same way (no goal of their own)."""
    spreads = [r["level_spread_db"] for r in rows if r["level_spread_db"] is not None]
    margins = [m for r in rows for m in r["lead_margins_db"] if m is not None]
    build = [r for r in rows if r["medium"] in {m.value for m in BUILD_MEDIA} and r["length_s"] >= BUILD_LENGTH_S]
    slope = level_per_intensity(rows)
    accents = [a for r in rows for a in r["hit_accents_db"] if a is not None]
    flashes = [a for r in rows for a in r["hit_flashes_db"] if a is not None]
    under = [r for r in rows if (_mean(r["lead_margins_db"]) or 0) < 0]
    return [
        (
            "section spread, mean / max (dB)",
            f"{np.mean(spreads):.1f} / {max(spreads):.1f}, {sum(s >= 6 for s in spreads)} ≥ 6",
        ),
        ("plans with every section within 0.1", f"{sum(r['intensity_span'] <= 0.1 + 1e-9 for r in rows)}/{len(rows)}"),
        ("plans with an arc (span ≥ 0.4)", f"{sum(r['has_arc'] for r in rows)}/{len(rows)}"),
        ("film/trailer/ad ≥ 30 s with an arc", f"{sum(r['has_arc'] for r in build)}/{len(build)}"),
        ("level per unit of intensity (dB)", f"{slope:.1f}" if slope is not None else "—"),
        (
            "hit accent: median, min; 400 ms after, mean (dB)",
            f"{np.median(accents):+.1f}, {min(accents):+.1f}; {np.mean(flashes):+.1f}" if accents else "—",
        ),
        ("lead margin, mean (dB)", f"{np.mean(margins):+.1f}" if margins else "—"),
        ("cues with the lead under the top on average", f"{len(under)}/{len(rows)}"),
        ("sections with the lead > 6 dB under", f"{sum(m < -6 for m in margins)}/{len(margins)}"),
        (
            "distinct ensembles / grooves in all",
            f"{len({json.dumps(r['ensemble']) for r in rows})} / {len({r['groove'] for r in rows})}",
        ),
    ]


def print_report(rows: list[dict], moods: list[dict], families: list[dict], curve: dict | None) -> None:
    print(
        f"\n{'cue':<10}{'mood':<12}{'medium':<8}{'ending':<9}{'len s':>6}{'span':>6}{'spread':>7}{'LRA':>6}"
        f"{'hits dB':>14}{'lead dB':>8}{'layers':>10}{'drums':>7}  silent"
    )
    for r in rows:
        hits = " ".join(f"{a:+.1f}" for a in r["hit_accents_db"] if a is not None)
        print(
            f"{r['id']:<10}{r['mood']:<12}{r['medium']:<8}{r['ending']:<9}{r['length_s']:>6.0f}"
            f"{r['intensity_span']:>6.2f}{_fmt(r['level_spread_db'])}{_fmt(r['loudness_range_lu'], '.1f', 6)}"
            f"{hits:>14}{_fmt(_mean(r['lead_margins_db']), '+.1f', 8)}"
            f"{'-'.join(map(str, sorted(set(r['layers'])))):>10}"
            f"{(str(r['drum_bars_identical']) + '/' + str(r['drum_bars'])):>7}  {','.join(r['silent_stems'])}"
        )
    for key, groups in (("mood", moods), ("family", families)):
        print(
            f"\n{key:<12}{'cues':>5}{'spread':>8}{'LRA':>6}{'span':>6}{'hit dB':>8}{'lead dB':>8}"
            f"{'ensembles':>10}{'grooves':>8}{'drums id.':>10}{'layers':>8}{'silent':>7}"
        )
        for g in groups:
            print(
                f"{g[key]:<12}{g['cues']:>5}{_fmt(g['level_spread_db'], '.1f', 8)}"
                f"{_fmt(g['loudness_range_lu'], '.1f', 6)}{_fmt(g['intensity_span'], '.2f', 6)}"
                f"{_fmt(g['hit_accent_db'], '+.1f', 8)}{_fmt(g['lead_margin_db'], '+.1f', 8)}"
                f"{g['ensembles']:>10}{g['grooves']:>8}{_fmt(g['drum_bars_identical'], '.0%', 10)}"
                f"{'{}-{}'.format(*g['layers']):>8}{g['silent_stems']:>7}"
            )
    if curve:
        print(f"\n{curve['id']} ({curve['mood']}, {curve['length_s']:.0f} s, {curve['ending']}): plan vs mix")
        print(f"{'section':<9}{'intensity':>10}{'level LUFS':>12}{'layers':>8}{'lead dB':>9}")
        for label, intensity, level, layers, margin in zip(
            curve["section_labels"],
            curve["intensities"],
            curve["section_levels_lufs"],
            curve["layers"],
            curve["lead_margins_db"],
            strict=True,
        ):
            print(f"{label:<9}{intensity:>10.2f}{_fmt(level, '.1f', 12)}{layers:>8}{_fmt(margin, '+.1f', 9)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=60, help="briefs (bench/quality.py's, in order)")
    parser.add_argument("--models", default=None, help="model bundle folder (default: the shipped bundle)")
    parser.add_argument(
        "--curve", default=None, help="cue whose intensity curve to print (default: the widest intensity span)"
    )
    args = parser.parse_args()

    torch.set_num_threads(1)  # as in the job's cue workers
    started, cpu_started = time.perf_counter(), time.process_time()
    models = ComposerModels.load(args.models)
    rows: list[dict] = []
    seconds = defaultdict(float)
    with CueRenderer() as renderer:
        for brief in tqdm(briefs(args.count), desc="compose, render, measure", unit="cue"):
            rows.append(_one(brief, models, renderer, seconds))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started

    moods = per_group(rows, "mood", MOODS)
    families = per_group(rows, "family", FAMILY_NAMES)
    chosen = args.curve or max(rows, key=lambda r: (r["intensity_span"], r["length_s"]))["id"]
    curve = next((r for r in rows if r["id"] == chosen), None)
    print_report(rows, moods, families, curve)
    table = targets(rows, moods, families)
    print(f"\n{'target':<48}{'measured':>34}{'goal':>10}  met")
    for name, measured, goal, met in table:
        print(f"{name:<48}{measured:>34}{goal:>10}  {'yes' if met else 'NO'}")
    print("\ncontext (the issue's other figures)")
    for name, measured in context(rows):
        print(f"{name:<48}{measured:>34}")
    music_s = sum(r["length_s"] for r in rows)
    print(
        f"\n{len(rows)} cues, {music_s / 60:.1f} min of music in {wall:.0f} s wall, {cpu:.0f} s CPU "
        f"(compose {seconds['compose']:.0f} s, render and master {seconds['render']:.0f} s, "
        f"measure {seconds['measure']:.0f} s)"
    )
    RESULTS.mkdir(exist_ok=True)
    result = {
        "cues": rows,
        "moods": moods,
        "families": families,
        "targets": {name: {"measured": m, "goal": g, "met": bool(ok)} for name, m, g, ok in table},
        "context": dict(context(rows)),
        "models": models.versions,
        "seconds": {"wall": wall, "cpu": cpu, **seconds},
    }
    (RESULTS / "arrangement.json").write_text(json.dumps(result, indent=2))


def _one(brief: ResolvedBrief, models: ComposerModels, renderer: CueRenderer, seconds: dict) -> dict:
    clock = time.perf_counter()
    cue = compose_cue(brief, brief.seed, None, models)
    seconds["compose"] += time.perf_counter() - clock
    clock = time.perf_counter()
    audio = renderer.master_cue(audio_request(cue.plan, cue.midi, brief, "bench"))
    seconds["render"] += time.perf_counter() - clock
    clock = time.perf_counter()
    row = measure_cue(cue, audio)
    seconds["measure"] += time.perf_counter() - clock
    return row


if __name__ == "__main__":
    main()
