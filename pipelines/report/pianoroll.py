"""A cue's piano roll as a PNG: every stem's notes over time, with the plan's sections and hits on top.

Pitched stems share one lane (y = MIDI pitch), drum stems get a short lane of their own at the bottom where
each hit is a tick, so a busy kit does not hide the bass. The x axis is in seconds, through the file's tempo map.
Section starts are grey lines labelled with the section label, hits are red markers at their achieved time.

Matplotlib is driven through ``Figure`` and ``FigureCanvasAgg`` only, never pyplot: pyplot keeps figures in a
global registry, which would leak memory in a long-lived worker and is not thread-safe.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cues.pipelines.render.midi_events import StemRoute, read_performance
from cues.schemas.plan import Hit, Plan, Section

TICKS_PER_SECOND = 1000  # note times are read at 1 ms resolution: finer than a pixel at any width we allow
DPI = 100  # fixed, so the figure size in inches is simply pixels / 100
HEIGHT_RATIO = 0.375  # height / width: 1200 px wide → 450 px high
MIN_WIDTH_PX, MAX_WIDTH_PX = 600, 8000  # narrower leaves no room for the legend; wider is a poster, not a report
# margins in pixels, not fractions, so text has the same room at every width
TOP_PX, BOTTOM_PX, LEFT_PX, RIGHT_PX = 62, 36, 56, 10
# tab10: ten colours that stay distinct on white; stems beyond ten reuse them in order
COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#d62728",
)
HIT_COLOUR = "#e00000"
NOTE_HEIGHT = 0.8  # semitones: a small gap keeps neighbouring pitches apart


@dataclass(frozen=True)
class StemNotes:
    """One stem's notes: ``starts`` and ``ends`` in seconds, ``pitches`` MIDI 0–127 (drum keys for a drum stem)."""

    name: str
    label: str
    drums: bool
    starts: np.ndarray
    ends: np.ndarray
    pitches: np.ndarray


def pianoroll_png(midi: bytes, plan: Plan | None, width_px: int = 1200) -> bytes:
    """The piano roll of ``midi`` (a Standard MIDI File) as PNG bytes, ``width_px`` wide and 0.375 × that high.

    ``plan`` is the cue's plan; it gives the stems (name, channel, instrument: one colour and legend entry each),
    the sections and hits drawn over the notes, the length and the key, meter and tempo printed in the corner.
    Without a plan, every MIDI channel with notes is a stem and nothing is drawn over them.
    The same input always gives the same bytes. ``width_px`` must be in [600, 8000]; raises ``ValueError``
    otherwise, and :class:`~cues.schemas.errors.MidiReadError` if ``midi`` cannot be read.
    """
    if not isinstance(width_px, int) or not MIN_WIDTH_PX <= width_px <= MAX_WIDTH_PX:
        raise ValueError(f"width_px must be an integer in [{MIN_WIDTH_PX}, {MAX_WIDTH_PX}], got {width_px!r}")
    stems, midi_end_s = read_stem_notes(midi, plan)
    end_s = max(plan.length_s if plan else 0.0, midi_end_s, 1.0)
    height_px = round(width_px * HEIGHT_RATIO)

    figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor="white")
    canvas = FigureCanvasAgg(figure)
    has_drums = any(s.drums and len(s.starts) for s in stems)
    if has_drums:
        notes_ax, drums_ax = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [5, 1], "hspace": 0.05})
        axes = (notes_ax, drums_ax)
    else:
        notes_ax, drums_ax = figure.subplots(1, 1), None
        axes = (notes_ax,)
    # fixed margins rather than tight_layout: cheaper, and the layout cannot shift with the data
    figure.subplots_adjust(
        left=LEFT_PX / width_px,
        right=1 - RIGHT_PX / width_px,
        top=1 - TOP_PX / height_px,
        bottom=BOTTOM_PX / height_px,
    )

    colours = [COLOURS[i % len(COLOURS)] for i in range(len(stems))]
    for stem, colour in zip(stems, colours, strict=True):
        if not len(stem.starts):
            continue
        if stem.drums and drums_ax is not None:
            _draw_ticks(drums_ax, stem, colour)
        else:
            _draw_notes(notes_ax, stem, colour, min_width_s=end_s / width_px)

    pitched = [s.pitches for s in stems if not s.drums and len(s.pitches)]
    _pitch_axis(notes_ax, np.concatenate(pitched) if pitched else np.array([60]))
    if drums_ax is not None:
        keys = np.concatenate([s.pitches for s in stems if s.drums and len(s.pitches)])
        drums_ax.set_ylim(keys.min() - 2, keys.max() + 2)
        drums_ax.set_yticks([])
        drums_ax.set_ylabel("drums", fontsize=8)

    _draw_sections(axes, plan.sections if plan else ())
    any_hits = _draw_hits(axes, plan.hits if plan else ())

    bottom = axes[-1]
    bottom.set_xlim(0.0, end_s)
    bottom.set_xlabel("time (s)", fontsize=8)
    for ax in axes:
        ax.tick_params(labelsize=7)
    _legend(figure, canvas, stems, colours, any_hits, _caption(figure, plan))

    buffer = io.BytesIO()
    # no Software/date chunks: the same cue must give byte-identical PNGs (content hashes in the manifest)
    canvas.print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()


