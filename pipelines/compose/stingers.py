"""Transition stingers of a game cue (``delivery.stingers``): short in-key pieces a game plays over or between its
loops, on the cue's instruments and effects, at its tempo and in its key. Pure functions of the cue's plan.

- ``hit`` (1 bar): the tutti tonic chord struck on the downbeat (``effects.ACCENT``) with the impact and a crash,
  held the bar and left to ring: an event (a kill, a pickup).
- ``rise`` (2 bars): the riser swells over the first bar on the dominant (expression from ``effects.SWELL_FROM`` to
  full, squared like the cue's), the pad holds the dominant chord, the drums roll (16ths, crescendo); the tutti
  tonic lands on the second downbeat with the impact: a transition into more intensity.
- ``resolve`` (2 bars): dominant to tonic, the lead stepping 2̂ → 1̂ over the bass 5̂ → 1̂, softer (the mood's velocity
  at intensity 0.5), the tonic held: the end of an encounter, a win.

Decisions where the issue is silent:

- The stinger is built on the cue's plan as made before its parts were thinned to those with notes, so every role
  of the ensemble can play (the effects included, even in a cue without hits); the tempo is the cue's at its end
  (where a loop hands over), the key its key.
- Every chord is a triad of the mode; the dominant of a minor key raises its third to the leading tone (harmonic
  minor), and then nothing sounds the ♭7 (issue 15's rule). No note crosses the last bar line; the tail rings out
  (the ending is ``ring_out``).
- Every note starts on the grid and is played exactly there (all are accents: ``performance.py`` keeps them).
"""

from __future__ import annotations

from dataclasses import dataclass

from cues.pipelines.compose.arrangement import HIT_BEATS, velocity
from cues.pipelines.compose.effects import ACCENT, EXPRESSION, FULL, IMPACT, IMPACT_FLOOR, RISER, SWELL_FROM
from cues.pipelines.compose.ensemble import stems_of
from cues.pipelines.compose.midi_file import midi_bytes
from cues.pipelines.compose.score import Control, Note, Score
from cues.pipelines.compose.voicing import lowest_at_or_above
from cues.schemas.brief import Ending
from cues.schemas.game_delivery import StingerKind
from cues.schemas.key import MODE_INTERVALS, Mode
from cues.schemas.palettes import Role
from cues.schemas.plan import Part, Plan, Section, TempoChange

BARS = {StingerKind.hit: 1, StingerKind.rise: 2, StingerKind.resolve: 2}
KICK, SNARE, CRASH = 36, 38, 49  # General MIDI drum notes
RESOLVE_INTENSITY = 0.5  # a resolve settles: the mood's velocity at a middle intensity
LEADING_TONE = 11  # semitones above the tonic


@dataclass(frozen=True)
class ComposedStinger:
    kind: StingerKind
    plan: Plan  # the stinger's own plan: its bars, tempo, parts and stems
    score: Score
    midi: bytes


def compose_stinger(cue: Plan, kind: StingerKind) -> ComposedStinger:
    """The stinger ``kind`` of the cue planned as ``cue`` (its plan before thinning: ``make_plan``)."""
    plan = stinger_plan(cue, BARS[kind])
    notes, controls = _written(plan, kind)
    playing = tuple(p for p in plan.parts if notes.get(p.name))
    stems, absent = stems_of(playing)
    plan = plan.model_copy(update={"parts": playing, "stems": stems, "absent_stems": absent})
    parts = {p.name: sorted(notes[p.name]) for p in playing}
    accents = sorted({n.start for part in parts.values() for n in part})
    score = Score(plan, parts, {k: v for k, v in controls.items() if k in parts}, accents)
    return ComposedStinger(kind, plan, score, midi_bytes(score))


def stinger_plan(cue: Plan, bars: int) -> Plan:
    """``cue``'s plan cut to ``bars`` bars at its last tempo: one section, no hits, ringing out."""
    _, steps, _, duration_us = cue.tempo_map_us[-1]
    total = bars * cue.steps_per_bar
    length_us = round(duration_us * total / steps)
    length_s = length_us / 1e6
    bpm = cue.tempo_map[-1].bpm
    roles = tuple(role for role in Role if any(p.role == role for p in cue.parts))
    section = Section(
        label="A", name="A", primes=0, start_bar=0, bars=bars, start_s=0.0, end_s=length_s, intensity=1.0, roles=roles
    )
    return cue.model_copy(
        update={
            "cutdown": None,
            "length_s": length_s,
            "bars": bars,
            "tempo_bpm": bpm,
            "tempo_map": (TempoChange(step=0, bar=1.0, start_s=0.0, bpm=bpm),),
            "tempo_map_us": ((0, total, 0, length_us),),
            "ending": Ending.ring_out,
            "sections": (section,),
            "hits": (),
            "notes": (),
        }
    )


