"""Benchmark of the HTTP API under load (issue 19): N concurrent clients submit short briefs and poll until delivered.

Starts the real service (``cues.services.api.app.deploy``: Ray Serve's proxy on a free port, one warm worker per
``--workers``) on a Ray of its own and a fresh local store, then runs ``--clients`` threads, each with its own
``httpx`` client and token: each submits ``--batches`` batches of one 4 s sting (its own seed: new music each time)
and polls ``GET /v1/batches/{id}`` every ``--poll`` seconds until the batch ends. Every client's connection is made
before a barrier, so the first POSTs leave together (twenty clients are twenty machines: making twenty ``httpx``
clients, 30-40 ms of CPU each, inside the timed window would time this process's own GIL). Reports, per call kind
(``POST /v1/batches``, ``GET /v1/batches/{id}``), p50/p95/max latency in ms, and for delivery (POST → the poll that
saw it finished) p50/p95/max in seconds; throughput (batches and seconds of audio delivered per minute); and lost
batches (accepted, never seen finished within ``--timeout``: the target is 0). Target: p95 of POST ≤ 200 ms with 20
clients.

The split of a POST: the service's ``Server-Timing`` header (when it sends one) gives the app's milliseconds and its
parts (``wait`` for a thread, ``check`` the briefs, ``store`` the writes); ``outside`` is the client's time less the
app's (Serve's proxy, the hop to the replica, this process). And the CPU seconds each process spent during the run
(Serve's proxy, the replica, the cue workers, this process), from ``/proc``. Writes ``bench/results/api_load.json``
(or ``--out``).

Not measured here (issue 19's fault half): a worker killed mid-batch and the store away for seconds.

    python bench/api_load.py [--clients 20] [--batches 1] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from cues.pipelines.ray_runtime import init_ray, shutdown_ray
from cues.services.api.app import deploy, undeploy
from cues.services.api.auth import add_token
from cues.services.api.settings import ApiSettings

RESULTS = Path(__file__).parent / "results"
STING = "id: load-{client}-{batch}\nmedium: tv\nmood: playful\nlength: 4\nseed: {seed}\n"
FINAL = ("delivered", "partial", "failed")
POST_TARGET_MS = 200.0
PROCESSES = {"proxy": "ray::ProxyActor", "replica": "ray::ServeReplica:cues-api", "workers": "ray::CueWorker"}
TIMING = re.compile(r"([a-z]+);dur=([0-9.]+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_run(http: httpx.Client, client: int, batches: int, poll_s: float, timeout_s: float, start: threading.Barrier,
               out: dict) -> None:
    """One client's batches, one after another, from ``start``; every call's latency, each POST's Server-Timing
    parts and each batch's outcome go into ``out``."""
    start.wait()
    with http:
        for batch in range(batches):
            body = STING.format(client=client, batch=batch, seed=1000 * client + batch)
            started = time.perf_counter()
            answer = http.post("/v1/batches", content=body)
            took = (time.perf_counter() - started) * 1000
            out["post_ms"].append(took)
            parts = {name: float(ms) for name, ms in TIMING.findall(answer.headers.get("server-timing", ""))}
            if "app" in parts:
                out["post_parts"].append({**parts, "outside": took - parts["app"]})
            if answer.status_code != 202:
                out["refused"].append(answer.text)
                continue
            batch_id = answer.json()["batch_id"]
            state, deadline = None, time.monotonic() + timeout_s
            while state not in FINAL and time.monotonic() < deadline:
                time.sleep(poll_s)
                asked = time.perf_counter()
                state = http.get(f"/v1/batches/{batch_id}").json()["state"]
                out["get_ms"].append((time.perf_counter() - asked) * 1000)
            out["outcomes"].append({"batch_id": batch_id, "state": state, "delivery_s": time.perf_counter() - started})


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) so far of Serve's proxy, the service's replica and the cue workers (summed by
    kind), and of this process, read from ``/proc``."""
    tick = os.sysconf("SC_CLK_TCK")
    found = dict.fromkeys(PROCESSES, 0.0)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            kind = next((k for k, prefix in PROCESSES.items() if command.startswith(prefix)), None)
            if kind:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                found[kind] += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        except OSError:
            continue  # gone meanwhile
    times = os.times()
    return {**found, "bench": times.user + times.system}


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=20, method="inclusive") if len(ordered) > 1 else [ordered[0]] * 19
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 1), "p95": round(cut[18], 1),
            "max": round(ordered[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--batches", type=int, default=1, help="batches per client, one after another")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between a client's status polls")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a batch may take before it is lost")
    parser.add_argument("--out", type=Path, default=RESULTS / "api_load.json", help="where the JSON goes")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    folder = Path(tempfile.mkdtemp(prefix="cues-api-load-"))
    tokens = folder / "tokens.yaml"
    names = [add_token(tokens, f"client-{i}", requests_per_minute=6000) for i in range(args.clients)]
    settings = ApiSettings(store=str(folder / "store"), tokens_file=tokens, port=free_port(), workers=args.workers)
    init_ray(num_cpus=os.cpu_count())
    try:
        url = deploy(settings)
        while httpx.get(f"{url}/readyz").status_code != 200:
            time.sleep(0.5)
        out = {"post_ms": [], "post_parts": [], "get_ms": [], "outcomes": [], "refused": []}
        clients = [httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}",
                                                                    "Content-Type": "application/yaml"})
                   for token in names]
        start = threading.Barrier(len(clients) + 1)
        runs = [(http, i, args.batches, args.poll, args.timeout, start, out) for i, http in enumerate(clients)]
        threads = [threading.Thread(target=client_run, args=run) for run in runs]
        for thread in threads:
            thread.start()
        cpu_before = cpu_seconds()
        start.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        cpu = {kind: round(spent - cpu_before[kind], 2) for kind, spent in cpu_seconds().items()}
    finally:
        undeploy()
        shutdown_ray()
    delivered = [o for o in out["outcomes"] if o["state"] == "delivered"]
    lost = [o for o in out["outcomes"] if o["state"] not in FINAL]
    result = {
        "clients": args.clients, "batches_per_client": args.batches, "workers": args.workers, "wall_s": round(wall, 1),
        "post_ms": percentiles(out["post_ms"]), "get_ms": percentiles(out["get_ms"]),
        "delivery_s": percentiles([o["delivery_s"] for o in out["outcomes"]]),
        "post_parts_ms": {name: percentiles([p[name] for p in out["post_parts"] if name in p])
                          for name in dict.fromkeys(k for p in out["post_parts"] for k in p)},
        "cpu_s": cpu,
        "batches_per_min": round(60 * len(delivered) / wall, 2),
        "audio_s_per_min": round(60 * 4 * len(delivered) / wall, 1),
        "accepted": len(out["outcomes"]), "delivered": len(delivered), "lost": len(lost), "refused": out["refused"],
        "load_average": os.getloadavg(), "cores": os.cpu_count(),
    }
    print(f"{'call':22} {'n':>5} {'p50':>8} {'p95':>8} {'max':>8}")
    for name, unit in (("post_ms", "ms"), ("get_ms", "ms"), ("delivery_s", "s")):
        row = result[name]
        cells = " ".join(f"{row.get(k, '-'):>8}" for k in ("p50", "p95", "max"))
        print(f"{name:22} {row['n']:>5} {cells} {unit}")
    for name, row in result["post_parts_ms"].items():  # the POST's split, when the service sends Server-Timing
        cells = " ".join(f"{row.get(k, '-'):>8}" for k in ("p50", "p95", "max"))
        print(f"{'  post ' + name:22} {row['n']:>5} {cells} ms")
    print(f"{result['delivered']} of {result['accepted']} batches delivered in {wall:.1f} s "
          f"({result['batches_per_min']} a minute), lost {result['lost']}; POST p95 target {POST_TARGET_MS:g} ms")
    print("CPU seconds during the run: " + ", ".join(f"{kind} {spent:.2f}" for kind, spent in cpu.items())
          + f"; load average {' '.join(f'{x:.1f}' for x in result['load_average'])}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
