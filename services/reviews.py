"""Reviews of delivered cues: approve, reject or leave a note, stored beside the render they are about.

``cues/<cue-id>/<render-key>/review.json`` (``schemas/review.py``) holds every entry, the newest last. A cue is
named as ``cues show`` names it (``<cue-id>``: its newest delivered render; or ``<cue-id>/<render-key>``), so a
review is of the render a person heard. Written by ``cues approve``/``note`` and ``POST /v1/cues/{cue_id}/review``.

Decisions where the contract is silent:

- Entries are appended, never edited: a rejection after an approval is a new entry, and the state is the newest
  verdict (:func:`~cues.schemas.review.review_state`). A note never changes the verdict.
- A newer render of the cue (new models, a new renderer) starts with no review: it is other audio.
- The file is read, extended and written whole; writers in one process (the service's threads) take turns, so none
  loses another's entry, and a render's first review is written only if the file is still absent (two processes
  approving a new render at once both keep theirs). Two processes adding to an existing file in the same instant
  can still lose one (the store has no compare-and-swap on S3); reviews are people clicking, so that is accepted
  rather than engineered.
- A damaged ``review.json`` is reported (:class:`IntegrityError`), not overwritten: it is the history.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from pydantic import ValidationError

from cues.pipelines.store import ObjectStore
from cues.schemas.errors import IntegrityError, InvalidRequest, StoreConflict, StoreNotFound
from cues.schemas.review import MAX_ENTRIES, ReviewEntry, ReviewState, dump_reviews, read_reviews, review_state
from cues.services.catalog import CueNotFound, DeliveredCue, find_cue

REVIEW_FILE = "review.json"
_WRITING = threading.Lock()  # one read-extend-write at a time in this process


def review_key(cue: DeliveredCue) -> str:
    return f"{cue.prefix}/{REVIEW_FILE}"


def entries_of(store: ObjectStore, cue: DeliveredCue) -> list[ReviewEntry]:
    """The entries of ``cue``'s render, oldest first; none when it was never reviewed."""
    return _stored(store, review_key(cue)) or []


def reviews_of(store: ObjectStore, cue_id: str) -> tuple[DeliveredCue, list[ReviewEntry]]:
    """The render ``cue_id`` names (as ``cues show`` does) and its review entries, oldest first."""
    cue, _ = find_cue(store, cue_id)
    return cue, entries_of(store, cue)


def state_of(store: ObjectStore, cue: DeliveredCue) -> ReviewState | None:
    """What ``cues ls --format json`` shows of a render's review; None when it was never reviewed."""
    return review_state(entries_of(store, cue))


def add_review(
    store: ObjectStore,
    cue_id: str,
    *,
    approved: bool | None,
    note: str = "",
    by: str,
    at: str | None = None,
) -> tuple[DeliveredCue, ReviewEntry]:
    """Append a review to the render ``cue_id`` names: ``approved`` true or false is a verdict, None a note only
    (which then needs text). ``at`` defaults to now (UTC). Returns the render and the entry stored.

    :class:`CueNotFound` when no delivered cue has that name (one still rendering has no manifest yet);
    :class:`InvalidRequest` for an empty note without a verdict, a note too long or a bad name."""
    note = (note or "").strip()
    if approved is None and not note:
        raise InvalidRequest("a note without a verdict needs text; to approve, use approved true (cues approve)")
    try:
        entry = ReviewEntry(approved=approved, note=note, by=by,
                            at=at or datetime.now(UTC).isoformat(timespec="seconds"))
    except ValidationError as error:
        problem = error.errors()[0]
        raise InvalidRequest(f"review {problem['loc'][0]}: {problem['msg']}") from None
    try:
        cue, _ = find_cue(store, cue_id)
    except CueNotFound as error:
        raise CueNotFound(f"{error}; only a delivered cue can be reviewed") from None
    key = review_key(cue)
    with _WRITING:
        for _ in range(3):
            entries = _stored(store, key)
            if entries is not None and len(entries) >= MAX_ENTRIES:
                raise IntegrityError(
                    f"{store.uri_for(key)} already holds {MAX_ENTRIES} reviews; move it aside to go on"
                )
            try:
                store.put_bytes(key, dump_reviews([*(entries or []), entry]), content_type="application/json",
                                if_absent=entries is None)
                return cue, entry
            except StoreConflict:  # another process wrote the render's first review meanwhile: add to theirs
                continue
    raise StoreConflict(f"{store.uri_for(key)} kept changing while a review was added; try again")


def _stored(store: ObjectStore, key: str) -> list[ReviewEntry] | None:
    """The entries at ``key``; None when there is no file (the first review writes it only if still absent)."""
    try:
        return read_reviews(store.get_bytes(key), store.uri_for(key))
    except StoreNotFound:
        return None
