"""Reading one work (ABC tune, MusicXML score, MIDI file) into a monophonic :class:`Melody` in quarter notes.

The melody is the first part of a score (the soprano of a chorale), or for MIDI the highest sounding non-drum line
("skyline"). Chords in the melody part keep their top note, ties are merged, grace notes dropped. Meter and bar lines
come from the score; MIDI without a time signature is taken as 4/4 and its times are snapped to the grid when they
lie within a quarter of a step of it (performed MIDI is rarely exact).
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction

from schemas.key import Mode

MODE_NAMES = {m.value: m for m in Mode} | {"ionian": Mode.major, "aeolian": Mode.minor}


class WorkDropped(Exception):
    """A work that is not kept, with a short ``reason`` code and a human ``detail``."""

    def __init__(self, reason: str, detail: str, extra: dict | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.extra = reason, detail, extra or {}


@dataclass(frozen=True)
class Note:
    start: Fraction  # quarter notes from the start of the piece
    end: Fraction
    pitch: int  # MIDI


@dataclass
class Melody:
    notes: list[Note]
    meter: tuple[int, int]  # (numerator, denominator)
    bar_starts: list[Fraction]  # quarter notes; the first bar may be a pickup
    end: Fraction  # quarter notes: end of the last bar or note
    notated_key: tuple[int, Mode] | None = None  # (tonic pitch class, mode) if the score states a key with a mode
    key_signature: int | None = None  # sharps (+) or flats (−) when only a signature is given
    fermatas: list[Fraction] = field(default_factory=list)  # onsets of melody notes with a fermata
    parts: int = 1
    score: object = None  # the music21 score, for chord analysis of multi-part works
    mixed_meter: bool = False  # other time signatures are in force for some bars

    @property
    def bar_length(self) -> Fraction:
        return Fraction(self.meter[0] * 4, self.meter[1])


# --- music21 scores (ABC, MusicXML) ----------------------------------------------------------------------------


def parse_score(fmt: str, payload: bytes):
    """A music21 score from one work's bytes; every parser failure becomes ``WorkDropped("parse_error")``."""
    from music21 import converter

    if not payload.strip():
        raise WorkDropped("empty", "the file is empty")
    try:
        if fmt == "abc":
            return converter.parse(payload.decode("utf-8", errors="replace"), format="abc")
        suffix = ".mxl" if payload[:2] == b"PK" else ".musicxml"
        with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as handle:
            handle.write(payload)
        try:
            return converter.parse(handle.name, format="musicxml")
        finally:
            os.unlink(handle.name)
    except Exception as err:  # music21 raises many unrelated types on bad input
        raise WorkDropped("parse_error", f"{type(err).__name__}: {str(err)[:200]}") from None


def melody_from_score(score) -> Melody:
    from music21 import expressions, key, stream

    if isinstance(score, stream.Opus):
        if not score.scores:
            raise WorkDropped("empty", "no tune in the text")
        score = score.scores[0]
    parts = list(score.parts) if hasattr(score, "parts") and score.parts else [score]
    part = parts[0].stripTies()
    measures = list(part.getElementsByClass(stream.Measure))
    numerator, denominator, mixed = predominant_meter(part, measures)
    by_onset: dict[Fraction, Note] = {}
    fermatas = []
    for element in part.flatten().notes:
        if element.duration.isGrace or element.quarterLength == 0:
            continue
        start = Fraction(element.offset)
        end = start + Fraction(element.quarterLength)
        pitch = max(p.midi for p in element.pitches)
        if start not in by_onset or by_onset[start].pitch < pitch:
            by_onset[start] = Note(start, end, pitch)
        if any(isinstance(e, expressions.Fermata) for e in element.expressions):
            fermatas.append(start)
    notes = monophonic(sorted(by_onset.values(), key=lambda n: n.start))
    if not notes:
        raise WorkDropped("empty", "no notes")

    bar_length = Fraction(numerator * 4, denominator)
    bar_starts = sorted({Fraction(m.offset) for m in measures}) or [Fraction(0)]
    if bar_starts[0] != 0:
        bar_starts.insert(0, Fraction(0))
    end = max(notes[-1].end, bar_starts[-1] + bar_length)

    notated, signature = None, None
    signatures_found = list(part.recurse().getElementsByClass(key.KeySignature))
    if signatures_found:
        first = signatures_found[0]
        if isinstance(first, key.Key) and first.mode in MODE_NAMES:
            notated = (first.tonic.pitchClass, MODE_NAMES[first.mode])
        else:
            signature = first.sharps
    return Melody(
        notes, (numerator, denominator), bar_starts, end, notated, signature, fermatas, len(parts), score, mixed
    )


