"""Revisions: a brief that names a delivered cue (``revise: <cue-id>``) and says only what changes.

A revision is read against the store of the cue it revises (a :class:`RevisionSource`, given by the driver that has
the store): the revised cue's resolved brief lies under the revision's fields, its seed is kept, and the composer
gets its plan (:class:`RevisedCue`) to keep the key, form, sections, tempo, ensemble and groove where they still fit
(``pipelines/compose/revision.py``).

Decisions where the contract is silent:

- Inherited from the revised cue: every field that decides its music or delivery (``INHERITED``), its key as the plan
  chose it (so a key picked by the mood survives a change of mood), and its seed (the brief's, so motifs, ensemble
  and groove stay; a revised variation keeps its own variation seed). Not inherited: ``id`` (a revision is its own
  cue, ``<cue-id>-r1`` by default), ``variations`` and ``cutdowns`` (a revision is one cue unless it asks for more),
  and ``form`` and ``intensity``: the plan keeps the revised cue's sections and their intensities, re-fitted to a
  new length, unless the revision gives its own.
- A revision of a cutdown revises that edit: its length is the cutdown's, and it has no hits (as the cutdown had).
- A revision of a revision (``night-chase-r1``) is numbered on from the root: ``night-chase-r2``.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from cues.schemas.brief import Brief, ResolvedBrief, canonical_hash
from cues.schemas.plan import Plan

REVISE = "revise"
#: The revised cue's fields a revision inherits unless it gives them (see the module docstring).
INHERITED = (
    "title",
    "artist",
    "medium",
    "mood",
    "length",
    "key",
    "tempo",
    "meter",
    "ending",
    "hits",
    "instruments",
    "delivery",
)
#: The fields whose change a revision's plan reports (``Revision.changed``), in the order it reports them.
REPORTED = ("medium", "mood", "length", "key", "tempo", "meter", "ending", "hits", "instruments", "form", "intensity")
REVISION_SUFFIX = re.compile(r"-r\d+$")
MAX_ID = 64


class RevisedCue(BaseModel):
    """The delivered cue a revision revises, as read from its manifest: its id, render key, resolved brief and plan."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cue_id: str
    render_key: str
    brief: ResolvedBrief
    plan: Plan

    @property
    def name(self) -> str:
        """``<cue-id>/<render-key>``, as ``cues show`` and ``cues diff`` take it."""
        return f"{self.cue_id}/{self.render_key}"

    @property
    def brief_seed(self) -> int:
        """The seed of the revised cue's brief (its motifs'), which a revision keeps."""
        return self.plan.motif_seed if self.plan.motif_seed is not None else self.plan.seed


class RevisionSource(Protocol):
    """Where revisions find the cues they revise (the store a batch delivers to)."""

    def revised(self, cue_id: str) -> RevisedCue:
        """The newest delivered render of ``cue_id``; :class:`~cues.schemas.errors.RevisionUnavailable` if none."""
        ...

    def revision_id(self, revised: RevisedCue, brief: Brief) -> str:
        """The id a revision without ``id`` gets: ``<root>-r<N>`` (see :func:`revision_ids`)."""
        ...


def revision_fields(revised: RevisedCue, raw: dict) -> dict:
    """The revision's brief fields: ``raw`` (the revision as written) over the revised cue's inherited fields;
    ``delivery`` merges field by field. Without ``id``: the caller names the revision."""
    base = revised.brief.model_dump(mode="json", include=set(INHERITED))
    base["key"] = revised.plan.key  # as the plan chose it, when the brief left it to the mood
    if revised.plan.cutdown is not None:  # a cutdown's own length, and no hits (they belong to the full edit)
        base.update(length=revised.plan.cutdown, hits=[])
    fields = {name: value for name, value in raw.items() if name not in ("id", REVISE)}
    delivery = fields.get("delivery")
    if isinstance(delivery, dict) and isinstance(base.get("delivery"), dict):
        fields["delivery"] = {**base["delivery"], **delivery}
    return {**base, **fields, REVISE: raw[REVISE], "seed": raw.get("seed", revised.brief_seed)}


def revision_ids(cue_id: str) -> list[str]:
    """The first ids a revision of ``cue_id`` may take, in order: ``<root>-r1``, ``-r2``, … (``root`` without a
    trailing ``-r<N>``, cut so that the id stays a 64-character slug)."""
    root = REVISION_SUFFIX.sub("", cue_id)
    ids = []
    for number in range(1, 1000):
        suffix = f"-r{number}"
        ids.append(root[: MAX_ID - len(suffix)].rstrip("-_") + suffix)
    return ids


def revision_identity(brief: ResolvedBrief | Brief) -> str:
    """What makes two revisions the same request: the resolved brief without its id (a re-submitted revision finds
    the id it was given before, so it is skipped rather than delivered again as ``-r2``)."""
    form = brief.resolve().hashed_form()
    return canonical_hash({name: value for name, value in form.items() if name != "id"})


def brief_changes(revised: RevisedCue, brief: Brief) -> list[str]:
    """What ``brief`` (a revision) asks differently from the revised cue, in words: ``length 60 → 45``."""
    before = revised.brief.model_dump(mode="json")
    before.update(key=revised.plan.key, form="-".join(s.label for s in revised.plan.sections))
    before["intensity"] = [s.intensity for s in revised.plan.sections]
    if revised.plan.cutdown is not None:
        before.update(length=revised.plan.cutdown, hits=[])
    after = brief.model_dump(mode="json")
    if brief.form:
        after["form"] = "-".join(s.label for s in brief.form)
    changes = []
    for name in REPORTED:
        if name in ("form", "intensity") and after.get(name) is None:
            continue  # not given: the revised cue's sections are kept
        if after.get(name) != before.get(name):
            was = before.get(name)
            if name == "tempo" and was is None:  # the mood's tempo, as the plan fitted it
                was = round(revised.plan.tempo_bpm, 2)
            changes.append(f"{name} {_words(was)} → {_words(after.get(name))}")
    if brief.seed != revised.brief_seed:
        changes.append(f"seed {revised.brief_seed} → {brief.seed} (new music)")
    return changes


def _words(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(_words(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
