"""Configuration of the models and of training, as frozen typed data (one base per model, no copy-paste)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MelodyLSTMConfig(BaseModel):
    """Next-token melody model over key-relative tokens, conditioned on bar position, mode, chord and lookback."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vocab_size: int = Field(62, description="melody tokens (rest, hold, 60 relative pitches)")
    embed: int = Field(64, description="width of each input embedding")
    hidden: int = Field(256, description="LSTM width (MelodyRNN uses 2 x 128; folk-rnn 3 x 512)")
    layers: int = 2
    dropout: float = 0.2
    max_steps_per_bar: int = Field(48, description="position-in-bar embeddings (12/8 at 16ths = 24 steps)")
    modes: int = Field(6, description="major, minor, dorian, phrygian, lydian, mixolydian")
    chords: int = Field(64, description="size of the bar-chord label vocabulary (index 0 = unknown)")
    lookback: bool = Field(True, description="feed the tokens one and two bars back, as MelodyRNN's lookback model")


class PhraseVAEConfig(BaseModel):
    """MusicVAE-style phrase model: BiLSTM encoder → z → autoregressive LSTM decoder, over 2-bar phrases."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vocab_size: int = 62
    steps: int = Field(32, description="phrase length in grid steps (2 bars of 4/4 at 16ths)")
    embed: int = 64
    encoder_hidden: int = Field(256, description="per direction")
    decoder_hidden: int = 256
    latent: int = Field(64, description="size of z (MusicVAE 2-bar: 256, on 100x more data)")
    beta: float = Field(0.2, description="weight of the KL term at the end of annealing")
    free_bits: float = Field(0.1, description="nats per latent dimension not penalised")
    kl_anneal_steps: int = Field(2000, description="optimizer steps to ramp beta from 0")
    sampling_max: float = Field(0.2, description="final share of decoder inputs taken from its own samples")


class ChordLSTMConfig(BaseModel):
    """Next-chord model over key-relative chord classes per beat, with beat, mode and phrase position."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vocab_size: int = Field(97, description="no chord + 12 roots x 8 qualities")
    embed: int = 32
    hidden: int = 128
    layers: int = 2
    dropout: float = 0.2
    max_beats_per_bar: int = 8
    modes: int = 6
    max_phrase_beats: int = Field(32, description="beats since the last cadence, clipped")


ModelKind = Literal["melody", "vae", "chords"]


class TrainConfig(BaseModel):
    """One training run. The run's identity (for resuming) is a hash of everything but ``workers`` and ``gpu``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: ModelKind
    dataset: str = Field(description="store URI of a finished dataset version (…/datasets/<name>/<version>)")
    out: str = Field(description="store URI under which models/<name>/<version>/ is written")
    name: str | None = Field(None, description="model name; default: the model kind")
    workers: int = Field(1, ge=1, description="Ray Train workers (DDP)")
    gpu: Literal["auto", "on", "off"] = "auto"
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(64, ge=1, description="per worker")
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    clip_norm: float = Field(1.0, gt=0)
    window: int = Field(128, ge=8, description="training sequence length in steps (melody) or beats (chords)")
    patience: int = Field(3, ge=1, description="epochs without validation improvement before stopping")
    max_train_sequences: int | None = Field(None, ge=1, description="cap for tests and quick runs")
    seed: int = 0
    melody: MelodyLSTMConfig = Field(default_factory=MelodyLSTMConfig)
    vae: PhraseVAEConfig = Field(default_factory=PhraseVAEConfig)
    chords: ChordLSTMConfig = Field(default_factory=ChordLSTMConfig)


class PhraseCriticConfig(BaseModel):
    """The phrase critic: a 1-D CNN over per-step embeddings of a phrase's shape, giving one logit "real"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: int = Field(32, description="phrase length in grid steps it is trained on (2 bars of 4/4 at 16ths)")
    embed: int = Field(12, description="width of each per-step input embedding (five inputs, concatenated)")
    channels: int = Field(48, description="convolution width")
    kernel: int = Field(5, description="convolution kernel, in grid steps")
    dilations: tuple[int, ...] = Field((1, 2, 4), description="one convolution per entry: receptive field 29 steps")
    dropout: float = Field(0.2, description="on the pooled features")
    max_interval: int = Field(12, description="melodic intervals and distances from the phrase's median, clipped")


class CriticTrainConfig(BaseModel):
    """Adversarial training of the phrase critic against the composer of a model bundle (``cues train --model
    critic``). The run's identity is a hash of these settings (but ``out`` and ``generator``), the dataset version
    and the versions of the generator's models."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = Field(description="store URI of a finished dataset version: the real phrases")
    out: str = Field(description="store URI under which models/<name>/<version>/ is written")
    generator: str | None = Field(None, description="model bundle whose composer it judges; default: the shipped one")
    name: str | None = Field(None, description="model name; default: critic")
    rounds: int = Field(3, ge=1, description="round 0 against raw output, then rounds against reranked output")
    candidates: int = Field(8, ge=2, description="candidates per slot the reranker chooses from (the motif has 8)")
    briefs: int = Field(32, ge=2, description="varied 4/4 and 2/4 briefs the composer writes (each once per candidate)")
    raw_slots: int = Field(300, ge=0, description="slots of raw VAE decodes and, as many, of raw LSTM phrases")
    held_out: float = Field(0.25, gt=0, lt=1, description="share of cues (and raw slots) held out from training")
    max_real_phrases: int = Field(20000, ge=100, description="training real phrases at most (every bar line)")
    epochs: int = Field(8, ge=1, description="epochs of round 0 and of the fresh critic; later rounds half")
    batch_size: int = Field(256, ge=1)
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    seed: int = 0
    critic: PhraseCriticConfig = Field(default_factory=PhraseCriticConfig)


class VAEPriorConfig(BaseModel):
    """The latent prior of a trained phrase VAE, fitted to the posteriors of real phrases (``cues train --model
    vae-prior``). The run's identity is a hash of these settings (but ``out`` and ``source``), the dataset version
    and the source VAE's version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = Field(description="store URI of a finished dataset version: the real phrases")
    out: str = Field(description="store URI under which models/<name>/<version>/ is written")
    source: str = Field(description="URI of the trained VAE whose prior is fitted (a model directory)")
    name: str | None = Field(None, description="model name; default: vae")
    components: int = Field(32, ge=1, description="Gaussians in the mixture (k-means clusters of posterior means)")
    iterations: int = Field(25, ge=1, description="k-means (Lloyd) iterations")
    max_phrases: int = Field(20000, ge=100, description="real training phrases encoded at most (every bar line)")
    probe: int = Field(1024, ge=16, description="latent points decoded for the card's rhythm statistics")
    seed: int = 0
