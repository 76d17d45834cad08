"""The phrase critic's run: find or train it (``critic.py``), and write ``model.pt``, its card and ``_COMPLETE``.

Layout under ``models/<name>/<version>/`` as ``trainer.py`` writes the other models (no ``ray/``: the critic trains
in one process in a few minutes). The version hashes the settings, the dataset version and the generator's model
versions, so re-running after the generator changes trains anew, and re-running unchanged returns at once.
"""

from __future__ import annotations

import io
import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime

import torch

from cues.pipelines.models.phrase_critic import PhraseCritic
from cues.pipelines.music.melody_tokens import NUM_TOKENS
from cues.pipelines.store import ObjectStore, open_store
from cues.pipelines.train.critic import Pool, real_phrases, train_rounds
from cues.pipelines.train.data import dataset_version
from cues.pipelines.train.loop import progress_log
from cues.pipelines.train.trainer import TrainResult
from cues.schemas.brief import canonical_hash
from cues.schemas.training import CriticTrainConfig

CRITIC_CODE_VERSION = "critic-2"  # 2: (d), the composer's own reranking
log = progress_log()
COMPOSER_ROW = "d_fresh_critic_real_vs_composer_with_critic"  # (d) of critic.py's docstring


def critic_version(config: CriticTrainConfig, data_version: str, generator: dict[str, str]) -> str:
    identity = config.model_dump(mode="json", exclude={"out", "dataset", "generator"})
    generator = {k: v for k, v in generator.items() if k != "critic"}  # the critic being replaced is not an input
    payload = {"code": CRITIC_CODE_VERSION, "config": identity, "data": data_version, "generator": generator}
    return "m-" + canonical_hash(payload)[:12]


def run(
    config: CriticTrainConfig,
    generator: dict[str, str],
    make_pool: Callable[[], Pool],
    compose_with: Callable[[PhraseCritic], Pool] | None = None,
) -> TrainResult:
    """Train (or find finished) the critic of the generator whose model versions are ``generator``; ``make_pool``
    composes its candidate phrases (called only when training is needed), ``compose_with`` the composer's own
    phrases with a given critic in it (for the card's (d))."""
    started = time.monotonic()
    data_version = dataset_version(config.dataset)
    version = critic_version(config, data_version, generator)
    name = config.name or "critic"
    store = open_store(config.out)
    prefix = f"models/{name}/{version}"
    if store.exists(f"{prefix}/_COMPLETE"):
        return TrainResult(store.uri, prefix, version, json.loads(store.get_bytes(f"{prefix}/card.json")), True)
    torch.manual_seed(config.seed)
    real = real_phrases(config.dataset, config.critic.steps, config.max_real_phrases, config.seed)
    pool_started = time.monotonic()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models and batch-1 composing: on a shared 2-core machine threads only wait
    try:
        pool = make_pool()
        pool_seconds = time.monotonic() - pool_started
        log.info("critic: %d slots of candidates composed in %.0f s", len(pool.groups), pool_seconds)
        critic, result = train_rounds(config, real, pool, compose_with)
    finally:
        torch.set_num_threads(threads)
    result["seconds"]["pool"] = round(pool_seconds, 1)
    bundle = {
        "model": "critic",
        "config": config.model_dump(mode="json"),
        "state_dict": critic.state_dict(),
        "dataset_version": data_version,
        "generator": generator,
        "version": version,
        "torch": torch.__version__,
    }
    card = {
        "name": name,
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": "critic",
        "dataset": config.dataset,
        "dataset_version": data_version,
        "generator": generator,
        "config": config.model_dump(mode="json", exclude={"out", "dataset"}),
        "parameters": sum(p.numel() for p in critic.parameters()),
        **result,
        "reranking_cost": reranking_cost(critic),
        "training": {
            "wall_seconds": round(time.monotonic() - started, 1),
            "hardware": {"cpus": os.cpu_count(), "machine": platform.machine(), "gpu": torch.cuda.is_available()},
        },
    }
    card = write_model(store, prefix, bundle, card, render_card(card))
    return TrainResult(store.uri, prefix, version, card, False)


def write_model(store: ObjectStore, prefix: str, bundle: dict, card: dict, card_md: str) -> dict:
    """``model.pt`` (``bundle``: model kind, config, weights, version), ``card.json`` (``card`` and the weights'
    size and hash), ``card.md``, then ``_COMPLETE``: a model directory ``load_model`` reads. Returns the card."""
    buffer = io.BytesIO()
    torch.save(bundle, buffer)
    weights = store.put_bytes(f"{prefix}/model.pt", buffer.getvalue())
    card = card | {"files": {"model.pt": {"bytes": weights.size, "sha256": weights.sha256}}}
    store.put_bytes(f"{prefix}/card.json", json.dumps(card, indent=2).encode(), content_type="application/json")
    store.put_bytes(f"{prefix}/card.md", card_md.encode(), content_type="text/markdown")
    store.put_bytes(f"{prefix}/_COMPLETE", json.dumps({"version": bundle["version"]}).encode())
    return card


