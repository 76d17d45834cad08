"""The mix's one reverb space, as a mixing engineer sets it up: every stem's send summed into one bus, one reverb
(pedalboard's Freeverb), and its return shared out among the stems that feed it.

Why shared (issue 17, second round): a copy of the reverb per stem, each fed by its own send, cost 0.17 s of CPU
per stem and minute of a 60 s action cue, five copies 0.87 s of the mix's 1.2 s; one reverb costs one copy.

Where the return goes: the delivered stems must still sum to the mix (the null test) and each must carry its own
reverb (a stem soloed, an alternate without the lead, must not keep the lead's room). So the return is shared out
among the sending stems, sample by sample, in proportion to each stem's part in the room's energy at that moment:
its send's energy in steps of :data:`SHARE_STEP` samples convolved with the room's own energy decay (measured once
from its impulse response), the expected energy of that stem's reverb if it played alone in the room. The shares
sum to one wherever anything sends, so the stems' returns sum to the shared return to float rounding and the mix
carries the room exactly as one reverb gives it. Each stem's return is where its reverb is: it follows the stem's
notes and their decay, and a stem that has not sent for longer than the room rings gets none.

What the split cannot give: a stem's share is a slice of the one return, so where several stems sound at once it
carries a little of the others' reverb, and it is quieter than that stem's own reverb would be (the slices are one
signal, not uncorrelated reverbs: with n stems equally loud in a bar, a soloed stem's room reads 10·log10(n) dB
under its own, an alternate of k of them 20·log10(k/n) + 10·log10(n/k)). The full mix is exact.

A loop is played as a ring (``stem_mix.py``): the sends of its last seconds go into the room first, so its tail at
the start is the one the end leaves when the file repeats.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pedalboard
from scipy import signal

from cues.pipelines.render.scratch import blocks
from cues.schemas.stem_mix import ReverbSpace

SHARE_STEP = 1024  # samples per step of the shares (21 ms at 48 kHz: under the room's build-up; eased between steps)
DECAY_S = 16.0  # length of the impulse response measured: −120 dB takes 2 × RT60, ~7 s for the longest hall (0.86)
DECAY_FLOOR = 1e-12  # the decay's energy kept down to −120 dB of its first step (under a 24-bit file's step)
RESTING = 1e-6  # the room is passed over while nothing is sent and its return is 120 dB under the loudest bus


def reverb(space: ReverbSpace) -> pedalboard.Reverb:
    """A reverb of ``space``, all return (wet 1, dry 0)."""
    return pedalboard.Reverb(
        room_size=space.room_size, damping=space.damping, width=space.width, wet_level=1.0, dry_level=0.0
    )


@functools.lru_cache(maxsize=16)
def energy_decay(space: ReverbSpace, rate: int) -> np.ndarray:
    """The energy (both channels) of the room's impulse response in each :data:`SHARE_STEP`, from the impulse
    on, down to :data:`DECAY_FLOOR` of its largest step."""
    impulse = np.zeros((2, round(DECAY_S * rate) // SHARE_STEP * SHARE_STEP), dtype=np.float32)
    impulse[:, 0] = 1.0
    response = reverb(space)(impulse, rate).astype(np.float64)
    energy = (response**2).sum(axis=0).reshape(-1, SHARE_STEP).sum(axis=-1)
    audible = np.nonzero(energy >= energy.max() * DECAY_FLOOR)[0]
    return energy[: audible[-1] + 1]


def step_energies(placed: np.ndarray) -> np.ndarray:
    """Energy of the reverb's input (Freeverb hears left plus right) in each :data:`SHARE_STEP` of ``placed``
    (2, samples), the last step possibly partial."""
    mono = placed[0] + placed[1]
    whole = mono.size // SHARE_STEP * SHARE_STEP
    steps = mono[:whole].reshape(-1, SHARE_STEP)
    energies = np.einsum("ij,ij->i", steps, steps, dtype=np.float64)
    return np.append(energies, float(np.vdot(mono[whole:], mono[whole:]))) if whole < mono.size else energies


def shares(energies: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """Each stem's share of the return (stems, steps), summing to 1 over the stems at every step: its sends'
    energies (stems, steps) convolved with the room's ``decay``, over their sum. A step where nothing rings (the
    room's pre-delay, or longer than it rings after the last send) holds the shares of the step before (the first
    ringing step's before it), so the shares never jump where the return is silent."""
    expected = signal.lfilter(decay, [1.0], energies, axis=-1)
    total = expected.sum(axis=0)
    ringing = np.nonzero(total > 0)[0]
    if not ringing.size:
        return np.full(energies.shape, 1.0 / len(energies))
    held = np.where(total > 0, np.arange(total.size), ringing[0])
    held = np.maximum.accumulate(held)
    return expected[:, held] / total[held]


