"""Loading a trained model from the store (``model.pt`` written by ``cues train``), for generation and tests."""

from __future__ import annotations

import io

import torch

from pipelines.train.loop import build_model
from schemas.errors import ScoringError
from schemas.training import TrainConfig
from services.store import open_store


class ModelNotFound(ScoringError):
    """No finished model at this URI: train one with `cues train`, or point --model at an existing one."""


def load_model(uri: str) -> tuple[torch.nn.Module, dict]:
    """The model at ``uri`` (…/models/<name>/<version>) in eval mode, and its bundle (config, vocabularies)."""
    store = open_store(uri)
    if not store.exists("_COMPLETE"):
        raise ModelNotFound(f"{uri} holds no finished model (no _COMPLETE); train one with `cues train`")
    bundle = torch.load(io.BytesIO(store.get_bytes("model.pt")), weights_only=False)
    model = build_model(TrainConfig.model_validate(bundle["config"]))
    model.load_state_dict(bundle["state_dict"])
    model.eval()
    return model, bundle
