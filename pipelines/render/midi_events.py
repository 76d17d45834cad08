"""A MIDI file as the timed channel events a synth plays, with each stem moved onto its own bus channel.

Times are exact: ticks are converted to microseconds through the tempo map in integers, then to a sample index,
so a cue of ``length`` seconds ends on sample ``round(length × rate)`` however many tempo changes it has.

Stems: a stem is one or more MIDI channels of the file (several parts delivered as one stem). FluidSynth gives
channel ``c`` to bus ``c mod buses``, so with one bus per stem the ``k``-th channel of stem ``i`` is moved to
channel ``i + k × stems`` (:meth:`MidiPerformance.bus_of` undoes it); a moved channel is a drum channel if its
source channel was 10, which keeps General MIDI's drum channel from sharing a bus with another stem.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import mido

from cues.schemas.errors import MidiReadError

DRUM_CHANNEL = 9  # General MIDI channel 10
MAX_STEMS = 16  # MIDI channels, hence synth buses


@dataclass(frozen=True)
class StemRoute:
    """One stem: its name and the MIDI channels (0–15) its events are on in the file (one channel may be given as
    an int); a delivered stem gathered from several rendered ones also names them (``groups``, in render order)."""

    name: str
    channels: tuple[int, ...] | int
    groups: tuple[str, ...] = ()  # the rendered stems it sums; empty: it is one rendered stem, itself

    def __post_init__(self) -> None:
        if isinstance(self.channels, int):
            object.__setattr__(self, "channels", (self.channels,))
        if not self.channels:
            raise MidiReadError(f"the stem {self.name!r} has no MIDI channel")

    @property
    def channel(self) -> int:
        """The stem's first channel."""
        return self.channels[0]

    @property
    def drums(self) -> bool:
        """Whether the stem plays only the drum channel."""
        return self.channels == (DRUM_CHANNEL,)


@dataclass(frozen=True)
class TimedEvent:
    """A channel message (``kind`` is mido's type) at ``sample``, on the bus channel of its stem."""

    sample: int
    kind: str
    channel: int
    data1: int = 0
    data2: int = 0


@dataclass(frozen=True)
class MidiPerformance:
    """What the synth plays: events sorted by sample, the stems in bus order, the file's length in samples, and
    the synth channels that are drum channels."""

    events: tuple[TimedEvent, ...]
    stems: tuple[StemRoute, ...]
    length_samples: int
    drum_channels: frozenset[int] = frozenset()

    def bus_of(self, channel: int) -> int:
        """The bus (stem index) of a synth channel."""
        return channel % len(self.stems)

    def alone(self, bus: int) -> MidiPerformance:
        """The performance with only the events of stem ``bus`` (on their own channels): what a one-bus synth
        plays to render that stem by itself."""
        return replace(self, events=tuple(event for event in self.events if self.bus_of(event.channel) == bus))


def read_performance(data: bytes, sample_rate: int, stems: tuple[StemRoute, ...] | None = None) -> MidiPerformance:
    """Parse ``data`` (a Standard MIDI File) into a :class:`MidiPerformance` at ``sample_rate``.

    ``stems`` defaults to one stem per channel that has notes, named after its track. Raises
    :class:`MidiReadError` for a corrupt file, too many stems, or notes on a channel no stem takes."""
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except Exception as err:  # mido raises OSError, EOFError, ValueError, KeyError… on corrupt input
        raise MidiReadError(f"not a readable MIDI file: {err}") from err
    if midi.type == 2:
        raise MidiReadError("MIDI type 2 (independent sequences) is not supported; save it as type 0 or 1")
    timed, end_tick, names = _absolute_ticks(midi)
    stems = stems or _default_stems(timed, names)
    if len(stems) > MAX_STEMS:
        raise MidiReadError(f"{len(stems)} stems; the synth has {MAX_STEMS} buses at most")
    synth_channel = {}  # source channel → synth channel (module docstring)
    for bus, stem in enumerate(stems):
        for k, channel in enumerate(stem.channels):
            if channel in synth_channel:
                raise MidiReadError("two stems name the same MIDI channel")
            synth_channel[channel] = bus + k * len(stems)
    if max(synth_channel.values()) >= MAX_STEMS:
        raise MidiReadError(f"{len(synth_channel)} channels in {len(stems)} stems do not fit the synth's 16 channels")
    drums = frozenset(synth_channel[c] for c in synth_channel if c == DRUM_CHANNEL)
    to_sample = _tick_to_sample(timed, midi.ticks_per_beat, sample_rate)
    events = []
    for tick, message in timed:
        if message.is_meta or not hasattr(message, "channel"):
            continue
        if message.channel not in synth_channel:
            if message.type == "note_on":
                raise MidiReadError(f"notes on MIDI channel {message.channel + 1}, which no stem takes")
            continue
        event = _event(to_sample(tick), synth_channel[message.channel], message)
        if event.kind != "ignored":  # sysex-like channel messages a synth of GM sounds does not need
            events.append(event)
    return MidiPerformance(tuple(events), tuple(stems), to_sample(end_tick), drums)


