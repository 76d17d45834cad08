"""A batch taken over HTTP (``cues serve``): the request as accepted, and its status as the service runs it.

Both live in the store, not in the service's memory, so that a restarted service finds every accepted batch again:
``api/batches/<batch-id>/request.json`` (:class:`BatchRequest`, written before the client hears 202) and
``api/batches/<batch-id>/status.json`` (:class:`BatchStatus`, the body of ``GET /v1/batches/{id}``, written once the
runner takes the batch; until then the request gives it). The contract is docs/contracts/api-v1.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BatchState = Literal["accepted", "running", "delivered", "partial", "failed"]
CueState = Literal["queued", "composing", "rendering", "delivered", "failed"]
FINISHED: frozenset[str] = frozenset({"delivered", "partial", "failed"})  # a batch in one of these is never resumed


class BatchCue(BaseModel):
    """One cue a batch's briefs expand to (variations and cutdowns are cues of their own)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cue_id: str
    brief_id: str


class BatchRequest(BaseModel):
    """What a caller asked for, as accepted: enough to run the batch again after a restart, and to answer its status
    (every cue queued) until the runner takes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: str
    caller: str = Field(description="The name of the token that submitted it (never the token).")
    created: str = Field(description="ISO 8601 UTC, seconds.")
    briefs: str = Field(description="The brief file as submitted: YAML text, or a JSON request's briefs as JSON.")
    source: str = Field(description="The name the briefs' messages and the batch record give the request.")
    webhook_url: str | None = None
    cues: tuple[BatchCue, ...] = Field(
        (), description="The cues the briefs expand to, in order (empty in a request stored before 2026-12-03)."
    )


class CueStatus(BaseModel):
    """One cue of a batch; ``reason`` says why it failed; ``manifest_url`` is the API path of its manifest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cue_id: str
    brief_id: str
    state: CueState = "queued"
    reason: str | None = None
    manifest_url: str | None = None


class WebhookStatus(BaseModel):
    """The batch's callback: where, how its delivery went (``pending``, ``delivered``, ``failed``), attempts made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    state: str = "pending"
    attempts: int = Field(0, ge=0)


class BatchStatus(BaseModel):
    """``GET /v1/batches/{id}``: the batch's state and each cue's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: str
    state: BatchState = "accepted"
    created: str
    updated: str
    cues: tuple[CueStatus, ...] = ()
    reason: str | None = Field(None, description="Why the whole batch failed (the store, the workers), if it did.")
    report_url: str | None = Field(None, description="The batch report in the store, once written.")
    webhook: WebhookStatus | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED
