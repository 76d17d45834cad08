"""The cue worker pool when Ray cannot give it what it asks for, or takes it away: a pool larger than the local Ray,
a worker a cluster cannot place, a worker killed by Ray's memory monitor, and a batch stopped by Ctrl-C or SIGTERM.

The cluster, memory and signal cases run `cues` in a subprocess with a Ray of its own (a head started with `ray
start`, or the local instance the subprocess starts): they need settings the session's Ray does not have."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cues.pipelines.generate.job import run
from cues.schemas.batch import read_batch_record
from cues.schemas.config import GenerateConfig
from cues.services.cli.app import app
from tests.conftest import free_port
from tests.test_batch import short_briefs

pytestmark = pytest.mark.ray
CUES = Path(sys.executable).parent / "cues"
RAY = [sys.executable, "-m", "ray.scripts.scripts"]  # the `ray` command


def our_worker_pids() -> list[int]:
    """Cue worker processes of this process's local Ray: ``ray::CueWorker…`` titled children of its raylet, which
    this process started (other Rays on the machine have their own)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes()
            parent = _parent(int(entry))
            if title.startswith(b"ray::CueWorker") and _parent(parent) == os.getpid():
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def _parent(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    # CI=1 as on the CI runner, where pyfluidsynth prints to stdout when imported unless we stop it
    return {**env, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "CI": "1", **extra}


# --- sizing -------------------------------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_one_brief_with_variations_runs_on_as_many_workers_as_asked(ray_session, tmp_path):
    (tmp_path / "b.yaml").write_text("id: varied\nmedium: ad\nmood: calm\nlength: 4\nvariations: 3\n")
    seen: list[int] = []
    record = run(
        GenerateConfig(sources=(str(tmp_path / "b.yaml"),), store=str(tmp_path / "store"), workers=2),
        lambda stage, done, total: seen.append(len(our_worker_pids())),
    )
    assert [(r.cue_id, r.ok) for r in record.results] == [("varied", True), ("varied-v2", True), ("varied-v3", True)]
    assert seen and seen[0] == 2  # one brief, three cues: two workers, as asked


@pytest.mark.timeout(300)
def test_a_pool_larger_than_the_local_ray_is_capped_with_a_warning(ray_session, tmp_path, caplog):
    briefs = short_briefs(tmp_path, 8, length=4)
    seen: list[int] = []
    record = run(
        GenerateConfig(sources=(str(briefs),), store=str(tmp_path / "store"), workers=8),  # 8 x 0.5 CPU on 2
        lambda stage, done, total: seen.append(len(our_worker_pids())),
    )
    assert all(r.ok for r in record.results), [r.error for r in record.results]
    assert max(seen) == 4
    assert (
        "the pool was capped at 4 cue worker(s): 8 workers of 0.5 CPUs do not fit in the local Ray's 2 CPUs"
        in caplog.messages
    )


@pytest.mark.timeout(120)
def test_a_worker_larger_than_the_local_ray_is_refused(ray_session, tmp_path):
    briefs = short_briefs(tmp_path, 2, length=4)
    store = tmp_path / "store"
    result = CliRunner().invoke(app, ["submit", str(briefs), "--store", str(store), "--worker-cpus", "4"])
    assert result.exit_code == 2, result.output
    assert result.output.split("\n\n") == [  # the store it writes to, then (after the progress bar) the error
        f"store: {store} (new)",
        "Error: --worker-cpus 4 does not fit: each cue worker asks Ray for 4 CPUs and the local Ray has 2; pass "
        "--worker-cpus 2 or less\n",
    ]
    assert not (store / "cues").exists()


# A job on a cluster: RAY_ADDRESS is set, so the pool is not capped; what Ray cannot place must time out.
ON_CLUSTER = """
import json, logging, sys
from cues.pipelines.generate.job import run
from cues.schemas.config import GenerateConfig
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
briefs, store, workers, cpus, timeout = sys.argv[1:]
config = GenerateConfig(
    sources=(briefs,), store=store, workers=workers, worker_cpus=cpus, worker_start_timeout_s=timeout
)
record = run(config)
print(json.dumps({"folder": record.folder, "results": [[r.cue_id, r.ok, r.error] for r in record.results]}))
"""


@pytest.fixture
def one_cpu_cluster():
    """A Ray head with one CPU, started with `ray start --block` (stopping it stops only its processes) in a temp
    dir of its own: `ray start` records its address there, and a `ray.init()` elsewhere on this machine that finds
    it in /tmp/ray would join it instead of starting its own."""
    temp_dir = tempfile.mkdtemp(prefix="ray-head-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    port = free_port()
    head = subprocess.Popen(
        [
            *RAY,
            "start",
            "--head",
            "--block",
            f"--port={port}",
            f"--temp-dir={temp_dir}",
            "--num-cpus=1",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Ready when `ray start` has recorded its address (after its raylet is up): the job's driver no longer imports
    # torch before it joins (issue 18), and on a busy machine the head takes 15 s or more to start.
    deadline = time.monotonic() + 120
    while not Path(temp_dir, "ray_current_cluster").exists() and head.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    yield f"127.0.0.1:{port}"
    head.send_signal(signal.SIGTERM)
    try:
        head.wait(timeout=60)
    except subprocess.TimeoutExpired:
        head.kill()
    shutil.rmtree(temp_dir, ignore_errors=True)


def on_cluster(address: str, briefs: Path, store: Path, workers: int, cpus: float, timeout: float):
    done = subprocess.run(
        [sys.executable, "-c", ON_CLUSTER, str(briefs), str(store), str(workers), str(cpus), str(timeout)],
        capture_output=True,
        text=True,
        timeout=240,
        env=subprocess_env(RAY_ADDRESS=address),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.mark.timeout(600)
def test_on_a_cluster_a_worker_that_cannot_start_times_out_and_the_others_take_its_cues(one_cpu_cluster, tmp_path):
    briefs = short_briefs(tmp_path, 4, length=4)
    # two workers of 0.6 CPU on one CPU: one starts, the other never will; the batch runs on the one
    outcome, log = on_cluster(one_cpu_cluster, briefs, tmp_path / "store", 2, 0.6, 600)
    assert [ok for _, ok, _ in outcome["results"]] == [True] * 4, outcome
    assert (
        "1 cue worker(s) did not start before the batch ended: each asks Ray for 0.6 CPU and the cluster has 0.4 of "
        "1 CPUs free; add CPUs or nodes, or pass fewer --workers or a smaller --worker-cpus; the 1 that started do "
        "the cues"
    ) in log
    # one worker of 2 CPUs on one CPU: none starts; every cue fails with the reason, and the batch is recorded
    outcome, log = on_cluster(one_cpu_cluster, briefs, tmp_path / "none", 1, 2, 3)
    reason = (
        "1 cue worker(s) did not start within 3 s: each asks Ray for 2 CPU and the cluster has 1 of 1 CPUs free; "
        "add CPUs or nodes, or pass fewer --workers or a smaller --worker-cpus"
    )
    assert outcome["results"] == [[f"short-{i}", False, reason] for i in range(4)]
    record = read_batch_record((tmp_path / "none" / outcome["folder"] / "batch.json").read_bytes())
    assert record.status == "rendered with failures" and len(record.failed_cues) == 4
    assert (tmp_path / "none" / outcome["folder"] / "_SUCCESS").exists()


# --- memory -------------------------------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_workers_killed_by_rays_memory_monitor_fail_their_cues_with_advice_and_the_batch_is_recorded(tmp_path):
    briefs = short_briefs(tmp_path, 2, length=4)
    store = tmp_path / "store"
    # A threshold of 2 % of the machine's memory: Ray's memory monitor kills every worker it sees.
    done = subprocess.run(
        [CUES, "submit", str(briefs), "--store", str(store), "--workers", "1", "--num-cpus", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        env=subprocess_env(RAY_memory_usage_threshold="0.02"),
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout
    [batch] = list((store / "batches").iterdir())
    record = read_batch_record((batch / "batch.json").read_bytes())
    assert [r.cue_id for r in record.failed_cues] == ["short-0", "short-1"]
    for result in record.failed_cues:
        assert re.fullmatch(
            r"no cue worker could start: out of memory: Ray's memory monitor killed its worker on [\d.]+: "
            r"[\d.]+GB used / [\d.]+GB limit, over its kill threshold of 2\.0%; run fewer workers \(--workers\), "
            r"give the nodes more memory, or make the cue shorter",
            result.error,
        ), result.error
    assert "out of memory" in done.stdout


# --- signals ------------------------------------------------------------------------------------------------


@pytest.mark.timeout(600)
# SIGTERM only: Ctrl-C (SIGINT) goes through the same handler to exit 128 + 2; each case costs a batch (~30 s) in a
# suite held under CI's 15 minutes.
@pytest.mark.parametrize(("stop", "status"), [(signal.SIGTERM, 143)])
def test_a_batch_stopped_by_a_signal_says_what_was_delivered_and_a_rerun_finishes_it(
    ray_session, tmp_path, stop, status
):
    briefs = short_briefs(tmp_path, 6, length=4)
    store = tmp_path / "store"
    batch = subprocess.Popen(
        [CUES, "submit", str(briefs), "--store", str(store), "--workers", "1", "--num-cpus", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    deadline = time.monotonic() + 240
    while not list(store.glob("cues/*/*/manifest.json")):  # the first cue is delivered
        assert batch.poll() is None and time.monotonic() < deadline, batch.communicate()
        time.sleep(0.2)
    time.sleep(1)  # for its result to reach the driver, which counts it
    batch.send_signal(stop)
    stdout, stderr = batch.communicate(timeout=120)
    assert batch.returncode == status, stderr[-3000:]
    assert "Traceback" not in stderr and "SIGTERM received" not in stderr, stderr[-3000:]
    line = re.fullmatch(
        rf"Stopped by {stop.name}: (\d) of 6 cues delivered, the workers closed, no batch record written; run the "
        r"same command again to finish the rest \(cues already delivered are skipped\)\.",
        stderr.strip().splitlines()[-1],
    )
    assert line, stderr[-3000:]
    assert stdout == "" and not (store / "batches").exists()

    in_store = len(list(store.glob("cues/*/*/manifest.json")))
    assert 1 <= int(line.group(1)) <= in_store < 6
    again = run(GenerateConfig(sources=(str(briefs),), store=str(store)))
    assert all(r.ok for r in again.results)
    assert sum(r.skipped for r in again.results) == in_store
