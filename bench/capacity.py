"""Capacity estimate for running cues on a cluster, from the batch benchmark's measured throughput.

Reads ``bench/results/batch.json`` (``bench/batch.py``): the seconds of finished audio the whole pipeline delivers
per second of one core (compose, render, master, encode, upload to S3, manifests), and, if present,
``bench/results/quality.json`` (``bench/quality.py``): the composer's CPU seconds per minute of music. From those it
works out, for a daily volume of cues of a given length, the cores and nodes needed, the S3 request rate against
S3's per-prefix limit, the bytes each node sends to S3, and the models' share of the work, and names the
bottleneck. Prints a table and writes ``bench/results/capacity.json``.

    python bench/capacity.py [--cues-per-day 10000] [--cue-length 60] [--node-vcpus 16] [--utilisation 0.7]
    python bench/capacity.py --audio-per-core-s 18.5      # without a batch.json: a throughput measured elsewhere

The arithmetic is :func:`estimate`, a pure function of :class:`Measured` and :class:`Target`.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
DAY_S = 86_400.0

# S3's documented request rates per partitioned prefix (requests per second). S3 splits a busy prefix by itself;
# cue keys (cues/<cue-id>/<render-key>/…) differ early, so that split has somewhere to go.
S3_PUT_PER_PREFIX = 3_500.0
S3_GET_PER_PREFIX = 5_500.0
# Composition CPU seconds per 60 s of music, the figure bench/quality.py measured for issue 5 (used when no
# bench/results/quality.json exists).
COMPOSE_CPU_S_PER_MIN = 0.46
STEMS = 4  # melody, harmony, bass, percussion
MP3_KBPS = 192  # the preview's bit rate (pipelines/render/audio_files.py)
SMALL_FILES_BYTES = 150_000  # cue.mid, plan.json, pianoroll.png and manifest.json together, about


@dataclass(frozen=True)
class Measured:
    """What the benchmarks measured on one machine."""

    audio_s_per_core_s: float  # seconds of delivered audio per second of one core, whole pipeline into S3
    compose_cpu_s_per_min: float  # CPU seconds of composition (the models' inference) per 60 s of music
    source: str  # where the numbers came from


@dataclass(frozen=True)
class Target:
    """The load to plan for, and the machines to plan with."""

    cues_per_day: float = 10_000  # cues delivered per day
    cue_length_s: float = 60.0  # seconds of music per cue
    window_h: float = 24.0  # hours a day's cues may take (24: a steady daily flow)
    node_vcpus: int = 16  # vCPUs per worker node (c7i.4xlarge), one cue actor per vCPU
    utilisation: float = 0.7  # share of the cores planned busy: headroom for spot losses, skew, the last cues
    node_network_gbit: float = 12.5  # the node's network bandwidth, Gbit/s ("up to", AWS's figure for c7i.4xlarge)
    sample_rate: int = 48_000  # Hz, the delivery default
    bit_depth: int = 24  # bits per sample of the WAV files
    channels: int = 2  # stereo
    flac: bool = False  # FLAC copies of the mix and the stems as well


def files_per_cue(target: Target) -> int:
    """Objects one cue writes (``pipelines/generate/cue_writer.py``): cue.mid, plan.json, pianoroll.png, mix.wav,
    preview.mp3, one WAV per stem, manifest.json; with FLAC, mix.flac and one FLAC per stem too. Each is one PUT:
    the store writes a cue's files with single PUTs (``put_bytes``), never in multipart parts."""
    return 6 + STEMS + (1 + STEMS if target.flac else 0)


def bytes_per_cue(target: Target) -> float:
    """Bytes one cue writes: the WAVs (mix and stems) at the delivery format, the MP3 preview, the small files.
    FLAC copies are counted at the size of the WAVs, an upper bound."""
    wav = target.cue_length_s * target.sample_rate * target.channels * target.bit_depth / 8
    wavs = (1 + STEMS) * wav * (2 if target.flac else 1)
    return wavs + target.cue_length_s * MP3_KBPS * 1000 / 8 + SMALL_FILES_BYTES


