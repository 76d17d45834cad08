"""Tiny models trained end to end on Ray Train: checkpoints in S3, resume after a kill, same seed same weights."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from cues.pipelines.models.bundle import load_model
from cues.pipelines.models.melody_lstm import sample_melody
from cues.pipelines.music.melody_tokens import NUM_TOKENS
from cues.pipelines.preprocess.pipeline import run as preprocess
from cues.pipelines.store import open_store
from cues.pipelines.train.ngram import NGramModel, evaluate_ngram
from cues.pipelines.train.trainer import run as train
from cues.pipelines.train.vae_prior import mixture
from cues.pipelines.train.vae_prior import run as fit_prior
from cues.schemas.config import PreprocessConfig
from cues.schemas.training import ChordLSTMConfig, MelodyLSTMConfig, PhraseVAEConfig, TrainConfig, VAEPriorConfig

pytestmark = pytest.mark.ray

TINY = {
    "melody": MelodyLSTMConfig(embed=8, hidden=24, layers=1, dropout=0.0),
    "vae": PhraseVAEConfig(embed=8, encoder_hidden=24, decoder_hidden=24, latent=8, kl_anneal_steps=10),
    "chords": ChordLSTMConfig(embed=8, hidden=16, layers=1, dropout=0.0),
}


@pytest.fixture(scope="module")
def dataset(ray_session, tmp_path_factory):
    store = tmp_path_factory.mktemp("data") / "store"
    result = preprocess(PreprocessConfig(sources=("essen", "bach"), limit=40, store=str(store), chunk_size=20))
    return f"{store}/{result.prefix}"


def tiny(model: str, dataset: str, out: str, **changes) -> TrainConfig:
    fields = {
        "model": model,
        "dataset": dataset,
        "out": out,
        "epochs": 2,
        "batch_size": 16,
        "window": 32,
        "max_train_sequences": 30,
        "melody": TINY["melody"],
        "vae": TINY["vae"],
        "chords": TINY["chords"],
    }
    return TrainConfig(**(fields | changes))


def test_ngram_baseline_counts_and_backs_off():
    model = NGramModel(3, vocab_size=4).fit([[0, 1, 2, 3] * 5])
    assert model.predict([0, 1]) == 2 and model.predict([3]) == 0
    scores = evaluate_ngram(model, [[0, 1, 2, 3] * 3], first_onset_token=2)
    assert scores.accuracy == 1.0 and scores.onset_accuracy == 1.0 and scores.perplexity < 1.2


def test_melody_model_trains_on_two_workers_into_s3_and_generates_the_same_weights_again(
    dataset, s3_bucket, tmp_path
):
    result = train(tiny("melody", dataset, f"s3://{s3_bucket}/models", workers=2, seed=3))
    card = result.card
    assert card["training"]["epochs_run"] == 2 and card["training"]["workers"] == 2
    assert set(card["evaluation"]) == {"test", "baseline_5gram", "targets"}
    store = open_store(f"s3://{s3_bucket}/models")
    assert any(k.startswith(f"{result.prefix}/ray/") and "checkpoint" in k for k in store.list(result.prefix))
    model, bundle = load_model(store.uri_for(result.prefix))
    tokens = sample_melody(model, 32, seed=1)
    assert len(tokens) == 32 and all(0 <= t < NUM_TOKENS for t in tokens)
    assert sample_melody(model, 32, seed=1) == tokens
    again = train(tiny("melody", dataset, f"s3://{s3_bucket}/models", workers=2, seed=3))
    assert again.cached and again.version == result.version

    # The same seed trained again from scratch (another store, so nothing is cached) gives the same weights.
    second = train(tiny("melody", dataset, str(tmp_path), workers=2, seed=3))
    assert not second.cached
    twin, _ = load_model(open_store(str(tmp_path)).uri_for(second.prefix))
    pairs = zip(model.state_dict().values(), twin.state_dict().values(), strict=True)
    assert all(torch.equal(x, y) for x, y in pairs)
    assert second.card["evaluation"] == card["evaluation"]


def test_vae_encodes_decodes_and_interpolates(dataset, tmp_path):
    result = train(tiny("vae", dataset, str(tmp_path)))
    evaluation = result.card["evaluation"]["test"]
    assert 0 <= evaluation["reconstruction_sampled"] <= evaluation["reconstruction_teacher_forced"] + 0.2
    model, _ = load_model(open_store(str(tmp_path)).uri_for(result.prefix))
    phrase = model.sample(2, generator=torch.Generator().manual_seed(0))
    assert phrase.shape == (2, 32)
    assert model.encode(phrase).shape == (2, 8)
    assert model.interpolate(phrase[0], phrase[1], 5).shape == (5, 32)
    assert model.perturb(phrase[0], generator=torch.Generator().manual_seed(0)).shape == (32,)


def test_the_vae_prior_is_fitted_to_real_phrases_and_travels_with_the_weights(dataset, tmp_path):
    trained = train(tiny("vae", dataset, str(tmp_path)))
    source = open_store(str(tmp_path)).uri_for(trained.prefix)
    plain, bundle = load_model(source)
    # Unfitted, the prior is N(0, I) and draws what torch.randn draws: a VAE without a fitted prior composes as before.
    assert torch.equal(
        plain.prior.draw(5, torch.Generator().manual_seed(4)),
        torch.randn(5, 8, generator=torch.Generator().manual_seed(4)),
    )
    # Weights saved before priors existed load as N(0, I).
    older = plain.__class__(plain.config)
    older.load_state_dict({k: v for k, v in bundle["state_dict"].items() if not k.startswith("prior.")})
    assert older.prior.components == 1

    config = VAEPriorConfig(dataset=dataset, out=str(tmp_path), source=source, components=4, probe=64)
    result = fit_prior(config)
    prior = result.card["prior"]
    assert prior["source_version"] == trained.version != result.version
    assert 1 < prior["components"] <= 4 and prior["real_phrases"] > 50
    assert set(prior["decoded_rhythm"]) == {"real", "standard_normal", "fitted_prior"}
    assert result.card["evaluation"] == trained.card["evaluation"]  # the same weights, the same reconstructions
    fitted, _ = load_model(open_store(str(tmp_path)).uri_for(result.prefix))
    assert fitted.prior.components == prior["components"]
    assert all(
        torch.equal(fitted.state_dict()[k], v) for k, v in plain.state_dict().items() if not k.startswith("prior.")
    )
    draws = fitted.prior.draw(6, torch.Generator().manual_seed(1))
    assert torch.equal(draws, fitted.prior.draw(6, torch.Generator().manual_seed(1)))
    assert fitted.sample(2, generator=torch.Generator().manual_seed(0)).shape == (2, 32)
    assert fit_prior(config).cached


def test_the_prior_mixture_finds_the_clusters_of_posterior_means():
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-3.0, 0.0], [3.0, 1.0]])
    mu = torch.cat(
        [
            centres[0] + 0.1 * torch.randn(300, 2, generator=generator),
            centres[1] + 0.1 * torch.randn(100, 2, generator=generator),
        ]
    )
    variance = torch.full((400, 2), 0.25)  # every posterior's own sigma 0.5
    weights, means, scales = mixture(mu, variance, components=2, iterations=10, seed=0)
    order = means[:, 0].argsort()
    assert torch.allclose(weights[order], torch.tensor([0.75, 0.25]))
    assert torch.allclose(means[order], centres, atol=0.05)
    assert torch.allclose(scales, torch.full((2, 2), (0.25 + 0.01) ** 0.5), atol=0.03)  # spread of μ and mean σ²


def test_training_resumes_after_the_run_is_killed(dataset, ray_session, tmp_path):
    config = tiny("chords", dataset, str(tmp_path), epochs=6, max_train_sequences=None)
    code = (
        "import sys\nfrom cues.schemas.training import TrainConfig\nfrom cues.pipelines.train.trainer import run\n"
        "run(TrainConfig.model_validate_json(sys.argv[1]))\n"
    )
    env = {**os.environ, "RAY_ADDRESS": ray_session["address"]}
    process = subprocess.Popen([sys.executable, "-c", code, config.model_dump_json()], env=env, start_new_session=True)
    store = open_store(str(tmp_path))
    deadline = time.monotonic() + 240
    try:
        # Ray Train has registered a checkpoint once its manager snapshot is written.
        while not any(k.endswith("checkpoint_manager_snapshot.json") for k in store.list("models/chords/")):
            assert time.monotonic() < deadline and process.poll() is None, "no checkpoint before the deadline"
            time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not any(k.endswith("_COMPLETE") for k in store.list("models/"))
    result = train(config)
    history = result.card["training"]["history"]
    assert result.card["training"]["epochs_run"] == 6 or result.card["training"]["stopped_early"]
    assert result.card["training"]["resumed"] >= 1
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
