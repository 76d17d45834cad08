"""A batch: the cues a run was asked for (:class:`CueSpec`), what became of each brief and cue, and the record of the
whole run (``batches/<batch-id>/batch.json``, ``docs/contracts/batch-record.md``).

Written by ``cues.pipelines.generate``; read by the batch outputs (cue sheet, report), the CLI's summary, the
catalog (``cues ls --batch``) and the scheduler.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cues.schemas.brief import ResolvedBrief, canonical_hash
from cues.schemas.errors import IntegrityError
from cues.schemas.manifest import CueManifest
from cues.schemas.revision import RevisedCue
from cues.schemas.timing import parse_length


class CueSpec(BaseModel):
    """One cue to compose and render: a resolved brief, the variation's seed, and the cutdown length if any."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cue_id: str = Field(description="Brief id, plus -v<N> for variations after the first, plus -<length> for cutdowns.")
    brief_id: str
    variation: int = Field(ge=1, description="1-based variation number.")
    cutdown: float | str | None = Field(None, description="The cutdown length as in the brief; None = full length.")
    seed: int = Field(ge=0)
    brief: ResolvedBrief
    revision: RevisedCue | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="The delivered cue this one revises (brief field revise), whose plan the composer keeps from.",
    )

    def content_hash(self) -> str:
        """Hash of everything that decides this cue's music (models and renderer are added by the render key); a
        revision's includes the render it revises, whose plan it keeps from."""
        identity = {"brief": self.brief.hashed_form(), "seed": self.seed, "cutdown": self.cutdown}
        if self.revision is not None:
            identity["revision"] = self.revision.name
        return canonical_hash(identity)

    def length_estimate_s(self) -> float:
        """The cue's length in seconds before it is planned: exact for seconds, and for bars at the brief's tempo;
        bars without a tempo count at the middle of the tempo range. For ordering work, not for timing."""
        length = self.brief.length if self.cutdown is None else parse_length(self.cutdown)
        exact = length.duration(self.brief.meter, self.brief.tempo)
        return exact if exact is not None else sum(length.duration_range(self.brief.meter)) / 2


class BriefOutcome(BaseModel):
    """What happened to one brief of the batch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    position: int = Field(description="1-based position in its file; 0 = the file as a whole.")
    brief: str = Field(description="The brief's id, or its position (#N) when it has none.")
    ok: bool
    cues: int = 0
    error: str | None = None


class AudioDigest(BaseModel):
    """The few audio numbers a batch summary shows, from a cue's manifest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    duration_s: float
    loudness_lufs: float | None = Field(description="Of the delivery master (mix.wav, else mix.flac); None if none.")
    true_peak_dbtp: float | None
    limited: bool
    silent_stems: tuple[str, ...]

    @classmethod
    def of(cls, manifest: CueManifest) -> AudioDigest:
        mix = manifest.mix
        return cls(
            duration_s=manifest.audio.duration_s,
            loudness_lufs=mix.loudness_lufs if mix else None,
            true_peak_dbtp=mix.true_peak_dbtp if mix else None,
            limited=manifest.audio.limiter.engaged,
            silent_stems=manifest.audio.silent_stems,
        )


class CueResult(BaseModel):
    """What became of one cue: delivered now, found delivered already (``skipped``), or failed with a message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cue_id: str
    key: str = Field("", description="The render key; empty when the cue failed before it was known.")
    prefix: str = Field("", description="The cue's folder in the store (cues/<cue-id>/<render-key>).")
    ok: bool
    skipped: bool = False
    error: str | None = None
    length_s: float | None = None
    quality: dict[str, Any] | None = None
    audio: AudioDigest | None = None
    warnings: tuple[str, ...] = Field(
        (), description="The plan's warnings: where it departs from the brief (a given tempo moved, a hit missed)."
    )
    revision: tuple[str, ...] = Field(
        (),
        exclude_if=lambda value: not value,
        description="A revision's account in words: of which cue, what its brief changed, what was kept and adapted.",
    )

    @classmethod
    def delivered(cls, manifest: CueManifest, skipped: bool = False) -> CueResult:
        return cls(
            cue_id=manifest.cue_id,
            key=manifest.cue_key,
            prefix=manifest.prefix,
            ok=True,
            skipped=skipped,
            length_s=manifest.length_s,
            quality=manifest.quality,
            audio=AudioDigest.of(manifest),
            warnings=manifest.plan.warnings,
            revision=tuple(manifest.plan.revision.lines()) if manifest.plan.revision else (),
        )

    @classmethod
    def failed(cls, cue_id: str, error: str) -> CueResult:
        return cls(cue_id=cue_id, ok=False, error=error)


class BatchRun(BaseModel):
    """One run of a batch (a submit, a re-submit, a schedule occurrence run again): what it did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    started: str = Field(description="UTC time the run's record was made, ISO 8601.")
    status: str
    rendered: int = Field(ge=0, description="Cues made by this run.")
    skipped: int = Field(ge=0, description="Cues found already in the store.")
    failed: int = Field(ge=0, description="Cues that failed in this run.")
    invalid_briefs: int = Field(0, ge=0)
    wall_s: float | None = None
    code_version: str = ""
    runtime: str | None = Field(None, description="Where the run made its cues (the record's ``runtime``).")

    @classmethod
    def of(cls, record: BatchRecord) -> BatchRun:
        """The run a record (or a record written before runs were kept) describes."""
        results = record.results
        return cls(
            started=record.created,
            status=record.status,
            rendered=sum(r.ok and not r.skipped for r in results),
            skipped=sum(r.skipped for r in results),
            failed=sum(not r.ok for r in results),
            invalid_briefs=len(record.failures),
            wall_s=record.wall_s,
            code_version=record.code_version,
            runtime=record.runtime,
        )