def estimate(measured: Measured, target: Target) -> dict:
    """Cores, nodes, S3 requests, network and the models' share for ``target``; pure arithmetic.

    Core-seconds per cue = cue length / audio seconds per core-second. Cores = the day's core-seconds over the
    window, divided by the utilisation; nodes round up. The S3 and network rates are those of the nodes working
    flat out (what the cluster can reach, not the daily average), since a batch runs as fast as it can.
    """
    core_s_per_cue = target.cue_length_s / measured.audio_s_per_core_s
    window_s = target.window_h * 3600
    cores = target.cues_per_day * core_s_per_cue / window_s / target.utilisation
    nodes = max(1, math.ceil(cores / target.node_vcpus))
    peak_cues_per_s = nodes * target.node_vcpus / core_s_per_cue
    puts_per_s = peak_cues_per_s * files_per_cue(target)
    heads_per_s = peak_cues_per_s  # one HEAD per cue: is its manifest there already?
    node_bytes_per_s = target.node_vcpus / core_s_per_cue * bytes_per_cue(target)
    node_network_share = node_bytes_per_s * 8 / (target.node_network_gbit * 1e9)
    compose_s_per_cue = measured.compose_cpu_s_per_min * target.cue_length_s / 60
    # Cores at which the cluster's PUTs reach one prefix's limit.
    cores_at_put_limit = S3_PUT_PER_PREFIX / files_per_cue(target) * core_s_per_cue
    if puts_per_s > S3_PUT_PER_PREFIX:
        bottleneck = "S3 PUT rate of one prefix (S3 splits busy prefixes; expect 503 SlowDown retries meanwhile)"
    elif node_network_share > target.utilisation:
        bottleneck = "node network bandwidth to S3"
    else:
        bottleneck = "rendering CPU"
    return {
        "cues_per_day": target.cues_per_day,
        "cue_length_s": target.cue_length_s,
        "core_s_per_cue": core_s_per_cue,
        "core_hours_per_day": target.cues_per_day * core_s_per_cue / 3600,
        "cores": cores,
        "nodes": nodes,
        "hours_for_the_day_on_those_nodes": target.cues_per_day / peak_cues_per_s / 3600,
        "peak_cues_per_s": peak_cues_per_s,
        "files_per_cue": files_per_cue(target),
        "s3_puts_per_s": puts_per_s,
        "s3_put_share_of_prefix_limit": puts_per_s / S3_PUT_PER_PREFIX,
        "s3_heads_per_s": heads_per_s,
        "s3_puts_per_day": target.cues_per_day * files_per_cue(target),
        "cores_at_put_limit": cores_at_put_limit,
        "bytes_per_cue": bytes_per_cue(target),
        "node_mbytes_per_s": node_bytes_per_s / 1e6,
        "node_network_share": node_network_share,
        "compose_cpu_s_per_cue": compose_s_per_cue,
        "compose_share_of_cpu": compose_s_per_cue / core_s_per_cue,
        "bottleneck": bottleneck,
    }


