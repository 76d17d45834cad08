"""``cues ls``, ``show``, ``get``, ``url`` and ``report`` against a damaged or hostile store, through the real CLI
(no Ray): cue folders are written in code as the renderer leaves them (``tests.test_report.write_cue``), then
edited the way a bad copy, a crash or an attacker would."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cues.pipelines.store import parse_store_uri
from cues.schemas.batch import BatchRecord, CueResult, CueSpec
from cues.schemas.errors import StoreURIError
from cues.schemas.moods import MOOD_ALIASES, MOODS
from cues.services.cli.app import app
from tests.test_report import BATCH_ID, write_cue

runner = CliRunner()
GOOD, BAD = "cues/good/k-aaa111aaa111", "cues/bad/k-bbb222bbb222"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what must never reach a terminal from the store


def cues(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def root(tmp_path) -> Path:
    """A local store with two delivered cues, ``good`` and ``bad``, and a batch record naming both."""
    store = tmp_path / "store"
    good = write_cue(store, "good", "k-aaa111aaa111", title="Good", preview=False, roll=False)
    bad = write_cue(store, "bad", "k-bbb222bbb222", title="Bad", preview=False, roll=False)
    record = BatchRecord(
        batch_id=BATCH_ID,
        status="rendered",
        created="2026-01-02T03:04:05+00:00",
        code_version="0.1.0",
        store=store.as_uri(),
        sources=("briefs/",),
        briefs=(),
        cues=tuple(
            CueSpec(cue_id=m.cue_id, brief_id=m.brief_id, variation=m.variation, seed=m.seed, brief=m.brief)
            for m in (good, bad)
        ),
        results=(CueResult.delivered(good), CueResult.delivered(bad)),
    )
    (store / "batches" / BATCH_ID).mkdir(parents=True)
    (store / "batches" / BATCH_ID / "batch.json").write_text(record.model_dump_json(indent=2))
    return store


def manifest_of(root: Path, prefix: str = BAD) -> dict:
    return json.loads((root / prefix / "manifest.json").read_text())


def write_manifest(root: Path, manifest: dict | list | str, prefix: str = BAD) -> None:
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (root / prefix / "manifest.json").write_text(text)


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())


# --- 1: nothing a manifest says writes outside -o -------------------------------------------------------------


def test_a_file_name_outside_the_cue_folder_is_refused_and_nothing_is_written(root, tmp_path):
    manifest = manifest_of(root)
    entry = manifest["files"]["cue.mid"]
    for name in ("../../escaped.mid", "/tmp/escaped.mid", "stems/../../escaped.mid", "manifest.json"):
        write_manifest(root, {**manifest, "files": {**manifest["files"], name: entry}})
        out = tmp_path / "deliveries" / "out"
        result = cues("get", "bad", "-o", str(out), "--store", str(root))
        assert result.exit_code == 1, (name, result.output)
        assert result.output == (
            f"Error: {root.as_uri()}/{BAD}/manifest.json is not a valid cue manifest: files: file name {name!r} is "
            "not a safe relative name: '/'-separated parts of letters, digits, '.', '-' and '_', each starting with "
            "a letter, digit or '_', and not the manifest itself (1 problem(s))\n"
        )
        assert files_under(tmp_path / "deliveries") == [], name
        assert not list(tmp_path.rglob("escaped.mid")) and not Path("/tmp/escaped.mid").exists()


def test_a_manifest_naming_the_root_as_its_cue_is_refused(root, tmp_path):
    write_manifest(root, {**manifest_of(root), "cue_id": "/"})
    result = cues("get", "bad", "-o", str(tmp_path / "out"), "--store", str(root))
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: {root.as_uri()}/{BAD}/manifest.json is not a valid cue manifest: cue_id: String should match pattern"
    )
    assert not (tmp_path / "out").exists()


def test_get_names_the_folder_after_the_store_folder_and_refuses_a_symlink_out_of_o(root, tmp_path):
    out = tmp_path / "out"
    assert cues("get", "good", "--format", "midi", "-o", str(out), "--store", str(root)).exit_code == 0
    assert files_under(out) == ["good/good_cue.mid", "good/good_manifest.json"]  # named with the cue id
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "bad").symlink_to(elsewhere)
    result = cues("get", "bad", "--format", "midi", "-o", str(out), "--store", str(root))
    assert result.exit_code == 2
    assert result.output == (
        f"Error: cues get writes only inside -o {out}: bad/bad_cue.mid would go to {elsewhere}/bad_cue.mid (through "
        "a symlink); remove the link or choose another -o\n"
    )
    assert files_under(elsewhere) == [] and not list(out.glob(".cues-get-*"))


def test_get_into_a_file_is_an_invalid_request(root, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = cues("get", "good", "-o", str(tmp_path / "afile"), "--store", str(root))
    assert result.exit_code == 2
    assert result.output == f"Error: -o {tmp_path / 'afile'} is not a folder; name a folder to write good/ into\n"


# --- 17: a failed get leaves nothing partial --------------------------------------------------------------------


def test_a_failed_get_leaves_no_partial_files_and_keeps_an_earlier_fetch(root, tmp_path):
    out = tmp_path / "out"
    mix = root / GOOD / "mix.wav"
    data = bytearray(mix.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the last file fetched is damaged: every file before it checked out
    mix.write_bytes(bytes(data))
    result = cues("get", "good", "--stems", "-o", str(out), "--store", str(root))
    assert result.exit_code == 1 and "mix.wav: sha256" in result.output and "does not match" in result.output
    assert files_under(out) == []  # not even the stems and MIDI that checked out, nor the temporary folder

    assert cues("get", "good", "--format", "midi", "-o", str(out), "--store", str(root)).exit_code == 0
    before = {name: (out / name).read_bytes() for name in files_under(out)}
    assert cues("get", "good", "--stems", "-o", str(out), "--store", str(root)).exit_code == 1
    assert {name: (out / name).read_bytes() for name in files_under(out)} == before


# --- 8: one damaged record does not hide the rest -------------------------------------------------------------


DAMAGES = {
    "not JSON": ("{not json", "is not JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
                              "(char 1)); the cue folder is damaged: re-run its batch"),
    "a list": ("[1, 2]", "is not a cue manifest (a JSON object is expected)"),
    "no plan": (None, "is not a valid cue manifest: plan: Field required (1 problem(s))"),
    "too deep": ("[" * 100_000, "is not JSON (nested too deeply); the cue folder is damaged: re-run its batch"),
}  # fmt: skip


@pytest.mark.parametrize("damage", DAMAGES, ids=str)
def test_a_damaged_manifest_is_named_and_skipped_by_ls_and_refused_by_show_and_get(root, tmp_path, damage):
    text, problem = DAMAGES[damage]
    if text is None:
        text = json.dumps({k: v for k, v in manifest_of(root).items() if k != "plan"})
    write_manifest(root, text)
    message = f"{root.as_uri()}/{BAD}/manifest.json {problem}"
    warning = f"Warning: skipped a damaged cue: {message}\n"

    listed = runner.invoke(app, ["ls", "--store", str(root), "--format", "json"])
    assert listed.exit_code == 0 and listed.stderr == warning
    assert [r["cue_id"] for r in json.loads(listed.stdout)] == ["good"]
    by_batch = runner.invoke(app, ["ls", "--batch", BATCH_ID, "--store", str(root)])
    assert by_batch.exit_code == 0 and by_batch.stderr == warning and "1 cue\n" in by_batch.stdout

    for command in (["show", "bad"], ["get", "bad", "-o", str(tmp_path / "out")], ["url", "bad"]):
        result = runner.invoke(app, [*command, "--store", str(root)])
        assert result.exit_code == 1 and result.stderr == f"Error: {message}\n", command
    named = runner.invoke(app, ["show", "bad/k-bbb222bbb222", "--store", str(root)])
    assert named.exit_code == 1 and named.stderr == f"Error: {message}\n"
    assert not (tmp_path / "out").exists()

    report = runner.invoke(app, ["report", BATCH_ID, "--store", str(root)])
    assert report.exit_code == 0 and report.stderr == warning
    page = (root / "batches" / BATCH_ID / "report.html").read_text()
    assert "good" in page and "bad" in page  # the damaged cue keeps its card, saying it has no manifest


def test_an_older_render_still_shows_when_a_newer_one_is_damaged(root):
    write_cue(root, "bad", "k-ccc333ccc333", title="Older", preview=False, roll=False)
    write_manifest(root, "{")
    result = runner.invoke(app, ["show", "bad", "--store", str(root)])
    assert result.exit_code == 0 and "bad  cues/bad/k-ccc333ccc333" in result.stdout
    assert result.stderr.startswith(f"Warning: skipped a damaged cue: {root.as_uri()}/{BAD}/manifest.json is not JSON")


BAD_RECORDS = {
    "not JSON": ("{", "is not a valid batch record: Expecting property name enclosed in double quotes: line 1 "
                 "column 2 (char 1)"),
    "a list": ("[]", "is not a valid batch record: Input should be a valid dictionary or instance of BatchRecord"),
    "too deep": ("[" * 100_000, "is not a valid batch record: nested too deeply"),
    "no results": (None, "has 0 result(s) for 2 cue(s): the record is incomplete or was edited; re-run the batch"),
    "a result outside its folder": ("outside", "result 1 ('good') names the folder '../../x', not "
                                               "'cues/good/k-aaa111aaa111': the record was edited; re-run the batch"),
}  # fmt: skip


@pytest.mark.parametrize("damage", BAD_RECORDS, ids=str)
def test_report_and_ls_of_a_batch_with_a_damaged_record_say_what_is_wrong(root, damage):
    text, problem = BAD_RECORDS[damage]
    key = root / "batches" / BATCH_ID / "batch.json"
    record = json.loads(key.read_text())
    if text is None:
        text = json.dumps({k: v for k, v in record.items() if k != "results"})
    elif text == "outside":
        text = json.dumps({**record, "results": [{**record["results"][0], "prefix": "../../x"}, record["results"][1]]})
    key.write_text(text)
    for command in (["report", BATCH_ID], ["ls", "--batch", BATCH_ID]):
        result = runner.invoke(app, [*command, "--store", str(root)])
        assert result.exit_code == 1, command
        assert result.stderr == f"Error: {root.as_uri()}/batches/{BATCH_ID}/batch.json {problem}\n", command
        assert result.stdout == ""
    assert not (root / "batches" / BATCH_ID / "report.html").exists()


# --- 20: the report goes where the command says ---------------------------------------------------------------


def test_report_refuses_a_record_naming_another_batch(root):
    key = root / "batches" / BATCH_ID / "batch.json"
    key.write_text(json.dumps({**json.loads(key.read_text()), "batch_id": "b-ffffffffffff"}))
    for command in (["report", BATCH_ID], ["ls", "--batch", BATCH_ID]):
        result = runner.invoke(app, [*command, "--store", str(root)])
        assert result.exit_code == 1
        assert result.stderr == (
            f"Error: {root.as_uri()}/batches/{BATCH_ID}/batch.json names batch 'b-ffffffffffff', not its folder: "
            "the record was edited or copied; re-run the batch\n"
        )
    assert sorted(p.name for p in (root / "batches").iterdir()) == [BATCH_ID]
    assert not (root / "batches" / BATCH_ID / "report.html").exists()


def test_report_writes_into_the_batch_folder_named(root):
    result = runner.invoke(app, ["report", BATCH_ID, "--store", str(root)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{root.as_uri()}/batches/{BATCH_ID}/report.html\n"


# --- 21: store URIs and names are input: exit 2; a store that is not there is named ------------------------------


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ("s3:/acme-music/cues", "store URI 's3:/acme-music/cues' has one '/' after 's3:'; did you mean "
                                "'s3://acme-music/cues'?"),
        ("s3:acme-music", "store URI 's3:acme-music' has no '//' after 's3:'; did you mean 's3://acme-music'?"),
        ("file:/srv/cues", "store URI 'file:/srv/cues' has one '/' after 'file:'; did you mean 'file:///srv/cues'?"),
        ("s3://Acme_Music/cues", "bad bucket name 'Acme_Music' in 's3://Acme_Music/cues': 3–63 lowercase letters, "
                                 "digits, '.' and '-', starting and ending with a letter or digit, not shaped like "
                                 "an IP address"),
        ("gs://acme/cues", "unsupported store scheme 'gs://' in 'gs://acme/cues'; supported: file://, s3://"),
    ],
)  # fmt: skip
def test_a_malformed_store_uri_is_invalid_input(store, message):
    for command in (["ls"], ["show", "good"], ["get", "good"], ["url", "good"], ["report", BATCH_ID]):
        result = runner.invoke(app, [*command, "--store", store])
        assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n"), command


def test_a_store_that_does_not_exist_is_named_by_read_commands(tmp_path):
    missing = tmp_path / "no-such-store"
    for command in (["ls"], ["show", "good"], ["get", "good", "-o", str(tmp_path / "out")], ["url", "good"],
                    ["report", BATCH_ID]):  # fmt: skip
        result = runner.invoke(app, [*command, "--store", str(missing)])
        assert result.exit_code == 2, command
        assert result.stderr == (
            f"Error: no store at {missing}: the folder does not exist; check --store (or CUES_STORE)\n"
        ), command
    assert not missing.exists() and not (tmp_path / "out").exists()


def test_a_name_with_a_trailing_newline_is_refused(root):
    for command, what in ((["show", "good\n"], "cue id"), (["report", f"{BATCH_ID}\n"], "batch id")):
        result = runner.invoke(app, [*command, "--store", str(root)])
        assert result.exit_code == 2, command
        assert result.stderr.startswith(f"Error: bad {what} ")


def test_a_bucket_with_a_newline_is_refused():
    with pytest.raises(StoreURIError, match="bad bucket name 'acme\\\\n'"):
        parse_store_uri("s3://acme\n/cues")


def test_a_writing_command_says_where_its_store_is(tmp_path):
    (tmp_path / "b.yaml").write_text("medium: film\nmood: tense\nlength: 700\n")  # invalid: no cue, no Ray
    store = tmp_path / "new-store"
    result = runner.invoke(app, ["submit", str(tmp_path / "b.yaml"), "--store", str(store)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"store: {store} (new)\n")
    again = runner.invoke(app, ["submit", str(tmp_path / "b.yaml"), "--store", str(store)])
    assert again.stderr.startswith(f"store: {store}\n")


# --- 13: store text never reaches the terminal raw ------------------------------------------------------------


def test_control_characters_in_store_data_are_not_printed(root):
    manifest = manifest_of(root, GOOD)
    evil = "\x1b[2J\x1b]0;owned\x07\x9b31m\x00"
    # (a title with control characters is refused by the brief contract, so a manifest carrying one is damaged:
    # the other free text of a manifest is what reaches the terminal)
    manifest["brief_id"] = f"chase{evil}"
    manifest["created"] = f"2026-01-02T03:04:05+00:00{evil}"
    manifest["plan"]["notes"] = [f"a note{evil}\nwith a line break"]
    manifest["audio"]["soundfont"]["name"] = f"TimGM6mb{evil}"
    write_manifest(root, manifest, GOOD)
    (root / BAD / "manifest.json").unlink()
    listed = cues("ls", "--store", str(root))
    shown = cues("show", "good", "--store", str(root))
    assert (listed.exit_code, shown.exit_code) == (0, 0)
    for result in (listed, shown):
        assert not CONTROL.search(result.output), repr(result.output)
    assert "brief chase[2J]0;owned31m: " in shown.output
    assert "note: a note[2J]0;owned31m with a line break\n" in shown.output


def test_ls_by_mood_reads_synonyms_in_any_case_and_suggests_for_unknown_words(root):
    assert manifest_of(root, GOOD)["plan"]["moods"] == ["tense", "dark"]
    for word in ("dark", "DARK", " Sinister ", "anxious"):
        listed = runner.invoke(app, ["ls", "--mood", word, "--store", str(root), "--format", "json"])
        assert listed.exit_code == 0 and sorted(r["cue_id"] for r in json.loads(listed.stdout)) == ["bad", "good"]
    unknown = runner.invoke(app, ["ls", "--mood", "tens", "--store", str(root)])
    assert unknown.exit_code == 2 and "unknown mood 'tens'; did you mean 'tense'" in unknown.stderr
    assert "cues moods" in unknown.stderr


def test_moods_lists_every_mood_with_its_synonyms():
    rows = json.loads(runner.invoke(app, ["moods", "--format", "json"]).stdout)
    assert [r["mood"] for r in rows] == list(MOODS)
    assert {s: r["mood"] for r in rows for s in r["synonyms"]} == MOOD_ALIASES
    assert next(r for r in rows if r["mood"] == "happy")["synonyms"] == ["bright", "cheerful", "joyful", "upbeat"]
    assert "upbeat" in runner.invoke(app, ["moods"]).stdout


def test_the_batch_table_marks_modal_keys_missed_hits_and_warnings(root):
    from rich.console import Console

    from cues.schemas.batch import read_batch_record
    from cues.services.cli.output import print_batch

    record = read_batch_record((root / "batches" / BATCH_ID / "batch.json").read_bytes())
    good, bad = record.results
    modal = {**good.quality, "key_estimate": {"tonic": "C", "mode": "major"}, "key_match": None}
    missed = {**bad.quality, "hit_error_max_ms": 30.0, "key_match": False}
    warned = bad.model_copy(update={"quality": missed, "warnings": ("hit at 2 s cannot be met within 10 ms",)})
    console = Console(record=True, width=200)
    print_batch(console, record.model_copy(update={"results": (good.model_copy(update={"quality": modal}), warned)}))
    text = console.export_text()
    assert "C major ~" in text and "~ a modal key" in text and "≠ the key heard is not the key planned" in text
    assert "30.000 MISSED" in text and "warning bad: hit at 2 s cannot be met within 10 ms" in text


def test_a_re_run_adds_to_the_batch_record_and_batches_lists_it(root):
    from cues.pipelines.generate.batch_outputs import write_batch
    from cues.pipelines.store import open_store
    from cues.schemas.batch import read_batch_record

    key = root / "batches" / BATCH_ID / "batch.json"
    first = read_batch_record(key.read_bytes())  # written before runs were kept
    assert first.runs == ()
    listed = json.loads(runner.invoke(app, ["batches", "--store", str(root), "--format", "json"]).stdout)
    assert [(b["batch_id"], b["runs"], b["delivered"], b["failed"]) for b in listed] == [(BATCH_ID, 1, 2, 0)]
    assert listed[0]["report"] == f"{root.as_uri()}/batches/{BATCH_ID}/report.html"

    store = open_store(str(root))
    again = first.model_copy(
        update={
            "created": "2026-02-03T04:05:06+00:00",
            "results": tuple(r.model_copy(update={"skipped": True}) for r in first.results),
            "wall_s": 1.5,
        }
    )
    written = write_batch(store, again)
    write_batch(store, again.model_copy(update={"created": "2026-03-04T05:06:07+00:00"}))
    stored = read_batch_record(key.read_bytes())
    assert written.created == stored.created == first.created  # the first run's summary is kept
    assert [(r.started, r.rendered, r.skipped) for r in stored.runs] == [
        (first.created, 2, 0),
        ("2026-02-03T04:05:06+00:00", 0, 2),
        ("2026-03-04T05:06:07+00:00", 0, 2),
    ]
    text = runner.invoke(app, ["batches", "--store", str(root)], terminal_width=250).stdout
    assert BATCH_ID in text and "briefs/" in text and "1 batch\n" in text
    key.write_text("{")
    damaged = runner.invoke(app, ["batches", "--store", str(root)])
    assert damaged.exit_code == 0 and "Warning: skipped a damaged batch record" in damaged.stderr


def test_diff_shows_what_a_revision_changed_and_kept(root):
    revised = manifest_of(root)
    sections = revised["plan"]["sections"]
    sections[-1] = {**sections[-1], "intensity": 0.95}
    revised["chords"] = ["i", "iv", "V"]
    write_manifest(root, revised)
    result = runner.invoke(app, ["diff", "good", "bad", "--store", str(root)], terminal_width=250)
    assert result.exit_code == 0, result.output
    label = sections[-1]["label"]
    changed = [line.split()[0] for line in result.output.splitlines()[1:-1]]
    assert changed == ["section", "chords"], result.output  # only what differs, unless --all
    assert "intensity 0.95" in result.output and f"{label}: bars" in result.output
    assert "2 of " in result.output and "100% of the first cue's chords kept in order" in result.output
    rows = json.loads(runner.invoke(app, ["diff", "good", "bad", "--store", str(root), "--format", "json"]).stdout)
    assert rows["a"] == "good/k-aaa111aaa111" and rows["chords_kept"] == 1.0
    assert {r["aspect"] for r in rows["rows"] if r["changed"]} == {f"section {len(sections)}", "chords"}
    same = runner.invoke(app, ["diff", "good", "good", "--store", str(root), "--all"], terminal_width=250)
    assert "0 of " in same.output and "key" in same.output


def test_get_makes_formats_not_delivered_from_the_checked_wav_stems_included(root, tmp_path):
    import soundfile
    from mutagen.id3 import ID3

    out = tmp_path / "out"
    flac = runner.invoke(app, ["get", "good", "--stems", "--format", "flac", "-o", str(out), "--store", str(root)])
    assert flac.exit_code == 0, flac.output
    folder = out / "good"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"good_{n}" for n in ("manifest.json", "mix.flac", "stems_bass.flac", "stems_drums.flac",
                                            "stems_melody.flac")]
    for made, source in (("mix.flac", "mix.wav"), ("stems_bass.flac", "stems/bass.wav")):
        decoded, rate = soundfile.read(folder / f"good_{made}", dtype="int32")
        original, original_rate = soundfile.read(root / GOOD / source, dtype="int32")
        assert rate == original_rate and np.array_equal(decoded, original)  # lossless: the same samples

    mp3 = runner.invoke(app, ["get", "good", "--stems", "--format", "mp3", "-o", str(out), "--store", str(root)])
    assert mp3.exit_code == 0, mp3.output
    tags = ID3(folder / "good_stems_melody.mp3")
    assert str(tags["TIT2"]) == "Good" and "cue good, render k-aaa111aaa111" in str(tags.getall("COMM")[0])
    assert soundfile.info(folder / "good_mix.mp3").duration > 0.5

    stem = root / GOOD / "stems" / "bass.wav"
    data = bytearray(stem.read_bytes())
    data[-100] ^= 0xFF
    stem.write_bytes(bytes(data))  # a damaged WAV is never transcoded
    again = runner.invoke(app, ["get", "good", "--stems", "--format", "flac", "-o", str(tmp_path / "o2"), "--store",
                                str(root)])
    assert again.exit_code == 1 and "does not match the manifest" in again.stderr
