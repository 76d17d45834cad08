"""The fast proxy for issue 15's critic: the rhythm of the phrase VAE's greedy decodes, by where the latent points
are drawn (``pipelines/train/vae_prior.py``), beside the real phrases the critic reads.

The shipped VAE's weights (``--models``' ``vae/``, its own prior ignored) decode ``--probe`` latent points drawn from
N(0, I) and from mixtures of K diagonal Gaussians fitted to the posteriors of the dataset's training phrases, for
each K of ``--components``; the posteriors themselves (each phrase's μ + σε, one per phrase) are the ceiling, and
near-copies of the phrases they come from (the share of tokens equal to the source phrase's is printed). Per row:
onsets per 32 steps, sixteenth notes and notes of 8+ steps (of notes), onsets on a beat and on an odd 16th, the sd
of note lengths; the logistic baseline (``critic_baseline.py``, real vs the decodes, held-out works) as a
one-second critic. Writes ``bench/results/vae_prior.json``.

    python bench/vae_prior.py --dataset /work/store27/datasets/folk-chorales [--components 8 32 128] [--probe 2048]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from critic_phrases import latest_version

from cues.pipelines.models.bundle import DEFAULT_BUNDLE, load_model
from cues.pipelines.train.critic import balanced_accuracy, real_phrases
from cues.pipelines.train.critic_baseline import LogisticBaseline
from cues.pipelines.train.vae_prior import decodes, mixture, posteriors, rhythm_statistics

RESULTS = Path(__file__).parent / "results"
FIGURES = (
    ("onsets", "onsets_per_phrase"),
    ("16ths", "sixteenth_notes"),
    ("8+ steps", "notes_of_8_steps_or_more"),
    ("on a beat", "onsets_on_a_beat"),
    ("odd 16th", "onsets_on_an_odd_16th"),
    ("sd lengths", "sd_of_note_lengths"),
)


def logistic_accuracy(real_train: np.ndarray, real_held: np.ndarray, decoded: np.ndarray) -> float:
    """The logistic baseline fitted on real vs the first half of ``decoded``, judged on held-out real vs the rest."""
    half = len(decoded) // 2
    baseline = LogisticBaseline().fit(real_train, decoded[:half])
    return balanced_accuracy(baseline.logits(real_held), baseline.logits(decoded[half:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--models", default=str(DEFAULT_BUNDLE))
    parser.add_argument("--components", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--probe", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = latest_version(args.dataset)
    real = real_phrases(dataset, 32, 20000, args.seed)
    vae, bundle = load_model(f"{args.models.rstrip('/')}/vae")
    started = time.process_time()
    mu, variance = posteriors(vae, real.train)
    encode_seconds = time.process_time() - started
    generator = torch.Generator().manual_seed(args.seed)
    rows = {"real (held-out works)": {"rhythm": rhythm_statistics(real.held_out)}}

    def measure(name: str, z: torch.Tensor, source: np.ndarray | None = None) -> None:
        started = time.process_time()
        decoded = decodes(vae, z)
        row = {"rhythm": rhythm_statistics(decoded), "decode_cpu_s": round(time.process_time() - started, 2)}
        row["logistic"] = logistic_accuracy(real.train, real.held_out, decoded)
        if source is not None:
            row["tokens_as_source"] = round(float((decoded == source).mean()), 3)
        rows[name] = row
        print(name, row, flush=True)

    measure("N(0, I)", torch.randn(args.probe, vae.config.latent, generator=generator))
    for k in args.components:
        started = time.process_time()
        weights, means, scales = mixture(mu, variance, k, 25, args.seed)
        fit_seconds = time.process_time() - started
        component = torch.multinomial(weights, args.probe, replacement=True, generator=generator)
        noise = torch.randn(args.probe, vae.config.latent, generator=generator)
        measure(f"mixture K={len(weights)}", means[component] + scales[component] * noise)
        rows[f"mixture K={len(weights)}"]["fit_cpu_s"] = round(fit_seconds, 2)
    pick = torch.randint(0, len(mu), (args.probe,), generator=generator)
    noise = torch.randn(args.probe, vae.config.latent, generator=generator)
    measure("posteriors (μ + σε)", mu[pick] + variance[pick].sqrt() * noise, real.train[pick.numpy()])
    pair = torch.randint(0, len(mu), (args.probe,), generator=generator)
    chance = round(float((real.train[pick.numpy()] == real.train[pair.numpy()]).mean()), 3)

    print(
        f"\nVAE {bundle['version']}, {len(real.train)} real training phrases encoded in {encode_seconds:.1f} CPU s; "
        f"{args.probe} latent points per row, greedy decodes"
    )
    print("| latent points | " + " | ".join(label for label, _ in FIGURES) + " | logistic (real vs decodes) |")
    print("|---|" + "---|" * (len(FIGURES) + 1))
    for name, row in rows.items():
        figures = " | ".join(str(row["rhythm"][key]) for _, key in FIGURES)
        print(f"| {name} | {figures} | {row.get('logistic', '')} |")
    print(
        f"\nposterior decodes share {rows['posteriors (μ + σε)']['tokens_as_source']} of their tokens with the "
        f"phrase they come from; two random real phrases share {chance}"
    )
    RESULTS.mkdir(exist_ok=True)
    result = {"vae": bundle["version"], "dataset": dataset, "probe": args.probe, "rows": rows, "chance_tokens": chance}
    (RESULTS / "vae_prior.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
