"""Benchmark of ``cues preprocess``: a plain loop, Ray with 1 worker and Ray with 2 workers, in one run.

Prints a table and writes ``bench/results/preprocess.json``. Targets (issue 3): speed-up 1 → 2 workers ≥ 1.7×,
Ray overhead at 1 worker ≤ 15 % over the plain loop, a complete re-run (cache hit) under 10 s.

    python bench/preprocess.py                 # the full default corpus (about half an hour on 2 cores)
    python bench/preprocess.py --limit 300     # the first 300 works of each collection
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from cues.pipelines.preprocess.pipeline import chunk_works, gather_works, process_chunk, run  # noqa: E402
from cues.schemas.config import PreprocessConfig  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def plain_loop(config: PreprocessConfig) -> tuple[float, int]:
    """The baseline: the same per-work function over the same chunks, in this process, no Ray."""
    works = gather_works(config)
    started = time.perf_counter()
    for chunk in chunk_works(works, config.chunk_size):
        process_chunk(chunk, config.steps_per_quarter)
    return time.perf_counter() - started, len(works)


def ray_run(config: PreprocessConfig, workers: int, store: str) -> tuple[float, bool]:
    started = time.perf_counter()
    result = run(config.model_copy(update={"workers": workers, "store": store}))
    return time.perf_counter() - started, result.cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="works per collection (default: all)")
    parser.add_argument("--keep", default=None, help="store URI for the 2-worker run's dataset (default: a temp dir)")
    args = parser.parse_args()
    config = PreprocessConfig(limit=args.limit)

    from cues.pipelines.ray_runtime import init_ray

    init_ray(num_cpus=2)
    rows = []
    plain_s, works = plain_loop(config)
    rows.append(("plain loop, no Ray", plain_s))
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as scratch:
        two = args.keep or scratch
        one_s, _ = ray_run(config, 1, one)
        rows.append(("Ray Data, 1 worker", one_s))
        two_s, _ = ray_run(config, 2, two)
        rows.append(("Ray Data, 2 workers", two_s))
        again_s, cached = ray_run(config, 2, two)
        rows.append(("re-run, complete dataset", again_s))

    result = {
        "works": works,
        "seconds": dict(rows),
        "works_per_second": {name: works / s for name, s in rows[:3]},
        "speedup_1_to_2_workers": one_s / two_s,
        "ray_overhead_1_worker": one_s / plain_s - 1,
        "rerun_seconds": again_s,
        "rerun_was_cache_hit": cached,
        "targets": {"speedup": 1.7, "ray_overhead": 0.15, "rerun_seconds": 10},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "limit": args.limit,
    }
    print(f"\n{'run':<28}{'seconds':>10}{'works/s':>10}")
    for name, seconds in rows:
        print(f"{name:<28}{seconds:>10.1f}{works / seconds:>10.1f}")
    print(
        f"\n{works} works; speed-up 1→2 workers {result['speedup_1_to_2_workers']:.2f}× (target ≥ 1.7), "
        f"Ray overhead at 1 worker {100 * result['ray_overhead_1_worker']:+.1f} % (target ≤ 15 %), "
        f"re-run {again_s:.1f} s (target < 10 s, cache hit: {cached})"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "preprocess.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
