"""A cue's MIDI → its delivered audio: stems and mix rendered in one synth pass, mixed (each stem's strip and
reverb send, ``stem_mix.py``), balanced (the lead on top, ``balance.py``), ending shaped, mastered, encoded.

:class:`CueRenderer` is what a worker keeps: the soundfonts found once (the renderer's and those the palettes name)
and one loaded synth per (soundfont, sample rate, bus count), reused for every cue. :meth:`CueRenderer.render` is
the whole audio stage of one cue and returns the files as bytes with the numbers the manifest records; writing them
is the caller's business.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cues.pipelines.render.alternates import MasteredAlternate, master_alternates, sum_alternates
from cues.pipelines.render.audio_files import BextInfo
from cues.pipelines.render.balance import SectionBalance, balance_stems
from cues.pipelines.render.endings import fold_loop, shape_ending
from cues.pipelines.render.file_writer import Written, write_files
from cues.pipelines.render.id3 import Id3Tags
from cues.pipelines.render.layers import LayerAudio, master_layers, sum_layers
from cues.pipelines.render.loudness import SILENCE, db, gated_loudness, step_powers, true_peak
from cues.pipelines.render.master import Mastered, master
from cues.pipelines.render.midi_events import MidiPerformance, StemRoute, note_spans, read_performance
from cues.pipelines.render.scratch import Scratch, abs_peak, blocks, summed
from cues.pipelines.render.soundfont import Soundfont, find_soundfont, palette_soundfonts
from cues.pipelines.render.stem_mix import StemStrip, mix_stems
from cues.pipelines.render.synth import BusSynth
from cues.pipelines.render.wav_markers import CuePoint, WavMarkers, marker_chunks
from cues.schemas.brief import AudioFormat, Delivery, Ending
from cues.schemas.config import RenderConfig
from cues.schemas.errors import RenderError
from cues.schemas.palettes import Palettes
from cues.schemas.stem_mix import stem_mix

log = logging.getLogger(__name__)

RENDERER_VERSION = "render-4"  # bump when the same MIDI, soundfont and settings would give different files
# render-3: alternate mixes, the bext description and TimeReference, the MP3 preview's ID3 tags, a loop's WAVs
# carrying smpl and cue chunks; the mix (stem_mix.py)
# render-4: every whole-signal pass in blocks (scratch.py): the loudness meter's per-step sums and the balance's
# section energies add in another order (1 ulp of float32), so gains, and a few samples' last bit, moved
SILENT_STEM_DBFS = -120.0  # a stem whose peak stays below this is reported silent


@dataclass(frozen=True)
class AudioRequest:
    """What the renderer needs to know about one cue besides its MIDI."""

    midi: bytes
    stems: tuple[StemRoute, ...] | None  # None: one stem per MIDI channel with notes
    length_s: float  # the musical length; the file's too except for a ring-out tail
    ending: Ending
    delivery: Delivery  # with ``loudness`` resolved (not None)
    fade_s: float = 2.0  # ``fade``: length of the audio fade (the last bar)
    title: str = ""  # what the WAVs' bext description says of the cue, after the file's name ("mix of <title>")
    reference: str = ""  # the cue key, written into the WAVs' bext chunk (which carries no date: same key, same bytes)
    time_reference: int = 0  # the bext TimeReference: the first sample's time in samples since midnight
    id3: Id3Tags | None = None  # the MP3 preview's ID3v2 tags (render/id3.py); None: untagged
    seed: int = 0  # dither
    sections: tuple[tuple[float, float], ...] = ()  # (start s, end s) of each section of the plan: the balance's
    lead: str | None = None  # the stem that carries the tune, kept on top of the others (render/balance.py)
    # the stems delivered, each with the names of the rendered ``stems`` it sums (the brief's ``delivery.stems``);
    # None: as rendered. Rendering and the balance work on the rendered stems, so the mix is the same either way.
    grouping: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    # the alternate mixes (``delivery.alternates``), each with the names of the rendered stems it keeps
    alternates: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # labelled times (label, seconds) written as cue points into every WAV of a loop, with its loop points
    # (render/wav_markers.py): the plan's section starts and hits
    markers: tuple[tuple[str, float], ...] = ()
    # a game cue's vertical layers, quietest first, each with the names of the rendered ``stems`` it sums
    # (compose/layers.py; render/layers.py); None: no layers
    layers: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    mood: str | None = None  # the palette's mood (the brief's first): its soundfont, if it names one, and reverb space


@dataclass
class MasteredCue:
    """One cue's audio before encoding: ``mastered`` holds the stems (in the order of ``stems``: the synth's buses,
    or the delivered stems gathered from them) and the mix as float arrays at ``rate``; the musical length is
    ``length_samples`` (a ring-out or loop render is longer by its tail)."""

    mastered: Mastered
    stems: tuple[StemRoute, ...]
    rate: int
    length_samples: int
    timings: dict[str, float]
    balance: list[SectionBalance] = field(default_factory=list)  # the lead's and accompaniment's faders per section
    alternates: list[MasteredAlternate] = field(default_factory=list)  # render/alternates.py
    layers: LayerAudio | None = None  # a game cue's vertical layers at the mix's gain (render/layers.py)
    strips: list[StemStrip] = field(default_factory=list)  # what the mix did to each rendered stem (none: mix off)
    soundfont: Soundfont | None = None  # the soundfont it was rendered with
    # the folder whose files hold the signals above (their files deleted when this is collected)
    scratch: Scratch | None = None

    def __post_init__(self) -> None:
        if self.scratch is not None:
            weakref.finalize(self, self.scratch.drop_signals)


@dataclass
class RenderedAudio:
    """Delivered files (name → path of a finished file in ``scratch``), per-file numbers, and the render's summary
    for the manifest. The files live until :meth:`close` (or until this is collected): the caller stores them
    first, from the files (``ObjectStore.put_file``)."""

    paths: dict[str, Path]
    file_info: dict[str, dict]
    summary: dict
    timings: dict[str, float] = field(default_factory=dict)
    scratch: Scratch | None = None

    def __post_init__(self) -> None:
        if self.scratch is not None:
            weakref.finalize(self, self.scratch.close)

    @property
    def files(self) -> Mapping[str, bytes]:
        """The files' contents by name, each read when it is asked for (for small files and tests)."""
        return FileContents(self.paths)

    def close(self) -> None:
        if self.scratch is not None:
            self.scratch.close()


