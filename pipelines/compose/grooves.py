"""Drum and percussion grooves, written in beats so one pattern serves 4/4, 3/4, 2/4 and 6/8.

A groove is a list of layers; each layer is a General MIDI drum note, where it plays (on which beats, and where in
the beat), a velocity scale, and the intensity from which it joins — so a quiet section keeps only the foundation
and a loud one adds the hats. On the orchestra kit (program 48) the low drums are timpani and concert drums.
"""

from __future__ import annotations

from dataclasses import dataclass

from cues.schemas.mood_table import Groove

KICK, SNARE, CLOSED_HAT, OPEN_HAT, RIDE, LOW_TOM, MID_TOM, FLOOR_TOM, SHAKER = 36, 38, 42, 46, 51, 45, 47, 41, 70


@dataclass(frozen=True)
class Layer:
    """``drum`` on ``beats`` (``"all"``, ``"odd"`` = 1, 3 …, ``"even"`` = 2, 4 …, ``"first"``) at ``offsets``
    (fractions of a beat), from ``min_intensity`` up."""

    drum: int
    beats: str
    offsets: tuple[float, ...]
    scale: float
    min_intensity: float = 0.0


GROOVES: dict[Groove, tuple[Layer, ...]] = {
    Groove.none: (),
    Groove.pulse: (Layer(FLOOR_TOM, "all", (0.0,), 0.55), Layer(SHAKER, "all", (0.5,), 0.35, 0.5)),
    Groove.straight: (
        Layer(KICK, "odd", (0.0,), 0.9),
        Layer(SNARE, "even", (0.0,), 0.85, 0.4),
        Layer(CLOSED_HAT, "all", (0.0, 0.5), 0.5, 0.5),
    ),
    Groove.driving: (
        Layer(KICK, "all", (0.0,), 0.95),
        Layer(SNARE, "even", (0.0,), 0.9, 0.3),
        Layer(CLOSED_HAT, "all", (0.0, 0.25, 0.5, 0.75), 0.45, 0.55),
        Layer(OPEN_HAT, "all", (0.5,), 0.5, 0.8),
    ),
    Groove.half_time: (
        Layer(KICK, "first", (0.0,), 0.95),
        Layer(SNARE, "middle", (0.0,), 0.9, 0.35),
        Layer(RIDE, "all", (0.0, 0.5), 0.45, 0.6),
    ),
    Groove.shuffle: (
        Layer(KICK, "odd", (0.0,), 0.85),
        Layer(SNARE, "even", (0.0,), 0.8, 0.4),
        Layer(CLOSED_HAT, "all", (0.0, 0.75), 0.5, 0.45),
    ),
    Groove.march: (
        Layer(KICK, "odd", (0.0,), 0.85),
        Layer(SNARE, "all", (0.0,), 0.6, 0.3),
        Layer(SNARE, "even", (0.5, 0.75), 0.45, 0.6),
    ),
    Groove.ostinato: (
        Layer(LOW_TOM, "all", (0.0, 0.25, 0.5, 0.75), 0.45),
        Layer(KICK, "odd", (0.0,), 0.9, 0.4),
        Layer(SNARE, "even", (0.0,), 0.7, 0.65),
    ),
}


def _on(beats: str, beat: int, count: int) -> bool:
    if beats == "all":
        return True
    if beats == "first":
        return beat == 0
    if beats == "middle":  # the backbeat of half time: beat 3 of 4, beat 2 of 2 or 3
        return beat == count // 2 if count > 1 else False
    return beat % 2 == (0 if beats == "odd" else 1)


def groove_hits(
    groove: Groove, steps_per_bar: int, steps_per_beat: int, intensity: float, fill: bool = False, kit: int = 0
) -> list[tuple[int, int, float]]:
    """(step in the bar, drum, velocity scale) of one bar of ``groove`` at ``intensity``; ``fill`` leads into the
    next section with toms on the last beat (from intensity 0.5)."""
    count = steps_per_bar // steps_per_beat
    hits: dict[tuple[int, int], float] = {}
    for layer in GROOVES[groove]:
        if intensity < layer.min_intensity:
            continue
        for beat in range(count):
            if not _on(layer.beats, beat, count):
                continue
            for offset in layer.offsets:
                step = beat * steps_per_beat + round(offset * steps_per_beat)
                if step < steps_per_bar:
                    hits[(step, layer.drum)] = max(hits.get((step, layer.drum), 0.0), layer.scale)
    if fill and groove != Groove.none and intensity >= 0.5:
        last = steps_per_bar - steps_per_beat
        hits = {k: v for k, v in hits.items() if k[0] < last or k[1] == KICK}
        toms = (MID_TOM, LOW_TOM, FLOOR_TOM, FLOOR_TOM, FLOOR_TOM, FLOOR_TOM)
        for k, step in enumerate(range(last, steps_per_bar, max(1, steps_per_beat // 4))):
            hits[(step, toms[min(k, len(toms) - 1)])] = 0.6 + 0.1 * k
    return sorted((step, drum, min(scale, 1.0)) for (step, drum), scale in hits.items())
