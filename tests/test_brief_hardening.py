"""Hostile but valid YAML in briefs (issue 14): each bad brief is refused with a message naming the field, the others
are still read; nothing raises. Also the cue sheet's formula cells and brief sources under an S3 prefix."""

import csv
import io

import boto3
import pytest
from typer.testing import CliRunner

from cues.pipelines.generate.brief_sources import read_sources
from cues.pipelines.report.cuesheet import cuesheet_csv
from cues.schemas.batch import BriefOutcome
from cues.schemas.brief_file import read_brief_bytes
from cues.schemas.timing import ALLOWED_LENGTHS, ALLOWED_TIMES
from cues.services.cli.app import app
from tests.test_report import write_cue

runner = CliRunner()
GOOD = "id: good\nmedium: film\nmood: tense\nlength: 30\n"
FIELDS = "medium: film\nmood: tense\n"
D400 = "9" * 400
ECHO_400 = "9" * 28 + "..." + "9" * 29 + " (400 digits)"  # a long value as messages show it
KEY_RULE = (
    "allowed: relative '/'-separated names, without empty, '.' or '..' parts, backslashes, control characters or "
    "temporary-file names ('.name.tmp-…')"
)


def messages(data: str | bytes, source: str = "b.yaml") -> list[str]:
    """One line per brief of the file: ``ok <id>`` or its error message."""
    raw = data.encode() if isinstance(data, str) else data
    return [f"ok {e.brief.id}" if e.ok else str(e.error) for e in read_brief_bytes(raw, source)]


def cut(letter: str, length: int = 500_000) -> str:
    """A long text as messages echo it: its start and end, and its length."""
    return f"'{letter * 27}...{letter * 28}' ({length:,} characters)"


# --- item 4: numbers too large and keys that are not text ----------------------------------------------------

HUGE_AND_ODD = {
    f"{FIELDS}length: {D400}\n": f"length: not a length; allowed: {ALLOWED_LENGTHS} (got {ECHO_400})",
    f"{FIELDS}length: 30\nhits: [{D400}]\n": (
        f"hits[0]: a time must be a finite number of seconds ≥ 0; allowed: {ALLOWED_TIMES} (got {ECHO_400})"
    ),
    f"{FIELDS}length: 30\ncutdowns: [{D400}]\n": (
        f"cutdowns[0]: not a length; allowed: {ALLOWED_LENGTHS} (got {ECHO_400})"
    ),
    f"{FIELDS}length: 30\nhits: ['{D400}:00']\n": (
        f"hits[0]: a time must be a finite number of seconds ≥ 0; allowed: {ALLOWED_TIMES} "
        f"(got '{'9' * 27}...{'9' * 25}:00' (403 characters))"
    ),
    f"{FIELDS}length: {'9' * 5000}\n": "length: a number of 5,000 digits is too large for any field",
    f"{FIELDS}length: 30\nhits: [{'9' * 5000}]\n": "hits[0]: a number of 5,000 digits is too large for any field",
    f"{FIELDS}length: 30\ncutdowns: [{'9' * 5000}]\n": (
        "cutdowns[0]: a number of 5,000 digits is too large for any field"
    ),
    f"{FIELDS}length: {'9' * 5000} bars\n": (
        f"length: bars must be 1 to 1024; allowed: {ALLOWED_LENGTHS} (got '{'9' * 27}...{'9' * 23} bars' "
        "(5,005 characters))"
    ),
    f"{FIELDS}length: 30\n1: film\n": "1: field names are text; this one is the number 1",
    f"{FIELDS}length: 30\nnull: film\n": "null: field names are text; this one is null",
    f"{FIELDS}length: 30\ntrue: film\n": "true: field names are text; this one is true",
    f"{FIELDS}length: 30\ndelivery: {{1: 2}}\n": "delivery.1: field names are text; this one is the number 1",
}


def test_huge_numbers_and_keys_that_are_not_text_make_only_their_brief_invalid():
    """Each raised OverflowError, ValueError (Python's 4,300-digit limit) or TypeError, and lost the whole file."""
    data = "---\n".join([GOOD, *HUGE_AND_ODD])
    assert messages(data) == [
        "ok good",
        *(f"b.yaml: brief #{i}: {message}" for i, message in enumerate(HUGE_AND_ODD.values(), start=2)),
    ]


def test_a_huge_number_in_a_batch_spoils_only_its_brief():
    data = (
        "briefs:\n  - {id: good, medium: film, mood: tense, length: 30}\n"
        f"  - {{medium: ad, mood: happy, length: {'9' * 5000}}}\n"
    )
    assert messages(data) == [
        "ok good",
        "b.yaml: brief #2: length: a number of 5,000 digits is too large for any field",
    ]


