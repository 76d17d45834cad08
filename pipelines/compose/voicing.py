"""Voicing the accompaniment against the melody: chord notes that never sit a semitone from a held melody note.

The melody is written before the accompaniment (``composer.compose``: chords → melody → accompaniment), so every
chord strike knows the melody notes sounding during it. A *clash* is an accompaniment note whose pitch class is a
semitone from a sounding melody note's (pitch-class difference 1 or 11: a semitone, minor ninth or major seventh).

- **Harmony strikes** (:func:`voice_strike`): the chord is voiced as a whole to move its voices least from the last
  voicing (:func:`lead_voices`); then each chord tone sounds only while the melody does not clash with it. A colour
  tone (seventh, ninth, suspension, the last voiced pitch class) that clashes anywhere in the strike is left out; any
  other tone is split where the melody changes: held from the strike up to the clash, re-entering after it when at
  least a beat remains (no shorter re-entries, which would sound as stray notes). Because a clash depends only on
  pitch classes, no octave placement avoids one: leaving a tone out, or out for a while, is the only cure.
- **The final chord** (a ring-out's or a button's tonic) keeps its root whole, in the harmony and the bass: it is
  where the melody arrives, and a last melody note leaning on it (a leading tone) resolves into it.
- **Bass notes** (:func:`bass_pitch`): the planned note unless it would clash; then the chord tone (root, fifth,
  third, in that order of preference) that clashes least, nearest the planned note. A root on a downbeat or in a
  cadence stays if the melody is clear of it where it starts. A note that still clashes somewhere is shortened to
  where it does not.

Pure functions on grid steps; ``MelodyLine`` holds the melody's pitch class at every step.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from cues.pipelines.compose.score import Note
from cues.pipelines.music.harmony import CLASH_INTERVALS

VOICING_RANGE = (52, 76)
BASS_RANGE = (33, 52)
REST = -1


def lowest_at_or_above(pitch_class: int, floor: int) -> int:
    """The lowest pitch of ``pitch_class`` at or above ``floor``."""
    return floor + (pitch_class - floor) % 12


class MelodyLine:
    """The melody's pitch class at every grid step of the cue (``REST`` where it is silent)."""

    def __init__(self, melody: list[Note], total_steps: int):
        self.classes = np.full(total_steps, REST)
        for note in melody:
            self.classes[note.start : min(note.end, total_steps)] = note.pitch % 12
        # (steps, 12): which pitch classes clash at each step, made once: the arrangers ask thousands of times a cue
        interval = (self.classes[:, None] - np.arange(12)[None, :]) % 12
        self.near = (self.classes[:, None] != REST) & np.isin(interval, CLASH_INTERVALS)

    def clashes(self, pitch_class: int, start: int, end: int) -> np.ndarray:
        """For each step of ``start``..``end``: does the melody sound a semitone from ``pitch_class``?"""
        return self.near[start:end, pitch_class]


def voicings(pitch_classes: list[int]) -> list[tuple[int, ...]]:
    """Every voicing of the chord's pitch classes, one note each, inside ``VOICING_RANGE``, lowest note first."""
    low, high = VOICING_RANGE
    options = [[p for p in range(low, high + 1) if p % 12 == pc] for pc in pitch_classes]
    result = []
    for combo in product(*options):
        notes = tuple(sorted(combo))
        if len(set(notes)) == len(notes) and notes[-1] - notes[0] <= 14:
            result.append(notes)
    return result


def lead_voices(previous: tuple[int, ...] | None, pitch_classes: list[int]) -> tuple[int, ...]:
    """The voicing of ``pitch_classes`` that moves least from ``previous`` (the close middle one to start)."""
    options = voicings(pitch_classes)
    if previous is None:
        centre = sum(VOICING_RANGE) / 2
        return min(options, key=lambda v: (abs(sum(v) / len(v) - centre), v))
    if len(previous) != len(options[0]):
        return min(options, key=lambda v: (abs(sum(v) / len(v) - sum(previous) / len(previous)), v))
    return min(options, key=lambda v: (sum(abs(a - b) for a, b in zip(v, previous, strict=True)), v))


def voice_strike(
    voicing: tuple[int, ...],
    colour_tone: int | None,
    start: int,
    end: int,
    line: MelodyLine,
    beat: int,
    held: int | None = None,
) -> list[tuple[int, int, int]]:
    """(start, end, pitch) of the notes of one strike of ``voicing`` over steps ``start``..``end``, each tone
    sounding only where it does not clash with the melody (see the module docstring). ``colour_tone`` is the
    colour's pitch class, if the chord has one; a tone of pitch class ``held`` (the final chord's root, which the
    melody is to arrive on) sounds whole whatever the melody does."""
    notes = []
    for pitch in voicing:
        clash = line.clashes(pitch % 12, start, end)
        if not clash.any() or pitch % 12 == held:
            notes.append((start, end, pitch))
        elif pitch % 12 != colour_tone:
            notes += [(a, b, pitch) for a, b in _free_spans(clash, start, beat)]
    return notes


def bass_pitch(
    planned: int,
    chord_tones: list[int],
    start: int,
    end: int,
    line: MelodyLine,
    keep_root: bool = False,
    register: tuple[int, int] = BASS_RANGE,
) -> int:
    """The bass note for steps ``start``..``end``: ``planned`` unless it clashes with the melody, else the chord
    tone (``chord_tones``: root, third, fifth pitch classes) clashing least, nearest ``planned`` within ``register``
    (lowest, highest + 1). With ``keep_root`` (a downbeat, a cadence, a pedal) a note of the pitch class
    ``chord_tones[0]`` whose onset is clear of the melody stays, to be shortened by :func:`bass_spans`."""
    clash = line.clashes(planned % 12, start, end)
    if not clash.any() or (keep_root and planned % 12 == chord_tones[0] and not clash[0]):
        return planned
    root, third, fifth = chord_tones[:3]
    candidates = []
    for preference, pc in enumerate((root, fifth, third)):
        pitch = min(range(*register), key=lambda p, pc=pc: ((p - pc) % 12 != 0, abs(p - planned), p))
        candidates.append((int(line.clashes(pc, start, end).sum()), preference, pitch))
    return min(candidates)[2]


def bass_spans(pitch: int, start: int, end: int, line: MelodyLine, beat: int) -> list[tuple[int, int]]:
    """Where a bass note at ``pitch`` sounds within ``start``..``end``: all of it, or its clash-free spans."""
    clash = line.clashes(pitch % 12, start, end)
    return [(start, end)] if not clash.any() else _free_spans(clash, start, beat)


def _free_spans(clash: np.ndarray, start: int, beat: int) -> list[tuple[int, int]]:
    """Runs of False in ``clash`` (offset by ``start``): the first if it opens the strike and lasts two steps or
    more, later ones (re-entries) only if they last a beat."""
    spans, run = [], None
    for offset, clashing in enumerate([*clash.tolist(), True]):
        if not clashing and run is None:
            run = offset
        elif clashing and run is not None:
            if offset - run >= (2 if run == 0 else beat):
                spans.append((start + run, start + offset))
            run = None
    return spans
