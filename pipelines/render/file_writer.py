"""One signal into its delivered files, in blocks: quantised (``audio_files.to_pcm``'s rule, block by block) and
written as a Broadcast WAV, a FLAC and an MP3 preview in one pass over it, straight into files of the render's
scratch folder (``scratch.py``), so no encoded file is ever held whole in memory (a 600 s 24-bit stereo WAV is
173 MB).

- The 16-bit TPDF dither is the same stream as ``to_pcm``'s over the whole signal: its two uniform draws come from
  two generators seeded alike, the second advanced past the first's draws (PCG64's ``advance``), so a block's dither
  is the whole signal's at those samples.
- The WAV is written here, laid out byte for byte as ``wav_bytes`` and ``with_markers`` lay it out (libsndfile's
  ``fmt`` chunk, the ``bext`` chunk, the ``data`` chunk, the marker chunks): its length is known before the first
  sample, so the header goes first and the samples follow as they are quantised. Until ``render-5`` libsndfile
  wrote a plain WAV that was then copied behind the header (0.04 s a file and minute more: its conversion of
  left-justified int32, the copy, the unlink). libsndfile still writes the FLAC.
- LAME takes the 16-bit samples in blocks; the MP3 (at 192 kb/s, 1.4 MB a minute) is tagged in memory.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cues.pipelines.render.audio_files import BextInfo, _bext_payload, _chunk
from cues.pipelines.render.id3 import Id3Tags, tagged_mp3
from cues.pipelines.render.loudness import StreamMeter, db
from cues.pipelines.render.scratch import blocks


@dataclass(frozen=True)
class Written:
    """What writing a signal's files found: frames, bit depth, samples clipped to full scale."""

    frames: int
    bits: int
    clipped: int


