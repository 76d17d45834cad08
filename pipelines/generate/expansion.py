"""From one brief to the cues it asks for: every variation, each at full length and at every cutdown.

Pure: no Ray, no storage; runs on the driver. A cue's seed is the brief's resolved seed plus the variation index, so
variation 1 of a brief with ``seed: 7`` is composed from seed 7 and a cutdown shares its full-length cue's seed (the
same material). A revision's cues start from the revised cue's seed (a revised variation keeps its own) and carry
the revised cue, whose plan the composer keeps from.
"""

from __future__ import annotations

from cues.schemas.batch import CueSpec
from cues.schemas.brief import Brief
from cues.schemas.revision import RevisedCue
from cues.schemas.timing import Length


def expand_cues(brief: Brief, revision: RevisedCue | None = None) -> list[CueSpec]:
    """The cues of ``brief`` in delivery order: variation 1 full length, its cutdowns, then variation 2, …;
    ``revision`` is the cue a revision brief revises."""
    resolved = brief.resolve()
    first = resolved.seed
    if revision is not None and resolved.seed == revision.brief_seed:
        first = revision.plan.seed  # a revised variation keeps its variation's seed (its ensemble and groove)
    cues = []
    for variation in range(1, resolved.variations + 1):
        base_id = resolved.id if variation == 1 else f"{resolved.id}-v{variation}"
        seed = first + variation - 1
        common = {"brief_id": resolved.id, "variation": variation, "seed": seed, "brief": resolved}
        cues.append(CueSpec(cue_id=base_id, revision=revision, **common))
        for cutdown in resolved.cutdowns:
            cue_id = f"{base_id}-{_length_slug(cutdown)}"
            cues.append(CueSpec(cue_id=cue_id, cutdown=cutdown.to_brief(), revision=revision, **common))
    return cues


def _length_slug(length: Length) -> str:
    if length.bars is not None:
        return f"{length.bars}bars"
    return f"{length.seconds:g}s".replace(".", "p")