class BatchRecord(BaseModel):
    """Contents of ``batches/<batch-id>/batch.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="cues batch record")

    batch_id: str
    status: str = Field(
        description="'rendered' (every cue's MIDI, audio and manifest are in the store) or 'rendered with failures'."
    )
    created: str = Field(description="UTC time, ISO 8601.")
    code_version: str
    store: str
    sources: tuple[str, ...]
    briefs: tuple[BriefOutcome, ...] = Field(description="The briefs that could not be expanded into cues.")
    cues: tuple[CueSpec, ...]
    models: dict[str, str] = Field(default_factory=dict, description="Version of each model the cues used.")
    results: tuple[CueResult, ...] = Field((), description="One per cue, in the order of ``cues``.")
    occurrence: str | None = Field(None, description="The schedule occurrence this batch is, if any (ISO 8601 UTC).")
    schedule: str | None = Field(None, description="The schedule's name, if the batch is a scheduled run.")
    wall_s: float | None = Field(None, description="Wall time of the run, seconds.")
    runtime: str | None = Field(
        None,
        description="Where the latest run made its cues: 'this process (no Ray)' (a small batch with no Ray asked "
        "for), 'a local Ray', 'the warm runtime at <address>' or 'the Ray cluster at <address>'; null when no cue "
        "was made, and in records written before it was kept.",
    )
    runs: tuple[BatchRun, ...] = Field(
        (),
        description="Every run of the batch, oldest first: a re-submit adds its run and keeps the first's summary "
        "(``created`` stays the first run's; ``status``, ``results`` and ``wall_s`` are the latest run's). Empty in "
        "records written before runs were kept.",
    )

    def after(self, previous: BatchRecord | None) -> BatchRecord:
        """This run's record continuing ``previous`` (the batch's stored record, if any): its runs, then this one."""
        this = BatchRun.of(self)
        if previous is None:
            return self.model_copy(update={"runs": (this,)})
        earlier = previous.runs or (BatchRun.of(previous),)
        return self.model_copy(update={"created": previous.created, "runs": (*earlier, this)})

    @property
    def failures(self) -> tuple[BriefOutcome, ...]:
        return tuple(b for b in self.briefs if not b.ok)

    @property
    def failed_cues(self) -> tuple[CueResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    @property
    def delivered(self) -> tuple[CueResult, ...]:
        return tuple(r for r in self.results if r.ok)

    @property
    def key(self) -> str:
        return f"batches/{self.batch_id}/batch.json"

    @property
    def folder(self) -> str:
        return f"batches/{self.batch_id}"

    @property
    def audio_s(self) -> float:
        """Seconds of audio delivered (rendered now or found in the store)."""
        return sum(r.audio.duration_s for r in self.results if r.ok and r.audio)


def read_batch_record(data: bytes | str, where: str = "batch.json") -> BatchRecord:
    """The batch record in ``data``; :class:`IntegrityError` naming ``where`` when it is not one."""
    try:
        return BatchRecord.model_validate(json.loads(data))
    except (ValueError, ValidationError) as err:
        detail = err.errors()[0]["msg"] if isinstance(err, ValidationError) else str(err)
        raise IntegrityError(f"{where} is not a valid batch record: {detail}") from None
    except RecursionError:  # "[[[[…" 100,000 deep: json gives up, and must not become a traceback
        raise IntegrityError(f"{where} is not a valid batch record: nested too deeply") from None
