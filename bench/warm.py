"""Benchmark of iterating on one short brief (issue 18): a 7 s sting submitted cold, then on a warm runtime.

Runs the real CLI as a user does, each command in its own process, and times it from the outside (wall):

- **cold**: `cues submit --cold` of the sting into a fresh store: made in the `cues` process, no Ray started (the
  batch record's ``runtime`` is checked);
- **cold, on Ray**: the same with ``--ray`` (a Ray of its own, a worker that loads the models), for comparison;
- **up**: `cues up --workers 1` (the head, a warm worker with its models and synth, its soundcheck);
- **warm, same brief**: the same brief into a fresh store (nothing skipped: the whole cue is made again);
- **warm, changed brief**: the brief with another seed each time (new music), into one store;
- **down**: `cues down`.

Each row is the median of ``--runs`` runs (cold: ``--cold-runs``), with the batch's own wall time (``wall_s`` in
its record: from reading the briefs to the record written), the worker's time making the cue (the manifest's
``timings_s``), so that the rest (starting Python, importing the CLI, joining Ray) shows, and the CPU seconds of the
command's process (what a busy machine does not inflate as much as the wall time). It also checks that the warm
worker's files are byte for byte the cold run's. The runtime uses its own
temp dir and free ports, so it touches no other Ray on the machine. Writes ``bench/results/warm.json``. Targets: warm
re-submit ≤ 3 s, cold ≤ 8 s.

    python bench/warm.py [--runs 5] [--cold-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
CUES = Path(sys.executable).parent / "cues"
STING = """version: 1
id: bench-sting
title: Warm bench sting
medium: tv
mood: playful
length: 7
key: F major
ending: button
instruments: [mallets, bass]
seed: {seed}
"""
TARGETS_S = {"warm, same brief": 3.0, "warm, changed brief": 3.0, "cold": 8.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds of wall time and of CPU (user + system, of the command's process and the children it waited for) of
    ``command``; raises with its output when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    seconds = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def submit(brief: Path, store: Path, env: dict[str, str], *extra: str) -> dict:
    """One `cues submit`: its wall time, the batch's own, and the worker's making of the cue (all seconds)."""
    wall, cpu = timed([str(CUES), "submit", str(brief), "--store", str(store), *extra], env)
    [batch] = (store / "batches").glob("*/batch.json")
    record = json.loads(batch.read_text())
    [result] = record["results"]
    manifest = json.loads((store / result["prefix"] / "manifest.json").read_text())
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "batch_s": record["wall_s"],
        "making_s": sum(seconds for name, seconds in manifest["timings_s"].items() if name != "upload_s"),
        "skipped": result["skipped"],
        "files": {name: entry["sha256"] for name, entry in manifest["files"].items()},
        "runtime": record.get("runtime"),
    }


def median_row(name: str, runs: list[dict]) -> dict:
    row = {"step": name, "runs": len(runs)}
    for key in ("wall_s", "cpu_s", "batch_s", "making_s"):
        values = [run[key] for run in runs if key in run]
        if values:
            row[key] = round(statistics.median(values), 2)
    row["wall_all_s"] = [round(run["wall_s"], 2) for run in runs]
    if name in TARGETS_S:
        row["target_s"] = TARGETS_S[name]
        row["met"] = row["wall_s"] <= TARGETS_S[name]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="warm submits of each kind")
    parser.add_argument("--cold-runs", type=int, default=3, help="cold submits")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-warm-"))
    runtime = tempfile.mkdtemp(prefix="cw-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    env = {**os.environ, "CUES_RUNTIME_DIR": runtime, "RAY_USAGE_STATS_ENABLED": "0", "CI": "1"}
    env.pop("RAY_ADDRESS", None)
    brief = work / "sting.yaml"
    brief.write_text(STING.format(seed=7))
    rows = []
    load_before = os.getloadavg()
    try:
        cold = [submit(brief, work / f"cold-{i}", env, "--cold") for i in range(args.cold_runs)]
        rows.append(median_row("cold", cold))
        on_ray = [submit(brief, work / f"ray-{i}", env, "--cold", "--ray") for i in range(args.cold_runs)]
        rows.append(median_row("cold, on Ray (--ray)", on_ray))
        runtimes = sorted({run["runtime"] for run in cold + on_ray})
        low = free_port()
        wall, cpu = timed(
            [str(CUES), "up", "--workers", "1", "--port", str(free_port()), "--worker-ports", f"{low}-{low + 30}"], env
        )
        rows.append(median_row("up", [{"wall_s": wall, "cpu_s": cpu}]))
        same = [submit(brief, work / f"same-{i}", env) for i in range(args.runs)]
        rows.append(median_row("warm, same brief", same))
        identical = all(run["files"] == cold[0]["files"] for run in same + on_ray)  # warm, cold, on Ray: same bytes
        changed = []
        for i in range(args.runs):
            other = work / f"changed-{i}.yaml"
            other.write_text(STING.format(seed=100 + i))
            changed.append(submit(other, work / f"changed-{i}", env))
        rows.append(median_row("warm, changed brief", changed))
    finally:
        down, down_cpu = timed([str(CUES), "down"], env)
        shutil.rmtree(runtime, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    rows.append(median_row("down", [{"wall_s": down, "cpu_s": down_cpu}]))
    print(f"{'step':22} {'runs':>4} {'wall s':>7} {'CPU s':>6} {'batch s':>8} {'making s':>9}  target")
    for row in rows:
        target = f"≤ {row['target_s']:g} s {'met' if row['met'] else 'MISSED'}" if "target_s" in row else ""
        batch, making = row.get("batch_s", ""), row.get("making_s", "")
        print(
            f"{row['step']:22} {row['runs']:>4} {row['wall_s']:>7} {row['cpu_s']:>6.2f} {batch!s:>8} {making!s:>9}  "
            f"{target}"
        )
    load = os.getloadavg()
    print(f"cold runs made in: {', '.join(runtimes)}")
    print(f"warm, cold and on-Ray files byte-identical: {identical}")
    print(f"load average before {load_before[0]:.1f}, after {load[0]:.1f} ({os.cpu_count()} cores)")
    RESULTS.mkdir(exist_ok=True)
    result = {
        "rows": rows,
        "identical": identical,
        "cold_runtimes": runtimes,
        "load_average": [load_before[0], load[0]],
        "cpus": os.cpu_count(),
    }
    (RESULTS / "warm.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
