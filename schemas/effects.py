"""The effects each mood family uses (``schemas/effects.yaml``) as typed data: the riser that prepares hits and
rising sections, the impact that lands them, and whether the impact instrument rolls into them.

How the effects are written (when, on which pitch, how loud) is ``pipelines/compose/effects.py``'s; this module only
says which instruments play them. Every mood belongs to exactly one family (a test validates the file).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cues.schemas.moods import MOODS

SOUND_EFFECTS = range(112, 128)  # GM percussive and sound-effect programs: unpitched, played on the key's tonic


class FamilyEffects(BaseModel):
    """The effects of one mood family: General MIDI programs (0–127) of its riser and impact (None: no impact)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    moods: tuple[str, ...] = Field(min_length=1, description="the moods of the family")
    riser: int = Field(ge=0, le=127, description="GM program swelling into a hit or a rising section")
    impact: int | None = Field(None, ge=0, le=127, description="GM program landing a hit or a climax; None: none")
    roll: bool = Field(False, description="the impact instrument rolls under the riser's last beats")

    @model_validator(mode="after")
    def _rolls_need_an_impact(self) -> FamilyEffects:
        if self.roll and self.impact is None:
            raise ValueError("a family that rolls needs an impact instrument to roll on")
        return self

    @property
    def riser_is_pitched(self) -> bool:
        """A melodic riser (a swelled string or pad tone) rather than a sound effect."""
        return self.riser not in SOUND_EFFECTS


class EffectsTable(BaseModel):
    """Everything in ``schemas/effects.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    families: dict[str, FamilyEffects]

    @model_validator(mode="after")
    def _every_mood_once(self) -> EffectsTable:
        listed = [mood for family in self.families.values() for mood in family.moods]
        if sorted(listed) != sorted(MOODS):
            missing, twice = sorted(set(MOODS) - set(listed)), sorted({m for m in listed if listed.count(m) > 1})
            unknown = sorted(set(listed) - set(MOODS))
            raise ValueError(
                f"schemas/effects.yaml must list every mood in one family: missing {missing}, "
                f"listed twice {twice}, unknown {unknown}"
            )
        return self

    def of_mood(self, mood: str) -> FamilyEffects:
        """The effects of ``mood``'s family."""
        return next(family for family in self.families.values() if mood in family.moods)


@cache
def effects_table() -> EffectsTable:
    """The effects table (read once per process)."""
    text = resources.files("cues.schemas").joinpath("effects.yaml").read_text(encoding="utf-8")
    return EffectsTable.model_validate(yaml.safe_load(text))
