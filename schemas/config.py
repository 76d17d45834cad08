"""Typed configuration of the pipeline stages. Defaults here are the embedded defaults the README promises."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_STORE = "./cue-store"


class RayConfig(BaseModel):
    """Where work runs. ``address=None`` starts a local Ray sized for this machine unless ``RAY_ADDRESS`` is set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str | None = Field(None, description="Ray cluster address (ray://host:10001 or host:6379), or None.")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local instance; None = all of this machine's.")
    dashboard: bool = Field(False, description="Start the Ray dashboard with a local instance.")


class GenerateConfig(BaseModel):
    """The main job: briefs in, cues out (for now: validated, resolved and expanded into a planned batch)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: tuple[str, ...] = Field(min_length=1, description="Brief files, folders, globs or s3:// prefixes.")
    store: str = Field(DEFAULT_STORE, description="Store URI: a path, file://… or s3://bucket/prefix.")
    ray: RayConfig = Field(default_factory=RayConfig)
