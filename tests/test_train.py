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
from cues.schemas.config import PreprocessConfig
from cues.schemas.training import ChordLSTMConfig, MelodyLSTMConfig, PhraseVAEConfig, TrainConfig

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
