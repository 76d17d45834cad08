"""The warm local runtime (``cues up``, issue 18): a Ray head that outlives the command, and cue workers that keep
their models and synth loaded between batches, so that re-rendering a short brief costs seconds instead of Ray's
start and the models' loading.

The workers are detached, named actors (``cue-worker-0``, ``cue-worker-1``, …) in the ``cues`` namespace: any driver
connected to the head finds them by name (:func:`warm_workers`), not only the process that started them, so that a
batch (``cues submit``) and later a service (``cues serve``, issue 19) share them. Each is a
:class:`~cues.pipelines.generate.workers.CueWorker` whose store is named per cue, so one warm worker serves any store.

Decisions where the contract is silent:

- A batch uses warm workers only when they run the same code (a digest of the source files), the same models and
  the same render settings (``worker_identity.mismatch``); otherwise it starts fresh workers on the same head and
  says why. A head started from other code is not joined at all: its workers' Python would import that code.
- A warm worker whose process dies is restarted by Ray, always (its models load again); the batch's cue in flight is
  retried there, as in a batch's own pool. Warm workers are never killed by a batch.
- Warm workers ask Ray for the memory a cue of ``RuntimeConfig.longest_cue_s`` needs (``worker_memory.py``) and are
  as many as fit by CPU and memory, like a batch's pool.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cues.pipelines.generate.worker_identity import WorkerIdentity, code_digest, mismatch
from cues.pipelines.generate.worker_memory import WORKER_MEMORY, fit_memory
from cues.pipelines.generate.workers import cue_worker_actor, fit_local, render_threads, root_message
from cues.pipelines.ray_runtime import (
    LocalHead,
    describe,
    find_head,
    init_ray,
    shutdown_ray,
    start_head,
    stop_head,
)
from cues.schemas.config import RuntimeConfig
from cues.schemas.errors import RenderError, RuntimeSetupError

log = logging.getLogger(__name__)

NAMESPACE = "cues"
WORKER_PREFIX = "cue-worker-"
ANSWER_TIMEOUT_S = 10.0  # seconds a warm worker may take to say what it loaded (one restarting takes longer)
MIB = 1024**2


@dataclass(frozen=True)
class WarmWorker:
    """A named warm worker: its ``identity`` once it answers, else ``state`` says why not (starting, restarting)."""

    name: str
    identity: WorkerIdentity | None
    state: str = "ready"


@dataclass(frozen=True)
class RuntimeStatus:
    """The local runtime: its ``head``, its ``workers``, and whether this command ``started`` the head."""

    head: LocalHead
    workers: tuple[WarmWorker, ...]
    started: bool = False


def start_runtime(config: RuntimeConfig) -> RuntimeStatus:
    """Start the local runtime (or join the one running) and its warm workers, and wait until each has loaded its
    models and synth. Workers already running under the same names are kept (``cues up`` twice is harmless).

    Raises :class:`RuntimeSetupError` when a runtime of other code runs, or the head does not start;
    :class:`RenderError` when the workers cannot start (no soundfont): the head started here is stopped again."""
    code = code_digest()
    head, started = find_head(), False
    if head is not None and head.code != code:
        raise RuntimeSetupError(
            f"a cues runtime started from other code runs at {head.address} (since {head.started}); stop it with "
            f"`{head.stop_hint()}`, then `cues up` again"
        )
    if head is None:
        head = start_head(
            port=config.port,
            num_cpus=config.num_cpus,
            object_store_memory=config.object_store_memory_mb * MIB,
            worker_ports=config.worker_ports,
            code=code,
            timeout_s=config.start_timeout_s,
        )
        started = True
    try:
        init_ray(head.address)
        start_workers(config)
        workers = _identify(_named_workers(), config.start_timeout_s)
    except BaseException:
        if started:
            _stop_quietly(head)
        raise
    finally:
        shutdown_ray()  # disconnect: the head and its detached workers live on
    return RuntimeStatus(head, workers, started)


def start_workers(config: RuntimeConfig, detached: bool = True) -> list:
    """On the Ray this process is connected to: the handles of the named warm workers, started (or the running ones
    under the same names kept), once each has loaded its models and synth. ``detached`` workers outlive this process
    (``cues up``); others live while their handles do (``cues serve`` keeps them: the service owns its workers)."""
    info = describe()
    size = fit_local(config.workers or info["cpus"], config.worker_cpus, info["cpus"])
    size, memory = fit_memory(size, WORKER_MEMORY.bytes_for_seconds(config.longest_cue_s), info["memory"])
    actor = cue_worker_actor(config.worker_cpus, memory, restarts=-1)
    lifetime = "detached" if detached else None
    threads = render_threads(config.worker_cpus)
    handles = [
        actor.options(
            name=f"{WORKER_PREFIX}{index}", namespace=NAMESPACE, lifetime=lifetime, get_if_exists=True
        ).remote(config.models, config.render, True, threads)  # soundcheck: the first cue costs what the others do
        for index in range(size)
    ]
    _wait_started(handles, config.start_timeout_s)
    return handles


def runtime_status() -> RuntimeStatus | None:
    """The running local runtime and its workers, or None when none runs."""
    head = find_head()
    if head is None:
        return None
    try:
        init_ray(head.address)
        return RuntimeStatus(head, _identify(_named_workers(), ANSWER_TIMEOUT_S))
    finally:
        shutdown_ray()


def stop_runtime() -> LocalHead | None:
    """Stop the local runtime (its head, and the workers with it); the head stopped, or None when none ran."""
    head = find_head(answering=False)  # also a head whose GCS no longer answers: its other processes may live
    if head is not None:
        stop_head(head)
    return head


def warm_workers(wanted: WorkerIdentity) -> tuple[list, str | None]:
    """On the Ray this process is connected to: the handles of the warm workers that serve a batch asking for
    ``wanted`` (code, models, render settings), and when there are none, why not (None: no warm worker runs)."""
    handles = _named_workers()
    if not handles:
        return [], None
    serving, reasons = [], []
    for worker in _identify(handles, ANSWER_TIMEOUT_S):
        reason = worker.state if worker.identity is None else mismatch(worker.identity, wanted)
        if reason is None:
            serving.append(handles[worker.name])
        else:
            reasons.append(f"{worker.name}: {reason}")
    return serving, (None if serving else "; ".join(reasons))


def _wait_started(handles: list, timeout_s: float) -> None:
    """Wait until every worker has loaded; :class:`RenderError` with the first one's reason if one could not."""
    import ray

    try:
        ray.get([handle.versions.remote() for handle in handles], timeout=timeout_s)
    except ray.exceptions.GetTimeoutError:
        raise RuntimeSetupError(
            f"the warm cue workers did not start within {timeout_s:g} s: too few CPUs or too little memory free "
            "on the head? pass fewer --workers or a smaller --worker-cpus"
        ) from None
    except ray.exceptions.RayError as err:
        raise RenderError(f"the warm cue workers could not start: {root_message(err)}") from None


