"""The real ``cues`` CLI on real files: exit codes, one line per brief, help everywhere."""

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main
from typer.testing import CliRunner

from cues.pipelines.generate.brief_sources import EXAMPLES_DIR
from cues.services.cli.app import app

SCHEDULES = Path(__file__).resolve().parent.parent / "schemas" / "schedule-examples"
runner = CliRunner()


def all_commands(command: click.Command, prefix=()):
    yield prefix, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from all_commands(sub, (*prefix, name))


@pytest.mark.parametrize(
    ("path", "command"),
    list(all_commands(typer.main.get_command(app))),
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else "",
)
def test_every_command_has_help_with_an_example(path, command):
    result = runner.invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert command.help, f"cues {' '.join(path)} has no help"
    if not isinstance(command, click.Group) or not path:
        assert "Example:" in command.help, f"cues {' '.join(path)} help has no Example:"


def test_validate_examples_all_ok():
    result = runner.invoke(app, ["validate", str(EXAMPLES_DIR)], terminal_width=300)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 10 and all(line.startswith("ok ") for line in lines[:-1])
    assert lines[-1] == "9 briefs in 7 files: 9 ok"


def test_validate_invalid_exits_2_with_one_line_per_brief(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "id: one\nmedium: film\nmood: tense\nlength: 30\n---\nmedium: film\nmood: tence\nlength: 30\n"
    )
    (tmp_path / "b.yml").write_text("briefs: [{id: one, medium: ad, mood: happy, length: 10}]\n")
    (tmp_path / "notes.txt").write_text("not a brief")
    result = runner.invoke(app, ["validate", str(tmp_path)], terminal_width=400)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(f"ok       {tmp_path}/a.yaml  one  film, tense, 0:30")
    assert lines[1].startswith(
        f"invalid  {tmp_path}/a.yaml: brief #2: mood: unknown mood 'tence'; "
        "did you mean 'tense' or 'tender' or 'intense'?"
    )
    assert lines[2] == (
        f"invalid  {tmp_path}/b.yml: brief 'one': id: duplicate id: already used by brief #1 of {tmp_path}/a.yaml; "
        "give each brief its own id (got 'one')"
    )
    assert lines[3] == "3 briefs in 2 files: 1 ok, 2 invalid"


def test_validate_json_output(tmp_path):
    (tmp_path / "a.yaml").write_text("medium: film\nmood: tense\nlength: 700\n")
    result = runner.invoke(app, ["validate", "--format", "json", str(tmp_path / "a.yaml")])
    assert result.exit_code == 2
    [row] = json.loads(result.output)
    assert (row["ok"], row["position"]) == (False, 1)
    assert "length: length out of range" in row["error"]


def test_missing_source_is_an_invalid_input():
    result = runner.invoke(app, ["validate", "/no/such/briefs"])
    assert result.exit_code == 2
    assert result.output.startswith("invalid  /no/such/briefs: no such file or folder")


def test_schedule_validate(tmp_path):
    good = runner.invoke(app, ["schedule", "validate", *map(str, sorted(SCHEDULES.glob("*.yaml")))], terminal_width=300)
    assert good.exit_code == 0, good.output
    assert "ad-library-weekly  cron '0 3 * * MON' UTC, 12 matrix briefs" in good.output
    bad = tmp_path / "s.yaml"
    bad.write_text('name: weekly\ncron: "0 3 * MON"\nmatrix: {mood: [happy]}\ntemplate: {medium: ad}\n')
    result = runner.invoke(app, ["schedule", "validate", str(bad)], terminal_width=400)
    assert result.exit_code == 2
    assert result.output.startswith(f"invalid  {bad}: schedule 'weekly': cron: not a 5-field cron expression")


def test_installed_entry_point_never_shows_a_traceback(tmp_path):
    (tmp_path / "bomb.yaml").write_bytes(
        b"a: &a [1,1,1,1,1,1,1,1,1,1]\n"
        + b"".join(f"{c}: &{c} [{','.join(['*' + chr(ord(c) - 1)] * 10)}]\n".encode() for c in "bcdefg")
    )
    (tmp_path / "bin.yaml").write_bytes(bytes(range(256)))
    cues = Path(sys.executable).parent / "cues"
    result = subprocess.run([cues, "validate", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "alias bomb" in result.stdout and "not UTF-8" in result.stdout
    assert subprocess.run([cues, "--help"], capture_output=True, timeout=60).returncode == 0


def test_plan_previews_every_cue_with_missed_hits_and_warnings_without_rendering(tmp_path):
    briefs = tmp_path / "briefs.yaml"
    briefs.write_text(
        "briefs:\n"
        "  - {id: near-hits, medium: film, mood: tense, length: 30, tempo: 90, hits: [10.0, 10.05], cutdowns: [15]}\n"
        "  - {id: calm-one, medium: ad, mood: calm, length: 8, seed: 4}\n"
    )
    text = runner.invoke(app, ["plan", str(briefs)], terminal_width=200)
    assert text.exit_code == 0, text.output
    assert "near-hits  film, tense" in text.output and "near-hits-15s (cutdown 15.0)" in text.output
    assert "calm-one  ad, calm" in text.output and "seed 4" in text.output
    assert "+50.0" in text.output and "MISSED" in text.output  # 10.0 lands on 10.05's step
    assert "warning: hit at 10 s cannot be met within 10 ms" in text.output
    assert runner.invoke(app, ["plan", str(briefs), "--strict"]).exit_code == 3

    rows = json.loads(runner.invoke(app, ["plan", str(briefs), "--format", "json"]).output)
    assert [r["cue_id"] for r in rows] == ["near-hits", "near-hits-15s", "calm-one"]
    near, cutdown, calm = rows
    assert near["missed_hits"] == [10.0] and near["plan"]["hits"][1]["achievable"] is True
    assert len(near["warnings"]) == 2 and cutdown["plan"]["hits"] == [] and calm["warnings"] == []
    assert sum(s["bars"] for s in near["plan"]["sections"]) == near["plan"]["bars"]
    examples = runner.invoke(app, ["plan", str(EXAMPLES_DIR)], terminal_width=200)
    assert examples.exit_code == 0 and examples.output.count("seed ") == 16, examples.output  # `make run`'s 16

    briefs.write_text("id: bad\nmedium: film\nmood: grumpy\nlength: 30\n")
    invalid = runner.invoke(app, ["plan", str(briefs)])
    assert invalid.exit_code == 2 and "grumpy" in invalid.output
