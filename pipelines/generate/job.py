"""The main job on Ray: read briefs, expand each into its cues, compose every cue, record the batch in the store.

Briefs are expanded by one Ray task each; cues are composed by a pool of actors that load the models once
(``CueComposer``). Invalid briefs and failed cues are reported in the batch record and never stop the others; a
cue whose manifest is already in the store is skipped, so a re-run does only what is missing. Rendering (a later
stage) plugs in after composition.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from importlib import metadata

from pydantic import BaseModel, ConfigDict, Field

from pipelines.generate.cue_spec import CueSpec, expand_cues
from schemas.brief import Brief, canonical_hash
from schemas.brief_file import BriefEntry
from schemas.config import GenerateConfig, RenderConfig
from schemas.errors import RenderError
from services.brief_sources import read_sources
from services.ray_runtime import init_ray
from services.store import open_store

log = logging.getLogger(__name__)

PLAN_TASK_CPUS = 0.5  # fractional, so planning never starves other tasks on a 2-core machine
COMPOSER_CPUS = 0.5  # per actor; a pool that took every CPU would starve Ray's own tasks (shared/notes/ray-s3.md)


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
    results: tuple[dict, ...] = Field((), description="Per cue: key, store prefix, ok/skipped/error, quality.")

    @property
    def failures(self) -> tuple[BriefOutcome, ...]:
        return tuple(b for b in self.briefs if not b.ok)

    @property
    def failed_cues(self) -> tuple[dict, ...]:
        return tuple(r for r in self.results if not r["ok"])

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


class CueComposer:
    """Ray actor: loads the models and the synth once, then composes and renders cues into the store
    (see ``cue_writer.write_cue``)."""

    def __init__(self, store_uri: str, models_uri: str | None, render_json: dict):
        import torch

        from pipelines.compose.composer import ComposerModels
        from pipelines.render.cue_renderer import CueRenderer

        torch.set_num_threads(1)  # batch-1 model steps: threads cost more than they give, and actors run side by side
        self.renderer = CueRenderer(RenderConfig.model_validate(render_json))  # first: a missing soundfont fails fast
        self.store = open_store(store_uri)
        self.models = ComposerModels.load(models_uri)

    def versions(self) -> dict[str, str]:
        return self.models.versions

    def compose(self, spec_json: dict) -> dict:
        from pipelines.generate.cue_writer import CueResult, write_cue

        spec = CueSpec.model_validate(spec_json)
        try:
            return write_cue(self.store, spec, self.models, self.renderer).as_dict()
        except Exception as err:  # one cue's failure is reported with its message; the batch goes on
            log.warning("composing %s failed: %s", spec.cue_id, err)
            return CueResult(spec.cue_id, "", "", False, error=f"{type(err).__name__}: {err}").as_dict()


def compose_cues(
    cues: list[CueSpec],
    store_uri: str,
    models_uri: str | None,
    render: RenderConfig,
    on_progress: Callable[[int, int], None] | None,
) -> tuple[list[dict], dict[str, str]]:
    """Every cue composed by a pool of ``CueComposer`` actors; results in the order of ``cues``."""
    import ray
    from ray.util import ActorPool

    if not cues:
        return [], {}
    size = max(1, min(len(cues), int(ray.cluster_resources().get("CPU", 1))))
    actor = ray.remote(num_cpus=COMPOSER_CPUS, max_restarts=1, max_task_retries=1)(CueComposer)
    actors = [actor.remote(store_uri, models_uri, render.model_dump(mode="json")) for _ in range(size)]
    try:
        versions = ray.get(actors[0].versions.remote())
    except ray.exceptions.RayActorError as err:  # e.g. no soundfont on the workers: say why, not "actor died"
        for a in actors:
            ray.kill(a)
        raise RenderError(f"the cue workers could not start: {_root_message(err)}") from err
    pool = ActorPool(actors)
    results: dict[str, dict] = {}
    for result in pool.map_unordered(lambda a, spec: a.compose.remote(spec), [c.model_dump(mode="json") for c in cues]):
        results[result["cue_id"]] = result
        if on_progress:
            on_progress(len(results), len(cues))
    for a in actors:
        ray.kill(a)
    return [results[c.cue_id] for c in cues], versions


def run(config: GenerateConfig, on_progress: Callable[[str, int, int], None] | None = None) -> BatchRecord:
    """Run the main job and write its batch record to the store. Returns the record (also for invalid input).

    ``on_progress(stage, done, total)`` reports the briefs expanded, then the cues composed."""
    import ray  # imported here so validation-only commands start fast

    store = open_store(config.store)  # a bad store URI fails before any work starts
    if not (config.ray.address or os.environ.get("RAY_ADDRESS")):
        from pipelines.render.soundfont import find_soundfont

        find_soundfont(config.render.soundfont)  # local run: a missing soundfont fails before any work starts
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
                on_progress("expanding briefs", done, total)

    cues = tuple(c for i in sorted(cues_by_entry) for c in cues_by_entry[i])

    def composing(done: int, total: int) -> None:
        if on_progress:
            on_progress("composing cues", done, total)

    results, versions = compose_cues(list(cues), store.uri, config.models, config.render, composing)
    record = BatchRecord(
        batch_id="b-" + canonical_hash(sorted(c.content_hash() for c in cues))[:12],
        status="rendered" if all(r["ok"] for r in results) else "rendered with failures",
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        code_version=code_version(),
        store=store.uri,
        sources=config.sources,
        briefs=tuple(outcomes[i] for i in sorted(outcomes)),
        cues=cues,
        models=versions,
        results=tuple(results),
    )
    store.put_bytes(
        record.key,
        json.dumps(record.model_dump(mode="json"), indent=2).encode(),
        content_type="application/json",
    )
    return record


def _root_message(err: Exception) -> str:
    """The original error's last line from a Ray error that wraps a worker's traceback (``Type: message``)."""
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    last = lines[-1] if lines else repr(err)
    name, _, message = last.partition(": ")
    return f"{name.rsplit('.', 1)[-1]}: {message}" if message and " " not in name else last


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