class FileContents(Mapping[str, bytes]):
    """A read-only view of files by name whose values are their bytes, read on access."""

    def __init__(self, paths: Mapping[str, Path]) -> None:
        self._paths = paths

    def __getitem__(self, name: str) -> bytes:
        return self._paths[name].read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


class CueRenderer:
    """Renders cues; holds the soundfont and loaded synths. Close it when done (or use ``with``)."""

    def __init__(self, config: RenderConfig | None = None, palettes: Palettes | None = None):
        """``palettes``: where a mood's own soundfont is looked up (default ``schemas/palettes.yaml``)."""
        self.config = config or RenderConfig()
        self.soundfont: Soundfont = find_soundfont(self.config.soundfont)
        self.palette_soundfonts: dict[str, Soundfont] = palette_soundfonts(palettes)  # mood → its own
        self._synths: dict[tuple[str, int, int], BusSynth] = {}
        # called with a stage's name as it starts ("synth", "mix", …, "encode stems/bass.wav"): how
        # ``bench/memory.py`` attributes the peak memory to stages. None in a worker.
        self.observe: Callable[[str], None] | None = None

    def __enter__(self) -> CueRenderer:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        for synth in self._synths.values():
            synth.close()
        self._synths.clear()

    @property
    def identity(self) -> dict:
        """Everything about the renderer that decides the audio of a cue whose palette names no soundfont."""
        return self.identity_of(None)

    def identity_of(self, mood: str | None) -> dict:
        """Everything about the renderer that decides the audio of a cue of ``mood`` (the palette's): part of its
        render key. The soundfont's sha256 is that of the palette's soundfont where it names one."""
        return {
            "renderer": RENDERER_VERSION,
            "soundfont": self.soundfont_of(mood).sha256,
            "settings": self.config.model_dump(mode="json", exclude={"soundfont"}),
            "mix": stem_mix().model_dump(mode="json") if self.config.mix else None,  # schemas/stem_mix.yaml
        }

    def soundfont_of(self, mood: str | None) -> Soundfont:
        """The soundfont a cue of ``mood`` renders with: its palette's, else the renderer's."""
        return self.palette_soundfonts.get(mood or "", self.soundfont)

    def synth(self, rate: int, buses: int, soundfont: Soundfont | None = None) -> BusSynth:
        soundfont = soundfont or self.soundfont
        key = (soundfont.sha256, rate, buses)
        if key not in self._synths:
            self._synths[key] = BusSynth(soundfont, rate, buses, self.config.synth)
        return self._synths[key]

    def master_cue(self, request: AudioRequest) -> MasteredCue:
        """Synthesise, mix (``stem_mix.py``), balance (the request's lead on top, ``balance.py``), shape the ending
        and master one cue, without encoding: the stems and mix as float arrays (what :meth:`render` encodes, and
        what ``bench/arrangement.py`` measures)."""
        if request.delivery.loudness is None:
            raise RenderError("the delivery loudness is not resolved (call Brief.resolve first)")
        scratch = Scratch()  # every whole-cue signal is a file of it (scratch.py)
        try:
            return self._master_cue(request, scratch)
        except BaseException:
            scratch.close()
            raise

    def _master_cue(self, request: AudioRequest, scratch: Scratch) -> MasteredCue:
        config, delivery = self.config, request.delivery
        rate = delivery.sample_rate
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        self._stage("synth")
        performance = read_performance(request.midi, rate, request.stems)
        length = round(request.length_s * rate)
        max_tail = round(config.tail_max_s * rate)
        rings = request.ending in (Ending.ring_out, Ending.loop)
        soundfont = self.soundfont_of(request.mood)
        synth = self.synth(rate, len(performance.stems), soundfont)
        samples = length + (max_tail if rings else 0)
        buses = scratch.array((synth.buses, 2, samples))
        raw = synth.render(performance, samples, out=buses)
        timings["synth_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        self._stage("mix")
        loop = request.ending == Ending.loop
        names = [stem.name for stem in performance.stems]
        if loop:  # a loop is mixed as the ring that repeats: folded first (stem_mix.py)
            raw = fold_loop(raw, length)
        strips: list[StemStrip] = []
        if config.mix:
            strips = mix_stems(raw, rate, names, stem_mix(), lead=request.lead, mood=request.mood, ring=loop)
        timings["mix_s"] = time.perf_counter() - clock

        # The balance comes after the mix: it levels what is delivered. Before it, the reverb sends and the
        # compressors moved the lead of a mysterious cue (tests/test_balance.py) to 3.4 and 4.2 dB under its
        # accompaniment, outside the ±3 dB the rule guarantees.
        clock = time.perf_counter()
        self._stage("balance")
        balance = _balance(raw, rate, request, performance, config)
        timings["balance_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        self._stage("ending")
        floor = 0.0
        if request.ending == Ending.ring_out:  # the floor is at delivery level: estimate the gain it will get
            mix = summed(scratch.array(raw.shape[1:]), raw, range(raw.shape[0]))
            raw_loudness = gated_loudness(step_powers(mix, rate), rate)
            del mix
            if raw_loudness != SILENCE:
                floor = 10.0 ** ((config.tail_floor_dbfs - (delivery.loudness - raw_loudness)) / 20.0)
        shaped = raw  # a loop is folded already
        if not loop:
            shaped = shape_ending(
                raw,
                request.ending,
                length,
                declick_samples=round(config.declick_ms / 1000 * rate),
                fade_samples=round(min(request.fade_s, config.fade_max_s) * rate),
                max_tail=max_tail,
                tail_floor=floor,
            )
        del raw
        self._stage("alternates and layers summed")
        sums = sum_alternates(shaped, names, request.alternates, scratch)
        stems, groups = _gathered(performance.stems, request.grouping)
        layers = None  # summed before ``master`` scales the rendered stems in place
        if request.layers is not None:
            layers = sum_layers(shaped, names, request.layers, scratch)
        self._stage("master")
        mastered = master(
            shaped,
            rate,
            delivery.loudness,
            delivery.true_peak,
            loop=loop,
            release_ms=config.limiter_release_ms,
            lookahead_ms=config.limiter_lookahead_ms,
            groups=groups,
            scratch=scratch,
        )
        self._stage("alternates mastered")
        alternates = master_alternates(
            sums,
            mastered.gain_db,
            rate,
            delivery.true_peak,
            mastered.limiter,
            loop=loop,
            release_ms=config.limiter_release_ms,
            lookahead_ms=config.limiter_lookahead_ms,
        )
        if layers is not None:
            master_layers(layers, mastered.gain_db)
        timings["master_s"] = time.perf_counter() - clock
        return MasteredCue(
            mastered,
            stems,
            rate,
            length,
            timings,
            balance,
            alternates=alternates,
            layers=layers,
            strips=strips,
            soundfont=soundfont,
            scratch=scratch,
        )

    def _stage(self, name: str) -> None:
        if self.observe is not None:
            self.observe(name)

    def render(self, request: AudioRequest) -> RenderedAudio:
        """The whole audio stage of one cue: :meth:`master_cue`, then every file measured and written into the
        render's scratch folder; the caller stores the files from there and closes what this returns."""
        cue = self.master_cue(request)
        mastered, delivery, timings = cue.mastered, request.delivery, cue.timings
        clock = time.perf_counter()
        scratch, kbps = cue.scratch, self.config.mp3_bitrate_kbps
        try:
            audio = _encode(request, mastered, cue.stems, cue.rate, kbps, cue.layers, scratch, self._stage)
            _encode_alternates(request, cue.alternates, cue.rate, audio, scratch, self._stage)
        except BaseException:
            scratch.close()
            raise
        scratch.drop_signals()  # the files are written; the signals' pages go with ``cue``
        timings["encode_s"] = time.perf_counter() - clock
        self._stage("handed back")
        audio.timings = timings
        audio.summary.update(
            {
                "renderer": RENDERER_VERSION,
                "soundfont": {"name": cue.soundfont.name, "sha256": cue.soundfont.sha256},
                "synth": self.config.synth.model_dump(mode="json"),
                "ending": request.ending.value,
                "length_samples": cue.length_samples,
                "tail_samples": mastered.mix.shape[-1] - cue.length_samples,
                "gain_db": round(mastered.gain_db, 3),
                "stem_trim_db": round(mastered.stem_trim_db, 6),
                "limiter": {
                    "engaged": mastered.limiter.engaged,
                    "ceiling_dbtp": mastered.limiter.ceiling_db,
                    "max_gain_reduction_db": mastered.limiter.max_gain_reduction_db,
                    "passes": mastered.limiter.passes,
                },
                "balance": {
                    "lead": request.lead if cue.balance else None,
                    "sections": [section.as_record() for section in cue.balance],
                },
                "mix": {
                    "space": stem_mix().space_for(request.mood).model_dump(mode="json"),
                    "stems": {strip.stem: strip.as_record() for strip in cue.strips},
                }
                if cue.strips
                else None,
                "loudness_target_lufs": delivery.loudness,
                "true_peak_ceiling_dbtp": delivery.true_peak,
            }
        )
        return audio


def _balance(
    raw: np.ndarray, rate: int, request: AudioRequest, performance: MidiPerformance, config: RenderConfig
) -> list[SectionBalance]:
    """Keep the request's lead on top of the other stems, section by section (``render/balance.py``), in place."""
    names = [stem.name for stem in performance.stems]
    if request.lead not in names or not request.sections:
        return []
    lead = names.index(request.lead)
    spans = [(round(start * rate), round(end * rate)) for start, end in request.sections]
    notes = note_spans(performance, lead)
    plays = [any(on < end and off > start for on, off in notes) for start, end in spans]
    return balance_stems(raw, rate, spans, lead, plays, config.balance)


def _gathered(
    rendered: tuple[StemRoute, ...], grouping: tuple[tuple[str, tuple[str, ...]], ...] | None
) -> tuple[tuple[StemRoute, ...], list[list[int]] | None]:
    """The delivered stems of ``grouping`` (each with the channels of the rendered stems it sums) and, for
    :func:`master`, the indices of those rendered stems; ``(rendered, None)`` when the stems are delivered as
    rendered (no grouping, or one that names each rendered stem alone, in order)."""
    if grouping is None:
        return rendered, None
    index = {stem.name: i for i, stem in enumerate(rendered)}
    unknown = sorted({name for _, names in grouping for name in names} - set(index))
    if unknown:
        raise RenderError(f"the stem grouping names stems the cue does not render: {', '.join(unknown)}")
    groups = [[index[name] for name in names] for _, names in grouping]
    stems = tuple(
        StemRoute(name, tuple(c for i in members for c in rendered[i].channels), tuple(names))
        for (name, names), members in zip(grouping, groups, strict=True)
    )
    if [(s.name, s.groups) for s in stems] == [(s.name, (s.name,)) for s in rendered]:
        return rendered, None
    return stems, groups


def _encode(
    request: AudioRequest,
    mastered: Mastered,
    stems: tuple[StemRoute, ...],
    rate: int,
    mp3_kbps: int,
    layers: LayerAudio | None,
    scratch: Scratch,
    stage: Callable[[str], None] = lambda _: None,
) -> RenderedAudio:
    """Measure and write every file of the cue into ``scratch`` (``file_writer.py``: in blocks, straight to
    files), with each file's numbers and the render's summary."""
    delivery = request.delivery
    bits = delivery.bit_depth
    formats = set(delivery.formats)
    loop = request.ending == Ending.loop
    paths: dict[str, Path] = {}
    info: dict[str, dict] = {}
    frames = mastered.mix.shape[-1]
    markers = wav_markers(request, rate, frames) if loop else None
    marker_bytes = marker_chunks(markers, rate) if markers else b""

    def deliver(
        name: str,
        audio: np.ndarray,
        seed: int,
        loudness: float,
        peak: float,
        extra: dict,
        pcm_sum: np.ndarray | None = None,
        preview: bool = False,
    ) -> None:
        wav = scratch.path(f"{name}.wav") if AudioFormat.wav in formats else None
        flac = scratch.path(f"{name}.flac") if AudioFormat.flac in formats else None
        mp3 = scratch.path("preview.mp3") if preview and AudioFormat.mp3 in formats else None
        stage(f"encode {name}")
        written = write_files(
            audio,
            rate,
            bits,
            seed,
            wav=wav,
            flac=flac,
            bext=_bext(request, _description(request, name), loudness, peak, rate, bits),
            markers=marker_bytes,
            mp3=mp3,
            mp3_kbps=mp3_kbps,
            id3=request.id3,
            pcm_sum=pcm_sum,
        )
        numbers = _file_numbers(written, rate, loudness, peak) | extra
        if wav is not None:
            paths[f"{name}.wav"] = wav
            info[f"{name}.wav"] = {**numbers, "loop": markers.loop} if markers else numbers
        if flac is not None:
            paths[f"{name}.flac"] = flac
            info[f"{name}.flac"] = numbers
        if mp3 is not None:
            paths["preview.mp3"] = mp3
            info["preview.mp3"] = {"bitrate_kbps": mp3_kbps, "sample_rate": rate, "preview": True}

    stem_report = {}
    stem_sum = scratch.array(mastered.premix.shape, np.float64) if delivery.stems and stems else None
    if delivery.stems:
        for index, stem in enumerate(stems):
            stage(f"measure stems/{stem.name}")
            audio = mastered.stems[index]
            peak = true_peak(audio, circular=loop)
            silent = db(abs_peak(audio)) < SILENT_STEM_DBFS
            loudness = gated_loudness(step_powers(audio, rate), rate)
            deliver(
                f"stems/{stem.name}", audio, request.seed + 1 + index, loudness, db(peak), {"silent": silent}, stem_sum
            )
            stem_report[stem.name] = {
                "silent": silent,
                "midi_channel": stem.channel + 1,
                "midi_channels": [c + 1 for c in stem.channels],
                "groups": list(stem.groups or (stem.name,)),
            }
    layer_report = None
    if layers is not None:
        layer_sum = scratch.array(mastered.premix.shape, np.float64)
        layer_report = {"trim_db": round(layers.trim_db, 6), "by_layer": {}}
        for index, (name, members) in enumerate(zip(layers.names, layers.stems, strict=True)):
            stage(f"measure layers/{name}")
            audio = layers.audio[index]
            silent = db(abs_peak(audio)) < SILENT_STEM_DBFS
            loudness = gated_loudness(step_powers(audio, rate), rate)
            peak = db(true_peak(audio, circular=loop))
            # its own dither, as each stem has
            deliver(f"layers/{name}", audio, request.seed + 101 + index, loudness, peak, {"silent": silent}, layer_sum)
            layer_report["by_layer"][name] = {"stems": list(members), "silent": silent}
        residual = _residual(layer_sum, layers.trim_db, mastered.premix)
        layer_report["sum_residual_dbfs"] = _rounded(db(residual)) if residual > 0 else None
    extra = {"limited": mastered.limiter.engaged}
    if stem_sum is not None:
        residual = _residual(stem_sum, mastered.stem_trim_db, mastered.premix)
        extra["stems_sum_residual_dbfs"] = _rounded(db(residual)) if residual > 0 else None
    loudness, peak = mastered.loudness_lufs, mastered.true_peak_dbtp
    deliver("mix", mastered.mix, request.seed, loudness, peak, extra, preview=True)
    summary = {
        "sample_rate": rate,
        "bit_depth": bits,
        "samples": frames,
        "duration_s": round(frames / rate, 6),
        "stems": stem_report,
        "silent_stems": sorted(name for name, s in stem_report.items() if s["silent"]),
    }
    if layer_report is not None:
        summary["layers"] = layer_report
    if markers and AudioFormat.wav in formats:
        summary["markers"] = markers.as_record()
    return RenderedAudio(paths, info, summary, scratch=scratch)


def _residual(pcm_sum: np.ndarray, trim_db: float, premix: np.ndarray) -> float:
    """The largest difference between files' summed PCM (undone by their common trim) and the premix."""
    undo = 10.0 ** (-trim_db / 20.0)
    residual = 0.0
    for part in blocks(premix.shape[-1], pcm_sum, premix):
        residual = max(residual, float(np.abs(pcm_sum[:, part] * undo - premix[:, part]).max(initial=0.0)))
    return residual


def _bext(request: AudioRequest, description: str, loudness: float, peak: float, rate: int, bits: int) -> BextInfo:
    return BextInfo(
        description=description,
        originator="cues",
        originator_reference=request.reference,
        loudness_lufs=loudness,
        true_peak_dbtp=peak,
        coding_history=_coding_history(rate, bits),
        time_reference=request.time_reference,
    )


def _encode_alternates(
    request: AudioRequest,
    alternates: list[MasteredAlternate],
    rate: int,
    audio: RenderedAudio,
    scratch: Scratch,
    stage: Callable[[str], None] = lambda _: None,
) -> None:
    """``alternates/<name>.wav``/``.flac`` of every alternate that sounds, with their numbers, into ``audio``; the
    manifest's ``audio.alternates`` for all of them."""
    bits, formats = request.delivery.bit_depth, set(request.delivery.formats)
    for index, alt in enumerate(alternates):
        if alt.audio is None:
            continue
        stage(f"encode alternates/{alt.name}")
        loudness = gated_loudness(step_powers(alt.audio, rate), rate)
        peak = alt.true_peak_dbtp  # measured once, when it was kept under the ceiling
        name = f"alternates/{alt.name}"
        wav = scratch.path(f"{name}.wav") if AudioFormat.wav in formats else None
        flac = scratch.path(f"{name}.flac") if AudioFormat.flac in formats else None
        description = f"{_description(request, name)}; keeps {' + '.join(alt.kept)}"
        # dither of its own, after the stems' (≤ 16)
        written = write_files(
            alt.audio,
            rate,
            bits,
            request.seed + 64 + index,
            wav=wav,
            flac=flac,
            bext=_bext(request, description, loudness, peak, rate, bits),
        )
        numbers = _file_numbers(written, rate, loudness, peak) | {"limited": alt.limiter.engaged}
        for path, suffix in ((wav, "wav"), (flac, "flac")):
            if path is not None:
                audio.paths[f"{name}.{suffix}"] = path
                audio.file_info[f"{name}.{suffix}"] = numbers
    audio.summary["alternates"] = {alt.name: alt.as_record() for alt in alternates}


def _coding_history(rate: int, bits: int) -> str:
    """The bext coding history of a file we render (EBU R 98: algorithm, rate, word length, mode, text)."""
    return f"A=PCM,F={rate},W={bits},M=stereo,T=cues {RENDERER_VERSION} FluidSynth\r\n"


def _description(request: AudioRequest, name: str) -> str:
    """A WAV's bext description: the file, then what the request says of the cue (``mix of Night chase …``)."""
    return f"{name} of {request.title}" if request.title else name


def _file_numbers(pcm: Written, rate: int, loudness: float, peak: float) -> dict:
    """A WAV or FLAC file's numbers in the manifest."""
    return {
        "samples": pcm.frames,
        "sample_rate": rate,
        "bit_depth": pcm.bits,
        "loudness_lufs": _rounded(loudness),
        "true_peak_dbtp": _rounded(peak),
        "clipped_samples": pcm.clipped,
    }


def wav_markers(request: AudioRequest, rate: int, frames: int) -> WavMarkers:
    """A loop's markers: the loop over every sample of its musical length (a loop's file is exactly that long: the
    tail is folded onto the start) and a cue point at each of the request's ``markers`` inside it."""
    points = tuple(CuePoint(round(seconds * rate), label) for label, seconds in request.markers)
    return WavMarkers((0, frames - 1), tuple(p for p in points if p.sample < frames))


def _rounded(value: float) -> float | None:
    return round(value, 3) if np.isfinite(value) else None
