"""The main job on Ray: read briefs, expand each into its cues in parallel, record the batch in the store.

Composition and rendering (later stages) plug in where ``_plan_brief`` runs: one Ray task per brief today.
Invalid briefs are reported in the batch record and never stop the valid ones.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from importlib import metadata

from pydantic import BaseModel, ConfigDict, Field

from pipelines.generate.cue_spec import CueSpec, expand_cues
from schemas.brief import Brief, canonical_hash
from schemas.brief_file import BriefEntry
from schemas.config import GenerateConfig
from services.brief_sources import read_sources
from services.ray_runtime import init_ray
from services.store import open_store

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
    status: str = Field(description="'planned': cues are resolved and expanded; audio comes with later stages.")
    created: str = Field(description="UTC time, ISO 8601.")
    code_version: str
    store: str
    sources: tuple[str, ...]
    briefs: tuple[BriefOutcome, ...]
    cues: tuple[CueSpec, ...]

    @property
    def failures(self) -> tuple[BriefOutcome, ...]:
        return tuple(b for b in self.briefs if not b.ok)

    @property
    def key(self) -> str:
        return f"batches/{self.batch_id}/batch.json"


def code_version() -> str:
    try:
        return metadata.version("cues")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _plan_brief(brief_json: dict) -> list[dict]:
    """Ray task body: one brief → its cue specs (as JSON, so workers return plain data)."""
    return [cue.model_dump(mode="json") for cue in expand_cues(Brief.model_validate(brief_json))]


def run(config: GenerateConfig, on_progress: Callable[[int, int], None] | None = None) -> BatchRecord:
    """Run the main job and write its batch record to the store. Returns the record (also for invalid input)."""
    import ray  # imported here so validation-only commands start fast

    store = open_store(config.store)  # a bad store URI fails before any work starts
    entries = read_sources(config.sources)
    valid = [e for e in entries if e.ok]
    outcomes: dict[int, BriefOutcome] = {i: _outcome(e) for i, e in enumerate(entries) if not e.ok}
    cues_by_entry: dict[int, list[CueSpec]] = {}

    if valid:
        init_ray(config.ray.address, num_cpus=config.ray.num_cpus, dashboard=config.ray.dashboard)
        plan = ray.remote(num_cpus=PLAN_TASK_CPUS, max_retries=2)(_plan_brief)
        pending = {plan.remote(e.brief.model_dump(mode="json")): i for i, e in enumerate(entries) if e.ok}
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
                on_progress(done, total)

    cues = tuple(c for i in sorted(cues_by_entry) for c in cues_by_entry[i])
    record = BatchRecord(
        batch_id="b-" + canonical_hash(sorted(c.content_hash() for c in cues))[:12],
        status="planned",
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        code_version=code_version(),
        store=store.uri,
        sources=config.sources,
        briefs=tuple(outcomes[i] for i in sorted(outcomes)),
        cues=cues,
    )
    store.put_bytes(
        record.key,
        json.dumps(record.model_dump(mode="json"), indent=2).encode(),
        content_type="application/json",
    )
    return record


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
