"""Revisions (issue 18): a brief with ``revise: <cue-id>`` keeps the revised cue's music where it still fits.

Plan level with the real planner and the real chord model; the revised cue is a real plan of a real brief. The store
side (a cue read from a store, ids, idempotence, the CLI) is in ``test_batch.py``'s end-to-end test."""

from __future__ import annotations

import pytest

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.plan import plan_cue
from cues.pipelines.compose.revision import refitted_form
from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.generate.revision_source import StoreRevisions
from cues.schemas.brief import Brief
from cues.schemas.brief_file import parse_brief, read_brief_bytes
from cues.schemas.revision import RevisedCue, revision_fields, revision_ids

STING = {"id": "sting", "medium": "tv", "mood": "tense", "length": 16, "hits": [4.0]}  # A-A', 4 bars each
NIGHT_CHASE = {"id": "night-chase", "medium": "film", "mood": ["tense", "action"], "length": 60, "hits": [12.0, 41.5]}


@pytest.fixture(scope="module")
def models():
    return ComposerModels.load()


@pytest.fixture(scope="module")
def revised() -> RevisedCue:
    brief = Brief.model_validate(NIGHT_CHASE).resolve()
    return RevisedCue(cue_id=brief.id, render_key="k-0123456789ab", brief=brief, plan=plan_cue(brief, brief.seed))


def revision(revised: RevisedCue, **change):
    """The revision's cue spec, as the driver makes it from a brief ``revise: night-chase`` + ``change``."""
    brief = parse_brief({**revision_fields(revised, {"revise": revised.cue_id, **change}), "id": "night-chase-r1"})
    [spec] = expand_cues(brief, revised)
    return spec


def test_a_length_only_revision_keeps_seed_key_form_ensemble_groove_and_the_sections_it_can(revised):
    spec = revision(revised, length=45)
    old, new = revised.plan, plan_cue(spec.brief, spec.seed, None, spec.revision)
    assert spec.seed == old.seed and new.motif_seed == old.motif_seed
    assert (new.key, new.ensemble, new.groove, new.tempo_bpm) == (old.key, old.ensemble, old.groove, old.tempo_bpm)
    assert new.length_s == pytest.approx(45.0, abs=1e-6)
    assert [s.label for s in new.sections] == [s.label for s in old.sections] == ["intro", "A", "B", "A'", "outro"]
    assert [(s.bars, s.intensity) for s in new.sections[:2]] == [(s.bars, s.intensity) for s in old.sections[:2]]
    assert (new.sections[-1].bars, new.sections[-1].intensity) == (old.sections[-1].bars, old.sections[-1].intensity)
    assert [s.bars for s in old.sections] == [4, 8, 8, 8, 4] and [s.bars for s in new.sections] == [4, 8, 4, 4, 4]
    assert new.revision.changed == ("length 60 → 45",)
    assert new.revision.adapted == (
        "B 8 → 4 bars (inner phrases dropped) to fit 24 bars",
        "A' 8 → 4 bars (inner phrases dropped) to fit 24 bars",
        "tempo map 120 / 130.169 / 129.73 → 120 / 130.169 / 137.143 bpm to fit the new length in whole bars",
    )
    assert "key C minor" in new.revision.kept
    assert new.warnings == ()


