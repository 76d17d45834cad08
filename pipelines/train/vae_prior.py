"""``cues train --model vae-prior``: a trained phrase VAE's latent prior fitted to real phrases, and its card.

The composer draws its motifs' latent points from the VAE's prior (``phrase_vae.LatentPrior``). Trained against
N(0, I) with beta 0.2 and free bits, the VAE's posteriors do not fill it, and its greedy decodes of N(0, I) points
hold about 9 onsets per 32 steps with 0.06 of their notes sixteenths, where the corpus's phrases hold 13 and 0.25–0.34
(the phrase critic's strongest cues are rhythmic: issue 15). The decoder does reproduce the corpus's rhythm from the
posteriors of real phrases, so the prior is moved there; the weights are not touched.

Decisions:

- **The phrases**: those the motifs stand in for and the critic compares with (``critic.real_phrases``): 32-step
  windows on the bar lines of the train split's untransposed 4/4, 2/2 and 2/4 melodies (the composer draws from the
  VAE only in those meters).
- **The mixture**: k-means (Lloyd, seeded, ``iterations``) on the posterior means; a component per cluster, its mean
  the cluster's mean μ, its variance per dimension the variance of its μ plus its mean σ² (the moments of the
  mixture of its phrases' posteriors), its weight its share. Summarised in ``components`` Gaussians, never one per
  phrase: a prior made of the phrases' own posteriors decodes near-copies of them (0.76 of the tokens of the phrase
  drawn, 0.46 between two random real phrases).
- **The card** keeps the source VAE's evaluation (the weights are the same, so are its reconstructions) and adds the
  decodes' rhythm from N(0, I) and from the fitted prior beside the real phrases'.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import numpy as np
import torch

from cues.pipelines.models.bundle import load_model
from cues.pipelines.models.phrase_vae import PhraseVAE
from cues.pipelines.music.melody_tokens import FIRST_NOTE, HOLD
from cues.pipelines.store import open_store
from cues.pipelines.train.critic import real_phrases
from cues.pipelines.train.critic_trainer import write_model
from cues.pipelines.train.data import dataset_version
from cues.pipelines.train.loop import progress_log
from cues.pipelines.train.trainer import TrainResult
from cues.schemas.brief import canonical_hash
from cues.schemas.errors import ScoringError
from cues.schemas.training import VAEPriorConfig

PRIOR_CODE_VERSION = "vae-prior-1"
log = progress_log()


class NotAPhraseVAE(ScoringError):
    """The model whose prior was to be fitted is not a phrase VAE."""


def prior_version(config: VAEPriorConfig, data_version: str, source_version: str) -> str:
    identity = config.model_dump(mode="json", exclude={"out", "source", "dataset"})
    payload = {"code": PRIOR_CODE_VERSION, "config": identity, "data": data_version, "source": source_version}
    return "m-" + canonical_hash(payload)[:12]


@torch.no_grad()
def posteriors(vae: PhraseVAE, phrases: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and variances (N, Z) of phrases (N, steps), in batches."""
    mus, variances = [], []
    for chunk in torch.as_tensor(phrases).split(1024):
        mu, logvar = vae.encoder(chunk)
        mus.append(mu)
        variances.append(logvar.exp())
    return torch.cat(mus), torch.cat(variances)


def mixture(mu: torch.Tensor, variance: torch.Tensor, components: int, iterations: int, seed: int):
    """``(weights (K,), means (K, Z), scales (K, Z))`` of the module docstring's mixture; an empty cluster is
    dropped, so K may come out smaller than ``components``."""
    generator = torch.Generator().manual_seed(seed)
    centres = mu[torch.randperm(len(mu), generator=generator)[:components]].clone()  # (K, Z)
    for _ in range(iterations):
        assigned = torch.cdist(mu, centres).argmin(dim=1)  # (N,)
        for k in range(len(centres)):
            members = assigned == k
            if members.any():
                centres[k] = mu[members].mean(dim=0)
    assigned = torch.cdist(mu, centres).argmin(dim=1)
    weights, means, scales = [], [], []
    for k in range(len(centres)):
        members = assigned == k
        if not members.any():
            continue
        spread = mu[members].var(dim=0, unbiased=False) + variance[members].mean(dim=0)  # (Z,)
        weights.append(members.float().mean())
        means.append(mu[members].mean(dim=0))
        scales.append(spread.sqrt())
    weights = torch.stack(weights)
    return weights / weights.sum(), torch.stack(means), torch.stack(scales)


def rhythm_statistics(phrases: np.ndarray) -> dict:
    """What the critic reads first in a set of 32-step phrases: onsets per phrase; of all notes, the share one 16th
    long and of 8+ steps; of onsets, the share on a beat and on an odd 16th; the mean sd of note lengths in a
    phrase (16th steps). A note lasts until the next onset or rest."""
    onsets, sixteenths, long_notes, on_beat, odd, sds, notes_total = [], 0, 0, 0, 0, [], 0
    for tokens in np.asarray(phrases):
        starts = np.flatnonzero(tokens >= FIRST_NOTE)
        lengths = []
        for start in starts:
            end = start + 1
            while end < len(tokens) and tokens[end] == HOLD:
                end += 1
            lengths.append(end - start)
        onsets.append(len(starts))
        notes_total += len(starts)
        sixteenths += sum(n == 1 for n in lengths)
        long_notes += sum(n >= 8 for n in lengths)
        on_beat += int((starts % 4 == 0).sum())
        odd += int((starts % 2 == 1).sum())
        sds.append(float(np.std(lengths)) if lengths else 0.0)
    total = max(notes_total, 1)
    return {
        "phrases": len(onsets),
        "onsets_per_phrase": round(float(np.mean(onsets)), 2),
        "sixteenth_notes": round(float(sixteenths) / total, 3),
        "notes_of_8_steps_or_more": round(float(long_notes) / total, 3),
        "onsets_on_a_beat": round(on_beat / total, 3),
        "onsets_on_an_odd_16th": round(odd / total, 3),
        "sd_of_note_lengths": round(float(np.mean(sds)), 2),
    }


