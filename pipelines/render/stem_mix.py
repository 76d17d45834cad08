"""The mix: each rendered stem through its own channel strip (EQ, compressor, width and pan) and a send into one
shared reverb space (``room.py``), before the balance puts the lead on top, the ending is shaped and the cue
mastered (``CueRenderer.master_cue``). The balance comes after the mix, not before, because it must level what is
delivered: applied before, the reverb sends and compressors moved a lead back to 4.2 dB under its accompaniment,
outside the rule's ±3 dB.

Settings are typed data (``schemas/stem_mix.yaml``): a strip per stem by its role group, the lead's strip for the
stem that carries the tune, and a space by the cue's mood. Processing is pedalboard's (JUCE's filters, compressor
and Freeverb): a maintained library, not our own DSP.

The room is one reverb fed by every stem's send, as on a mixing desk; its return is shared out among the stems
that feed it by each one's part in the room's energy, so the stems still sum to the mix and each carries its own
reverb (``room.py`` says how, and what a share cannot give). Until ``render-5`` each stem had a copy of the reverb
of its own: exact per stem, and five times the cost (0.87 s of the mix's 1.2 s per minute of an action cue).

Order, and why:

1. The stem's RMS level over the cue is measured (the compressor's threshold is relative to it, so a strip acts
   the same on any soundfont's level: FluidR3 renders 8 dB quieter than TimGM6mb at one gain).
2. High-pass, shelves and peak, then the compressor (pedalboard, streamed block by block with ``reset=False``).
3. Centring (each channel's energy made equal: the preset's own pan undone), width (mid/side) and pan
   (constant-power balance): a fixed 2 × 2 matrix.
4. Make-up: one gain restores the stem's RMS after EQ and compressor (measured on their output as it streams), so
   the arrangement's levels keep their meaning and the balance has little to move; EQ and compression change the
   colour and the dynamics, not the level.
5. The sends (a copy of each placed stem at its ``send_db``) summed through the room; each stem's share of the
   return is added to it.
6. The seat: the stem as delivered, its share of the room in it, moved to its pan's balance (``seat``).

A loop is processed as a ring, as ``master.py`` limits it: its strip first runs over the loop's last
:data:`RING_PAD_S` (its output kept only as the room's history), then over the loop, so the compressor's state
and the reverb's tail at the start are those the end leaves when the file repeats: the reverb of the last bar
sounds under the first. A loop is folded (``endings.fold_loop``) before it is processed, so what the strips hear
is what repeats. Other endings are processed with the render's tail, before the ending is shaped: a ring-out keeps
its reverb tail, a fade fades it.

Every step works on blocks of :data:`BLOCK` samples in place in the renderer's buffer (no copy of a stem), with
the plugins streaming (``reset=False``) between blocks; only the RMS, the make-up and the seat need the whole stem
(cheap passes), which a renderer working in blocks does as measure-then-apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pedalboard

from cues.pipelines.render.room import play_room, step_energies
from cues.pipelines.render.scratch import blocks, scale
from cues.schemas.stem_mix import StemMix, StemTreatment

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


def stem_treatments(names: list[str], settings: StemMix, lead: str | None) -> list[tuple[str, StemTreatment]]:
    """(treatment name, treatment) of each stem of ``names``; ``lead`` is the stem carrying the tune."""
    return [settings.treatment(name, lead=name == lead) for name in names]


def mix_stems(
    stems: np.ndarray,
    rate: int,
    names: list[str],
    settings: StemMix,
    *,
    lead: str | None = None,
    mood: str | None = None,
    ring: bool = False,
    channels: list[StripChannel] | None = None,
) -> list[StemStrip]:
    """Run every stem of ``stems`` (stems, 2, samples; float32) through its strip, the sends through the room
    (``room.py``), and seat each stem, in place.

    ``names`` are the stems' names (their treatment), ``lead`` the one carrying the tune, ``mood`` picks the space;
    ``ring``: the audio is a loop (processed as a ring); ``channels``: every stem's :func:`strip` when they have
    been run already (each as its stem was rendered: ``CueRenderer``), else they are run here. Returns what was done
    to each stem, in order."""
    space = settings.space_for(mood)
    treatments = stem_treatments(names, settings, lead)
    if channels is None:
        channels = [strip(stems[i], rate, treatment, ring) for i, (_, treatment) in enumerate(treatments)]
    sending = [i for i, (_, t) in enumerate(treatments) if t.send_db is not None and channels[i].energies is not None]
    play_room(
        stems,
        sending,
        [10 ** (treatments[i][1].send_db / 20) for i in sending],
        [channels[i].energies for i in sending],
        space,
        rate,
        history=[channels[i].history for i in sending] if ring else None,
        block=BLOCK,
    )
    strips = []
    for index, (name, (treatment_name, treatment)) in enumerate(zip(names, treatments, strict=True)):
        stem = stems[index]
        if channels[index].energies is not None:  # the stem as delivered, its share of the room in it, seated
            scale(stem, seat(treatment.pan, _level(stem)[2]).astype(np.float32)[:, None])
        makeup = channels[index].makeup
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


@dataclass
class StripChannel:
    """A stem after its strip: the make-up applied (linear), its sends' energies per share step at that level
    (None: a quiet stem, left as it was), and for a loop its last seconds as processed (the room's history)."""

    makeup: float
    energies: np.ndarray | None = None
    history: np.ndarray | None = None


def strip(stem: np.ndarray, rate: int, treatment: StemTreatment, ring: bool) -> StripChannel:
    """One stem (2, samples) through its EQ, compressor and placement, in place, in one pass of blocks, then its
    make-up. The make-up restores the stem's RMS after EQ and compressor, measured on their output. It needs only
    its own stem, so the stems' strips may run in parallel threads."""
    samples = stem.shape[-1]
    level, peak, sides = _level(stem)
    if level < QUIET_RMS or not samples:
        return StripChannel(1.0)
    chain = strip_plugins(treatment, 20 * np.log10(level))
    matrix = placement(treatment.pan, treatment.width, sides)
    quiet = np.float32(peak * RESTING)
    resting = False  # the last block's output had died away

    def process(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the block after EQ and compressor, the block placed), streaming; a silent block after a block whose
        output had died away is passed over (silence out), not processed."""
        nonlocal resting
        if resting and not block.any():
            return block, block
        dry = chain.process(np.ascontiguousarray(block), rate, reset=False)
        placed = matrix @ dry
        resting = bool(np.abs(placed).max() < quiet)
        return dry, placed

    history = None
    if ring:  # the loop's end first: the compressor's state at the start, and the room's tail, are the end's
        pad = round(RING_PAD_S * rate)
        end = stem[:, -pad:] if samples >= pad else np.tile(stem, (1, -(-pad // samples)))[:, -pad:]
        history = np.concatenate([process(end[:, start : start + BLOCK])[1] for start in range(0, pad, BLOCK)], axis=1)
    energy, energies = 0.0, []
    for part in blocks(samples, stem, size=BLOCK):
        block = stem[:, part]
        dry, placed = process(block)
        energy += float(np.vdot(dry, dry))
        energies.append(step_energies(placed))
        block[:] = placed
    processed = float(np.sqrt(energy / stem.size))
    makeup = level / processed if processed > QUIET_RMS else 1.0
    scale(stem, np.float32(makeup))
    if history is not None:
        history *= np.float32(makeup)
    return StripChannel(makeup, np.concatenate(energies) * makeup**2, history)


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
