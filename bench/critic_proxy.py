"""A cheap proxy for the phrase critic's (c) and (d) (``pipelines/train/critic.py``): is a change to the composer
seen by a fresh critic?

The composer writes each of the critic's varied briefs (``phrase_pool.critic_briefs``) once, with the bundle's
critic inside (as it ships) or without (raw); the lead's bar-line windows are split by brief as training does (a
quarter held out, ``critic.held_out_groups``), and fresh critics of the shipped architecture are fitted on real vs
the training windows and judged on held-out real vs held-out windows (balanced accuracy, 0.5 = indistinguishable).
Two fits differ by about ±0.03, so only a move of about 0.05 in their mean means something; the full trainings
(``cues train --model critic``, three seeds) decide. Besides the accuracy it prints the phrases' statistics
(``critic_phrases.phrase_statistics``): onsets, repeats and steps, direction changes, the onset grid.

    python bench/critic_proxy.py [--briefs 32] [--fits 2] [--raw] [--dataset /work/store22/datasets/folk-chorales]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging

import numpy as np
import torch
from critic_phrases import latest_version, phrase_statistics

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.phrase_pool import bar_windows, critic_briefs, melody_phrase_tokens
from cues.pipelines.train.critic import balanced_accuracy, fit_critic, held_out_groups, logits_of, real_phrases
from cues.schemas.training import CriticTrainConfig

log = logging.getLogger("bench.critic_proxy")


def composed_windows(models: ComposerModels, briefs: int) -> tuple[np.ndarray, list[str]]:
    """The lead's bar-line windows of each critic brief composed once (seed 0), and each window's brief."""
    phrases, groups = [], []
    for brief in critic_briefs(briefs):
        cue = compose_cue(brief, 0, None, models)
        tokens = melody_phrase_tokens(cue.score.parts["lead"], cue.plan.tonic, cue.plan.total_steps)
        windows = list(bar_windows(tokens, cue.plan.steps_per_bar).values())
        phrases += windows
        groups += [brief.id] * len(windows)
    return np.asarray(phrases, dtype=np.int64), groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--briefs", type=int, default=32)
    parser.add_argument("--fits", type=int, default=2)
    parser.add_argument("--raw", action="store_true", help="compose without the bundle's critic")
    parser.add_argument("--dataset", default="/work/store22/datasets/folk-chorales")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)  # batch-1 model steps, as in the composer's actors
    dataset = latest_version(args.dataset)
    settings = CriticTrainConfig(dataset=dataset, out="unused")
    real = real_phrases(dataset, settings.critic.steps, settings.max_real_phrases, settings.seed)
    models = ComposerModels.load()
    if args.raw:
        models = dataclasses.replace(models, critic=None)
    phrases, groups = composed_windows(models, args.briefs)
    held = held_out_groups(groups, settings.held_out)
    accuracies = []
    for fit in range(args.fits):
        critic = fit_critic(
            settings.critic, settings, real.train, phrases[~held], settings.epochs, settings.seed + 100 + fit
        )
        accuracies.append(balanced_accuracy(logits_of(critic, real.held_out), logits_of(critic, phrases[held])))
        log.info("fit %d: held-out accuracy %.3f", fit, accuracies[-1])
    result = {
        "windows": {"train": int((~held).sum()), "held_out": int(held.sum())},
        "accuracies": accuracies,
        "mean": round(float(np.mean(accuracies)), 4),
        "composed": phrase_statistics(phrases),
    }
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
