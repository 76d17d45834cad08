"""A small batch made in the driver's own process, without Ray: the cold path of iterating on a short brief (issue 18).

A cold submit through a local Ray pays Ray's start (GCS, raylet, agents: 4-9 s on this 2-core machine whatever
``ray.init``'s options), a fresh worker process's imports and models (4-6 s) and ``ray.shutdown`` (1.1-1.6 s) around
about 1.2 s of making a 7 s sting (bench/README.md, "Issue 18: the cold submit"). When no Ray is asked for and no
warm runtime serves the batch, ``job.run`` makes a batch of up to ``RayConfig.in_process_max_s`` seconds of music
here instead: the same :class:`~cues.pipelines.generate.workers.CueWorker` (a plain class until ``ray.remote`` wraps
it) with the same :class:`~cues.pipelines.generate.studio.Studio`, so every file is byte for byte what a Ray worker
writes, and the same store, record, report and manifest-last order follow.

Decisions where the contract is silent:

- One cue at a time, made in a thread of its own so that the main thread answers a signal at once. A Ray worker
  keeps two in flight (one made while the other uploads), but here the second would wait for the studio and still
  be made after a stop; a small batch loses a fraction of a second of upload per cue.
- A cue's failure is its result, as in a worker; the store's own retries (``cue_writer.retrying``) are the same. What
  Ray adds, a dying worker process restarted and its cue retried there, has no equivalent: a process that dies
  takes the batch with it, as a driver's death does on Ray, and a re-run delivers what is missing (a cue's manifest
  is written last, so a half-written cue is never skipped). A batch small enough for this path is one a user
  re-runs in seconds.
- Ctrl-C or SIGTERM: the cues not started are dropped; the one being made finishes (about a second for a short cue)
  before the process ends and is delivered whole (the stop's count, taken at the signal, leaves it out).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from cues.pipelines.generate.workers import STORE_RETRY_DELAYS_S, CueCallback, CueWorker
from cues.schemas.batch import CueResult, CueSpec
from cues.schemas.config import RenderConfig

IN_PROCESS = "this process (no Ray)"  # what a batch record's ``runtime`` says for this path
#: One cue at a time with the machine to itself: its render's pieces on two threads (render-6 on a quiet 2-core
#: machine: 0.94 x ``fluidsynth -F`` against 1.70 x on one pass, bench/README.md); the files are the same on one.
IN_PROCESS_RENDER_THREADS = min(2, os.cpu_count() or 1)


def fits_in_process(cues: list[CueSpec], max_s: float) -> bool:
    """Whether ``cues`` are few enough to make in this process: their lengths (estimated, seconds) add up to at most
    ``max_s`` (0: never)."""
    return max_s > 0 and sum(c.length_estimate_s() for c in cues) <= max_s


class InProcessPool:
    """One :class:`CueWorker` in this process, used like a :class:`~cues.pipelines.generate.workers.WorkerPool`
    (a context manager; ``versions``, ``deliver``, ``finished``). Loading it imports torch, SciPy and FluidSynth and
    loads the models and the soundfont (2-5 s)."""

    def __init__(
        self,
        store_uri: str,
        models_uri: str | None,
        render: RenderConfig,
        retry_delays_s: tuple[float, ...] = STORE_RETRY_DELAYS_S,
    ):
        self._store_uri, self._retry_delays_s = store_uri, retry_delays_s
        self._worker = CueWorker(models_uri, render, render_threads=IN_PROCESS_RENDER_THREADS)
        self.finished: list[CueResult] = []  # the cues of the last deliver() done so far (also when stopped)

    def __enter__(self) -> InProcessPool:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def versions(self) -> dict[str, str]:
        return self._worker.versions()

    def close(self) -> None:
        self._worker.studio.close()  # the synths: the pool loaded them (after the cue being made, if stopped)

    def deliver(
        self,
        cues: list[CueSpec],
        on_progress: Callable[[int, int], None] | None = None,
        on_cue: CueCallback | None = None,
    ) -> list[CueResult]:
        """Every cue delivered (or reported failed), results in the order of ``cues``; the longest are started
        first, as in a Ray pool. ``on_cue`` as :meth:`WorkerPool.deliver`'s."""
        self.finished = []
        results: dict[str, CueResult] = {}
        specs = {spec.cue_id: spec for spec in cues}
        executor = ThreadPoolExecutor(1, thread_name_prefix="cue")

        def deliver(spec: CueSpec) -> CueResult:
            if on_cue:
                on_cue(spec, None)
            return self._worker.deliver(self._store_uri, spec, self._retry_delays_s)

        try:
            running = {executor.submit(deliver, spec) for spec in sorted(cues, key=lambda c: -c.length_estimate_s())}
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()  # CueWorker.deliver returns a failure, never raises
                    results[result.cue_id] = result
                    self.finished.append(result)
                    if on_cue:
                        on_cue(specs[result.cue_id], result)
                    if on_progress:
                        on_progress(len(results), len(cues))
        finally:  # also on Ctrl-C: the cues not started are dropped, the one being made finishes
            executor.shutdown(wait=False, cancel_futures=True)
        return [results[c.cue_id] for c in cues]
