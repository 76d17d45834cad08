"""A worker's memory against the cue's length: is rendering flat in memory (issue 17's bound)?

Composes one cue per length (default 60, 300 and 600 s: a film cue, action/tense, ring-out, stems on, WAV + MP3
preview, FLAC, the ``underscore`` and ``no_drums`` alternates: every deliverable) with the default models, then
renders each in a fresh child process — the honest way to see a peak,
since Python and NumPy keep freed memory — through the worker's path (``CueRenderer.render``: synth, balance, ending,
master, every file encoded and measured). The child reports its resident memory after loading the synth and its
peak (``ru_maxrss``) after the render.

Prints one table (peak, growth over the loaded synth, MB per second of audio) and writes ``bench/results/memory.json``.
The figure that decides is the growth per second of audio between the shortest and the longest cue: a renderer flat
in memory has it near 0. Target (issue 17): the 600 s cue's peak ≤ 1024 MB.

    python bench/memory.py [--lengths 60 300 600]
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
TARGET_PEAK_MB = 1024.0


def rss_mb() -> float:
    """This process's resident memory now (MB)."""
    return status_mb("VmRSS")


def status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory figure (``VmRSS``, ``VmHWM``) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class StagePeaks:
    """The peak resident memory of each stage: at each stage's start, the high-water mark since the last one is
    the previous stage's, and the mark is reset (``clear_refs`` 5, Linux ≥ 4.0)."""

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}
        self.current = "before"
        self._reset()

    def _reset(self) -> None:
        Path("/proc/self/clear_refs").write_text("5")

    def __call__(self, stage: str) -> None:
        peak = status_mb("VmHWM")
        self.peaks[self.current] = max(self.peaks.get(self.current, 0.0), round(peak, 1))
        verb, _, name = stage.partition(" ")
        # one row per kind of file (every stem's WAV in one), the largest of them
        self.current = f"{verb} {_kind(name)}" if verb in ("encode", "measure") else stage
        self._reset()


def _kind(name: str) -> str:
    folder, _, file = name.rpartition("/")
    return f"{folder}/*{Path(file).suffix}" if folder else name


def child(request_file: Path, out: Path) -> None:
    """Render the pickled request once in this process; write what memory it took to ``out``."""
    from cues.pipelines.render.cue_renderer import CueRenderer

    request = pickle.loads(request_file.read_bytes())
    before = rss_mb()
    renderer = CueRenderer()
    renderer.synth(request.delivery.sample_rate)
    loaded = rss_mb()
    peaks = StagePeaks()
    renderer.observe = peaks
    clock, cpu = time.perf_counter(), time.process_time()
    audio = renderer.render(request)
    wall, cpu = time.perf_counter() - clock, time.process_time() - cpu
    peaks("end")
    result = {
        "audio_s": audio.summary["samples"] / audio.summary["sample_rate"],
        "files": len(audio.files),
        "file_mb": round(sum(path.stat().st_size for path in audio.paths.values()) / 1e6, 1),
        "rss_before_mb": round(before, 1),
        "rss_loaded_mb": round(loaded, 1),
        # resetting the high-water mark resets what ru_maxrss reads too: the peak is the largest stage's
        "peak_rss_mb": max(round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), *peaks.peaks.values()),
        "render_wall_s": round(wall, 2),
        "render_cpu_s": round(cpu, 2),
        "stage_peak_mb": peaks.peaks,
    }
    out.write_text(json.dumps(result))


def request_for(length: float):
    from cues.pipelines.compose.composer import ComposerModels, compose_cue
    from cues.pipelines.generate.cue_writer import audio_request
    from cues.schemas.brief import Brief

    brief = Brief.model_validate(
        {
            "id": f"bench-memory-{length:g}",
            "medium": "film",
            "mood": ["action", "tense"],
            "length": length,
            "seed": 7,
            "delivery": {"formats": ["wav", "flac", "mp3"], "stems": True, "alternates": ["underscore", "no_drums"]},
        }
    ).resolve()
    cue = compose_cue(brief, brief.seed, None, ComposerModels.load())
    return audio_request(cue.plan, cue.midi, brief, "bench-memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=float, nargs="+", default=[60.0, 300.0, 600.0])
    parser.add_argument("--child", nargs=2, metavar=("REQUEST", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return

    rows = []
    with tempfile.TemporaryDirectory() as work:
        for length in sorted(args.lengths):
            request_file, out = Path(work) / f"{length:g}.pkl", Path(work) / f"{length:g}.json"
            request_file.write_bytes(pickle.dumps(request_for(length)))
            subprocess.run([sys.executable, __file__, "--child", str(request_file), str(out)], check=True)
            row = {"length_s": length, **json.loads(out.read_text())}
            row["growth_mb"] = round(row["peak_rss_mb"] - row["rss_loaded_mb"], 1)
            row["growth_mb_per_audio_s"] = round(row["growth_mb"] / row["audio_s"], 2)
            rows.append(row)
            print(f"{length:g} s: peak {row['peak_rss_mb']:.0f} MB", flush=True)

    first, last = rows[0], rows[-1]
    slope = (last["peak_rss_mb"] - first["peak_rss_mb"]) / max(last["audio_s"] - first["audio_s"], 1e-9)
    print()
    print("| cue length s | audio s | files | loaded MB | peak MB | growth MB | MB per audio s | render wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['length_s']:g} | {r['audio_s']:.1f} | {r['files']} | {r['rss_loaded_mb']:.0f} | "
            f"{r['peak_rss_mb']:.0f} | {r['growth_mb']:.0f} | {r['growth_mb_per_audio_s']:.2f} | "
            f"{r['render_wall_s']:.1f} |"
        )
    stages = list(dict.fromkeys(stage for r in rows for stage in r["stage_peak_mb"]))
    print("\npeak MB of each stage (the high-water mark while it ran)")
    print("| stage | " + " | ".join(f"{r['length_s']:g} s" for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for stage in stages:
        peaks = [r["stage_peak_mb"].get(stage) for r in rows]
        print(f"| {stage} | " + " | ".join("" if p is None else f"{p:.0f}" for p in peaks) + " |")
    met = last["peak_rss_mb"] <= TARGET_PEAK_MB
    print(
        f"\npeak grows {slope:.2f} MB per second of audio ({first['length_s']:g} → {last['length_s']:g} s); "
        f"the {last['length_s']:g} s cue peaks at {last['peak_rss_mb']:.0f} MB "
        f"(target ≤ {TARGET_PEAK_MB:.0f}: {'met' if met else 'NOT met'})"
    )
    RESULTS.mkdir(exist_ok=True)
    result = {"rows": rows, "peak_slope_mb_per_audio_s": round(slope, 3), "target_peak_mb": TARGET_PEAK_MB}
    (RESULTS / "memory.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
