"""The melody token representation, both ways: notes on a metrical grid ⇄ key-relative tokens.

One token per grid step (16th notes by default, as MelodyRNN and MusicVAE): ``REST`` (0), ``HOLD`` (1: the note
sounding at the previous step goes on), or a note onset ``2 + r - LOW`` where ``r = pitch - tonic pitch class`` is
the pitch relative to the tonic's pitch class (so the same tune in G and in A gives the same tokens), for
``LOW <= r <= HIGH``. Melodies are monophonic: a note ends where the next begins at the latest.
Training (decoding model outputs) and preprocessing share these functions.
"""

from __future__ import annotations

from collections.abc import Sequence

REST = 0
HOLD = 1
FIRST_NOTE = 2
LOW = 36  # lowest relative pitch (C2 when the tonic is C)
HIGH = 95  # highest
NUM_TOKENS = FIRST_NOTE + HIGH - LOW + 1  # 62 classes

GridNote = tuple[int, int, int]  # (start step, end step, MIDI pitch); end is exclusive


class TokenRangeError(ValueError):
    """A note lies outside the pitch range the tokens can represent."""


def note_token(pitch: int, tonic_pc: int) -> int:
    """The onset token of ``pitch`` (MIDI) in a key whose tonic has pitch class ``tonic_pc``."""
    relative = pitch - tonic_pc
    if not LOW <= relative <= HIGH:
        raise TokenRangeError(f"pitch {pitch} is {relative} above the tonic pitch class; allowed {LOW}..{HIGH}")
    return FIRST_NOTE + relative - LOW


def token_pitch(token: int, tonic_pc: int) -> int:
    """The MIDI pitch of an onset token (inverse of :func:`note_token`)."""
    return token - FIRST_NOTE + LOW + tonic_pc


def encode(notes: Sequence[GridNote], tonic_pc: int, total_steps: int) -> list[int]:
    """Tokens for ``total_steps`` grid steps. ``notes`` are sorted, non-overlapping (start, end, pitch) steps."""
    tokens = [REST] * total_steps
    for start, end, pitch in notes:
        if not 0 <= start < end <= total_steps:
            raise ValueError(f"note ({start}, {end}) outside 0..{total_steps} steps")
        tokens[start] = note_token(pitch, tonic_pc)
        for step in range(start + 1, end):
            tokens[step] = HOLD
    return tokens


def decode(tokens: Sequence[int], tonic_pc: int) -> list[GridNote]:
    """Notes from tokens. A ``HOLD`` after a rest (which a model may emit) is read as a rest."""
    notes: list[GridNote] = []
    current: list[int] | None = None  # [start, end, pitch] of the sounding note
    for step, token in enumerate(tokens):
        if token == HOLD and current is not None:
            current[1] = step + 1
            continue
        if current is not None:
            notes.append(tuple(current))
            current = None
        if token >= FIRST_NOTE:
            current = [step, step + 1, token_pitch(token, tonic_pc)]
    if current is not None:
        notes.append(tuple(current))
    return notes
