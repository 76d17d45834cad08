"""A mastered cue's delivered files: every stem, layer, alternate and the mix measured (loudness, true peak,
silence; each from the blocks ``file_writer.py`` encodes, in the one pass that writes it, the mix's from mastering)
and written by ``file_writer.py`` into the render's scratch folder, with the numbers the manifest records
(``RenderedAudio``). The stem and layer files are summed back as they are written (integers) and checked against
the premix: the manifest's ``stems_sum_residual_dbfs`` and ``layers.sum_residual_dbfs``.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cues.pipelines.render.alternates import MasteredAlternate
from cues.pipelines.render.audio_files import BextInfo
from cues.pipelines.render.audio_request import AudioRequest
from cues.pipelines.render.file_writer import PcmSum, Written, write_files
from cues.pipelines.render.layers import LayerAudio
from cues.pipelines.render.loudness import StreamMeter, db
from cues.pipelines.render.master import Mastered
from cues.pipelines.render.midi_events import StemRoute
from cues.pipelines.render.render_threads import in_order
from cues.pipelines.render.scratch import Scratch, abs_peak, blocks
from cues.pipelines.render.wav_markers import CuePoint, WavMarkers, marker_chunks
from cues.schemas.brief import AudioFormat, Ending

RENDERER_VERSION = "render-6"  # bump when the same MIDI, soundfont and settings would give different files
# render-3: alternate mixes, the bext description and TimeReference, the MP3 preview's ID3 tags, a loop's WAVs
# carrying smpl and cue chunks; the mix (stem_mix.py)
# render-4: every whole-signal pass in blocks (scratch.py): the loudness meter's per-step sums and the balance's
# section energies add in another order (1 ulp of float32), so gains, and a few samples' last bit, moved
# render-5: one shared reverb whose return is shared out among the stems (room.py) instead of a copy per stem
# render-6: each stem rendered by a FluidSynth synth of its own (pieces for render_threads.py) instead of one
# pass with a bus per stem: a stem alone differs from the same stem in the shared pass by -39 to -104 dB of its
# energy, in 0-5 % of its 10 ms windows (FluidSynth's voices depend on the other channels' notes)
SILENT_STEM_DBFS = -120.0  # a stem whose peak stays below this is reported silent


@dataclass(frozen=True)
class _Files:
    """The files written of one signal (None: a format not delivered) and their numbers for the manifest."""

    name: str
    numbers: dict
    wav: Path | None
    flac: Path | None

    def record_into(self, paths: dict, info: dict, wav_extra: dict | None = None) -> None:
        """These files into ``paths`` and their numbers into ``info`` (the WAV's with ``wav_extra`` too)."""
        if self.wav is not None:
            paths[f"{self.name}.wav"] = self.wav
            info[f"{self.name}.wav"] = {**self.numbers, **wav_extra} if wav_extra else self.numbers
        if self.flac is not None:
            paths[f"{self.name}.flac"] = self.flac
            info[f"{self.name}.flac"] = self.numbers


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
            self.scratch.delivers = True
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


def encode(
    request: AudioRequest,
    mastered: Mastered,
    stems: tuple[StemRoute, ...],
    rate: int,
    mp3_kbps: int,
    layers: LayerAudio | None,
    scratch: Scratch,
    stage: Callable[[str], None] = lambda _: None,
    run: Callable[..., list] = in_order,
) -> RenderedAudio:
    """Measure and write every file of the cue into ``scratch`` (``file_writer.py``: in blocks, straight to
    files), with each file's numbers and the render's summary. ``run(work, items)`` does the files' work
    (``RenderThreads.map``: side by side); the files and numbers are the same however it is run."""
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
        extra: dict,
        measured: tuple[float, float] | None = None,
        pcm_sum: PcmSum | None = None,
    ) -> _Files:
        """Write ``name``'s files; ``measured``: its (loudness, true peak dBTP) when known, else it is measured
        as it is written (and said silent or not). Touches nothing another file's writing does (a thread each)."""
        wav = scratch.path(f"{name}.wav") if AudioFormat.wav in formats else None
        flac = scratch.path(f"{name}.flac") if AudioFormat.flac in formats else None
        stage(f"encode {name}")
        meter = StreamMeter(rate, audio.shape[0], loop, abs_peak(audio)) if measured is None else None
        loudness, peak = measured or (None, None)
        written = write_files(
            audio,
            rate,
            bits,
            seed,
            wav=wav,
            flac=flac,
            bext=_bext(request, _description(request, name), loudness, peak, rate, bits),
            markers=marker_bytes,
            pcm_sum=pcm_sum,
            meter=meter,
        )
        if meter is not None:
            loudness, peak = meter.loudness(), db(meter.true_peak())
            extra = {"silent": db(meter.sample_peak) < SILENT_STEM_DBFS} | extra
        return _Files(name, _file_numbers(written, rate, loudness, peak) | extra, wav, flac)

    def preview() -> Path:
        """The mix's MP3 preview, a piece of its own (LAME is the longest part of the mix's files): the mix
        quantised at 16 bits with the mix's seed, which is the 16-bit WAV's own PCM and the dither a 24-bit mix's
        preview always had."""
        stage("encode preview.mp3")
        mp3 = scratch.path("preview.mp3")
        write_files(mastered.mix, rate, 16, request.seed, mp3=mp3, mp3_kbps=mp3_kbps, id3=request.id3)
        return mp3

    def record(files: _Files) -> None:
        """``files`` into the paths and numbers handed back, in the order the files are listed."""
        files.record_into(paths, info, {"loop": markers.loop} if markers else None)

    # every file is its own piece of work (``run``: side by side), the longest first: the MP3 preview, the mix
    stem_sum = PcmSum(scratch.array(mastered.premix.shape, np.int32)) if delivery.stems and stems else None
    layer_sum = PcmSum(scratch.array(mastered.premix.shape, np.int32)) if layers is not None else None
    measured = (mastered.loudness_lufs, mastered.true_peak_dbtp)
    limited = {"limited": mastered.limiter.engaged}
    previewed = AudioFormat.mp3 in formats
    work = [preview] if previewed else []
    work += [functools.partial(deliver, "mix", mastered.mix, request.seed, limited, measured)]
    if delivery.stems:
        seeds = [request.seed + 1 + i for i in range(len(stems))]
        work += [
            functools.partial(deliver, f"stems/{stem.name}", mastered.stems[i], seeds[i], {}, None, stem_sum)
            for i, stem in enumerate(stems)
        ]
    if layers is not None:  # each with its own dither, as each stem has
        work += [
            functools.partial(deliver, f"layers/{name}", layers.audio[i], request.seed + 101 + i, {}, None, layer_sum)
            for i, name in enumerate(layers.names)
        ]
    done = run(lambda piece: piece(), work)
    mp3, (mix_files, *rest) = (done[0], done[1:]) if previewed else (None, done)
    stem_files = rest[: len(stems)] if delivery.stems else []
    layer_files = rest[len(stem_files) :]

    stem_report = {}
    for stem, files in zip(stems if delivery.stems else (), stem_files, strict=True):
        record(files)
        stem_report[stem.name] = {
            "silent": files.numbers["silent"],
            "midi_channel": stem.channel + 1,
            "midi_channels": [c + 1 for c in stem.channels],
            "groups": list(stem.groups or (stem.name,)),
        }
    layer_report = None
    if layers is not None:
        layer_report = {"trim_db": round(layers.trim_db, 6), "by_layer": {}}
        for name, members, files in zip(layers.names, layers.stems, layer_files, strict=True):
            record(files)
            layer_report["by_layer"][name] = {"stems": list(members), "silent": files.numbers["silent"]}
        residual = _residual(layer_sum.array, bits, layers.trim_db, mastered.premix)
        layer_report["sum_residual_dbfs"] = _rounded(db(residual)) if residual > 0 else None
    if stem_sum is not None:
        residual = _residual(stem_sum.array, bits, mastered.stem_trim_db, mastered.premix)
        mix_files.numbers["stems_sum_residual_dbfs"] = _rounded(db(residual)) if residual > 0 else None
    record(mix_files)
    if mp3 is not None:
        paths["preview.mp3"] = mp3
        info["preview.mp3"] = {"bitrate_kbps": mp3_kbps, "sample_rate": rate, "preview": True}
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


