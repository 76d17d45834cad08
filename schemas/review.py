"""A person's verdict on a delivered cue: approved, rejected, or a note (``review.json`` beside the cue).

``cues/<cue-id>/<render-key>/review.json`` holds a list of :class:`ReviewEntry`, the newest last. The list only
grows: a later approval does not erase an earlier rejection, so the file is the history of the cue's review, and
its state is the newest entry with a verdict (:func:`review_state`). Written by ``cues.services.reviews`` (``cues
approve``/``note`` and ``POST /v1/cues/{cue_id}/review``); read by ``cues show``, ``cues ls --format json`` and
``GET /v1/cues/{cue_id}/review``.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from cues.schemas.errors import IntegrityError

MAX_NOTE_CHARS = 4000  # a paragraph of feedback; a pasted file is not a note
MAX_ENTRIES = 1000  # a review history longer than this is a script gone wrong, not people listening


class ReviewEntry(BaseModel):
    """One review of one render: a verdict (``approved``: true, false, or null for a note only), a note, who, when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    approved: bool | None = Field(None, description="true approved, false rejected, null a note without a verdict")
    note: str = Field("", max_length=MAX_NOTE_CHARS, description="free text for the composer or the supervisor")
    by: str = Field(min_length=1, max_length=64, description="who: an API token's name, or the CLI's user")
    at: str = Field(description="when, ISO 8601 in UTC (2026-12-02T16:30:00+00:00)")


class ReviewState(BaseModel):
    """What a listing shows of a cue's review: the newest verdict (who, when) and how many notes there are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    approved: bool | None = Field(description="the newest verdict; null when no entry gave one")
    by: str | None = Field(description="who gave that verdict")
    at: str | None = Field(description="when")
    notes: int = Field(ge=0, description="entries with a note")


_ENTRIES = TypeAdapter(list[ReviewEntry])


def read_reviews(data: bytes | str, where: str = "review.json") -> list[ReviewEntry]:
    """The entries in ``data`` (a JSON list), oldest first; :class:`IntegrityError` naming ``where`` when it is not
    one."""
    try:
        entries = _ENTRIES.validate_python(json.loads(data))
    except (ValueError, ValidationError, RecursionError) as err:
        detail = err.errors()[0]["msg"] if isinstance(err, ValidationError) else "not JSON"
        raise IntegrityError(f"{where} is not a valid review list: {detail}; move it aside to start afresh") from None
    return entries


def dump_reviews(entries: list[ReviewEntry]) -> bytes:
    return _ENTRIES.dump_json(entries, indent=2) + b"\n"


def review_state(entries: list[ReviewEntry]) -> ReviewState | None:
    """The state of a cue with these entries; None when it has none (never reviewed)."""
    if not entries:
        return None
    verdicts = [entry for entry in entries if entry.approved is not None]
    latest = verdicts[-1] if verdicts else None
    return ReviewState(
        approved=latest.approved if latest else None,
        by=latest.by if latest else None,
        at=latest.at if latest else None,
        notes=sum(1 for entry in entries if entry.note),
    )
