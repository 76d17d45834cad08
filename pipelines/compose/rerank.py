"""Reranking candidate phrases with the phrase critic (``pipelines/models/phrase_critic.py``).

Where the melody chooses among candidate phrases (the VAE motif's candidates, the LSTM's two-bar options), each
candidate's own fit score gets ``CRITIC_WEIGHT`` × the critic's logit added (how much more real than generated the
critic finds it, in nats of odds). The melody's own score (``phrase_choice.terms``: chord tones on beats ×2, in key
×2, density, the mood's leaps and repeats, direction, variety, development) spans a few points between candidates.
The shipped critic's logits on generated phrases are confident: mean about -3.8, sd 3.8, and the candidates of one
slot span about 8.4 nats (its card, ``shipped_logits``). At weight 0.15 that span is worth about 1.3 points of the
melody's score: the critic decides between candidates that fit about equally well (a third of the beats on chord
tones is a point), but cannot make an out-of-scale or far too sparse phrase win. Re-check the weight against the
card after retraining the critic.

Pure: the same phrases and critic give the same scores. One batched forward pass per choice, without gradients:
about 3 ms of CPU for eight 32-step candidates on one thread (the card's ``reranking_cost``), so a choice per section
motif — a handful per minute of music — costs a few hundredths of the composer's 1 CPU s per 60 s.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

CRITIC_WEIGHT = 0.15  # per nat of the critic's logit, added to the melody's own candidate score
CRITIC_STEPS = 32  # the phrase length the critic is trained on: two bars of 4/4, four of 2/4


@torch.no_grad()
def critic_logits(critic: torch.nn.Module, phrases: Sequence[Sequence[int]]) -> list[float]:
    """The critic's logit "real" for each phrase (token lists of one length; 32 steps is what it is trained on)."""
    if not phrases:
        return []
    lengths = {len(p) for p in phrases}
    if len(lengths) != 1:
        raise ValueError(f"candidate phrases must have one length to be compared, got lengths {sorted(lengths)}")
    logits, _ = critic(torch.tensor([list(p) for p in phrases], dtype=torch.long))
    return [float(x) for x in logits]


def reranked_scores(
    own_scores: Sequence[float],
    phrases: Sequence[Sequence[int]],
    critic: torch.nn.Module | None,
    weight: float = CRITIC_WEIGHT,
) -> list[float]:
    """Each candidate's own score plus ``weight`` × the critic's logit; the own scores alone without a critic."""
    if len(own_scores) != len(phrases):
        raise ValueError(f"{len(own_scores)} scores for {len(phrases)} phrases")
    if critic is None:
        return list(own_scores)
    return [s + weight * logit for s, logit in zip(own_scores, critic_logits(critic, phrases), strict=True)]
