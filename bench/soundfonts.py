"""Benchmark of the General MIDI soundfonts this system can install, side by side (issue 17's first item).

Soundfonts: FluidR3_GM (Debian ``fluid-soundfont-gm``, the default, the baseline), TimGM6mb
(``timgm6mb-soundfont``) and MuseScore General (``musescore-general-soundfont``, sf3: Vorbis-compressed samples that
FluidSynth decodes when it loads them). One not installed is skipped with a line saying so.

Three reference cues from ``bench/quality.py``'s briefs (calm 30 s, epic 45 s, action 45 s) are composed once with the
default models, then each soundfont is measured in a fresh child process (so its memory is its own), ``--rounds``
times, the soundfonts interleaved so drift in machine load hits all alike:

- **load**: wall seconds to load the soundfont into the renderer's synth (``CueRenderer.synth``: what a worker pays
  once), and the child's resident memory after it, minus the child's before it (MB);
- **peak memory**: the child's peak RSS (``ru_maxrss``) after rendering the cues (MB). A renderer keeps one loaded
  synth per bus count (here three: the cues have 5, 6 and 7 stems); FluidSynth's sample cache shares one
  file's samples between them;
- **render speed**: the cues rendered as ``bench/render.py``'s "ours, render" stage (``CueRenderer.master_cue``:
  one bus-per-stem synth pass, balance, ending, mastering; the synth already loaded, each cue rendered once to warm
  up, then timed): seconds of audio per CPU second, and the ratio to FluidR3_GM's in the same round; again for the
  synth pass alone (its CPU by its share of the stage's wall time), since balance and mastering do not depend on
  the soundfont;
- **coverage**: every General MIDI program ``schemas/palettes.yaml`` uses (every ensemble's lead, counter, pad,
  figure, bass and riser) and ``schemas/effects.yaml``'s risers and impacts must have a preset in bank 0, every drum
  kit (including the default 48, orchestra) one in bank 128. FluidSynth substitutes a missing preset silently (bank
  128 program 0 for a kit), so presence is looked up, not heard. Then each present preset plays one note (mid-range
  of its playable range; kick, snare and hi-hat for a kit; no reverb or chorus) for 1 s, and a peak below
  ``SILENT_DBFS`` counts it silent;
- **spectral fullness** of each reference cue's mastered mix (all mixes are at the same loudness, so only the shape
  of the spectrum differs), from its long-term average spectrum (Welch, 8192-point Hann windows, both channels
  averaged), 22 Hz–22.6 kHz:

  - *octave flatness*: geometric over arithmetic mean of the energy in ten octave bands centred 31.25 Hz–16 kHz, in
    ``[0, 1]``. 1 is equal energy per octave (pink noise); a mix whose energy sits in a few octaves scores low, and
    so does one that falls faster than pink towards the top or the bottom: "fullness" across the range;
  - *spectral centroid* (Hz): the energy-weighted mean frequency: brightness. Dull, band-limited samples pull it
    down;
  - *energy above 4 kHz* (% of the total): the presence and air band, where small, low-rate samples lose most.

  These measure the sound, not the music: the same MIDI is rendered by each soundfont, but a soundfont's own
  preset levels (a louder pad, a quieter harp) change the balance, and so the spectrum, as much as sample quality.

Prints one table and the coverage gaps, and writes ``bench/results/soundfonts.json``.

    python bench/soundfonts.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import signal

from cues.pipelines.render.soundfont import FLUIDR3, TIMGM6MB

RESULTS = Path(__file__).parent / "results"
MUSESCORE = Path("/usr/share/sounds/sf3/MuseScore_General.sf3")
SOUNDFONTS = {  # name → path; the first is the baseline of the speed ratio (today's default)
    "FluidR3_GM": FLUIDR3,
    "TimGM6mb": TIMGM6MB,
    "MuseScore_General": MUSESCORE,
}
INSTALL = {
    "FluidR3_GM": "apt-get install fluid-soundfont-gm",
    "TimGM6mb": "apt-get install timgm6mb-soundfont",
    "MuseScore_General": "apt-get install musescore-general-soundfont",
}
BASELINE = "FluidR3_GM"
REFERENCE_BRIEFS = ("bench-30", "bench-50", "bench-13")  # calm 30 s cut, epic 45 s fade, action 45 s fade
PROBE_RATE = 48000
SILENT_DBFS = -50.0  # a one-note probe whose peak stays below this is silent (a sounding note reads -30 to -6)
DRUM_BANK = 128
KIT_NOTES = (36, 38, 42)  # kick, snare, closed hi-hat
OCTAVE_CENTRES = 31.25 * 2.0 ** np.arange(10)  # Hz, 31.25 … 16000
HIGH_BAND_HZ = 4000.0


# --- what the palettes use ------------------------------------------------------------------------------------------


def used_programs() -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """(melodic program → where it is used, drum kit program → where), from the palettes and the effects table."""
    from cues.schemas.effects import effects_table
    from cues.schemas.palettes import palettes

    melodic: dict[int, list[str]] = {}
    kits: dict[int, list[str]] = {}
    for mood, palette in palettes().moods.items():
        for ensemble in palette.ensembles:
            for role in ("lead", "counter", "pad", "figure", "bass", "fx"):
                program = getattr(ensemble, role)
                if program is not None:
                    melodic.setdefault(program, []).append(f"{mood} {role}")
            kits.setdefault(ensemble.drums, []).append(mood)
    for family, effects in effects_table().families.items():
        for role, program in (("riser", effects.riser), ("impact", effects.impact)):
            if program is not None:
                melodic.setdefault(program, []).append(f"{family} {role}")
    return dict(sorted(melodic.items())), dict(sorted(kits.items()))


# --- the child: one soundfont, measured in its own process ----------------------------------------------------------


def rss_mb() -> float:
    """This process's resident memory now (MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def spectrum_figures(mix: np.ndarray, rate: int) -> dict:
    """Octave flatness, spectral centroid and energy share above 4 kHz of a (2, samples) mix (module docstring)."""
    freqs, power = signal.welch(mix, rate, nperseg=8192, axis=-1)
    power = power.mean(axis=0)  # both channels
    bands = np.array([power[(freqs >= c / np.sqrt(2)) & (freqs < c * np.sqrt(2))].sum() for c in OCTAVE_CENTRES])
    shares = bands / bands.sum()
    inside = (freqs >= OCTAVE_CENTRES[0] / np.sqrt(2)) & (freqs < OCTAVE_CENTRES[-1] * np.sqrt(2))
    total = power[inside].sum()
    return {
        "octave_flatness": round(float(np.exp(np.log(np.maximum(bands, 1e-30)).mean()) / bands.mean()), 4),
        "centroid_hz": round(float((freqs[inside] * power[inside]).sum() / total), 1),
        "share_above_4k": round(float(power[inside & (freqs >= HIGH_BAND_HZ)].sum() / total), 4),
        "octave_shares": {f"{c:g}": round(float(s), 4) for c, s in zip(OCTAVE_CENTRES, shares, strict=True)},
    }


