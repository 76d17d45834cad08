"""The n-gram baseline every model is judged against, on the same token splits.

An order-n model with add-k smoothing that backs off to the longest context seen in training (up to ``order - 1``
tokens), as used for the corpus figures in the models' cards. Pure Python: counts in dicts.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass
class NGramModel:
    """Counts of next tokens after every context of length 0 .. order-1."""

    order: int
    vocab_size: int
    k: float = 0.1  # add-k smoothing
    counts: dict[tuple[int, ...], Counter] = field(default_factory=lambda: defaultdict(Counter))

    def fit(self, sequences: Iterable[Sequence[int]]) -> NGramModel:
        for sequence in sequences:
            for i, token in enumerate(sequence):
                for n in range(self.order):
                    if i - n < 0:
                        break
                    self.counts[tuple(sequence[i - n : i])][token] += 1
        return self

    def _context(self, history: Sequence[int]) -> Counter:
        for n in range(min(self.order - 1, len(history)), -1, -1):
            context = tuple(history[len(history) - n :]) if n else ()
            if context in self.counts:
                return self.counts[context]
        return Counter()

    def probability(self, history: Sequence[int], token: int) -> float:
        counter = self._context(history)
        total = sum(counter.values())
        return (counter[token] + self.k) / (total + self.k * self.vocab_size)

    def predict(self, history: Sequence[int]) -> int:
        counter = self._context(history)
        return counter.most_common(1)[0][0] if counter else 0


@dataclass(frozen=True)
class SequenceScores:
    """Held-out scores: perplexity per token, accuracy on all steps and on steps whose target is a note onset."""

    perplexity: float
    accuracy: float
    onset_accuracy: float
    tokens: int

    def as_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def evaluate_ngram(model: NGramModel, sequences: Iterable[Sequence[int]], first_onset_token: int) -> SequenceScores:
    """Score next-token prediction from the second token of each sequence on (the first has no history)."""
    log_loss, hits, onset_hits, onsets, total = 0.0, 0, 0, 0, 0
    for sequence in sequences:
        for i in range(1, len(sequence)):
            history, target = sequence[max(0, i - model.order + 1) : i], sequence[i]
            log_loss -= math.log(model.probability(history, target))
            correct = model.predict(history) == target
            hits += correct
            total += 1
            if target >= first_onset_token:
                onsets += 1
                onset_hits += correct
    return SequenceScores(
        perplexity=math.exp(log_loss / max(total, 1)),
        accuracy=hits / max(total, 1),
        onset_accuracy=onset_hits / max(onsets, 1),
        tokens=total,
    )
