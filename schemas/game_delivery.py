"""What a game cue delivers besides its mix and stems: vertical *layers* (``delivery.layers``) and transition
*stingers* (``delivery.stingers``), ``docs/contracts/brief-v1.md#game-layers-and-stingers``.

Layers are additive intensity layers: the first alone is the quiet version of the cue, the first two the middle, all
of them the full cue (they sum to the mix as it was before the limiter). ``delivery.layers`` is

- ``false`` (the default): none;
- ``true``: three, :data:`DEFAULT_LAYERS` (``low``, ``mid``, ``high``), read as that list;
- a list of 2 to 4 names, quietest first: the cue's role groups are shared out among them by the intensity at which
  their parts enter (``pipelines/compose/layers.py``);
- a mapping of layer names to role groups (``{bed: [keys_pads, bass], drive: [drums_perc]}``), with the rules of a
  ``delivery.stems`` mapping; the role groups it does not list go into its last layer (the full cue adds them).

Stingers are short in-key transition pieces (``pipelines/compose/stingers.py``): ``delivery.stingers`` is
``false``/absent (none), ``true`` (every :class:`StingerKind`) or a list of kinds.

Decisions where the issue is silent:

- Layers and stingers on a cue whose medium is not ``game`` are an error naming the field (a film cue has no game
  engine to mix its layers; a warning would deliver files nobody asked for, or silently not).
- Both fields are left out of the brief's content hash while they are at their default, so briefs written before
  them keep their derived seeds, ids and render keys (``Brief.content_hash``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from cues.schemas.brief_fields import GROUPING_SCHEMA
from cues.schemas.errors import echo
from cues.schemas.moods import did_you_mean
from cues.schemas.palettes import StemGroup
from cues.schemas.stem_grouping import GROUP_NAMES, STEM_NAME_PATTERN, STEM_NAME_RE, STEM_NAME_RULE, parse_stems

DEFAULT_LAYERS = ("low", "mid", "high")
MAX_LAYERS = 4  # low, mid, high and one more: more layers than parts' entry steps would leave some silent


class StingerKind(StrEnum):
    """A transition stinger (``pipelines/compose/stingers.py``); each is 1–2 bars at the cue's tempo, in its key."""

    hit = "hit"  # a tutti tonic chord with the impact, ringing: an event (a kill, a pickup)
    rise = "rise"  # the riser into a tonic downbeat: a transition into more intensity
    resolve = "resolve"  # dominant to tonic, settling: the end of an encounter, a win


#: What ``delivery.layers`` holds once read: none, layer names, or layer names with their role groups.
LayersSetting = bool | tuple[str, ...] | dict[str, tuple[StemGroup, ...]]
ALLOWED_LAYERS = (
    f"true ({', '.join(DEFAULT_LAYERS)}), false, a list of 2 to {MAX_LAYERS} layer names (quietest first), or a "
    f"mapping of layer names to role groups ({', '.join(GROUP_NAMES)})"
)
ALLOWED_STINGERS = f"true (all), false, or a list of kinds: {', '.join(StingerKind)}"


def parse_layers(value: Any) -> LayersSetting:
    """``delivery.layers`` as written → its canonical value: ``false``, a tuple of names, or a mapping."""
    if value is True:
        return DEFAULT_LAYERS
    if value is False:
        return False
    if isinstance(value, dict):
        if len(value) > MAX_LAYERS:
            raise PydanticCustomError("layers_count", f"at most {MAX_LAYERS} layers; got {len(value)}")
        return parse_stems(value)
    if not isinstance(value, list | tuple):
        raise PydanticCustomError("layers_type", f"must be {ALLOWED_LAYERS}")
    if not 2 <= len(value) <= MAX_LAYERS:
        raise PydanticCustomError("layers_count", f"a list of 2 to {MAX_LAYERS} layer names; got {len(value)}")
    for name in value:
        if not isinstance(name, str) or not STEM_NAME_RE.match(name):
            raise PydanticCustomError(
                "layers_name", f"layer name {echo(name)} is not a file name; allowed: {STEM_NAME_RULE}"
            )
    if len(set(value)) != len(value):
        raise PydanticCustomError("layers_repeated", "a layer name is listed twice")
    return tuple(value)


def parse_stingers(value: Any) -> tuple[StingerKind, ...]:
    """``delivery.stingers`` as written → the kinds, in the order given (``true``: every kind, ``false``: none)."""
    if isinstance(value, bool):
        return tuple(StingerKind) if value else ()
    if not isinstance(value, list | tuple):
        raise PydanticCustomError("stingers_type", f"must be {ALLOWED_STINGERS}")
    kinds = []
    for kind in value:
        if kind not in StingerKind.__members__:
            hint = did_you_mean(kind, [k.value for k in StingerKind]) if isinstance(kind, str) else ""
            raise PydanticCustomError(
                "stinger_kind", f"unknown stinger {echo(kind)}{hint}; allowed: {ALLOWED_STINGERS}"
            )
        if StingerKind(kind) in kinds:
            raise PydanticCustomError("stingers_repeated", f"stinger {kind!r} is listed twice")
        kinds.append(StingerKind(kind))
    return tuple(kinds)


def layer_names(layers: LayersSetting) -> tuple[str, ...]:
    """The layers delivered, quietest first (empty for ``false``)."""
    if layers is False:
        return ()
    return tuple(layers)


LayersValue = Annotated[
    LayersSetting,
    BeforeValidator(parse_layers),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "boolean"},
                {
                    "type": "array",
                    "items": {"type": "string", "pattern": STEM_NAME_PATTERN},
                    "minItems": 2,
                    "maxItems": MAX_LAYERS,
                    "uniqueItems": True,
                },
                {**GROUPING_SCHEMA, "maxProperties": MAX_LAYERS},
            ],
            "description": f"Game cues: vertical intensity layers, each layers/<name>.wav; {ALLOWED_LAYERS}. "
            "Layers are additive: the first alone is the quiet version, all of them the full cue.",
            "examples": [True, ["calm", "tense", "combat"], {"bed": ["keys_pads", "bass"], "drive": ["drums_perc"]}],
        }
    ),
]
StingersValue = Annotated[
    tuple[StingerKind, ...],
    BeforeValidator(parse_stingers),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "boolean"},
                {"type": "array", "items": {"type": "string", "enum": list(StingerKind)}, "uniqueItems": True},
            ],
            "description": f"Game cues: short in-key transition stingers (stingers/<kind>.wav); {ALLOWED_STINGERS}.",
            "examples": [True, ["hit", "resolve"]],
        }
    ),
]