def probe(path: Path, melodic: dict[int, list[str]], kits: dict[int, list[str]]) -> dict:
    """Which used presets are missing, and which present ones stay silent on one note (module docstring)."""
    from cues.pipelines.render.synth import _library
    from cues.schemas.palettes import palettes

    fluidsynth, _ = _library()
    synth = fluidsynth.Synth(samplerate=float(PROBE_RATE), **{"synth.reverb.active": 0, "synth.chorus.active": 0})
    try:
        sfid = synth.sfload(str(path))
        missing, silent, peaks = [], [], {}
        wanted = [(0, p, 0, [sum(palettes().playable(p).model_dump().values()) // 2]) for p in melodic]
        wanted += [(DRUM_BANK, k, 9, list(KIT_NOTES)) for k in kits]
        for bank, program, channel, notes in wanted:
            label = f"{'kit' if bank else 'program'} {program}"
            if synth.sfpreset_name(sfid, bank, program) is None:
                missing.append(label)
                continue
            synth.program_select(channel, sfid, bank, program)
            for note in notes:
                synth.noteon(channel, note, 100)
            audio = synth.get_samples(PROBE_RATE)  # int16, interleaved stereo
            for note in notes:
                synth.noteoff(channel, note)
            synth.all_sounds_off(channel)
            synth.get_samples(PROBE_RATE // 10)  # let the cut voices go before the next probe
            peak = float(np.abs(audio.astype(np.float64)).max()) / 32768
            peaks[label] = round(20 * np.log10(max(peak, 1e-10)), 1)
            if peaks[label] < SILENT_DBFS:
                silent.append(label)
        return {"missing": missing, "silent": silent, "peak_dbfs": peaks}
    finally:
        synth.delete()


def child(name: str, work: Path) -> None:
    """Measure soundfont ``name`` on the pickled requests in ``work``; write ``work/<name>.json``."""
    from cues.pipelines.render.cue_renderer import CueRenderer
    from cues.schemas.config import RenderConfig

    requests = pickle.loads((work / "requests.pkl").read_bytes())
    melodic, kits = used_programs()
    before = rss_mb()
    renderer = CueRenderer(RenderConfig(soundfont=str(SOUNDFONTS[name])))
    first = requests[0][1]
    clock = time.perf_counter()
    renderer.synth(first.delivery.sample_rate)
    load_s = time.perf_counter() - clock
    loaded = rss_mb()
    cues = []
    for cue_id, request in requests:
        renderer.master_cue(request)  # warm-up: loads the synth for this stem count if it is new
        clock, cpu = time.perf_counter(), time.process_time()
        cue = renderer.master_cue(request)
        wall, cpu = time.perf_counter() - clock, time.process_time() - cpu
        audio_s = cue.mastered.mix.shape[-1] / cue.rate
        cues.append(
            {
                "cue": cue_id,
                "audio_s": round(audio_s, 3),
                "render_wall_s": round(wall, 3),
                "render_cpu_s": round(cpu, 3),
                "synth_wall_s": round(cue.timings["synth_s"], 3),
                # the synth pass's CPU, by its share of the wall time (as bench/render.py splits its stages)
                "synth_cpu_s": round(cpu * cue.timings["synth_s"] / sum(cue.timings.values()), 3),
                "loudness_lufs": round(cue.mastered.loudness_lufs, 2),
                **spectrum_figures(cue.mastered.mix, cue.rate),
            }
        )
        del cue
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    synths = len({(r.delivery.sample_rate, len(r.stems)) for _, r in requests})
    renderer.close()
    result = {
        "soundfont": name,
        "path": str(SOUNDFONTS[name]),
        "file_mb": round(SOUNDFONTS[name].resolve().stat().st_size / 1e6, 1),
        "load_s": round(load_s, 3),
        "rss_before_mb": round(before, 1),
        "rss_load_mb": round(loaded - before, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "synths_loaded": synths,
        "cues": cues,
        "coverage": probe(SOUNDFONTS[name], melodic, kits),
    }
    (work / f"{name}.json").write_text(json.dumps(result))


# --- the parent: compose, run the children, report ------------------------------------------------------------------


def reference_requests() -> list[tuple[str, object]]:
    """The reference cues composed with the default models, as the renderer's requests."""
    from quality import briefs  # bench/ on sys.path

    from cues.pipelines.compose.composer import ComposerModels, compose_cue
    from cues.pipelines.generate.cue_writer import audio_request

    models = ComposerModels.load()
    chosen = {b.id: b for b in briefs(180) if b.id in REFERENCE_BRIEFS}
    requests = []
    for brief_id in REFERENCE_BRIEFS:
        brief = chosen[brief_id]
        cue = compose_cue(brief, brief.seed, None, models)
        programs = sorted({(s.name, s.program) for s in cue.plan.stems if hasattr(s, "program")})
        print(f"{brief_id}: {'/'.join(brief.mood)} {brief.length.seconds:g} s, {brief.ending.value}, stems {programs}")
        requests.append((brief_id, audio_request(cue.plan, cue.midi, brief, "bench-soundfonts")))
    return requests


def summarise(name: str, runs: list[dict], baseline: list[dict] | None) -> dict:
    def rtf(run: dict, stage: str = "render_cpu_s") -> float:
        return sum(c["audio_s"] for c in run["cues"]) / sum(c[stage] for c in run["cues"])

    def synth_rtf(run: dict) -> float:
        return rtf(run, "synth_cpu_s")

    first = runs[0]
    row = {
        "soundfont": name,
        "file_mb": first["file_mb"],
        "load_s": statistics.median(r["load_s"] for r in runs),
        "rss_load_mb": statistics.median(r["rss_load_mb"] for r in runs),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
        "synths_loaded": first["synths_loaded"],
        "rtf_per_core": round(statistics.median(rtf(r) for r in runs), 1),
        "rtf_per_core_runs": [round(rtf(r), 1) for r in runs],
        "synth_rtf_per_core": round(statistics.median(synth_rtf(r) for r in runs), 1),
        "synth_rtf_per_core_runs": [round(synth_rtf(r), 1) for r in runs],
    }
    if baseline:  # per round, against the baseline's run of the same round
        pairs = list(zip(runs, baseline, strict=True))
        row["ratio_to_baseline"] = round(statistics.median(rtf(r) / rtf(b) for r, b in pairs), 3)
        row["synth_ratio_to_baseline"] = round(statistics.median(synth_rtf(r) / synth_rtf(b) for r, b in pairs), 3)
    for key in ("octave_flatness", "centroid_hz", "share_above_4k"):
        row[key] = round(float(np.mean([c[key] for c in first["cues"]])), 4)
    row["cues"] = [
        {k: v for k, v in c.items() if k not in ("render_wall_s", "render_cpu_s", "synth_wall_s", "synth_cpu_s")}
        | {stage: statistics.median(r["cues"][i][stage] for r in runs) for stage in ("render_cpu_s", "synth_cpu_s")}
        for i, c in enumerate(first["cues"])
    ]
    row["coverage"] = first["coverage"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="fresh child processes per soundfont")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.work)
        return

    installed = {}
    for name, path in SOUNDFONTS.items():
        if path.is_file():
            installed[name] = path
        else:
            print(f"skipped {name}: {path} is not installed (`{INSTALL[name]}`)")
    melodic, kits = used_programs()
    print(f"the palettes and effects use {len(melodic)} GM programs and {len(kits)} drum kits {sorted(kits)}")

    runs: dict[str, list[dict]] = {name: [] for name in installed}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "requests.pkl").write_bytes(pickle.dumps(reference_requests()))
        for _ in range(args.rounds):
            for name in installed:
                subprocess.run([sys.executable, __file__, "--child", name, "--work", str(work)], check=True)
                runs[name].append(json.loads((work / f"{name}.json").read_text()))

    rows = [summarise(name, runs[name], runs.get(BASELINE)) for name in installed]
    print(
        f"{'soundfont':<18} {'file':>6} {'load':>6} {'+RSS':>6} {'peak':>6} "
        f"{'render':>7} {'×':>5} {'synth':>6} {'×':>5} "
        f"{'missing':>8} {'silent':>7} {'oct.':>6} {'centroid':>9} {'>4 kHz':>7}"
    )
    used = f"of {len(melodic) + len(kits)}"
    print(
        f"{'':<18} {'MB':>6} {'s':>6} {'MB':>6} {'MB':>6} "
        f"{'RTF':>7} {BASELINE[:5]:>5} {'RTF':>6} {BASELINE[:5]:>5} {used:>8}"
        f" {'':>7} {'flat':>6} {'Hz':>9} {'%':>7}"
    )
    for r in rows:
        coverage = r["coverage"]
        print(
            f"{r['soundfont']:<18} {r['file_mb']:>6.0f} {r['load_s']:>6.2f} {r['rss_load_mb']:>6.0f} "
            f"{r['peak_rss_mb']:>6.0f} {r['rtf_per_core']:>6.0f}x {r.get('ratio_to_baseline', float('nan')):>5.2f} "
            f"{r['synth_rtf_per_core']:>5.0f}x {r.get('synth_ratio_to_baseline', float('nan')):>5.2f} "
            f"{len(coverage['missing']):>8} {len(coverage['silent']):>7} {r['octave_flatness']:>6.3f} "
            f"{r['centroid_hz']:>9.0f} {100 * r['share_above_4k']:>7.1f}"
        )
    for r in rows:
        coverage = r["coverage"]
        if coverage["missing"] or coverage["silent"]:
            print(f"{r['soundfont']}: missing {coverage['missing'] or 'none'}; silent {coverage['silent'] or 'none'}")
        per_cue = ", ".join(
            f"{c['cue']} {c['octave_flatness']:.3f}/{c['centroid_hz']:.0f} Hz/{100 * c['share_above_4k']:.1f} %"
            for c in r["cues"]
        )
        print(f"{r['soundfont']} per cue (flatness/centroid/>4 kHz): {per_cue}")
    RESULTS.mkdir(exist_ok=True)
    result = {
        "rounds": args.rounds,
        "reference_briefs": list(REFERENCE_BRIEFS),
        "programs": {str(p): where for p, where in melodic.items()},
        "kits": {str(k): where for k, where in kits.items()},
        "skipped": [name for name in SOUNDFONTS if name not in installed],
        "rows": rows,
    }
    (RESULTS / "soundfonts.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
