"""A :class:`Score` as a Standard MIDI File (type 1), exact in time and identical byte for byte for the same score.

Track 0 holds the tempo map, time and key signatures, and markers (meta event FF 06, which DAWs show on their
timeline): one at each section's downbeat named by its label (``A``, ``A'``, ``intro``), and one at each hit
(``hit 1 12.000s``, the time the brief asked for; the marker sits where the hit landed). Then one track per part
(``Plan.parts``), each on its own channel (drums on channel 10) with its program and volume (CC 7), laid out so the
renderer can route every stem's channels to its own bus in one synth pass. The notes are written as played
(``performance.py``: humanised timing and velocity, articulation, a swell per phrase), not as the grid has them;
hits, section downbeats and the length stay exact.

Exact length: a MIDI tempo is a whole number of microseconds per quarter note, so a segment of the tempo map is
written as its tempo rounded down, plus one tempo event on its last 16th that takes up the remainder. Every segment
then ends within half a microsecond of the plan's time, and errors do not add up across segments.
"""

from __future__ import annotations

import io
from fractions import Fraction

import mido

from cues.pipelines.compose.performance import perform, volumes
from cues.pipelines.compose.score import Score
from cues.pipelines.compose.tempo_map import STEPS_PER_QUARTER, TempoMap
from cues.schemas.key import Mode

TICKS_PER_QUARTER = 480
TICKS_PER_STEP = TICKS_PER_QUARTER // STEPS_PER_QUARTER
_SHARP_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_PARENT_MAJOR = {Mode.major: 0, Mode.dorian: 2, Mode.phrygian: 4, Mode.lydian: 5, Mode.mixolydian: 7}


def tempo_events(score: Score) -> list[tuple[int, int]]:
    """(tick, microseconds per quarter note) of every tempo change."""
    events = []
    for segment in TempoMap.of(score.plan).segments:
        ticks = segment.steps * TICKS_PER_STEP
        target = segment.duration_us * TICKS_PER_QUARTER  # µs × ticks-per-quarter, to stay in integers
        base = target // ticks
        events.append((segment.start_step * TICKS_PER_STEP, base))
        remainder = target - base * ticks
        if remainder:
            last = TICKS_PER_STEP
            adjusted = base + round(remainder / last)
            events.append(((segment.end_step - 1) * TICKS_PER_STEP, adjusted))
    return events


def key_signature(tonic: int, mode: Mode) -> str:
    """mido's key name of the signature: the mode's own for major and minor, else its parent major's."""
    if mode == Mode.minor:
        return _SHARP_NAMES[tonic] + "m"
    return _SHARP_NAMES[(tonic - _PARENT_MAJOR[mode]) % 12]


def markers(score: Score) -> list[tuple[int, str]]:
    """(tick, text) of every marker: each section's downbeat, then each hit, in time order (a hit on a section's
    downbeat comes after the section's marker)."""
    plan = score.plan
    sections = [(s.start_bar * plan.steps_per_bar * TICKS_PER_STEP, 0, s.label) for s in plan.sections]
    hits = [(h.step * TICKS_PER_STEP, 1, f"hit {i} {h.requested_s:.3f}s") for i, h in enumerate(plan.hits, start=1)]
    return [(tick, text) for tick, _, text in sorted(sections + hits)]


def midi_bytes(score: Score) -> bytes:
    plan = score.plan
    numerator, denominator = (int(x) for x in plan.meter.split("/"))
    conductor = [
        (0, mido.MetaMessage("track_name", name=f"{plan.brief_id} ({plan.key}, {plan.meter})", time=0)),
        (0, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0)),
        (0, mido.MetaMessage("key_signature", key=key_signature(plan.tonic, plan.mode), time=0)),
    ]
    conductor += [(tick, mido.MetaMessage("set_tempo", tempo=tempo, time=0)) for tick, tempo in tempo_events(score)]
    conductor += [(tick, mido.MetaMessage("marker", text=text, time=0)) for tick, text in markers(score)]
    end_tick = plan.total_steps * TICKS_PER_STEP
    tracks = [_track(conductor, end_tick)]
    volume = volumes(score)
    for part in plan.parts:
        channel = part.channel
        events = [
            (0, mido.MetaMessage("track_name", name=part.name, time=0)),
            (0, mido.Message("program_change", channel=channel, program=part.program, time=0)),
            (0, mido.Message("control_change", channel=channel, control=7, value=volume[part.name], time=0)),
        ]
        for control in score.controls.get(part.name, []):
            events.append(
                (
                    control.step * TICKS_PER_STEP,
                    mido.Message(
                        "control_change", channel=channel, control=control.number, value=control.value, time=0
                    ),
                )
            )
        for note in perform(score, part.name, TICKS_PER_STEP):
            events.append(
                (note.on, mido.Message("note_on", channel=channel, note=note.pitch, velocity=note.velocity, time=0))
            )
            events.append((note.off, mido.Message("note_off", channel=channel, note=note.pitch, velocity=0, time=0)))
        tracks.append(_track(events, end_tick))
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.extend(tracks)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _order(message) -> int:
    """At one tick: meta events, then note-offs, then controls and programs, then note-ons (a repeated note is
    released before it is struck again)."""
    if message.is_meta:
        return 0
    return {"note_off": 1, "program_change": 2, "control_change": 3}.get(message.type, 4)


def _track(events: list[tuple[int, object]], end_tick: int) -> mido.MidiTrack:
    track = mido.MidiTrack()
    now = 0
    ordered = sorted(enumerate(events), key=lambda e: (e[1][0], _order(e[1][1]), e[0]))
    for _, (tick, message) in ordered:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - now)))
    return track


def midi_length_us(data: bytes) -> Fraction:
    """Exact length of a MIDI file in microseconds, read back from its bytes: the last event's time, integrating
    the tempo map in exact fractions (an independent check of what :func:`midi_bytes` wrote)."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    tempo_changes: list[tuple[int, int]] = []
    end = 0
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "set_tempo":
                tempo_changes.append((tick, message.tempo))
        end = max(end, tick)
    tempo_changes.sort(key=lambda change: change[0])  # stable: the later of two events at one tick wins
    elapsed, last_tick, tempo = Fraction(0), 0, 500_000
    for tick, new_tempo in tempo_changes:
        if tick >= end:
            break
        elapsed += Fraction((tick - last_tick) * tempo, midi.ticks_per_beat)
        last_tick, tempo = tick, new_tempo
    return elapsed + Fraction((end - last_tick) * tempo, midi.ticks_per_beat)
