"""Who plays a cue: its parts (role, instrument, MIDI channel, stem, register) from the mood's palette or the brief's
``instruments``, the roles each section's intensity calls for, and the stems the parts are delivered in.

Pure functions of the brief, the mood profile and the chosen ensemble (``schemas/palettes.yaml``; the plan picks it
by the cue's seed). Decisions where the issue and the brief contract are silent:

- **A brief's instruments** fill the lead, then the pad, the figure and the counter, in the order listed; a bass
  instrument (the ``bass`` family, a bass program, Contrabass, Tuba, Bassoon) takes the bass; a role nobody was listed
  for takes the first pitched instrument listed (a piano-only brief is all piano). ``drums`` (standard kit) or
  ``percussion`` (orchestra kit) keep the mood's groove; without either the drums only accent the hits (orchestra
  kit). The figure keeps the chosen ensemble's texture; such a cue has no effects part.
- **Effects** (``schemas/effects.yaml``, by the first mood's family): two parts of the ``fx`` role, both in the
  ``fx`` stem: the riser (``fx``, the ensemble's own ``fx`` program if it names one, else the family's) and the
  impact (``impact``, on its own channel, ``IMPACT_CHANNEL``, so that the riser's expression ramps leave it alone;
  none in a family without one).
- **Registers**: the lead is its instrument's range, and the melody is moved by the octave (if any) that best fits
  its span into it (``Part.transpose``); the counter sits below the lead (``COUNTER_BELOW`` semitones under its
  centre); the pad voices in ``VOICING_RANGE``, the bass in ``BASS_RANGE``, a figure from its texture's
  ``FIGURE_FLOOR`` up — each window clipped to the instrument's range, and kept an octave and a half wide (within
  the range) so that every pitch class has a place (notes outside are folded in by octaves, which keeps
  the voicing's clash rules: they depend on pitch classes only).
- **Layers**: a section plays ``palettes.layer_count(intensity)`` parts: the lead, then the roles of the mood's
  ``enters`` order; drums count only in a cue with a groove (without one they have nothing to play between hits).
- **Stems**: a part's stem group comes from its role or its instrument (``Palettes.group``); several parts may share
  a stem (their channels are routed to one bus). MIDI channels are fixed per role (``CHANNELS``), drums on 9.
"""

from __future__ import annotations

from cues.pipelines.compose.drum_kit import ORCHESTRA_KIT, STANDARD_KIT
from cues.pipelines.compose.voicing import BASS_RANGE, VOICING_RANGE
from cues.schemas.brief import Brief
from cues.schemas.effects import FamilyEffects
from cues.schemas.general_midi import FAMILIES, GM_PROGRAMS
from cues.schemas.mood_table import Groove, MoodProfile
from cues.schemas.palettes import Ensemble, Role, StemGroup, Texture, palettes
from cues.schemas.plan import Part, Stem

CHANNELS = {Role.lead: 0, Role.counter: 1, Role.pad: 2, Role.figure: 3, Role.bass: 4, Role.fx: 5, Role.drums: 9}
IMPACT = "impact"  # the name of the effects role's second part, the impact
IMPACT_CHANNEL = 6
COUNTER_BELOW = (20, 4)  # the counter's window: this many semitones below the lead's centre (lowest, highest)
FIGURE_FLOOR = {  # lowest pitch of a figure's window, by texture: ostinati low, pulses and tremolo mid
    Texture.arpeggio: 48,
    Texture.ostinato: 43,
    Texture.pulse: 50,
    Texture.strum: 48,
    Texture.tremolo: 52,
}
FIGURE_SPAN = 24  # semitones of a figure's window
MIN_WINDOW = 18  # a window narrower than this is widened (within the range): every chord tone needs a place
#: A representative General MIDI program for each instrument family a brief may name.
FAMILY_PROGRAM = {
    "piano": 0,
    "mallets": 11,
    "organ": 19,
    "guitar": 24,
    "bass": 33,
    "strings": 48,
    "harp": 46,
    "choir": 52,
    "brass": 61,
    "woodwinds": 73,
    "synth": 81,
    "pad": 89,
}
BASS_PROGRAMS = frozenset(range(32, 40)) | {43, 58, 70}  # the bass family, contrabass, tuba, bassoon
DRUM_KITS = {
    0: "Standard kit",
    8: "Room kit",
    16: "Power kit",
    24: "Electronic kit",
    25: "TR-808 kit",
    32: "Jazz kit",
    40: "Brush kit",
    48: "Orchestra kit",
}


