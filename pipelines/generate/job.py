"""The main job on Ray: read briefs, expand each into its cues, compose and render every cue, record the batch.

Briefs are expanded by one Ray task each; cues are produced by a pool of actors that load the models and the synth
once (``workers.WorkerPool``, started while the briefs are planned). Invalid briefs and failed cues are reported
in the batch record and never stop the others; a cue whose manifest is already in the store is skipped, so a re-run
does only what is missing. The batch folder gets ``batch.json``, ``cuesheet.csv`` and ``report.html``, then
``_SUCCESS`` last.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from importlib import metadata

from pydantic import BaseModel, ConfigDict, Field

from cues.pipelines.generate.batch_outputs import write_batch
from cues.pipelines.generate.brief_sources import read_sources
from cues.pipelines.generate.cue_spec import CueSpec, expand_cues
from cues.pipelines.generate.workers import WorkerPool, cluster_cpus, pool_size
from cues.pipelines.ray_runtime import init_ray
from cues.pipelines.render.soundfont import find_soundfont
from cues.pipelines.store import open_store
from cues.schemas.brief import Brief, canonical_hash
from cues.schemas.brief_file import BriefEntry
from cues.schemas.config import GenerateConfig

log = logging.getLogger(__name__)

PLAN_TASK_CPUS = 0.5  # fractional, so planning never starves other tasks on a 2-core machine


class BriefOutcome(BaseModel):
    """What happened to one brief of the batch."""

    model_config = ConfigDict(frozen=True)

    source: str
    position: int = Field(description="1-based position in its file; 0 = the file as a whole.")
    brief: str = Field(description="The brief's id, or its position (#N) when it has none.")
    ok: bool
    cues: int = 0
    error: str | None = None


class BatchRecord(BaseModel):
    """Contents of ``batches/<batch-id>/batch.json``."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    status: str = Field(
        description="'rendered' (every cue's MIDI, audio and manifest are in the store) or 'rendered with failures'."
    )
    created: str = Field(description="UTC time, ISO 8601.")
    code_version: str
    store: str
    sources: tuple[str, ...]
    briefs: tuple[BriefOutcome, ...]
    cues: tuple[CueSpec, ...]
    models: dict[str, str] = Field(default_factory=dict, description="Version of each model the cues used.")
    results: tuple[dict, ...] = Field((), description="Per cue: key, store prefix, ok/skipped/error, quality, audio.")
    occurrence: str | None = Field(None, description="The schedule occurrence this batch is, if any (ISO 8601 UTC).")
    schedule: str | None = Field(None, description="The schedule's name, if the batch is a scheduled run.")
    wall_s: float | None = Field(None, description="Wall time of the run, seconds.")

    @property
    def failures(self) -> tuple[BriefOutcome, ...]:
        return tuple(b for b in self.briefs if not b.ok)

    @property
    def failed_cues(self) -> tuple[dict, ...]:
        return tuple(r for r in self.results if not r["ok"])

    @property
    def key(self) -> str:
        return f"batches/{self.batch_id}/batch.json"

    @property
    def folder(self) -> str:
        return f"batches/{self.batch_id}"

    @property
    def audio_s(self) -> float:
        """Seconds of audio delivered (rendered now or found in the store)."""
        return sum((r.get("audio") or {}).get("duration_s") or 0.0 for r in self.results if r["ok"])


def code_version() -> str:
    try:
        return metadata.version("cues")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _plan_brief(brief_json: dict) -> list[dict]:
    """Ray task body: one brief → its cue specs (as JSON, so workers return plain data)."""
    return [cue.model_dump(mode="json") for cue in expand_cues(Brief.model_validate(brief_json))]


def batch_id_of(cues: tuple[CueSpec, ...] | list[CueSpec], occurrence: str | None = None) -> str:
    """``b-`` + 12 hex of the hash of the batch's cues (and of the schedule occurrence, when it is one)."""
    identity: object = sorted(c.content_hash() for c in cues)
    if occurrence:
        identity = {"cues": identity, "occurrence": occurrence}
    return "b-" + canonical_hash(identity)[:12]


