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
    warm: bool = Field(
        True,
        description="Without an address: use the local runtime `cues up` started, when one runs, and its warm cue "
        "workers when they serve the batch (same code, models and render settings); False: always a fresh local Ray.",
    )
    in_process_max_s: float = Field(
        120.0,
        ge=0,
        description="Without an address, a warm runtime, a connected Ray, ``num_cpus`` or more than one worker: a "
        "batch of at most this many seconds of music (its cues' lengths added) is made in the driver's own process, "
        "without starting Ray (the same files; a short sting in ~5 s instead of ~16 s). 0: always Ray.",
    )


class SynthConfig(BaseModel):
    """FluidSynth settings. Every field changes the sound, so all of them are part of a cue's render key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gain: float = Field(0.2, gt=0, le=2.0, description="FluidSynth master gain (the mix is normalised after).")
    reverb: bool = Field(
        False,
        description="FluidSynth's reverb (sends from the soundfont and CC 91). Off: the mix's one reverb space "
        "(schemas/stem_mix.yaml) replaces it, with sends set per stem rather than by each preset.",
    )
    chorus: bool = Field(
        True,
        description="FluidSynth's chorus (sends from the soundfont and CC 93): part of some presets' sound. Its "
        "return is out of phase between the channels (bench/README.md: a lead's and a pad's correlation -0.65 to "
        "-0.75); the mix narrows those stems.",
    )
    polyphony: int = Field(256, ge=16, le=4096, description="Voices at most; the oldest are stolen beyond it.")


class BalanceConfig(BaseModel):
    """The mixing rule that keeps the lead on top (``pipelines/render/balance.py``): per section, the lead stem's
    level minus the loudest accompaniment stem's is brought inside ``±(band_db - guard_db)``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    band_db: float = Field(3.0, ge=0, le=20, description="The lead within this many dB of the loudest other stem.")
    guard_db: float = Field(1.0, ge=0, le=10, description="Aim this far inside the band (ramps, tails), dB.")
    lead_range_db: tuple[float, float] = Field((-12.0, 24.0), description="Lowest and highest lead fader, dB.")
    accompaniment_range_db: tuple[float, float] = Field(
        (-12.0, 6.0), description="Lowest and highest fader of the accompaniment stems, dB."
    )
    ramp_s: float = Field(0.25, ge=0, le=2, description="Fader ramp (raised cosine) centred on a section boundary, s.")


class RenderConfig(BaseModel):
    """How cues become audio: synth, soundfont, endings and mastering that the brief does not set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    soundfont: str | None = Field(
        None,
        description="A .sf2/.sf3 file or fluidr3, timgm6mb, musescore-general; None = FluidR3_GM if installed, else "
        "TimGM6mb (Debian or pretty_midi's copy). A palette's own soundfont (palettes.yaml) wins for its mood.",
    )
    synth: SynthConfig = Field(default_factory=SynthConfig)
    tail_max_s: float = Field(4.0, gt=0, le=10, description="ring_out: longest tail kept after `length`, seconds.")
    tail_floor_dbfs: float = Field(-60.0, le=-30, description="ring_out: the tail ends where it falls below this.")
    declick_ms: float = Field(10.0, ge=0, le=10, description="button/cut/ring_out: fade at the very end, ms.")
    fade_max_s: float = Field(4.0, gt=0, le=20, description="fade: audio fade-out over the last bar, at most this.")
    limiter_release_ms: float = Field(80.0, gt=0, le=1000, description="True-peak limiter release, ms.")
    limiter_lookahead_ms: float = Field(5.0, gt=0, le=20, description="True-peak limiter lookahead, ms.")
    mp3_bitrate_kbps: int = Field(192, ge=64, le=320, description="Bit rate of the MP3 preview (CBR), kbit/s.")
    balance: BalanceConfig = Field(default_factory=BalanceConfig, description="The lead-on-top mixing rule.")
    mix: bool = Field(
        True,
        description="Each stem through its channel strip (EQ, compressor, seating) and reverb send "
        "(schemas/stem_mix.yaml); off: the synth's stems as rendered (benchmarks).",
    )


class GenerateConfig(BaseModel):
    """The main job (``cues submit``, ``cues run``): briefs in; composed, rendered and mastered cues out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: tuple[str, ...] = Field(min_length=1, description="Brief files, folders, globs or s3:// prefixes.")
    store: str = Field(DEFAULT_STORE, description="Store URI: a path, file://… or s3://bucket/prefix.")
    models: str | None = Field(
        None, description="Model bundle: a folder or store URI with melody/, vae/, chords/; None = the shipped one."
    )
    render: RenderConfig = Field(default_factory=RenderConfig)
    workers: int | None = Field(None, ge=1, description="Cue workers (actors); None = one per CPU of the cluster.")
    worker_cpus: float = Field(
        0.5,
        gt=0,
        le=64,
        description="CPUs each cue worker asks Ray for. 0.5 (default) leaves room for Ray's own tasks on a small "
        "machine; 1 on an autoscaling cluster, so that each worker brings a core of its own.",
    )
    worker_start_timeout_s: float = Field(
        300.0,
        gt=0,
        description="Seconds a cue worker may take to start (Ray placing it, then loading the models); one that has "
        "not is given up and its cues go to the workers that started. A cluster without the CPUs asked for never "
        "starts it.",
    )
    schedule: str | None = Field(None, description="Name of the schedule this batch is a run of, if any.")
    occurrence: str | None = Field(
        None, description="The schedule occurrence (ISO 8601 UTC); part of the batch id, so one occurrence = one batch."
    )
    ray: RayConfig = Field(default_factory=RayConfig)


class RuntimeConfig(BaseModel):
    """The warm local runtime (``cues up``): a Ray head that outlives the command and cue workers that keep their
    models and synth loaded between batches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workers: int | None = Field(
        None, ge=1, description="Warm cue workers; None = as many as fit by CPU and memory, like a batch's pool."
    )
    worker_cpus: float = Field(
        0.5, gt=0, le=64, description="CPUs each warm worker asks Ray for; fractional, so Ray's tasks are not starved."
    )
    longest_cue_s: float = Field(
        180.0,
        gt=0,
        le=3600,
        description="Seconds of the longest cue the warm workers are sized for (memory each asks Ray for); a longer "
        "one still runs, beyond what Ray reserved for it.",
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs of the head; None = all of this machine's.")
    object_store_memory_mb: int = Field(
        512, ge=100, le=65536, description="Ray's object store on the head, MiB (cue audio is small)."
    )
    port: int = Field(6379, ge=1024, le=65535, description="The head's GCS port (Ray's default).")
    worker_ports: tuple[int, int] | None = Field(
        None, description="Lowest and highest port of Ray's worker processes; None = Ray's range (10002-19999)."
    )
    models: str | None = Field(None, description="Model bundle the workers load; None = the shipped one.")
    render: RenderConfig = Field(default_factory=RenderConfig)
    start_timeout_s: float = Field(300.0, gt=0, description="Seconds the head and each worker may take to start.")


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
