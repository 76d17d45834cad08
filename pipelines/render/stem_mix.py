"""The mix: each rendered stem through its own channel strip (EQ, compressor, width and pan) and a send into one
reverb space, before the balance puts the lead on top, the ending is shaped and the cue mastered
(``CueRenderer.master_cue``). The balance comes after the mix, not before, because it must level what is delivered:
applied before, the reverb sends and compressors moved a lead back to 4.2 dB under its accompaniment, outside the
rule's ±3 dB.

Settings are typed data (``schemas/stem_mix.yaml``): a strip per stem by its role group, the lead's strip for the
stem that carries the tune, and a space by the cue's mood. Processing is pedalboard's (JUCE's filters, compressor
and Freeverb): a maintained library, not our own DSP.

Why each stem has its own reverb: the stems delivered must still sum to the mix before the limiter (the null test,
≤ −90 dBFS). One shared reverb bus would be a part of the mix that belongs to no stem. The reverb is linear and
time-invariant, so a copy of it per stem, every copy with identical settings and fed by that stem's send, returns
exactly the share of the shared bus that the stem's send causes; the returns sum to what one shared reverb fed by
all sends returns (to float rounding), and each stem carries its own reverb, as a mixer's printed stems do.

Order in a strip, and why:

1. The stem's RMS level over the cue is measured (the compressor's threshold is relative to it, so a strip acts
   the same on any soundfont's level: FluidR3 renders 8 dB quieter than TimGM6mb at one gain).
2. High-pass, shelves and peak, then the compressor (pedalboard, streamed block by block with ``reset=False``).
3. Centring (each channel's energy made equal: the preset's own pan undone), width (mid/side) and pan
   (constant-power balance): a fixed 2 × 2 matrix.
4. The send (a copy at ``send_db``) through the stem's reverb; the return is added to the stem.
5. Make-up: one gain restores the stem's RMS after EQ and compressor (measured on their output as it streams,
   applied to the stem and its return last), so the arrangement's levels keep their meaning and the balance has
   little to move; EQ and compression change the colour and the dynamics, not the level.

A loop is processed as a ring, as ``master.py`` limits it: its strip first runs over the loop's last
:data:`RING_PAD_S` (its output dropped), then over the loop, so the compressor's state and the reverb's tail at the
start are those the end leaves when the file repeats: the reverb of the last bar sounds under the first. A loop is
folded (``endings.fold_loop``) before it is processed, so what the strips hear is what repeats. Other endings are
processed with the render's tail, before the ending is shaped: a ring-out keeps its reverb tail, a fade fades it.

Every step works on blocks of :data:`BLOCK` samples in place in the renderer's buffer (no copy of a stem), with
the plugins streaming (``reset=False``) between blocks; only the RMS and the make-up need the whole stem (two
cheap passes), which a renderer working in blocks can do as measure-then-apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pedalboard

from cues.pipelines.render.scratch import blocks, scale
from cues.schemas.stem_mix import ReverbSpace, StemMix, StemTreatment

BLOCK = 8192  # samples per processing block: pedalboard's own buffer size (1 << 16 cost 1.5× the CPU: cache)
RING_PAD_S = 3.0  # a loop's history: its end processed before its start (the default halls decay 60 dB in ~3 s)
QUIET_RMS = 1e-7  # a stem below this RMS (−140 dBFS) is left as it is: no level to compress or restore
# A block of silence is passed over once the strip's output has fallen 120 dB below the stem's peak (its filters'
# ringing and reverb tail gone, under a 24-bit file's step): the blocks where a stem rests (measured on a 60 s action
# cue: strings 48 %, keys 69 %, effects 84 % of them) then cost nothing. Deterministic: it depends on the audio only.
RESTING = 1e-6
# A stem is centred before it is seated: a preset's own pan (a dreamy lead sat 2.3 dB left with FluidR3) is
# corrected by up to this much per channel, so ``pan`` is the seat whatever the soundfont does.
MAX_CENTRING_DB = 6.0


@dataclass(frozen=True)
class StemStrip:
    """What the mix did to one rendered stem, for the manifest: its treatment, place, send and make-up (dB)."""

    stem: str
    treatment: str
    pan: float
    width: float
    send_db: float | None
    makeup_db: float

    def as_record(self) -> dict:
        return {
            "treatment": self.treatment,
            "pan": self.pan,
            "width": self.width,
            "send_db": self.send_db,
            "makeup_db": round(float(self.makeup_db), 2),
        }


def mix_stems(
    stems: np.ndarray,
    rate: int,
    names: list[str],
    settings: StemMix,
    *,
    lead: str | None = None,
    mood: str | None = None,
    ring: bool = False,
) -> list[StemStrip]:
    """Run every stem of ``stems`` (stems, 2, samples; float32) through its strip and reverb send, in place.

    ``names`` are the stems' names (their treatment), ``lead`` the one carrying the tune, ``mood`` picks the space;
    ``ring``: the audio is a loop (processed as a ring). Returns what was done to each stem, in order."""
    space = settings.space_for(mood)
    strips = []
    for index, name in enumerate(names):
        treatment_name, treatment = settings.treatment(name, lead=name == lead)
        makeup = _process(stems[index], rate, treatment, space, ring)
        strips.append(
            StemStrip(name, treatment_name, treatment.pan, treatment.width, treatment.send_db, 20 * np.log10(makeup))
        )
    return strips


def strip_plugins(treatment: StemTreatment, level_db: float) -> pedalboard.Pedalboard:
    """The EQ and compressor of ``treatment`` for a stem whose RMS level is ``level_db`` (dBFS)."""
    plugins: list[pedalboard.Plugin] = []
    if treatment.highpass_hz is not None:
        plugins.append(pedalboard.HighpassFilter(cutoff_frequency_hz=treatment.highpass_hz))
    if treatment.low_shelf is not None:
        shelf = treatment.low_shelf
        plugins.append(pedalboard.LowShelfFilter(cutoff_frequency_hz=shelf.hz, gain_db=shelf.gain_db))
    if treatment.peak is not None:
        peak = treatment.peak
        plugins.append(pedalboard.PeakFilter(cutoff_frequency_hz=peak.hz, gain_db=peak.gain_db, q=peak.q))
    if treatment.high_shelf is not None:
        shelf = treatment.high_shelf
        plugins.append(pedalboard.HighShelfFilter(cutoff_frequency_hz=shelf.hz, gain_db=shelf.gain_db))
    if treatment.compressor is not None:
        c = treatment.compressor
        plugins.append(
            pedalboard.Compressor(
                threshold_db=level_db + c.threshold_db, ratio=c.ratio, attack_ms=c.attack_ms, release_ms=c.release_ms
            )
        )
    return pedalboard.Pedalboard(plugins)


def reverb(space: ReverbSpace) -> pedalboard.Reverb:
    """A reverb of ``space``, all return (wet 1, dry 0): one per stem, identical in every stem."""
    return pedalboard.Reverb(
        room_size=space.room_size, damping=space.damping, width=space.width, wet_level=1.0, dry_level=0.0
    )


def placement(pan: float, width: float, sides: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """The 2 × 2 matrix (out L/R × in L/R) that centres a stereo stem whose channels carry ``sides`` energy (the
    preset's own pan, corrected by :data:`MAX_CENTRING_DB` at most), sets its width (mid/side) and then its pan
    (constant-power balance: 0 centred, ±1 all in one side at +3 dB)."""
    left, right = (max(energy, 1e-30) for energy in sides)
    limit = 10 ** (MAX_CENTRING_DB / 20)
    centre = np.diag(np.clip(np.sqrt([(left + right) / 2 / left, (left + right) / 2 / right]), 1 / limit, limit))
    side = np.array([[1 + width, 1 - width], [1 - width, 1 + width]]) / 2  # M + wS, M - wS
    angle = (pan + 1) * np.pi / 4
    balance = np.diag([np.sqrt(2) * np.cos(angle), np.sqrt(2) * np.sin(angle)])
    return (balance @ side @ centre).astype(np.float32)


def _process(stem: np.ndarray, rate: int, treatment: StemTreatment, space: ReverbSpace, ring: bool) -> float:
    """One stem (2, samples) through its strip and send, in place, in one pass of blocks; returns the make-up gain
    (linear). The make-up is applied last, to the placed stem and its return alike: both are linear in it."""
    samples = stem.shape[-1]
    level, peak, sides = _level(stem)
    if level < QUIET_RMS or not samples:
        return 1.0
    chain = strip_plugins(treatment, 20 * np.log10(level))
    matrix = placement(treatment.pan, treatment.width, sides)
    room = reverb(space) if treatment.send_db is not None else None
    send = np.float32(10 ** ((treatment.send_db or 0.0) / 20))

    quiet = np.float32(peak * RESTING)
    resting = False  # the last block's output had died away

    def strip(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the block after EQ and compressor, the block placed with its reverb return), streaming; a silent block
        after a block whose output had died away is passed over (silence out), not processed."""
        nonlocal resting
        if resting and not block.any():
            return block, block
        dry = chain.process(np.ascontiguousarray(block), rate, reset=False)
        placed = matrix @ dry
        if room is not None:
            placed += room.process(placed * send, rate, reset=False)
        resting = bool(np.abs(placed).max() < quiet)
        return dry, placed

    if ring:  # the loop's end first: the compressor's state and the reverb's tail at the start are the end's
        pad = round(RING_PAD_S * rate)
        history = stem[:, -pad:] if samples >= pad else np.tile(stem, (1, -(-pad // samples)))[:, -pad:]
        for start in range(0, pad, BLOCK):
            strip(history[:, start : start + BLOCK])
    energy, sides = 0.0, np.zeros(2)
    for part in blocks(samples, stem, size=BLOCK):
        block = stem[:, part]
        dry, placed = strip(block)
        energy += float(np.vdot(dry, dry))
        sides += [float(np.vdot(placed[0], placed[0])), float(np.vdot(placed[1], placed[1]))]
        block[:] = placed
    processed = float(np.sqrt(energy / stem.size))
    makeup = level / processed if processed > QUIET_RMS else 1.0
    scale(stem, (seat(treatment.pan, sides) * makeup).astype(np.float32)[:, None])
    return makeup


def seat(pan: float, sides: np.ndarray) -> np.ndarray:
    """Gains of the left and right channels that move a placed stem whose channels carry ``sides`` energy to the
    constant-power balance of ``pan``, its energy kept: the reverb's return is not quite centred (Freeverb's left and
    right combs differ: a dreamy lead's return sat 2.1 dB left), and the seat is of the stem as delivered."""
    left, right = (max(float(energy), 1e-30) for energy in sides)
    angle = (pan + 1) * np.pi / 4
    share = np.array([np.cos(angle) ** 2, np.sin(angle) ** 2])  # of the energy, each side, sums to 1
    gains = np.sqrt(share * (left + right) / np.array([left, right]))
    limit = 10 ** (MAX_CENTRING_DB / 20)
    return np.clip(gains, 1 / limit, limit)


def _level(stem: np.ndarray) -> tuple[float, float, tuple[float, float]]:
    """RMS and sample peak of a stereo stem over both channels, and each channel's energy, in blocks (no float64
    copy of the whole stem)."""
    left, right, peak = 0.0, 0.0, 0.0
    for part in blocks(stem.shape[-1], stem, size=BLOCK):
        block = stem[:, part]
        left += float(np.vdot(block[0], block[0]))
        right += float(np.vdot(block[1], block[1]))
        peak = max(peak, float(np.abs(block).max()))
    return float(np.sqrt((left + right) / max(stem.size, 1))), peak, (left, right)
