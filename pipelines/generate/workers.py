"""The cue workers: Ray actors that load the models and the synth once, then deliver cues into the store.

:class:`WorkerPool` hands a batch's cues to its :class:`CueWorker` actors and collects one :class:`CueResult` per
cue. Each worker holds two cues at a time (``CUES_IN_FLIGHT``): one is composed and rendered (the models and the
synth serve one cue at a time, under a lock) while the other's files upload, so the store's latency overlaps the
next cue's work instead of adding to it.

A worker process that dies (killed, out of memory) is restarted by Ray and its cues are retried there
(``max_task_retries``); if it keeps dying, its cue is reported failed with the reason and the rest of the batch goes
on. Retrying is safe: a cue's files are written before its manifest, and a cue whose manifest exists is skipped, so
a retried cue is delivered once.

Decisions where the contract is silent:

- A worker gets cues only once it has started (its ``versions`` call answered): an actor Ray cannot place (too few
  CPUs) would otherwise hold its cues forever. One not started within ``start_timeout_s`` is given up with a
  warning naming the CPUs asked for and free; its cues go to the workers that started. If none starts, every cue
  is reported failed with that reason (the batch record is still written).
- Any exception from a cue's ``ray.get`` is that cue's failure, never the batch's. Ray's memory monitor killing a
  worker (``OutOfMemoryError``, not a ``RayActorError``) fails the cue with advice; the worker is replaced, as a
  dead one is. Killed while starting, a worker is given up like one that did not start in time.
- A worker that raises while starting (no soundfont on its node, unreadable models) stops the batch with a
  :class:`RenderError` when no worker has started: every worker would fail the same way.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections import deque
from collections.abc import Callable

from cues.pipelines.generate.worker_identity import WorkerIdentity
from cues.schemas.batch import CueResult, CueSpec
from cues.schemas.config import GenerateConfig, RenderConfig
from cues.schemas.errors import InvalidRequest, RenderError

log = logging.getLogger(__name__)

# Per actor, by default: a pool that took every CPU would starve Ray's own tasks (reads, uploads) and hang.
WORKER_CPUS: float = GenerateConfig.model_fields["worker_cpus"].default
START_TIMEOUT_S: float = GenerateConfig.model_fields["worker_start_timeout_s"].default
STORE_RETRY_DELAYS_S: tuple[float, ...] = GenerateConfig.model_fields["store_retry_delays_s"].default
RESTARTS = 2  # a worker process may die this many times before its cue is reported failed
CUES_IN_FLIGHT = 2  # per worker: one being made while the previous one uploads
CueCallback = Callable[[CueSpec, CueResult | None], None]  # a cue handed to a worker (None), then its result


class CueWorker:
    """Ray actor: a :class:`~cues.pipelines.generate.studio.Studio` (models and synth loaded once) that delivers cues
    into the store each call names, so that one warm worker serves any store; with ``soundcheck``, it makes one short
    cue in memory once loaded (``Studio.soundcheck``)."""

    def __init__(self, models_uri: str | None, render: RenderConfig, soundcheck: bool = False, render_threads: int = 1):
        # Here, not at the top: the driver that creates this actor (or finds a warm one) never loads torch, SciPy
        # or FluidSynth (5-6 s of imports on a busy 2-core machine); the worker process does, once.
        from cues.pipelines.generate.studio import Studio

        self.studio = Studio(models_uri, render, render_threads)
        if soundcheck:  # a warm worker, also when Ray restarts it: its first cue then costs what every other does
            self.studio.soundcheck()

    def versions(self) -> dict[str, str]:
        return self.studio.models.versions

    def identity(self) -> WorkerIdentity:
        return self.studio.identity()

    def pid(self) -> int:
        return os.getpid()

    def stages(self) -> dict[str, str]:
        """What this worker is doing with each cue it is making: cue id → ``composing`` or ``rendering``."""
        return dict(self.studio.stages)

    def deliver(
        self, store_uri: str, spec: CueSpec, retry_delays_s: tuple[float, ...] = STORE_RETRY_DELAYS_S
    ) -> CueResult:
        """Deliver one cue into ``store_uri`` (retried after ``retry_delays_s`` while the store does not answer);
        called by up to ``CUES_IN_FLIGHT`` threads at once. A failure is returned, not raised."""
        try:
            return self.studio.deliver(store_uri, spec, retry_delays_s)
        except Exception as err:  # one cue's failure is reported with its message; the batch goes on
            log.warning("cue %s failed: %s", spec.cue_id, err)
            return CueResult.failed(spec.cue_id, f"{type(err).__name__}: {err}")


class WorkerPool:
    """The cue workers of one batch (a context manager: leaving it kills the workers it started).

    ``cpus`` and ``memory`` (bytes) per worker are what each asks Ray for; a worker not started within
    ``start_timeout_s`` seconds is given up (see the module's decisions). ``warm`` are running workers to use instead
    of starting ``size`` new ones (a ``cues up`` runtime's): they are never killed by the pool, and one lost
    mid-batch is replaced by a new worker like any other. ``retry_delays_s``: the store's retry schedule, seconds
    (``GenerateConfig.store_retry_delays_s``)."""

    def __init__(
        self,
        size: int,
        store_uri: str,
        models_uri: str | None,
        render: RenderConfig,
        cpus: float = WORKER_CPUS,
        start_timeout_s: float = START_TIMEOUT_S,
        memory: int = 0,
        warm: list | tuple = (),
        retry_delays_s: tuple[float, ...] = STORE_RETRY_DELAYS_S,
    ):
        self._actor = cue_worker_actor(cpus, memory)
        self._store_uri, self._args = store_uri, (models_uri, render, False, render_threads(cpus))
        self._retry_delays_s = retry_delays_s
        self._warm = list(warm)
        self._cpus, self._start_timeout_s = cpus, start_timeout_s
        self.workers: list = []
        self._starting: dict = {}  # readiness probe (the worker's versions call) → (worker, deadline)
        self._idle: list = []  # free slots of started workers, CUES_IN_FLIGHT each
        self._versions: dict[str, str] | None = None
        self._start_error: Exception | None = None  # a worker raised while starting
        self._no_start = "no cue worker started"  # why not, once known
        self.finished: list[CueResult] = []  # the cues of the last deliver() done so far (also when stopped)
        for worker in self._warm:
            self._probe(worker)
        for _ in range(0 if self._warm else max(1, size)):
            self._start()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _start(self) -> None:
        self._probe(self._actor.remote(*self._args))

    def _probe(self, worker) -> None:
        """Use ``worker`` once it answers (started, models loaded)."""
        self.workers.append(worker)
        self._starting[worker.versions.remote()] = (worker, time.monotonic() + self._start_timeout_s)

    def versions(self) -> dict[str, str]:
        """The models' versions from the first worker that starts; ``{}`` when none starts (then :meth:`deliver`
        fails every cue with the reason). :class:`RenderError` with the reason if the workers raise starting."""
        while self._versions is None and self._starting:
            self._next([])
        if self._versions is None and self._start_error is not None:  # e.g. no soundfont: say why, not "actor died"
            self.close()
            raise RenderError(f"the cue workers could not start: {root_message(self._start_error)}")
        return self._versions or {}

    def close(self) -> None:
        import ray

        if ray.is_initialized():  # else Ray is shut down, and the workers with it
            for worker in self.workers:
                if not self._is_warm(worker):
                    ray.kill(worker)
        self.workers, self._starting, self._idle = [], {}, []

    def deliver(
        self,
        cues: list[CueSpec],
        on_progress: Callable[[int, int], None] | None = None,
        on_cue: CueCallback | None = None,
    ) -> list[CueResult]:
        """Every cue delivered (or reported failed); results in the order of ``cues``. The longest cues are handed
        out first, so that the batch does not end with one worker still busy on a long cue while the others idle.
        ``on_cue(spec, None)`` is told when a cue goes to a worker, ``on_cue(spec, result)`` when it is done."""
        import ray

        waiting = deque(sorted(cues, key=lambda c: -c.length_estimate_s()))
        running: dict = {}  # future → (worker, spec)
        results: dict[str, CueResult] = {}
        specs = {spec.cue_id: spec for spec in cues}
        self.finished = []

        def finish(result: CueResult) -> None:
            results[result.cue_id] = result
            self.finished.append(result)
            if on_cue:
                on_cue(specs[result.cue_id], result)
            if on_progress:
                on_progress(len(results), len(cues))

        while waiting or running:
            while waiting and self._idle:
                worker, spec = self._idle.pop(), waiting.popleft()
                running[worker.deliver.remote(self._store_uri, spec, self._retry_delays_s)] = (worker, spec)
                if on_cue:
                    on_cue(spec, None)
            if not running and not self._starting:  # no worker left to give the rest to
                for spec in waiting:
                    finish(CueResult.failed(spec.cue_id, self._no_start))
                break
            done = self._next(list(running))
            if done is not None:
                worker, spec = running.pop(done)
                finish(self._result(done, worker, spec))
        if self._starting and ray.available_resources().get("CPU", 0.0) < self._cpus:  # not slow: no room for them
            self._give_up(list(self._starting), "before the batch ended")
        return [results[c.cue_id] for c in cues]

    def _next(self, running: list):
        """Wait for a cue's result (returned) or a worker's start (handled here; ``None``), giving up on workers
        whose start timed out."""
        import ray

        timeout = None
        if self._starting:
            timeout = max(0.0, min(deadline for _, deadline in self._starting.values()) - time.monotonic())
        ready, _ = ray.wait([*running, *self._starting], num_returns=1, timeout=timeout)
        if not ready:
            now = time.monotonic()
            late = [probe for probe, (_, deadline) in self._starting.items() if deadline <= now]
            if late:
                self._give_up(late, f"within {self._start_timeout_s:g} s")
            return None
        if ready[0] in self._starting:
            self._started(ready[0])
            return None
        return ready[0]

    def _started(self, probe) -> None:
        import ray

        worker, _ = self._starting.pop(probe)
        try:
            versions = ray.get(probe)
        except Exception as err:  # it did not start: the others may have, the batch goes on
            self._drop(worker)
            if isinstance(err, ray.exceptions.OutOfMemoryError):
                why = out_of_memory(err)
            else:
                self._start_error, why = err, root_message(err)
            log.warning("a cue worker could not start: %s", why)
            self._no_start = f"no cue worker could start: {why}"
            return
        if self._versions is None:
            self._versions = versions
        self._idle.extend([worker] * CUES_IN_FLIGHT)

    def _give_up(self, probes: list, when: str) -> None:
        """Kill workers whose start is overdue (Ray cannot place them: too few CPUs free) and say why."""
        import ray

        for probe in probes:
            worker, _ = self._starting.pop(probe)
            self._drop(worker)
        free, total = ray.available_resources().get("CPU", 0.0), ray.cluster_resources().get("CPU", 0.0)
        self._no_start = (
            f"{len(probes)} cue worker(s) did not start {when}: each asks Ray for {self._cpus:g} CPU and the cluster "
            f"has {free:g} of {total:g} CPUs free; add CPUs or nodes, or pass fewer --workers or a smaller "
            "--worker-cpus"
        )
        started = len(self.workers) - len(self._starting)
        log.warning("%s; %s", self._no_start, f"the {started} that started do the cues" if started else "none started")

    def _result(self, done, worker, spec: CueSpec) -> CueResult:
        """The cue's result; any error of its ``ray.get`` becomes the cue's failure. A worker lost with it (it died
        more often than Ray retries, or the memory monitor killed it) is replaced once."""
        import ray

        try:
            result = ray.get(done)
        except Exception as err:
            if isinstance(err, ray.exceptions.OutOfMemoryError):
                reason = out_of_memory(err)
            elif isinstance(err, ray.exceptions.RayActorError):
                reason = f"its worker process died {RESTARTS + 1} times: {root_message(err)}"
            else:
                reason = f"{type(err).__name__}: {root_message(err)}"
            log.warning("cue %s failed: %s", spec.cue_id, reason)
            lost = isinstance(err, (ray.exceptions.OutOfMemoryError, ray.exceptions.RayActorError))
            if lost and worker in self.workers:  # its other cue in flight failed with it: replace it once
                self._drop(worker)
                self._start()
            elif not lost:
                self._idle.append(worker)
            return CueResult.failed(spec.cue_id, reason)
        self._idle.append(worker)
        return result

    def _is_warm(self, worker) -> bool:
        return any(worker is w for w in self._warm)

    def _drop(self, worker) -> None:
        import ray

        if not self._is_warm(worker):  # a warm worker belongs to its runtime, which restarts it
            ray.kill(worker)
        if worker in self.workers:
            self.workers.remove(worker)
        self._idle = [w for w in self._idle if w is not worker]


def render_threads(cpus: float) -> int:
    """Threads of a worker's render (``CueRenderer``): one per whole CPU it asks Ray for, at least one. A pool's
    workers share the cores (0.5 CPU each by default): a second thread per render would have no core of its own,
    and only the pool's throughput counts there (bench/README.md, render-6)."""
    return max(1, math.floor(cpus))


def cue_worker_actor(cpus: float, memory: int, restarts: int = RESTARTS):
    """The :class:`CueWorker` actor class with its Ray options: ``cpus`` and ``memory`` (bytes; 0: by CPU alone)
    asked of Ray, restarted ``restarts`` times if its process dies (-1: always, for a warm worker), its cues retried
    there twice, ``CUES_IN_FLIGHT`` at a time."""
    import ray

    return ray.remote(
        num_cpus=cpus,
        memory=memory or None,  # bytes for the longest cue (worker_memory.py)
        max_restarts=restarts,
        max_task_retries=RESTARTS,
        max_concurrency=CUES_IN_FLIGHT + 1,  # and one for a quick question (stages) while two cues are in flight
    )(CueWorker)


def pool_size(workers: int | None, cues: int) -> int:
    """``workers``, else one per CPU of the cluster; never more than there are cues."""
    import ray

    size = workers or max(1, int(ray.cluster_resources().get("CPU", 1.0)))
    return max(1, min(size, cues))


def fit_local(size: int, worker_cpus: float, cpus: int) -> int:
    """``size`` workers, at most as many as fit at ``worker_cpus`` each in the ``cpus`` of a local Ray (which never
    grows: a worker that does not fit would never start), with a warning when capped; :class:`InvalidRequest` when
    not even one fits."""
    fits = math.floor(round(cpus / worker_cpus, 6))  # 2 / 0.1 is 20, but 2 // 0.1 is 19.0
    if fits < 1:
        raise InvalidRequest(
            f"--worker-cpus {worker_cpus:g} does not fit: each cue worker asks Ray for {worker_cpus:g} CPUs and the "
            f"local Ray has {cpus}; pass --worker-cpus {cpus} or less"
        )
    if size > fits:
        log.warning(
            "the pool was capped at %d cue worker(s): %d workers of %g CPUs do not fit in the local Ray's %d CPUs",
            fits,
            size,
            worker_cpus,
            cpus,
        )
    return min(size, fits)


def root_message(err: Exception) -> str:
    """The original error's last line from a Ray error that wraps a worker's traceback (``Type: message``)."""
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    last = lines[-1] if lines else repr(err)
    name, _, message = last.partition(": ")
    return f"{name.rsplit('.', 1)[-1]}: {message}" if message and " " not in name else last


def out_of_memory(err: Exception) -> str:
    """A cue's failure when Ray's memory monitor killed its worker: the node's memory and Ray's kill threshold from
    Ray's long message (which lists every process), and what to do."""
    text = " ".join(str(err).split())  # Ray wraps its message over lines
    node = re.search(r"Memory on the node \(IP: ([^,]+),.*? was ([\d.]+GB used / [\d.]+GB limit)", text)
    threshold = re.search(r"exceeded threshold of \d+B \(([\d.]+%)", text)
    detail = f" on {node.group(1)}: {node.group(2)}" if node else ""
    detail += f", over its kill threshold of {threshold.group(1)}" if threshold else ""
    return (
        f"out of memory: Ray's memory monitor killed its worker{detail}; run fewer workers (--workers), give the "
        "nodes more memory, or make the cue shorter"
    )
