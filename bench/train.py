"""Benchmark of training throughput: a plain PyTorch loop, Ray Train with 1 worker and with 2 workers, in one run.

Same model, same data, same batch size per worker; tokens/s from one epoch each. Prints a table and writes
``bench/results/train.json``. Target (issue 4): Ray overhead at 1 worker ≤ 10 %.

    python bench/train.py --dataset ./cue-store/datasets/folk-chorales --sequences 600
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cues.pipelines.models.bundle import build_model  # noqa: E402
from cues.pipelines.store import open_store  # noqa: E402
from cues.pipelines.train.data import prepare, resolve_dataset  # noqa: E402
from cues.pipelines.train.loop import batches, step_loss  # noqa: E402
from cues.pipelines.train.trainer import fit, ray_storage  # noqa: E402
from cues.schemas.training import TrainConfig  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def plain_loop(config: TrainConfig, data: dict) -> float:
    """Tokens per second of one epoch of the same loop without Ray."""
    torch.manual_seed(config.seed)
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    started, tokens, step = time.perf_counter(), 0, 0
    for batch in batches(data["train"], config.batch_size, np.random.default_rng(config.seed)):
        loss = step_loss(model, batch, config, step, 0.0)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        optimizer.step()
        step += 1
        tokens += int(batch["mask"].sum()) if "mask" in batch else batch["tokens"].numel()
    return tokens / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", default="melody", choices=["melody", "chords", "vae"])
    parser.add_argument("--sequences", type=int, default=600, help="training works used (default 600)")
    args = parser.parse_args()

    from cues.pipelines.ray_runtime import init_ray

    init_ray(num_cpus=2)
    with tempfile.TemporaryDirectory() as folder:
        config = TrainConfig(
            model=args.model,
            dataset=resolve_dataset(args.dataset),
            out=folder,
            epochs=1,
            max_train_sequences=args.sequences,
        )
        prepared = prepare(config)
        rows = [("plain PyTorch loop", plain_loop(config, prepared.splits))]
        for workers in (1, 2):
            run_config = config.model_copy(update={"workers": workers})
            path, fs = ray_storage(open_store(folder), f"bench-{workers}")
            result = fit(run_config, prepared, path, fs, run_name=f"bench-{workers}")
            rows.append((f"Ray Train, {workers} worker{'s' * (workers > 1)}", result.metrics["tokens_per_second"]))
    plain, one, two = (r[1] for r in rows)
    result = {
        "model": args.model,
        "sequences": args.sequences,
        "batch_size_per_worker": config.batch_size,
        "tokens_per_second": dict(rows),
        "ray_overhead_1_worker": plain / one - 1,
        "speedup_1_to_2_workers": two / one,
        "targets": {"ray_overhead": 0.10},
    }
    print(f"\n{'run':<24}{'tokens/s':>12}")
    for name, rate in rows:
        print(f"{name:<24}{rate:>12.0f}")
    print(
        f"\nRay overhead at 1 worker {100 * result['ray_overhead_1_worker']:+.1f} % (target ≤ 10 %); "
        f"1 → 2 workers {result['speedup_1_to_2_workers']:.2f}×"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
