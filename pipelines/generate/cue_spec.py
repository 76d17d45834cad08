"""From one brief to the cues it asks for: every variation, each at full length and at every cutdown.

Pure: no Ray, no storage. A cue's seed is the brief's resolved seed plus the variation index, so variation 1 of a
brief with ``seed: 7`` is composed from seed 7 and a cutdown shares its full-length cue's seed (the same material).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cues.schemas.brief import Brief, canonical_hash
from cues.schemas.timing import Length, parse_length


class CueSpec(BaseModel):
    """One cue to compose and render."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cue_id: str = Field(description="Brief id, plus -v<N> for variations after the first, plus -<length> for cutdowns.")
    brief_id: str
    variation: int = Field(ge=1, description="1-based variation number.")
    cutdown: float | str | None = Field(None, description="The cutdown length as in the brief; None = full length.")
    seed: int = Field(ge=0)
    brief: dict = Field(description="The resolved brief (medium defaults filled in), as JSON.")

    def content_hash(self) -> str:
        """Hash of everything that decides this cue's music (models and renderer are added by the render key)."""
        return canonical_hash({"brief": self.brief, "seed": self.seed, "cutdown": self.cutdown})

    def length_estimate_s(self) -> float:
        """The cue's length in seconds before it is planned: exact for seconds, and for bars at the brief's tempo;
        bars without a tempo count at the middle of the tempo range; 0 for a spec whose brief does not validate
        (its worker reports why). For ordering work, not for timing."""
        try:
            brief = Brief.model_validate(self.brief)
            length = brief.length if self.cutdown is None else parse_length(self.cutdown)
        except ValueError:  # pydantic's ValidationError and TimingParseError are ValueErrors
            return 0.0
        exact = length.duration(brief.meter, brief.tempo)
        return exact if exact is not None else sum(length.duration_range(brief.meter)) / 2


def expand_cues(brief: Brief) -> list[CueSpec]:
    """The cues of ``brief`` in delivery order: variation 1 full length, its cutdowns, then variation 2, …"""
    resolved = brief.resolve_defaults()
    data = resolved.model_dump(mode="json")
    cues = []
    for variation in range(1, resolved.variations + 1):
        base_id = resolved.id if variation == 1 else f"{resolved.id}-v{variation}"
        seed = resolved.seed + variation - 1
        cues.append(CueSpec(cue_id=base_id, brief_id=resolved.id, variation=variation, seed=seed, brief=data))
        for cutdown in resolved.cutdowns:
            cues.append(
                CueSpec(
                    cue_id=f"{base_id}-{_length_slug(cutdown)}",
                    brief_id=resolved.id,
                    variation=variation,
                    cutdown=cutdown.to_brief(),
                    seed=seed,
                    brief=data,
                )
            )
    return cues


def _length_slug(length: Length) -> str:
    if length.bars is not None:
        return f"{length.bars}bars"
    return f"{length.seconds:g}s".replace(".", "p")
