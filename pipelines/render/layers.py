"""Vertical layers of a game cue as audio: each layer the sum of its rendered stems, at the mix's mastering gain.

Which stems a layer sums is the composer's decision (``pipelines/compose/layers.py``); here they are summed from
the stems as rendered, balanced and ending-shaped (a loop's tail already folded onto its start, so every layer loops
as the mix does), before mastering scales the stems in place. Every stem is in one layer, and the layers take the
mix's one gain, so they sum to the premix (the mix before the limiter) as the stems do: played together in a game
engine at unity they are the cue.

A layer sums several stems, so it may peak higher than any of them: when the common gain would push one past full
scale in its file, every layer is lowered by the same ``trim_db`` (as ``master.py`` trims the stems), recorded in the
manifest; the layers then sum to the premix times that trim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cues.pipelines.render.master import STEM_CEILING
from cues.pipelines.render.scratch import Scratch, abs_peak, scale, summed, zeros
from cues.schemas.errors import RenderError


@dataclass
class LayerAudio:
    """The layers of one cue: names (quietest first), the stems each sums, and the audio (layers, 2, samples)
    float32 at the mix's gain and ``trim_db``."""

    names: tuple[str, ...]
    stems: tuple[tuple[str, ...], ...]
    audio: np.ndarray
    trim_db: float = 0.0


def sum_layers(
    stems: np.ndarray,
    stem_names: Sequence[str],
    layers: Sequence[tuple[str, Sequence[str]]],
    scratch: Scratch | None = None,
) -> LayerAudio:
    """The raw layers (before mastering) of rendered ``stems`` (stems, 2, samples) named ``stem_names``: each layer
    of ``layers`` (name, its stems' names) the float32 sum of its stems; a layer of no stem is silence."""
    index = {name: i for i, name in enumerate(stem_names)}
    unknown = sorted({s for _, members in layers for s in members} - set(index))
    if unknown:
        raise RenderError(f"the layers name stems the cue does not render: {', '.join(unknown)}")
    audio = zeros(scratch, (len(layers), *stems.shape[1:]))
    for k, (_, members) in enumerate(layers):
        summed(audio[k], stems, [index[name] for name in members])
    return LayerAudio(tuple(n for n, _ in layers), tuple(tuple(m) for _, m in layers), audio)


def master_layers(layers: LayerAudio, gain_db: float) -> LayerAudio:
    """``layers`` at the mastering gain ``gain_db`` (the mix's, as ``master.py`` applies it), trimmed together so
    no layer's samples pass :data:`~cues.pipelines.render.master.STEM_CEILING` (in place; returns ``layers``)."""
    gain = np.float32(10.0 ** (gain_db / 20.0))
    peak = abs_peak(layers.audio) * float(gain)
    trim_db = 20.0 * float(np.log10(STEM_CEILING / peak)) if peak > STEM_CEILING else 0.0
    scale(layers.audio, gain * np.float32(10.0 ** (trim_db / 20.0)))
    layers.trim_db = trim_db
    return layers
