"""The lead on top: a mixing rule that levels the lead stem against its accompaniment, section by section.

Whatever the stem set, one stem is the *lead* (the tune) and every other stem, drums included, is accompaniment.
After the mix (``stem_mix.py``: what is delivered is what is levelled) and before the ending is shaped and the cue
mastered, the renderer measures each stem's level in every section of the
plan (ungated K-weighted loudness over the section, as ``dynamics.LevelMeter`` reads it: the delivery meter's
weighting, so a bass-heavy stem does not pass for loud) and moves two faders per section:

- where the lead plays and its level minus the loudest accompaniment stem's (the *margin*) lies outside
  ``[-band + guard, band - guard]`` (−2…+2 dB by default), the margin is brought to the nearest edge of that window:
  a buried lead comes up, a lead that shouts over a thin accompaniment comes down; inside it nothing moves;
- the move is split between the lead fader and one common accompaniment fader so that the section keeps its level
  (the stems' energies summed, as if uncorrelated): the arrangement's dynamic arc is the arrangement's, not the
  mix's. Each fader has its limits (``BalanceConfig``); where one is reached the other takes the rest of the move,
  because the margin comes first; where both are, the margin is as near as the limits allow;
- where the lead is silent its fader holds the value of the section before (the first playing section's, before
  it), so its reverb does not jump, and the accompaniment's returns to 0 dB.

A fader changes at a section boundary along a raised-cosine ramp of ``ramp_s`` centred on the boundary (shortened
to half the shorter of the two sections): no clicks, and the rest of each section at its own gain. The gains are
applied to the stems themselves, in place, before the ending is shaped, so the delivered stems are the balanced
stems and still sum to the (pre-limiter) mix; a loop is folded before the mix, so its tail, folded onto its start,
takes the first section's gain there. The loudness gain and the limiter come after, on the balanced mix.

Decisions where the issue is silent:

- *Where the lead plays* is where one of its notes sounds inside the section (a note-on before the section's end
  and its note-off after its start), read from the MIDI the synth plays; the benchmark counts sections the same way.
- The guard (1 dB inside the issue's ±3 dB) absorbs what the rule does not model: the ramps, a loop's folded tail,
  and the correlation of stems.
- A cue with no lead stem, or only a lead, is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cues.pipelines.render.dynamics import LEVEL_FLOOR_LUFS, loudness_of
from cues.pipelines.render.loudness import k_weighted_blocks
from cues.pipelines.render.render_threads import in_order
from cues.pipelines.render.scratch import scale
from cues.schemas.config import BalanceConfig


@dataclass(frozen=True)
class SectionBalance:
    """The faders of one section (dB) and the lead's margin over the loudest accompaniment stem before and after
    (dB; None where the lead is silent or there is no accompaniment)."""

    lead_db: float
    accompaniment_db: float
    margin_db: float | None
    balanced_margin_db: float | None

    def as_record(self) -> dict:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(float(value), 2)

        return {
            "lead_db": round(float(self.lead_db), 2),
            "accompaniment_db": round(float(self.accompaniment_db), 2),
            "margin_db": rounded(self.margin_db),
            "balanced_margin_db": rounded(self.balanced_margin_db),
        }


def section_levels(
    stems: np.ndarray, rate: int, spans: Sequence[tuple[int, int]], run: Callable[..., list] = in_order
) -> np.ndarray:
    """Level (LUFS, ungated K-weighted: ``dynamics.LevelMeter``'s) of every stem of ``stems`` (stems, channels,
    samples) in every span of samples ``[start, end)``: an array (stems, spans). Each span's energy is one dot
    product per channel of the weighted signal (a third of the meter's cumulative sums' time; float32 products
    summed by BLAS: 0.001 dB from float64). The weighting runs in blocks with its state carried, so no weighted
    copy of a whole stem is held (``scratch.py``). ``run(work, items)`` measures the stems (``RenderThreads.map``:
    side by side)."""
    return np.array(run(lambda audio: _stem_levels(audio, rate, spans), list(stems))).reshape(len(stems), len(spans))


def _stem_levels(audio: np.ndarray, rate: int, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """:func:`section_levels` of one stem (channels, samples)."""
    levels, energies = np.empty(len(spans)), np.zeros(len(spans))
    for part, weighted in k_weighted_blocks(audio, rate):
        for section, (start, end) in enumerate(spans):
            first, last = max(start, part.start), min(end, part.stop)
            if last > first:
                piece = weighted[:, first - part.start : last - part.start]
                energies[section] += sum(float(np.dot(channel, channel)) for channel in piece)
    for section, (start, end) in enumerate(spans):
        end = min(end, audio.shape[-1])
        levels[section] = loudness_of(energies[section] / (end - start)) if end > start else LEVEL_FLOOR_LUFS
    return levels


def section_faders(
    levels: np.ndarray, lead: int, lead_plays: Sequence[bool], config: BalanceConfig
) -> list[SectionBalance]:
    """The lead's and the accompaniment's fader in each section (module docstring), from the stems' ``levels``
    (stems, sections; LUFS) and whether the lead plays in each section."""
    accompaniment = np.delete(levels, lead, axis=0)
    balances: list[SectionBalance | None] = []
    for section, plays in enumerate(lead_plays):
        lead_level = levels[lead, section]
        if not plays or not accompaniment.size or lead_level <= LEVEL_FLOOR_LUFS:
            balances.append(None)
            continue
        others = accompaniment[:, section]
        margin = float(lead_level - others.max())
        if others.max() <= LEVEL_FLOOR_LUFS:
            balances.append(SectionBalance(0.0, 0.0, None, None))
            continue
        lead_db, accompaniment_db = _faders(lead_level, others, config)
        balances.append(SectionBalance(lead_db, accompaniment_db, margin, margin + lead_db - accompaniment_db))
    return _hold_lead(balances)


def _faders(lead_level: float, others: np.ndarray, config: BalanceConfig) -> tuple[float, float]:
    """(lead dB, accompaniment dB) that bring the margin into the window and keep the section's energy."""
    margin = lead_level - others.max()
    low, high = -config.band_db + config.guard_db, config.band_db - config.guard_db
    if low <= margin <= high:
        return 0.0, 0.0
    target = low if margin < low else high
    energy = 10.0 ** (np.concatenate([[lead_level], others]) / 10.0)
    ratio = 10.0 ** (target / 10.0)  # lead energy over the loudest accompaniment stem's, after
    accompaniment_gain = energy.sum() / (ratio * energy[1:].max() + energy[1:].sum())
    accompaniment_db = _clip(10.0 * np.log10(accompaniment_gain), config.accompaniment_range_db)
    lead_db = _clip(target - margin + accompaniment_db, config.lead_range_db)
    accompaniment_db = _clip(margin + lead_db - target, config.accompaniment_range_db)  # the margin comes first
    return float(lead_db), float(accompaniment_db)


