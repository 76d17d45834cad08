"""Phrase critic: a small 1-D CNN that tells real melodic phrases from generated ones (one logit, > 0 = "real").

It reads a phrase of melody tokens (``melody_tokens``: rest, hold, key-relative onsets) through five per-step inputs
that describe its shape rather than its register, so that the same tune an octave higher looks the same:

- *kind*: rest, hold or onset (a hold after a rest reads as a rest, as ``melody_tokens.decode`` does);
- *interval*: at an onset, the semitones from the previous onset in the phrase, clipped to ± ``max_interval``;
- *degree*: the sounding note's pitch class relative to the tonic (the scale degree), or silence;
- *contour*: the sounding note's distance from the phrase's median onset pitch, clipped to ± ``max_interval``;
- *metre*: the step's metrical level on the binary grid (bar of 4/4, half bar, beat, eighth, sixteenth).

Embedded, concatenated, then dilated convolutions and mean + max pooling over time. Pooling makes any length
readable, but the critic is trained on 32-step phrases that start on a bar line (``PhraseCriticConfig.steps``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from cues.pipelines.music.melody_tokens import FIRST_NOTE, HOLD
from cues.schemas.training import PhraseCriticConfig

KINDS = 3  # rest, hold, onset
DEGREES = 13  # twelve pitch classes and silence
METRE_LEVELS = 5


def phrase_inputs(tokens: torch.Tensor, max_interval: int) -> dict[str, torch.Tensor]:
    """Per-step index tensors (B, T) of the five inputs of the module docstring, from tokens (B, T)."""
    batch, steps = tokens.shape
    onset = tokens >= FIRST_NOTE  # (B, T)
    pitch = torch.where(onset, tokens - FIRST_NOTE, torch.full_like(tokens, -1))
    sounding = torch.full((batch,), -1, dtype=torch.long)
    previous = torch.full((batch,), -1, dtype=torch.long)
    kinds, intervals, pitches = [], [], []
    no_interval, first = 2 * max_interval + 1, 2 * max_interval + 2
    for t in range(steps):  # T is 32: a scan over steps, vectorised over the batch
        held = (tokens[:, t] == HOLD) & (sounding >= 0)
        sounding = torch.where(onset[:, t], pitch[:, t], torch.where(held, sounding, -1))
        kinds.append(torch.where(onset[:, t], 2, torch.where(held, 1, 0)))
        step = (pitch[:, t] - previous).clamp(-max_interval, max_interval) + max_interval
        intervals.append(torch.where(onset[:, t], torch.where(previous >= 0, step, first), no_interval))
        previous = torch.where(onset[:, t], pitch[:, t], previous)
        pitches.append(sounding)
    sounding_pitch = torch.stack(pitches, dim=1)  # (B, T), -1 where silent
    silent = sounding_pitch < 0
    onset_pitch = torch.where(onset, pitch.float(), torch.full_like(pitch, float("nan"), dtype=torch.float))
    median = torch.nan_to_num(onset_pitch.nanmedian(dim=1).values, nan=0.0).round().long()  # (B,)
    contour = (sounding_pitch - median[:, None]).clamp(-max_interval, max_interval) + max_interval
    position = torch.arange(steps)
    metre = sum((position % size == 0).long() for size in (2, 4, 8, 16))  # 0 (a 16th) .. 4 (a bar of 4/4)
    return {
        "kind": torch.stack(kinds, dim=1),
        "interval": torch.stack(intervals, dim=1),
        "degree": torch.where(silent, DEGREES - 1, sounding_pitch % 12),
        "contour": torch.where(silent, 2 * max_interval + 1, contour),
        "metre": metre.expand(batch, steps),
    }


class ConvBlock(nn.Module):
    """A dilated convolution with a residual connection (the phrase keeps its length)."""

    def __init__(self, channels: int, kernel: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, padding=dilation * (kernel // 2), dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.gelu(self.conv(x))  # (B, C, T)


class PhraseCritic(nn.Module):
    def __init__(self, config: PhraseCriticConfig):
        super().__init__()
        self.config = config
        e, span = config.embed, 2 * config.max_interval + 1
        self.kind = nn.Embedding(KINDS, e)
        self.interval = nn.Embedding(span + 2, e)  # the clipped intervals, "no onset", "first onset"
        self.degree = nn.Embedding(DEGREES, e)
        self.contour = nn.Embedding(span + 1, e)  # the clipped distances and silence
        self.metre = nn.Embedding(METRE_LEVELS, e)
        self.project = nn.Conv1d(5 * e, config.channels, 1)
        self.blocks = nn.ModuleList(ConvBlock(config.channels, config.kernel, d) for d in config.dilations)
        self.drop = nn.Dropout(config.dropout)  # on the pooled features only: per-step dropout costs a third of a step
        self.head = nn.Linear(2 * config.channels, 1)

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor | None = None, weights: torch.Tensor | None = None):
        """``(logits (B,), loss or None)`` for tokens (B, T); ``targets`` are 1 for real phrases, 0 for generated,
        ``weights`` per phrase (to balance the classes)."""
        return self.judge(phrase_inputs(tokens, self.config.max_interval), targets, weights)

    def judge(self, inputs: dict[str, torch.Tensor], targets=None, weights=None):
        """``forward`` from the phrases' inputs (``phrase_inputs``), which training computes once, not per epoch."""
        x = torch.cat([getattr(self, name)(index) for name, index in inputs.items()], dim=-1)  # (B, T, 5e)
        x = self.project(x.transpose(1, 2))  # (B, C, T)
        for block in self.blocks:
            x = block(x)
        pooled = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)  # (B, 2C)
        logits = self.head(self.drop(pooled)).squeeze(1)  # (B,)
        loss = None
        if targets is not None:
            loss = F.binary_cross_entropy_with_logits(logits, targets.float(), weight=weights)
        return logits, loss
