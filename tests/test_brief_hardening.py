"""Hostile but valid YAML in briefs (issue 14): each bad brief is refused with a message naming the field, the others
are still read; nothing raises. Also the cue sheet's formula cells and brief sources under an S3 prefix."""

import csv
import io

import boto3
import pytest

from cues.pipelines.generate.brief_sources import read_sources
from cues.pipelines.report.cuesheet import cuesheet_csv
from tests.test_report import write_cue

GOOD = "id: good\nmedium: film\nmood: tense\nlength: 30\n"
KEY_RULE = (
    "allowed: relative '/'-separated names, without empty, '.' or '..' parts, backslashes, control characters or "
    "temporary-file names ('.name.tmp-…')"
)


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
