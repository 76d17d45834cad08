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
    """The main job: briefs in, cues out (today: validated, expanded, composed into MIDI, plan and manifest)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: tuple[str, ...] = Field(min_length=1, description="Brief files, folders, globs or s3:// prefixes.")
    store: str = Field(DEFAULT_STORE, description="Store URI: a path, file://… or s3://bucket/prefix.")
    models: str | None = Field(
        None, description="Model bundle: a folder or store URI with melody/, vae/, chords/; None = the shipped one."
    )
    ray: RayConfig = Field(default_factory=RayConfig)


class PreprocessConfig(BaseModel):
    """Corpus → training shards. Fields that change the output are part of the dataset version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: tuple[str, ...] = Field(
        ("essen", "oneills", "ryans", "airds", "miscfolk", "bach"),
        min_length=1,
        description="Bundled collections (cues preprocess --list-sources), folders or s3:// prefixes of scores.",
    )
    include_noncommercial: bool = Field(True, description="Keep collections whose files allow non-commercial use only.")
    name: str = Field("folk-chorales", pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Dataset name.")
    store: str = Field(DEFAULT_STORE, description="Store URI the dataset is written to.")
    steps_per_quarter: int = Field(4, ge=1, le=24, description="Grid steps per quarter note (4 = 16th notes).")
    transpositions: tuple[int, ...] = Field(
        (-2, 2), description="Semitone shifts added to the train split only (never 0; empty = no augmentation)."
    )
    train_fraction: float = Field(0.90, gt=0, lt=1)
    validation_fraction: float = Field(0.05, gt=0, lt=1)
    chunk_size: int = Field(48, ge=1, le=10_000, description="Works per parallel task; each chunk is cached.")
    workers: int | None = Field(None, ge=1, description="Parallel tasks at most (default: every CPU of the cluster).")
    limit: int | None = Field(None, ge=1, description="Only the first N works of each source (tests, benchmarks).")
    ray: RayConfig = Field(default_factory=RayConfig)
