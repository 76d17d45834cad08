"""The main job: read briefs, expand each into its cues, deliver every cue with a pool of workers, record the batch.

On the driver: the briefs are read and validated once (``brief_sources``; a revision against the cue it revises in
the batch's store, ``revision_source``), resolved and expanded into cue specs (``expansion``; pure and instant).
On Ray: a pool of cue workers (``workers``) that load the models and the synth once delivers every cue
(``cue_writer``); when `cues up` runs a warm local runtime (``warm_runtime``) and its workers serve the batch, the
batch joins it and uses them. A small batch with no Ray to use (no address, no runtime, at most
``ray.in_process_max_s`` seconds of music) is made in this process by the same worker code without starting Ray
(``in_process``): a cold submit of a short sting pays no Ray start. Invalid briefs and failed cues are reported in
the batch record and never stop the others; a cue whose manifest is already in the store is skipped, so a re-run
does only what is missing.
The batch folder gets ``batch.json``, ``cuesheet.csv`` and ``report.html``, then ``_SUCCESS`` last
(``batch_outputs``).

Decisions where the contract is silent: the store is written and deleted once before any work (a missing bucket
fails at once, not after every cue is rendered). When the batch folder cannot be written at the end, the record is
kept in ``./cues-batch-<batch-id>.json`` (else in the temp folder) and :class:`BatchNotRecorded` carries it, so the
caller still shows every cue's result. A batch without cues (no valid brief) is named after its briefs' outcomes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from cues.pipelines.generate.batch_outputs import write_batch
from cues.pipelines.generate.brief_sources import read_sources
from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.generate.in_process import IN_PROCESS, InProcessPool, fits_in_process
from cues.pipelines.generate.revision_source import StoreRevisions
from cues.pipelines.generate.warm_runtime import warm_workers
from cues.pipelines.generate.worker_identity import WorkerIdentity, code_digest
from cues.pipelines.generate.worker_memory import WORKER_MEMORY, fit_memory
from cues.pipelines.generate.workers import CueCallback, WorkerPool, fit_local, pool_size
from cues.pipelines.ray_runtime import LocalHead, find_head, free_cpus, init_ray, ray_connected, shutdown_ray
from cues.pipelines.render.soundfont import find_soundfont, palette_soundfonts
from cues.pipelines.store import open_store
from cues.schemas.batch import BatchRecord, BriefOutcome, CueResult, CueSpec
from cues.schemas.brief import canonical_hash
from cues.schemas.brief_file import BriefEntry
from cues.schemas.config import GenerateConfig
from cues.schemas.errors import BatchNotRecorded, StoreError

log = logging.getLogger(__name__)

DELIVERING = "composing and rendering cues"  # the stage ``on_progress`` reports


class BatchStopped(KeyboardInterrupt):
    """The batch was stopped (Ctrl-C, SIGTERM) while its cues were delivered: the workers are closed and no batch
    record is written. ``finished`` are the cues done before the stop, of ``total``; a re-run skips the delivered."""

    def __init__(self, finished: list[CueResult], total: int):
        super().__init__(f"stopped after {len(finished)} of {total} cues")
        self.finished, self.total = list(finished), total


def code_version() -> str:
    try:
        return metadata.version("cues")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def batch_id_of(
    cues: tuple[CueSpec, ...] | list[CueSpec], occurrence: str | None = None, briefs: Sequence[BriefOutcome] = ()
) -> str:
    """``b-`` + 12 hex of the hash of the batch's cues (and of the schedule occurrence, when it is one).

    A batch without cues (no valid brief) is named by its ``briefs`` instead (each one's source, position, id and
    error), so that different invalid submissions keep their own records and the same one finds its own."""
    identity: object = sorted(c.content_hash() for c in cues)
    if not cues and briefs:
        identity = {"briefs": [[b.source, b.position, b.brief, b.error] for b in briefs]}
    if occurrence:
        identity = {"cues": identity, "occurrence": occurrence}
    return "b-" + canonical_hash(identity)[:12]


def expand_briefs(entries: list[BriefEntry]) -> tuple[list[BriefOutcome], list[CueSpec]]:
    """Every brief's outcome, and the cues of the valid ones in the order of ``entries``."""
    outcomes, cues = [], []
    for entry in entries:
        if not entry.ok:
            outcomes.append(_outcome(entry, error=entry.error.describe()))
            continue
        try:
            expanded = expand_cues(entry.brief, entry.revision)
        except Exception as err:  # one brief's failure is reported; the others go on
            log.warning("expanding %s failed: %s", entry.label, err)
            outcomes.append(_outcome(entry, error=f"could not be expanded into cues: {err}"))
            continue
        cues += expanded
        outcomes.append(_outcome(entry, cues=len(expanded)))
    return outcomes, cues


