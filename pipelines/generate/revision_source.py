"""Revisions read against a store: the delivered cue a brief's ``revise:`` names, and the id its revision gets.

The driver that has the store (``job.run``, ``cues plan --store``, ``cues validate --store``) gives a
:class:`StoreRevisions` to the brief reader (``schemas/brief_file.py``); a cue that is not there, or a store that
cannot be read, makes that one revision invalid at its ``revise`` field and never stops the other briefs.

Decisions where the contract is silent: the newest readable render of the cue is revised (as ``cues show`` shows
it; a damaged render is skipped with a warning). A revision without ``id`` takes the first ``<root>-r<N>`` that no
cue has, or that a render of the same revision already has (the same revision submitted again is skipped, not
delivered again as ``-r2``); ids handed out in one run are not handed out twice.
"""

from __future__ import annotations

import logging

from cues.pipelines.store import ObjectStore, open_store
from cues.schemas.brief import Brief
from cues.schemas.errors import IntegrityError, RevisionUnavailable, StoreError
from cues.schemas.manifest import CueManifest, read_manifest
from cues.schemas.revision import RevisedCue, revision_identity, revision_ids

log = logging.getLogger(__name__)


class StoreRevisions:
    """A :class:`~cues.schemas.revision.RevisionSource` over a store (an open one, or a URI opened when a revision
    first asks, so briefs without revisions never touch it)."""

    def __init__(self, store: ObjectStore | str):
        self._store = store if isinstance(store, ObjectStore) else None
        self._uri = store.uri if isinstance(store, ObjectStore) else store
        self._given: dict[str, str] = {}  # revision ids handed out in this run → the revision's identity

    def revised(self, cue_id: str) -> RevisedCue:
        renders = self._renders(cue_id)
        if not renders:
            raise RevisionUnavailable(f"no delivered cue {cue_id!r} in {self._uri}; `cues ls` lists the cues there")
        newest = max(renders, key=lambda m: (m.created, m.prefix))
        return RevisedCue(cue_id=cue_id, render_key=newest.cue_key, brief=newest.brief, plan=newest.plan)

    def revision_id(self, revised: RevisedCue, brief: Brief) -> str:
        identity = revision_identity(brief)
        for cue_id in revision_ids(revised.cue_id):
            if cue_id in self._given:
                if self._given[cue_id] == identity:
                    return cue_id
                continue
            renders = self._renders(cue_id)
            same = any(m.brief.revise == revised.cue_id and revision_identity(m.brief) == identity for m in renders)
            if not renders or same:
                self._given[cue_id] = identity
                return cue_id
        raise RevisionUnavailable(f"{revised.cue_id} has too many revisions to number another; give this one an id")

    def _open(self) -> ObjectStore:
        if self._store is None:
            try:
                self._store = open_store(self._uri, existing=True)
            except StoreError as err:
                raise RevisionUnavailable(f"cannot read the store of the revised cue: {err}") from None
        return self._store

    def _renders(self, cue_id: str) -> list[CueManifest]:
        store = self._open()
        manifests = []
        try:
            for key in store.list(f"cues/{cue_id}/"):
                parts = key.split("/")
                if len(parts) != 4 or parts[3] != "manifest.json":
                    continue
                try:
                    manifests.append(read_manifest(store.get_bytes(key), store.uri_for(key)))
                except IntegrityError as err:
                    log.warning("revising %s: a damaged render is skipped: %s", cue_id, err)
        except StoreError as err:
            raise RevisionUnavailable(f"cannot read cue {cue_id!r} from {self._uri}: {err}") from None
        return manifests
