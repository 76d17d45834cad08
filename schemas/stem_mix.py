"""The mix's channel strips and reverb space (``schemas/stem_mix.yaml``) as typed data: per stem an EQ, a compressor,
a send into the shared reverb and a place in the stereo field; the space by the cue's mood. Applied by
``pipelines/render/stem_mix.py``."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cues.schemas.moods import MOODS


class Shelf(BaseModel):
    """A shelving EQ band: its corner frequency (Hz) and gain (dB)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hz: float = Field(gt=10, lt=20000, description="corner frequency, Hz")
    gain_db: float = Field(ge=-18, le=18, description="gain beyond the corner, dB")


class Peak(BaseModel):
    """A peaking EQ band: centre (Hz), gain (dB) and Q (bandwidth, 0.1–10)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hz: float = Field(gt=10, lt=20000, description="centre frequency, Hz")
    gain_db: float = Field(ge=-18, le=18, description="gain at the centre, dB")
    q: float = Field(0.7, ge=0.1, le=10, description="Q: centre frequency over bandwidth")


class Compression(BaseModel):
    """A compressor whose threshold follows the stem's own level (dB above its RMS over the cue)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold_db: float = Field(ge=-20, le=30, description="threshold, dB relative to the stem's RMS level")
    ratio: float = Field(ge=1, le=20, description="compression ratio above the threshold (1 = none)")
    attack_ms: float = Field(gt=0, le=500, description="attack, ms")
    release_ms: float = Field(gt=0, le=5000, description="release, ms")


class StemTreatment(BaseModel):
    """One stem's channel strip, in processing order: high-pass, EQ, compressor, make-up, width and pan, send."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    highpass_hz: float | None = Field(None, gt=10, lt=1000, description="high-pass corner, Hz (None: none)")
    low_shelf: Shelf | None = None
    peak: Peak | None = None
    high_shelf: Shelf | None = None
    compressor: Compression | None = None
    send_db: float | None = Field(None, ge=-60, le=0, description="reverb send, dB (None: dry)")
    pan: float = Field(0.0, ge=-1, le=1, description="-1 left … 0 centre … +1 right (constant-power balance)")
    width: float = Field(1.0, ge=0, le=1.5, description="stereo width: 0 mono, 1 as rendered, up to 1.5")


class ReverbSpace(BaseModel):
    """The room every send feeds (pedalboard's Reverb, a Freeverb; all 0–1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    room_size: float = Field(ge=0, le=0.95, description="0 small … 0.95 a long hall (decay)")
    damping: float = Field(ge=0, le=1, description="high-frequency damping of the tail")
    width: float = Field(1.0, ge=0, le=1, description="stereo width of the return")


class StemMix(BaseModel):
    """Everything in ``schemas/stem_mix.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lead: str = Field(description="the treatment of the stem carrying the tune, whatever its name")
    default: str = Field(description="the treatment of a stem with no treatment of its own name")
    space: ReverbSpace
    mood_spaces: dict[str, ReverbSpace] = Field(default_factory=dict, description="mood → its space")
    treatments: dict[str, StemTreatment] = Field(min_length=1, description="stem name → its channel strip")

    @model_validator(mode="after")
    def _known_names(self) -> StemMix:
        for name in (self.lead, self.default):
            if name not in self.treatments:
                raise ValueError(f"{name!r} is not one of the treatments ({', '.join(self.treatments)})")
        unknown = sorted(set(self.mood_spaces) - set(MOODS))
        if unknown:
            raise ValueError(f"mood_spaces names moods that do not exist: {', '.join(unknown)}")
        return self

    def treatment(self, stem: str, lead: bool = False) -> tuple[str, StemTreatment]:
        """The treatment's name and strip for a stem called ``stem`` (``lead``: it carries the tune)."""
        name = self.lead if lead else stem if stem in self.treatments else self.default
        return name, self.treatments[name]

    def space_for(self, mood: str | None) -> ReverbSpace:
        """The reverb space of a cue whose palette mood is ``mood`` (None: the default space)."""
        return self.mood_spaces.get(mood or "", self.space)


@cache
def stem_mix() -> StemMix:
    """The mix settings (read once per process)."""
    text = resources.files("cues.schemas").joinpath("stem_mix.yaml").read_text(encoding="utf-8")
    return StemMix.model_validate(yaml.safe_load(text))
