"""Musical keys as briefs write them: ``"C major"``, ``"F# minor"``, ``"Bb dorian"``, ``"Eb"``, ``"c#m"``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from cues.schemas.errors import echo


class Mode(StrEnum):
    """The modes a brief may ask for. ``ionian`` and ``aeolian`` are accepted as aliases of major and minor."""

    major = "major"
    minor = "minor"
    dorian = "dorian"
    phrygian = "phrygian"
    lydian = "lydian"
    mixolydian = "mixolydian"


MODE_ALIASES: dict[str, Mode] = {
    **{m.value: m for m in Mode},
    "ionian": Mode.major,
    "aeolian": Mode.minor,
    "maj": Mode.major,
    "min": Mode.minor,
    "m": Mode.minor,
}

#: Semitones above the tonic of each scale degree, per mode.
MODE_INTERVALS: dict[Mode, tuple[int, ...]] = {
    Mode.major: (0, 2, 4, 5, 7, 9, 11),
    Mode.minor: (0, 2, 3, 5, 7, 8, 10),
    Mode.dorian: (0, 2, 3, 5, 7, 9, 10),
    Mode.phrygian: (0, 1, 3, 5, 7, 8, 10),
    Mode.lydian: (0, 2, 4, 6, 7, 9, 11),
    Mode.mixolydian: (0, 2, 4, 5, 7, 9, 10),
}

_NATURAL_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_RE = re.compile(r"^\s*([A-Ga-g])([#b♯♭]?)\s*(.*?)\s*$")

ALLOWED_KEYS = (
    '"<tonic> <mode>" with tonic A–G plus optional # or b and mode one of '
    + ", ".join(m.value for m in Mode)
    + ' (ionian = major, aeolian = minor), or short forms "Eb" (major) and "c#m" (minor)'
)


class KeyParseError(ValueError):
    """The text is not a key a brief may name."""


@dataclass(frozen=True)
class Key:
    """A tonic and a mode. ``tonic`` is spelled with an uppercase letter and ``#`` or ``b`` (``"Bb"``, ``"F#"``)."""

    tonic: str
    mode: Mode

    @property
    def pitch_class(self) -> int:
        """Pitch class of the tonic, 0 = C … 11 = B."""
        base = _NATURAL_PITCH_CLASS[self.tonic[0]]
        accidental = {"#": 1, "b": -1}.get(self.tonic[1:], 0)
        return (base + accidental) % 12

    @property
    def scale_pitch_classes(self) -> tuple[int, ...]:
        """The seven pitch classes of the key's scale, starting at the tonic."""
        return tuple((self.pitch_class + i) % 12 for i in MODE_INTERVALS[self.mode])

    def __str__(self) -> str:
        return f"{self.tonic} {self.mode.value}"


def parse_key(text: str) -> Key:
    """Parse a brief's key. Raises :class:`KeyParseError` with what is allowed.

    A bare tonic means major; a trailing ``m`` (``"c#m"``, ``"Ebm"``) means minor. Case of the tonic letter does not
    matter, but ``"b"`` alone is the note B, and ``"Bb"`` is B-flat.
    """
    if not isinstance(text, str):
        raise KeyParseError(f"a key must be text; allowed: {ALLOWED_KEYS}")
    match = _KEY_RE.match(text)
    if not match:
        raise KeyParseError(f"not a key; allowed: {ALLOWED_KEYS}")
    letter, accidental, rest = match.groups()
    accidental = {"♯": "#", "♭": "b"}.get(accidental, accidental)
    mode_word = rest.lower()
    if mode_word == "":
        mode = Mode.major
    elif mode_word in MODE_ALIASES:
        mode = MODE_ALIASES[mode_word]
    else:
        raise KeyParseError(f"unknown mode {echo(rest)}; allowed: {ALLOWED_KEYS}")
    return Key(tonic=letter.upper() + accidental, mode=mode)
