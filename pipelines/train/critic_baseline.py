"""The phrase critic's baseline: logistic regression on hand-made features of a phrase's shape.

The features are the figures issue 15 measures melodies by (interval sizes, repeated notes, direction changes,
rhythm on the grid, scale degrees), all independent of register; the baseline says how much of what the CNN
finds is already visible in them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from cues.pipelines.music.melody_tokens import FIRST_NOTE, HOLD

FEATURES = 28


def hand_features(tokens: Sequence[int]) -> np.ndarray:
    """``FEATURES`` numbers describing one phrase (shares in 0..1, sizes in semitones or grid steps)."""
    steps = len(tokens)
    onsets = [(i, t - FIRST_NOTE) for i, t in enumerate(tokens) if t >= FIRST_NOTE]
    pitches = [p for _, p in onsets]
    starts = [i for i, _ in onsets]
    durations = []
    for index, start in enumerate(starts):
        end = start + 1
        while end < steps and tokens[end] == HOLD and (index + 1 == len(starts) or end < starts[index + 1]):
            end += 1
        durations.append(end - start)
    intervals = np.diff(pitches) if len(pitches) > 1 else np.zeros(1)
    moves = intervals[intervals != 0]
    turns = np.sum(np.sign(moves[1:]) != np.sign(moves[:-1])) / max(len(moves) - 1, 1) if len(moves) > 1 else 0.0
    size = np.abs(intervals)
    degrees = np.bincount([p % 12 for p in pitches], minlength=12) / max(len(pitches), 1)
    count = max(len(onsets), 1)
    return np.array(
        [
            len(onsets) / steps,
            sum(t == 0 for t in tokens) / steps,
            sum(t == HOLD for t in tokens) / steps,
            size.mean(),
            size.max(),
            np.mean(size == 0),
            np.mean((size >= 1) & (size <= 2)),
            np.mean(size >= 5),
            turns,
            (max(pitches) - min(pitches)) if pitches else 0.0,
            len(set(pitches)) / count,
            sum(s % 4 == 0 for s in starts) / count,
            sum(s % 2 == 1 for s in starts) / count,
            np.mean(durations) if durations else 0.0,
            np.std(durations) if durations else 0.0,
            max(durations, default=0),
            *degrees,
        ],
        dtype=np.float32,
    )


class LogisticBaseline:
    """Standardised hand features → logistic regression (L2), fitted full-batch with L-BFGS; deterministic."""

    def __init__(self, l2: float = 1e-3):
        self.l2 = l2
        self.mean = self.scale = self.weights = None

    def _design(self, phrases: Sequence[Sequence[int]]) -> torch.Tensor:
        return torch.as_tensor(np.stack([hand_features(p) for p in phrases]))

    def fit(self, real: Sequence[Sequence[int]], fake: Sequence[Sequence[int]]) -> LogisticBaseline:
        x = self._design([*real, *fake])
        y = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])
        balance = torch.cat([torch.full((len(real),), 0.5 / len(real)), torch.full((len(fake),), 0.5 / len(fake))])
        self.mean, self.scale = x.mean(0), x.std(0).clamp_min(1e-6)
        x = (x - self.mean) / self.scale
        weights = torch.zeros(x.size(1) + 1, requires_grad=True)
        optimizer = torch.optim.LBFGS([weights], max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            logits = x @ weights[:-1] + weights[-1]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, weight=balance, reduction="sum")
            loss = loss + self.l2 * weights[:-1].pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        self.weights = weights.detach()
        return self

    def logits(self, phrases: Sequence[Sequence[int]]) -> torch.Tensor:
        x = (self._design(phrases) - self.mean) / self.scale
        return x @ self.weights[:-1] + self.weights[-1]
