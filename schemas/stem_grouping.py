"""How a cue's role groups are gathered into the stems it delivers: ``delivery.stems`` of the brief.

Every cue is rendered, balanced and mastered in its *role groups* (:class:`~cues.schemas.palettes.StemGroup`:
``melody``, ``strings``, ``brass_winds``, ``keys_pads``, ``bass``, ``drums_perc``, ``fx``). ``delivery.stems`` says
which stem files a mixer gets from them:

- ``true`` (the default) or the preset ``roles``: one stem per role group, named after it;
- ``false``: no stems;
- another preset (:data:`PRESETS`): ``compact`` (``melody``, ``music``, ``rhythm``, ``fx``) or ``bed`` (``melody``
  and ``bed``, everything under the tune);
- a mapping of stem names to the role groups each sums: ``{lead: [melody], music: [strings, keys_pads]}``.

Decisions where the issue is silent:

- **Groups a grouping does not list** are delivered together in the stem :data:`OTHER` (added to it when the
  grouping names a stem ``other`` itself), so the stems always sum to the mix: nothing is dropped silently, and
  ``{melody: [melody]}`` is "the tune and the rest".
- A role group may sit in one stem only (a group listed twice would be counted twice in the sum); a stem lists one
  group at least; stem names are file names (:data:`STEM_NAME_RE`).
- ``roles`` is spelled ``true`` once read, so that both spellings are the same brief (the same hash, the same seed).
- A stem none of whose groups has notes in a cue is not delivered (:func:`delivered_stems` lists it as absent).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic_core import PydanticCustomError

from cues.schemas.errors import Problem, echo
from cues.schemas.moods import did_you_mean
from cues.schemas.palettes import StemGroup
from cues.schemas.problems import inconsistent

OTHER = "other"  # the stem of the role groups a grouping does not list
STEM_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
STEM_NAME_RE = re.compile(STEM_NAME_PATTERN)
STEM_NAME_RULE = "lowercase letters, digits, - and _, starting with a letter or digit, at most 32 characters"
GROUP_NAMES = tuple(g.value for g in StemGroup)


class StemPreset(StrEnum):
    """A named grouping (:data:`PRESETS`)."""

    roles = "roles"  # one stem per role group (what ``true`` delivers)
    compact = "compact"  # melody, music (strings, brass and winds, keys and pads), rhythm (bass, drums), fx
    bed = "bed"  # the tune, and the bed under it (what an editor cuts under dialogue)


PRESETS: dict[StemPreset, dict[str, tuple[StemGroup, ...]]] = {
    StemPreset.roles: {group.value: (group,) for group in StemGroup},
    StemPreset.compact: {
        "melody": (StemGroup.melody,),
        "music": (StemGroup.strings, StemGroup.brass_winds, StemGroup.keys_pads),
        "rhythm": (StemGroup.bass, StemGroup.drums_perc),
        "fx": (StemGroup.fx,),
    },
    StemPreset.bed: {
        "melody": (StemGroup.melody,),
        "bed": tuple(g for g in StemGroup if g != StemGroup.melody),
    },
}
ALLOWED_STEMS = (
    f"true, false, a preset ({', '.join(PRESETS)}), or a mapping of stem names to role groups "
    f"({', '.join(GROUP_NAMES)})"
)

#: What ``delivery.stems`` holds once read.
StemsSetting = bool | StemPreset | dict[str, tuple[StemGroup, ...]]


def parse_stems(value: Any) -> StemsSetting:
    """``delivery.stems`` as written → its canonical value (module docstring). A wrong shape raises a
    ``PydanticCustomError`` saying what is allowed; problems inside a mapping are collected, each with its path
    under ``delivery.stems`` (``music[1]``), and raised together."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value not in PRESETS:
            hint = did_you_mean(value, [p.value for p in PRESETS])
            raise PydanticCustomError(
                "stems_preset", f"unknown stem preset {echo(value)}{hint}; allowed: {ALLOWED_STEMS}"
            )
        return True if value == StemPreset.roles else StemPreset(value)
    if not isinstance(value, dict):
        raise PydanticCustomError("stems_type", f"must be {ALLOWED_STEMS}")
    if not value:
        raise PydanticCustomError("stems_empty", "a grouping names one stem at least (false delivers no stems)")
    problems: list[Problem] = []
    grouping: dict[str, tuple[StemGroup, ...]] = {}
    placed: dict[str, str] = {}  # role group → the stem it is already in
    for name, groups in value.items():
        if not STEM_NAME_RE.match(name):
            problems.append(Problem("", f"stem name {echo(name)} is not a file name; allowed: {STEM_NAME_RULE}"))
            continue
        listed = [groups] if isinstance(groups, str) else groups
        if not isinstance(listed, list | tuple) or not listed:
            problems.append(
                Problem(name, f"a stem lists one role group or more; allowed: {', '.join(GROUP_NAMES)}", groups, True)
            )
            continue
        members = []
        for index, group in enumerate(listed):
            where = name if isinstance(groups, str) else f"{name}[{index}]"
            if not isinstance(group, str) or group not in GROUP_NAMES:
                hint = did_you_mean(group, GROUP_NAMES) if isinstance(group, str) else ""
                problems.append(
                    Problem(where, f"unknown role group {echo(group)}{hint}; allowed: {', '.join(GROUP_NAMES)}")
                )
            elif group in placed:
                again = "listed twice in this stem" if placed[group] == name else f"already in stem {placed[group]!r}"
                problems.append(Problem(where, f"role group {group!r} is {again}; a group goes in one stem"))
            else:
                placed[group] = name
                members.append(StemGroup(group))
        grouping[name] = tuple(members)
    if problems:
        raise inconsistent(problems)
    return grouping


def grouping_of(stems: StemsSetting) -> dict[str, tuple[StemGroup, ...]]:
    """The stems ``delivery.stems`` asks for, each with the role groups it sums (in role-group order), every role
    group in exactly one of them (the unlisted ones in :data:`OTHER`); empty for ``false``."""
    if stems is False:
        return {}
    chosen = PRESETS[StemPreset.roles if stems is True else stems] if isinstance(stems, bool | str) else stems
    grouping = {name: tuple(g for g in StemGroup if g in groups) for name, groups in chosen.items()}
    unlisted = tuple(g for g in StemGroup if not any(g in groups for groups in grouping.values()))
    if unlisted:
        grouping[OTHER] = tuple(g for g in StemGroup if g in grouping.get(OTHER, ()) or g in unlisted)
    return grouping


def delivered_stems(stems: StemsSetting, sounding: Iterable[str]) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """The stems a cue delivers (stem name → the names of its role groups that have notes, ``sounding``) and the
    names of the asked-for stems it does not deliver, because none of their groups has a note."""
    sounding = set(sounding)
    delivered, absent = {}, []
    for name, groups in grouping_of(stems).items():
        present = tuple(g.value for g in groups if g.value in sounding)
        if present:
            delivered[name] = present
        else:
            absent.append(name)
    return delivered, tuple(absent)
