"""``delivery.stems``: presets and groupings of role groups as the brief contract reads them, their exact errors, and
which stems a cue with some groups silent delivers (``schemas/stem_grouping.py``). No audio here: the render of a
grouping is in ``tests/test_render_stems.py``."""

from typer.testing import CliRunner

from cues.schemas.brief_file import read_brief_bytes
from cues.schemas.palettes import StemGroup
from cues.schemas.stem_grouping import StemPreset, delivered_stems, grouping_of
from cues.services.cli.app import app

GOOD = b"medium: film\nmood: tense\nlength: 30\n"
GROUPS = "melody, strings, brass_winds, keys_pads, bass, drums_perc, fx"


def read(text: bytes):
    [entry] = read_brief_bytes(GOOD + text, "b.yaml")
    return entry


def error(text: bytes) -> str:
    entry = read(text)
    assert entry.brief is None, entry.brief
    return str(entry.error).removeprefix("b.yaml: brief #1: ")


def test_true_and_roles_are_the_same_brief_and_keep_the_seed_of_a_brief_that_never_named_stems():
    plain, true, roles = read(b""), read(b"delivery: {stems: true}\n"), read(b"delivery: {stems: roles}\n")
    assert plain.brief.delivery.stems is True and roles.brief.delivery.stems is True
    assert plain.brief.content_hash() == true.brief.content_hash() == roles.brief.content_hash()
    assert read(b"delivery: {stems: compact}\n").brief.delivery.stems == StemPreset.compact


def test_a_grouping_reads_back_from_its_canonical_json():
    entry = read(b"delivery:\n  stems: {lead: melody, music: [keys_pads, strings], rhythm: [bass, drums_perc]}\n")
    stems = entry.brief.delivery.stems
    assert stems == {
        "lead": (StemGroup.melody,),
        "music": (StemGroup.keys_pads, StemGroup.strings),
        "rhythm": (StemGroup.bass, StemGroup.drums_perc),
    }
    dumped = entry.brief.model_dump(mode="json")
    assert dumped["delivery"]["stems"] == {"lead": ["melody"], "music": ["keys_pads", "strings"],
                                           "rhythm": ["bass", "drums_perc"]}  # fmt: skip
    assert type(entry.brief).model_validate(dumped) == entry.brief


def test_presets_group_every_role_group_once():
    for preset in (True, *StemPreset):
        grouping = grouping_of(preset)
        assert sorted(g for groups in grouping.values() for g in groups) == sorted(StemGroup), preset
    assert grouping_of(StemPreset.compact) == {
        "melody": (StemGroup.melody,),
        "music": (StemGroup.strings, StemGroup.brass_winds, StemGroup.keys_pads),
        "rhythm": (StemGroup.bass, StemGroup.drums_perc),
        "fx": (StemGroup.fx,),
    }
    assert list(grouping_of(StemPreset.bed)) == ["melody", "bed"]
    assert grouping_of(False) == {}


def test_groups_a_grouping_leaves_out_go_to_other_and_join_a_stem_named_other():
    assert grouping_of({"lead": (StemGroup.melody,)}) == {"lead": (StemGroup.melody,), "other": tuple(StemGroup)[1:]}
    named = grouping_of({"other": (StemGroup.fx,), "lead": (StemGroup.melody,), "low": (StemGroup.bass,)})
    assert named == {
        "other": (StemGroup.strings, StemGroup.brass_winds, StemGroup.keys_pads, StemGroup.drums_perc, StemGroup.fx),
        "lead": (StemGroup.melody,),
        "low": (StemGroup.bass,),
    }
    every = {g.value: (g,) for g in StemGroup}
    assert "other" not in grouping_of(every)


def test_a_stem_whose_groups_have_no_notes_is_absent_and_the_rest_carry_only_sounding_groups():
    delivered, absent = delivered_stems(StemPreset.compact, ["melody", "keys_pads", "bass"])
    assert delivered == {"melody": ("melody",), "music": ("keys_pads",), "rhythm": ("bass",)}
    assert absent == ("fx",)
    delivered, absent = delivered_stems(True, ["melody", "bass"])
    assert list(delivered) == ["melody", "bass"] and absent == (
        "strings",
        "brass_winds",
        "keys_pads",
        "drums_perc",
        "fx",
    )
    assert delivered_stems(False, ["melody"]) == ({}, ())


def test_unknown_and_repeated_groups_are_refused_with_their_paths():
    assert error(b"delivery: {stems: {lead: [melody], music: [strngs, melody, keys_pads, keys_pads]}}\n") == (
        f"delivery.stems.music[0]: unknown role group 'strngs'; did you mean 'strings'?; allowed: {GROUPS}; "
        "delivery.stems.music[1]: role group 'melody' is already in stem 'lead'; a group goes in one stem; "
        "delivery.stems.music[3]: role group 'keys_pads' is listed twice in this stem; a group goes in one stem"
    )
    assert error(b"delivery: {stems: {lead: tune}}\n") == (
        f"delivery.stems.lead: unknown role group 'tune'; allowed: {GROUPS}"
    )


def test_bad_shapes_names_and_presets_are_refused():
    allowed = f"true, false, a preset (roles, compact, bed), or a mapping of stem names to role groups ({GROUPS})"
    assert error(b"delivery: {stems: compakt}\n") == (
        f"delivery.stems: unknown stem preset 'compakt'; did you mean 'compact'?; allowed: {allowed} (got 'compakt')"
    )
    assert error(b"delivery: {stems: 3}\n") == f"delivery.stems: must be {allowed} (got 3)"
    assert error(b"delivery: {stems: {}}\n") == (
        "delivery.stems: a grouping names one stem at least (false delivers no stems) (got {})"
    )
    assert error(b"delivery: {stems: {Lead Line: [melody], music: []}}\n") == (
        "delivery.stems: stem name 'Lead Line' is not a file name; allowed: lowercase letters, digits, - and _, "
        f"starting with a letter or digit, at most 32 characters; delivery.stems.music: a stem lists one role group "
        f"or more; allowed: {GROUPS} (got [])"
    )


def test_cues_validate_shows_the_grouping_error(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_bytes(GOOD + b"delivery: {stems: {lead: [melodie]}}\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.output == (
        f"invalid  {path}: brief #1: delivery.stems.lead[0]: unknown role group 'melodie'; did you mean 'melody'?; "
        f"allowed: {GROUPS}\n1 brief in 1 file: 0 ok, 1 invalid\n"
    )


def test_a_brief_grouping_replaces_the_defaults_grouping_whole():
    [entry] = read_brief_bytes(
        b"defaults: {medium: ad, mood: happy, length: 30, delivery: {stems: {music: [strings]}, bit_depth: 16}}\n"
        b"briefs: [{id: spot, delivery: {stems: {lead: [melody]}}}]\n",
        "b.yaml",
    )
    assert entry.brief.delivery.stems == {"lead": (StemGroup.melody,)} and entry.brief.delivery.bit_depth == 16
