"""Model bundles: a trained model's folder (``model.pt``, cards, ``_COMPLETE``) as ``cues train`` writes it, loaded for
generation and tests, and copied into a bundle; the default bundle ships in ``pipelines/models/default/``."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from cues.pipelines.models.chord_lstm import ChordLSTM
from cues.pipelines.models.melody_lstm import MelodyLSTM
from cues.pipelines.models.phrase_critic import PhraseCritic
from cues.pipelines.models.phrase_vae import PhraseVAE
from cues.pipelines.store import open_store
from cues.schemas.errors import ScoringError
from cues.schemas.training import CriticTrainConfig, TrainConfig

DEFAULT_BUNDLE = Path(__file__).resolve().parent / "default"  # melody/, vae/, chords/ and critic/, in the package


class ModelNotFound(ScoringError):
    """No finished model at this URI: train one with `cues train`, or point --model at an existing one."""


def build_model(config: TrainConfig) -> torch.nn.Module:
    """A fresh, untrained module of the kind ``config.model`` names."""
    if config.model == "melody":
        return MelodyLSTM(config.melody)
    if config.model == "chords":
        return ChordLSTM(config.chords)
    return PhraseVAE(config.vae)


def model_exists(uri: str) -> bool:
    """Whether a finished model (``_COMPLETE``) is at ``uri``: for the parts of a bundle that are optional."""
    return open_store(uri).exists("_COMPLETE")


def load_model(uri: str) -> tuple[torch.nn.Module, dict]:
    """The model at ``uri`` (…/models/<name>/<version>) in eval mode, and its bundle (config, vocabularies)."""
    store = open_store(uri)
    if not store.exists("_COMPLETE"):
        raise ModelNotFound(f"{uri} holds no finished model (no _COMPLETE); train one with `cues train`")
    bundle = torch.load(io.BytesIO(store.get_bytes("model.pt")), weights_only=False)
    if bundle["model"] == "critic":  # trained adversarially (pipelines/train/critic.py), with its own config
        model = PhraseCritic(CriticTrainConfig.model_validate(bundle["config"]).critic)
    else:
        model = build_model(TrainConfig.model_validate(bundle["config"]))
    model.load_state_dict(bundle["state_dict"])
    model.eval()
    return model, bundle


BUNDLE_FILES = ("model.pt", "card.json", "card.md")


def install_model(model_uri: str, bundle_uri: str, kind: str) -> str:
    """Copy the finished model at ``model_uri`` into ``<bundle_uri>/<kind>/`` (``_COMPLETE`` last, so a reader
    never takes a half-copied model); returns the copy's URI. The default bundle is ``pipelines/models/default``."""
    source = open_store(model_uri)
    if not source.exists("_COMPLETE"):
        raise ModelNotFound(f"{model_uri} holds no finished model (no _COMPLETE); train one with `cues train`")
    target = open_store(f"{bundle_uri.rstrip('/')}/{kind}")
    if target.exists("_COMPLETE"):
        target.delete("_COMPLETE")
    for name in BUNDLE_FILES:
        target.put_bytes(name, source.get_bytes(name))
    target.put_bytes("_COMPLETE", source.get_bytes("_COMPLETE"))
    return target.uri
