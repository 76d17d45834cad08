"""Mastering: one gain for every stem and the mix to reach the loudness target, and a true-peak limiter on the
mix only when that gain would break the ceiling.

The stems are never limited, so they always sum to the mix as it was before the limiter (``premix``). When the
common gain would push a stem past full scale (a limited mix peaks above it before the limiter), every stem is
lowered by the same ``stem_trim_db`` instead of being clipped in its fixed-point file; the stems then sum to the
premix times that trim, and the manifest says so. The limiter
is pedalboard's ``BrickwallLimiter`` with its 4× oversampled (true-peak) detector: a maintained library, not our
own. Limiting lowers the loudness a little, and its detector's oversampler is not the meter's, so the gain and
the limiter's ceiling are adjusted in a few passes (the gain by secant steps) until the mix measures within 0.1 LU
of the target and under the ceiling by our BS.1770-4 meter. Loops are limited as a ring (the end's limiting
carries into the start).

The stems arrive balanced: ``balance.py`` has already put the lead on top of the accompaniment, section by section,
by faders on the stems themselves; everything here is common to every stem, so the balance is what is delivered.

The stems rendered (one per role group) may be delivered gathered into fewer (``groups``: the brief's
``delivery.stems``). The mix is summed from the rendered stems before they are gathered, so it is the same for any
grouping, and the trim is decided on the gathered stems, the files that must not clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cues.pipelines.render.loudness import SILENCE, db, gated_loudness, integrated_loudness, step_powers, true_peak
from cues.pipelines.render.scratch import Scratch, abs_peak, blocks, scale, summed, zeros
from cues.schemas.errors import RenderError

LOUDNESS_TOLERANCE_LU = 0.1  # ours; delivery specs allow ±0.5 (EBU R128 ±1)
PEAK_MARGIN_DB = 0.05  # below the ceiling, so a meter with another oversampler still reads under ceiling + 0.1
MAX_PASSES = 8
GATE_STEPS = 4  # gain settled against the absolute gate at most this often (one or two steps in practice)
GATE_TOLERANCE_LU = 1e-4
# The gain search: each pass after the second moves the gain by the loudness still missing over the loudness the
# last step gained per dB (a secant). Adding the missing loudness as gain (render-4) converged by (1 − slope) a pass:
# where a dB of gain buys 0.3 LU, ten passes for 3 LU. The slope is kept between this and 1 (a limiter never gives
# more than the gain; past about 10 dB of reduction pedalboard's gives less loudness for more gain, and a step must
# not run off there: the test cue without FluidSynth's chorus peaked at −11.2 LUFS under −2 dBTP, however loud).
MIN_SLOPE = 0.25
RING_PAD_S = 0.5  # a loop is limited with this much of its end before it and of its start after it
STEM_CEILING = 10 ** (-0.1 / 20)  # sample peak a stem file may reach: 0.1 dB below full scale


@dataclass(frozen=True)
class LimiterReport:
    """What the limiter did: its final ceiling setting (dBTP), the largest gain reduction (dB, ≥ 0), passes."""

    engaged: bool
    ceiling_db: float | None = None
    max_gain_reduction_db: float = 0.0
    passes: int = 0


@dataclass
class Mastered:
    """Stems at the common gain, the premix (their sum) and the delivered mix (premix, limited if needed)."""

    stems: np.ndarray  # (stems, 2, samples) float32
    premix: np.ndarray  # (2, samples) float32: the sum of ``stems``
    mix: np.ndarray  # (2, samples) float32
    gain_db: float
    loudness_lufs: float  # of ``mix``
    true_peak_dbtp: float  # of ``mix``
    limiter: LimiterReport = field(default_factory=lambda: LimiterReport(False))
    stem_trim_db: float = 0.0  # ≤ 0: extra gain of every stem so none clips (stems sum to premix × this)


def master(
    stems: np.ndarray,
    rate: int,
    target_lufs: float,
    ceiling_dbtp: float,
    *,
    loop: bool = False,
    release_ms: float = 80.0,
    lookahead_ms: float = 5.0,
    groups: Sequence[Sequence[int]] | None = None,
    scratch: Scratch | None = None,
) -> Mastered:
    """Bring ``stems`` (stems, 2, samples) to ``target_lufs`` with one gain; limit the mix to ``ceiling_dbtp``.

    ``groups`` gathers the stems delivered: each the sum of the rendered stems at those indices (None: as
    rendered). ``stems`` is scaled in place when not gathered (it is the renderer's buffer; a copy would double a
    long cue's memory); gathered stems are a new, smaller array. The mix and gathered stems are files of
    ``scratch`` when one is given (``scratch.py``), and every pass over a whole signal goes in blocks."""
    raw_mix = summed(zeros(scratch, stems.shape[1:]), stems, range(stems.shape[0]))
    if groups is not None:
        gathered = zeros(scratch, (len(groups), *stems.shape[1:]))
        for index, members in enumerate(groups):
            summed(gathered[index], stems, members)
        stems = gathered
    powers = step_powers(raw_mix, rate)
    raw_loudness = gated_loudness(powers, rate)
    if raw_loudness == SILENCE:
        raise RenderError("the cue renders as silence (no note sounded); nothing to master")
    gain_db = target_lufs - raw_loudness
    for _ in range(GATE_STEPS):
        # BS.1770's absolute gate (-70 LUFS) is not scale-free: blocks of a quiet tail that it dropped at the raw
        # level count once the gain lifts them, so the gain is settled against the gated loudness at that gain
        # (a ring-out cue's file read 0.05 LU under its target before)
        missing = target_lufs - gated_loudness(powers, rate, gain_db)
        if abs(missing) < GATE_TOLERANCE_LU:
            break
        gain_db += missing
    raw_peak = true_peak(raw_mix, circular=loop)
    if db(raw_peak) + gain_db <= ceiling_dbtp - PEAK_MARGIN_DB:
        gain = np.float32(10.0 ** (gain_db / 20.0))
        trim_db = _stem_trim(stems, gain)
        scale(stems, gain * np.float32(10.0 ** (trim_db / 20.0)))
        mix = raw_mix
        scale(mix, gain)
        return Mastered(stems, mix, mix, gain_db, target_lufs, db(raw_peak) + gain_db, stem_trim_db=trim_db)

    limit_at = ceiling_dbtp - PEAK_MARGIN_DB
    passes = 0
    last: tuple[float, float] | None = None  # (gain dB, loudness LUFS) of the pass before
    premix = zeros(scratch, raw_mix.shape)
    while passes < MAX_PASSES:
        passes += 1
        gain = np.float32(10.0 ** (gain_db / 20.0))
        for part in blocks(raw_mix.shape[-1], raw_mix, premix):
            premix[:, part] = raw_mix[:, part] * gain
        # the limiter takes the whole signal (pedalboard's look-ahead): the one stage that holds a copy of the mix
        mix = _limit(premix, rate, limit_at, loop, release_ms, lookahead_ms)
        loudness = integrated_loudness(mix, rate)
        peak_db = db(true_peak(mix, circular=loop))
        loud_ok = abs(loudness - target_lufs) <= LOUDNESS_TOLERANCE_LU
        peak_ok = peak_db <= ceiling_dbtp - PEAK_MARGIN_DB + 1e-6
        if loud_ok and peak_ok:
            break
        if not peak_ok:
            limit_at -= peak_db - (ceiling_dbtp - PEAK_MARGIN_DB) + 0.01
        if not loud_ok:  # a secant step once two passes show how much of the gain the limiter lets through
            slope = 1.0
            if last is not None and gain_db != last[0]:
                slope = min(1.0, max(MIN_SLOPE, (loudness - last[1]) / (gain_db - last[0])))
            last = (gain_db, loudness)
            gain_db += (target_lufs - loudness) / slope
    else:
        raise RenderError(
            f"could not reach {target_lufs} LUFS under {ceiling_dbtp} dBTP in {MAX_PASSES} passes "
            f"(last: {loudness:.2f} LUFS, {peak_db:.2f} dBTP); lower the loudness target or raise the ceiling"
        )
    report = LimiterReport(True, round(limit_at, 3), _max_reduction_db(premix, mix, rate), passes)
    if scratch is not None:  # the limited mix back into a file, so encoding holds no copy of it
        limited, mix = mix, raw_mix  # the raw mix is not needed any more: its file takes the limited mix
        for part in blocks(limited.shape[-1], mix):
            mix[:, part] = limited[:, part]
        del limited
    trim_db = _stem_trim(stems, gain)
    scale(stems, gain * np.float32(10.0 ** (trim_db / 20.0)))
    return Mastered(stems, premix, mix, gain_db, loudness, peak_db, report, trim_db)


def _stem_trim(stems: np.ndarray, gain: float) -> float:
    """The common trim (dB, ≤ 0) that keeps every stem at ``gain`` under :data:`STEM_CEILING`."""
    peak = abs_peak(stems) * float(gain)
    return 20.0 * float(np.log10(STEM_CEILING / peak)) if peak > STEM_CEILING else 0.0


def _limit(audio: np.ndarray, rate: int, ceiling: float, ring: bool, release_ms: float, lookahead_ms: float):
    import pedalboard

    limiter = pedalboard.BrickwallLimiter(
        ceiling_db=ceiling, release_ms=release_ms, lookahead_ms=lookahead_ms, true_peak=True
    )
    if not ring:
        return limiter(audio, rate)
    pad = min(round(RING_PAD_S * rate), audio.shape[-1])
    wrapped = np.concatenate([audio[:, -pad:], audio, audio[:, :pad]], axis=1)
    return np.ascontiguousarray(limiter(wrapped, rate)[:, pad : pad + audio.shape[-1]])


def _max_reduction_db(before: np.ndarray, after: np.ndarray, rate: int) -> float:
    """Largest drop of the 10 ms peak level from before to after the limiter, in dB (0 if it never acted)."""
    window = max(1, rate // 100)
    n = before.shape[-1] // window * window
    largest = 0.0
    for part in blocks(n, before, after, size=window * max(1, (1 << 16) // window)):
        peak_before = np.abs(before[:, part]).reshape(-1, window).max(axis=-1)
        peak_after = np.abs(after[:, part]).reshape(-1, window).max(axis=-1)
        audible = peak_before > 1e-4
        if audible.any():
            largest = max(largest, float((peak_before[audible] / np.maximum(peak_after[audible], 1e-12)).max()))
    return round(max(0.0, 20.0 * float(np.log10(largest))), 2) if largest else 0.0


def limit_at_gain(
    audio: np.ndarray,
    rate: int,
    ceiling_dbtp: float,
    setting_db: float | None,
    *,
    loop: bool = False,
    release_ms: float = 80.0,
    lookahead_ms: float = 5.0,
) -> tuple[np.ndarray, LimiterReport, float]:
    """``audio`` already at its gain, kept under ``ceiling_dbtp`` without changing that gain: as is when it is
    under, else through the mix's limiter (``setting_db``: the ceiling setting the mix's limiter ended at, None
    when the mix was not limited), set lower in a few passes while our meter still reads it over. For a signal that
    must keep the mix's gain (an alternate mix), so its loudness is not brought back up. Returns the audio, what
    the limiter did and the audio's true peak (dBTP), measured once here."""
    limit_at = ceiling_dbtp - PEAK_MARGIN_DB
    peak_db = db(true_peak(audio, circular=loop))
    if peak_db <= limit_at + 1e-6:
        return audio, LimiterReport(False), peak_db
    setting = min(setting_db, limit_at) if setting_db is not None else limit_at
    for passes in range(1, MAX_PASSES + 1):
        limited = _limit(audio, rate, setting, loop, release_ms, lookahead_ms)
        peak_db = db(true_peak(limited, circular=loop))
        if peak_db <= limit_at + 1e-6:
            report = LimiterReport(True, round(setting, 3), _max_reduction_db(audio, limited, rate), passes)
            return limited, report, peak_db
        setting -= peak_db - limit_at + 0.01
    raise RenderError(f"could not keep a signal at the mix's gain under {ceiling_dbtp} dBTP in {MAX_PASSES} passes")
