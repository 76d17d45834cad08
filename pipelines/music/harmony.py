"""Keys and chords from notes: a Krumhansl–Schmuckler key finder, per-bar chord estimates for melodies, and chord
progressions of four-part chorales. Pure numpy on pitch classes and durations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cues.schemas.key import MODE_INTERVALS, Mode

# Krumhansl & Kessler (1982) probe-tone profiles, C major / C minor.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Church modes are rotations of the major scale: the parent major's tonic lies this many semitones below the mode's.
_PARENT_OFFSET = {Mode.major: 0, Mode.dorian: 2, Mode.phrygian: 4, Mode.lydian: 5, Mode.mixolydian: 7}

# Chord qualities: (name, intervals above the root, suffix, lower-case numeral?)
QUALITIES: tuple[tuple[str, tuple[int, ...], str, bool], ...] = (
    ("major", (0, 4, 7), "", False),
    ("minor", (0, 3, 7), "", True),
    ("diminished", (0, 3, 6), "°", True),
    ("augmented", (0, 4, 8), "+", False),
    ("dominant7", (0, 4, 7, 10), "7", False),
    ("minor7", (0, 3, 7, 10), "7", True),
    ("half-diminished7", (0, 3, 6, 10), "ø7", True),
    ("diminished7", (0, 3, 6, 9), "°7", True),
)
NO_CHORD = 0
# Semitones above the tonic of the degrees minor's melody alters (melodic minor raises the 6th and 7th)
FLAT_SIX, RAISED_SIX, FLAT_SEVEN, LEADING_TONE = 8, 9, 10, 11
CLASH_INTERVALS = (1, 11)  # pitch-class distances that clash: a semitone or minor 9th, a major 7th
CHORD_CLASSES = 1 + 12 * len(QUALITIES)  # 97: "no chord" + 12 roots × 8 qualities, relative to the tonic

_NUMERALS = ("I", "II", "III", "IV", "V", "VI", "VII")


def pitch_class_histogram(pitches: Sequence[int], weights: Sequence[float]) -> np.ndarray:
    hist = np.zeros(12)
    for pitch, weight in zip(pitches, weights, strict=True):
        hist[pitch % 12] += weight
    return hist


def _correlation(hist: np.ndarray, profile: np.ndarray) -> float:
    if hist.std() == 0:
        return 0.0
    return float(np.corrcoef(hist, profile)[0, 1])


def key_correlation(hist: np.ndarray, tonic: int, mode: Mode) -> float:
    """Pearson correlation of a pitch-class histogram with the key's profile (modes use their parent major's)."""
    if mode == Mode.minor:
        return _correlation(hist, np.roll(MINOR_PROFILE, tonic))
    return _correlation(hist, np.roll(MAJOR_PROFILE, (tonic - _PARENT_OFFSET[mode]) % 12))


def estimate_key(hist: np.ndarray, candidates: Sequence[tuple[int, Mode]] | None = None) -> tuple[int, Mode, float]:
    """The best-correlated (tonic, mode) among ``candidates`` (default: the 24 major and minor keys)."""
    if candidates is None:
        candidates = [(t, m) for m in (Mode.major, Mode.minor) for t in range(12)]
    scored = [(key_correlation(hist, t, m), -i, t, m) for i, (t, m) in enumerate(candidates)]
    correlation, _, tonic, mode = max(scored)
    return tonic, mode, correlation


# --- chords ---------------------------------------------------------------------------------------------------


def roman(root_interval: int, quality: int, mode: Mode) -> str:
    """A key-relative Roman numeral: ``V7``, ``ii``, ``vii°``, ``bVII``, ``#iv°``."""
    scale = MODE_INTERVALS[mode]
    name, _, suffix, lower = QUALITIES[quality]
    if root_interval in scale:
        prefix, numeral = "", _NUMERALS[scale.index(root_interval)]
    elif root_interval != 6 and (root_interval + 1) % 12 in scale:  # a lowered degree: bII, bVI, bVII …
        prefix, numeral = "b", _NUMERALS[scale.index((root_interval + 1) % 12)]
    else:  # a raised degree (#IV, and #VI/#VII in minor); every mode has a scale tone a semitone below
        prefix, numeral = "#", _NUMERALS[scale.index((root_interval - 1) % 12)]
    return prefix + (numeral.lower() if lower else numeral) + suffix


def chord_token(root_interval: int, quality: int) -> int:
    """Key-relative chord class: 1 + 8 × (root − tonic mod 12) + quality; 0 is "no chord"."""
    return 1 + len(QUALITIES) * root_interval + quality


def match_chord(pitch_classes: set[int], bass: int | None) -> tuple[int, int] | None:
    """(root pitch class, quality index) of the template that best explains the sounding pitch classes.

    Score = chord tones present − extra tones − ½ × chord tones missing; ties go to the root in the bass, then to the
    simpler quality (triads before sevenths).
    """
    if not pitch_classes:
        return None
    best = None
    for quality, (_, intervals, _, _) in enumerate(QUALITIES):
        for root in range(12):
            tones = {(root + i) % 12 for i in intervals}
            score = len(pitch_classes & tones) - len(pitch_classes - tones) - 0.5 * len(tones - pitch_classes)
            key = (score, root == bass, -quality, -root)
            if best is None or key > best[0]:
                best = (key, root, quality)
    return best[1], best[2]


def diatonic_triads(tonic: int, mode: Mode) -> list[tuple[int, set[int], str]]:
    """The seven triads built on the scale degrees by stacking scale thirds: (degree, pitch classes, numeral)."""
    scale = MODE_INTERVALS[mode]
    triads = []
    for degree in range(7):
        steps = [scale[(degree + k) % 7] for k in (0, 2, 4)]
        third, fifth = (steps[1] - steps[0]) % 12, (steps[2] - steps[0]) % 12
        quality = {(4, 7): 0, (3, 7): 1, (3, 6): 2, (4, 8): 3}[(third, fifth)]
        triads.append((degree, {(tonic + s) % 12 for s in steps}, roman(steps[0], quality, mode)))
    return triads


_TIE_ORDER = {0: 0, 4: 1, 3: 2}  # I, then V, then IV, then the lowest degree


def bar_chord(weights: np.ndarray, triads: list[tuple[int, set[int], str]]) -> str | None:
    """The diatonic triad best fitting one bar's pitch-class weights; ``None`` for an empty bar.

    Score = weight of the triad's pitch classes − ½ × weight of the others.
    """
    total = weights.sum()
    if total == 0:
        return None
    best = None
    for degree, tones, numeral in triads:
        inside = sum(weights[pc] for pc in tones)
        score = inside - 0.5 * (total - inside)
        key = (round(score, 9), -_TIE_ORDER.get(degree, 3 + degree))
        if best is None or key > best[0]:
            best = (key, numeral)
    return best[1]
