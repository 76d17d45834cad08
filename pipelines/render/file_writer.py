"""One signal into its delivered files, in blocks: quantised (``audio_files.to_pcm``'s rule, block by block) and
written as a Broadcast WAV, a FLAC and an MP3 preview in one pass over it, straight into files of the render's
scratch folder (``scratch.py``), so no encoded file is ever held whole in memory (a 600 s 24-bit stereo WAV is
173 MB).

- The 16-bit TPDF dither is the same stream as ``to_pcm``'s over the whole signal: its two uniform draws come from
  two generators seeded alike, the second advanced past the first's draws (PCG64's ``advance``), so a block's dither
  is the whole signal's at those samples.
- libsndfile writes the WAV and FLAC as it does for ``wav_bytes`` and ``flac_bytes`` (one streaming writer each);
  the WAV is then finished as ``wav_bytes`` and ``with_markers`` lay it out: its header chunks, the ``bext`` chunk,
  the ``data`` chunk copied from libsndfile's file by the kernel (``os.copy_file_range``), the marker chunks.
- LAME takes the 16-bit samples in blocks; the MP3 (at 192 kb/s, 1.4 MB a minute) is tagged in memory.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cues.pipelines.render.audio_files import BextInfo, _bext_payload, _chunk, _chunk_offset
from cues.pipelines.render.id3 import Id3Tags, tagged_mp3
from cues.pipelines.render.scratch import blocks

WAV_HEADER_MAX = 4096  # bytes: libsndfile's header chunks (fmt, fact) all lie before this


@dataclass(frozen=True)
class Written:
    """What writing a signal's files found: frames, bit depth, samples clipped to full scale."""

    frames: int
    bits: int
    clipped: int


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
    pcm_sum: np.ndarray | None = None,
) -> Written:
    """Write ``audio`` (2, samples) float as the files asked for, in one pass of blocks.

    ``markers``: RIFF chunks appended to the WAV (``wav_markers.marker_chunks``); ``mp3`` gets a 16-bit version
    (this signal's own PCM at 16 bits, else dithered from ``seed`` as the preview always was); ``pcm_sum``
    (channels, samples) int32, if given, has the integer samples added into it (full scale 2^(bits−1))."""
    import soundfile

    frames = audio.shape[-1]
    quantise = Quantiser(bits, seed, frames, audio.shape[0])
    preview = None if mp3 is None or bits == 16 else Quantiser(16, seed, frames, audio.shape[0])
    subtype = "PCM_24" if bits == 24 else "PCM_16"
    plain = wav.with_name(wav.name + ".plain") if wav is not None else None
    writers = [
        soundfile.SoundFile(path, "w", rate, audio.shape[0], subtype, format=kind)
        for path, kind in ((plain, "WAV"), (flac, "FLAC"))
        if path is not None
    ]
    encoder, encoded = (_mp3_encoder(rate, mp3_kbps, audio.shape[0]), []) if mp3 is not None else (None, [])
    try:
        for part in blocks(frames, *([audio] if pcm_sum is None else [audio, pcm_sum])):
            pcm = quantise(audio[:, part])
            samples = pcm << 8 if bits == 24 else pcm.astype(np.int16)  # libsndfile: 24 bits left-justified
            for writer in writers:
                writer.write(samples)
            if pcm_sum is not None:  # integers: exact, and a third of a float64 sum's time
                pcm_sum[:, part] += pcm.T
            if encoder is not None:
                pcm16 = pcm if preview is None else preview(audio[:, part])
                encoded.append(encoder.encode(pcm16.astype("<i2").tobytes()))
    finally:
        for writer in writers:
            writer.close()
    if encoder is not None:
        encoded.append(encoder.flush())
        data = b"".join(bytes(piece) for piece in encoded)
        mp3.write_bytes(tagged_mp3(data, id3) if id3 is not None else data)
    if plain is not None:
        finish_wav(plain, wav, bext, markers)
        plain.unlink()
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


def finish_wav(plain: Path, out: Path, bext: BextInfo | None, markers: bytes = b"") -> None:
    """``out``: the WAV libsndfile wrote at ``plain`` with a ``bext`` chunk before its ``data`` chunk and
    ``markers`` after it, laid out byte for byte as ``wav_bytes`` then ``with_markers`` lay it out."""
    with open(plain, "rb") as source:
        head = source.read(WAV_HEADER_MAX)
        data_at = _chunk_offset(head, b"data")
        size = struct.unpack("<I", head[data_at + 4 : data_at + 8])[0]
        header = head[12:data_at] + (_chunk(b"bext", _bext_payload(bext)) if bext is not None else b"")
        data = size + (size & 1)
        body = 4 + len(header) + 8 + data + len(markers)
        if body > 0xFFFFFFFF:
            raise ValueError("audio too long for a RIFF WAV (4 GiB); deliver FLAC instead")
        with open(out, "wb") as target:
            target.write(b"RIFF" + struct.pack("<I", body) + b"WAVE" + header + head[data_at : data_at + 8])
            target.flush()
            offset, left = data_at + 8, data
            while left > 0:
                copied = os.copy_file_range(source.fileno(), target.fileno(), left, offset)
                if copied <= 0:
                    raise ValueError(f"the WAV libsndfile wrote ends {left} bytes early")
                offset, left = offset + copied, left - copied
            target.seek(0, os.SEEK_END)
            target.write(markers)