def triad(plan: Plan, degree: int) -> tuple[int, int, int]:
    """Pitch classes (root, third, fifth) of the triad on scale ``degree`` (0 = tonic) of the plan's key; the
    dominant of a minor key has the leading tone."""
    scale = MODE_INTERVALS[plan.mode]
    classes = [(plan.tonic + scale[(degree + k) % 7]) % 12 for k in (0, 2, 4)]
    if plan.mode == Mode.minor and degree == 4:
        classes[1] = (plan.tonic + LEADING_TONE) % 12
    return classes[0], classes[1], classes[2]


def _written(plan: Plan, kind: StingerKind) -> tuple[dict[str, list[Note]], dict[str, list[Control]]]:
    """The notes of every part, and the riser's expression, of the stinger ``kind`` on ``plan``."""
    bar, beat = plan.steps_per_bar, plan.steps_per_beat
    end = plan.total_steps
    tonic, dominant = triad(plan, 0), triad(plan, 4)
    notes: dict[str, list[Note]] = {p.name: [] for p in plan.parts}
    controls: dict[str, list[Control]] = {}
    land = 0 if kind == StingerKind.hit else bar  # where the tonic lands
    loud = velocity(plan, RESOLVE_INTENSITY) if kind == StingerKind.resolve else ACCENT
    for part in plan.parts:
        add = notes[part.name]
        if part.role == Role.drums:
            add += _drums(kind, land, bar, beat, loud)
        elif part.name == IMPACT:
            if kind != StingerKind.resolve:
                add.append(Note(land, min(end, land + HIT_BEATS * beat), _low(tonic[0], part), ACCENT))
        elif part.name == RISER:
            if kind == StingerKind.rise:
                add.append(Note(0, bar, _near_middle(dominant[2], part), ACCENT))
                controls[part.name] = _swell(bar)
        else:
            if kind != StingerKind.hit:  # the dominant bar before the landing
                add += _voice(part, dominant, 0, bar, velocity(plan, RESOLVE_INTENSITY), lead_degree=1, plan=plan)
            add += _voice(part, tonic, land, end, loud, lead_degree=0, plan=plan)
    return notes, controls


def _voice(part: Part, chord, start: int, end: int, vel: int, lead_degree: int, plan: Plan) -> list[Note]:
    """One role's notes of ``chord`` from ``start`` to ``end``: the lead on a scale degree (2̂ over the dominant, 1̂
    over the tonic), the counter on the third, the bass on the root, pad and figure the whole triad."""
    root, third, fifth = chord
    if part.role == Role.lead:
        pitch_class = (plan.tonic + MODE_INTERVALS[plan.mode][lead_degree]) % 12
        return [Note(start, end, _near_middle(pitch_class, part), vel)]
    if part.role == Role.counter:
        return [Note(start, end, _near_middle(third, part), vel)]
    if part.role == Role.bass:
        return [Note(start, end, _low(root, part), vel)]
    low = _near_middle(root, part)
    chord_tones = (low, lowest_at_or_above(third, low), lowest_at_or_above(fifth, low))
    return [Note(start, end, pitch, vel) for pitch in chord_tones if pitch <= part.high]


def _drums(kind: StingerKind, land: int, bar: int, beat: int, vel: int) -> list[Note]:
    hits = [Note(land, land + beat, KICK, vel), Note(land, land + beat, CRASH, vel)]
    if kind != StingerKind.rise:
        return hits
    roll = [Note(s, s + 1, SNARE, round(40 + (vel - 40) * s / bar)) for s in range(bar)]  # 16ths, crescendo
    return roll + hits


def _swell(bar: int) -> list[Control]:
    """The riser's expression over the first bar: from SWELL_FROM to full, squared (most of it at the end)."""
    return [Control(s, EXPRESSION, round(SWELL_FROM + (FULL - SWELL_FROM) * (s / bar) ** 2)) for s in range(bar)] + [
        Control(bar, EXPRESSION, FULL)
    ]


def _near_middle(pitch_class: int, part: Part) -> int:
    """The pitch of ``pitch_class`` in the part's register, from its middle down a fifth."""
    return min(part.high, lowest_at_or_above(pitch_class, max(part.low, (part.low + part.high) // 2 - 7)))


def _low(pitch_class: int, part: Part) -> int:
    """The lowest pitch of ``pitch_class`` the part plays (an impact from ``IMPACT_FLOOR``: a boom, not a rumble)."""
    floor = max(part.low, IMPACT_FLOOR) if part.name == IMPACT else part.low
    return lowest_at_or_above(pitch_class, floor)
