"""The service's batch runner: accepted batches run one at a time, first in first out, on warm cue workers.

The runner is a thread of the service's process (the Serve replica). It starts the warm cue workers once
(``warm_runtime.start_workers``: the named workers of ``cues up``, kept by the service, or a ``cues up`` runtime's
own when the service joined it), then runs each batch through the main job (``job.run`` with the request's briefs),
which finds those workers by name and hands them the cues. Every change of a cue's state is written to the batch's
``status.json`` at once, so a client polling ``GET /v1/batches/{id}`` (and a restarted service) sees it.

Decisions where the contract is silent:

- One batch at a time: on 2 cores the workers are the bottleneck, and a second batch beside the first would only
  share them. A batch's cues still run in parallel on every worker.
- A cue is ``composing`` from the moment a worker takes it until its result: the worker composes, renders and
  stores it in one call the service cannot see into, so ``rendering`` is never reported by this runner.
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

from cues.pipelines.generate.job import expand_briefs
from cues.pipelines.generate.job import run as run_job
from cues.pipelines.generate.warm_runtime import start_workers
from cues.pipelines.ray_runtime import init_ray
from cues.pipelines.store import ObjectStore
from cues.schemas.api_batch import BatchRequest, BatchStatus, CueStatus
from cues.schemas.batch import CueResult, CueSpec
from cues.schemas.config import GenerateConfig, RayConfig
from cues.schemas.errors import BatchNotRecorded, ScoringError, StoreError
from cues.services.api.batch_records import (
    accepted_batches,
    now_iso,
    read_request,
    read_status,
    write_status,
)
from cues.services.api.intake import entries_of
from cues.services.api.settings import ApiSettings

log = logging.getLogger(__name__)

Announce = Callable[[BatchRequest, BatchStatus], None]  # a finished batch's webhook


def manifest_url(cue_id: str) -> str:
    return f"/v1/cues/{cue_id}"


def initial_status(request: BatchRequest, cues: list[CueSpec]) -> BatchStatus:
    """A batch just accepted: every cue queued."""
    return BatchStatus(
        batch_id=request.batch_id,
        state="accepted",
        created=request.created,
        updated=request.created,
        cues=tuple(CueStatus(cue_id=c.cue_id, brief_id=c.brief_id) for c in cues),
        webhook={"url": request.webhook_url} if request.webhook_url else None,
    )


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
        self._thread = threading.Thread(target=self._work, name="cues-batch-runner", daemon=True)

    def start(self) -> None:
        """Queue every accepted batch that has not finished (oldest first), then start the thread."""
        for batch_id in self.unfinished():
            self.submit(batch_id)
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

    def unfinished(self) -> list[str]:
        """Accepted batches without a finished status, oldest first."""
        found = []
        for batch_id in accepted_batches(self.store):
            status = read_status(self.store, batch_id)
            if status is None or not status.finished:
                found.append((read_request(self.store, batch_id).created, batch_id))
        return [batch_id for _, batch_id in sorted(found)]

    # --- the thread ----------------------------------------------------------------------------------------------

    def _work(self) -> None:
        try:
            init_ray()  # the replica's own Ray: connected already (RAY_ADDRESS or a local one otherwise)
            start_workers(self.settings.runtime(), detached=False)
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
        tracker = StatusTracker(self.store, read_status(self.store, batch_id) or initial_status(request, cues))
        delay, reason = self.settings.retry_delay_s, None
        for attempt in range(1, self.settings.batch_attempts + 1):
            tracker.update(state="running")
            try:
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
        if request.webhook_url and self._announce is not None:
            threading.Thread(target=self._announce, args=(request, status), daemon=True,
                             name=f"webhook-{request.batch_id}").start()
        return status

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
        self._lock = threading.Lock()

    def update(self, **fields) -> BatchStatus:
        with self._lock:
            self.status = self.status.model_copy(update={**fields, "updated": now_iso()})
            self._write()
            return self.status

    def cue(self, spec: CueSpec | None, result: CueResult | None) -> None:
        """``job.run``'s ``on_cue``: a cue handed to a worker (``result`` None), or done."""
        cue_id = result.cue_id if result is not None else spec.cue_id
        if result is None:
            fields = {"state": "composing"}
        elif result.ok:
            fields = {"state": "delivered", "reason": None, "manifest_url": manifest_url(cue_id)}
        else:
            fields = {"state": "failed", "reason": result.error}
        cues = tuple(c.model_copy(update=fields) if c.cue_id == cue_id else c for c in self.status.cues)
        self.update(cues=cues)

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
