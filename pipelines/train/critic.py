"""``cues train --model critic``: the phrase critic trained adversarially against the composer, then its card.

The seed's GAN, made useful: the generator stays the LSTM/VAE; the critic (``pipelines/models/phrase_critic.py``)
learns to tell real phrases from generated ones and is then used to rerank the generator's candidates.

- **Real phrases**: 32-step windows starting on each bar line (after any pickup) of the dataset's untransposed
  melodies in 16- or 8-step bars (4/4, 2/2, 2/4) with at least two onsets; training works from the dataset's train
  split, held-out works from its validation and test splits (the dataset splits by work).
- **Generated phrases**: a pool of slots of candidates (``pipelines/compose/phrase_pool.py``), split by group (cue
  or block of raw slots) with a hash, so a held-out cue is never trained on.
- **Rounds**: round 0 trains on real vs every raw candidate. Each later round reranks the training slots with the
  previous round's critic (keeps the candidate it finds most real), and goes on training (warm start, half the
  epochs) on real vs those reranked phrases. The shipped critic is the last round's.
- **Evaluation** (held-out works and cues; balanced accuracy at logit 0, 0.5 = indistinguishable): (a) the round-0
  critic on real vs raw; (a') a fresh critic trained on one raw candidate per slot — as many generated phrases as
  after reranking, so (a') and (c) differ only in what the phrases are; (b) the shipped critic on real vs the
  phrases it reranked itself (flattering: they were chosen to fool it); (c) a fresh critic of the same
  architecture trained on real vs reranked training phrases, on held-out reranked phrases — the honest "after";
  and the logistic baseline on hand features, before (raw) and after (reranked).

Deterministic: every fit seeds torch and numpy from ``config.seed`` and its role.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from cues.pipelines.models.phrase_critic import PhraseCritic, phrase_inputs
from cues.pipelines.music.melody_tokens import FIRST_NOTE
from cues.pipelines.train.critic_baseline import LogisticBaseline
from cues.pipelines.train.data import load_rows
from cues.pipelines.train.loop import progress_log
from cues.schemas.training import CriticTrainConfig, PhraseCriticConfig

log = progress_log()  # the rounds' progress reaches the console, as the other models' epochs do

PHRASE_BARS = {16: "4/4, 2/2", 8: "2/4"}  # steps per bar whose bar lines 32-step phrases fit


@dataclass
class RealPhrases:
    train: np.ndarray  # (N, steps) tokens
    held_out: np.ndarray
    works: dict[str, int]  # works per side


@dataclass
class Pool:
    """What the critic needs of a candidate pool (``phrase_pool.CandidatePool``): (slots, K, steps) phrases and
    each slot's group and source."""

    phrases: np.ndarray
    groups: list[str]
    sources: list[str]


def real_phrases(dataset_uri: str, steps: int, cap: int, seed: int) -> RealPhrases:
    """The real phrases of the module docstring; at most ``cap`` training phrases, a seeded sample."""
    rows = load_rows(dataset_uri, "melody")
    sides = {"train": rows["train"], "held_out": rows["validation"] + rows["test"]}
    result, works = {}, {}
    for side, side_rows in sides.items():
        kept = [r for r in side_rows if r.get("transpose", 0) == 0 and r["steps_per_bar"] in PHRASE_BARS]
        works[side] = len(kept)
        phrases = [w for row in kept for w in bar_line_windows(row, steps)]
        result[side] = np.asarray(phrases, dtype=np.int64).reshape(-1, steps)
    if len(result["train"]) > cap:
        pick = np.random.default_rng(seed).choice(len(result["train"]), cap, replace=False)
        result["train"] = result["train"][np.sort(pick)]
    return RealPhrases(result["train"], result["held_out"], works)


def bar_line_windows(row: dict, steps: int) -> list[list[int]]:
    """``steps``-long windows of a dataset melody row starting on each bar line, with at least two onsets."""
    tokens = row["tokens"]
    starts = [s for s in row["bar_starts"] if not (s == 0 and row.get("pickup_steps", 0))]  # a pickup is no bar
    windows = [tokens[s : s + steps] for s in starts if s + steps <= len(tokens)]
    return [w for w in windows if sum(t >= FIRST_NOTE for t in w) >= 2]


def held_out_groups(groups: list[str], share: float) -> np.ndarray:
    """Per slot, whether its group is held out: a hash of the group's name, stable across runs and seeds."""
    position = {g: int(hashlib.sha256(g.encode()).hexdigest()[:12], 16) / 16**12 for g in set(groups)}
    return np.array([position[g] < share for g in groups], dtype=bool)


