"""The cue manifest (``cues/<cue-id>/<render-key>/manifest.json``, ``docs/contracts/manifest.md``): what one
delivered cue is, written last into its folder, so that a folder with a manifest is a whole cue.

The writer (``cues.pipelines.generate.cue_writer``) builds a :class:`CueManifest`; every reader (the catalog, the
cue sheet, the report, ``cues show``) parses one with :func:`read_manifest` and asks it, never the raw JSON: the
delivery master is :attr:`CueManifest.mix`, whichever of WAV or FLAC the brief asked for.

Versions: 2 is written now. A manifest without ``version`` is version 1 (written before 2026-12), which has the
same fields without ``version`` and ``content_type``; it reads as it is. A newer version is refused with a message.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from cues.schemas.brief import AudioFormat, Ending, ResolvedBrief
from cues.schemas.errors import IntegrityError
from cues.schemas.plan import Plan
from cues.schemas.problems import SLUG_PATTERN

MANIFEST_VERSION = 2
RENDER_KEY_PATTERN = r"^k-[0-9a-f]{12}$"
MIX_FILES = ("mix.wav", "mix.flac")  # the delivery master, in order of preference
FILE_OF_FORMAT = {AudioFormat.wav: "mix.wav", AudioFormat.flac: "mix.flac", AudioFormat.mp3: "preview.mp3",
                  AudioFormat.midi: "cue.mid"}  # fmt: skip
# A file's name inside the cue folder: what the store's key check allows (cues.pipelines.store.uri.check_key), and
# stricter, because `cues get` writes the same name below -o: no '.' or '..' part, nothing absolute, no hidden file.
FILE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")
FILE_NAME_RULE = (
    "'/'-separated parts of letters, digits, '.', '-' and '_', each starting with a letter, digit or '_', and not "
    "the manifest itself"
)


def download_name(cue_id: str, name: str) -> str:
    """The name a file of the cue ``cue_id`` gets when downloaded (``cues get``, presigned links, the report's
    download links): the cue id, ``_`` and its name in the cue folder with ``/`` as ``_``, so that the files of many
    cues can sit in one folder: ``night-chase_mix.wav``, ``night-chase_stems_bass.wav``. The store keeps its layout."""
    return f"{cue_id}_{name.replace('/', '_')}"


def download_name_of_key(key: str) -> str | None:
    """:func:`download_name` of a store key inside a cue folder (``cues/<cue-id>/<render-key>/<name>``); None for a
    key elsewhere (a batch's report)."""
    parts = key.split("/", 3)
    return download_name(parts[1], parts[3]) if len(parts) == 4 and parts[0] == "cues" else None


class FileEntry(BaseModel):
    """One file of the cue folder: its size and sha256 (checked by ``cues get``), and for audio its numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: str | None = Field(None, description="MIME type it was stored with (version 2 on).")
    samples: int | None = Field(None, ge=0, description="Audio: sample frames (per channel).")
    sample_rate: int | None = Field(None, description="Audio: Hz.")
    bit_depth: int | None = Field(None, description="WAV/FLAC: bits per sample.")
    loudness_lufs: float | None = Field(None, description="WAV/FLAC: integrated loudness (BS.1770), LUFS.")
    true_peak_dbtp: float | None = Field(None, description="WAV/FLAC: true peak (4× oversampled), dBTP.")
    clipped_samples: int | None = Field(None, ge=0, description="WAV/FLAC: samples clipped when quantised.")
    silent: bool | None = Field(None, description="Stems: peak below -120 dBFS.")
    limited: bool | None = Field(None, description="Mix, alternates: the true-peak limiter reduced gain somewhere.")
    stems_sum_residual_dbfs: float | None = Field(
        None, description="Mix: peak of (sum of stems - mix before limiting), dBFS; None when they null exactly."
    )
    loop: tuple[int, int] | None = Field(
        None,
        description="WAV of a loop: the loop its smpl chunk carries, first and last sample frame (inclusive).",
    )
    bitrate_kbps: int | None = Field(None, description="MP3: bitrate.")
    preview: bool | None = Field(None, description="MP3: a preview, not a delivery master.")


class SoundfontIdentity(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sha256: str


class Limiter(BaseModel):
    """What the true-peak limiter on the mix did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engaged: bool
    ceiling_dbtp: float | None = Field(description="The limiter's final ceiling setting, dBTP; None when it never ran.")
    max_gain_reduction_db: float
    passes: int


class StemAudio(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    silent: bool
    midi_channel: int = Field(ge=1, le=16, description="1-based, as DAWs show it.")
    midi_channels: tuple[int, ...] = Field(
        (), description="Every MIDI channel the stem carries (its parts'), 1-based; absent in older manifests."
    )
    groups: tuple[str, ...] = Field(
        (),
        description="The role groups the stem carries (delivery.stems), in render order; absent in older manifests, "
        "whose stems are each the role group of their name.",
    )


class SectionBalance(BaseModel):
    """The mix's faders in one section of the plan (``pipelines/render/balance.py``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lead_db: float = Field(description="Gain of the lead stem, dB.")
    accompaniment_db: float = Field(description="Gain of every other stem, dB.")
    margin_db: float | None = Field(
        description="Lead minus the loudest other stem before the faders, dB; None where the lead is silent."
    )
    balanced_margin_db: float | None = Field(description="The same margin after the faders (as planned), dB.")


class Balance(BaseModel):
    """The lead-on-top mixing rule as applied: the lead stem's name and the faders of each section, in plan order.
    The rule works on the role-group stems the cue is rendered in, before ``delivery.stems`` gathers them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lead: str | None = Field(
        description="The lead's role-group stem (melody); None when the rule had nothing to balance."
    )
    sections: tuple[SectionBalance, ...]


class AlternateAudio(BaseModel):
    """One alternate mix (``delivery.alternates``); its file's loudness and true peak are in its file entry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stems: tuple[str, ...] = Field(description="The role-group stems it sums, in render order.")
    missing: tuple[str, ...] = Field((), description="Role groups it asks for that have no note in this cue.")
    silent: bool = Field(description="Nothing it keeps sounds: no file is delivered.")
    equals_mix: bool = Field(description="It keeps every stem that sounds: the same audio as the mix.")
    limited: bool = Field(description="It went through the mix's true-peak limiter to stay under the ceiling.")
    max_gain_reduction_db: float = Field(0.0, description="The limiter's largest gain reduction, dB (0: none).")


class CuePointRecord(BaseModel):
    """A cue point of a loop's WAVs (their ``cue `` chunk, labelled in ``LIST``/``adtl``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample: int = Field(ge=0, description="Sample frame from the file's first.")
    label: str = Field(description="'section A'', 'hit 1', …")


class Markers(BaseModel):
    """What every WAV of a loop carries besides its samples (``pipelines/render/wav_markers.py``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    loop: tuple[int, int] | None = Field(description="The smpl chunk's forward loop: first, last sample (inclusive).")
    cue_points: tuple[CuePointRecord, ...] = Field(description="Each section start and hit, in time order.")


class LayerAudio(BaseModel):
    """One vertical layer of a game cue (``layers/<name>.wav``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stems: tuple[str, ...] = Field(description="The rendered role-group stems it sums (none: a silent layer).")
    silent: bool = Field(description="Peak below -120 dBFS: no part of this cue entered at its intensities.")


class Layers(BaseModel):
    """A game cue's vertical layers (``delivery.layers``): additive, quietest first, summing to the premix."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by_layer: dict[str, LayerAudio] = Field(description="The layers, quietest first.")
    trim_db: float = Field(description="Common trim of every layer so that none clips (0 = none), dB.")
    sum_residual_dbfs: float | None = Field(
        description="Peak of (sum of the layer files, trim undone - mix before limiting), dBFS; None: exact."
    )


class StingerAudio(BaseModel):
    """One transition stinger of a game cue (``stingers/<kind>.wav``): its length and how it was mastered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bars: int = Field(ge=1, description="Bars of music (1 or 2) at the cue's tempo at its end.")
    tempo_bpm: float
    length_samples: int = Field(description="Its musical length in samples (the bars exactly).")
    tail_samples: int = Field(description="Samples of ring-out after it (at most 4 s).")
    limited: bool = Field(description="The true-peak limiter acted to bring it to the cue's loudness.")


class StemStripRecord(BaseModel):
    """What the mix did to one rendered stem (``pipelines/render/stem_mix.py``, ``schemas/stem_mix.yaml``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    treatment: str = Field(description="The channel strip of stem_mix.yaml it went through (melody for the lead).")
    pan: float = Field(ge=-1, le=1, description="Its seat: -1 left … 0 centre … +1 right.")
    width: float = Field(ge=0, description="Stereo width: 0 mono, 1 as rendered.")
    send_db: float | None = Field(description="Its send into the reverb space, dB; None: dry.")
    makeup_db: float = Field(description="The gain that restored its RMS after EQ and compressor, dB.")


class Mix(BaseModel):
    """The mix as applied: the reverb space every send fed and each rendered stem's strip (before
    ``delivery.stems`` gathers them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    space: dict[str, float] = Field(description="The reverb space: room_size, damping, width (0–1).")
    stems: dict[str, StemStripRecord] = Field(description="Rendered (role-group) stem → its strip.")


class Waveform(BaseModel):
    """The mix's waveform overview (``pipelines/render/waveform.py``): a (min, max) pair per bin of
    ``samples_per_bin`` frames over the whole file, both channels folded into one, as audiowaveform's 8-bit data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    samples_per_bin: int = Field(ge=1, description="Sample frames per bin (the last bin may be shorter).")
    sample_rate: int = Field(ge=1, description="Hz.")
    low: tuple[int, ...] = Field(description="Each bin's lowest sample, in 1/127 of full scale, -127 to 0.")
    high: tuple[int, ...] = Field(description="Each bin's highest sample, in 1/127 of full scale, 0 to 127.")


class AudioSummary(BaseModel):
    """The render of the cue: format, length, mastering gain and limiter, and the renderer's identity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample_rate: int
    bit_depth: int
    samples: int = Field(description="Sample frames of the mix (and of every stem).")
    duration_s: float = Field(description="The files' duration, seconds (with the tail of a ring-out).")
    stems: dict[str, StemAudio] = Field(description="The delivered stems, in delivery order.")
    absent_stems: tuple[str, ...] = Field(
        (),
        description="Stems delivery.stems asks for that are not delivered: none of their role groups has a note in "
        "this cue (never a silent file); absent in older manifests (the plan's absent_stems).",
    )
    silent_stems: tuple[str, ...]
    renderer: str
    soundfont: SoundfontIdentity
    synth: dict[str, Any] = Field(description="FluidSynth settings (RenderConfig.synth).")
    ending: Ending
    length_samples: int = Field(description="The cue's musical length in samples.")
    tail_samples: int = Field(description="Samples after the musical length (ring-out).")
    gain_db: float = Field(description="The one loudness gain applied to the mix and every stem.")
    stem_trim_db: float = Field(description="Extra trim on every stem so that no stem file clips (0 = none).")
    limiter: Limiter
    balance: Balance | None = Field(None, description="The lead-on-top faders per section; None before render-2.")
    layers: Layers | None = Field(None, description="A game cue's vertical layers; None without delivery.layers.")
    stingers: dict[str, StingerAudio] | None = Field(
        None, description="A game cue's transition stingers by kind; None without delivery.stingers."
    )
    markers: Markers | None = Field(
        None, description="A loop delivered as WAV: the loop and cue points in every WAV; None for other cues."
    )
    mix: Mix | None = Field(
        None, description="Each stem's channel strip and reverb send; None with the mix off and before render-3."
    )
    waveform: Waveform | None = Field(
        None, description="The mix's waveform overview for the report; None in manifests written before it."
    )
    loudness_target_lufs: float
    true_peak_ceiling_dbtp: float
    alternates: dict[str, AlternateAudio] = Field(
        {},
        description="The alternate mixes asked for (delivery.alternates), delivered as alternates/<name>.wav/.flac "
        "at the mix's gain; empty when none is asked for (and in older manifests).",
    )


class CueManifest(BaseModel):
    """Contents of a cue's ``manifest.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="cues cue manifest")

    version: Literal[1, 2] = Field(1, description="Manifest format version; absent = 1.")
    cue_id: str = Field(pattern=SLUG_PATTERN, description="The cue's id; also the name of its folder.")
    cue_key: str = Field(pattern=RENDER_KEY_PATTERN, description="The render key; also the name of its sub-folder.")
    brief_id: str
    variation: int = Field(ge=1)
    cutdown: float | str | None = Field(None, description="The cutdown's length as in the brief; None = full length.")
    seed: int = Field(ge=0)
    stage: Literal["rendered"] = "rendered"
    created: str = Field(description="UTC time, ISO 8601.")
    length_s: float = Field(description="The cue's musical length, seconds.")
    brief: ResolvedBrief
    plan: Plan
    revision_of: str | None = Field(
        None, description="A revision's: the cue it revises, <cue-id>/<render-key>; None for other cues."
    )
    chords: tuple[str, ...] = Field(description="Roman numeral of every chord slot, in order.")
    models: dict[str, str] = Field(description="Version of each model that composed the cue.")
    composer_version: str
    quality: dict[str, Any] = Field(description="Music metrics of the score (cues.pipelines.compose.quality).")
    audio: AudioSummary
    timings_s: dict[str, float] = Field(description="Seconds per stage of making the cue.")
    files: dict[str, FileEntry] = Field(description="Every file of the folder but the manifest, by relative name.")

    @field_validator("files")
    @classmethod
    def _safe_names(cls, files: dict[str, FileEntry]) -> dict[str, FileEntry]:
        for name in files:
            if not FILE_NAME_RE.fullmatch(name) or len(name) > 255 or name == "manifest.json":
                message = "file name {name} is not a safe relative name: {rule}"
                raise PydanticCustomError("file_name", message, {"name": repr(name), "rule": FILE_NAME_RULE})
        return files

    @property
    def prefix(self) -> str:
        """The cue's folder in the store."""
        return f"cues/{self.cue_id}/{self.cue_key}"

    @property
    def mix(self) -> FileEntry | None:
        """The delivery master's entry: ``mix.wav``, else ``mix.flac``; None for a MIDI- or MP3-only delivery."""
        return next((self.files[name] for name in MIX_FILES if name in self.files), None)

    def alternate_file(self, name: str) -> str | None:
        """The file name of the alternate ``name``'s master: ``alternates/<name>.wav``, else ``.flac``; None when
        it has neither (silent, or an MP3/MIDI-only delivery)."""
        return next((f for f in (f"alternates/{name}.wav", f"alternates/{name}.flac") if f in self.files), None)

    @property
    def cutdown_label(self) -> str:
        """How people name the cue's length: ``full`` or the cutdown as the brief gave it (``30 s``, ``8 bars``)."""
        if self.cutdown is None:
            return "full"
        return f"{self.cutdown:g} s" if isinstance(self.cutdown, float | int) else str(self.cutdown)

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2, exclude_none=False).encode()


def read_manifest(data: bytes | str | dict, where: str = "manifest.json") -> CueManifest:
    """The manifest in ``data`` (JSON text or parsed); :class:`IntegrityError` naming ``where`` when it is not one."""
    try:
        raw = json.loads(data) if isinstance(data, bytes | str) else data
    except ValueError as err:
        raise IntegrityError(f"{where} is not JSON ({err}); the cue folder is damaged: re-run its batch") from None
    except RecursionError:  # "[[[[…" 100,000 deep: json gives up, and must not become a traceback
        raise IntegrityError(
            f"{where} is not JSON (nested too deeply); the cue folder is damaged: re-run its batch"
        ) from None
    if not isinstance(raw, dict):
        raise IntegrityError(f"{where} is not a cue manifest (a JSON object is expected)")
    version = raw.get("version", 1)
    if isinstance(version, int) and version > MANIFEST_VERSION:
        raise IntegrityError(
            f"{where} is manifest version {version}, newer than this cues reads ({MANIFEST_VERSION}): upgrade cues"
        )
    try:
        return CueManifest.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise IntegrityError(
            f"{where} is not a valid cue manifest: {field}: {first['msg']} ({err.error_count()} problem(s))"
        ) from None
