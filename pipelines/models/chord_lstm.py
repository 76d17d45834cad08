"""Chord LSTM: next-chord model over key-relative chord classes per beat, knowing the beat in the bar, the mode and
how far the phrase has gone since the last cadence."""

from __future__ import annotations

import torch
from torch import nn

from cues.pipelines.models.melody_lstm import masked_cross_entropy
from cues.schemas.training import ChordLSTMConfig


class ChordLSTM(nn.Module):
    def __init__(self, config: ChordLSTMConfig):
        super().__init__()
        self.config = config
        e = config.embed
        self.chord = nn.Embedding(config.vocab_size, e)
        self.position = nn.Embedding(config.max_beats_per_bar, e)
        self.mode = nn.Embedding(config.modes, e)
        self.phrase = nn.Embedding(config.max_phrase_beats, e)
        self.lstm = nn.LSTM(4 * e, config.hidden, config.layers, batch_first=True, dropout=config.dropout)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.vocab_size)

    def forward(self, batch: dict[str, torch.Tensor], state=None):
        x = torch.cat(
            [
                self.chord(batch["inputs"]),  # (B, T, e)
                self.position(batch["position"]),
                self.mode(batch["mode"]),
                self.phrase(batch["phrase"]),
            ],
            dim=-1,
        )  # (B, T, 4e)
        hidden, state = self.lstm(x, state)
        logits = self.head(self.drop(hidden))  # (B, T, V)
        loss = None
        if "targets" in batch:
            loss = masked_cross_entropy(logits, batch["targets"], batch.get("mask"))
        return logits, loss, state
