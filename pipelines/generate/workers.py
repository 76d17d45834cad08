"""The cue workers: Ray actors that load the models and the synth once, then deliver cues into the store.

:class:`WorkerPool` hands a batch's cues to its :class:`CueWorker` actors and collects one :class:`CueResult` per
cue. Each worker holds two cues at a time (``CUES_IN_FLIGHT``): one is composed and rendered (the models and the
synth serve one cue at a time, under a lock) while the other's files upload, so the store's latency overlaps the
next cue's work instead of adding to it.

A worker process that dies (killed, out of memory) is restarted by Ray and its cues are retried there
(``max_task_retries``); if it keeps dying, its cue is reported failed with the reason and the rest of the batch goes
on. Retrying is safe: a cue's files are written before its manifest, and a cue whose manifest exists is skipped, so
a retried cue is delivered once.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable

from cues.pipelines.compose.composer import ComposerModels
from cues.pipelines.generate.cue_writer import deliver_cue
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.pipelines.store import open_store
from cues.schemas.batch import CueResult, CueSpec
from cues.schemas.config import GenerateConfig, RenderConfig
from cues.schemas.errors import RenderError

log = logging.getLogger(__name__)

# Per actor, by default: a pool that took every CPU would starve Ray's own tasks (reads, uploads) and hang.
WORKER_CPUS: float = GenerateConfig.model_fields["worker_cpus"].default
RESTARTS = 2  # a worker process may die this many times before its cue is reported failed
CUES_IN_FLIGHT = 2  # per worker: one being made while the previous one uploads


class CueWorker:
    """Ray actor: delivers cues into one store with models and a synth loaded once (see ``cue_writer``)."""

    def __init__(self, store_uri: str, models_uri: str | None, render: RenderConfig):
        import torch

        torch.set_num_threads(1)  # batch-1 model steps: threads cost more than they give, and actors run side by side
        self.renderer = CueRenderer(render)  # first: a missing soundfont fails fast
        self.store = open_store(store_uri)
        self.models = ComposerModels.load(models_uri)
        self._making = threading.Lock()  # one synth and one set of models: one cue is made at a time

    def versions(self) -> dict[str, str]:
        return self.models.versions

    def pid(self) -> int:
        return os.getpid()

    def deliver(self, spec: CueSpec) -> CueResult:
        """Deliver one cue; called by up to ``CUES_IN_FLIGHT`` threads at once. A failure is returned, not raised."""
        try:
            return deliver_cue(self.store, spec, self.models, self.renderer, self._making)
        except Exception as err:  # one cue's failure is reported with its message; the batch goes on
            log.warning("cue %s failed: %s", spec.cue_id, err)
            return CueResult.failed(spec.cue_id, f"{type(err).__name__}: {err}")


class WorkerPool:
    """The cue workers of one batch (a context manager: leaving it kills the workers)."""

    def __init__(
        self, size: int, store_uri: str, models_uri: str | None, render: RenderConfig, cpus: float = WORKER_CPUS
    ):
        import ray

        self._actor = ray.remote(
            num_cpus=cpus, max_restarts=RESTARTS, max_task_retries=RESTARTS, max_concurrency=CUES_IN_FLIGHT
        )(CueWorker)
        self._args = (store_uri, models_uri, render)
        self.workers = [self._start() for _ in range(max(1, size))]

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _start(self):
        return self._actor.remote(*self._args)

    def versions(self) -> dict[str, str]:
        """The models' versions, once a worker is up; :class:`RenderError` with the reason if none can start."""
        import ray

        try:
            return ray.get(self.workers[0].versions.remote())
        except ray.exceptions.RayActorError as err:  # e.g. no soundfont on the workers: say why, not "actor died"
            self.close()
            raise RenderError(f"the cue workers could not start: {root_message(err)}") from err

    def close(self) -> None:
        import ray

        for worker in self.workers:
            ray.kill(worker)
        self.workers = []

    def deliver(self, cues: list[CueSpec], on_progress: Callable[[int, int], None] | None = None) -> list[CueResult]:
        """Every cue delivered (or reported failed); results in the order of ``cues``. The longest cues are handed
        out first, so that the batch does not end with one worker still busy on a long cue while the others idle."""
        import ray

        waiting = deque(sorted(cues, key=lambda c: -c.length_estimate_s()))
        idle = [w for _ in range(CUES_IN_FLIGHT) for w in self.workers]  # free slots, workers interleaved
        running: dict = {}  # future → (worker, spec)
        results: dict[str, CueResult] = {}
        while waiting or running:
            while waiting and idle:
                worker, spec = idle.pop(), waiting.popleft()
                running[worker.deliver.remote(spec)] = (worker, spec)
            [done], _ = ray.wait(list(running), num_returns=1)
            worker, spec = running.pop(done)
            try:
                result = ray.get(done)
                idle.append(worker)
            except ray.exceptions.RayActorError as err:  # died more often than Ray retries: report, replace, go on
                log.warning("the worker of cue %s died: %s", spec.cue_id, err)
                reason = f"its worker process died {RESTARTS + 1} times: {root_message(err)}"
                result = CueResult.failed(spec.cue_id, reason)
                if worker in self.workers:  # its other cue in flight failed with it: replace it once
                    ray.kill(worker)
                    self.workers.remove(worker)
                    idle = [w for w in idle if w is not worker]
                    replacement = self._start()
                    self.workers.append(replacement)
                    idle.extend([replacement] * CUES_IN_FLIGHT)
            results[result.cue_id] = result
            if on_progress:
                on_progress(len(results), len(cues))
        return [results[c.cue_id] for c in cues]


def pool_size(workers: int | None, cues: int) -> int:
    """``workers``, else one per CPU of the cluster; never more than there are cues."""
    import ray

    size = workers or max(1, int(ray.cluster_resources().get("CPU", 1.0)))
    return max(1, min(size, cues))


def root_message(err: Exception) -> str:
    """The original error's last line from a Ray error that wraps a worker's traceback (``Type: message``)."""
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    last = lines[-1] if lines else repr(err)
    name, _, message = last.partition(": ")
    return f"{name.rsplit('.', 1)[-1]}: {message}" if message and " " not in name else last
