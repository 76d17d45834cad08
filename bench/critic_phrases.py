"""What tells the composer's phrases from real ones (issue 15's phrase critic): simple statistics side by side.

The phrases are those the critic reads (``pipelines/train/critic.py``): 32-step windows on each bar line, real ones
from the dataset's untransposed 4/4, 2/2 and 2/4 melodies, the composer's from the lead of the critic's varied briefs
(``phrase_pool.critic_briefs``), composed once per seed without a critic (what the critic's pool calls raw) and with
the bundle's critic (what the composer ships). Per side: onsets per phrase, rest share, range, the interval
histogram (steps, repeats, leaps of a fourth or more), direction changes, how phrases start (an onset, a note tied
over the bar line, a rest) and end (the last note's length and degree), and the onset grid (on the beat, on the
off-eighth, on a sixteenth); then the logistic baseline's heaviest features (``critic_baseline.py``, real vs raw).

    python bench/critic_phrases.py [--briefs 32] [--seeds 2] [--dataset /work/store22/datasets/folk-chorales]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.phrase_pool import bar_windows, critic_briefs, melody_phrase_tokens
from cues.pipelines.music.melody_tokens import FIRST_NOTE, HOLD, REST
from cues.pipelines.train.critic import real_phrases
from cues.pipelines.train.critic_baseline import LogisticBaseline

log = logging.getLogger("bench.critic_phrases")

#: The logistic baseline's features, in ``critic_baseline.hand_features``'s order.
BASELINE_FEATURES = (
    "onset share", "rest share", "hold share", "mean |interval|", "max |interval|", "repeat share", "step share",
    "leap ≥ 4th share", "direction changes", "range", "distinct pitches", "onsets on a beat", "onsets on odd 16ths",
    "mean length", "sd length", "longest", *(f"degree {d}" for d in range(12)),
)  # fmt: skip


def phrase_notes(tokens) -> list[tuple[int, int, int]]:
    """(start, length, relative pitch) of each onset of a phrase; a note ends at the next onset or a rest."""
    onsets = [(i, t - FIRST_NOTE) for i, t in enumerate(tokens) if t >= FIRST_NOTE]
    notes = []
    for index, (start, pitch) in enumerate(onsets):
        stop = onsets[index + 1][0] if index + 1 < len(onsets) else len(tokens)
        end = start + 1
        while end < stop and tokens[end] == HOLD:
            end += 1
        notes.append((start, end - start, pitch))
    return notes


def phrase_statistics(phrases: np.ndarray) -> dict:
    """Means over phrases (shares in 0–1, sizes in semitones or 16th steps) and pooled histograms."""
    per_phrase: dict[str, list[float]] = {k: [] for k in ("onsets", "rest share", "range", "direction changes")}
    intervals, lengths, grid, starts, ends, last_lengths = Counter(), Counter(), Counter(), Counter(), Counter(), []
    for tokens in phrases:
        notes = phrase_notes(tokens)
        pitches = [p for _, _, p in notes]
        steps = np.diff(pitches)
        moves = steps[steps != 0]
        per_phrase["onsets"].append(len(notes))
        per_phrase["rest share"].append(float(np.mean(np.asarray(tokens) == REST)))
        per_phrase["range"].append(max(pitches) - min(pitches))
        turns = np.sign(moves[1:]) != np.sign(moves[:-1])
        per_phrase["direction changes"].append(float(turns.mean()) if len(moves) > 1 else 0.0)
        intervals.update(
            "repeat" if s == 0 else "step" if abs(s) <= 2 else "third" if abs(s) <= 4 else "leap" for s in steps
        )
        lengths.update(min(n, 8) for _, n, _ in notes)
        grid.update("beat" if s % 4 == 0 else "eighth" if s % 2 == 0 else "sixteenth" for s, _, _ in notes)
        starts["onset" if tokens[0] >= FIRST_NOTE else "tied" if tokens[0] == HOLD else "rest"] += 1
        ends[pitches[-1] % 12] += 1
        last_lengths.append(notes[-1][1])

    def shares(counter: Counter) -> dict:
        total = sum(counter.values())
        return {str(k): round(v / total, 3) for k, v in sorted(counter.items(), key=lambda kv: str(kv[0]))}

    return {
        "phrases": len(phrases),
        **{k: round(float(np.mean(v)), 3) for k, v in per_phrase.items()},
        "intervals": shares(intervals),
        "note lengths (16ths, 8 = 8 or more)": shares(lengths),
        "onset grid": shares(grid),
        "first step": shares(starts),
        "last note's degree": shares(ends),
        "last note's length": round(float(np.mean(last_lengths)), 2),
    }


def composed_phrases(models: ComposerModels, briefs: int, seeds: int) -> np.ndarray:
    """The bar-line windows of the lead of ``briefs`` critic briefs, each composed with ``seeds`` seeds."""
    phrases = []
    for brief in critic_briefs(briefs):
        for seed in range(seeds):
            cue = compose_cue(brief, seed, None, models)
            tokens = melody_phrase_tokens(cue.score.parts["lead"], cue.plan.tonic, cue.plan.total_steps)
            phrases += bar_windows(tokens, cue.plan.steps_per_bar).values()
    return np.asarray(phrases, dtype=np.int64)


def latest_version(dataset: str) -> str:
    """``dataset`` itself when it is one version (it has ``_COMPLETE``), else a dataset's folder's latest version."""
    if not (Path(dataset) / "_COMPLETE").exists() and Path(dataset).is_dir():
        return str(max(Path(dataset).glob("v-*"), key=lambda p: p.stat().st_mtime))
    return dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--briefs", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--dataset", default="/work/store22/datasets/folk-chorales")
    parser.add_argument("--models", default=None, help="model bundle folder (default: the shipped bundle)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)  # batch-1 model steps, as in the composer's actors
    dataset = latest_version(args.dataset)
    real = real_phrases(dataset, 32, 20000, 0)
    models = ComposerModels.load(args.models)
    sides = {
        "real": np.concatenate([real.train, real.held_out]),
        "composed, raw": composed_phrases(dataclasses.replace(models, critic=None), args.briefs, args.seeds),
    }
    if models.critic is not None:
        sides["composed, with the critic"] = composed_phrases(models, args.briefs, args.seeds)
    result = {side: phrase_statistics(phrases) for side, phrases in sides.items()}
    baseline = LogisticBaseline().fit(real.train, sides["composed, raw"])
    weights = baseline.weights[:-1].numpy()
    heaviest = np.argsort(-np.abs(weights))[:8]
    result["logistic weights, + = real (standardised)"] = {
        BASELINE_FEATURES[i]: round(float(weights[i]), 2) for i in heaviest
    }
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
