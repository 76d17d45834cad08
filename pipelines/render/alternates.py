"""Alternate mixes (``delivery.alternates``): the mix with some stems left out, at the mix's own gain.

An alternate is summed from the rendered role-group stems after the ending is shaped and before mastering, then
given the mix's mastering gain (:attr:`Mastered.gain_db`), the same gain every delivered stem has before its common
trim; so an alternate is the sum of its stems as delivered (divided by ``stem_trim_db``, when there is one) and cuts
against the full mix: laid over the stems it leaves out, it gives the premix back.

Decisions where the issue is silent:

- An alternate is never brought up to the loudness target: that would break the cut against the mix. If its
  true peak would pass ``delivery.true_peak`` (a subset of stems can peak higher than the whole, when stems cancel
  each other), it goes through the mix's limiter with the setting the mix's limiter ended at (the same release and
  look-ahead; the ceiling less :data:`~cues.pipelines.render.master.PEAK_MARGIN_DB` when the mix was not limited),
  lowered in a few passes until our meter reads it under: ``limit_at_gain`` in ``master.py``.
- Role groups the cue does not render (no note) are ``missing``; an alternate with nothing left is not delivered
  (``silent``), one that keeps every rendered stem is delivered and flagged ``equals_mix``.
- Summed in float32 from the rendered stems, like the mix, so an alternate of every stem is the premix exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cues.pipelines.render.master import LimiterReport, limit_at_gain
from cues.pipelines.render.scratch import Scratch, scale, summed, zeros


@dataclass(frozen=True)
class AlternateSum:
    """One alternate before mastering: the rendered stems it sums (render order), those it asks for that the cue
    does not render, and their raw sum (2, samples) float32; ``audio`` is None when nothing it keeps is rendered."""

    name: str
    kept: tuple[str, ...]
    missing: tuple[str, ...]
    audio: np.ndarray | None
    equals_mix: bool


@dataclass(frozen=True)
class MasteredAlternate:
    """An alternate at the mix's gain (limited if it had to be) and what it was made of."""

    name: str
    kept: tuple[str, ...]
    missing: tuple[str, ...]
    audio: np.ndarray | None  # (2, samples) float32; None: nothing it keeps sounds, so no file
    equals_mix: bool
    limiter: LimiterReport
    true_peak_dbtp: float | None = None  # of ``audio`` as delivered (None: no audio)

    @property
    def silent(self) -> bool:
        return self.audio is None

    def as_record(self) -> dict:
        """What the manifest's ``audio.alternates.<name>`` says (the file's numbers are in its file entry)."""
        return {
            "stems": list(self.kept),
            "missing": list(self.missing),
            "silent": self.silent,
            "equals_mix": self.equals_mix,
            "limited": self.limiter.engaged,
            "max_gain_reduction_db": self.limiter.max_gain_reduction_db,
        }


def sum_alternates(
    stems: np.ndarray,
    names: list[str],
    asked: tuple[tuple[str, tuple[str, ...]], ...],
    scratch: Scratch | None = None,
) -> list[AlternateSum]:
    """Each alternate ``asked`` (name → the role groups it keeps) summed from the rendered ``stems`` (stems, 2,
    samples), whose names are ``names``. Copies (files of ``scratch`` when given): ``stems`` is mastered in place
    afterwards."""
    index = {name: i for i, name in enumerate(names)}
    sums = []
    for name, groups in asked:
        kept = tuple(n for n in names if n in groups)
        missing = tuple(g for g in groups if g not in index)
        audio = summed(zeros(scratch, stems.shape[1:]), stems, [index[n] for n in kept]) if kept else None
        sums.append(AlternateSum(name, kept, missing, audio, len(kept) == len(names)))
    return sums


def master_alternates(
    sums: list[AlternateSum],
    gain_db: float,
    rate: int,
    ceiling_dbtp: float,
    mix_limiter: LimiterReport,
    *,
    loop: bool,
    release_ms: float,
    lookahead_ms: float,
) -> list[MasteredAlternate]:
    """Every alternate at the mix's gain ``gain_db``, under ``ceiling_dbtp`` (module docstring)."""
    gain = np.float32(10.0 ** (gain_db / 20.0))  # as master() computes it, so an alternate of every stem is the premix
    setting = mix_limiter.ceiling_db if mix_limiter.engaged else None
    mastered = []
    for alt in sums:
        audio, report, peak = None, LimiterReport(False), None
        if alt.audio is not None:
            scale(alt.audio, gain)  # the sum is the alternate's own
            audio, report, peak = limit_at_gain(
                alt.audio,
                rate,
                ceiling_dbtp,
                setting,
                loop=loop,
                release_ms=release_ms,
                lookahead_ms=lookahead_ms,
            )
        mastered.append(MasteredAlternate(alt.name, alt.kept, alt.missing, audio, alt.equals_mix, report, peak))
    return mastered
