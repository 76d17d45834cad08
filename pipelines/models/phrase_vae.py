"""Phrase VAE after MusicVAE: a bidirectional LSTM encoder → latent z (μ, σ) → autoregressive LSTM decoder.

Trained with KL annealing and free bits, and scheduled sampling (the decoder sometimes reads its own previous output
instead of the true token, so that sampling at generation time is not a different task). Supports encode, decode,
sample, interpolate and perturb — the operations the composer uses for motifs and A → A' variations.

New phrases are decoded from latent points drawn from :class:`LatentPrior`: the standard normal the KL term trains
against, until a prior is fitted after training (``pipelines/train/vae_prior.py``). The posteriors of real phrases
do not fill N(0, I) (with beta 0.2 and free bits their means spread by about 0.64 per dimension, each with its own
σ about 0.66), and the decoder, read at points between them, holds long notes: greedy decodes of N(0, I) points hold
9 onsets per 32 steps and 0.06 of their notes are sixteenths, the corpus's phrases 13 and 0.25–0.34.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from cues.schemas.training import PhraseVAEConfig

START = 0  # the decoder starts from a rest token


class PhraseEncoder(nn.Module):
    def __init__(self, config: PhraseVAEConfig):
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.embed)
        self.lstm = nn.LSTM(config.embed, config.encoder_hidden, batch_first=True, bidirectional=True)
        self.to_params = nn.Linear(2 * config.encoder_hidden, 2 * config.latent)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, (h, _) = self.lstm(self.embed(tokens))  # h: (2, B, H)
        mu, logvar = self.to_params(torch.cat([h[0], h[1]], dim=-1)).chunk(2, dim=-1)  # (B, Z) each
        return mu, logvar.clamp(-10, 10)


class PhraseDecoder(nn.Module):
    def __init__(self, config: PhraseVAEConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed)
        self.init_state = nn.Linear(config.latent, 2 * config.decoder_hidden)
        self.cell = nn.LSTMCell(config.embed + config.latent, config.decoder_hidden)
        self.head = nn.Linear(config.decoder_hidden, config.vocab_size)

    def _state(self, z: torch.Tensor):
        h, c = torch.tanh(self.init_state(z)).chunk(2, dim=-1)  # (B, H) each
        return h.contiguous(), c.contiguous()

    def forward(self, z: torch.Tensor, targets: torch.Tensor, sampling_rate: float = 0.0) -> torch.Tensor:
        """Logits (B, T, V) teacher-forced, except that each input is the model's own previous argmax with
        probability ``sampling_rate`` (scheduled sampling)."""
        batch, steps = targets.shape
        state = self._state(z)
        previous = torch.full((batch,), START, dtype=torch.long, device=z.device)
        outputs = []
        for t in range(steps):
            state = self.cell(torch.cat([self.embed(previous), z], dim=-1), state)
            logits = self.head(state[0])  # (B, V)
            outputs.append(logits)
            previous = targets[:, t]
            if sampling_rate > 0:
                own = logits.argmax(dim=-1)
                use_own = torch.rand(batch, device=z.device) < sampling_rate
                previous = torch.where(use_own, own, previous)
        return torch.stack(outputs, dim=1)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, steps: int, temperature: float = 0.0, generator=None) -> torch.Tensor:
        """Tokens (B, steps): greedy at temperature 0, else sampled."""
        state = self._state(z)
        previous = torch.full((z.size(0),), START, dtype=torch.long, device=z.device)
        tokens = []
        for _ in range(steps):
            state = self.cell(torch.cat([self.embed(previous), z], dim=-1), state)
            logits = self.head(state[0])
            if temperature > 0:
                probs = F.softmax(logits / temperature, dim=-1)
                previous = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            else:
                previous = logits.argmax(dim=-1)
            tokens.append(previous)
        return torch.stack(tokens, dim=1)


class LatentPrior(nn.Module):
    """Where new latent points are drawn: a mixture of K diagonal Gaussians over z (weights (K,), means and scales
    (K, Z)). Untouched it is N(0, I) (K = 1, mean 0, scale 1); fitted, its components cover the posteriors of real
    phrases. Buffers, not parameters: training never moves them, and their K follows the weights loaded."""

    NAMES = ("weights", "means", "scales")

    def __init__(self, latent: int):
        super().__init__()
        self.register_buffer("weights", torch.ones(1))  # (K,)
        self.register_buffer("means", torch.zeros(1, latent))  # (K, Z)
        self.register_buffer("scales", torch.ones(1, latent))  # (K, Z)

    @property
    def components(self) -> int:
        return len(self.weights)

    def set(self, weights: torch.Tensor, means: torch.Tensor, scales: torch.Tensor) -> None:
        """Replace the mixture: ``weights`` (K,) summing to 1, ``means`` and ``scales`` (K, Z), scales > 0."""
        if means.shape != scales.shape or means.shape[0] != len(weights) or means.shape[1] != self.means.shape[1]:
            raise ValueError(
                f"a prior of weights {tuple(weights.shape)}, means {tuple(means.shape)} and scales "
                f"{tuple(scales.shape)} does not fit a latent of {self.means.shape[1]}"
            )
        self.weights, self.means, self.scales = weights.float(), means.float(), scales.float()

    @torch.no_grad()
    def draw(self, count: int, generator=None) -> torch.Tensor:
        """``count`` latent points (count, Z). With one component no component is drawn, so N(0, I) draws exactly
        what ``torch.randn`` would from the same generator (a VAE without a fitted prior composes as before)."""
        if self.components == 1:
            component = torch.zeros(count, dtype=torch.long)
        else:
            component = torch.multinomial(self.weights, count, replacement=True, generator=generator)  # (count,)
        noise = torch.randn(count, self.means.shape[1], generator=generator)  # (count, Z)
        return self.means[component] + self.scales[component] * noise

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errors):
        keys = [prefix + name for name in self.NAMES]
        if not any(key in state_dict for key in keys):  # weights saved before priors existed: keep N(0, I)
            return
        for name, key in zip(self.NAMES, keys, strict=True):
            if key in state_dict:  # K is the loaded prior's, not the constructor's
                setattr(self, name, torch.empty_like(state_dict[key]))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errors)


class PhraseVAE(nn.Module):
    def __init__(self, config: PhraseVAEConfig):
        super().__init__()
        self.config = config
        self.encoder = PhraseEncoder(config)
        self.decoder = PhraseDecoder(config)
        self.prior = LatentPrior(config.latent)

    def forward(self, tokens: torch.Tensor, beta: float = 1.0, sampling_rate: float = 0.0):
        """``(logits, loss, stats)``: loss = reconstruction + beta × KL with free bits (nats per dimension)."""
        mu, logvar = self.encoder(tokens)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        logits = self.decoder(z, tokens, sampling_rate)  # (B, T, V)
        reconstruction = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tokens.reshape(-1))
        kl_per_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean(dim=0)  # (Z,)
        kl = torch.clamp(kl_per_dim, min=self.config.free_bits).sum() / tokens.size(1)  # per step, like the CE
        loss = reconstruction + beta * kl
        return logits, loss, {"reconstruction": reconstruction.detach(), "kl_per_dim": kl_per_dim.detach()}

    @torch.no_grad()
    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """The posterior means z (B, Z) of phrases (B, T)."""
        return self.encoder(tokens)[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor, temperature: float = 0.0, generator=None) -> torch.Tensor:
        return self.decoder.generate(z, self.config.steps, temperature, generator)

    @torch.no_grad()
    def sample(self, count: int, temperature: float = 0.0, generator=None) -> torch.Tensor:
        """``count`` new phrases (count, T), decoded from latent points drawn from the prior."""
        return self.decode(self.prior.draw(count, generator), temperature, generator)

    @torch.no_grad()
    def interpolate(self, a: torch.Tensor, b: torch.Tensor, count: int) -> torch.Tensor:
        """``count`` phrases from phrase ``a`` (T,) to phrase ``b`` (T,), by spherical interpolation of z."""
        za, zb = self.encode(torch.stack([a, b])).unbind(0)
        omega = torch.acos(torch.clamp(F.cosine_similarity(za, zb, dim=0), -1 + 1e-6, 1 - 1e-6))
        ts = torch.linspace(0, 1, count)
        zs = torch.stack([(torch.sin((1 - t) * omega) * za + torch.sin(t * omega) * zb) / torch.sin(omega) for t in ts])
        return self.decode(zs)

    @torch.no_grad()
    def perturb(self, phrase: torch.Tensor, scale: float = 0.5, generator=None) -> torch.Tensor:
        """A variation of ``phrase`` (T,): its z moved by Gaussian noise of ``scale`` standard deviations."""
        z = self.encode(phrase.unsqueeze(0))
        return self.decode(z + scale * torch.randn(z.shape, generator=generator))[0]