def _named_workers() -> dict:
    """name → handle of every warm worker on the connected Ray, by name."""
    import ray

    names = sorted(
        entry["name"]
        for entry in ray.util.list_named_actors(all_namespaces=True)
        if entry["namespace"] == NAMESPACE and entry["name"].startswith(WORKER_PREFIX)
    )
    return {name: ray.get_actor(name, namespace=NAMESPACE) for name in names}


def _identify(handles: dict, timeout_s: float) -> tuple[WarmWorker, ...]:
    """Each worker's identity, asked of all at once; one that does not answer in time is ``restarting``."""
    import ray

    probes = {handle.identity.remote(): name for name, handle in handles.items()}
    ready, _ = ray.wait(list(probes), num_returns=len(probes), timeout=timeout_s)
    found = {}
    for probe in ready:
        try:
            found[probes[probe]] = WarmWorker(probes[probe], ray.get(probe))
        except ray.exceptions.RayError as err:
            found[probes[probe]] = WarmWorker(probes[probe], None, f"failed: {root_message(err)}")
    return tuple(found.get(name, WarmWorker(name, None, "restarting (loading its models)")) for name in handles)


def _stop_quietly(head: LocalHead) -> None:
    try:
        stop_head(head)
    except OSError as err:  # the error that brought us here matters more
        log.warning("could not stop the Ray head at %s: %s", head.address, err)
