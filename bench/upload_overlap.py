"""Benchmark of uploading a cue while the next one is made, against a store with network latency.

Each cue worker takes ``CUES_IN_FLIGHT`` cues at a time (``pipelines/generate/workers.py``): one is composed and
rendered while the previous one's files go to the store. On this machine the S3 test server answers at once, so
``bench/batch.py`` cannot show what that buys; here it sits behind ``lag_proxy.py``, which adds a round trip of
``--latency`` seconds to every request, as a real S3 across a network does. Runs the same batch with 2 workers
and 1, then 2, cues in flight per worker, alternating, and prints the throughput of each and their ratio; writes
``bench/results/upload_overlap.json``.

    python bench/upload_overlap.py [--briefs 24] [--latency 0.03] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from batch import RESULTS, briefs_yaml, pipeline, start_s3  # bench/batch.py: this script's folder is on sys.path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--briefs", type=int, default=24)
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added to every request's round trip")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    server, endpoint = start_s3()
    port = free_port()
    proxy = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "lag_proxy.py"),
            str(port),
            endpoint.rsplit(":", 1)[1],
            str(args.latency),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if proxy.stdout.readline().strip() != "ready":
            raise RuntimeError("the latency proxy did not start")
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"  # before Ray starts: its workers inherit it
        import cues.pipelines.generate.workers as workers
        from cues.pipelines.ray_runtime import init_ray

        init_ray(num_cpus=2)
        rates: dict[int, list[float]] = {1: [], 2: []}
        with tempfile.TemporaryDirectory() as tmp:
            briefs = Path(tmp) / "briefs.yaml"
            briefs.write_text(briefs_yaml(args.briefs))
            for _ in range(args.repeats):
                for in_flight in (1, 2):
                    workers.CUES_IN_FLIGHT = in_flight  # read by the pool, in this process
                    row = pipeline(briefs, 2)
                    rates[in_flight].append(row["audio_s"] / row["wall_s"])
                    print(f"{in_flight} in flight: {row['wall_s']:.1f} s, {rates[in_flight][-1]:.2f} audio s / s")
    finally:
        proxy.kill()
        server.stdin.close()
        server.wait(timeout=10)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"\n{'cues in flight per worker':<28} {'audio s / wall s (median)':>26}")
    print(f"{'1 (upload, then the next)':<28} {one:>26.2f}")
    print(f"{'2 (upload during the next)':<28} {two:>26.2f}")
    print(f"gain with {args.latency * 1000:.0f} ms per request: {two / one:.2f}×")
    RESULTS.mkdir(exist_ok=True)
    result = {"briefs": args.briefs, "latency_s": args.latency, "rates": rates, "gain": two / one}
    (RESULTS / "upload_overlap.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
