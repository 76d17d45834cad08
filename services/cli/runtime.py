"""``cues up``, ``down`` and ``status``: the warm local runtime that makes re-submitting a short brief take seconds."""

from __future__ import annotations

from typing import Annotated

import typer

from cues.pipelines.generate.warm_runtime import RuntimeStatus, runtime_status, start_runtime, stop_runtime
from cues.schemas.config import RenderConfig, RuntimeConfig
from cues.services.cli.options import Models, NumCpus, Soundfont, WorkerCpus, Workers
from cues.services.cli.output import EXIT_FAILURE, err, out, reported_errors

commands = typer.Typer()

_DEFAULTS = RuntimeConfig.model_fields


@commands.command()
def up(
    workers: Workers = None,
    worker_cpus: WorkerCpus = _DEFAULTS["worker_cpus"].default,
    num_cpus: NumCpus = None,
    object_store_memory: Annotated[int, typer.Option(min=100, help="Ray's object store on the head, MiB.")] = _DEFAULTS[
        "object_store_memory_mb"
    ].default,
    port: Annotated[int, typer.Option(min=1024, max=65535, help="The head's GCS port.")] = _DEFAULTS["port"].default,
    worker_ports: Annotated[
        str | None,
        typer.Option(
            help="LOW-HIGH: the ports of Ray's worker processes (default Ray's 10002-19999).", show_default=False
        ),
    ] = None,
    model: Models = None,
    soundfont: Soundfont = None,
    status: Annotated[bool, typer.Option("--status", help="Only say what runs (as `cues status`).")] = False,
) -> None:
    """Start a warm local runtime: a Ray head that outlives this command and cue workers with the models and the
    synth loaded. `cues submit` and `cues run` on this machine then use them (unless --cold, or a cluster address
    is given), so that a short brief re-renders in seconds. Running it again keeps what runs.

    The head is Ray's own `ray start --head` in /tmp/cues-ray (CUES_RUNTIME_DIR), with no dashboard and usage
    statistics off; the workers are detached actors named cue-worker-N in the Ray namespace `cues`. Stop both with
    `cues down`.

    Example: cues up --workers 2
    """
    if status:
        _print_status()
        return
    ports = None
    if worker_ports:
        low, _, high = worker_ports.partition("-")
        if not (low.isdigit() and high.isdigit() and 1024 <= int(low) < int(high) <= 65535):
            raise typer.BadParameter("use LOW-HIGH, e.g. 20000-20199", param_hint="--worker-ports")
        ports = (int(low), int(high))
    config = RuntimeConfig(
        workers=workers,
        worker_cpus=worker_cpus,
        num_cpus=num_cpus,
        object_store_memory_mb=object_store_memory,
        port=port,
        worker_ports=ports,
        models=model,
        render=RenderConfig(soundfont=soundfont),
    )
    err.print("starting the warm runtime (the workers load their models and synth) …", markup=False)
    with reported_errors():
        running = start_runtime(config)
    _print(running)


@commands.command()
def down() -> None:
    """Stop the warm local runtime `cues up` started: its Ray head and warm workers (only those: other Ray
    instances on this machine are left alone). Batches then start a Ray of their own again.

    Example: cues down
    """
    with reported_errors():
        head = stop_runtime()
    if head is None:
        out.print("no cues runtime runs", markup=False)
        return
    out.print(f"stopped the cues runtime at {head.address} (Ray head pid {head.pid})", markup=False)


@commands.command()
def status() -> None:
    """Say whether a warm local runtime runs: its Ray head, its workers and what they loaded. Exits 1 if none runs.

    Example: cues status
    """
    _print_status()


def _print_status() -> None:
    with reported_errors():
        running = runtime_status()
    if running is None:
        out.print("no cues runtime runs (start one with `cues up`)", markup=False)
        raise typer.Exit(EXIT_FAILURE)
    _print(running)


def _print(running: RuntimeStatus) -> None:
    head = running.head
    verb = "started" if running.started else "running since " + head.started
    out.print(
        f"Ray head: {head.address} ({verb}; {head.cpus} CPUs, object store {head.object_store_memory // 2**20} MiB, "
        f"temp dir {head.temp_dir}, pid {head.pid})",
        markup=False,
    )
    ready = [w for w in running.workers if w.identity is not None]
    out.print(f"warm cue workers: {len(ready)} of {len(running.workers)} ready", markup=False)
    for worker in running.workers:
        if worker.identity is None:
            out.print(f"  {worker.name}: {worker.state}", markup=False)
            continue
        identity = worker.identity
        models = identity.models or "shipped"
        changed = " (changed on disk since: restart with `cues down` and `cues up`)" if identity.models_changed else ""
        out.print(f"  {worker.name}: pid {identity.pid}, models {models}{changed}, code {identity.code}", markup=False)
    out.print(f"RAY_ADDRESS for other tools: {head.address}; stop with: {head.stop_hint()}", markup=False)