def read_stem_notes(midi: bytes, plan: Plan | None) -> tuple[list[StemNotes], float]:
    """Every stem's notes in seconds, in the plan's stem order, and the MIDI file's length in seconds.

    Uses the plan's stems (``name`` and ``channels`` 0–15) when it has them, else one stem per channel with notes,
    named after its track. A note still sounding at the end of the file ends there.
    Raises :class:`~cues.schemas.errors.MidiReadError` for an unreadable file or notes on a channel no stem takes.
    """
    planned = plan.stems if plan else ()
    routes = tuple(StemRoute(s.name, s.channels or s.channel) for s in planned) or None
    # the renderer's own reader: the same tempo-map arithmetic, so the picture lines up with the audio
    performance = read_performance(midi, TICKS_PER_SECOND, routes)
    sounding: dict[tuple[int, int], list[int]] = {}
    notes: list[list[tuple[int, int, int]]] = [[] for _ in performance.stems]
    for event in performance.events:
        if event.kind == "note_on" and event.data2 > 0:
            sounding.setdefault((event.channel, event.data1), []).append(event.sample)
        elif event.kind == "note_off":
            starts = sounding.get((event.channel, event.data1))
            if starts:  # first on, first off: how a synth pairs repeated notes of one pitch
                notes[performance.bus_of(event.channel)].append((starts.pop(0), event.sample, event.data1))
    for (channel, pitch), starts in sorted(sounding.items()):
        notes[performance.bus_of(channel)].extend((start, performance.length_samples, pitch) for start in starts)

    instruments = {s.name: s.instrument for s in planned}
    result = []
    for route, stem_notes in zip(performance.stems, notes, strict=True):
        table = np.array(sorted(stem_notes), dtype=np.int64).reshape(-1, 3)
        instrument = instruments.get(route.name)
        label = f"{route.name} ({instrument})" if instrument else route.name
        result.append(
            StemNotes(
                name=route.name,
                label=label,
                drums=route.drums,
                starts=table[:, 0] / TICKS_PER_SECOND,
                ends=table[:, 1] / TICKS_PER_SECOND,
                pitches=table[:, 2],
            )
        )
    return result, performance.length_samples / TICKS_PER_SECOND


def _draw_notes(ax, stem: StemNotes, colour: str, min_width_s: float) -> None:
    """One filled rectangle per note, as a single collection: thousands of patches would take seconds."""
    left = stem.starts
    right = np.maximum(stem.ends, left + min_width_s)  # a very short note still shows as one pixel
    low = stem.pitches - NOTE_HEIGHT / 2
    high = stem.pitches + NOTE_HEIGHT / 2
    verts = np.stack(
        [np.column_stack(corner) for corner in ((left, low), (right, low), (right, high), (left, high))], axis=1
    )  # (notes, 4 corners, xy)
    ax.add_collection(PolyCollection(verts, facecolors=colour, edgecolors="none", alpha=0.9), autolim=False)