def test_huge_numbers_and_odd_keys_through_read_sources_and_cues_validate(tmp_path):
    path = tmp_path / "mixed.yaml"
    path.write_text("---\n".join([GOOD, *HUGE_AND_ODD]))
    entries = read_sources([str(path)])
    assert [e.ok for e in entries] == [True] + [False] * len(HUGE_AND_ODD)
    result = runner.invoke(app, ["validate", str(path)], terminal_width=1000)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == f"ok       {path}  good  film, tense, 0:30"
    assert lines[1:-1] == [
        f"invalid  {path}: brief #{i}: {message}" for i, message in enumerate(HUGE_AND_ODD.values(), start=2)
    ]
    assert lines[-1] == f"{len(HUGE_AND_ODD) + 1} briefs in 1 file: 1 ok, {len(HUGE_AND_ODD)} invalid"


# --- item 19: version must be the integer 1; text must be text -------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("version: true\n", "version: only version 1 exists (got True)"),
        ("version: 1.0\n", "version: only version 1 exists (got 1.0)"),
        ("version: 2\n", "version: only version 1 exists (got 2)"),
        ("title: !!binary aGVsbG8=\n", "title: must be text, not binary data (!!binary)"),
        ("id: !!binary Y2hhc2U=\n", "id: must be text, not binary data (!!binary)"),
        ("key: !!binary QyBtYWpvcg==\n", "key: must be text, not binary data (!!binary)"),
        ("meter: !!binary NC80\n", "meter: must be text, not binary data (!!binary)"),
        ("delivery: {formats: [!!binary d2F2]}\n", "delivery.formats[0]: must be text, not binary data (!!binary)"),
    ],
)
def test_boolean_versions_and_binary_text_are_refused(yaml_text, message):
    assert messages(f"{FIELDS}length: 30\n{yaml_text}") == [f"b.yaml: brief #1: {message}"]


def test_a_batch_with_a_boolean_or_float_version_is_refused():
    brief = "briefs: [{medium: film, mood: tense, length: 30}]\n"
    assert messages("version: true\n" + brief) == ["b.yaml: version: only version 1 exists (got True)"]
    assert messages("version: 1.0\n" + brief) == ["b.yaml: version: only version 1 exists (got 1.0)"]
    assert messages("version: 1\n" + brief)[0].startswith("ok cue-")


# --- item 13: control characters in text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "found"),
    [
        ('"a\\e[31mred"', "U+001B at character 2 (got 'a\\x1b[31mred')"),
        ('"bell\\a"', "U+0007 at character 5 (got 'bell\\x07')"),
        ('"nul\\0"', "U+0000 at character 4 (got 'nul\\x00')"),
        ('"one\\ntwo"', "U+000A at character 4 (got 'one\\ntwo')"),
        ('"tab\\tbed"', "U+0009 at character 4 (got 'tab\\tbed')"),
        ('"del\\x7f"', "U+007F at character 4 (got 'del\\x7f')"),
        ('"c1\\x9b"', "U+009B at character 3 (got 'c1\\x9b')"),
        ('"\\u202egnp.exe"', "U+202E at character 1 (got '\\u202egnp.exe')"),
        ('"line\\u2028sep"', "U+2028 at character 5 (got 'line\\u2028sep')"),
    ],
)
def test_titles_with_control_characters_are_refused(title, found):
    assert messages(f"{FIELDS}length: 30\ntitle: {title}\n") == [
        f"b.yaml: brief #1: title: must be one line of text without control characters; found {found}"
    ]


def test_titles_in_any_script_are_still_text():
    assert messages(f'{FIELDS}length: 30\ntitle: "Nuit d\'été — 夜の追跡 🎻 (reel 3)"\n') == ["ok nuit-d-t-reel-3"]


def test_a_control_character_in_an_id_is_refused_and_the_label_stays_plain():
    assert messages(f'{FIELDS}length: 30\nid: "a\\eb"\n') == [
        "b.yaml: brief #1: id: must be a slug; allowed: lowercase letters, digits, - and _, starting with a letter "
        "or digit, at most 64 characters (got 'a\\x1bb')"
    ]


# --- item 15: long values are shortened wherever they are echoed ---------------------------------------------------


