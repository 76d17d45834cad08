"""Chord colours: sevenths, suspensions, added ninths and the borrowed minor iv, played by the accompaniment only.

The models' vocabularies hold triads (the melody LSTM's chord vocabulary, the chord LSTM's diatonic choices), so a
coloured chord stays its plain triad for them; the colour is a change of the voiced pitch classes, chosen per chord
slot at the mood table's rates (``Plan.colours``) by hashing the seed with the slot's section letter and position
(so ``A`` and ``A'`` are coloured alike).

Decisions:

- Every colour tone is a scale tone (a seventh, ninth or fourth not in the scale leaves the chord plain), except the
  borrowed iv's ♭6; that is the one out-of-scale colour, kept to the tender moods' rates and to a major key's IV, so
  the in-key rate stays ≥ 0.97.
- A phrase's cadence (its last two chords: the cadence chord and the arrival) is never suspended (a sus that does
  not resolve is no cadence; a suspended V has no leading tone), and the cue's last chord is plain.
- The colour tone is listed last in :func:`voiced_pitch_classes`, so the voicing drops it first when it would clash
  with the melody.
"""

from __future__ import annotations

from enum import StrEnum

from cues.pipelines.compose.plan import choice
from cues.pipelines.music.harmony import QUALITIES
from cues.schemas.key import MODE_INTERVALS, Mode
from cues.schemas.mood_table import ChordColours

RESOLUTION = 10_000  # hashed draws are uniform on 0 … 1 in steps of 1 / RESOLUTION


class Colour(StrEnum):
    plain = "plain"
    seventh = "seventh"  # the diatonic seventh above the root: V7, ii7, Imaj7
    sus4 = "sus4"  # the fourth in place of the third
    sus2 = "sus2"  # the second in place of the third
    add9 = "add9"  # the ninth added to the triad
    borrowed = "borrowed"  # IV of a major key as the minor iv (♭6)


def pick_colour(
    colours: ChordColours, mode: Mode, root: int, quality: int, seed: int, name: str, cadence: bool, last: bool
) -> Colour:
    """The colour of one chord slot (``root`` in semitones above the tonic, ``quality`` an index into QUALITIES).

    ``name`` names the decision (section letter and slot position); ``cadence`` marks a phrase's last two chords,
    ``last`` the cue's last chord.
    """
    if last:
        return Colour.plain
    if mode == Mode.major and (root, quality) == (5, 0) and _draw(seed, f"borrowed:{name}") < colours.borrowed_iv:
        return Colour.borrowed
    draw = _draw(seed, f"colour:{name}")
    suspensions = 0.0 if cadence else colours.suspensions
    if draw < colours.sevenths:
        colour = Colour.seventh
    elif draw < colours.sevenths + suspensions:
        colour = Colour.sus4 if _draw(seed, f"sus:{name}") < 0.6 else Colour.sus2
    elif draw < colours.sevenths + suspensions + colours.added_ninths:
        colour = Colour.add9
    else:
        return Colour.plain
    return colour if _colour_tone(colour, mode, root, quality) is not None else Colour.plain


def voiced_pitch_classes(tonic: int, mode: Mode, root: int, quality: int, colour: Colour) -> list[int]:
    """Pitch classes the accompaniment plays for the chord: root first, the colour tone (if any) last."""
    intervals = list(QUALITIES[quality][1])
    tone = _colour_tone(colour, mode, root, quality)
    if colour == Colour.borrowed:
        intervals = [0, 3, 7]
    elif colour in (Colour.sus4, Colour.sus2) and tone is not None:
        intervals = [0, 7, tone]
    elif tone is not None:
        intervals = [*intervals, tone]
    return [(tonic + root + i) % 12 for i in intervals]


def colour_suffix(colour: Colour, mode: Mode, root: int, quality: int) -> str:
    """What the colour adds to the chord's Roman numeral: ``7``, ``maj7``, ``sus4``, ``add9``; '' when plain."""
    if colour == Colour.seventh:
        return "maj7" if _colour_tone(colour, mode, root, quality) == 11 else "7"
    if colour in (Colour.sus4, Colour.sus2, Colour.add9):
        return colour.value
    return ""


def _colour_tone(colour: Colour, mode: Mode, root: int, quality: int) -> int | None:
    """The colour's interval above the root when it is a scale tone (and the chord takes it), else None."""
    scale = set(MODE_INTERVALS[mode])
    if colour == Colour.seventh:
        if quality == 3:  # an augmented triad's seventh is no common chord
            return None
        return next((i for i in (10, 11) if (root + i) % 12 in scale), None)
    if colour in (Colour.sus4, Colour.sus2, Colour.add9):
        if quality not in (0, 1):
            return None
        interval = 5 if colour == Colour.sus4 else 2
        return interval if (root + interval) % 12 in scale else None
    return None


def _draw(seed: int, name: str) -> float:
    return choice(range(RESOLUTION), seed, name) / RESOLUTION