def run(
    config: GenerateConfig,
    on_progress: Callable[[str, int, int], None] | None = None,
    entries: list[BriefEntry] | None = None,
    on_cue: CueCallback | None = None,
) -> BatchRecord:
    """Run the main job and write its batch folder to the store. Returns the record (also for invalid input).

    ``entries`` are briefs already read (a schedule's matrix, a request to ``cues serve``); by default they are read
    from ``config.sources``. ``on_progress(stage, done, total)`` reports the cues delivered; ``on_cue(spec,
    result)`` each cue as it goes to a worker (``result`` None) and when it is done (the service's status)."""
    started = time.perf_counter()
    store = open_store(config.store)  # a bad store URI fails before any work starts
    store.check_writable()  # and so does a missing bucket or folder, or refused credentials
    code = code_digest()  # this process's code, which a runtime and its workers must have been started from
    head = local_runtime(config, code)
    if not (config.ray.address or os.environ.get("RAY_ADDRESS") or head):  # a warm runtime's workers hold theirs
        find_soundfont(config.render.soundfont)  # local run: a missing soundfont fails before any work starts
        palette_soundfonts()  # and so does a palette's
    entries = read_sources(config.sources, StoreRevisions(store)) if entries is None else entries
    outcomes, cues = expand_briefs(entries)
    results: list[CueResult] = []
    versions: dict[str, str] = {}
    runtime = None
    if cues and makes_in_process(config, cues, head):
        runtime = IN_PROCESS
        with InProcessPool(store.uri, config.models, config.render, config.store_retry_delays_s) as pool:
            versions, results = _deliver(pool, cues, on_progress, on_cue)
    elif cues:
        address = config.ray.address or (head.address if head else None)
        num_cpus = None if head else config.ray.num_cpus
        ray_info = init_ray(address, num_cpus=num_cpus, dashboard=config.ray.dashboard)
        runtime = runtime_name(ray_info, head)
        warm = serving_workers(config, head, code)
        size = pool_size(config.workers, len(cues))
        if ray_info["local"] or head:  # a local Ray never grows: a worker that does not fit would never start
            size = fit_local(size, config.worker_cpus, free_cpus() if head else ray_info["cpus"])
        size, memory = fit_memory(size, WORKER_MEMORY.bytes_for(cues), ray_info.get("memory", 0.0))
        cpus, timeout = config.worker_cpus, config.worker_start_timeout_s
        retries = config.store_retry_delays_s
        with WorkerPool(size, store.uri, config.models, config.render, cpus, timeout, memory, warm, retries) as pool:
            versions, results = _deliver(pool, cues, on_progress, on_cue)
    record = BatchRecord(
        batch_id=batch_id_of(cues, config.occurrence, outcomes),
        status="rendered" if all(r.ok for r in results) else "rendered with failures",
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        code_version=code_version(),
        store=store.uri,
        sources=config.sources,
        briefs=tuple(outcomes),
        cues=tuple(cues),
        models=versions,
        results=tuple(results),
        occurrence=config.occurrence,
        schedule=config.schedule,
        wall_s=round(time.perf_counter() - started, 3),
        runtime=runtime,
    )
    try:
        record = write_batch(store, record)
    except StoreError as err:  # the cues are delivered or failed already: their results must not be lost with it
        kept = keep_record_locally(record)
        where = f"the record is in {kept}" if kept else "it could not be kept in a local file either"
        message = f"batch {record.batch_id} ran, but its record could not be written to the store: {err}; {where}"
        raise BatchNotRecorded(message, record, kept) from err
    return record


