"""Benchmark of rendering speed against the ``fluidsynth`` command, in one run (issue 6's target).

Composes one 60-second, 4-stem cue with the default models, then, for each installed soundfont, alternates:

- **baseline**: ``fluidsynth -ni -F mix.wav SF cue.mid`` at 48 kHz, the mix only (a new process: it loads the
  soundfont each time and renders until its voices die, plus its own tail);
- **ours, render**: stems and mix in one pass, ending shaped and mastered (loudness gain, limiter if needed), with
  the synth already loaded as a worker keeps it — the stage the target is about;
- **ours, all files**: the same plus encoding and measuring every file (WAVs with bext, MP3 preview, per-file
  loudness and true peak).

Prints a table of median wall and CPU seconds, realtime factors per core (audio seconds per CPU second) and the
ratio to the baseline, and writes ``bench/results/render.json``. Target: ours, render ≤ 1.1 × the baseline.

    python bench/render.py [--repeats 5] [--length 60]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.generate.cue_writer import audio_request
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.pipelines.render.soundfont import candidates, find_soundfont
from cues.schemas.brief import Brief
from cues.schemas.config import RenderConfig

RESULTS = Path(__file__).parent / "results"
TARGET_RATIO = 1.1


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_render(soundfont: Path, midi: Path, out: Path) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), children_cpu()
    subprocess.run(["fluidsynth", "-ni", "-q", "-r", "48000", "-F", str(out), str(soundfont), str(midi)], check=True)
    return time.perf_counter() - wall, children_cpu() - cpu


def ours(renderer: CueRenderer, request) -> tuple[float, float, float, float, float]:
    """(render wall, render CPU, all-files wall, all-files CPU, audio seconds) of one cue."""
    wall, cpu = time.perf_counter(), time.process_time()
    audio = renderer.render(request)
    total_wall, total_cpu = time.perf_counter() - wall, time.process_time() - cpu
    render = audio.timings["synth_s"] + audio.timings["master_s"]
    share = render / sum(audio.timings.values())  # the CPU of the render stage, by its share of the wall time
    return render, total_cpu * share, total_wall, total_cpu, audio.summary["samples"] / audio.summary["sample_rate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--length", type=float, default=60.0)
    args = parser.parse_args()

    brief = Brief.model_validate(
        {
            "id": "bench-render",
            "medium": "film",
            "mood": ["action", "tense"],
            "length": args.length,
            "ending": "button",
            "seed": 7,
        }
    ).resolve()
    cue = compose_cue(brief, 7, None, ComposerModels.load())
    notes = {name: len(part) for name, part in cue.score.parts.items()}
    print(f"cue: {args.length:g} s, {cue.plan.tempo_bpm:.0f} bpm, notes per stem {notes}")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        midi = Path(tmp) / "cue.mid"
        midi.write_bytes(cue.midi)
        soundfonts = {}
        for path in candidates():  # each distinct soundfont once (pretty_midi's TimGM6mb is Debian's file)
            if path.is_file():
                soundfonts.setdefault(find_soundfont(path).sha256, path)
        for path in soundfonts.values():
            soundfont = find_soundfont(path)
            renderer = CueRenderer(RenderConfig(soundfont=str(path)))
            request = audio_request(cue.plan, cue.midi, brief, "k-bench")
            ours(renderer, request)  # load the synth once, as a worker does
            cli_runs, our_runs = [], []
            for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
                cli_runs.append(cli_render(path, midi, Path(tmp) / "cli.wav"))
                our_runs.append(ours(renderer, request))
            renderer.close()
            audio_s = our_runs[0][4]
            cli_wall = statistics.median(r[0] for r in cli_runs)
            cli_cpu = statistics.median(r[1] for r in cli_runs)
            where = "pretty_midi" if "pretty_midi" in str(path) else "debian"
            row = {
                "soundfont": soundfont.name if soundfont.name == "FluidR3_GM" else f"{soundfont.name} ({where})",
                "audio_s": round(audio_s, 3),
                "cli_wall_s": round(cli_wall, 3),
                "cli_cpu_s": round(cli_cpu, 3),
                "render_wall_s": round(statistics.median(r[0] for r in our_runs), 3),
                "render_cpu_s": round(statistics.median(r[1] for r in our_runs), 3),
                "all_files_wall_s": round(statistics.median(r[2] for r in our_runs), 3),
                "all_files_cpu_s": round(statistics.median(r[3] for r in our_runs), 3),
            }
            row["ratio_render_to_cli_wall"] = round(row["render_wall_s"] / cli_wall, 3)
            row["ratio_all_files_to_cli_wall"] = round(row["all_files_wall_s"] / cli_wall, 3)
            row["rtf_per_core_cli"] = round(audio_s / cli_cpu, 1)
            row["rtf_per_core_render"] = round(audio_s / row["render_cpu_s"], 1)
            row["rtf_per_core_all_files"] = round(audio_s / row["all_files_cpu_s"], 1)
            rows.append(row)

    header = (
        f"{'soundfont':<22} {'fluidsynth -F':>14} {'ours: render':>13} {'ratio':>6} {'ours: files':>12} {'ratio':>6}"
    )
    print(header)
    print(f"{'':<22} {'s (RTF/core)':>14} {'s (RTF/core)':>13} {'':>6} {'s (RTF/core)':>12}")
    for r in rows:
        print(
            f"{r['soundfont']:<22} {r['cli_wall_s']:>6.2f} ({r['rtf_per_core_cli']:>4.0f}x) "
            f"{r['render_wall_s']:>5.2f} ({r['rtf_per_core_render']:>4.0f}x) {r['ratio_render_to_cli_wall']:>6.2f} "
            f"{r['all_files_wall_s']:>4.2f} ({r['rtf_per_core_all_files']:>4.0f}x) "
            f"{r['ratio_all_files_to_cli_wall']:>6.2f}"
        )
    met = all(r["ratio_render_to_cli_wall"] <= TARGET_RATIO for r in rows)
    print(f"target: render ≤ {TARGET_RATIO} × fluidsynth -F: {'met' if met else 'NOT met'}")
    RESULTS.mkdir(exist_ok=True)
    result = {"length_s": args.length, "repeats": args.repeats, "target_ratio": TARGET_RATIO, "met": met, "rows": rows}
    (RESULTS / "render.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
