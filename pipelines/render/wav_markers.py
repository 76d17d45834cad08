"""Loop and cue points inside a WAV, as samplers and game engines (Wwise, FMOD, Unity, Unreal) read them.

Three RIFF chunks, written after the ``data`` chunk (readers find chunks by walking them, in any order):

- ``smpl`` (the sampler chunk of the RIFF MCI spec, 36 bytes + 24 per loop): one forward loop, ``start`` to
  ``end``, both sample frames and **inclusive**, as the spec and every engine read them: a loop of a cue of N samples
  is 0 … N − 1. The MIDI unity note is 60 (middle C: the file is not a pitched sample) and the sample period is the
  sample rate's, in nanoseconds.
- ``cue `` (24 bytes a point): each point's sample frame from the start of the ``data`` chunk (``position`` and
  ``sample offset`` both: a file without a playlist addresses samples directly).
- ``LIST``/``adtl`` with one ``labl`` per cue point: its name (ASCII, NUL-terminated).

Decisions where the contract is silent:

- Points are written in time order, numbered from 1; two points on one sample keep both labels (a hit on a section's
  downbeat is both).
- The loop's cue point id is 0 (no cue point names the loop: engines take the ``smpl`` loop itself).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MIDI_UNITY_NOTE = 60  # middle C: the file is music, not a pitched instrument sample


@dataclass(frozen=True)
class CuePoint:
    """A labelled position: ``sample`` frames from the file's first sample (0 ≤ sample < frames)."""

    sample: int
    label: str

    def __post_init__(self) -> None:
        if self.sample < 0:
            raise ValueError(f"a cue point is at a sample ≥ 0, got {self.sample}")


@dataclass(frozen=True)
class WavMarkers:
    """What a WAV says besides its samples: a forward loop (first and last sample frame, inclusive) and cue points."""

    loop: tuple[int, int] | None = None
    cue_points: tuple[CuePoint, ...] = ()

    def __post_init__(self) -> None:
        if self.loop is not None and not 0 <= self.loop[0] <= self.loop[1]:
            raise ValueError(f"a loop runs from a first to a later sample, got {self.loop}")

    def as_record(self) -> dict:
        """The manifest's view: ``loop`` (start, end; inclusive sample frames) and ``cue_points`` (sample, label)."""
        return {
            "loop": list(self.loop) if self.loop else None,
            "cue_points": [{"sample": p.sample, "label": p.label} for p in self.cue_points],
        }


def marker_chunks(markers: WavMarkers, rate: int) -> bytes:
    """The ``smpl``, ``cue `` and ``LIST``/``adtl`` chunks of ``markers`` (each present only when it has content)."""
    chunks = b""
    if markers.loop is not None:
        start, end = markers.loop
        header = struct.pack(
            "<9I",
            0,  # manufacturer: none
            0,  # product
            round(1e9 / rate),  # sample period, ns
            MIDI_UNITY_NOTE,
            0,  # pitch fraction
            0,  # SMPTE format: none
            0,  # SMPTE offset
            1,  # sample loops
            0,  # sampler-specific data bytes
        )
        loop = struct.pack("<6I", 0, 0, start, end, 0, 0)  # id, forward, start, end (inclusive), fraction, forever
        chunks += _chunk(b"smpl", header + loop)
    points = sorted(markers.cue_points, key=lambda p: p.sample)
    if points:
        cue = struct.pack("<I", len(points)) + b"".join(
            struct.pack("<II4sIII", i, p.sample, b"data", 0, 0, p.sample) for i, p in enumerate(points, 1)
        )
        labels = b"".join(
            _chunk(b"labl", struct.pack("<I", i) + p.label.encode("ascii", "replace") + b"\x00")
            for i, p in enumerate(points, 1)
        )
        chunks += _chunk(b"cue ", cue) + _chunk(b"LIST", b"adtl" + labels)
    return chunks


def with_markers(wav: bytes, markers: WavMarkers, rate: int) -> bytes:
    """``wav`` (a RIFF/WAVE file) with the chunks of ``markers`` appended and the RIFF size set again."""
    extra = marker_chunks(markers, rate)
    if not extra:
        return wav
    body = wav[8:] + extra
    if len(body) > 0xFFFFFFFF:
        raise ValueError("audio too long for a RIFF WAV (4 GiB); deliver FLAC instead")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunk(tag: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return tag + struct.pack("<I", len(payload)) + payload + pad