def play_room(
    stems: np.ndarray,
    sending: Sequence[int],
    gains: Sequence[float],
    energies: Sequence[np.ndarray],
    space: ReverbSpace,
    rate: int,
    history: Sequence[np.ndarray] | None = None,
    block: int = 8192,
) -> None:
    """Send ``stems[sending]`` (each (2, samples), float32) at ``gains`` (linear) into one reverb of ``space`` and
    add to each its share of the return, in place.

    ``energies``: each sending stem's :func:`step_energies` at gain 1; ``history``: for a loop, each sending
    stem's processed last seconds (2, pad), played into the room first (its return dropped)."""
    if not sending:
        return
    room = reverb(space)
    decay = energy_decay(space, rate)
    powers = np.array([np.asarray(e) * g * g for e, g in zip(energies, gains, strict=True)])
    pad_steps = 0
    if history is not None:
        pad = history[0].shape[-1]
        for start in range(0, pad, block):
            bus = sum(h[:, start : start + block] * np.float32(g) for h, g in zip(history, gains, strict=True))
            room.process(np.ascontiguousarray(bus, dtype=np.float32), rate, reset=False)
        warm = np.array([step_energies(h) * g * g for h, g in zip(history, gains, strict=True)])
        pad_steps = warm.shape[-1]
        powers = np.concatenate([warm, powers], axis=-1)
    # the weights eased linearly from one step's centre to the next: a block's samples are its steps' weights (and
    # one step either side, the ends held) times hat functions
    weights = shares(powers, decay)[:, pad_steps:]
    weights = np.pad(weights, ((0, 0), (1, block // SHARE_STEP + 1)), mode="edge").astype(np.float32)
    hats = _hats(block)
    gain = np.asarray(gains, dtype=np.float32)
    bus = np.empty((2, block), dtype=np.float32)
    loudest, resting = 0.0, history is None
    for part in blocks(stems.shape[-1], stems, size=block):
        length = part.stop - part.start
        bus[:, :length] = stems[sending[0], :, part] * gain[0]
        for index, g in zip(sending[1:], gain[1:], strict=True):
            bus[:, :length] += stems[index, :, part] * g
        sends = bool(bus[:, :length].any())
        if resting and not sends:
            continue
        returned = room.process(bus[:, :length], rate, reset=False)
        loudest = max(loudest, float(np.abs(bus[:, :length]).max()))
        resting = bool(np.abs(returned).max() < loudest * RESTING)
        first = part.start // SHARE_STEP
        eased = weights[:, first : first + hats.shape[0]] @ hats[:, :length]  # (sending, samples)
        for row, index in enumerate(sending):
            stems[index, :, part] += returned * eased[row]


@functools.lru_cache(maxsize=4)
def _hats(block: int) -> np.ndarray:
    """(steps + 2, block): the linear interpolation from the centres of a block's steps (and one either side) to
    its samples; every column sums to 1."""
    centres = (np.arange(block // SHARE_STEP + 2) - 1) * SHARE_STEP + SHARE_STEP / 2
    where = np.arange(block)
    return np.maximum(0.0, 1.0 - np.abs(where[None, :] - centres[:, None]) / SHARE_STEP).astype(np.float32)