def reranking_cost(critic, candidates: int = 8, repeats: int = 200) -> dict:
    """CPU milliseconds of one reranking call on one thread, as in the composer: the batched forward pass that
    ``pipelines/compose/rerank.critic_logits`` makes, from token lists."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    phrases = torch.randint(0, NUM_TOKENS, (candidates, critic.config.steps), generator=generator).tolist()
    try:
        with torch.no_grad():
            critic(torch.tensor(phrases))  # warm-up
            started = time.process_time()
            for _ in range(repeats):
                critic(torch.tensor(phrases, dtype=torch.long))
        milliseconds = (time.process_time() - started) / repeats * 1000
    finally:
        torch.set_num_threads(threads)
    return {"candidates": candidates, "steps": critic.config.steps, "cpu_ms_per_call": round(milliseconds, 2)}


def render_card(card: dict) -> str:
    evaluation, data = card["evaluation"], card["data"]
    rows = [
        ("(a) round-0 critic: real vs raw candidates", evaluation["a_round0_critic_real_vs_raw"]),
        (
            "(a') fresh critic: real vs one raw candidate per slot",
            evaluation["a_fresh_critic_real_vs_one_raw_per_slot"],
        ),
        ("(b) shipped critic: real vs the phrases it reranked", evaluation["b_shipped_critic_real_vs_its_reranked"]),
        ("(c) fresh critic: real vs reranked (the honest after)", evaluation["c_fresh_critic_real_vs_reranked"]),
        *(
            [("(d) fresh critic: real vs the composer's own lead, critic inside", evaluation[COMPOSER_ROW])]
            if COMPOSER_ROW in evaluation
            else []
        ),
        ("logistic baseline before: real vs raw", evaluation["logistic_before_real_vs_raw"]),
        ("logistic baseline after: real vs reranked", evaluation["logistic_after_real_vs_reranked"]),
    ]
    sources = sorted({s for _, r in rows for s in r["generated_called_generated"]})
    lines = [
        f"# Model `{card['name']}` {card['version']} (phrase critic)",
        "",
        f"A 1-D CNN ({card['parameters']:,} parameters) that tells real 32-step melody phrases from the composer's, "
        f"trained adversarially in {len(card['rounds'])} rounds against the generator "
        + ", ".join(f"{k} {v}" for k, v in sorted(card["generator"].items()))
        + f", on dataset {card['dataset_version']}. Trained in {card['training']['wall_seconds']} s "
        f"(pool {card['seconds']['pool']} s, rounds {card['seconds']['adversarial']} s, "
        f"all fits {card['seconds']['all']} s) on {card['training']['hardware']}.",
        "",
        "## Data",
        "",
        f"- real phrases: {data['real_phrases']['train']} training (from {data['real_works']['train']} works), "
        f"{data['real_phrases']['held_out']} held out (from {data['real_works']['held_out']} other works)",
        f"- generated slots of {data['candidates_per_slot']} candidates: {data['slots']['train']} training, "
        f"{data['slots']['held_out']} held out ({data['groups']['held_out']} of "
        f"{data['groups']['train'] + data['groups']['held_out']} cues or raw blocks); by source "
        + "; ".join(f"{side} {counts}" for side, counts in data["slots_by_source"].items()),
        "",
        "## Held-out accuracy (balanced; 0.5 = cannot tell real from generated)",
        "",
        "| critic, data | accuracy | real called real | " + " | ".join(f"{s} called generated" for s in sources) + " |",
        "|---|---|---|" + "---|" * len(sources),
    ]
    for label, result in rows:
        called = result["generated_called_generated"]
        lines.append(
            f"| {label} | {result['accuracy']} | {result['real_called_real']} | "
            + " | ".join(str(called.get(s, "")) for s in sources)
            + " |"
        )
    target = evaluation["target"]
    lines += [
        "",
        f"Target: (c) ≤ {target['c_at_most']}: {'met' if target['met'] else 'NOT met'}."
        + (
            f" What the composer really ships, (d): {evaluation[COMPOSER_ROW]['accuracy']}."
            if COMPOSER_ROW in evaluation
            else ""
        ),
        "",
        "## Rounds",
        "",
        "| round | trained against | generated phrases | held-out accuracy |",
        "|---|---|---|---|",
    ]
    for r in card["rounds"]:
        lines.append(
            f"| {r['round']} | {r['trained_against']} | {r['generated_train']} | {r['held_out']['accuracy']} |"
        )
    cost, logits = card["reranking_cost"], card["shipped_logits"]
    lines += [
        "",
        "## Reranking",
        "",
        f"One call scores {cost['candidates']} candidates of {cost['steps']} steps in {cost['cpu_ms_per_call']} ms "
        f"of CPU (one thread). The shipped critic's logits on held-out generated candidates: mean "
        f"{logits['generated_mean']}, sd {logits['generated_sd']}; within a slot they span "
        f"{logits['within_slot_range_mean']} on average (pipelines/compose/rerank.py weighs them).",
    ]
    return "\n".join(lines) + "\n"