def test_a_hits_only_revision_changes_only_what_it_must_and_plans_the_same_again(models):
    brief = Brief.model_validate(STING).resolve()
    sting = RevisedCue(cue_id="sting", render_key="k-0123456789ab", brief=brief, plan=plan_cue(brief, brief.seed))
    spec = revision(sting, hits=[4.0, 12.5])
    old = compose_cue(sting.brief, sting.plan.seed, None, models)
    new = compose_cue(spec.brief, spec.seed, None, models, spec.revision)
    sections = [(s.label, s.bars, s.intensity) for s in new.plan.sections]
    assert sections == [(s.label, s.bars, s.intensity) for s in old.plan.sections] == [("A", 4, 0.65), ("A'", 4, 0.78)]
    assert new.plan.tempo_bpm == old.plan.tempo_bpm and new.plan.hits[1].achievable
    assert new.plan.revision.changed == ("hits [4] → [4, 12.5]",)
    a_end = 4 * old.plan.steps_per_bar  # the new hit falls in A': A's chords and melody stay note for note
    assert [c for c in new.score.chord_spans if c[1] <= a_end] == [c for c in old.score.chord_spans if c[1] <= a_end]
    lead = [n for n in old.score.parts["lead"] if n.end <= a_end]
    assert lead and [n for n in new.score.parts["lead"] if n.end <= a_end] == lead
    again = revision(sting, hits=[4.0, 12.5])  # the same revision again: the same cue, the same plan (so the same MIDI)
    assert again.content_hash() == spec.content_hash()
    assert plan_cue(again.brief, again.seed, None, again.revision) == new.plan


def test_a_revision_of_mood_brings_the_moods_tempo_ensemble_and_groove_and_keeps_key_and_seed(revised):
    spec = revision(revised, mood="calm")
    new = plan_cue(spec.brief, spec.seed, None, spec.revision)
    assert (new.key, new.seed) == (revised.plan.key, revised.plan.seed)
    assert new.tempo_bpm != revised.plan.tempo_bpm and new.ensemble != revised.plan.ensemble
    assert any(line.startswith("tempo 128 → ") and line.endswith("for the new mood") for line in new.revision.adapted)


def test_refitting_drops_inner_phrases_keeps_the_opening_and_cadence_and_drops_a_section_only_when_it_must(revised):
    form, adapted = refitted_form(revised.plan, 38)  # 6 bars more: a 4-bar phrase, then 2, to the shortest inner
    assert [(s.label, s.bars) for s in form] == [("intro", 4), ("A", 8), ("B", 10), ("A'", 12), ("outro", 4)]
    assert adapted == [
        "B 8 → 10 bars (phrases repeated) to fit 38 bars",
        "A' 8 → 12 bars (phrases repeated) to fit 38 bars",
    ]
    form, adapted = refitted_form(revised.plan, 3)
    assert [(s.label, s.bars) for s in form] == [("intro", 1), ("A", 1), ("outro", 1)]
    assert adapted[:2] == ["A' dropped: the cue has only 3 bars", "B dropped: the cue has only 3 bars"]


def test_revision_ids_number_on_from_the_root():
    assert revision_ids("night-chase")[:2] == ["night-chase-r1", "night-chase-r2"]
    assert revision_ids("night-chase-r3")[0] == "night-chase-r1"
    assert revision_ids("x" * 64)[0] == "x" * 61 + "-r1"


def test_an_unknown_cue_or_store_is_an_error_at_revise_and_the_other_briefs_go_on(tmp_path):
    (tmp_path / "store").mkdir()
    data = b"revise: nope\nlength: 30\n---\nid: fine\nmedium: ad\nmood: happy\nlength: 8\n---\nrevise: x\nid: x\n"
    bad, fine, same = read_brief_bytes(data, "b.yaml", StoreRevisions(str(tmp_path / "store")))
    assert str(bad.error) == (
        f"b.yaml: brief #1: revise: no delivered cue 'nope' in {tmp_path / 'store'}; `cues ls` lists the cues there "
        "(got 'nope')"
    )
    assert fine.ok and fine.brief.id == "fine"
    assert str(same.error) == (
        "b.yaml: brief 'x': id: a revision never replaces the cue it revises: give it another id, or none (got 'x')"
    )
    [missing] = read_brief_bytes(b"revise: nope\n", "b.yaml", StoreRevisions(str(tmp_path / "none")))
    assert str(missing.error).startswith("b.yaml: brief #1: revise: cannot read the store of the revised cue: no store")
    [alone] = read_brief_bytes(b"revise: nope\n", "b.yaml")
    assert "a revision is read against the store of the cue it revises" in str(alone.error)