def measured_from(results: Path, audio_per_core_s: float | None, compose_cpu_s_per_min: float | None) -> Measured:
    """The measured numbers: from the command line where given, else from the benchmark results in ``results``.

    From ``batch.json`` the slower of one worker's rate and two workers' rate per worker (both into S3), so the
    estimate does not assume more than a core was seen to deliver; ``FileNotFoundError`` if it is missing and no
    ``audio_per_core_s`` is given.
    """
    sources = []
    if audio_per_core_s is None:
        batch = json.loads((results / "batch.json").read_text())
        rows = batch["rows"]
        one = rows["pipeline, 1 worker"]
        two = rows["pipeline, 2 workers"]
        audio_per_core_s = min(one["audio_s"] / one["wall_s"], two["audio_s"] / two["wall_s"] / 2)
        sources.append(f"{results / 'batch.json'} (pipeline into S3, 1 and 2 workers)")
    else:
        sources.append("--audio-per-core-s")
    if compose_cpu_s_per_min is None:
        quality = results / "quality.json"
        if quality.exists():
            compose_cpu_s_per_min = json.loads(quality.read_text())["cpu_s_per_minute_of_music"]
            sources.append(str(quality))
        else:
            compose_cpu_s_per_min = COMPOSE_CPU_S_PER_MIN
            sources.append(f"composition {COMPOSE_CPU_S_PER_MIN} CPU s/min (bench/quality.py, issue 5)")
    return Measured(audio_per_core_s, compose_cpu_s_per_min, "; ".join(sources))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of batch.json, quality.json")
    parser.add_argument("--audio-per-core-s", type=float, default=None, help="instead of batch.json's figure")
    parser.add_argument("--compose-cpu-s-per-min", type=float, default=None, help="instead of quality.json's")
    parser.add_argument(
        "--cues-per-day", type=float, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000], help="volumes"
    )
    parser.add_argument("--cue-length", type=float, default=60.0, help="seconds of music per cue")
    parser.add_argument("--window-hours", type=float, default=24.0)
    parser.add_argument("--node-vcpus", type=int, default=16, help="vCPUs per worker node (c7i.4xlarge: 16)")
    parser.add_argument("--node-gbit", type=float, default=12.5, help="node network bandwidth, Gbit/s")
    parser.add_argument("--utilisation", type=float, default=0.7)
    parser.add_argument("--flac", action="store_true", help="cues delivered with FLAC copies too")
    args = parser.parse_args()

    measured = measured_from(args.results, args.audio_per_core_s, args.compose_cpu_s_per_min)
    rows = [
        estimate(
            measured,
            Target(
                cues_per_day=volume,
                cue_length_s=args.cue_length,
                window_h=args.window_hours,
                node_vcpus=args.node_vcpus,
                utilisation=args.utilisation,
                node_network_gbit=args.node_gbit,
                flac=args.flac,
            ),
        )
        for volume in args.cues_per_day
    ]
    first = rows[0]
    print(f"measured: {measured.audio_s_per_core_s:.2f} s of audio per core-second; {measured.source}")
    print(
        f"per {args.cue_length:g} s cue: {first['core_s_per_cue']:.2f} core-seconds, of which composition (model "
        f"inference) {first['compose_cpu_s_per_cue']:.2f} s ({first['compose_share_of_cpu']:.0%}); "
        f"{first['files_per_cue']} PUTs, {first['bytes_per_cue'] / 1e6:.1f} MB"
    )
    print(
        f"plan: {args.node_vcpus}-vCPU nodes at {args.utilisation:.0%} utilisation, a {args.window_hours:g} h "
        f"window; S3 rates with the nodes flat out; one prefix takes {S3_PUT_PER_PREFIX:,.0f} PUT/s "
        f"(reached at {first['cores_at_put_limit']:,.0f} busy cores)\n"
    )
    print(
        f"{'cues/day':>10} {'core-h/day':>11} {'cores':>8} {'nodes':>6} {'hours':>6} {'PUT/s':>8} "
        f"{'of prefix':>9} {'node MB/s':>10} {'of NIC':>7}  bottleneck"
    )
    for r in rows:
        print(
            f"{r['cues_per_day']:>10,.0f} {r['core_hours_per_day']:>11,.1f} {r['cores']:>8,.1f} {r['nodes']:>6} "
            f"{r['hours_for_the_day_on_those_nodes']:>6.1f} {r['s3_puts_per_s']:>8,.0f} "
            f"{r['s3_put_share_of_prefix_limit']:>9.0%} {r['node_mbytes_per_s']:>10,.0f} "
            f"{r['node_network_share']:>7.0%}  {r['bottleneck']}"
        )
    args.results.mkdir(parents=True, exist_ok=True)
    out = {"measured": asdict(measured), "target_defaults": asdict(Target()), "rows": rows}
    (args.results / "capacity.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