def run(
    config: GenerateConfig,
    on_progress: Callable[[str, int, int], None] | None = None,
    entries: list[BriefEntry] | None = None,
) -> BatchRecord:
    """Run the main job and write its batch folder to the store. Returns the record (also for invalid input).

    ``entries`` are briefs already read (a schedule's matrix); by default they are read from ``config.sources``.
    ``on_progress(stage, done, total)`` reports the briefs expanded, then the cues produced."""
    started = time.perf_counter()
    store = open_store(config.store)  # a bad store URI fails before any work starts
    if not (config.ray.address or os.environ.get("RAY_ADDRESS")):
        find_soundfont(config.render.soundfont)  # local run: a missing soundfont fails before any work starts
    entries = read_sources(config.sources) if entries is None else entries
    valid = [e for e in entries if e.ok]
    outcomes: dict[int, BriefOutcome] = {i: _outcome(e) for i, e in enumerate(entries) if not e.ok}
    results: list[dict] = []
    versions: dict[str, str] = {}
    cues: tuple[CueSpec, ...] = ()
    if valid:
        init_ray(config.ray.address, num_cpus=config.ray.num_cpus, dashboard=config.ray.dashboard)

        def start_pool(size: int) -> WorkerPool:
            return WorkerPool(size, store.uri, config.models, config.render, config.worker_cpus)

        # Started now, so that loading the models and the synth overlaps the planning, unless the workers would
        # leave the planning tasks no CPU (they would wait for each other). Every valid brief gives a cue at least.
        early = pool_size(config.workers, len(valid))
        pool = start_pool(early) if early * config.worker_cpus <= cluster_cpus() - PLAN_TASK_CPUS else None
        try:
            cues_by_entry = _plan_briefs(entries, outcomes, on_progress)
            cues = tuple(c for i in sorted(cues_by_entry) for c in cues_by_entry[i])

            def producing(done: int, total: int) -> None:
                if on_progress:
                    on_progress("composing and rendering cues", done, total)

            if cues:
                pool = pool or start_pool(pool_size(config.workers, len(cues)))
                versions = pool.versions()
                results = pool.produce(list(cues), producing)
        finally:
            if pool is not None:
                pool.close()

    record = BatchRecord(
        batch_id=batch_id_of(cues, config.occurrence),
        status="rendered" if all(r["ok"] for r in results) else "rendered with failures",
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        code_version=code_version(),
        store=store.uri,
        sources=config.sources,
        briefs=tuple(outcomes[i] for i in sorted(outcomes)),
        cues=cues,
        models=versions,
        results=tuple(results),
        occurrence=config.occurrence,
        schedule=config.schedule,
        wall_s=round(time.perf_counter() - started, 3),
    )
    write_batch(store, record)
    return record


def _plan_briefs(
    entries: list[BriefEntry],
    outcomes: dict[int, BriefOutcome],
    on_progress: Callable[[str, int, int], None] | None,
) -> dict[int, list[CueSpec]]:
    """Every valid brief expanded into its cues by a Ray task; a brief whose planning fails gets its outcome in
    ``outcomes`` and no cues."""
    import ray  # imported here so validation-only commands start fast

    plan = ray.remote(num_cpus=PLAN_TASK_CPUS, max_retries=2)(_plan_brief)
    pending = {plan.remote(e.brief.model_dump(mode="json")): i for i, e in enumerate(entries) if e.ok}
    cues_by_entry: dict[int, list[CueSpec]] = {}
    total, done = len(pending), 0
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        index = pending.pop(ready[0])
        entry = entries[index]
        try:
            cues = [CueSpec.model_validate(c) for c in ray.get(ready[0])]
            cues_by_entry[index] = cues
            outcomes[index] = _outcome(entry, cues=len(cues))
        except Exception as err:  # one brief's failure is reported; the others go on
            log.warning("planning %s failed: %s", entry.label, err)
            outcomes[index] = _outcome(entry, error=f"planning failed: {err}")
        done += 1
        if on_progress:
            on_progress("expanding briefs", done, total)
    return cues_by_entry


def _outcome(entry: BriefEntry, cues: int = 0, error: str | None = None) -> BriefOutcome:
    message = error or (entry.error.describe() if entry.error else None)
    return BriefOutcome(
        source=entry.source,
        position=entry.position,
        brief=entry.label,
        ok=message is None,
        cues=cues,
        error=message,
    )