def _draw_ticks(ax, stem: StemNotes, colour: str) -> None:
    """Drum hits as short vertical ticks at their onset: a drum note's length means nothing to the listener."""
    segments = np.stack(
        [np.column_stack((stem.starts, stem.pitches - 0.9)), np.column_stack((stem.starts, stem.pitches + 0.9))],
        axis=1,
    )  # (hits, 2 ends, xy)
    ax.add_collection(LineCollection(segments, colors=colour, linewidths=1.0), autolim=False)


def _pitch_axis(ax, pitches: np.ndarray) -> None:
    low, high = int(pitches.min()) - 2, int(pitches.max()) + 2
    ax.set_ylim(low, high)
    c_notes = [p for p in range(low, high + 1) if p % 12 == 0]
    ax.set_yticks(c_notes, [f"C{p // 12 - 1}" for p in c_notes])
    ax.set_ylabel("pitch", fontsize=8)


def _draw_sections(axes, sections: Sequence[Section]) -> None:
    top = axes[0]
    for section in sections:
        for ax in axes:
            ax.axvline(section.start_s, color="#555555", linewidth=0.8, linestyle="--", zorder=0)
        # x in data (seconds), y in axes fraction: the label sits just above the plot whatever the pitch range
        label = f" {section.label}"
        top.text(section.start_s, 1.01, label, transform=top.get_xaxis_transform(), fontsize=8, va="bottom", ha="left")


def _draw_hits(axes, hits: Sequence[Hit]) -> bool:
    """Red markers at each hit's achieved time; ``True`` if any were drawn."""
    times = [hit.achieved_s for hit in hits]
    if not times:
        return False
    top = axes[0]
    for ax in axes:
        for time in times:
            ax.axvline(time, color=HIT_COLOUR, linewidth=1.0, alpha=0.6, zorder=3)
    top.plot(
        times,
        [1.0] * len(times),
        "v",
        color=HIT_COLOUR,
        markersize=7,
        transform=top.get_xaxis_transform(),
        clip_on=False,
    )
    return True


def _caption(figure: Figure, plan: Plan | None):
    """Key, meter and tempo in the top-left corner."""
    parts = [plan.key, plan.meter, f"{round(plan.tempo_bpm, 1):g} bpm"] if plan else []
    return figure.text(4 / figure.bbox.width, 1 - 4 / figure.bbox.height, "  ·  ".join(parts), va="top", fontsize=9)


def _legend(figure: Figure, canvas: FigureCanvasAgg, stems, colours, any_hits: bool, caption) -> None:
    """One entry per stem (and one for hits) in the top-right corner, on the caption's row.

    Labels name the instrument too when that fits beside the caption; otherwise only the stem, and if even that
    is too wide, the entries wrap onto a second row.
    """
    renderer = canvas.get_renderer()
    caption_right = caption.get_window_extent(renderer).x1
    attempts = [
        (True, len(stems) + any_hits),
        (False, len(stems) + any_hits),
        (False, (len(stems) + any_hits + 1) // 2),
    ]
    for attempt, (full_labels, columns) in enumerate(attempts, start=1):
        handles = [
            Patch(facecolor=colour, label=stem.label if full_labels else stem.name)
            for stem, colour in zip(stems, colours, strict=True)
        ]
        if any_hits:
            handles.append(Line2D([], [], color=HIT_COLOUR, marker="v", linestyle="none", label="hit"))
        legend = figure.legend(
            handles=handles,
            loc="upper right",
            bbox_to_anchor=(1.0, 1.0),
            ncol=max(1, columns),
            fontsize=8,
            frameon=False,
            borderaxespad=0.2,
            columnspacing=1.2,
            handlelength=1.4,
        )
        # the last attempt stays even if it still touches the caption: a crowded legend beats none
        if legend.get_window_extent(renderer).x0 > caption_right + 8 or attempt == len(attempts):
            return
        legend.remove()
