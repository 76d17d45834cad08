"""How a rendered cue's level moves (issue 16): the level of each section, the jump at each hit, the lead against
its accompaniment, stems that never sound, and the loudness range, measured on the mastered arrays
(``CueRenderer.master_cue``).

**Level** here is BS.1770 loudness without gating: the K-weighted mean square of the span, summed over channels,
as ``-0.691 + 10 log10(·)`` LUFS. K-weighting, not plain RMS, because it is how the delivery meter (and a listener)
weighs the spectrum: a bass-heavy section has a high RMS and sounds no louder, and the mix is already mastered to
this meter. No gate, because the span is chosen by the plan and its quiet moments are part of what it measures (the
relative gate would drop exactly the quiet bars a build starts from). Spans are exact to the sample (a cumulative
sum of the weighted energy), so a hit is measured from its own sample, not from the nearest 100 ms step.

Decisions where the issue is silent:

- A silent span reads :data:`LEVEL_FLOOR_LUFS`, not −inf, so that differences stay finite.
- A hit's accent is the level of the :data:`HIT_AFTER_S` after it minus that of the :data:`HIT_BEFORE_S` before it:
  a second each side, so the hit must land (the ensemble louder for a beat or two, a tutti), not only flash. With
  400 ms after it (BS.1770's momentary window) a crash cymbal alone does it: on the 60 benchmark cues of the
  four fixed parts that reads +6.1 dB on average, already the issue's goal, against +4.7 dB over a second.
  Hits with less than that before or after them inside the cue are not measured.
- The loudness range is EBU Tech 3342's LRA (3 s short-term loudness every 100 ms, gated at −70 LUFS and 20 LU below
  their mean, 95th minus 10th percentile): the standard single number for a programme's dynamic range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from cues.pipelines.render.loudness import ABSOLUTE_GATE_LUFS, k_weighted, power_lufs, step_powers, window_powers

LEVEL_FLOOR_LUFS = -120.0  # level of a silent span
SILENT_STEM_DBFS = -90.0  # a stem whose sample peak stays below this delivers nothing audible (24-bit noise: −144)
HIT_BEFORE_S = 1.0  # the hit's approach, measured against …
HIT_AFTER_S = 1.0  # … its landing
SHORT_TERM_S = 3.0  # EBU Tech 3342's short-term window
RANGE_GATE_LU = -20.0  # EBU Tech 3342's relative gate
RANGE_PERCENTILES = (10.0, 95.0)


class LevelMeter:
    """The K-weighted energy of one signal (channels, samples) at ``rate``, cumulated, so the level of any span
    costs two look-ups."""

    def __init__(self, audio: np.ndarray, rate: int):
        weighted = k_weighted(audio, rate).astype(np.float64)
        energy = np.einsum("cs,cs->s", weighted, weighted)  # summed over channels, as BS.1770 weighs L and R
        self.cumulative = np.concatenate([[0.0], np.cumsum(energy)])
        self.rate = rate

    @property
    def duration_s(self) -> float:
        return (self.cumulative.size - 1) / self.rate

    def level(self, start_s: float, end_s: float) -> float:
        """Ungated loudness (LUFS) of ``[start_s, end_s)``, clipped to the signal; :data:`LEVEL_FLOOR_LUFS` when
        silent or empty."""
        last = self.cumulative.size - 1
        start = min(max(round(start_s * self.rate), 0), last)
        end = min(max(round(end_s * self.rate), 0), last)
        if end <= start:
            return LEVEL_FLOOR_LUFS
        return loudness_of((self.cumulative[end] - self.cumulative[start]) / (end - start))


def loudness_of(mean_square: float) -> float:
    """The level (LUFS) of a K-weighted mean square summed over channels; :data:`LEVEL_FLOOR_LUFS` for silence."""
    if mean_square <= 0:
        return LEVEL_FLOOR_LUFS
    return max(LEVEL_FLOOR_LUFS, float(power_lufs(mean_square)))


def span_levels(meter: LevelMeter, spans: Sequence[tuple[float, float]], until_s: float | None = None) -> list:
    """The level (LUFS) of each ``(start_s, end_s)`` span, cut at ``until_s`` (e.g. where a fade-out starts, whose
    falling level is the ending's and not the arrangement's); None for a span that lies wholly after it."""
    levels: list[float | None] = []
    for start, end in spans:
        end = min(end, until_s) if until_s is not None else end
        levels.append(meter.level(start, end) if end > start else None)
    return levels


def level_spread(levels: Sequence[float | None]) -> float | None:
    """Loudest minus quietest of the measured ``levels`` (dB); None with fewer than two."""
    measured = [level for level in levels if level is not None]
    return max(measured) - min(measured) if len(measured) >= 2 else None


def hit_accents(
    meter: LevelMeter, hits_s: Sequence[float], length_s: float, after_s: float = HIT_AFTER_S
) -> list[float | None]:
    """For each hit (seconds), the level of the ``after_s`` after it minus that of the :data:`HIT_BEFORE_S` before
    it, in dB; None for a hit too near the cue's start or end (``length_s``) to have both."""
    accents: list[float | None] = []
    for hit in hits_s:
        if hit - HIT_BEFORE_S < 0 or hit + after_s > length_s:
            accents.append(None)
            continue
        accents.append(meter.level(hit, hit + after_s) - meter.level(hit - HIT_BEFORE_S, hit))
    return accents


def lead_margins(
    stems: Mapping[str, LevelMeter],
    lead: str,
    spans: Sequence[tuple[float, float]],
    lead_plays: Sequence[bool],
) -> list[float | None]:
    """For each span where the lead plays, the lead stem's level minus the loudest other stem's (dB: ≥ 0, the lead
    is on top; −3 is the issue's bound); None where the lead is silent or there is no other stem."""
    others = [meter for name, meter in stems.items() if name != lead]
    margins: list[float | None] = []
    for (start, end), plays in zip(spans, lead_plays, strict=True):
        if not plays or not others:
            margins.append(None)
            continue
        margins.append(stems[lead].level(start, end) - max(meter.level(start, end) for meter in others))
    return margins


def silent_stems(stems: Mapping[str, np.ndarray]) -> list[str]:
    """The names of the stems (arrays of any shape) whose sample peak stays below :data:`SILENT_STEM_DBFS`."""
    threshold = 10.0 ** (SILENT_STEM_DBFS / 20.0)
    return [name for name, audio in stems.items() if not np.size(audio) or float(np.abs(audio).max()) < threshold]


def loudness_range(audio: np.ndarray, rate: int) -> float | None:
    """EBU Tech 3342 loudness range (LU) of ``audio`` (channels, samples); None if shorter than one short-term
    window or silent."""
    energy = window_powers(step_powers(audio, rate), rate, SHORT_TERM_S)
    if not energy.size:
        return None
    short_term = power_lufs(energy)
    above = short_term >= ABSOLUTE_GATE_LUFS
    if not above.any():
        return None
    gate = power_lufs(energy[above].mean()) + RANGE_GATE_LU
    kept = short_term[above & (short_term >= gate)]
    low, high = np.percentile(kept, RANGE_PERCENTILES)
    return float(high - low)
