"""Harmony of a cue: chord slots on the plan's grid, filled by the chord LSTM under the key's and the form's rules.

A *slot* is a stretch of grid steps with one chord: ``1 / harmonic_rhythm`` bars long, never crossing a section
boundary, and split at every hit so that each hit is a chord change. The chord LSTM (trained on the Bach chorales,
one chord per beat) proposes each next chord; its distribution is masked to

- chords diatonic to the mode (triads on the seven degrees; in minor also the major V at cadences, the chorales'
  raised leading tone),
- a cadence at each section end: the last section ends V → I, or each mode's own cadence chord → I (a loop ends
  on it, the turnaround into its first I; a ``cut`` ends wherever the music is), inner sections end on it or I,
- the tonic at the start of the cue and of every ``A`` section, and a chord different from the last one at a hit.

Same letter ⇒ same chords: a section's chords are sampled from a generator seeded by the cue's seed and the
section's letter, so ``A`` and ``A'`` share a progression up to their own cadences.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cues.pipelines.compose.plan import choice
from cues.pipelines.models.features import MODES
from cues.pipelines.music.harmony import QUALITIES, chord_token, diatonic_triads, roman
from cues.schemas.brief import Ending
from cues.schemas.key import Mode
from cues.schemas.plan import Plan

MAJOR_LIKE = {Mode.major, Mode.lydian, Mode.mixolydian}
PHRASE_POSITIONS = 32  # the chord LSTM's clipped "beats since the cadence" embedding


@dataclass(frozen=True)
class Chord:
    """A chord relative to the key: root in semitones above the tonic, quality index into ``QUALITIES``."""

    root: int
    quality: int

    @property
    def token(self) -> int:
        return chord_token(self.root, self.quality)

    def pitch_classes(self, tonic: int) -> list[int]:
        """Pitch classes from the root up (root, third, fifth, seventh)."""
        return [(tonic + self.root + i) % 12 for i in QUALITIES[self.quality][1]]

    def numeral(self, mode: Mode) -> str:
        return roman(self.root, self.quality, mode)


#: The chord before the final tonic (and a loop's turnaround), per mode: V in major and (raised) minor, and each
#: mode's own cadence chord elsewhere, which keeps modal cues in their scale (root above the tonic, quality).
CADENCE_CHORD = {
    Mode.major: Chord(7, 0),  # V
    Mode.minor: Chord(7, 0),  # V with the raised leading tone, as the chorales cadence
    Mode.dorian: Chord(5, 0),  # IV, the dorian's major subdominant
    Mode.phrygian: Chord(1, 0),  # bII, the phrygian cadence
    Mode.lydian: Chord(2, 0),  # II, the lydian's major supertonic
    Mode.mixolydian: Chord(10, 0),  # bVII
}


@dataclass(frozen=True)
class Slot:
    """Steps ``start``..``end`` (exclusive) under one chord; ``section`` indexes ``Plan.sections``."""

    start: int
    end: int
    section: int
    chord: Chord


def diatonic_chords(mode: Mode) -> list[Chord]:
    """The seven diatonic triads of ``mode``, degree I first."""
    chords = []
    for _, tones, _ in diatonic_triads(0, mode):
        for root in tones:
            for quality, (_, intervals, _, _) in enumerate(QUALITIES[:4]):
                if {(root + i) % 12 for i in intervals} == tones:
                    chords.append(Chord(root, quality))
    return chords


def slot_bounds(plan: Plan) -> list[tuple[int, int, int]]:
    """(start, end, section index) of every chord slot."""
    length = round(plan.steps_per_bar / plan.harmonic_rhythm)
    hits = sorted({h.step for h in plan.hits})
    bounds = []
    for index, section in enumerate(plan.sections):
        start = section.start_bar * plan.steps_per_bar
        end = start + section.bars * plan.steps_per_bar
        cuts = set(range(start, end, length)) | {h for h in hits if start < h < end}
        edges = sorted(cuts) + [end]
        bounds += [(a, b, index) for a, b in zip(edges, edges[1:], strict=False)]
    return bounds


def progression(plan: Plan, chord_model, seed: int) -> list[Slot]:
    """The chord of every slot of the cue (see the module docstring)."""
    bounds = slot_bounds(plan)
    diatonic = diatonic_chords(plan.mode)
    tonic_chord, dominant = diatonic[0], CADENCE_CHORD[plan.mode]
    hit_steps = {h.step for h in plan.hits}
    mode_index = MODES.index("major" if plan.mode in MAJOR_LIKE else "minor")
    slots: list[Slot] = []
    for index, section in enumerate(plan.sections):
        section_bounds = [b for b in bounds if b[2] == index]
        generator = torch.Generator().manual_seed(_seed(seed, section.name))
        last_section = index == len(plan.sections) - 1
        previous = slots[-1].chord if slots else None
        state, since = None, 0
        token = (
            0  # every section starts its phrase afresh (no chord before it), so the same letter gets the same chords
        )
        for position, (start, end, _) in enumerate(section_bounds):
            allowed = list(diatonic)
            final = position == len(section_bounds) - 1
            if start == 0 or (position == 0 and section.name == "A"):
                allowed = [tonic_chord]
            elif final and last_section:
                allowed = {Ending.loop: [dominant], Ending.cut: allowed}.get(plan.ending, [tonic_chord])
            elif final:
                allowed = [dominant, tonic_chord]
            elif position == len(section_bounds) - 2 and last_section and plan.ending not in (Ending.loop, Ending.cut):
                allowed = [dominant]  # the penultimate chord of the cue prepares the final cadence
            if start in hit_steps and previous is not None and len(allowed) > 1:
                allowed = [c for c in allowed if c != previous] or allowed
            chord, state = _next_chord(chord_model, token, position, mode_index, since, allowed, state, generator)
            slots.append(Slot(start, end, index, chord))
            token = chord.token
            previous = chord
            since = 0 if final else since + 1
    return slots


def _seed(seed: int, name: str) -> int:
    return choice(range(2**31), seed, f"chords:{name}")


@torch.no_grad()
def _next_chord(model, previous: int, position: int, mode: int, since: int, allowed, state, generator):
    """One step of the chord LSTM, sampled among ``allowed`` chords (weights renormalised)."""
    batch = {
        "inputs": torch.tensor([[previous]]),
        "position": torch.tensor([[position % 4]]),
        "mode": torch.tensor([[mode]]),
        "phrase": torch.tensor([[min(since, PHRASE_POSITIONS - 1)]]),
    }
    logits, _, state = model(batch, state)
    if len(allowed) == 1:
        return allowed[0], state
    weights = torch.softmax(logits[0, -1], dim=-1)[[c.token for c in allowed]] + 1e-6
    pick = int(torch.multinomial(weights / weights.sum(), 1, generator=generator))
    return allowed[pick], state
