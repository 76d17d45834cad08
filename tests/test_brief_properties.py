"""Random mutations of valid briefs and hostile YAML trees: every result is a valid brief or a clean BriefError, never
a crash."""

import copy
import tempfile
import unicodedata
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cues.pipelines.generate.brief_sources import EXAMPLES_DIR
from cues.schemas.brief import Brief
from cues.schemas.brief_file import parse_brief, read_brief_bytes
from cues.schemas.errors import BriefError
from cues.services.cli.app import app

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


# --- hostile YAML trees (issue 14): whatever the tree, entries come back, never an exception --------------------

HUGE_INT = "HUGE-INT-PLACEHOLDER"  # replaced by 5,000 digits after dumping: yaml.dump cannot write such an int
CONTROLS = ["\x00", "\x1b[31m", "\x07", "\t", "\n", "\r", "\x7f", "\x9b", "\u202e", "\u2028"]

texts = st.one_of(
    st.text(max_size=12),
    st.builds(lambda ch, n: ch * n, st.characters(), st.integers(min_value=61, max_value=3000)),
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=4), st.sampled_from(CONTROLS), st.text(max_size=4)),
)
hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=10**300, max_value=10**1000).flatmap(lambda n: st.sampled_from([n, -n])),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
    st.binary(max_size=8),
    st.just(HUGE_INT),
    scalars,
)
odd_keys = st.one_of(
    st.sampled_from([*Brief.model_fields, "briefs", "defaults", "section", "bars", "loudness", "formats"]),
    st.text(max_size=8),
    texts,
    st.integers(min_value=-3, max_value=3),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.binary(max_size=4),
)
trees = st.recursive(
    hostile_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_keys, inner, max_size=4),
    max_leaves=10,
)


@st.composite
def hostile_documents(draw):
    """A brief with hostile fields added, a batch of such briefs, or any tree at all."""

    def brief():
        return {**draw(st.sampled_from(BASES)), **draw(st.dictionaries(odd_keys, trees, max_size=3))}

    kind = draw(st.sampled_from(["brief", "batch", "tree"]))
    if kind == "brief":
        return brief()
    if kind == "batch":
        batch = {"briefs": [brief() if draw(st.booleans()) else draw(trees) for _ in range(draw(st.integers(1, 3)))]}
        return batch | draw(st.dictionaries(st.sampled_from(["version", "defaults"]), trees, max_size=2))
    return draw(trees)


def hostile_yaml(documents: list) -> bytes:
    text = yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True, width=1000)
    return text.replace(HUGE_INT, "9" * 5000).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(hostile_documents(), min_size=1, max_size=3))
def test_hostile_yaml_trees_give_entries_never_exceptions(documents):
    entries = read_brief_bytes(hostile_yaml(documents), "fuzz.yaml")
    assert entries
    for entry in entries:
        assert (entry.brief is None) != (entry.error is None)
        if entry.error is not None:
            assert entry.error.problems and all(p.message for p in entry.error.problems)
            assert all(len(str(p)) < 2_000 for p in entry.error.problems), "an echoed value was not shortened"
            assert len(entry.label) <= 64 and entry.label.isprintable()
        else:
            title = entry.brief.title or ""
            assert not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in title), title
            entry.brief.resolve()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(hostile_documents(), min_size=1, max_size=3))
def test_cues_validate_on_hostile_yaml_exits_0_or_2(documents):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(hostile_yaml(documents))
        result = CliRunner().invoke(app, ["validate", str(path)], terminal_width=200)
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
