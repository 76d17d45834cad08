"""Vertical layers of a game cue: which of its rendered stems (role groups) sound in which layer
(``delivery.layers``, ``schemas/game_delivery.py``).

The arrangement already says which parts make a quiet cue and which join as it grows: a section of intensity *i*
plays ``palettes.layer_count(i)`` parts, the lead and then the mood's ``enters`` order (drums only with a groove;
``ensemble.section_roles``). So each part has an *entry intensity*, the lowest at which it plays: the lead and the
first role of ``enters`` 0, the next 0.3, then 0.45, 0.6, 0.75 (``schemas/palettes.yaml``); effects sound only at
hits and rises, so they count as 1. With *n* layers, layer *k* (0 = quietest) takes the parts entering in
[k/n, (k+1)/n): with ``low, mid, high`` the lead and the first two roles to enter are ``low``, the next two ``mid``,
the last and the effects ``high``. So ``low`` alone is the cue as its quietest section would play it, and adding a
layer is turning the intensity up.

Decisions where the contract is silent:

- The unit is the rendered stem (a role group), because the layers must sum to the mix sample for sample: a stem
  whose parts enter at different intensities (a pad and a figure both on keys) goes to the layer of its earliest,
  so the quiet version keeps it whole.
- A layer may come out empty (a piano-only cue has three stems for three layers, or the mapping lists only absent
  groups): it is still delivered, silent, so a game always gets the layers it asked for; the manifest says so.
- A mapping names the role groups of each layer; groups it does not list join its last layer.
"""

from __future__ import annotations

import math

from cues.schemas.game_delivery import LayersSetting
from cues.schemas.mood_table import Groove
from cues.schemas.palettes import Role, StemGroup, palettes
from cues.schemas.plan import Plan

EFFECTS_ENTER_AT = 1.0  # risers and impacts play at hits and rises only: the top layer


def entry_intensities(plan: Plan) -> dict[Role, float]:
    """The lowest section intensity at which each role of ``plan`` plays (module docstring)."""
    present = {part.role for part in plan.parts}
    enters = palettes().moods[plan.moods[0]].enters
    joining = [r for r in enters if r in present and (r != Role.drums or plan.groove != Groove.none)]
    steps = palettes().layers
    entry = {Role.lead: 0.0}
    for position, role in enumerate(joining, start=2):  # the lead is part 1
        reached = [s.intensity for s in steps if s.layers >= position]
        entry[role] = reached[0] if reached else EFFECTS_ENTER_AT
    if Role.drums in present and Role.drums not in entry:  # drums without a groove accent the hits only
        entry[Role.drums] = EFFECTS_ENTER_AT
    entry[Role.fx] = EFFECTS_ENTER_AT
    return entry


def layer_stems(plan: Plan, layers: LayersSetting) -> dict[str, tuple[str, ...]]:
    """Each layer of ``layers`` (quietest first) with the names of the plan's stems it sums; every stem is in
    exactly one layer, so the layers sum to the mix. Empty for ``false``."""
    if layers is False:
        return {}
    if isinstance(layers, dict):
        names = list(layers)
        listed = {group: name for name, groups in layers.items() for group in groups}
        chosen = {stem.name: listed.get(StemGroup(stem.name), names[-1]) for stem in plan.stems}
    else:
        names = list(layers)
        entry = entry_intensities(plan)
        roles = {part.name: part.role for part in plan.parts}
        chosen = {}
        for stem in plan.stems:
            earliest = min(entry[roles[name]] for name in stem.parts)
            chosen[stem.name] = names[min(len(names) - 1, math.floor(earliest * len(names) + 1e-9))]
    return {name: tuple(stem for stem, layer in chosen.items() if layer == name) for name in names}
