"""Random schedule files (odd keys, huge numbers, control characters, cron-like strings, random YAML trees): the
reader and ``cues schedule validate`` answer with a Schedule or a clean ScheduleError (exit 0 or 2), never a crash."""

from __future__ import annotations

import datetime as dt

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cues.schemas.brief import Brief
from cues.schemas.errors import ScheduleError
from cues.schemas.schedule import Schedule, read_schedule_bytes
from cues.services.cli.app import app
from cues.services.scheduler import occurrence_at, occurrences_after

runner = CliRunner()
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


class Digits(str):
    """An integer literal too long for ``str(int)`` (over 4,300 digits): dumped as the digits themselves."""


class Dumper(yaml.SafeDumper):
    pass


Dumper.add_representer(Digits, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:int", str(value)))

huge = st.one_of(
    st.integers(min_value=300, max_value=5000).map(lambda n: Digits("9" * n)),
    st.sampled_from([10**308, -(10**400), 2**1024, 2**63]),
)
texts = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=8),  # control characters, escaped by the dumper
    st.sampled_from(["happy", "C major", "30", "1:30", "16 bars", "ad", "film", "2026-13-45", "null", "~"]),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(), huge, texts
)
odd_keys = st.one_of(texts, st.integers(), st.none(), st.booleans(), st.sampled_from([*Brief.model_fields, "id"]))
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(odd_keys, inner, max_size=3, dict_class=dict)),
    max_leaves=12,
)
CRON_TOKENS = ["*", "*/15", "0", "3", "30", "31", "2", "29", "60", "1-5", "MON", "JAN", "L", "1#5", "5L", "?", "H"]
positional_crons = (
    st.tuples(  # five fields, each plausible for its place: mostly valid, some that match no date (30 February)
        st.sampled_from(["0", "30", "*/15", "59"]),
        st.sampled_from(["3", "*", "0-23/6", "23"]),
        st.sampled_from(["*", "1", "29", "30", "31", "L", "1,15"]),
        st.sampled_from(["*", "2", "4", "FEB", "1-12/3"]),
        st.sampled_from(["*", "MON", "1-5", "1#5", "0", "SUN"]),
    ).map(" ".join)
)
odd_crons = st.one_of(
    st.lists(st.sampled_from(CRON_TOKENS), min_size=3, max_size=7).map(" ".join),
    st.text(alphabet="0123456789*/,-# LW?", max_size=20),
)
# three in four plausible, so that many schedules are valid enough to reach their matrix and their cron times
crons = st.integers(0, 3).flatmap(lambda pick: positional_crons if pick else odd_crons)
VALUES = {  # plausible values of each matrix field (and some out of range)
    "mood": ["happy", "calm", ["tense", "dark"], "tence"],
    "key": ["C major", "A minor", "H major"],
    "length": [6, 30, "16 bars", "0:07.5", 601],
    "intensity": [0.5, 0.2, 1.5],
    "seed": [1, 2**63 - 1, 2**64],
}
matrices = st.dictionaries(
    st.sampled_from(sorted(VALUES)),
    st.just(None),
    min_size=1,
    max_size=2,
).flatmap(
    lambda fields: st.fixed_dictionaries(
        {
            name: st.lists(
                st.one_of(st.sampled_from(VALUES[name]), scalars) | st.sampled_from(VALUES[name]), max_size=2
            ).map(lambda values, name=name: values or [VALUES[name][0]])
            for name in fields
        }
    )
)
valid_like = st.fixed_dictionaries(
    {
        "name": st.just("weekly"),
        "cron": crons,
        "timezone": st.sampled_from(["UTC", "Europe/London", "Pacific/Chatham", "America/St_Johns"]),
        "template": st.just({"medium": "ad", "length": 6, "mood": "happy"}),
        "matrix": matrices,
    }
)
fields = st.sampled_from(["name", "cron", "timezone", "template", "matrix", "briefs", "keep_last", "version", "x"])
mutated = st.tuples(valid_like, st.lists(st.tuples(fields, trees), max_size=2)).map(
    lambda pair: pair[0] | dict(pair[1])
)
in_place = st.tuples(valid_like, odd_keys, trees).map(  # a random key inside the template
    lambda t: t[0] | {"template": t[0]["template"] | {t[1]: t[2]}}
)
documents = st.one_of(valid_like, st.one_of(mutated, in_place, trees))


def schedule_file(document: object, noise: tuple[int, str] | None) -> bytes:
    text = yaml.dump(document, Dumper=Dumper, allow_unicode=True, sort_keys=False)
    if noise:  # a raw character (a control character, a quote, a tab) dropped somewhere into the text
        at, char = noise
        at %= len(text) + 1
        text = text[:at] + char + text[at:]
    return text.encode("utf-8", "surrogatepass")


noises = st.one_of(st.none(), st.tuples(st.integers(min_value=0), st.characters(max_codepoint=0x9F)))


def check(data: bytes) -> Schedule | None:
    try:
        schedule = read_schedule_bytes(data, "s.yaml")
    except ScheduleError as error:
        assert error.problems and str(error)
        return None
    schedule.matrix_briefs()
    for ask in (lambda: occurrence_at(schedule, NOW), lambda: occurrences_after(schedule, NOW, 2)):
        try:
            ask()
        except ScheduleError as error:
            assert str(error).startswith(f"schedule '{schedule.name}': cron: no time matches")
    return schedule


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, noises)
def test_the_schedule_reader_never_crashes(document, noise):
    event("valid" if check(schedule_file(document, noise)) else "invalid")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, noises)
def test_schedule_validate_exits_0_or_2(tmp_path_factory, document, noise):
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    data = schedule_file(document, noise)
    path.write_bytes(data)
    result = runner.invoke(app, ["schedule", "validate", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == (0 if check(data) else 2), result.output