def programs_of(
    brief: Brief, profile: MoodProfile, chosen: Ensemble, groove: Groove, effects: FamilyEffects
) -> tuple[dict[Role, int], Groove]:
    """The program of each role and the groove (the mood's ``groove`` the plan chose): the chosen ensemble's, with
    the riser of the mood family's ``effects`` unless the ensemble names its own, or the brief's ``instruments``
    (module docstring)."""
    if not brief.instruments:
        roles = {role: chosen.program(role) for role in Role} | {Role.fx: chosen.fx or effects.riser}
        return {role: program for role, program in roles.items() if program is not None}, groove
    pitched, bass, kit, mood_groove, groove = [], None, ORCHESTRA_KIT, groove, Groove.none
    for name in brief.instruments:
        if name in ("drums", "percussion"):
            kit = STANDARD_KIT if name == "drums" else ORCHESTRA_KIT
            groove = mood_groove if mood_groove != Groove.none else Groove.pulse
        elif name == "bass" or (name in GM_PROGRAMS and GM_PROGRAMS.index(name) in BASS_PROGRAMS):
            bass = bass if bass is not None else FAMILY_PROGRAM["bass"] if name == "bass" else GM_PROGRAMS.index(name)
        else:
            pitched.append(FAMILY_PROGRAM[name] if name in FAMILIES else GM_PROGRAMS.index(name))
    fallback = pitched[0] if pitched else bass if bass is not None else chosen.lead
    listed = dict(zip((Role.lead, Role.pad, Role.figure, Role.counter), pitched, strict=False))
    programs = {role: listed.get(role, fallback) for role in (Role.lead, Role.counter, Role.pad, Role.figure)}
    return programs | {Role.bass: bass if bass is not None else fallback, Role.drums: kit}, groove


def octave_shift(centre: float, span: int, low: int, high: int) -> int:
    """Whole octaves (semitones) that best fit a line of ``span`` semitones around ``centre`` into ``low``–``high``:
    the fewest pitches outside, then the smallest move."""

    def outside(shift: int) -> float:
        bottom, top = centre + shift - span / 2, centre + shift + span / 2
        return max(0.0, low - bottom) + max(0.0, top - high)

    return min((0, -12, 12, -24, 24), key=lambda s: (outside(s), abs(s)))


def window(low: int, high: int, floor: int, ceiling: int) -> tuple[int, int]:
    """``low``–``high`` clipped to the range ``floor``–``ceiling``, then widened within it to ``MIN_WINDOW``
    semitones when narrower (downwards first: a part kept out of the lead's register stays below it)."""
    low, high = max(low, floor), min(high, ceiling)
    if high - low < MIN_WINDOW:
        low = max(floor, high - MIN_WINDOW)
        high = min(ceiling, low + MIN_WINDOW)
    return low, high


def parts_of(
    programs: dict[Role, int], texture: Texture, melody_centre: float, melody_span: int, impact: int | None = None
) -> tuple[Part, ...]:
    """The parts for ``programs`` (role → General MIDI program), in role order, with channels, stems and registers,
    and the ``impact`` part on that program when the cue has effects and their family an impact (module
    docstring)."""
    table = palettes()
    lead = table.playable(programs[Role.lead])
    shift = octave_shift(melody_centre, melody_span, lead.low, lead.high)
    centre = round(melody_centre + shift)
    result = []
    for role in Role:
        if role not in programs:
            continue
        program = programs[role]
        playable = table.playable(program)
        floor, ceiling = playable.low, playable.high
        if role == Role.lead:
            low, high = floor, ceiling
        elif role == Role.counter:
            low, high = window(centre - COUNTER_BELOW[0], centre - COUNTER_BELOW[1], floor, ceiling)
        elif role == Role.pad:
            low, high = window(*VOICING_RANGE, floor, ceiling)
        elif role == Role.figure:
            low, high = window(FIGURE_FLOOR[texture], FIGURE_FLOOR[texture] + FIGURE_SPAN, floor, ceiling)
        elif role == Role.bass:
            low, high = window(BASS_RANGE[0], BASS_RANGE[1] - 1, floor, ceiling)
        else:  # drums: kit notes; effects: wherever the instrument plays
            low, high = (0, 127) if role == Role.drums else (floor, ceiling)
        result.append(
            Part(
                name=role.value,
                role=role,
                program=program,
                instrument=DRUM_KITS.get(program, f"kit {program}") if role == Role.drums else GM_PROGRAMS[program],
                channel=CHANNELS[role],
                stem=table.group(role, program),
                low=low,
                high=high,
                transpose=shift if role == Role.lead else 0,
                texture=texture if role == Role.figure else None,
            )
        )
    if Role.fx in programs and impact is not None:
        playable = table.playable(impact)
        result.append(
            Part(
                name=IMPACT,
                role=Role.fx,
                program=impact,
                instrument=GM_PROGRAMS[impact],
                channel=IMPACT_CHANNEL,
                stem=table.group(Role.fx, impact),
                low=playable.low,
                high=playable.high,
            )
        )
    return tuple(result)


def section_roles(intensity: float, enters: tuple[Role, ...], parts: tuple[Part, ...], groove: Groove) -> tuple:
    """The roles playing in a section of ``intensity`` (module docstring), in role order."""
    present = {p.role for p in parts}
    joining = [r for r in enters if r in present and (r != Role.drums or groove != Groove.none)]
    playing = {Role.lead, *joining[: palettes().layer_count(intensity) - 1]}
    return tuple(role for role in Role if role in playing)


def stems_of(parts: tuple[Part, ...]) -> tuple[tuple[Stem, ...], tuple[str, ...]]:
    """The stems carrying ``parts`` (in stem-group order) and the names of the groups no part is in."""
    stems, absent = [], []
    for group in StemGroup:
        members = [p for p in parts if p.stem == group]
        if not members:
            absent.append(group.value)
            continue
        stems.append(
            Stem(
                name=group.value,
                program=members[0].program,
                channel=members[0].channel,
                instrument=", ".join(dict.fromkeys(p.instrument for p in members)),
                channels=tuple(p.channel for p in members),
                parts=tuple(p.name for p in members),
            )
        )
    return tuple(stems), tuple(absent)
