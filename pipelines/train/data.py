"""Training data from a finished dataset version in the store, as stacked numpy arrays per split."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np

from cues.pipelines.models import features
from cues.pipelines.store import open_store
from cues.schemas.errors import ScoringError
from cues.schemas.training import TrainConfig

SPLITS = ("train", "validation", "test")


class DatasetNotReady(ScoringError):
    """The dataset version is missing or incomplete (no _COMPLETE marker): run cues preprocess first."""


@dataclass
class Prepared:
    """Arrays per split (each a dict of equally long stacks) and what the model needs to know about them."""

    splits: dict[str, dict[str, np.ndarray]]
    chord_vocabulary: list[str]
    dataset_version: str
    sequences: dict[str, list[list[int]]]  # plain token sequences per split, for the n-gram baseline


def load_rows(dataset_uri: str, table: str) -> dict[str, list[dict]]:
    """Rows of ``melody`` or ``chords`` per split from a dataset version URI (…/datasets/<name>/<version>)."""
    import pyarrow.parquet as pq

    store = open_store(dataset_uri)
    if not store.exists("_COMPLETE"):
        raise DatasetNotReady(f"{dataset_uri} is not a finished dataset (no _COMPLETE); run `cues preprocess` first")
    rows: dict[str, list[dict]] = {}
    for split in SPLITS:
        rows[split] = []
        for key in store.list(f"{table}/{split}/"):
            rows[split].extend(pq.read_table(io.BytesIO(store.get_bytes(key))).to_pylist())
    return rows


def resolve_dataset(uri: str) -> str:
    """``uri`` itself when it is a finished dataset version, else the newest finished version inside it."""
    store = open_store(uri)
    if store.exists("_COMPLETE"):
        return store.uri
    versions = sorted({key.split("/")[0] for key in store.list() if key.endswith("/_COMPLETE") and key.count("/") == 1})
    if not versions:
        raise DatasetNotReady(f"no finished dataset at {uri}; run `cues preprocess` first")
    newest = max(versions, key=lambda v: json.loads(store.get_bytes(f"{v}/card.json"))["created"])
    return store.uri_for(newest)


def dataset_version(dataset_uri: str) -> str:
    return json.loads(open_store(dataset_uri).get_bytes("_COMPLETE"))["version"]


def _stack(pieces: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not pieces:
        return {}
    return {k: np.stack([p[k] for p in pieces]) for k in pieces[0]}


def prepare(config: TrainConfig) -> Prepared:
    """Windows (melody, chords) or phrases (vae) for every split, capped by ``max_train_sequences``."""
    table = "chords" if config.model == "chords" else "melody"
    rows = load_rows(config.dataset, table)
    cap = config.max_train_sequences
    if cap:
        rows = {split: r[:cap] if split == "train" else r[: max(cap // 4, 8)] for split, r in rows.items()}
    vocabulary = features.chord_vocabulary(rows["train"], config.melody.chords) if config.model == "melody" else []
    splits, sequences = {}, {}
    for split, split_rows in rows.items():
        if config.model == "melody":
            pieces = [
                w
                for row in split_rows
                for w in features.windows(
                    features.melody_steps(row, vocabulary, config.melody.max_steps_per_bar), config.window
                )
            ]
            sequences[split] = [row["tokens"] for row in split_rows if row.get("transpose", 0) == 0]
        elif config.model == "chords":
            cc = config.chords
            pieces = [
                w
                for row in split_rows
                for w in features.windows(
                    features.chord_beats(row, cc.max_beats_per_bar, cc.max_phrase_beats), config.window
                )
            ]
            sequences[split] = [row["chord_tokens"] for row in split_rows]
        else:
            phrases = [p for row in split_rows for p in features.phrases(row, config.vae.steps)]
            pieces = [{"tokens": p} for p in phrases]
            sequences[split] = [list(map(int, p)) for p in phrases]
        splits[split] = _stack(pieces)
    return Prepared(splits, vocabulary, dataset_version(config.dataset), sequences)
