"""Motif development: the ways composers rework a motif, as pure functions on melody tokens.

A motif is a run of melody tokens (``pipelines/music/melody_tokens.py``), usually half a phrase (two bars; four of
2/4). Its developments keep its rhythm or its intervals so that the ear hears the same idea:

- **repetition** — the motif again, note for note;
- **sequence** — the motif moved by scale steps (diatonic transposition), e.g. to follow the harmony from I to IV;
- **inversion** — its intervals mirrored, in scale steps, around its first note;
- **augmentation / diminution** — its rhythm at twice / half the speed (the first half stretched, or the whole
  squeezed and sounded twice, rising a step);
- **fragmentation** — its first cell (a beat or two) repeated, climbing a step each time, as builds do.

Scale steps are counted in the mode's scale; a note outside it moves with the scale note below it.
"""

from __future__ import annotations

from cues.pipelines.music.melody_tokens import FIRST_NOTE, HOLD, LOW, NUM_TOKENS, REST, token_pitch


def degree(relative: int, scale: tuple[int, ...]) -> tuple[int, int]:
    """(scale-step index counted from the tonic of the lowest octave, semitones above that scale note)."""
    octave, pc = divmod(relative, 12)
    below = max(i for i, s in enumerate(scale) if s <= pc)
    return octave * len(scale) + below, pc - scale[below]


def from_degree(index: int, alteration: int, scale: tuple[int, ...]) -> int:
    octave, i = divmod(index, len(scale))
    return octave * 12 + scale[i] + alteration


def _map_onsets(tokens: list[int], move) -> list[int]:
    result = []
    for token in tokens:
        if token >= FIRST_NOTE:
            token = min(max(move(token_pitch(token, 0)) - LOW + FIRST_NOTE, FIRST_NOTE), NUM_TOKENS - 1)
        result.append(token)
    return result


def sequence(tokens: list[int], steps: int, scale: tuple[int, ...]) -> list[int]:
    """The motif moved ``steps`` scale steps up (negative: down)."""

    def move(relative: int) -> int:
        index, alteration = degree(relative, scale)
        return from_degree(index + steps, alteration, scale)

    return _map_onsets(tokens, move)


def invert(tokens: list[int], scale: tuple[int, ...]) -> list[int]:
    """The motif's intervals mirrored around its first note, in scale steps."""
    first = next((t for t in tokens if t >= FIRST_NOTE), None)
    if first is None:
        return list(tokens)
    axis, _ = degree(token_pitch(first, 0), scale)

    def move(relative: int) -> int:
        index, _ = degree(relative, scale)
        return from_degree(2 * axis - index, 0, scale)

    return _map_onsets(tokens, move)


def augment(tokens: list[int]) -> list[int]:
    """The motif's first half at half speed: every step lasts two (as long as the motif)."""
    half = tokens[: len(tokens) // 2]
    result = []
    for token in half:
        result += [token, REST if token == REST else HOLD]
    return result + [HOLD if result and result[-1] != REST else REST] * (len(tokens) - len(result))


def diminish(tokens: list[int], scale: tuple[int, ...]) -> list[int]:
    """The motif at double speed, sounded twice, the second time a step higher."""
    fast = [tokens[i] if tokens[i] >= FIRST_NOTE else _held(tokens, i, i + 2) for i in range(0, len(tokens), 2)]
    result = fast + sequence(fast, 1, scale)
    return (result + [HOLD] * len(tokens))[: len(tokens)]


def _held(tokens: list[int], start: int, end: int) -> int:
    """A step of the squeezed rhythm: an onset inside the pair wins, else the first step's hold or rest."""
    return next((t for t in tokens[start:end] if t >= FIRST_NOTE), tokens[start])


def fragment(tokens: list[int], cell: int, scale: tuple[int, ...], climb: int = 1) -> list[int]:
    """The motif's first ``cell`` steps repeated to the motif's length, ``climb`` scale steps higher each time."""
    head = tokens[:cell]
    if not any(t >= FIRST_NOTE for t in head):
        return list(tokens)
    result: list[int] = []
    turn = 0
    while len(result) < len(tokens):
        result += sequence(head, climb * turn, scale)
        turn += 1
    return result[: len(tokens)]


def onset_rhythm(tokens: list[int]) -> list[int]:
    """Where the motif's notes start (its rhythm cell)."""
    return [i for i, t in enumerate(tokens) if t >= FIRST_NOTE]


def with_rhythm(tokens: list[int], rhythm_from: list[int], steps: int) -> list[int]:
    """``tokens``'s pitches, in order, on the rhythm of ``rhythm_from``'s first ``steps`` steps (the rest as is): a
    new motif that shares its opening cell's rhythm with another."""
    pitches = [t for t in tokens if t >= FIRST_NOTE]
    if not pitches:
        return list(tokens)
    head = []
    index = 0
    for token in rhythm_from[:steps]:
        if token >= FIRST_NOTE:
            head.append(pitches[min(index, len(pitches) - 1)])
            index += 1
        else:
            head.append(token)
    tail = tokens[steps:]
    if tail and tail[0] == HOLD and (not head or head[-1] == REST):
        tail = [REST] + tail[1:]
    return head + tail
