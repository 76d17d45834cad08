"""From one brief to the cues it asks for: every variation, each at full length and at every cutdown.

Pure: no Ray, no storage; runs on the driver. A cue's seed is the brief's resolved seed plus the variation index, so
variation 1 of a brief with ``seed: 7`` is composed from seed 7 and a cutdown shares its full-length cue's seed (the
same material).
"""

from __future__ import annotations

from cues.schemas.batch import CueSpec
from cues.schemas.brief import Brief
from cues.schemas.timing import Length


def expand_cues(brief: Brief) -> list[CueSpec]:
    """The cues of ``brief`` in delivery order: variation 1 full length, its cutdowns, then variation 2, …"""
    resolved = brief.resolve()
    cues = []
    for variation in range(1, resolved.variations + 1):
        base_id = resolved.id if variation == 1 else f"{resolved.id}-v{variation}"
        seed = resolved.seed + variation - 1
        cues.append(CueSpec(cue_id=base_id, brief_id=resolved.id, variation=variation, seed=seed, brief=resolved))
        for cutdown in resolved.cutdowns:
            cues.append(
                CueSpec(
                    cue_id=f"{base_id}-{_length_slug(cutdown)}",
                    brief_id=resolved.id,
                    variation=variation,
                    cutdown=cutdown.to_brief(),
                    seed=seed,
                    brief=resolved,
                )
            )
    return cues


def _length_slug(length: Length) -> str:
    if length.bars is not None:
        return f"{length.bars}bars"
    return f"{length.seconds:g}s".replace(".", "p")
