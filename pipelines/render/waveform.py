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
  (−48 dBFS) shows as 0. The mix is read in place (views, no copy): a 10-minute mix must not cost a second copy.
"""

from __future__ import annotations

import math

import numpy as np

BINS = 400  # pairs per file: a report card is about 1,200 px wide, so a bin is 3 px
SCALE = 127  # int8's positive range, as audiowaveform's 8-bit data


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
    whole = frames // per_bin
    lows, highs = [], []
    if whole:
        blocks = mix[:, : whole * per_bin].reshape(mix.shape[0], whole, per_bin)  # (channels, bins, frames): a view
        lows.append(blocks.min(axis=2).min(axis=0))
        highs.append(blocks.max(axis=2).max(axis=0))
    if frames > whole * per_bin:  # the last, short bin
        rest = mix[:, whole * per_bin :]
        lows.append(np.array([rest.min()]))
        highs.append(np.array([rest.max()]))
    low = np.rint(np.clip(np.concatenate(lows or [np.zeros(0)]), -1.0, 0.0) * SCALE)
    high = np.rint(np.clip(np.concatenate(highs or [np.zeros(0)]), 0.0, 1.0) * SCALE)
    return {
        "samples_per_bin": per_bin,
        "sample_rate": rate,
        "low": [int(v) for v in low],
        "high": [int(v) for v in high],
    }