@torch.no_grad()
def decodes(vae: PhraseVAE, z: torch.Tensor) -> np.ndarray:
    """Greedy decodes of latent points, as the composer decodes its motifs."""
    return torch.cat([vae.decode(chunk) for chunk in z.split(512)]).numpy()


def run(config: VAEPriorConfig) -> TrainResult:
    """Fit (or find fitted) the prior of the VAE at ``config.source`` and write the VAE with it, and its card."""
    started = time.monotonic()
    vae, source = load_model(config.source)
    if source["model"] != "vae":
        raise NotAPhraseVAE(f"{config.source} holds a {source['model']} model; give the folder of a phrase VAE")
    data_version = dataset_version(config.dataset)
    version = prior_version(config, data_version, source["version"])
    name = config.name or "vae"
    store = open_store(config.out)
    prefix = f"models/{name}/{version}"
    if store.exists(f"{prefix}/_COMPLETE"):
        return TrainResult(store.uri, prefix, version, json.loads(store.get_bytes(f"{prefix}/card.json")), True)
    real = real_phrases(config.dataset, vae.config.steps, config.max_phrases, config.seed).train
    log.info("vae prior: %d real phrases encoded, %d components", len(real), config.components)
    mu, variance = posteriors(vae, real)
    vae.prior.set(*mixture(mu, variance, config.components, config.iterations, config.seed))
    generator = torch.Generator().manual_seed(config.seed)
    standard = torch.randn(config.probe, vae.config.latent, generator=generator)
    rhythm = {
        "real": rhythm_statistics(real),
        "standard_normal": rhythm_statistics(decodes(vae, standard)),
        "fitted_prior": rhythm_statistics(decodes(vae, vae.prior.draw(config.probe, generator))),
    }
    source_store = open_store(config.source)  # the source VAE's cards, in JSON and for people
    source_card = json.loads(source_store.get_bytes("card.json"))
    prior = {
        "source_version": source["version"],
        "config": config.model_dump(mode="json", exclude={"out", "dataset", "source"}),
        "components": vae.prior.components,
        "real_phrases": len(real),
        "posterior_mean_sd": round(float(mu.std(dim=0).mean()), 3),
        "posterior_sigma_mean": round(float(variance.sqrt().mean()), 3),
        "decoded_rhythm": rhythm,
        "seconds": round(time.monotonic() - started, 1),
    }
    bundle = source | {"state_dict": vae.state_dict(), "version": version, "prior": prior}
    card = {k: v for k, v in source_card.items() if k != "files"} | {
        "name": name,
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "prior": prior,
    }
    card = write_model(store, prefix, bundle, card, render_card(card, source_store.get_bytes("card.md")))
    return TrainResult(store.uri, prefix, version, card, False)


def render_card(card: dict, source_md: bytes) -> str:
    """The source VAE's card, retitled, with the prior's section after its title."""
    prior = card["prior"]
    title, _, rest = source_md.decode().partition("\n")
    rhythm = prior["decoded_rhythm"]
    rows = [
        ("onsets per 32 steps", "onsets_per_phrase"),
        ("sixteenth notes (of notes)", "sixteenth_notes"),
        ("notes of 8+ steps (of notes)", "notes_of_8_steps_or_more"),
        ("onsets on a beat", "onsets_on_a_beat"),
        ("onsets on an odd 16th", "onsets_on_an_odd_16th"),
        ("sd of note lengths (16ths)", "sd_of_note_lengths"),
    ]
    lines = [
        f"# Model `{card['name']}` {card['version']} (vae: {prior['source_version']} with a fitted latent prior)",
        "",
        "## Latent prior",
        "",
        f"New phrases are decoded from a mixture of {prior['components']} diagonal Gaussians fitted to the "
        f"posteriors of {prior['real_phrases']:,} real bar-line phrases (4/4, 2/2, 2/4; the train split), by "
        f"k-means on their means (`pipelines/train/vae_prior.py`); the weights are {prior['source_version']}'s. "
        f"Posterior means spread by {prior['posterior_mean_sd']} per dimension, each posterior's sigma "
        f"{prior['posterior_sigma_mean']}: they do not fill N(0, I). Greedy decodes of "
        f"{rhythm['fitted_prior']['phrases']} latent points:",
        "",
        "| figure | real phrases | decodes of N(0, I) | decodes of the fitted prior |",
        "|---|---|---|---|",
        *(
            f"| {label} | {rhythm['real'][key]} | {rhythm['standard_normal'][key]} | {rhythm['fitted_prior'][key]} |"
            for label, key in rows
        ),
        "",
        f"The source's card follows ({title.lstrip('# ')}).",
    ]
    return "\n".join(lines) + "\n" + rest
