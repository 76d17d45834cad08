"""Mood from the melody alone (issue 15): can a simple classifier tell a cue's mood family from its melody notes and
tempo? If the melodies of different moods are interchangeable, it cannot; the target is ≥ 0.65 over 5 families.

Features (:data:`FEATURES`) come from the melody notes, the grid and the tempo only, never from the plan's mood,
ensemble or velocity; they are standardised on the training fold. The classifier is a multinomial logistic
regression (softmax, L2 penalty) fitted by full-batch gradient descent from zero weights, so it is deterministic;
it is evaluated leave-one-out. Used by ``bench/quality.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cues.pipelines.compose.musicality import chromatic_share, interval_stats, top_line
from cues.pipelines.compose.score import Note
from cues.schemas.key import Mode

#: Mood → family (issue 15's five families).
FAMILIES: dict[str, str] = {
    **dict.fromkeys(("happy", "playful", "uplifting"), "bright"),
    **dict.fromkeys(("triumphant", "epic", "action"), "heroic"),
    **dict.fromkeys(("tense", "suspense", "dark", "mysterious"), "tense"),
    **dict.fromkeys(("sad", "melancholic", "romantic"), "tender"),
    **dict.fromkeys(("calm", "dreamy"), "calm"),
}
FAMILY_NAMES = ("bright", "heroic", "tense", "tender", "calm")
FEATURES = (
    "mean_abs_interval",  # semitones
    "leap_share",  # intervals wider than a whole tone
    "large_leap_share",  # a fifth or wider
    "repeated_note_share",
    "direction_change_share",
    "contour_slope",  # mean signed interval, semitones
    "ascending_share",  # of non-zero intervals
    "register_mean",  # MIDI
    "register_range",  # semitones, 5th to 95th percentile
    "notes_per_second",
    "notes_per_bar",
    "mean_length_beats",
    "length_spread",  # standard deviation of note lengths / their mean
    "short_share",  # notes of at most a 16th
    "long_share",  # notes of a beat or more
    "rest_share",  # grid steps without a melody note
    "syncopation",  # onsets off the beat held across the next beat
    "off_beat_share",  # onsets that do not start a beat
    "chromatic_share",  # against the major scale of the tonic, see below
    "third_quality",  # (major 3rds − minor 3rds) / (both + 1), counted on the tonic
    "sixth_quality",  # (major 6ths − minor 6ths) / (both + 1)
    "second_quality",  # (major 2nds − minor 2nds) / (both + 1): the phrygian ♭2
    "tritone_share",  # notes on the ♯4/♭5
    "tempo_bpm",
)
L2 = 0.05  # penalty on the weights (standardised features): small, the families are few and the features many
STEPS = 2000  # gradient steps
RATE = 0.5


def melody_features(
    melody: Sequence[Note], steps_per_beat: int, steps_per_bar: int, tempo_bpm: float, tonic: int
) -> np.ndarray:
    """The :data:`FEATURES` of one melody (grid steps; ``tonic`` a pitch class), in that order."""
    line = np.array(top_line(melody), dtype=float)
    steps = np.diff(line) if len(line) > 1 else np.zeros(1)
    moving = steps[steps != 0]
    motion = interval_stats(melody)
    lengths = np.array([n.end - n.start for n in melody], dtype=float)
    total = max((n.end for n in melody), default=1)
    sounding = np.zeros(total, dtype=bool)
    for note in melody:
        sounding[note.start : note.end] = True
    seconds = total / steps_per_beat * 60 / tempo_bpm  # tempo in the meter's beats (6/8: dotted quarters)
    off_beat = [n for n in melody if n.start % steps_per_beat]
    syncopated = [n for n in off_beat if n.end > (n.start // steps_per_beat + 1) * steps_per_beat]
    degrees = np.bincount([(n.pitch - tonic) % 12 for n in melody], minlength=12)
    pitches = np.array([n.pitch for n in melody], dtype=float)
    mean_length = lengths.mean() if len(lengths) else 0.0
    return np.array(
        [
            motion.mean_abs_interval or 0.0,
            float((np.abs(steps) > 2).mean()),
            float((np.abs(steps) >= 7).mean()),
            motion.repeated_note_share or 0.0,
            motion.direction_change_share or 0.0,
            float(steps.mean()),
            float((moving > 0).mean()) if len(moving) else 0.5,
            float(pitches.mean()) if len(pitches) else 0.0,
            float(np.subtract(*np.percentile(pitches, [95, 5]))) if len(pitches) else 0.0,
            len(melody) / seconds,
            len(melody) / max(total / steps_per_bar, 1),
            mean_length / steps_per_beat,
            float(lengths.std() / mean_length) if mean_length else 0.0,
            float((lengths <= 1).mean()) if len(lengths) else 0.0,
            float((lengths >= steps_per_beat).mean()) if len(lengths) else 0.0,
            1 - float(sounding.mean()),
            len(syncopated) / max(len(melody), 1),
            len(off_beat) / max(len(melody), 1),
            chromatic_share(melody, tonic, Mode.major) or 0.0,
            (degrees[4] - degrees[3]) / (degrees[4] + degrees[3] + 1),
            (degrees[9] - degrees[8]) / (degrees[9] + degrees[8] + 1),
            (degrees[2] - degrees[1]) / (degrees[2] + degrees[1] + 1),
            degrees[6] / max(len(melody), 1),
            tempo_bpm,
        ]
    )


@dataclass
class SoftmaxRegression:
    """Multinomial logistic regression on standardised features; ``fit`` then ``predict``."""

    l2: float = L2
    steps: int = STEPS
    rate: float = RATE

    def fit(self, x: np.ndarray, y: np.ndarray, classes: int) -> SoftmaxRegression:
        """``x`` (N, F) features, ``y`` (N,) class indices 0..classes-1."""
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0)
        self.scale[self.scale == 0] = 1.0  # a constant feature carries nothing; leave it at 0
        z = (x - self.mean) / self.scale
        targets = np.eye(classes)[y]  # (N, C)
        self.weights, self.bias = np.zeros((x.shape[1], classes)), np.zeros(classes)
        for _ in range(self.steps):
            error = _softmax(z @ self.weights + self.bias) - targets  # (N, C)
            self.weights -= self.rate * (z.T @ error / len(z) + self.l2 * self.weights)
            self.bias -= self.rate * error.mean(axis=0)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax((x - self.mean) / self.scale @ self.weights + self.bias, axis=1)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    chance: float  # the majority class's share: what always guessing it scores
    confusion: np.ndarray  # (C, C): row = true class, column = predicted


def leave_one_out(x: np.ndarray, y: np.ndarray, classes: int, l2: float = L2) -> Evaluation:
    """Each sample predicted by a model fitted on all the others."""
    predicted = np.array(
        [
            SoftmaxRegression(l2).fit(np.delete(x, i, axis=0), np.delete(y, i), classes).predict(x[i : i + 1])[0]
            for i in range(len(y))
        ]
    )
    confusion = np.zeros((classes, classes), dtype=int)
    np.add.at(confusion, (y, predicted), 1)
    return Evaluation(float((predicted == y).mean()), float(np.bincount(y).max() / len(y)), confusion)


def confusion_table(evaluation: Evaluation, names: Sequence[str] = FAMILY_NAMES) -> str:
    """The confusion matrix as text: one row per true family, one column per predicted family."""
    width = max(len(n) for n in names) + 2
    rows = ["true \\ predicted".ljust(18) + "".join(n.rjust(width) for n in names)]
    for name, counts in zip(names, evaluation.confusion, strict=True):
        rows.append(name.ljust(18) + "".join(str(c).rjust(width) for c in counts))
    return "\n".join(rows)
