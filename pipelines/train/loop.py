"""The training loop each Ray Train worker runs (plain PyTorch; Ray only wraps it in ``trainer.py``).

Every epoch ends with a validation pass and a checkpoint (model, optimizer, epoch, best loss, patience); a run that
was interrupted resumes from its last checkpoint. Seeds are fixed per epoch, so a CPU run is reproducible.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import tempfile
import time

import numpy as np
import torch

from cues.pipelines.models.bundle import build_model
from cues.schemas.training import TrainConfig


def progress_log() -> logging.Logger:
    """A logger that reaches the driver's console from a Ray Train worker (Ray forwards workers' stderr)."""
    log = logging.getLogger("cues.train")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def batches(arrays: dict[str, np.ndarray], size: int, rng: np.random.Generator | None, rank: int = 0, world: int = 1):
    """Tensor batches of this worker's shard (every ``world``-th item from ``rank``), shuffled when ``rng`` is given."""
    count = len(next(iter(arrays.values())))
    order = rng.permutation(count) if rng is not None else np.arange(count)
    order = order[rank::world]
    for start in range(0, len(order), size):
        index = order[start : start + size]
        yield {k: torch.as_tensor(v[index]) for k, v in arrays.items()}


def step_loss(model, batch: dict[str, torch.Tensor], config: TrainConfig, step: int, epoch_share: float):
    """Loss of one batch; the VAE anneals beta over ``kl_anneal_steps`` and raises scheduled sampling over training."""
    if config.model == "vae":
        vae = config.vae
        beta = vae.beta * min(1.0, step / max(1, vae.kl_anneal_steps))
        return model(batch["tokens"], beta=beta, sampling_rate=vae.sampling_max * epoch_share)[1]
    return model(batch)[1]


@torch.no_grad()
def validation_loss(model, arrays: dict[str, np.ndarray], config: TrainConfig) -> float:
    model.eval()
    total, count = 0.0, 0
    for batch in batches(arrays, 256, None):
        size = len(next(iter(batch.values())))
        loss = model(batch["tokens"], beta=config.vae.beta)[1] if config.model == "vae" else model(batch)[1]
        total += float(loss) * size
        count += size
    model.train()
    return total / max(count, 1)


def train_loop(loop_config: dict) -> None:
    """Ray Train's ``train_loop_per_worker``: ``loop_config`` holds the TrainConfig (JSON) and the data's ref."""
    import ray
    import ray.train
    import ray.train.torch

    config = TrainConfig.model_validate(loop_config["config"])
    data = ray.get(loop_config["data"]) if isinstance(loop_config["data"], ray.ObjectRef) else loop_config["data"]
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    torch.manual_seed(config.seed)
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    state = {"epoch": 0, "step": 0, "best": math.inf, "stale": 0, "history": []}
    best_weights = None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:  # a resumed run: continue after the last finished epoch
        with checkpoint.as_directory() as folder:
            saved = torch.load(os.path.join(folder, "state.pt"), weights_only=False)
            best_weights = torch.load(os.path.join(folder, "best.pt"), weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state = saved["state"]
        state["resumes"] = state.get("resumes", 0) + 1
    model = ray.train.torch.prepare_model(model)
    core = model.module if hasattr(model, "module") else model

    while state["epoch"] < config.epochs and state["stale"] < config.patience:
        epoch = state["epoch"]
        started, tokens, total_loss, seen = time.perf_counter(), 0, 0.0, 0
        rng = np.random.default_rng(config.seed + epoch)
        for batch in batches(data["train"], config.batch_size, rng, rank, world):
            loss = step_loss(model, batch, config, state["step"], epoch / max(1, config.epochs - 1))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
            optimizer.step()
            state["step"] += 1
            size = len(next(iter(batch.values())))
            total_loss += loss.item() * size
            seen += size
            tokens += int(batch["mask"].sum()) if "mask" in batch else batch["tokens"].numel()
        train_seconds = time.perf_counter() - started  # throughput excludes the validation pass
        val = validation_loss(core, data["validation"], config)
        improved = val < state["best"] - 1e-4
        state["best"] = min(state["best"], val)
        state["stale"] = 0 if improved else state["stale"] + 1
        state["epoch"] = epoch + 1
        if improved or best_weights is None:
            best_weights = {k: v.detach().clone() for k, v in core.state_dict().items()}
        seconds = time.perf_counter() - started
        metrics = {
            "epoch": epoch + 1,
            "train_loss": total_loss / max(seen, 1),
            "validation_loss": val,
            "tokens_per_second": tokens * world / train_seconds,
            "seconds": seconds,
            "improved": improved,
        }
        state["history"].append(metrics)
        if rank == 0:
            progress_log().info(
                "%s epoch %d/%d: train loss %.4f, validation loss %.4f%s, %.0f tokens/s, %.0f s",
                config.model,
                epoch + 1,
                config.epochs,
                metrics["train_loss"],
                val,
                " (best)" if improved else f" (no better for {state['stale']})",
                metrics["tokens_per_second"],
                seconds,
            )
        with tempfile.TemporaryDirectory() as folder:
            if rank == 0:
                payload = {"model": core.state_dict(), "optimizer": optimizer.state_dict(), "state": state}
                torch.save(payload, os.path.join(folder, "state.pt"))
                torch.save(best_weights, os.path.join(folder, "best.pt"))
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder) if rank == 0 else None)
