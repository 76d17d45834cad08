"""A VAE motif fitted to the harmony it is conceived over, keeping its contour and its rhythm.

``line_fit.fit_line`` fits a sampled line note by note to the nearest chord tone or passing tone. Applied to a VAE
decode, that collapsed steps into repeated notes: two notes a step apart on either side of a chord tone both became
that chord tone (the decodes repeat 0.18 of their intervals, fitted 0.25, smoothed 0.41; real phrases 0.10). A motif
is the cue's idea, stated in every phrase, so its fitting keeps what makes it that idea:

- **rhythm**: every onset stays where it is, with its length;
- **contour**: each interval keeps its direction (up, down, or a repeat the VAE wrote), so a step never becomes a
  repeat and a rising figure still rises;
- **harmony**: a strong-beat note becomes the nearest tone of the chord in that direction; any other note the nearest
  note the mode allows there in that direction, not a semitone from the chord on a beat;
- **size**: among those, the pitch nearest the decoded one and whose interval is nearest the decoded interval, so the
  line neither drifts from its register nor turns its steps into leaps.

Then ``line_fit.smooth_zigzags`` smooths its zigzags by passing or neighbour tones, never by a repeated note.
Pure functions on plain values.
"""

from __future__ import annotations

from cues.pipelines.compose.line_fit import Harmony, nearest, to_line, to_tokens
from cues.pipelines.music.melody_tokens import LOW

REACH = 7  # semitones a fitted note may move from the decoded one to keep its interval's direction
INTERVAL_WEIGHT = 1.0  # cost per semitone of change in the interval, beside one per semitone moved


def fit_motif(tokens: list[int], offset: int, harmony: Harmony) -> list[int]:
    """``tokens`` (starting at cue step ``offset``) fitted to ``harmony`` keeping onsets and interval directions
    (module docstring)."""
    notes = to_line(tokens)
    decoded = [relative for _, _, relative in notes]
    for i, note in enumerate(notes):
        start, end, relative = note
        allowed = _allowed(start, end, offset, harmony)
        if i == 0:
            note[2] = nearest(relative, allowed)
            continue
        before = notes[i - 1][2]
        move = relative - decoded[i - 1]
        way = (move > 0) - (move < 0)
        if way == 0 and before % 12 in allowed:
            note[2] = before  # the VAE's own repeat
            continue
        options = [
            r
            for r in range(relative - REACH, relative + REACH + 1)
            if r >= LOW and r % 12 in allowed and ((r > before) - (r < before)) == way and r != before
        ]
        if not options:  # no pitch keeps the direction within reach: the nearest that is not a repeat
            options = [r for r in range(relative - REACH, relative + REACH + 1) if r >= LOW and r % 12 in allowed]
            options = [r for r in options if r != before] or options or [relative]
        note[2] = min(options, key=lambda r: (abs(r - relative) + INTERVAL_WEIGHT * abs(r - before - move), r))
    return to_tokens(notes, len(tokens))


def _allowed(start: int, end: int, offset: int, harmony: Harmony) -> frozenset[int]:
    """The pitch classes a note from ``start`` to ``end`` may take: a chord tone on a strong beat; else what the mode
    allows throughout the note, without a semitone against the chord when it starts on a beat."""
    step = offset + start
    if harmony.is_strong(step):
        return harmony.at(step)
    allowed = frozenset.intersection(*(harmony.legal(offset + s) for s in range(start, max(end, start + 1))))
    if start % harmony.steps_per_beat == 0:
        allowed = frozenset(pc for pc in allowed if not harmony.clashes(pc, step))
    return allowed or harmony.at(step)
