"""The cue workers: Ray actors that load the models and the synth once, then compose, render and store cues.

:func:`produce_cues` hands cues to a pool of :class:`CueWorker` actors, one cue at a time per actor, and collects
one result per cue. A worker process that dies (killed, out of memory) is restarted by Ray and its cue is retried
there (``max_task_retries``); if it keeps dying, the cue is reported failed with the reason and the rest of the
batch goes on. Retrying is safe: a cue's files are written before its manifest, and a cue whose manifest exists is
skipped, so a retried cue is delivered once.

Each worker takes two cues at a time: one is composed and rendered (the models and the synth serve one cue at a
time, under a lock) while the other's files are uploaded, so the store's latency overlaps the next cue's work
instead of adding to it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from cues.pipelines.compose.composer import ComposerModels
from cues.pipelines.generate.cue_spec import CueSpec
from cues.pipelines.generate.cue_writer import CueResult, write_cue
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.pipelines.store import open_store
from cues.schemas.config import GenerateConfig, RenderConfig
from cues.schemas.errors import RenderError

log = logging.getLogger(__name__)

# Per actor, by default: a pool that took every CPU would starve Ray's own tasks (reads, uploads) and hang.
WORKER_CPUS: float = GenerateConfig.model_fields["worker_cpus"].default
RESTARTS = 2  # a worker process may die this many times before its cue is reported failed
CUES_IN_FLIGHT = 2  # per worker: one being made while the previous one uploads


class CueWorker:
    """Ray actor: composes and renders cues into the store (see ``cue_writer.write_cue``)."""

    def __init__(self, store_uri: str, models_uri: str | None, render_json: dict):
        import torch


        torch.set_num_threads(1)  # batch-1 model steps: threads cost more than they give, and actors run side by side
        self.renderer = CueRenderer(RenderConfig.model_validate(render_json))  # first: a missing soundfont fails fast
        self.store = open_store(store_uri)
        self.models = ComposerModels.load(models_uri)
        self._making = threading.Lock()  # one synth and one set of models: one cue is made at a time

    def versions(self) -> dict[str, str]:
        return self.models.versions

    def pid(self) -> int:
        import os

        return os.getpid()

    def produce(self, spec_json: dict) -> dict:
        """Make and store one cue (see ``cue_writer``); called by up to ``CUES_IN_FLIGHT`` threads at once."""

        spec = CueSpec.model_validate(spec_json)
        try:
            return write_cue(self.store, spec, self.models, self.renderer, self._making).as_dict()
        except Exception as err:  # one cue's failure is reported with its message; the batch goes on
            log.warning("cue %s failed: %s", spec.cue_id, err)
            return CueResult(spec.cue_id, "", "", False, error=f"{type(err).__name__}: {err}").as_dict()


class WorkerPool:
    """The cue workers of one batch. Start it early: each worker spends seconds loading the models and the synth,
    which can overlap with reading and expanding the briefs."""

    def __init__(
        self, size: int, store_uri: str, models_uri: str | None, render: RenderConfig, cpus: float = WORKER_CPUS
    ):
        import ray

        self._actor = ray.remote(
            num_cpus=cpus, max_restarts=RESTARTS, max_task_retries=RESTARTS, max_concurrency=CUES_IN_FLIGHT
        )(CueWorker)
        self._args = (store_uri, models_uri, render.model_dump(mode="json"))
        self.workers = [self._start() for _ in range(max(1, size))]

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

    def produce(self, cues: list[CueSpec], on_progress: Callable[[int, int], None] | None = None) -> list[dict]:
        """Every cue composed and rendered; results in the order of ``cues``. The longest cues are handed out first,
        so that the batch does not end with one worker still busy on a long cue while the others idle."""
        import ray

        longest_first = sorted(cues, key=lambda c: -c.length_estimate_s())
        waiting = deque(c.model_dump(mode="json") for c in longest_first)
        idle = [w for _ in range(CUES_IN_FLIGHT) for w in self.workers]  # free slots, workers interleaved
        running: dict = {}  # future → (worker, spec)
        results: dict[str, dict] = {}
        while waiting or running:
            while waiting and idle:
                worker, spec = idle.pop(), waiting.popleft()
                running[worker.produce.remote(spec)] = (worker, spec)
            [done], _ = ray.wait(list(running), num_returns=1)
            worker, spec = running.pop(done)
            try:
                result = ray.get(done)
                idle.append(worker)
            except ray.exceptions.RayActorError as err:  # died more often than Ray retries: report, replace, go on
                log.warning("the worker of cue %s died: %s", spec["cue_id"], err)
                result = {
                    "cue_id": spec["cue_id"],
                    "key": "",
                    "prefix": "",
                    "ok": False,
                    "skipped": False,
                    "error": f"its worker process died {RESTARTS + 1} times: {root_message(err)}",
                }
                if worker in self.workers:  # its other cue in flight failed with it: replace it once
                    ray.kill(worker)
                    self.workers.remove(worker)
                    idle = [w for w in idle if w is not worker]
                    replacement = self._start()
                    self.workers.append(replacement)
                    idle.extend([replacement] * CUES_IN_FLIGHT)
            results[result["cue_id"]] = result
            if on_progress:
                on_progress(len(results), len(cues))
        return [results[c.cue_id] for c in cues]


def pool_size(workers: int | None, cues: int | None = None) -> int:
    """``workers``, else one per CPU of the cluster; never more than there are cues."""
    size = workers or max(1, int(cluster_cpus()))
    return max(1, min(size, cues)) if cues else size


def cluster_cpus() -> float:
    import ray

    return ray.cluster_resources().get("CPU", 1.0)


def produce_cues(
    cues: list[CueSpec],
    store_uri: str,
    models_uri: str | None,
    render: RenderConfig,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[dict], dict[str, str]]:
    """Every cue composed and rendered by a :class:`WorkerPool`; results in the order of ``cues``, and the models'
    versions."""
    if not cues:
        return [], {}
    pool = WorkerPool(pool_size(workers, len(cues)), store_uri, models_uri, render)
    try:
        versions = pool.versions()
        return pool.produce(cues, on_progress), versions
    finally:
        pool.close()


def root_message(err: Exception) -> str:
    """The original error's last line from a Ray error that wraps a worker's traceback (``Type: message``)."""
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    last = lines[-1] if lines else repr(err)
    name, _, message = last.partition(": ")
    return f"{name.rsplit('.', 1)[-1]}: {message}" if message and " " not in name else last
