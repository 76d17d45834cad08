"""The HTTP API's faults (issue 19; its load is ``api_load.py``): batches accepted, then a cue worker killed, the store
gone for seconds and the service restarted while they run. Target: no accepted batch lost.

Runs the real service as a user does: a moto S3 server (``tests/s3_server.py``, which closes its port and opens it
again without losing its buckets), ``cues serve`` in its own process (its own Ray) on an S3 store, a token made by
``cues token add``. ``--batches`` short briefs are submitted (a few seconds of music each), then while they run: one
cue worker killed (``kill -9`` of a ``ray::CueWorker`` process), the store closed for ``--outage`` seconds, and the
service stopped (Ctrl-C) and started again. Then every accepted batch is polled until it ends. A batch the service
no longer knows (404), or that never ends within ``--timeout``, is **lost**; one that ends ``failed`` or
``partial`` is not lost (its failures are reported), and the table shows how many.

Prints a table and writes ``bench/results/api_faults.json``.

    python bench/api_faults.py [--batches 6] [--outage 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
CUES = Path(sys.executable).parent / "cues"
S3_SERVER = ROOT / "tests" / "s3_server.py"
BRIEF = """version: 1
id: {brief_id}
title: API bench {brief_id}
medium: tv
mood: {mood}
length: {length}
ending: button
"""
MOODS = ("playful", "tense", "uplifting", "calm", "mysterious")
ENDED = {"delivered", "partial", "failed"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    """The moto server subprocess, which closes its port and opens it again on request (tests/s3_server.py)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, str(S3_SERVER), str(self.port)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the moto S3 server did not start")

    def command(self, word: str) -> None:
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()
        self.process.stdout.readline()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


class Service:
    """``cues serve`` in a process of its own, restartable."""

    def __init__(self, store: str, tokens: Path, secret: Path, env: dict[str, str], log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = [str(CUES), "serve", "--store", store, "--tokens", str(tokens), "--webhook-secret", str(secret),
                     "--host", "127.0.0.1", "--port", str(self.port)]
        self.env, self.log, self.process = env, log, None

    def start(self, timeout_s: float = 180) -> float:
        began = time.monotonic()
        with self.log.open("a") as log:
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        while time.monotonic() - began < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"cues serve exited with {self.process.returncode}: see {self.log}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - began
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"cues serve was not ready in {timeout_s} s: see {self.log}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # Ctrl-C, as a user stops it
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def kill_one_cue_worker() -> bool:
    """``kill -9`` of one process whose title is a cue worker actor's (Ray names them ``ray::CueWorker…``)."""
    found = subprocess.run(["pgrep", "-f", "ray::CueWorker"], capture_output=True, text=True).stdout.split()
    if not found:
        return False
    os.kill(int(found[0]), signal.SIGKILL)
    return True


async def submit(client: httpx.AsyncClient, brief: str, timings: dict[str, list[float]]) -> str:
    began = time.perf_counter()
    response = await client.post("/v1/batches", content=brief, headers={"Content-Type": "application/yaml"})
    timings["post_ms"].append((time.perf_counter() - began) * 1000)
    if response.status_code != 202:
        raise RuntimeError(f"POST /v1/batches answered {response.status_code}: {response.text[:300]}")
    return response.json()["batch_id"]


async def wait_for_end(client: httpx.AsyncClient, batch_id: str, timings: dict[str, list[float]],
                       deadline: float, poll_s: float = 0.5) -> str:
    """The batch's final state, ``lost`` if the service stops knowing it, ``timeout`` if it never ends."""
    while time.monotonic() < deadline:
        began = time.perf_counter()
        try:
            response = await client.get(f"/v1/batches/{batch_id}")
        except httpx.HTTPError:  # the service restarting: keep asking
            await asyncio.sleep(1.0)
            continue
        timings["status_ms"].append((time.perf_counter() - began) * 1000)
        if response.status_code == 404:
            return "lost"
        if response.status_code == 200 and response.json()["state"] in ENDED:
            return response.json()["state"]
        await asyncio.sleep(poll_s)
    return "timeout"


def brief_text(n: int, tag: str, length: float) -> str:
    return BRIEF.format(brief_id=f"api-{tag}-{n:03d}", mood=MOODS[n % len(MOODS)], length=length)


async def fault_phase(service: Service, s3: S3Server, token: str, args: argparse.Namespace) -> dict:
    timings: dict[str, list[float]] = {"post_ms": [], "status_ms": []}
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=service.url, headers=headers, timeout=30) as client:
        accepted = [await submit(client, brief_text(n, "fault", args.length), timings) for n in range(args.batches)]
    events = {}
    await asyncio.sleep(2.0)
    events["worker_killed"] = kill_one_cue_worker()
    s3.command("stop")
    await asyncio.sleep(args.outage)
    s3.command("start")
    events["store_outage_s"] = args.outage
    service.stop()
    events["restart_ready_s"] = service.start()
    deadline = time.monotonic() + args.timeout
    async with httpx.AsyncClient(base_url=service.url, headers=headers, timeout=30) as client:
        states = await asyncio.gather(*(wait_for_end(client, b, timings, deadline) for b in accepted))
    lost = [b for b, s in zip(accepted, states, strict=True) if s in ("lost", "timeout")]
    return {"accepted": len(accepted), "states": {s: states.count(s) for s in set(states)}, "lost": lost,
            "events": events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=6, help="batches accepted before the faults")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds the store is closed")
    parser.add_argument("--length", type=float, default=4.0, help="seconds of music per brief")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a batch may take to end")
    parser.add_argument("--out", type=Path, default=RESULTS / "api_faults.json")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cues-api-faults-"))
    s3 = S3Server()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3.endpoint, "RAY_USAGE_STATS_ENABLED": "0"}
    boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench").create_bucket(Bucket="bench")
    tokens, secret = work / "tokens.yaml", work / "webhook-secret"
    added = subprocess.run([str(CUES), "token", "add", "bench", "--tokens", str(tokens), "--rate", "100000",
                            "--max-batch", "20"], env=env, capture_output=True, text=True, check=True)
    token = next(word for word in added.stdout.split() if word.startswith("cues_"))
    service = Service("s3://bench/cues", tokens, secret, env, work / "serve.log")
    try:
        ready_s = service.start()
        faults = asyncio.run(fault_phase(service, s3, token, args))
    finally:
        service.stop()
        s3.close()
    result = {"batches": args.batches, "length_s": args.length, "cpus": os.cpu_count(),
              "load_average": os.getloadavg()[0], "service_ready_s": ready_s, **faults, "log": str(work / "serve.log")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    events = result["events"]
    print(f"service ready in {ready_s:.1f} s (load average {result['load_average']:.1f}); {result['accepted']} "
          f"batches of {args.length:g} s accepted")
    print(f"{'fault':<34}{'what happened':>30}")
    print(f"{'a cue worker killed (kill -9)':<34}{'yes' if events['worker_killed'] else 'no worker found':>30}")
    print(f"{'the store closed':<34}{events['store_outage_s']:>28.1f} s")
    restarted = f"ready again in {events['restart_ready_s']:.1f} s"
    print(f"{'the service restarted':<34}{restarted:>30}")
    print(f"batches at the end: {result['states']}; lost {len(result['lost'])} (target 0)")


if __name__ == "__main__":
    main()