class PcmSum:
    """The integer samples of several files added up as each is written (``array``: channels, samples; int32), to
    check them against the signal they must sum to. Files written in parallel threads add under a lock; integer
    addition does not depend on their order."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self._lock = threading.Lock()

    def add(self, part: slice, pcm: np.ndarray) -> None:
        """Add ``pcm`` (samples, channels) int32 at the samples ``part``."""
        with self._lock:
            self.array[:, part] += pcm.T


class Quantiser:
    """``to_pcm``'s quantisation of a signal of ``frames`` frames at ``bits``, a block at a time, in order."""

    def __init__(self, bits: int, seed: int, frames: int, channels: int = 2) -> None:
        self.bits = bits
        self.scale = np.float32(1 << (bits - 1))
        self.clipped = 0
        self._rising = self._falling = None
        if bits <= 16:
            self._rising = np.random.default_rng(seed)
            self._falling = np.random.default_rng(seed)
            # to_pcm draws frames × channels float32 (32 bits each) for the first array: half as many 64-bit steps
            self._falling.bit_generator.advance(frames * channels // 2)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """Integer samples (samples, channels) int32 of float ``block`` (channels, samples)."""
        scaled = np.asarray(block, dtype=np.float32).T * self.scale
        if self._rising is not None:
            scaled += self._rising.random(scaled.shape, dtype=np.float32)
            scaled -= self._falling.random(scaled.shape, dtype=np.float32)
        np.rint(scaled, out=scaled)
        low, high = -self.scale, self.scale - 1
        if scaled.size and (scaled.min() < low or scaled.max() > high):
            self.clipped += int(np.count_nonzero((scaled < low) | (scaled > high)))
            np.clip(scaled, low, high, out=scaled)
        return scaled.astype(np.int32)


def write_files(
    audio: np.ndarray,
    rate: int,
    bits: int,
    seed: int,
    *,
    wav: Path | None = None,
    flac: Path | None = None,
    bext: BextInfo | None = None,
    markers: bytes = b"",
    mp3: Path | None = None,
    mp3_kbps: int = 192,
    id3: Id3Tags | None = None,
    pcm_sum: PcmSum | None = None,
    meter: StreamMeter | None = None,
) -> Written:
    """Write ``audio`` (2, samples) float as the files asked for, in one pass of blocks.

    ``markers``: RIFF chunks appended to the WAV (``wav_markers.marker_chunks``); ``mp3`` gets a 16-bit version
    (this signal's own PCM at 16 bits, else dithered from ``seed`` as the preview always was); ``pcm_sum``, if
    given, has the integer samples added into it (full scale 2^(bits−1)); ``meter``,
    if given, measures the signal from the same blocks (``loudness.StreamMeter``), and the ``bext`` chunk then
    carries its loudness and true peak (the WAV's header is written last: its length does not depend on them)."""
    import soundfile

    frames = audio.shape[-1]
    quantise = Quantiser(bits, seed, frames, audio.shape[0])
    preview = None if mp3 is None or bits == 16 else Quantiser(16, seed, frames, audio.shape[0])
    subtype = "PCM_24" if bits == 24 else "PCM_16"
    writer = soundfile.SoundFile(flac, "w", rate, audio.shape[0], subtype, format="FLAC") if flac is not None else None
    target = open(wav, "wb") if wav is not None else None  # noqa: SIM115 (closed below, with the FLAC writer)
    encoder, encoded = (_mp3_encoder(rate, mp3_kbps, audio.shape[0]), []) if mp3 is not None else (None, [])
    try:
        if target is not None:
            target.write(wav_header(rate, audio.shape[0], bits, frames, bext, len(markers)))
        for part in blocks(frames, *([audio] if pcm_sum is None else [audio, pcm_sum.array])):
            if meter is not None:
                meter(audio[:, part])
            pcm = quantise(audio[:, part])
            if target is not None:
                target.write(_wav_samples(pcm, bits))
            if writer is not None:
                writer.write(pcm << 8 if bits == 24 else pcm.astype(np.int16))  # libsndfile: 24 bits left-justified
            if pcm_sum is not None:  # integers: exact, and a third of a float64 sum's time
                pcm_sum.add(part, pcm)
            if encoder is not None:
                pcm16 = pcm if preview is None else preview(audio[:, part])
                encoded.append(encoder.encode(pcm16.astype("<i2").tobytes()))
        if target is not None:
            target.write(b"\0" * ((frames * audio.shape[0] * bits // 8) & 1) + markers)
            if meter is not None and bext is not None:
                measured = replace(bext, loudness_lufs=meter.loudness(), true_peak_dbtp=db(meter.true_peak()))
                target.seek(0)
                target.write(wav_header(rate, audio.shape[0], bits, frames, measured, len(markers)))
    finally:
        if writer is not None:
            writer.close()
        if target is not None:
            target.close()
    if encoder is not None:
        encoded.append(encoder.flush())
        data = b"".join(bytes(piece) for piece in encoded)
        mp3.write_bytes(tagged_mp3(data, id3) if id3 is not None else data)
    return Written(frames, bits, quantise.clipped)


def _mp3_encoder(rate: int, kbps: int, channels: int):
    """LAME at quality 7 ("fast, fine quality"), as ``audio_files.mp3_bytes`` sets it."""
    import lameenc

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(channels)
    encoder.set_quality(7)
    return encoder


def wav_header(rate: int, channels: int, bits: int, frames: int, bext: BextInfo | None, markers: int = 0) -> bytes:
    """The bytes of a PCM WAV of ``frames`` frames before its samples: RIFF header, the ``fmt`` chunk as libsndfile
    writes it (format tag 1), the ``bext`` chunk, the ``data`` chunk's header; ``markers``: the bytes of the chunks
    that will follow the samples."""
    align = channels * bits // 8
    fmt = _chunk(b"fmt ", struct.pack("<HHIIHH", 1, channels, rate, rate * align, align, bits))
    header = fmt + (_chunk(b"bext", _bext_payload(bext)) if bext is not None else b"")
    size = frames * align
    body = 4 + len(header) + 8 + size + (size & 1) + markers
    if body > 0xFFFFFFFF:
        raise ValueError("audio too long for a RIFF WAV (4 GiB); deliver FLAC instead")
    return b"RIFF" + struct.pack("<I", body) + b"WAVE" + header + b"data" + struct.pack("<I", size)


def _wav_samples(pcm: np.ndarray, bits: int) -> bytes:
    """Interleaved little-endian samples of ``pcm`` (samples, channels) int32: 24 bits as three bytes each.

    24 bits are packed four samples to three 32-bit words with shifts (a third of the time of copying three bytes
    of every four, which numpy does byte by byte: 0.14 s a stereo minute under load)."""
    if bits == 16:
        return pcm.astype("<i2").tobytes()
    flat = np.ascontiguousarray(pcm, dtype="<i4").reshape(-1)
    whole = flat.size // 4 * 4
    s = flat[:whole].view("<u4").reshape(-1, 4)
    words = np.empty((s.shape[0], 3), dtype="<u4")
    words[:, 0] = (s[:, 0] & 0xFFFFFF) | (s[:, 1] << 24)
    words[:, 1] = ((s[:, 1] >> 8) & 0xFFFF) | (s[:, 2] << 16)
    words[:, 2] = ((s[:, 2] >> 16) & 0xFF) | (s[:, 3] << 8)
    rest = flat[whole:].view(np.uint8).reshape(-1, 4)[:, :3]
    return words.tobytes() + rest.tobytes()
