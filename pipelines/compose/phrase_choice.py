"""The choice among candidate phrases: the one place where a melody's candidates (token lists) are scored.

Every candidate gets a sum of named terms, so another judge (the phrase critic's rerank score) adds one more term:

- ``chord``: share of onsets on a beat that are tones of the chord sounding there (×2);
- ``key``: share of onsets the mode allows at their step (the scale; minor's raised 6th and 7th over V) (×2);
- ``density``: minus the relative distance of the onset count from the mood's and the section's target;
- ``leap``, ``repeat``: minus the distance of the mean interval and of the repeated-note share from the mood's
  melodic style (``schemas/mood_table.yaml``: ``melody_style``);
- ``direction``: minus the share of direction changes beyond ``DIRECTION_CHANGES`` (real tunes run on in one
  direction: about a third of their intervals turn back; sampled lines zigzag) (×6);
- ``variety``: minus a point for a line of fewer than three pitches, two for one bar looped over and over;
- ``development``: a bonus for candidates that develop the motif (repetition, sequence …), so they win unless a
  fresh continuation fits the chords and the style clearly better;
- ``critic``: with a phrase critic in the model bundle, ``rerank.CRITIC_WEIGHT`` × its logit "real" for candidates of
  the 32 steps it judges (two bars of 4/4, four of 2/4), batched in one pass per choice (``rerank.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cues.pipelines.compose.line_fit import Harmony
from cues.pipelines.compose.rerank import CRITIC_STEPS, reranked_scores
from cues.pipelines.music.melody_tokens import FIRST_NOTE, token_pitch
from cues.schemas.mood_table import MelodyStyle

DEVELOPMENT_BONUS = 0.6
TOO_SPARSE = -1e9
DIRECTION_CHANGES = 0.3  # share of successive moving intervals that turn back, above which a line zigzags
DIRECTION_WEIGHT = 6.0  # points per unit of turn share above it


@dataclass(frozen=True)
class Judge:
    """What a phrase is judged against: the harmony, the cue step of the candidates' first token, the bar length,
    the target onsets per step, and the mood's melodic style."""

    harmony: Harmony
    offset: int
    steps_per_bar: int
    density: float
    style: MelodyStyle
    critic: torch.nn.Module | None = None


def target_interval(style: MelodyStyle) -> float:
    """The mean melodic interval (semitones) a style aims at: 1.4 for a line that only steps, 4.2 for free leaps."""
    return 1.4 + 2.8 * style.leap


def terms(tokens: list[int], judge: Judge, developed: bool = False) -> dict[str, float]:
    """The named score terms of one candidate (see the module docstring)."""
    onsets = [(i, token_pitch(t, 0)) for i, t in enumerate(tokens) if t >= FIRST_NOTE]
    target = judge.density * len(tokens)
    if len(onsets) < max(2, target / 3):  # a phrase of one or two long notes is not a motif
        return {"sparse": TOO_SPARSE + len(onsets)}
    harmony, beat = judge.harmony, judge.harmony.steps_per_beat
    beats = [(i, r) for i, r in onsets if i % beat == 0]
    chord = sum(r % 12 in harmony.at(judge.offset + i) for i, r in beats) / len(beats) if beats else 0.0
    key = sum(r % 12 in harmony.legal(judge.offset + i) for i, r in onsets) / len(onsets)
    pitches = [r for _, r in onsets]
    intervals = [abs(b - a) for a, b in zip(pitches, pitches[1:], strict=False)]
    mean_interval = sum(intervals) / len(intervals)
    repeats = sum(i == 0 for i in intervals) / len(intervals)
    moves = [b - a for a, b in zip(pitches, pitches[1:], strict=False) if b != a]
    turns = sum((x > 0) != (y > 0) for x, y in zip(moves, moves[1:], strict=False)) / max(1, len(moves) - 1)
    return {
        "chord": 2 * chord,
        "key": 2 * key,
        "density": -abs(len(onsets) - target) / max(target, 1),
        "leap": -abs(mean_interval - target_interval(judge.style)),
        "repeat": -2 * abs(repeats - judge.style.repeat),
        "direction": -DIRECTION_WEIGHT * max(0.0, turns - DIRECTION_CHANGES),
        "variety": -(len(set(pitches)) < 3) - 2 * _one_bar_loop(tokens, judge.steps_per_bar),
        "development": DEVELOPMENT_BONUS if developed else 0.0,
    }


def score(tokens: list[int], judge: Judge, developed: bool = False) -> float:
    return sum(terms(tokens, judge, developed).values())


def choose(candidates: list[list[int]], judge: Judge, developed: list[bool] | None = None) -> int:
    """Index of the best candidate (the first among equals)."""
    developed = developed or [False] * len(candidates)
    scores = [score(c, judge, d) for c, d in zip(candidates, developed, strict=True)]
    if judge.critic is not None and {len(c) for c in candidates} == {CRITIC_STEPS}:
        scores = reranked_scores(scores, candidates, judge.critic)
    return max(range(len(candidates)), key=lambda i: (scores[i], -i))


def _one_bar_loop(tokens: list[int], steps_per_bar: int) -> bool:
    """Every bar the same as the first (two bars at least): the LSTM's lookback feeding on itself."""
    bars = [tokens[i : i + steps_per_bar] for i in range(0, len(tokens) - steps_per_bar + 1, steps_per_bar)]
    return len(bars) >= 2 and all(bar == bars[0] for bar in bars[1:])
