"""Reviews of delivered cues: approve, reject or leave a note, stored beside the render they are about.

``cues/<cue-id>/<render-key>/review.json`` (``schemas/review.py``) holds every entry, the newest last. A cue is
named as ``cues show`` names it (``<cue-id>``: its newest delivered render; or ``<cue-id>/<render-key>``), so a
review is of the render a person heard. Written by ``cues approve``/``note`` and ``POST /v1/cues/{cue_id}/review``.

Decisions where the contract is silent:

- Entries are appended, never edited: a rejection after an approval is a new entry, and the state is the newest
  verdict (:func:`~cues.schemas.review.review_state`). A note never changes the verdict.
- A newer render of the cue (new models, a new renderer) starts with no review: it is other audio.
- The file is read, extended and written whole, and only if it is still what was read: a render's first review
  only if the file is still absent, a later one only if it is unchanged (``ObjectStore.replace_if_unchanged``:
  S3's conditional write on the ETag, a folder lock on a local store). A writer that lost the race reads the
  file again and adds its entry to the winner's, so no process loses another's review (up to ``ATTEMPTS`` tries,
  with a short random wait between them; then :class:`StoreConflict` asks the person to try again). Writers in
  one process (the service's threads) also take turns on a lock, so they do not race each other at all.
- A damaged ``review.json`` is reported (:class:`IntegrityError`), not overwritten: it is the history.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime

from pydantic import ValidationError

from cues.pipelines.store import ObjectStore
from cues.schemas.errors import IntegrityError, InvalidRequest, StoreConflict, StoreNotFound
from cues.schemas.review import MAX_ENTRIES, ReviewEntry, ReviewState, dump_reviews, read_reviews, review_state
from cues.services.catalog import CueNotFound, DeliveredCue, find_cue

REVIEW_FILE = "review.json"
ATTEMPTS = 8  # writes of one review that another writer may beat before the person is asked to try again
RETRY_WAIT_S = 0.02  # up to this long before the second try, doubling each time: apart, racing writers both win
_WRITING = threading.Lock()  # one read-extend-write at a time in this process


def review_key(cue: DeliveredCue) -> str:
    return f"{cue.prefix}/{REVIEW_FILE}"


def entries_of(store: ObjectStore, cue: DeliveredCue) -> list[ReviewEntry]:
    """The entries of ``cue``'s render, oldest first; none when it was never reviewed."""
    return _stored(store, review_key(cue))[0] or []


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
        for attempt in range(ATTEMPTS):
            entries, version = _stored(store, key)
            if entries is not None and len(entries) >= MAX_ENTRIES:
                raise IntegrityError(
                    f"{store.uri_for(key)} already holds {MAX_ENTRIES} reviews; move it aside to go on"
                )
            extended = dump_reviews([*(entries or []), entry])
            try:
                if version is None:
                    store.put_bytes(key, extended, content_type="application/json", if_absent=True)
                else:
                    store.replace_if_unchanged(key, extended, version, content_type="application/json")
                return cue, entry
            except StoreConflict:  # another process wrote meanwhile: read theirs and add to it
                time.sleep(random.uniform(0, RETRY_WAIT_S * 2**attempt))
    raise StoreConflict(f"{store.uri_for(key)} kept changing while a review was added; try again")


def _stored(store: ObjectStore, key: str) -> tuple[list[ReviewEntry] | None, str | None]:
    """The entries at ``key`` and the version read; (None, None) when there is no file (the first review writes it
    only if still absent)."""
    try:
        data, version = store.get_versioned(key)
    except StoreNotFound:
        return None, None
    return read_reviews(data, store.uri_for(key)), version
