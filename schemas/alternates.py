"""Alternate mixes of a cue: ``delivery.alternates`` of the brief, the way production libraries deliver them.

An alternate is the mix with some stems left out: the sum of the stems it keeps, at the mix's own mastering gain,
so that an editor can cut between it and the full mix without a jump in level. ``delivery.alternates`` is

- a list of presets (:data:`PRESETS`): ``underscore`` (everything but the lead), ``no_drums``, ``drums_bass``,
  ``lead_only``;
- or a mapping of alternate names to the stems each keeps: ``{no_strings: [melody, keys_pads, bass, drums_perc]}``,
  where a stem is a role group (``melody``, ``strings``, …) or a stem of ``delivery.stems`` (``music`` of
  ``compact``, a stem of the brief's own grouping), which stands for its role groups. A name that is both (the
  stem ``melody`` of ``compact``) is the stem of ``delivery.stems``.

Decisions where the issue is silent:

- An empty list or mapping asks for no alternates, like leaving the field out; and the field is left out of the
  brief's canonical form when it asks for none, so briefs written before it existed keep their content hash (and
  with it the part of their render keys that the brief decides).
- A name that is neither a role group nor a stem of ``delivery.stems`` is refused with its path
  (``delivery.alternates.dialogue[1]``), as ``delivery.stems`` refuses unknown role groups; a stem listed twice in
  one alternate is refused too (it would be counted twice). Alternate names are file names
  (:data:`~cues.schemas.stem_grouping.STEM_NAME_RULE`): the file is ``alternates/<name>.wav``.
- Role groups without a note in a cue are simply not in its alternates: a preset still delivers what exists and
  the manifest says what was missing (:func:`alternate_groups` gives what is asked; the renderer what sounds).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from cues.schemas.errors import Problem, echo
from cues.schemas.moods import did_you_mean
from cues.schemas.palettes import StemGroup
from cues.schemas.problems import inconsistent
from cues.schemas.stem_grouping import (
    GROUP_NAMES,
    STEM_NAME_PATTERN,
    STEM_NAME_RE,
    STEM_NAME_RULE,
    StemsSetting,
    grouping_of,
)


class AlternatePreset(StrEnum):
    """A named alternate mix (:data:`PRESETS`)."""

    underscore = "underscore"  # everything but the lead: the bed under dialogue or a voice-over
    no_drums = "no_drums"
    drums_bass = "drums_bass"  # the rhythm section alone
    lead_only = "lead_only"


PRESETS: dict[AlternatePreset, tuple[StemGroup, ...]] = {
    AlternatePreset.underscore: tuple(g for g in StemGroup if g != StemGroup.melody),
    AlternatePreset.no_drums: tuple(g for g in StemGroup if g != StemGroup.drums_perc),
    AlternatePreset.drums_bass: (StemGroup.bass, StemGroup.drums_perc),
    AlternatePreset.lead_only: (StemGroup.melody,),
}
ALLOWED_ALTERNATES = (
    f"a list of presets ({', '.join(PRESETS)}), or a mapping of alternate names to the stems each keeps "
    f"(role groups: {', '.join(GROUP_NAMES)}; or stems of delivery.stems)"
)

#: What ``delivery.alternates`` holds once read: presets, or alternate name → the stem names it keeps (as written).
AlternatesSetting = tuple[AlternatePreset, ...] | dict[str, tuple[str, ...]]


def parse_alternates(value: Any) -> AlternatesSetting:
    """``delivery.alternates`` as written → its canonical value (module docstring). Names are checked against the
    stems in :func:`alternate_problems`, which needs ``delivery.stems``."""
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        problems = []
        presets: list[AlternatePreset] = []
        for index, name in enumerate(value):
            if not isinstance(name, str) or name not in PRESETS:
                hint = did_you_mean(name, [p.value for p in PRESETS]) if isinstance(name, str) else ""
                problems.append(
                    Problem(f"[{index}]", f"unknown alternate preset {echo(name)}{hint}; allowed: {ALLOWED_ALTERNATES}")
                )
            elif name in presets:
                problems.append(Problem(f"[{index}]", f"alternate {name!r} is listed twice"))
            else:
                presets.append(AlternatePreset(name))
        if problems:
            raise inconsistent(problems)
        return tuple(presets)
    if not isinstance(value, dict):
        raise PydanticCustomError("alternates_type", f"must be {ALLOWED_ALTERNATES}")
    problems = []
    chosen: dict[str, tuple[str, ...]] = {}
    for name, stems in value.items():
        if not isinstance(name, str) or not STEM_NAME_RE.match(name):
            problems.append(Problem("", f"alternate name {echo(name)} is not a file name; allowed: {STEM_NAME_RULE}"))
            continue
        listed = [stems] if isinstance(stems, str) else stems
        if not isinstance(listed, list | tuple) or not listed or not all(isinstance(s, str) for s in listed):
            problems.append(Problem(name, "an alternate lists one stem or more, by name", stems, True))
            continue
        chosen[name] = tuple(listed)
    if problems:
        raise inconsistent(problems)
    return chosen


def alternate_groups(alternates: AlternatesSetting, stems: StemsSetting) -> dict[str, tuple[StemGroup, ...]]:
    """Each alternate asked for → the role groups it keeps, in role-group order (a stem of ``delivery.stems``
    stands for its role groups). Names are assumed checked (:func:`alternate_problems`)."""
    if isinstance(alternates, tuple):
        return {preset.value: PRESETS[preset] for preset in alternates}
    grouping = grouping_of(stems)
    result = {}
    for name, names in alternates.items():
        kept = {g for stem in names for g in (grouping.get(stem) or (StemGroup(stem),))} if names else set()
        result[name] = tuple(g for g in StemGroup if g in kept)
    return result


def alternate_problems(alternates: AlternatesSetting, stems: StemsSetting) -> list[Problem]:
    """What is wrong with a mapping's stem names, given ``delivery.stems``: each with its path below
    ``alternates`` (``dialogue[1]``). Role groups are always allowed; so are the stems the grouping delivers."""
    if isinstance(alternates, tuple):
        return []
    grouping = grouping_of(stems)
    allowed = list(GROUP_NAMES) + [name for name in grouping if name not in GROUP_NAMES]
    problems = []
    for name, names in alternates.items():
        kept: dict[StemGroup, str] = {}  # role group → the stem name that brought it in
        for index, stem in enumerate(names):
            where = f"{name}[{index}]"
            if stem not in allowed:
                problems.append(
                    Problem(
                        where, f"unknown stem {echo(stem)}{did_you_mean(stem, allowed)}; allowed: {', '.join(allowed)}"
                    )
                )
                continue
            for group in grouping.get(stem) or (StemGroup(stem),):
                if group in kept:
                    again = "listed twice" if kept[group] == stem else f"already kept by {kept[group]!r}"
                    problems.append(Problem(where, f"role group {group.value!r} is {again} in this alternate"))
                    break
                kept[group] = stem
    return problems


_NAMES_SCHEMA = {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True}
#: The annotated type of ``Delivery.alternates``.
AlternatesValue = Annotated[
    AlternatesSetting,
    BeforeValidator(parse_alternates),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string", "enum": list(PRESETS)}, "uniqueItems": True},
                {
                    "type": "object",
                    "propertyNames": {"pattern": STEM_NAME_PATTERN},
                    "additionalProperties": {"anyOf": [{"type": "string"}, _NAMES_SCHEMA]},
                },
            ],
            "description": f"Alternate mixes besides the full mix: {ALLOWED_ALTERNATES}. Each is the sum of the "
            "stems it keeps at the mix's mastering gain, delivered as alternates/<name>.wav.",
            "examples": [["underscore", "no_drums"], {"no_strings": ["melody", "keys_pads", "bass", "drums_perc"]}],
        }
    ),
]
