"""A mix's waveform overview: a few hundred (min, max) pairs over the whole file, for the report's audition room.

The shape follows BBC's audiowaveform data (8-bit min/max pairs, ``samples_per_bin`` frames each): small enough for
the manifest (about 4 kB of JSON for 400 bins) and enough for a waveform one screen wide.

Decisions where the contract is silent:

- Computed at render time, from the mastered mix still in memory (a pass over the samples, about 10 ms for 60 s),
  rather than when the report is written: a report of an S3 store would otherwise download every cue's mix (17 MB a
  minute at 24-bit) each time ``cues report`` renews its links, and the HTTP service can serve it from the manifest.
- Both channels fold into one lane (the min and max over left and right): the room shows where the music is loud
  and where it rests, not the stereo image.
- Values are linear amplitude in 1/127 of full scale, rounded to the nearest step: a bin quieter than half a step
  (−48 dBFS) shows as 0. The mix is read in chunks of 65,536 frames: a 10-minute mix must not cost a second copy,
  and a transposed (frames, channels) view costs no more than a contiguous one.
"""

from __future__ import annotations

import math

import numpy as np

BINS = 400  # pairs per file: a report card is about 1,200 px wide, so a bin is 3 px
SCALE = 127  # int8's positive range, as audiowaveform's 8-bit data
CHUNK_FRAMES = 1 << 16  # read in pieces of about this many frames: whatever the layout, never a copy of the whole


def waveform_peaks(mix: np.ndarray, rate: int, bins: int = BINS) -> dict:
    """The waveform of ``mix`` (float samples in [−1, 1], shape (channels, frames)) at ``rate`` Hz.

    Returns the manifest's ``audio.waveform`` record: ``samples_per_bin`` (frames, ≥ 1), ``sample_rate`` (Hz),
    ``low`` and ``high`` (one integer in [−127, 127] per bin, in 1/127 of full scale; the last bin may be short).
    An empty mix gives no bins. Raises ``ValueError`` for ``bins`` < 1.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    frames = mix.shape[-1]
    per_bin = max(1, math.ceil(frames / bins))
    count = math.ceil(frames / per_bin)
    low, high = np.zeros(count), np.zeros(count)
    step = max(1, CHUNK_FRAMES // per_bin)  # bins per chunk
    for first in range(0, count, step):
        chunk = mix[:, first * per_bin : (first + step) * per_bin]
        n = math.ceil(chunk.shape[-1] / per_bin)
        # a small contiguous copy, zero-padded to whole bins: zeros never move a min (≤ 0) or a max (≥ 0)
        block = np.zeros((mix.shape[0], n * per_bin), dtype=np.float32)
        block[:, : chunk.shape[-1]] = chunk
        block = block.reshape(mix.shape[0], n, per_bin)  # (channels, bins, frames per bin)
        low[first : first + n] = block.min(axis=(0, 2))
        high[first : first + n] = block.max(axis=(0, 2))
    low = np.rint(np.clip(low, -1.0, 0.0) * SCALE)
    high = np.rint(np.clip(high, 0.0, 1.0) * SCALE)
    return {
        "samples_per_bin": per_bin,
        "sample_rate": rate,
        "low": [int(v) for v in low],
        "high": [int(v) for v in high],
    }