def _residual(pcm_sum: np.ndarray, bits: int, trim_db: float, premix: np.ndarray) -> float:
    """The largest difference between files' summed integer samples (as ``soundfile`` reads them back, undone by
    their common trim) and the premix."""
    undo = 10.0 ** (-trim_db / 20.0) / float(1 << (bits - 1))
    residual = 0.0
    for part in blocks(premix.shape[-1], pcm_sum, premix):
        summed_back = pcm_sum[:, part].astype(np.float64) * undo
        residual = max(residual, float(np.abs(summed_back - premix[:, part]).max(initial=0.0)))
    return residual


def _bext(
    request: AudioRequest, description: str, loudness: float | None, peak: float | None, rate: int, bits: int
) -> BextInfo:
    return BextInfo(
        description=description,
        originator="cues",
        originator_reference=request.reference,
        loudness_lufs=loudness,
        true_peak_dbtp=peak,
        coding_history=_coding_history(rate, bits),
        time_reference=request.time_reference,
    )


def encode_alternates(
    request: AudioRequest,
    alternates: list[MasteredAlternate],
    rate: int,
    audio: RenderedAudio,
    scratch: Scratch,
    stage: Callable[[str], None] = lambda _: None,
    run: Callable[..., list] = in_order,
) -> None:
    """``alternates/<name>.wav``/``.flac`` of every alternate that sounds, with their numbers, into ``audio``; the
    manifest's ``audio.alternates`` for all of them. ``run``: as :func:`encode`'s."""
    bits, formats = request.delivery.bit_depth, set(request.delivery.formats)

    def deliver(index: int) -> _Files:
        alt = alternates[index]
        stage(f"encode alternates/{alt.name}")
        meter = StreamMeter(rate, alt.audio.shape[0], request.ending == Ending.loop, abs_peak(alt.audio))  # as written
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
            bext=_bext(request, description, None, None, rate, bits),
            meter=meter,
        )
        # its true peak the meter's, which is the one measured when it was kept under the ceiling (one algorithm)
        numbers = _file_numbers(written, rate, meter.loudness(), db(meter.true_peak())) | {
            "limited": alt.limiter.engaged
        }
        return _Files(name, numbers, wav, flac)

    sounding = [index for index, alt in enumerate(alternates) if alt.audio is not None]
    for files in run(deliver, sounding):
        files.record_into(audio.paths, audio.file_info)
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
