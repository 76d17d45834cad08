"""The phrase critic: it learns an obvious difference, deterministically; a bundle loads with or without one; and
reranking prefers what it finds more real. Real models, real composer; tiny synthetic phrases keep it fast."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.phrase_pool import bar_windows, critic_briefs, cue_slots, melody_phrase_tokens
from cues.pipelines.compose.rerank import critic_logits, reranked_scores
from cues.pipelines.models.bundle import DEFAULT_BUNDLE, install_model, load_model
from cues.pipelines.models.phrase_critic import phrase_inputs
from cues.pipelines.music.melody_tokens import FIRST_NOTE, HOLD, REST
from cues.pipelines.store import open_store
from cues.pipelines.train.critic import (
    Pool,
    RealPhrases,
    balanced_accuracy,
    bar_line_windows,
    fit_critic,
    logits_of,
    train_rounds,
)
from cues.pipelines.train.critic_baseline import LogisticBaseline
from cues.pipelines.train.critic_trainer import write_model
from cues.schemas.training import CriticTrainConfig, PhraseCriticConfig

SETTINGS = CriticTrainConfig(dataset="unused", out="unused", epochs=3, batch_size=32)
SMALL = PhraseCriticConfig(embed=8, channels=16, dilations=(1, 2))


def scalewise(rng: np.random.Generator) -> list[int]:
    """Eighth notes walking up or down the major scale: a very real-looking phrase."""
    major = [0, 2, 4, 5, 7, 9, 11]
    degree, direction, tokens = int(rng.integers(7, 14)), int(rng.choice([-1, 1])), []
    for _ in range(16):
        pitch = 12 * (degree // 7) + major[degree % 7]
        tokens += [FIRST_NOTE + 12 + pitch, HOLD]
        degree += direction
    return tokens


def scattered(rng: np.random.Generator) -> list[int]:
    """Random pitches, holds and rests on random steps: an obviously generated one."""
    tokens = [int(t) for t in rng.integers(FIRST_NOTE + 12, FIRST_NOTE + 48, 32)]
    for step in rng.choice(32, 12, replace=False):
        tokens[step] = int(rng.choice([REST, HOLD]))
    return tokens


def phrases(kind, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.asarray([kind(rng) for _ in range(count)], dtype=np.int64)


@pytest.fixture(scope="module")
def trained():
    return fit_critic(SMALL, SETTINGS, phrases(scalewise, 160, 1), phrases(scattered, 160, 2), 3, seed=7)


def test_the_critic_learns_scalewise_from_scattered_on_held_out_phrases(trained):
    real, fake = phrases(scalewise, 60, 3), phrases(scattered, 60, 4)
    assert balanced_accuracy(logits_of(trained, real), logits_of(trained, fake)) >= 0.9
    baseline = LogisticBaseline().fit(phrases(scalewise, 160, 1), phrases(scattered, 160, 2))
    assert balanced_accuracy(baseline.logits(real), baseline.logits(fake)) >= 0.9


def test_training_is_deterministic_given_the_seed(trained):
    real, fake = phrases(scalewise, 160, 1), phrases(scattered, 160, 2)
    probe = torch.as_tensor(phrases(scattered, 8, 5))
    again = fit_critic(SMALL, SETTINGS, real, fake, 3, seed=7)
    other = fit_critic(SMALL, SETTINGS, real, fake, 3, seed=8)
    assert torch.equal(again(probe)[0], trained(probe)[0])
    assert not torch.equal(other(probe)[0], trained(probe)[0])


def test_the_inputs_read_shape_not_register():
    tune = torch.tensor([scalewise(np.random.default_rng(0))])
    octave_up = torch.where(tune >= FIRST_NOTE, tune + 12, tune)
    a, b = phrase_inputs(tune, 12), phrase_inputs(octave_up, 12)
    assert all(torch.equal(a[name], b[name]) for name in a)
    held_after_rest = torch.tensor([[REST, HOLD, FIRST_NOTE + 30, HOLD] + [REST] * 28])
    assert phrase_inputs(held_after_rest, 12)["kind"][0, :4].tolist() == [0, 0, 2, 1]  # rest, rest, onset, hold


def test_reranking_prefers_the_phrase_the_critic_finds_more_real(trained):
    real, fake = scalewise(np.random.default_rng(9)), scattered(np.random.default_rng(9))
    fake_logit, real_logit = critic_logits(trained, [fake, real])
    assert real_logit > fake_logit
    scores = reranked_scores([0.0, 0.0], [fake, real], trained)
    assert scores[1] > scores[0]
    assert reranked_scores([1.0, 0.0], [fake, real], None) == [1.0, 0.0]  # no critic: the melody's own scores
    assert reranked_scores([1e3, 0.0], [fake, real], trained)[0] > 0  # a weighted logit cannot override a far fit
    with pytest.raises(ValueError, match="one length"):
        critic_logits(trained, [fake, real[:16]])


def test_a_bundle_loads_with_and_without_a_critic(tmp_path, trained):
    bundle = str(tmp_path / "bundle")
    for kind in ("melody", "vae", "chords"):
        install_model(str(DEFAULT_BUNDLE / kind), bundle, kind)
    plain = ComposerModels.load(bundle)
    assert plain.critic is None and "critic" not in plain.versions
    config = SETTINGS.model_copy(update={"critic": SMALL})
    saved = {"model": "critic", "config": config.model_dump(mode="json"), "state_dict": trained.state_dict()}
    write_model(open_store(bundle), "critic", saved | {"version": "m-test"}, {"name": "critic"}, "# critic\n")
    models = ComposerModels.load(bundle)
    assert models.versions["critic"] == "m-test"
    probe = torch.as_tensor(phrases(scattered, 4, 6))
    assert torch.equal(models.critic(probe)[0], trained(probe)[0])
    assert load_model(f"{bundle}/critic")[0].training is False
    briefs = [b for b in critic_briefs(6) if b.meter in ("4/4", "2/4")]  # the meters whose phrases it judges
    with_critic = [compose_cue(b, 0, None, models).midi for b in briefs]
    assert with_critic == [compose_cue(b, 0, None, models).midi for b in briefs]  # reranked, still deterministic
    assert any(m != compose_cue(b, 0, None, plain).midi for m, b in zip(with_critic, briefs, strict=True))


def test_cue_slots_hold_the_same_bar_of_each_candidate_cue():
    models = ComposerModels.load()
    pool = cue_slots(critic_briefs(2)[1:], models, 2, seed=0)  # one 2/4 brief, two seeds
    assert pool.phrases.shape[1:] == (2, 32) and len(pool) == len(pool.groups) > 0
    assert set(pool.groups) == {"critic-001"} and set(pool.sources) == {"cue"}
    assert not np.array_equal(pool.phrases[:, 0], pool.phrases[:, 1])  # the seeds differ
    assert ((pool.phrases >= FIRST_NOTE).sum(axis=2) >= 2).all()


def test_real_windows_start_on_bar_lines_after_a_pickup():
    row = {"tokens": [FIRST_NOTE + 30, HOLD, HOLD, HOLD] + [FIRST_NOTE + 32, HOLD] * 24, "bar_starts": [0, 4, 20, 36]}
    windows = bar_line_windows(row | {"pickup_steps": 4}, 32)
    assert [w[0] for w in windows] == [FIRST_NOTE + 32] * 2  # bars at 4 and 20; from 36 the phrase would run out
    assert [w[0] for w in bar_line_windows(row | {"pickup_steps": 0}, 32)] == [FIRST_NOTE + 30] + [FIRST_NOTE + 32] * 2


def test_cue_slots_with_a_critic_hold_what_the_composer_writes_with_it(trained):
    # one 4/4 brief whose motif's candidates the critic ranks differently from the composer's own score (the first
    # one, critic-000, happens to get the same motif either way since seeds come from the musical fields)
    briefs = critic_briefs(3)[2:]
    models = ComposerModels.load()
    raw = cue_slots(briefs, models, 1, seed=0)
    reranked = cue_slots(briefs, models, 1, seed=0, critic=trained)
    composed = compose_cue(briefs[0], 0, None, dataclasses.replace(models, critic=trained))
    plan = composed.plan
    tokens = melody_phrase_tokens(composed.score.parts["lead"], plan.tonic, plan.total_steps)
    assert reranked.phrases[:, 0].tolist() == list(bar_windows(tokens, plan.steps_per_bar).values())
    assert not np.array_equal(raw.phrases, reranked.phrases)


def test_training_judges_the_composers_own_phrases_when_given_them():
    real = RealPhrases(phrases(scalewise, 120, 3), phrases(scalewise, 40, 4), {"train": 1, "held_out": 1})
    groups = [f"cue-{i % 8}" for i in range(64)]
    pool = Pool(phrases(scattered, 64 * 2, 5).reshape(64, 2, 32), groups, ["cue"] * 64)
    seen = []

    def composed(critic):
        seen.append(critic)
        return Pool(phrases(scalewise, 64, 6).reshape(64, 1, 32), groups, ["cue"] * 64)

    settings = SETTINGS.model_copy(update={"critic": SMALL, "rounds": 2})
    critic, result = train_rounds(settings, real, pool, composed)
    assert seen == [critic]  # the composer is asked with the shipped critic
    evaluation = result["evaluation"]
    assert evaluation["c_fresh_critic_real_vs_reranked"]["accuracy"] > 0.9  # scattered is easy to tell
    assert evaluation["d_fresh_critic_real_vs_composer_with_critic"]["accuracy"] < 0.7  # scalewise is not
    assert "d_fresh_critic_real_vs_composer_with_critic" not in train_rounds(settings, real, pool)[1]["evaluation"]