def note_spans(performance: MidiPerformance, bus: int) -> list[tuple[int, int]]:
    """(note-on sample, note-off sample) of every note on ``bus``; a note never released ends at the file's end."""
    held: dict[int, list[int]] = {}
    spans = []
    for event in performance.events:
        if event.channel != bus:
            continue
        if event.kind == "note_on":
            held.setdefault(event.data1, []).append(event.sample)
        elif event.kind == "note_off" and held.get(event.data1):
            spans.append((held[event.data1].pop(0), event.sample))
    spans += [(start, performance.length_samples) for starts in held.values() for start in starts]
    return sorted(spans)


def _absolute_ticks(midi: mido.MidiFile) -> tuple[list[tuple[int, object]], int, dict[int, str]]:
    """Every message with its absolute tick (stable: file order within a tick), the last tick, track names."""
    timed: list[tuple[int, int, int, object]] = []
    names: dict[int, str] = {}
    end = 0
    for index, track in enumerate(midi.tracks):
        tick = 0
        name = None
        for order, message in enumerate(track):
            tick += message.time
            if message.type == "track_name":
                name = message.name
            elif not message.is_meta and hasattr(message, "channel") and name:
                names.setdefault(message.channel, name)
            timed.append((tick, index, order, message))
        end = max(end, tick)
    timed.sort(key=lambda t: (t[0], t[1], t[2]))
    return [(tick, message) for tick, _, _, message in timed], end, names


def _default_stems(timed: list[tuple[int, object]], names: dict[int, str]) -> tuple[StemRoute, ...]:
    channels = sorted({m.channel for _, m in timed if m.type == "note_on" and m.velocity > 0})
    if not channels:
        raise MidiReadError("the MIDI file has no notes")
    stems, seen = [], set()
    for channel in channels:
        name = _stem_name(names.get(channel) or ("drums" if channel == DRUM_CHANNEL else f"channel-{channel + 1}"))
        if name in seen:
            name = f"{name}-{channel + 1}"
        seen.add(name)
        stems.append(StemRoute(name, channel))
    return tuple(stems)


def _stem_name(text: str) -> str:
    """A track name as a file-safe stem name."""
    cleaned = "".join(c if c.isalnum() else "-" for c in text.strip().lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part)[:40] or "stem"


def _tick_to_sample(timed: list[tuple[int, object]], ticks_per_beat: int, sample_rate: int):
    """A function tick → sample index, exact through the tempo map (integers, rounded once at the end)."""
    changes = [(0, 500_000)]  # MIDI's default tempo until the first set_tempo
    for tick, message in timed:
        if message.type == "set_tempo":
            if tick == changes[-1][0]:
                changes[-1] = (tick, message.tempo)  # the later of two events at one tick wins
            else:
                changes.append((tick, message.tempo))
    # µs × ticks_per_beat at the start of each tempo segment, so segment arithmetic stays in integers
    starts, elapsed = [], 0
    for i, (tick, tempo) in enumerate(changes):
        starts.append(elapsed)
        if i + 1 < len(changes):
            elapsed += (changes[i + 1][0] - tick) * tempo

    def to_sample(tick: int) -> int:
        i = _segment(changes, tick)
        start_tick, tempo = changes[i]
        scaled_us = starts[i] + (tick - start_tick) * tempo  # µs × ticks_per_beat
        denominator = ticks_per_beat * 1_000_000
        return (2 * scaled_us * sample_rate + denominator) // (2 * denominator)  # round half up, exactly

    return to_sample


def _segment(changes: list[tuple[int, int]], tick: int) -> int:
    lo, hi = 0, len(changes) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if changes[mid][0] <= tick:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _event(sample: int, channel: int, message) -> TimedEvent:
    kind = message.type
    if kind == "note_on" and message.velocity == 0:
        return TimedEvent(sample, "note_off", channel, message.note)
    if kind in ("note_on", "note_off"):
        return TimedEvent(sample, kind, channel, message.note, getattr(message, "velocity", 0))
    if kind == "control_change":
        return TimedEvent(sample, kind, channel, message.control, message.value)
    if kind == "program_change":
        return TimedEvent(sample, kind, channel, message.program)
    if kind == "pitchwheel":
        return TimedEvent(sample, kind, channel, message.pitch + 8192)
    if kind == "aftertouch":
        return TimedEvent(sample, kind, channel, message.value)
    if kind == "polytouch":
        return TimedEvent(sample, kind, channel, message.note, message.value)
    return TimedEvent(sample, "ignored", channel)