def _deliver(
    pool: WorkerPool | InProcessPool, cues: list[CueSpec], on_progress, on_cue: CueCallback | None
) -> tuple[dict, list[CueResult]]:
    """The models' versions and every cue's result from ``pool``; :class:`BatchStopped` on Ctrl-C or SIGTERM."""
    try:
        versions = pool.versions()
        progress = lambda done, total: on_progress and on_progress(DELIVERING, done, total)  # noqa: E731
        return versions, pool.deliver(cues, progress, on_cue)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (the CLI's handler): say what was done, end the workers
        shutdown_ray()  # with the driver: killed one by one, Ray prints each cue in flight "will be retried"
        raise BatchStopped(pool.finished, len(cues)) from None


def makes_in_process(config: GenerateConfig, cues: list[CueSpec], head: LocalHead | None) -> bool:
    """Whether the batch is made in this process without Ray (``in_process``): no cluster address, no runtime of
    `cues up` to use, no Ray this process is already connected to (joining it costs nothing), no Ray setting that
    only a Ray pool honours (a local Ray's ``num_cpus``, more than one worker), and at most ``ray.in_process_max_s``
    seconds of music."""
    if config.ray.address or os.environ.get("RAY_ADDRESS") or head is not None or ray_connected():
        return False
    if config.ray.num_cpus or (config.workers or 1) > 1:
        return False
    return fits_in_process(cues, config.ray.in_process_max_s)


def runtime_name(ray_info: dict, head: LocalHead | None) -> str:
    """Where a batch on Ray makes its cues, for its record (``BatchRecord.runtime``)."""
    if head is not None:
        return f"the warm runtime at {head.address}"
    return "a local Ray" if ray_info["local"] else f"the Ray cluster at {ray_info['address']}"


def local_runtime(config: GenerateConfig, code: str) -> LocalHead | None:
    """The local runtime `cues up` started, when the batch may use it: no cluster address given, ``ray.warm`` on,
    and the runtime started from this code (a head of other code is left alone, with a warning)."""
    if not config.ray.warm or config.ray.address or os.environ.get("RAY_ADDRESS"):
        return None
    head = find_head()
    if head is not None and head.code != code:
        log.warning(
            "the cues runtime at %s was started from other code: this batch starts a Ray of its own (to use the "
            "runtime: `%s`, then `cues up`)",
            head.address,
            head.stop_hint(),
        )
        return None
    return head


def serving_workers(config: GenerateConfig, head: LocalHead | None, code: str) -> list:
    """The warm workers on the connected Ray that serve this batch (empty: the pool starts fresh ones); when a
    runtime's workers do not serve it, a warning says why."""
    if not config.ray.warm:
        return []
    wanted = WorkerIdentity(code=code, models=config.models, render=config.render.model_dump_json())
    warm, why = warm_workers(wanted)
    if warm:
        log.info("%d warm cue worker(s) deliver this batch", len(warm))
    elif why:
        log.warning("the warm cue workers do not serve this batch (%s): fresh workers deliver it", why)
    elif head:
        log.warning("the cues runtime at %s has no warm cue workers: fresh workers deliver this batch", head.address)
    return warm


def keep_record_locally(record: BatchRecord) -> Path | None:
    """Write ``record`` to ``cues-batch-<batch-id>.json`` in the working directory, else in the temp folder; the
    file's path, or None if neither could be written."""
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        path = folder / f"cues-batch-{record.batch_id}.json"
        try:
            path.write_text(record.model_dump_json(indent=2))
        except OSError as err:
            log.warning("cannot keep the batch record in %s: %s", path, err)
            continue
        log.warning("the batch record is kept in %s", path)
        return path
    return None


def _outcome(entry: BriefEntry, cues: int = 0, error: str | None = None) -> BriefOutcome:
    return BriefOutcome(
        source=entry.source, position=entry.position, brief=entry.label, ok=error is None, cues=cues, error=error
    )