def test_a_900_kb_title_and_id_give_a_short_message_and_batch_record():
    """A 900 KB title gave a 0.9 MB error line and, with a 900 KB id as the brief's label, a 1.1 MB batch record."""
    big = "x" * 450_000
    [entry] = read_brief_bytes(f"{FIELDS}length: 30\ntitle: {big}\nid: {big}\n".encode(), "b.yaml")
    assert str(entry.error) == (
        f"b.yaml: brief #1: id: must be a slug; allowed: lowercase letters, digits, - and _, starting with a letter "
        f"or digit, at most 64 characters (got {cut('x', 450_000)}); "
        f"title: String should have at most 200 characters (got {cut('x', 450_000)})"
    )
    outcome = BriefOutcome(
        source=entry.source, position=entry.position, brief=entry.label, ok=False, error=entry.error.describe()
    )  # as pipelines/generate/job.py records it
    assert outcome.brief == "#1" and len(outcome.model_dump_json()) < 500


@pytest.mark.parametrize(
    ("yaml_text", "start"),
    [
        (f"{FIELDS}length: 30\n? {'k' * 500_000}\n: 1\n", f"{'k' * 28}...{'k' * 29}: unknown field {cut('k')}; "),
        (f"medium: film\nmood: {'m' * 500_000}\nlength: 30\n", f"mood: unknown mood {cut('m')}; allowed: "),
        (f"{FIELDS}length: 30\ninstruments: [{'i' * 500_000}]\n", f"instruments[0]: unknown instrument {cut('i')}; "),
        (f"{FIELDS}length: 30\nkey: C {'q' * 500_000}\n", f"key: unknown mode {cut('q')}; allowed: "),
        (f"{FIELDS}length: 30\nform: [{'A' * 500_000}]\n", f"form: form[0]: unknown section {cut('A')}; allowed: "),
        (f"{FIELDS}length: {'7' * 500_000} s\n", "length: not a length; "),
        (f"{FIELDS}length: 30\nhits: [{', '.join(['1'] * 300)}]\n", "hits: tuple should have at most 256 items"),
    ],
)
def test_long_values_are_shortened_in_every_message(yaml_text, start):
    [message] = messages(yaml_text)
    assert message.startswith(f"b.yaml: brief #1: {start}")
    assert len(message) < 1_000, message


def test_a_long_duplicate_key_is_shortened():
    [message] = messages(f"? {'d' * 500_000}\n: 1\n? {'d' * 500_000}\n: 2\n")
    assert message == f"b.yaml: key {cut('d')} appears twice in one mapping (lines 1 and 3)"


# --- item 14: odd keys under an S3 prefix -----------------------------------------------------------------------


@pytest.mark.s3
def test_an_odd_key_under_an_s3_prefix_is_reported_and_the_others_read(s3_bucket, s3_server):
    raw = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    raw.put_object(Bucket=s3_bucket, Key="briefs/good.yaml", Body=GOOD.encode())
    raw.put_object(Bucket=s3_bucket, Key="briefs/../evil.yaml", Body=GOOD.replace("good", "evil").encode())
    raw.put_object(Bucket=s3_bucket, Key="briefs/sub//x.yaml", Body=GOOD.replace("good", "x").encode())
    raw.put_object(Bucket=s3_bucket, Key="briefs/sub/later.yaml", Body=GOOD.replace("good", "later").encode())
    entries = read_sources([f"s3://{s3_bucket}/briefs/"])
    assert [e.label if e.ok else str(e.error) for e in entries] == [
        f"s3://{s3_bucket}/briefs: object skipped: bad key '../evil.yaml': has a '.' or '..' part; {KEY_RULE}; "
        "rename it to have it read",
        "good",
        f"s3://{s3_bucket}/briefs: object skipped: bad key 'sub//x.yaml': has an empty part; {KEY_RULE}; "
        "rename it to have it read",
        "later",
    ]


# --- item 13: formula cells in the cue sheet --------------------------------------------------------------------


def test_cue_sheet_text_cells_that_spreadsheets_run_as_formulas_are_neutralised(tmp_path):
    cue = write_cue(tmp_path, "chase", "k-aaa111aaa111", title=None, preview=False, roll=False, cutdown=15.0)
    titles = {
        '=HYPERLINK("http://evil.example","click")': '\'=HYPERLINK("http://evil.example","click")',
        "+1+1": "'+1+1",
        "-30 seconds to mars": "'-30 seconds to mars",
        "@SUM(A1)": "'@SUM(A1)",
        "\tTabbed": "'\tTabbed",
        "\rReturn": "'\rReturn",
        "Plain = title": "Plain = title",
        "": "",
    }
    manifests = [cue.model_copy(update={"brief": cue.brief.model_copy(update={"title": t})}) for t in titles]
    rows = list(csv.DictReader(io.StringIO(cuesheet_csv(manifests, {}), newline="")))
    assert [row["title"] for row in rows] == list(titles.values())
    for row in rows:  # numbers are numbers, negative ones included
        assert (row["loudness_lufs"], row["true_peak_dbtp"], row["cutdown"]) == ("-23.0", "-1.5", "15.0")