def predominant_meter(part, measures: list) -> tuple[int, int, bool]:
    """(numerator, denominator, mixed): the time signature in force over the most bars.

    music21 gives an incomplete bar (a pickup inside the tune, a split bar at a repeat) a signature of its own length,
    such as 1/16; only signatures in force for at least two bars, or over a full first bar, count as the tune's meters.
    """
    from music21 import meter

    signatures = list(part.recurse().getElementsByClass(meter.TimeSignature))
    if not signatures:
        raise WorkDropped("no_meter", "no time signature (free meter)")
    bars: dict[tuple[int, int], int] = {}
    current = (signatures[0].numerator, signatures[0].denominator)
    for measure in measures or [part]:
        found = measure.getElementsByClass(meter.TimeSignature) if measure is not part else []
        if found:
            current = (found[0].numerator, found[0].denominator)
        bars[current] = bars.get(current, 0) + 1
    meters = [m for m, count in bars.items() if count >= 2] or list(bars)
    main = max(meters, key=lambda m: (bars[m], -meters.index(m)))
    return main[0], main[1], len(meters) > 1


def monophonic(notes: list[Note]) -> list[Note]:
    """Cut each note where the next one starts (legato overlaps, voices): one note sounds at a time."""
    result: list[Note] = []
    for note, following in zip(notes, [*notes[1:], None], strict=False):
        end = min(note.end, following.start) if following else note.end
        if end > note.start:
            result.append(Note(note.start, end, note.pitch))
    return result


# --- MIDI -----------------------------------------------------------------------------------------------------


def melody_from_midi(payload: bytes, steps_per_quarter: int) -> Melody:
    import pretty_midi

    if not payload.strip(b"\x00 \n"):
        raise WorkDropped("empty", "the file is empty")
    try:
        pm = pretty_midi.PrettyMIDI(io.BytesIO(payload))
    except Exception as err:
        raise WorkDropped("parse_error", f"not a readable MIDI file: {type(err).__name__}: {str(err)[:200]}") from None
    signatures = {(ts.numerator, ts.denominator) for ts in pm.time_signature_changes}
    if len(signatures) > 1:
        raise WorkDropped("meter_change", f"time signatures {sorted(signatures)}")
    numerator, denominator = next(iter(signatures)) if signatures else (4, 4)

    def quarters(seconds: float) -> Fraction:
        value = pm.time_to_tick(seconds) / pm.resolution
        snapped = round(value * steps_per_quarter)
        if abs(value * steps_per_quarter - snapped) <= 0.25:
            return Fraction(snapped, steps_per_quarter)
        return Fraction(value).limit_denominator(960)

    by_onset: dict[Fraction, Note] = {}
    for instrument in pm.instruments:
        if instrument.is_drum:
            continue
        for n in instrument.notes:
            start, end = quarters(n.start), quarters(n.end)
            if end > start and (start not in by_onset or by_onset[start].pitch < n.pitch):
                by_onset[start] = Note(start, end, n.pitch)
    notes = monophonic(sorted(by_onset.values(), key=lambda n: n.start))
    if not notes:
        raise WorkDropped("empty", "no pitched notes")
    bar_length = Fraction(numerator * 4, denominator)
    bars = int(notes[-1].end // bar_length) + (notes[-1].end % bar_length > 0)
    notated = None
    if pm.key_signature_changes:
        number = pm.key_signature_changes[0].key_number  # 0–11 major, 12–23 minor
        notated = (number % 12, Mode.major if number < 12 else Mode.minor)
    return Melody(notes, (numerator, denominator), [bar_length * i for i in range(bars)], bar_length * bars, notated)
