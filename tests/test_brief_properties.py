"""Random mutations of valid briefs: every result is a valid brief or a clean BriefError, never a crash."""

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cues.pipelines.generate.brief_sources import EXAMPLES_DIR
from cues.schemas.brief import Brief
from cues.schemas.brief_file import parse_brief, read_brief_bytes
from cues.schemas.errors import BriefError

BASES = [
    raw
    for path in sorted(EXAMPLES_DIR.glob("*.yaml"))
    for doc in yaml.safe_load_all(path.read_text())
    for raw in (doc.get("briefs", [doc]) if "briefs" in doc else [doc])
    if "medium" in raw
]
FIELDS = [
    *Brief.model_fields,
    "delivery.loudness",
    "delivery.formats",
    "delivery.sample_rate",
    "lenght",
    "mod",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "1:30",
            "16 bars",
            "0:07.5",
            "C major",
            "c#m",
            "AABA",
            "intro-A-A'-B",
            "tense",
            "4/4",
            "6/8",
            "loop",
            "button",
            "30s",
            "-1",
            "1e9",
            "bars",
            ":",
            "A'''",
            "wav",
            "ad",
            "game",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def mutated_briefs(draw):
    raw = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        field = draw(st.sampled_from(FIELDS))
        action = draw(st.sampled_from(["set", "delete"]))
        target, name = raw, field
        if "." in field:
            parent, name = field.split(".")
            target = raw.setdefault(parent, {}) if isinstance(raw.get(parent, {}), dict) else {}
        if action == "delete":
            target.pop(name, None)
        else:
            target[name] = draw(values)
    return raw


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_briefs())
def test_mutated_briefs_are_valid_or_cleanly_invalid(raw):
    try:
        brief = parse_brief(raw, "mutant.yaml", "#1")
    except BriefError as error:
        assert error.problems and all(p.message for p in error.problems)
        assert str(error).startswith("mutant.yaml: brief #1: ")
        return
    assert Brief.model_validate(brief.model_dump(mode="json")) == brief
    brief.resolve()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_never_crash_the_reader(data):
    for entry in read_brief_bytes(data, "noise.yaml"):
        assert (entry.brief is None) != (entry.error is None)
