"""Benchmark of rendering speed against the ``fluidsynth`` command, in one run (issue 6's target).

Composes one 60-second, 4-stem cue with the default models, then, for each installed soundfont, alternates:

- **baseline**: ``fluidsynth -ni -F mix.wav SF cue.mid`` at 48 kHz, the mix only (a new process: it loads the
  soundfont each time and renders until its voices die, plus its own tail);
- **ours, render**: every stem synthesised and mixed, ending shaped and mastered (loudness gain, limiter if
  needed), with the synth already loaded as a worker keeps it, on ``--threads`` threads (default 2, as a cue made
  in the ``cues`` process renders; 1 as a pool's worker at 0.5 CPU: ``render_threads.py``) — the target's stage;
- **ours, all files**: the same plus encoding and measuring every file (WAVs with bext, MP3 preview, per-file
  loudness and true peak).

Ours runs twice per soundfont (issue 17): with the **mix** (each stem's strip and reverb send,
``render/stem_mix.py``; FluidSynth's reverb off: the default) and **without** it (FluidSynth's reverb on, no
strips: ``render-2``'s sound), so the mix's cost is the difference. The render stage is every timing but encoding
(synth, mix, balance, ending and mastering).

Listen proxies, since nobody listens here, from the same cue rendered once more with a ``ring_out`` ending, each
way: per stem its **seat** (left minus right energy, dB: > 0 left), **correlation** of its two channels (1 mono,
0 unrelated) and **width** (side over mid energy, dB); for the mix, the **tail** (its level over the first second
after the last bar, against its level over the last bar, dB: the reverb that rings on).

Prints a table of median wall and CPU seconds, realtime factors per core (audio seconds per CPU second) and the
ratio to the baseline, then the proxies, and writes ``bench/results/render.json``. Targets: ours, render ≤ 1.1 ×
the baseline; all files ≤ 1.6 × (issue 17, with the mix on).

    python bench/render.py [--repeats 5] [--length 60] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.generate.cue_writer import audio_request
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.pipelines.render.soundfont import candidates, find_soundfont
from cues.schemas.brief import Brief, Ending
from cues.schemas.config import RenderConfig, SynthConfig

RESULTS = Path(__file__).parent / "results"
TARGET_RATIO = 1.1
TARGET_FILES_RATIO = 1.6
#: How ours runs: the mix on (the default) and off as the renderer was before it (FluidSynth's reverb, no strips).
WAYS = {"mix": RenderConfig(), "no mix": RenderConfig(mix=False, synth=SynthConfig(reverb=True))}


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
    render = sum(seconds for stage, seconds in audio.timings.items() if stage != "encode_s")
    share = render / sum(audio.timings.values())  # the CPU of the render stage, by its share of the wall time
    return render, total_cpu * share, total_wall, total_cpu, audio.summary["samples"] / audio.summary["sample_rate"]


def timing_row(name: str, cli_runs: list, our_runs: list) -> dict:
    """Medians of the baseline's and ours' runs, and their ratios."""
    audio_s = our_runs[0][4]
    cli_wall = statistics.median(r[0] for r in cli_runs)
    cli_cpu = statistics.median(r[1] for r in cli_runs)
    row = {
        "soundfont": name,
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
    return row


def listen_proxies(renderer: CueRenderer, request) -> dict:
    """Seat, correlation and width of each stem and the mix's reverb tail, from a ``ring_out`` render."""
    cue = renderer.master_cue(replace(request, ending=Ending.ring_out))
    length, rate = cue.length_samples, cue.rate

    def energy(audio: np.ndarray) -> float:
        return float(np.vdot(audio, audio)) + 1e-30

    stems = {}
    for stem, audio in zip(cue.stems, cue.mastered.stems, strict=True):
        left, right = audio.astype(np.float64)
        mid, side = (left + right) / 2, (left - right) / 2
        stems[stem.name] = {
            "seat_db": round(10 * np.log10(energy(left) / energy(right)), 2),
            "correlation": round(float(np.vdot(left, right) / np.sqrt(energy(left) * energy(right))), 3),
            "width_db": round(10 * np.log10(energy(side) / energy(mid)), 2),
        }
    mix = cue.mastered.mix
    bar = round(request.fade_s * rate)  # the last bar (audio_request's fade length)
    after = mix[:, length : length + rate]
    tail_db = 10 * np.log10((energy(after) / max(after.shape[-1], 1)) / (energy(mix[:, length - bar : length]) / bar))
    return {"stems": stems, "tail_db": round(float(tail_db), 1), "tail_s": round((mix.shape[-1] - length) / rate, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--length", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=2, help="threads of our render (CueRenderer's)")
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

    rows, proxies = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        midi = Path(tmp) / "cue.mid"
        midi.write_bytes(cue.midi)
        soundfonts = {}
        for path in candidates():  # each distinct soundfont once (pretty_midi's TimGM6mb is Debian's file)
            if path.is_file():
                soundfonts.setdefault(find_soundfont(path).sha256, path)
        request = audio_request(cue.plan, cue.midi, brief, "k-bench")
        for path in soundfonts.values():
            soundfont = find_soundfont(path)
            renderers = {
                way: CueRenderer(config.model_copy(update={"soundfont": str(path)}), threads=args.threads)
                for way, config in WAYS.items()
            }
            for renderer in renderers.values():
                ours(renderer, request)  # load the synth once, as a worker does
            cli_runs, our_runs = [], {way: [] for way in WAYS}
            for _ in range(args.repeats):  # interleaved, so drift in machine load hits all alike
                cli_runs.append(cli_render(path, midi, Path(tmp) / "cli.wav"))
                for way, renderer in renderers.items():
                    our_runs[way].append(ours(renderer, request))
            where = "pretty_midi" if "pretty_midi" in str(path) else "debian"
            name = soundfont.name if soundfont.name == "FluidR3_GM" else f"{soundfont.name} ({where})"
            for way, renderer in renderers.items():
                rows.append(timing_row(f"{name}, {way}", cli_runs, our_runs[way]))
                proxies[f"{name}, {way}"] = listen_proxies(renderer, request)
                renderer.close()

    header = (
        f"{'soundfont':<30} {'fluidsynth -F':>14} {'ours: render':>13} {'ratio':>6} {'ours: files':>12} {'ratio':>6}"
    )
    print(header)
    print(f"{'':<30} {'s (RTF/core)':>14} {'s (RTF/core)':>13} {'':>6} {'s (RTF/core)':>12}")
    for r in rows:
        print(
            f"{r['soundfont']:<30} {r['cli_wall_s']:>6.2f} ({r['rtf_per_core_cli']:>4.0f}x) "
            f"{r['render_wall_s']:>5.2f} ({r['rtf_per_core_render']:>4.0f}x) {r['ratio_render_to_cli_wall']:>6.2f} "
            f"{r['all_files_wall_s']:>4.2f} ({r['rtf_per_core_all_files']:>4.0f}x) "
            f"{r['ratio_all_files_to_cli_wall']:>6.2f}"
        )
    mixed = [r for r in rows if r["soundfont"].endswith(", mix")]
    met = all(r["ratio_render_to_cli_wall"] <= TARGET_RATIO for r in mixed)
    files_met = all(r["ratio_all_files_to_cli_wall"] <= TARGET_FILES_RATIO for r in mixed)
    print(f"target: render ≤ {TARGET_RATIO} × fluidsynth -F: {'met' if met else 'NOT met'}")
    print(f"target: all files ≤ {TARGET_FILES_RATIO} × fluidsynth -F: {'met' if files_met else 'NOT met'}")
    print("listen proxies (ring_out): per stem seat dB (> 0 left) / correlation / width dB (side over mid); mix tail")
    for way, found in proxies.items():
        seats = "  ".join(
            f"{stem} {p['seat_db']:+.1f}/{p['correlation']:.2f}/{p['width_db']:+.1f}"
            for stem, p in found["stems"].items()
        )
        print(f"{way:<30} tail {found['tail_db']:+.1f} dB over {found['tail_s']:.2f} s  {seats}")
    RESULTS.mkdir(exist_ok=True)
    result = {
        "length_s": args.length,
        "repeats": args.repeats,
        "threads": args.threads,
        "target_ratio": TARGET_RATIO,
        "met": met,
        "target_files_ratio": TARGET_FILES_RATIO,
        "files_met": files_met,
        "rows": rows,
        "listen_proxies": proxies,
    }
    (RESULTS / "render.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