def _clip(value: float, limits: tuple[float, float]) -> float:
    return float(min(max(value, limits[0]), limits[1]))


def _hold_lead(balances: list[SectionBalance | None]) -> list[SectionBalance]:
    """Sections where the lead is silent keep the lead fader of the section before (of the first playing section
    before any), with the accompaniment at 0 dB."""
    playing = [b.lead_db for b in balances if b is not None]
    held = playing[0] if playing else 0.0
    result = []
    for balance in balances:
        if balance is None:
            result.append(SectionBalance(held, 0.0, None, None))
        else:
            held = balance.lead_db
            result.append(balance)
    return result


def apply_faders(
    stems: np.ndarray,
    rate: int,
    spans: Sequence[tuple[int, int]],
    lead: int,
    balances: Sequence[SectionBalance],
    ramp_s: float,
) -> None:
    """Scale ``stems`` (stems, channels, samples) in place: the lead by its fader and every other stem by the
    accompaniment's, constant inside a section and along a raised-cosine ramp across each boundary. Samples before
    the first span take its gains, samples after the last span (a tail) the last one's."""
    for index in range(stems.shape[0]):
        gains = [b.lead_db if index == lead else b.accompaniment_db for b in balances]
        if any(g != 0.0 for g in gains):
            _apply_curve(stems[index], rate, spans, gains, ramp_s)


def _apply_curve(audio: np.ndarray, rate: int, spans: Sequence[tuple[int, int]], gains_db, ramp_s: float) -> None:
    gains = [10.0 ** (g / 20.0) for g in gains_db]
    length = audio.shape[-1]
    # boundaries between spans: the ramp around each, as (start, end) samples
    ramps = []
    for k in range(1, len(spans)):
        boundary = spans[k][0]
        shorter = min(spans[k - 1][1] - spans[k - 1][0], spans[k][1] - spans[k][0])
        half = min(round(ramp_s * rate / 2), shorter // 2)
        ramps.append((max(0, boundary - half), min(length, boundary + half)))
    cursor = 0
    for k, gain in enumerate(gains):
        end = ramps[k][0] if k < len(ramps) else length
        if end > cursor and gain != 1.0:
            scale(audio, np.float32(gain), cursor, end)
        if k < len(ramps):
            start, stop = ramps[k]
            if stop > start:
                shape = 0.5 - 0.5 * np.cos(np.pi * (np.arange(stop - start) + 0.5) / (stop - start))
                curve = gain + (gains[k + 1] - gain) * shape
                audio[..., start:stop] *= curve.astype(audio.dtype)
            cursor = max(cursor, stop)
        else:
            cursor = max(cursor, end)


def balance_stems(
    stems: np.ndarray,
    rate: int,
    spans: Sequence[tuple[int, int]],
    lead: int | None,
    lead_plays: Sequence[bool],
    config: BalanceConfig,
    run: Callable[..., list] = in_order,
) -> list[SectionBalance]:
    """Measure, decide and apply the rule (module docstring) to ``stems`` in place; the faders of each section
    (empty when there is no lead, no accompaniment or no section). ``run``: as :func:`section_levels`'."""
    if lead is None or stems.shape[0] < 2 or not spans:
        return []
    levels = section_levels(stems, rate, spans, run)
    balances = section_faders(levels, lead, lead_plays, config)
    apply_faders(stems, rate, spans, lead, balances, config.ramp_s)
    return balances
