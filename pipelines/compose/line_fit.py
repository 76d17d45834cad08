"""The harmonic fitting of a melodic line: every note checked against the chord sounding under it.

A line here is melody tokens (``pipelines/music/melody_tokens.py``) starting at a cue step; pitch classes are
relative to the tonic. The rules, as a composer applies them to a tune over its chords:

- **Strong beats** (``STRONG_BEATS``: the downbeat, and the third beat of 4/4 and the second of 6/8) carry a chord
  tone of the sounding chord, or a *prepared*
  non-chord tone that resolves by step to a chord tone within the beat: a suspension (the note before held or
  repeated over the beat) or an appoggiatura. A prepared dissonance that forms a semitone with a chord tone (the
  4–3 suspension over a sounding third) is avoided, as part-writing avoids doubling the note of resolution; 9–8 and
  6–5 remain.
- **Other steps** carry chord tones, passing tones (a step between two notes moving the same way) or neighbour tones
  (a step away and back), which on a weak beat must not form a semitone with the chord (the on-beat clash). Any
  other note becomes a passing tone between its neighbours where one fits, else the nearest chord tone that keeps
  the line's direction.
- **A held note** that reaches a beat where it clashes (a semitone) with the new chord is re-struck there as the
  nearest chord tone.
- **Minor**: the raised leading tone (tonic + 11) wherever the sounding chord holds it (V, V7, vii°), never the
  ♭7 against it; ♭7 wherever the chord holds ♭7; the raised 6th when the line climbs 6–7–8 over a chord without ♭6
  (no augmented second). Elsewhere the line keeps to the scale.
- **Passing tones filled in**: a note of half a beat or more that moves on by a third has its second half turned into
  the scale step between (off the strong beats, never a semitone from the chord), at the style's rate; the decision
  hangs on the note's place in the bar and the line's direction alone, so a repeated or sequenced bar is filled
  alike. Sampled lines arpeggiate the chords and zigzag; real tunes run by step.
- **Zigzags smoothed**: a note that turns the line back for the second time running becomes a passing tone between
  its neighbours (a chord tone on a strong beat), else a neighbour tone of the note before: never a repeated note.
- **Chromatic** approach tones (a semitone below the next beat's note, on a weak step, the line rising into it) at
  the mood's ``chromaticism`` rate, the tense, mysterious and dark moods' colour; never on a beat.

Pure functions on plain values: :class:`Harmony` says what sounds at each step.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from cues.pipelines.music import melody_tokens
from cues.pipelines.music.harmony import CLASH_INTERVALS, FLAT_SEVEN, FLAT_SIX, LEADING_TONE, RAISED_SIX
from cues.pipelines.music.melody_tokens import FIRST_NOTE, HOLD, LOW, REST

SHORTEST_FILLED = 0.5  # beats: a note this long or longer that moves on by a third may become two
STRONG_BEATS = {"4/4": (0, 8), "3/4": (0,), "2/4": (0,), "6/8": (0, 6)}  # grid steps of a bar's strong beats
Line = list[list[int]]  # notes as [start step, end step, pitch relative to the tonic pitch class], in order


@dataclass(frozen=True)
class Harmony:
    """What a melody is fitted against: the sounding chord's pitch classes (relative to the tonic) at every grid step
    of the cue, the mode's scale (relative pitch classes), the beat and the bar in steps, the strong beats' steps in
    the bar, and whether the mode is minor."""

    tones: tuple[frozenset[int], ...]
    scale: frozenset[int]
    steps_per_beat: int
    steps_per_bar: int
    strong: tuple[int, ...]
    minor: bool

    def is_strong(self, step: int) -> bool:
        return step % self.steps_per_bar in self.strong

    def at(self, step: int) -> frozenset[int]:
        return self.tones[min(max(step, 0), len(self.tones) - 1)]

    def legal(self, step: int) -> frozenset[int]:
        """The pitch classes a melody may sound at ``step`` without chromaticism: the scale, in minor with the
        seventh (and the sixth beside it) raised or natural as the chord asks."""
        if not self.minor:
            return self.scale
        tones = self.at(step)
        if LEADING_TONE in tones:
            return (self.scale - {FLAT_SEVEN}) | {LEADING_TONE} | ({RAISED_SIX} if FLAT_SIX not in tones else set())
        return self.scale

    def clashes(self, pc: int, step: int) -> bool:
        """``pc`` a semitone from a tone of the sounding chord (a minor second, minor ninth or major seventh)."""
        return any((pc - t) % 12 in CLASH_INTERVALS for t in self.at(step))


def to_line(tokens: list[int]) -> Line:
    """The notes of ``tokens`` as [start, end, pitch relative to the tonic] lists, which the fitting edits in place."""
    return [list(note) for note in melody_tokens.decode(tokens, 0)]


def to_tokens(notes: Line, steps: int) -> list[int]:
    tokens = [REST] * steps
    for start, end, relative in notes:
        tokens[start] = relative - LOW + FIRST_NOTE
        for step in range(start + 1, min(end, steps)):
            tokens[step] = HOLD
    return tokens


def nearest(relative: int, pcs: frozenset[int] | set[int], toward: int | None = None) -> int:
    """The pitch nearest ``relative`` whose pitch class is in ``pcs``; ties go towards ``toward`` (the next note),
    else down."""
    best = None
    for distance in range(0, 12):
        options = [relative + d for d in {-distance, distance} if (relative + d) % 12 in pcs and relative + d >= LOW]
        if options:
            if toward is not None:
                best = min(options, key=lambda r: (abs(toward - r), r))
            else:
                best = min(options)
            break
    return relative if best is None else best


def fit_line(tokens: list[int], offset: int, harmony: Harmony) -> list[int]:
    """``tokens`` (starting at cue step ``offset``) fitted to the chords under them (module docstring)."""
    notes = _split_held_clashes(to_line(tokens), offset, harmony)
    beat = harmony.steps_per_beat
    for i, note in enumerate(notes):
        start, _, relative = note
        step = offset + start
        before = notes[i - 1][2] if i else None
        after = notes[i + 1] if i + 1 < len(notes) else None
        relative = _in_mode(relative, step, after, harmony)
        tones = harmony.at(step)
        pc = relative % 12
        if pc in tones:
            pass
        elif harmony.is_strong(step):
            if not _prepared(relative, before, after, step, start, offset, harmony):
                relative = nearest(relative, tones, after[2] if after else None)
        elif not _ornamental(relative, before, after) or (start % beat == 0 and harmony.clashes(pc, step)):
            relative = _replace(relative, before, after, step, start % beat == 0, harmony)
        note[2] = relative
    return settle_strong_beats(to_tokens(notes, len(tokens)), offset, harmony)


def settle_strong_beats(tokens: list[int], offset: int, harmony: Harmony) -> list[int]:
    """Strong-beat notes checked again once their neighbours are final: a dissonance whose resolution was moved
    becomes the nearest chord tone."""
    notes = to_line(tokens)
    for i, (start, _, relative) in enumerate(notes):
        step = offset + start
        if not harmony.is_strong(step) or relative % 12 in harmony.at(step):
            continue
        before = notes[i - 1][2] if i else None
        after = notes[i + 1] if i + 1 < len(notes) else None
        if not _prepared(relative, before, after, step, start, offset, harmony):
            notes[i][2] = nearest(relative, harmony.at(step), after[2] if after else None)
    return to_tokens(notes, len(tokens))


def _replace(relative: int, before: int | None, after: list[int] | None, step: int, on_beat: bool, harmony: Harmony):
    """A note off the strong beats that fits no rule: a passing tone between its neighbours where the scale has one
    (not a semitone from the chord on a beat), else the nearest chord tone on the same side of the note before."""
    legal, tones = harmony.legal(step), harmony.at(step)
    if before is not None and after is not None and 2 <= abs(after[2] - before) <= 4:
        way = 1 if after[2] > before else -1
        between = [
            r
            for r in range(before + way, after[2], way)
            if r % 12 in legal
            and 1 <= abs(r - before) <= 2
            and 1 <= abs(after[2] - r) <= 2
            and not (on_beat and harmony.clashes(r % 12, step))
        ]
        if between:
            return between[0]
    options = [relative + d for d in range(-7, 8) if (relative + d) % 12 in tones and relative + d >= LOW]
    if not options:
        return relative

    def cost(r: int) -> float:
        side = before is not None and before != relative and (r - before) * (relative - before) <= 0
        return abs(r - relative) + 2.5 * side

    return min(options, key=lambda r: (cost(r), r))


def _in_mode(relative: int, step: int, after: list[int] | None, harmony: Harmony) -> int:
    """The note spelled as the mode and the chord ask: in the scale (minor's raised 6th and 7th over the dominant)."""
    legal = harmony.legal(step)
    pc = relative % 12
    climbing = after is not None and after[2] - relative in (2, 3) and after[2] % 12 in (FLAT_SEVEN, LEADING_TONE)
    if harmony.minor and pc == FLAT_SIX and climbing and LEADING_TONE in harmony.legal(step + 1):
        # 6–7–8 climbing into the leading tone: the raised 6th, unless the chord holds the ♭6 itself
        if FLAT_SIX not in harmony.at(step):
            return relative + 1
    if pc in legal:
        return relative
    if harmony.minor and pc == FLAT_SEVEN:
        return relative + 1  # the leading tone over the dominant
    if harmony.minor and pc == LEADING_TONE and after is not None and after[2] == relative + 1:
        return relative  # the leading tone rising to the tonic on a weak step
    return nearest(relative, legal, after[2] if after else None)


def _prepared(relative, before, after, step, start, offset, harmony: Harmony) -> bool:
    """A suspension or appoggiatura: a step to a chord tone within the beat, and no semitone against the chord."""
    if after is None or harmony.clashes(relative % 12, step):
        return False
    resolution = after[2]
    resolves = (
        1 <= abs(resolution - relative) <= 2
        and after[0] - start <= harmony.steps_per_beat
        and resolution % 12 in harmony.at(offset + after[0])
    )
    suspension = before is not None and before == relative and resolution < relative
    appoggiatura = before is not None and before != relative
    return resolves and (suspension or appoggiatura)


def _ornamental(relative: int, before: int | None, after: list[int] | None) -> bool:
    """A passing tone (a step between two notes moving the same way) or a neighbour tone (a step away and back)."""
    if before is None or after is None:
        return False
    into, out = relative - before, after[2] - relative
    passing = 1 <= abs(into) <= 2 and 1 <= abs(out) <= 2 and (into > 0) == (out > 0)
    neighbour = 1 <= abs(into) <= 2 and after[2] == before
    return passing or neighbour


def _split_held_clashes(notes: Line, offset: int, harmony: Harmony) -> Line:
    """A note held into a beat where it clashes with the new chord ends there; the nearest chord tone sounds on."""
    result: Line = []
    for start, end, relative in notes:
        cut = next(
            (
                s
                for s in range(start + 1, end)
                if s % harmony.steps_per_beat == 0
                and harmony.at(offset + s) != harmony.at(offset + start)
                and harmony.clashes(relative % 12, offset + s)
            ),
            None,
        )
        if cut is None:
            result.append([start, end, relative])
        else:
            result.append([start, cut, relative])
            result += _split_held_clashes([[cut, end, nearest(relative, harmony.at(offset + cut))]], offset, harmony)
    return result


def fill_thirds(tokens: list[int], offset: int, harmony: Harmony, rate: float) -> list[int]:
    """Passing tones between notes a third apart (module docstring), at about ``rate`` (0–1) of the places."""
    notes = to_line(tokens)
    result: Line = []
    for i, (start, end, relative) in enumerate(notes):
        after = notes[i + 1] if i + 1 < len(notes) else None
        split = start + (end - start) // 2
        step = offset + split
        too_short = end - start < SHORTEST_FILLED * harmony.steps_per_beat
        if after is None or end != after[0] or too_short or harmony.is_strong(step):
            result.append([start, end, relative])
            continue
        move = after[2] - relative
        way = 1 if move > 0 else -1
        between = [
            r
            for r in range(relative + way, after[2], way)
            if r % 12 in harmony.legal(step) and 1 <= abs(r - relative) <= 2 and 1 <= abs(after[2] - r) <= 2
        ]
        clashes = bool(between) and any(harmony.clashes(between[0] % 12, offset + s) for s in range(split, end))
        if 3 <= abs(move) <= 4 and between and not clashes and _hashed(start % harmony.steps_per_bar, way) < rate:
            result += [[start, split, relative], [split, end, between[0]]]
        else:
            result.append([start, end, relative])
    return to_tokens(result, len(tokens))


def _hashed(*values: int) -> float:
    """A number in [0, 1) fixed by ``values`` (deterministic, no generator: the same bar gets the same answer)."""
    digest = hashlib.sha256(repr(values).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _flat_seven_over_leading_tone(relative: int, offset: int, note: list[int], harmony: Harmony) -> bool:
    """``relative`` in place of ``note`` would be, in minor, ♭7 over a chord holding the raised leading tone."""
    return (
        harmony.minor
        and relative % 12 == FLAT_SEVEN
        and any(LEADING_TONE in harmony.at(offset + s) for s in range(note[0], note[1]))
    )


def add_chromatic(tokens: list[int], offset: int, harmony: Harmony, rate: float, generator: torch.Generator):
    """Chromatic tones at about ``rate`` of the onsets, each on a note off the strong beats turned into the semitone
    outside the mode that leads to or around its neighbours:

    - an *approach*: a note of a beat or less before a beat's note becomes the semitone below it (the line rising
      through it) or above it (falling through it);
    - a *passing* tone: a note between two a whole tone apart becomes the semitone between them;
    - a *neighbour*: a note between two equal ones becomes the semitone below them.

    Slow lines have few short notes before a beat; the passing and neighbour places let tense, dark and mysterious
    cues reach their mood's rate (with approaches alone, suspense sounded a tenth of its 0.08)."""
    if rate <= 0:
        return tokens
    notes = to_line(tokens)
    beat = harmony.steps_per_beat
    spots: list[tuple[int, int]] = []  # (note index, the chromatic pitch it becomes)
    for i in range(1, len(notes) - 1):
        (_, _, a), (start, end, b), (after, _, c) = notes[i - 1], notes[i], notes[i + 1]
        if harmony.is_strong(offset + start):
            continue
        options = []
        if after % beat == 0 and end - start <= beat:
            options += [c - 1] if a < c - 1 else [c + 1] if a > c + 1 else []
        if abs(c - a) == 2:
            options.append((a + c) // 2)
        if a == c:
            options.append(a - 1)
        options = [
            r
            for r in options
            if r != b
            and all(r % 12 not in harmony.legal(offset + s) for s in range(start, end))
            and not _flat_seven_over_leading_tone(r, offset, notes[i], harmony)
        ]
        if options:
            spots.append((i, options[0]))
    if not spots:
        return tokens
    chance = min(1.0, rate * len(notes) / len(spots))
    draws = torch.rand(len(spots), generator=generator).tolist()
    for (i, pitch), draw in zip(spots, draws, strict=True):
        if draw < chance:
            notes[i][2] = pitch
    return to_tokens(notes, len(tokens))


def smooth_zigzags(
    tokens: list[int], offset: int, harmony: Harmony, rate: float = 1.0, keep_opening: bool = True
) -> list[int]:
    """A note that turns the line back for the second time running (a zigzag: up, down, up) becomes a step from the
    note before that fits the chord (a chord tone on a strong beat): a passing tone towards the note after where the
    mode has one, else the neighbour tone that turns the line least (never the note before again: repeating it made
    a third of a motif's intervals repeats, real tunes a tenth), at about ``rate`` (0–1) of the places (leaping
    styles keep more of theirs). Sampled lines turn at over half their notes, real tunes at about two fifths. With
    ``keep_opening``, the line's first bar (a section's opening, which its cutdowns and repeats share whatever
    follows) is kept; a motif is smoothed whole before it is chosen (``melody._draw_motif``)."""
    notes = to_line(tokens)
    for i in range(2, len(notes) - 1):
        if keep_opening and notes[i][0] < harmony.steps_per_bar:  # a section's opening: the motif as stated
            continue
        (_, _, a), (_, _, b), (_, _, c) = notes[i - 1], notes[i], notes[i + 1]
        z = next((n[2] for n in reversed(notes[: i - 1]) if n[2] != a), a)  # repeated notes do not turn the line
        if (b - a) * (c - b) >= 0 or (a - z) * (b - a) >= 0:
            continue
        if _hashed(notes[i][0] % harmony.steps_per_bar, b - a, c - b) >= rate:
            continue
        if 1 <= abs(b - a) <= 2 and c == a:
            continue  # a neighbour tone already
        d = notes[i + 2][2] if i + 2 < len(notes) else None
        fitting = [r for r in range(a - 2, a + 3) if r not in (a, c) and _fits_weakly(r, notes[i], offset, harmony)]
        if fitting:  # a step from the note before: the one that turns the line least (a passing tone), nearest b
            notes[i][2] = min(fitting, key=lambda r: (_turns(z, a, r, c, d), abs(r - b), r))
    return to_tokens(notes, len(tokens))


def _turns(*pitches: int | None) -> int:
    """How often a line through ``pitches`` (None: no note) turns back; repeated notes do not turn it."""
    moves = [y - x for x, y in zip(pitches, pitches[1:], strict=False) if x is not None and y is not None and y != x]
    return sum((x > 0) != (y > 0) for x, y in zip(moves, moves[1:], strict=False))


def _fits_weakly(relative: int, note: list[int], offset: int, harmony: Harmony) -> bool:
    """``relative`` may sound for ``note``: in the mode throughout, no semitone against the chord on a beat, a chord
    tone on a strong beat."""
    start, end, _ = note
    step = offset + start
    if any(relative % 12 not in harmony.legal(offset + s) for s in range(start, end)):
        return False
    if start % harmony.steps_per_beat == 0 and harmony.clashes(relative % 12, step):
        return False
    return relative % 12 in harmony.at(step) or not harmony.is_strong(step)
