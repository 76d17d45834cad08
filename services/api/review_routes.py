"""``POST``/``GET /v1/cues/{cue_id}/review``: approve, reject or leave a note on a delivered cue over HTTP.

The reviewer is the caller: an entry's ``by`` is the name of the token that made it, never a field a client could
fill in for someone else. The store is the app's (``app.state.store``); ``services/reviews.py`` does the work, the
same as ``cues approve``/``note``. Routes are plain ``def``: FastAPI runs them on its thread pool, where the store's
blocking calls belong.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from cues.schemas.api_tokens import ApiToken
from cues.schemas.errors import IntegrityError, InvalidRequest, StoreError
from cues.schemas.review import MAX_NOTE_CHARS, review_state
from cues.services.api.errors import ApiError
from cues.services.api.limits import limited_caller
from cues.services.catalog import CueNotFound
from cues.services.reviews import add_review, reviews_of

router = APIRouter(prefix="/v1/cues", tags=["reviews"])


class ReviewRequest(BaseModel):
    """The body of ``POST /v1/cues/{cue_id}/review``."""

    model_config = ConfigDict(extra="forbid", strict=True)  # "approved": "yes" or 1 is a client's bug, not a verdict

    approved: bool | None = Field(None, description="true approves, false rejects, null (or absent) only notes")
    note: str = Field("", max_length=MAX_NOTE_CHARS)


@router.post("/{cue_id}/review", status_code=201)
def post_review(cue_id: str, review: ReviewRequest, request: Request, token: ApiToken = Depends(limited_caller)):
    """Add a review entry to the cue's newest delivered render; 201 with the entry (``by`` is the caller)."""
    with _answered(cue_id):
        _, entry = add_review(request.app.state.store, cue_id, approved=review.approved, note=review.note,
                              by=token.name)
    return JSONResponse(entry.model_dump(), status_code=201, headers={"Location": f"/v1/cues/{cue_id}/review"})


@router.get("/{cue_id}/review")
def get_review(cue_id: str, request: Request, _token: ApiToken = Depends(limited_caller)) -> dict:
    """The render reviewed, its state (the newest verdict) and every entry, oldest first."""
    with _answered(cue_id):
        cue, entries = reviews_of(request.app.state.store, cue_id)
    state = review_state(entries)
    return {
        "cue_id": cue.cue_id,
        "render_key": cue.render_key,
        "state": state.model_dump() if state else None,
        "reviews": [entry.model_dump() for entry in entries],
    }


class _answered:
    """Library errors as API errors: no such cue 404, a bad name or review 422, a damaged review file 409, a store
    that fails 503."""

    def __init__(self, cue_id: str):
        self.cue_id = cue_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, _traceback) -> bool:
        if error is None or isinstance(error, ApiError):
            return False
        if isinstance(error, CueNotFound):
            raise ApiError(404, "not_found", str(error)) from None
        if isinstance(error, InvalidRequest):
            raise ApiError(422, "invalid_request", str(error)) from None
        if isinstance(error, IntegrityError):
            raise ApiError(409, "store_damaged", str(error)) from None
        if isinstance(error, StoreError):
            raise ApiError(503, "store_unavailable", f"the store failed; try again: {error}") from None
        return False
