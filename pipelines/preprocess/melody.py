"""Reading one work (ABC tune, MusicXML score, MIDI file) into a monophonic :class:`Melody` in quarter notes.

The melody is the first part of a score (for a chorale the part named "Soprano", else the first part: some chorales
put an instrument such as "Horn 2" first), or for MIDI the highest sounding non-drum line ("skyline": at each onset
the highest pitch). Chords in the melody part keep their top note, ties are merged (``stripTies``), grace notes
dropped; a note is cut where the next one starts, so exactly one note sounds at a time.

Meter: the score's first time signature. music21's ABC reader gives each incomplete bar (a pickup after a repeat, a
phrase that ends mid-bar on its own line, as Essen writes) a time signature of its own length, such as ``1/16``;
such a signature in force for one bar and shorter than the main bar is not a meter change. Any other second time
signature drops the work (``meter_change``); none at all (ABC ``M:none``) drops it as ``no_meter``. Bar starts are
the score's measure offsets, so they include those incomplete bars.

MIDI: the first time signature (4/4 when the file has none), bars every full bar from time 0, times in quarter notes
from the tempo map (``time_to_tick / resolution``); a time within a quarter of a grid step of the grid is snapped to
it, since performed MIDI is rarely exact (triplets, a third of a step away, stay off the grid).
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from fractions import Fraction

from cues.schemas.key import Mode

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
    texture: tuple[float, ...] | None = None  # multi-part works: quarter notes of each pitch class, all parts
    final_bass: int | None = None  # multi-part works: pitch class of the lowest note sounding at the end

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
            return converter.parseData(_decode_text(payload), format="abc")
        # In memory: converter.parse(path) would also leave a pickle per file in music21's temp directory.
        return converter.parseData(_musicxml_text(payload), format="musicxml")
    except WorkDropped:
        raise
    except Exception as err:  # music21 raises many unrelated types on bad input
        raise WorkDropped("parse_error", f"{type(err).__name__}: {str(err)[:200]}") from None


def _decode_text(payload: bytes) -> str:
    """UTF-8, else Latin-1 (older ABC collections), which decodes any bytes."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("latin-1")


def _musicxml_text(payload: bytes) -> str:
    """The XML text of a plain or compressed (.mxl: a zip whose first non-META-INF .xml is the score) MusicXML file."""
    if payload[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            names = [
                n for n in archive.namelist() if "META-INF" not in n and n.rsplit(".", 1)[-1] in ("xml", "musicxml")
            ]
            if not names:
                raise WorkDropped("parse_error", "the .mxl archive holds no MusicXML file")
            payload = archive.read(names[0])
    declared = re.match(rb"""<\?xml[^>]*encoding=["']([\w.-]+)["']""", payload[:200])
    try:
        return payload.decode(declared.group(1).decode("ascii") if declared else "utf-8")
    except (LookupError, UnicodeDecodeError):
        return _decode_text(payload)


def melody_from_score(score, is_musicxml: bool = False) -> Melody:
    """The melody, meter, bars, key and (for three or more parts) texture of a parsed music21 score."""
    from music21 import expressions, key, stream

    if isinstance(score, stream.Opus):
        if not score.scores:
            raise WorkDropped("empty", "no tune in the text")
        score = score.scores[0]
    parts = list(score.parts) if hasattr(score, "parts") and score.parts else [score]
    source = melody_part(parts)
    part = source.stripTies()
    measures = list(part.getElementsByClass(stream.Measure))
    numerator, denominator = score_meter(part, measures)
    by_onset: dict[Fraction, Note] = {}
    for element in part.flatten().notes:
        if element.duration.isGrace or element.quarterLength == 0:
            continue
        start = Fraction(element.offset)
        end = start + Fraction(element.quarterLength)
        pitch = max(p.midi for p in element.pitches)
        if start not in by_onset or by_onset[start].pitch < pitch:
            by_onset[start] = Note(start, end, pitch)
    # From the unmerged part: a fermata on the last note of a tie is lost by stripTies.
    fermatas = sorted(
        {
            Fraction(element.offset)
            for element in source.flatten().notes
            if any(isinstance(e, expressions.Fermata) for e in element.expressions)
        }
    )
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
        # A score's mode counts only in ABC (K:Ador, K:Gm, K:G = G major). MusicXML <mode> is often missing or filled
        # in by the exporter, so there the signature only narrows the choice to a major key and its relative minor.
        if not is_musicxml and isinstance(first, key.Key) and first.mode in MODE_NAMES:
            notated = (first.tonic.pitchClass, MODE_NAMES[first.mode])
        else:
            signature = first.sharps
    texture, final_bass = texture_of(parts) if len(parts) >= 3 else (None, None)
    return Melody(
        notes,
        (numerator, denominator),
        bar_starts,
        end,
        notated,
        signature,
        fermatas,
        len(parts),
        score,
        texture,
        final_bass,
    )


def melody_part(parts: list):
    """The part named "Soprano" (or "S."), else the first part."""
    for part in parts:
        name = (part.partName or "").strip().lower()
        if name.startswith("soprano") or name in ("s", "s."):
            return part
    return parts[0]


def texture_of(parts: list) -> tuple[tuple[float, ...], int | None]:
    """(quarter notes per pitch class over all parts, pitch class of the lowest of the parts' final notes)."""
    weights = [0.0] * 12
    finals = []
    for part in parts:
        notes = part.flatten().notes
        for element in notes:
            for p in element.pitches:
                weights[p.pitchClass] += float(element.quarterLength)
        if notes:
            finals.extend(p.midi for p in notes[-1].pitches)
    return tuple(weights), (min(finals) % 12 if finals else None)


def score_meter(part, measures: list) -> tuple[int, int]:
    """(numerator, denominator) of the first time signature; raises ``no_meter`` or ``meter_change``.

    A signature in force for one bar only and shorter than the main bar is music21's mark of an incomplete bar (see
    the module docstring), not a change of meter.
    """
    from music21 import meter

    signatures = list(part.recurse().getElementsByClass(meter.TimeSignature))
    if not signatures:
        raise WorkDropped("no_meter", "no time signature (free meter)")
    runs: list[list] = []  # [(numerator, denominator), bars in force], in score order
    current = (signatures[0].numerator, signatures[0].denominator)
    for measure in measures or [part]:
        found = measure.getElementsByClass(meter.TimeSignature) if measure is not part else []
        if found:
            current = (found[0].numerator, found[0].denominator)
        if runs and runs[-1][0] == current:
            runs[-1][1] += 1
        else:
            runs.append([current, 1])

    def length(m: tuple[int, int]) -> Fraction:
        return Fraction(4 * m[0], m[1])

    main = runs[0][0]
    if len(runs) > 1 and runs[0][1] == 1 and length(runs[1][0]) > length(main):  # a pickup bar of its own
        main = runs[1][0]
    changes = sorted({m for m, bars in runs if m != main and (bars > 1 or length(m) >= length(main))})
    if changes:
        listed = ", ".join(f"{n}/{d}" for n, d in [main, *changes])
        raise WorkDropped("meter_change", f"time signatures {listed}")
    return main


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
    # pretty_midi imports pyfluidsynth, which prints where it found the library when CI is set in the environment
    with contextlib.redirect_stdout(io.StringIO()):
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
