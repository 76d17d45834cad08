"""How near a motif's rhythm is to the corpus's: the choice of which VAE decodes may become the motif.

The phrase VAE's greedy decodes from the prior hold fewer, longer notes than the phrases it was trained on (9.0
onsets per 32 steps, note lengths spread by 1.5 steps; real phrases 13.9 and 1.0), and the motif, half of every
phrase, carried that rhythm into every cue: the phrase critic's strongest cues are the onsets, the holds and the
spread of note lengths (bench/README.md, issue 15, fourth round). The latent space holds corpus-like rhythms too, so
the motif draws more latent points than it considers and keeps those whose rhythm the corpus finds likeliest:

- a note's **length** (16th steps, up to a bar) and its **place in the beat** (on it, or 1–3 sixteenths after) are
  scored by their log share among the corpus's notes (``CORPUS_RHYTHM``);
- a phrase's score is the mean over its notes, so a line of whole notes scores low and a line of eighths and
  sixteenths on and between the beats high, whatever the pitches.

Pure functions on plain values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cues.pipelines.music.melody_tokens import FIRST_NOTE, HOLD

UNSEEN = 1e-4  # share given to a length the corpus never holds (5, 7, 9 … sixteenths): rare, not impossible


@dataclass(frozen=True)
class RhythmShares:
    """Shares (0–1) of a corpus's notes by length and by where in the beat they start, in 16th steps."""

    lengths: dict[int, float]  # note length in steps (1–16; longer counts as 16) → share of notes
    in_beat: tuple[float, float, float, float]  # onset 0, 1, 2, 3 sixteenths after a beat → share of notes

    def log_share(self, start: int, length: int) -> float:
        return math.log(max(self.lengths.get(min(length, 16), 0.0), UNSEEN)) + math.log(self.in_beat[start % 4])


#: The 104,279 notes of the critic's 7,529 real training phrases (32-step bar-line windows of the folk-chorales
#: dataset v-1ee5675d23af's untransposed 4/4, 2/2 and 2/4 tunes; ``pipelines/train/critic.py``).
CORPUS_RHYTHM = RhythmShares(
    lengths={1: 0.3422, 2: 0.3961, 3: 0.0298, 4: 0.2013, 6: 0.0081, 8: 0.0186, 12: 0.0031, 16: 0.0007},
    in_beat=(0.5302, 0.0771, 0.2809, 0.1118),
)


def note_rhythm(tokens: list[int]) -> list[tuple[int, int]]:
    """(start step, length in steps) of each onset; a note lasts through its holds."""
    notes = []
    for start, token in enumerate(tokens):
        if token >= FIRST_NOTE:
            end = start + 1
            while end < len(tokens) and tokens[end] == HOLD:
                end += 1
            notes.append((start, end - start))
    return notes


def rhythm_score(tokens: list[int], shares: RhythmShares = CORPUS_RHYTHM) -> float:
    """Mean log share of the phrase's notes under ``shares`` (higher: more like the corpus); −inf without notes."""
    notes = note_rhythm(tokens)
    if not notes:
        return -math.inf
    return sum(shares.log_share(start, length) for start, length in notes) / len(notes)


def most_corpus_like(phrases: list[list[int]], count: int) -> list[list[int]]:
    """The ``count`` phrases of the most corpus-like rhythm, in their original order (a tie keeps the earlier)."""
    ranked = sorted(range(len(phrases)), key=lambda i: (-rhythm_score(phrases[i]), i))[:count]
    return [phrases[i] for i in sorted(ranked)]
