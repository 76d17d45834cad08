"""Drums by name → General MIDI drum notes, per kit: the standard kits (programs 0–40) and the orchestra kit (48).

The orchestra kit's map differs from the standard one where it matters (FluidR3_GM and the GS layout): notes 41–53
are timpani, a semitone apart from F (so 49, a standard crash, is a timpani there); its cymbals are 55, 57 and 59;
its hi-hats sit at 27–29; and it has no toms, so a groove's toms play the timpani, tuned to the key's tonic and
dominant. Taiko hits are 86 and 87 on every kit of the soundfont (the surdos of General MIDI's standard map).
"""

from __future__ import annotations

from cues.schemas.grooves import Drum

STANDARD_KIT, ORCHESTRA_KIT = 0, 48  # General MIDI drum kits' programs
TIMPANI_LOWEST, TIMPANI_LOWEST_PC = 41, 5  # the orchestra kit's timpani run from note 41 (F) up by semitones

STANDARD: dict[Drum, int] = {
    Drum.kick: 36,
    Drum.snare: 38,
    Drum.side_stick: 37,
    Drum.clap: 39,
    Drum.closed_hat: 42,
    Drum.pedal_hat: 44,
    Drum.open_hat: 46,
    Drum.ride: 51,
    Drum.ride_bell: 53,
    Drum.crash: 49,
    Drum.splash: 55,
    Drum.tom_high: 50,
    Drum.tom_mid: 47,
    Drum.tom_low: 45,
    Drum.tom_floor: 43,
    Drum.timpani_root: 41,  # a standard kit has no timpani: its floor toms stand in
    Drum.timpani_fifth: 43,
    Drum.bass_drum: 35,
    Drum.taiko: 87,
    Drum.taiko_short: 86,
    Drum.shaker: 70,
    Drum.tambourine: 54,
    Drum.triangle: 81,
    Drum.woodblock: 76,
    Drum.cabasa: 69,
}
ORCHESTRA: dict[Drum, int] = STANDARD | {
    Drum.kick: 36,  # the concert bass drum
    Drum.closed_hat: 27,
    Drum.pedal_hat: 28,
    Drum.open_hat: 29,
    Drum.ride: 59,  # a suspended cymbal, struck softly
    Drum.ride_bell: 55,
    Drum.crash: 57,
    Drum.splash: 55,
}
#: Semitones above the tonic of the timpani each tuned drum plays on the orchestra kit (toms: fifth, then tonic).
TUNED = {
    Drum.timpani_root: 0,
    Drum.timpani_fifth: 7,
    Drum.tom_high: 7,
    Drum.tom_mid: 7,
    Drum.tom_low: 0,
    Drum.tom_floor: 0,
}


def drum_note(drum: Drum, kit: int, tonic: int) -> int:
    """The General MIDI drum note of ``drum`` on ``kit`` (a drum-kit program) in a key on ``tonic`` (pitch class)."""
    if kit != ORCHESTRA_KIT:
        return STANDARD[drum]
    if drum not in TUNED:
        return ORCHESTRA[drum]
    return TIMPANI_LOWEST + (tonic + TUNED[drum] - TIMPANI_LOWEST_PC) % 12
