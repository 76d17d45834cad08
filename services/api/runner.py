"""The service's batch runner: accepted batches run one at a time, first in first out, on warm cue workers.

The runner is a thread of the service's process (the Serve replica). It starts the warm cue workers once
(``warm_runtime.start_workers``: the named workers of ``cues up``, kept by the service, or a ``cues up`` runtime's
own when the service joined it), then runs each batch through the main job (``job.run`` with the request's briefs),
which finds those workers by name and hands them the cues. Every change of a cue's state is written to the batch's
``status.json`` at once, so a client polling ``GET /v1/batches/{id}`` (and a restarted service) sees it.

Decisions where the contract is silent:

- One batch at a time: on 2 cores the workers are the bottleneck, and a second batch beside the first would only
  share them. A batch's cues still run in parallel on every worker.
- A cue is ``composing`` from the moment a worker takes it, and ``rendering`` once that worker says so: while a
  batch runs, the warm workers are asked every ``STAGES_EVERY_S`` what they are making (``CueWorker.stages``), so
  a short cue may go from ``composing`` to ``delivered`` between two questions. A cue never moves back.
- A batch that fails as a whole (the store unreachable, no worker) is started again after ``retry_delay_s`` (doubling)
  up to ``batch_attempts`` times, then reported ``failed`` with the reason; cues delivered by an earlier attempt
  are skipped (their manifests exist), so nothing is made twice.
- On start, every accepted batch without a finished status is queued again, oldest first: a service stopped
  mid-batch resumes it (the cues already delivered are skipped).
- The webhook is called from its own thread when a batch ends, so that its retries (about a minute) never hold the
  next batch.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from contextlib import contextmanager

import ray

from cues.pipelines.generate.job import expand_briefs
from cues.pipelines.generate.job import run as run_job
from cues.pipelines.generate.warm_runtime import start_workers
from cues.pipelines.ray_runtime import init_ray
from cues.pipelines.store import ObjectStore
from cues.schemas.api_batch import BatchRequest, BatchStatus
from cues.schemas.batch import CueResult, CueSpec
from cues.schemas.config import GenerateConfig, RayConfig
from cues.schemas.errors import BatchNotRecorded, ScoringError, StoreError
from cues.services.api.batch_records import (
    accepted_batches,
    batch_cues,
    initial_status,
    now_iso,
    read_request,
    read_status,
    restore_caller_marks,
    write_status,
)
from cues.services.api.intake import entries_of
from cues.services.api.settings import ApiSettings

log = logging.getLogger(__name__)

Announce = Callable[[BatchRequest, BatchStatus], None]  # a finished batch's webhook
ORDER = {"queued": 0, "composing": 1, "rendering": 2, "delivered": 3, "failed": 3}  # a cue's states, in order
STAGES_EVERY_S = 0.25  # how often the warm workers are asked what they are making while a batch runs


def manifest_url(cue_id: str) -> str:
    return f"/v1/cues/{cue_id}"


class BatchRunner:
    """Runs accepted batches from a FIFO queue on one thread; :meth:`submit` queues a batch id."""

    def __init__(self, store: ObjectStore, settings: ApiSettings, announce: Announce | None = None):
        self.store, self.settings, self._announce = store, settings, announce
        self.announces = announce is not None  # whether a batch's webhook_url is called
        self._queue: queue.Queue[str] = queue.Queue()
        self._waiting: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.ready = threading.Event()  # the warm workers have started
        self.failure: str | None = None  # why they could not
        self.current: str | None = None
        self.workers: list = []  # the warm workers' handles
        self._thread = threading.Thread(target=self._work, name="cues-batch-runner", daemon=True)

    def start(self) -> None:
        """Queue every accepted batch that has not finished (oldest first), announce again every finished one whose
        webhook was still pending (the service stopped while delivering it), then start the thread."""
        unfinished, unannounced = self.pending()
        for batch_id in unfinished:
            self.submit(batch_id)
        for request, status in unannounced:
            self._announce_later(request, status)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def submit(self, batch_id: str) -> bool:
        """Queue ``batch_id`` unless it waits or runs already; whether it was queued."""
        with self._lock:
            if batch_id in self._waiting or batch_id == self.current:
                return False
            self._waiting.add(batch_id)
        self._queue.put(batch_id)
        return True

    def pending(self) -> tuple[list[str], list[tuple[BatchRequest, BatchStatus]]]:
        """Accepted batches without a finished status, oldest first; and finished ones whose webhook is pending.
        Their callers' marks, which a power cut may have lost, are made again on the way."""
        unfinished, unannounced, requests = [], [], []
        for batch_id in accepted_batches(self.store):
            status = read_status(self.store, batch_id)
            request = read_request(self.store, batch_id)
            requests.append(request)
            if status is None or not status.finished:
                unfinished.append((request.created, batch_id))
            elif status.webhook is not None and status.webhook.state == "pending":
                unannounced.append((request, status))
        if restored := restore_caller_marks(self.store, requests):
            log.warning("made %d caller mark(s) again from their batches' requests", restored)
        return [batch_id for _, batch_id in sorted(unfinished)], unannounced

    # --- the thread ----------------------------------------------------------------------------------------------

    def _work(self) -> None:
        try:
            init_ray()  # the replica's own Ray: connected already (RAY_ADDRESS or a local one otherwise)
            self.workers = start_workers(self.settings.runtime(), detached=False)  # held: they live while held
            self.ready.set()
        except Exception as err:  # readiness says why; batches still run, on fresh workers the job starts
            self.failure = f"the warm cue workers could not start: {err}"
            log.error("%s", self.failure)
        while not self._stop.is_set():
            try:
                batch_id = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            with self._lock:
                self._waiting.discard(batch_id)
                self.current = batch_id
            try:
                self.run_batch(batch_id)
            except Exception:  # never lose the thread: the batch stays unfinished and resumes at the next start
                log.exception("batch %s stopped unexpectedly", batch_id)
            finally:
                self.current = None

    def run_batch(self, batch_id: str) -> BatchStatus:
        """Run one accepted batch to its end, writing its status as its cues move; the final status."""
        request = read_request(self.store, batch_id)
        entries = entries_of(request.briefs, self.store)
        _, cues = expand_briefs(entries)
        if not request.cues:  # a request stored before requests held their cues
            request = request.model_copy(update={"cues": batch_cues(cues)})
        tracker = StatusTracker(self.store, read_status(self.store, batch_id) or initial_status(request))
        delay, reason = self.settings.retry_delay_s, None
        for attempt in range(1, self.settings.batch_attempts + 1):
            tracker.update(state="running")
            try:
                with self._watching(tracker):
                    record = run_job(self._config(request), entries=entries, on_cue=tracker.cue)
            except BatchNotRecorded as err:  # every cue ran; only the batch folder is missing
                record, reason = err.record, str(err)
            except ScoringError as err:
                reason = f"{type(err).__name__}: {err}"
                log.warning("batch %s, attempt %d of %d: %s", batch_id, attempt, self.settings.batch_attempts, reason)
                if attempt < self.settings.batch_attempts and not self._stop.wait(delay):
                    delay *= 2
                    continue
                break
            for result in record.results:
                tracker.cue(None, result)
            report = self.store.uri_for(f"batches/{record.batch_id}/report.html") if reason is None else None
            return self._finish(request, tracker.finish(report_url=report, reason=reason))
        return self._finish(request, tracker.finish(reason=reason or "stopped"))

    def _finish(self, request: BatchRequest, status: BatchStatus) -> BatchStatus:
        delay = 1.0
        while not self._written(status) and not self._stop.wait(delay):  # a finished batch must not resume
            delay = min(30.0, delay * 2)
        self._announce_later(request, status)
        return status

    def _announce_later(self, request: BatchRequest, status: BatchStatus) -> None:
        if request.webhook_url and self._announce is not None:
            threading.Thread(target=self._announce, args=(request, status), daemon=True,
                             name=f"webhook-{request.batch_id}").start()

    @contextmanager
    def _watching(self, tracker: StatusTracker):
        """While the batch runs: ask the warm workers every ``STAGES_EVERY_S`` which cue they compose or render."""
        done = threading.Event()

        def watch() -> None:
            while self.workers and not done.wait(STAGES_EVERY_S):
                try:
                    for stages in ray.get([worker.stages.remote() for worker in self.workers], timeout=5):
                        tracker.stages(stages)
                except Exception as err:  # a worker restarting: its cues' states wait for its answer or result
                    log.debug("asking the workers what they make: %s", err)

        watcher = threading.Thread(target=watch, name="cues-stage-watch", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()

    def _written(self, status: BatchStatus) -> bool:
        try:
            write_status(self.store, status)
            return True
        except StoreError as err:
            log.warning("could not write the final status of batch %s: %s", status.batch_id, err)
            return False

    def _config(self, request: BatchRequest) -> GenerateConfig:
        return GenerateConfig(
            sources=(f"POST /v1/batches by {request.caller}",),
            store=self.store.uri,
            models=self.settings.models,
            worker_cpus=self.settings.worker_cpus,
            render=self.settings.render,
            ray=RayConfig(warm=True),
        )


class StatusTracker:
    """A batch's status in memory, written to the store on every change (a failed write is logged: the next change
    or the batch's end writes it again)."""

    def __init__(self, store: ObjectStore, status: BatchStatus):
        self.store, self.status = store, status
        self._lock = threading.RLock()

    def update(self, **fields) -> BatchStatus:
        with self._lock:
            self.status = self.status.model_copy(update={**fields, "updated": now_iso()})
            self._write()
            return self.status

    def cue(self, spec: CueSpec | None, result: CueResult | None) -> None:
        """``job.run``'s ``on_cue``: a cue handed to a worker (``result`` None), or done."""
        if result is None:
            self.move({spec.cue_id: {"state": "composing"}})
        elif result.ok:
            url = manifest_url(result.cue_id)
            self.move({result.cue_id: {"state": "delivered", "reason": None, "manifest_url": url}})
        else:
            self.move({result.cue_id: {"state": "failed", "reason": result.error}})

    def stages(self, stages: dict[str, str]) -> None:
        """What the workers say they are doing (cue id → ``composing``/``rendering``): a cue only moves forward."""
        self.move({cue_id: {"state": stage} for cue_id, stage in stages.items()}, forward_only=True)

    def move(self, changes: dict[str, dict], forward_only: bool = False) -> None:
        with self._lock:
            cues, moved = [], False
            for cue in self.status.cues:
                fields = changes.get(cue.cue_id)
                if fields and not (forward_only and ORDER[fields["state"]] <= ORDER[cue.state]):
                    cue, moved = cue.model_copy(update=fields), True
                cues.append(cue)
            if moved:
                self.status = self.status.model_copy(update={"cues": tuple(cues), "updated": now_iso()})
                self._write()

    def finish(self, report_url: str | None = None, reason: str | None = None) -> BatchStatus:
        """The batch's end: ``delivered`` (every cue), ``partial`` (some), else ``failed``; unfinished cues fail."""
        cues = tuple(
            c if c.state in ("delivered", "failed") else c.model_copy(update={"state": "failed", "reason": reason})
            for c in self.status.cues
        )
        delivered = sum(c.state == "delivered" for c in cues)
        state = "delivered" if cues and delivered == len(cues) else "partial" if delivered else "failed"
        return self.update(state=state, cues=cues, report_url=report_url, reason=reason)

    def _write(self) -> None:
        try:
            write_status(self.store, self.status)
        except StoreError as err:
            log.warning("could not write the status of batch %s: %s", self.status.batch_id, err)
