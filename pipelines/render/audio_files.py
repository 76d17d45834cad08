"""Audio as delivered files: PCM (with TPDF dither at 16 bits), Broadcast WAV with a ``bext`` chunk, FLAC, MP3.

Full scale follows libsndfile's convention (1.0 ↔ 2^(bits−1)), so a file read back with ``soundfile`` gives the
samples written here, and the WAV and FLAC of one signal decode to identical samples. Dither is seeded from the
cue, and no file carries a clock (the ``bext`` origination date and time are left empty, as ffmpeg leaves them
without metadata; libsndfile writes no date into PCM WAV or FLAC, LAME none into MP3), so rendering the same cue
twice writes the same bytes: two workers delivering one cue at once write identical objects.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pcm:
    """Integer samples (samples, channels) int32 at ``bits``, and how many samples were clipped to full scale."""

    samples: np.ndarray
    bits: int
    clipped: int

    @property
    def frames(self) -> int:
        return self.samples.shape[0]

    def as_float(self) -> np.ndarray:
        """(channels, samples) float64, exactly what ``soundfile`` reads back."""
        return self.samples.T.astype(np.float64) / float(1 << (self.bits - 1))


@dataclass(frozen=True)
class BextInfo:
    """What the Broadcast WAV ``bext`` chunk says (EBU Tech 3285 v2)."""

    description: str
    originator: str
    originator_reference: str
    date: str = ""  # yyyy-mm-dd; empty (NUL-filled): a wall-clock date would make re-renders differ
    time: str = ""  # hh:mm:ss; empty likewise
    loudness_lufs: float | None = None
    true_peak_dbtp: float | None = None
    coding_history: str = ""
    time_reference: int = 0  # the first sample's time, in samples since midnight (timecode 00:00:00:00 = 0)


def to_pcm(audio: np.ndarray, bits: int, seed: int = 0) -> Pcm:
    """Quantise float ``audio`` (channels, samples) to ``bits`` (16: TPDF dither of ±1 LSB; 24: rounding).

    Works in float32: a float32 holds every 24-bit integer exactly, and scaling by a power of two is exact."""
    scale = np.float32(1 << (bits - 1))
    scaled = np.asarray(audio, dtype=np.float32).T * scale
    if bits <= 16:
        rng = np.random.default_rng(seed)
        scaled += rng.random(scaled.shape, dtype=np.float32)
        scaled -= rng.random(scaled.shape, dtype=np.float32)
    np.rint(scaled, out=scaled)
    low, high = -scale, scale - 1
    clipped = 0
    if scaled.size and (scaled.min() < low or scaled.max() > high):
        clipped = int(np.count_nonzero((scaled < low) | (scaled > high)))
        np.clip(scaled, low, high, out=scaled)
    return Pcm(scaled.astype(np.int32), bits, clipped)


def wav_bytes(pcm: Pcm, rate: int, bext: BextInfo | None = None) -> bytes:
    """A RIFF/WAVE file (PCM format tag 1, as broadcast WAVs are) with an optional ``bext`` chunk before the data.

    libsndfile writes the file (2–3× faster than packing 24-bit samples in numpy); the ``bext`` chunk, which
    soundfile cannot write, is spliced in before the ``data`` chunk."""
    plain = _libsndfile_bytes(pcm, rate, "WAV")
    if bext is None:
        return plain
    data_at = _chunk_offset(plain, b"data")
    body = plain[12:data_at] + _chunk(b"bext", _bext_payload(bext)) + plain[data_at:]
    if len(body) + 4 > 0xFFFFFFFF:
        raise ValueError("audio too long for a RIFF WAV (4 GiB); deliver FLAC instead")
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WAVE" + body


def _chunk_offset(riff: bytes, tag: bytes) -> int:
    """Offset of the chunk ``tag`` in a RIFF/WAVE file (walking the chunks, not searching the bytes)."""
    at = 12
    while at + 8 <= len(riff):
        size = struct.unpack("<I", riff[at + 4 : at + 8])[0]
        if riff[at : at + 4] == tag:
            return at
        at += 8 + size + (size & 1)
    raise ValueError(f"no {tag.decode()} chunk in the WAV libsndfile wrote")


def _libsndfile_bytes(pcm: Pcm, rate: int, container: str) -> bytes:
    import soundfile

    buffer = io.BytesIO()
    if pcm.bits == 24:
        samples, subtype = pcm.samples << 8, "PCM_24"  # libsndfile takes 24-bit audio left-justified in int32
    else:
        samples, subtype = pcm.samples.astype(np.int16), "PCM_16"
    soundfile.write(buffer, samples, rate, format=container, subtype=subtype)
    return buffer.getvalue()


def flac_bytes(pcm: Pcm, rate: int) -> bytes:
    return _libsndfile_bytes(pcm, rate, "FLAC")


def mp3_bytes(pcm16: Pcm, rate: int, kbps: int) -> bytes:
    """A constant-bit-rate MP3 preview of 16-bit ``pcm16`` (LAME through ``lameenc``).

    LAME quality 7 ("fast, fine quality"): twice as fast as its default, and this is a preview; the masters are
    the WAV and FLAC files."""
    import lameenc

    if pcm16.bits != 16:
        raise ValueError("the MP3 encoder takes 16-bit PCM")
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(pcm16.samples.shape[1])
    encoder.set_quality(7)
    return bytes(encoder.encode(pcm16.samples.astype("<i2").tobytes()) + encoder.flush())


def _chunk(tag: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return tag + struct.pack("<I", len(payload)) + payload + pad


def _fixed(text: str, size: int) -> bytes:
    return text.encode("ascii", "replace")[:size].ljust(size, b"\x00")


_UNSET = 0x7FFF  # EBU Tech 3285 v2: a loudness field that was not measured


def _centi(value: float | None) -> int:
    if value is None or not np.isfinite(value):
        return _UNSET
    return int(round(max(-327.67, min(327.66, value)) * 100))


def _bext_payload(info: BextInfo) -> bytes:
    payload = b"".join(
        [
            _fixed(info.description, 256),
            _fixed(info.originator, 32),
            _fixed(info.originator_reference, 32),
            _fixed(info.date, 10),
            _fixed(info.time, 8),
            struct.pack("<QH", info.time_reference, 2),  # time reference (samples since midnight), version 2
            bytes(64),  # UMID: none
            struct.pack(
                "<hhhhh",
                _centi(info.loudness_lufs),
                _UNSET,  # loudness range
                _centi(info.true_peak_dbtp),
                _UNSET,  # max momentary loudness
                _UNSET,  # max short-term loudness
            ),
            bytes(180),  # reserved
            info.coding_history.encode("ascii", "replace"),
        ]
    )
    return payload
