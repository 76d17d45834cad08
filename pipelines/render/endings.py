"""The end of a cue, in samples, per the brief's ``ending`` (``docs/contracts/brief-v1.md``, Endings).

Every function takes the stems as rendered, shaped (stems, 2, samples), with at least ``length`` samples plus the
render tail, and returns the shaped stems, reusing the rendered buffer where it can (a 10-minute cue's four stems
are 0.9 GB of float32: no copies). The same operation is applied to every stem, and each one is linear, so the
stems still sum to the mix.

- ``button``, ``cut``: exactly ``length`` samples; a raised-cosine de-click of at most 10 ms ends it at zero.
- ``fade``: exactly ``length`` samples; the composer already fades the parts (expression, CC 11), and an audio
  fade over the last bar takes the reverb with them to silence.
- ``loop``: exactly ``length`` samples; the tail that rings past the end is added onto the start ("folded"),
  which is what a player looping the file would sound if the music were played on and on, so the end flows into
  the start with no click and the reverb of the last bar sounds under the first.
- ``ring_out``: ``length`` plus the tail until the mix stays below the floor (−60 dBFS at delivery level), at most
  4 s, then the de-click.
"""

from __future__ import annotations

import numpy as np

from cues.schemas.brief import Ending


def declick(stems: np.ndarray, samples: int) -> np.ndarray:
    """Fade the last ``samples`` to zero with a raised cosine (in place; returns ``stems``)."""
    samples = min(samples, stems.shape[-1])
    if samples > 0:
        ramp = 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, samples + 1)[1:])  # ends exactly at 0
        stems[..., -samples:] *= ramp.astype(stems.dtype)
    return stems


def fade_out(stems: np.ndarray, samples: int) -> np.ndarray:
    """An equal-power fade over the last ``samples`` (in place; returns ``stems``)."""
    samples = min(samples, stems.shape[-1])
    if samples > 0:
        curve = np.cos(np.linspace(0.0, np.pi / 2, samples + 1)[1:])
        stems[..., -samples:] *= curve.astype(stems.dtype)
    return stems


def fold_loop(stems: np.ndarray, length: int) -> np.ndarray:
    """The first ``length`` samples with everything after them added back onto the start, as often as it wraps
    (in place: returns a view of ``stems``)."""
    out = stems[..., :length]
    for start in range(length, stems.shape[-1], length):
        piece = stems[..., start : start + length]
        out[..., : piece.shape[-1]] += piece
    return out


def ring_out_end(mix: np.ndarray, length: int, max_tail: int, floor: float) -> int:
    """Where a ring-out cue ends: after the last sample of the tail above ``floor`` (linear), within
    ``length`` … ``length + max_tail``."""
    tail = np.abs(mix[..., length : length + max_tail])
    if tail.ndim > 1:
        tail = tail.max(axis=0)
    loud = np.nonzero(tail > floor)[0]
    return length + (int(loud[-1]) + 1 if loud.size else 0)


def shape_ending(
    stems: np.ndarray,
    ending: Ending,
    length: int,
    *,
    declick_samples: int,
    fade_samples: int,
    max_tail: int,
    tail_floor: float,
) -> np.ndarray:
    """Apply ``ending`` to rendered ``stems`` (which must hold ``length + max_tail`` samples at least for
    ``ring_out`` and ``loop``), in place: the result is a view of ``stems``. ``tail_floor`` is linear, at the level
    the stems have now."""
    if stems.shape[-1] < length:
        raise ValueError(f"{stems.shape[-1]} samples rendered; the cue needs {length}")
    if ending == Ending.loop:
        return fold_loop(stems, length)
    if ending == Ending.ring_out:
        end = ring_out_end(stems[..., length:].sum(axis=0), 0, max_tail, tail_floor)
        return declick(stems[..., : length + end], declick_samples)
    shaped = stems[..., :length]
    if ending == Ending.fade:
        fade_out(shaped, fade_samples)
    return declick(shaped, declick_samples)
