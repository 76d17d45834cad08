"""Melody LSTM: next-token model over key-relative melody tokens, conditioned on what the composer plans.

Inputs per step: the previous token, the position in the bar, the mode, the bar's chord, the bar's note density and
register (the attributes moods drive), and — MelodyRNN's lookback — the tokens one and two bars back.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from cues.schemas.training import MelodyLSTMConfig


class MelodyLSTM(nn.Module):
    def __init__(self, config: MelodyLSTMConfig):
        super().__init__()
        self.config = config
        e = config.embed
        self.token = nn.Embedding(config.vocab_size, e)  # shared by the input and lookback tokens
        self.position = nn.Embedding(config.max_steps_per_bar, e)
        self.mode = nn.Embedding(config.modes, e)
        self.chord = nn.Embedding(config.chords, e)
        self.attributes = nn.Linear(2, e)  # bar density and register, normalised
        width = e * (7 if config.lookback else 5)
        self.lstm = nn.LSTM(width, config.hidden, config.layers, batch_first=True, dropout=config.dropout)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.vocab_size)

    def embed(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [
            self.token(batch["inputs"]),  # (B, T, e)
            self.position(batch["position"]),
            self.mode(batch["mode"]),
            self.chord(batch["chord"]),
            self.attributes(torch.stack([batch["density"], batch["register"]], dim=-1)),
        ]
        if self.config.lookback:
            parts += [self.token(batch["back1"]), self.token(batch["back2"])]
        return torch.cat(parts, dim=-1)  # (B, T, 7e)

    def forward(self, batch: dict[str, torch.Tensor], state=None):
        """``(logits (B, T, V), loss or None, state)``; the loss is masked cross-entropy when targets are given."""
        hidden, state = self.lstm(self.embed(batch), state)  # (B, T, H)
        logits = self.head(self.drop(hidden))  # (B, T, V)
        loss = None
        if "targets" in batch:
            loss = masked_cross_entropy(logits, batch["targets"], batch.get("mask"))
        return logits, loss, state


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean cross-entropy over the steps where ``mask`` is 1 (all steps without a mask)."""
    losses = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="none")
    if mask is None:
        return losses.mean()
    mask = mask.reshape(-1)
    return (losses * mask).sum() / mask.sum().clamp(min=1.0)


@torch.no_grad()
def sample_melody(
    model: MelodyLSTM,
    steps: int,
    *,
    steps_per_bar: int = 16,
    mode: int = 0,
    chords: list[int] | None = None,
    density: float = 0.5,
    register: float = 0.0,
    temperature: float = 1.0,
    seed: int = 0,
) -> list[int]:
    """Roll the model out for ``steps`` grid steps from silence; ``chords`` gives a chord index per bar."""
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    tokens: list[int] = []
    state = None
    previous = 0
    for step in range(steps):
        bar = step // steps_per_bar

        back = [tokens[step - n * steps_per_bar] if step >= n * steps_per_bar else 0 for n in (1, 2)]
        batch = {
            "inputs": torch.tensor([[previous]]),
            "position": torch.tensor([[min(step % steps_per_bar, model.config.max_steps_per_bar - 1)]]),
            "mode": torch.tensor([[mode]]),
            "chord": torch.tensor([[chords[bar % len(chords)] if chords else 0]]),
            "density": torch.tensor([[density]]),
            "register": torch.tensor([[register]]),
            "back1": torch.tensor([[back[0]]]),
            "back2": torch.tensor([[back[1]]]),
        }
        logits, _, state = model(batch, state)
        logits = logits[0, -1]
        if temperature > 0:
            previous = int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator))
        else:
            previous = int(logits.argmax())
        tokens.append(previous)
    return tokens