def split_pool(pool: Pool, share: float) -> tuple[Pool, Pool]:
    held = held_out_groups(pool.groups, share)

    def side(keep: np.ndarray) -> Pool:
        index = np.flatnonzero(keep)
        return Pool(pool.phrases[index], [pool.groups[i] for i in index], [pool.sources[i] for i in index])

    return side(~held), side(held)


# --- fitting and judging ------------------------------------------------------------------------------------------


def fit_critic(
    config: PhraseCriticConfig,
    settings: CriticTrainConfig,
    real: np.ndarray,
    fake: np.ndarray,
    epochs: int,
    seed: int,
    start: PhraseCritic | None = None,
) -> PhraseCritic:
    """A critic trained on real (1) vs fake (0) phrases, classes weighted to count equally; from ``start``'s
    weights when given (a warm start), else fresh. Returned in eval mode."""
    torch.manual_seed(seed)
    model = PhraseCritic(config)
    if start is not None:
        model.load_state_dict(start.state_dict())
    tokens = torch.as_tensor(np.concatenate([real, fake]))
    inputs = phrase_inputs(tokens, config.max_interval)
    targets = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])
    weights = torch.cat(
        [
            torch.full((len(real),), len(tokens) / (2 * len(real))),
            torch.full((len(fake),), len(tokens) / (2 * len(fake))),
        ]
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = torch.as_tensor(rng.permutation(len(tokens)))
        for batch in order.split(settings.batch_size):
            _, loss = model.judge({k: v[batch] for k, v in inputs.items()}, targets[batch], weights[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    return model


@torch.no_grad()
def logits_of(model: PhraseCritic, phrases: np.ndarray) -> torch.Tensor:
    """Logits (N,) of phrases (N, steps), in batches."""
    if len(phrases) == 0:
        return torch.zeros(0)
    return torch.cat([model(chunk)[0] for chunk in torch.as_tensor(phrases).split(1024)])


def balanced_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> float:
    """The mean of the share of real phrases called real (logit > 0) and of generated ones called generated."""
    return round(0.5 * (float((real_logits > 0).float().mean()) + float((fake_logits <= 0).float().mean())), 4)


def judged(real_logits: torch.Tensor, fake_logits: torch.Tensor, sources: list[str]) -> dict:
    """Balanced accuracy, and per source the share of generated phrases the critic calls generated."""
    by_source = {
        source: round(float((fake_logits[[s == source for s in sources]] <= 0).float().mean()), 4)
        for source in sorted(set(sources))
    }
    return {
        "accuracy": balanced_accuracy(real_logits, fake_logits),
        "real_called_real": round(float((real_logits > 0).float().mean()), 4),
        "generated_called_generated": by_source,
    }


def rerank(model: PhraseCritic, pool: Pool) -> np.ndarray:
    """Per slot, the candidate the critic finds most real: (slots, steps)."""
    slots, candidates, steps = pool.phrases.shape
    logits = logits_of(model, pool.phrases.reshape(-1, steps)).reshape(slots, candidates)
    return pool.phrases[np.arange(slots), logits.argmax(dim=1).numpy()]


def first_candidates(pool: Pool) -> np.ndarray:
    """One raw candidate per slot (the first): what the generator gives without a critic."""
    return pool.phrases[:, 0]


def all_candidates(pool: Pool) -> tuple[np.ndarray, list[str]]:
    slots, candidates, steps = pool.phrases.shape
    return pool.phrases.reshape(-1, steps), [s for s in pool.sources for _ in range(candidates)]


# --- the adversarial rounds ---------------------------------------------------------------------------------------


def train_rounds(
    settings: CriticTrainConfig,
    real: RealPhrases,
    pool: Pool,
    composed: Callable[[PhraseCritic], Pool] | None = None,
) -> tuple[PhraseCritic, dict]:
    """The shipped critic (the last round's) and the evaluation of the module docstring; (d) when ``composed`` gives
    the composer's own phrases with a critic in it (one candidate per slot, groups as the pool's cues)."""
    config, epochs = settings.critic, settings.epochs
    train_pool, held_pool = split_pool(pool, settings.held_out)
    raw_train, _ = all_candidates(train_pool)
    raw_held, raw_held_sources = all_candidates(held_pool)
    started = time.monotonic()
    log.info("critic: %d real and %d raw generated training phrases", len(real.train), len(raw_train))
    critic = fit_critic(config, settings, real.train, raw_train, epochs, settings.seed)
    real_held = logits_of(critic, real.held_out)
    rounds = [
        {
            "round": 0,
            "trained_against": "raw candidates",
            "generated_train": len(raw_train),
            "held_out": judged(real_held, logits_of(critic, raw_held), raw_held_sources),
        }
    ]
    log.info("critic round 0: held-out accuracy %.3f on real vs raw", rounds[0]["held_out"]["accuracy"])
    before = rounds[0]["held_out"]
    for number in range(1, settings.rounds):
        chosen_train, chosen_held = rerank(critic, train_pool), rerank(critic, held_pool)
        critic = fit_critic(
            config, settings, real.train, chosen_train, max(1, epochs // 2), settings.seed + number, start=critic
        )
        rounds.append(
            {
                "round": number,
                "trained_against": f"reranked by round {number - 1}",
                "generated_train": len(chosen_train),
                "held_out": judged(logits_of(critic, real.held_out), logits_of(critic, chosen_held), held_pool.sources),
            }
        )
        log.info("critic round %d: held-out accuracy %.3f", number, rounds[-1]["held_out"]["accuracy"])
    adversarial_seconds = time.monotonic() - started

    reranked_train, reranked_held = rerank(critic, train_pool), rerank(critic, held_pool)
    shipped = judged(logits_of(critic, real.held_out), logits_of(critic, reranked_held), held_pool.sources)
    fresh_raw = fit_critic(config, settings, real.train, first_candidates(train_pool), epochs, settings.seed + 100)
    fresh_after = fit_critic(config, settings, real.train, reranked_train, epochs, settings.seed + 100)
    raw_one = judged(
        logits_of(fresh_raw, real.held_out), logits_of(fresh_raw, first_candidates(held_pool)), held_pool.sources
    )
    after = judged(logits_of(fresh_after, real.held_out), logits_of(fresh_after, reranked_held), held_pool.sources)
    log.info("critic: fresh critics and the logistic baseline, before and after reranking")
    baseline_before = LogisticBaseline().fit(real.train, raw_train)
    baseline_after = LogisticBaseline().fit(real.train, reranked_train)
    evaluation = {
        "a_round0_critic_real_vs_raw": before,
        "a_fresh_critic_real_vs_one_raw_per_slot": raw_one,
        "b_shipped_critic_real_vs_its_reranked": shipped,
        "c_fresh_critic_real_vs_reranked": after,
        "logistic_before_real_vs_raw": judged(
            baseline_before.logits(real.held_out), baseline_before.logits(raw_held), raw_held_sources
        ),
        "logistic_after_real_vs_reranked": judged(
            baseline_after.logits(real.held_out), baseline_after.logits(reranked_held), held_pool.sources
        ),
        "target": {"c_at_most": 0.70, "met": after["accuracy"] <= 0.70},
    }
    if composed is not None:
        log.info("critic: the composer's own phrases with the shipped critic, and a fresh critic on them")
        composer_train, composer_held = split_pool(composed(critic), settings.held_out)
        fresh_composer = fit_critic(
            config, settings, real.train, first_candidates(composer_train), epochs, settings.seed + 100
        )
        evaluation["d_fresh_critic_real_vs_composer_with_critic"] = judged(
            logits_of(fresh_composer, real.held_out),
            logits_of(fresh_composer, first_candidates(composer_held)),
            composer_held.sources,
        )
    data = {
        "real_works": real.works,
        "real_phrases": {"train": len(real.train), "held_out": len(real.held_out)},
        "slots": {"train": len(train_pool.groups), "held_out": len(held_pool.groups)},
        "slots_by_source": {
            side: {s: p.sources.count(s) for s in sorted(set(p.sources))}
            for side, p in (("train", train_pool), ("held_out", held_pool))
        },
        "groups": {"train": len(set(train_pool.groups)), "held_out": len(set(held_pool.groups))},
        "candidates_per_slot": pool.phrases.shape[1],
    }
    spread = logits_of(critic, held_pool.phrases.reshape(-1, held_pool.phrases.shape[2])).reshape(
        held_pool.phrases.shape[:2]
    )
    logits = {
        "generated_mean": round(float(spread.mean()), 3),
        "generated_sd": round(float(spread.std()), 3),
        "within_slot_range_mean": round(float((spread.max(1).values - spread.min(1).values).mean()), 3),
    }
    result = {
        "data": data,
        "rounds": rounds,
        "evaluation": evaluation,
        "shipped_logits": logits,
        "seconds": {"adversarial": round(adversarial_seconds, 1), "all": round(time.monotonic() - started, 1)},
    }
    return critic, result
