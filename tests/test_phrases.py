"""Phrase spans: every bar of every section in exactly one phrase; periods pair antecedent and consequent."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cues.pipelines.compose.phrases import PhraseRole, phrase_at_bar, phrase_bars, phrase_spans
from cues.pipelines.compose.plan import make_plan
from cues.schemas.brief import Brief
from cues.schemas.moods import MOODS


def plan_of(**fields):
    brief = Brief.model_validate({"id": "p", "medium": "film", **fields}).resolve()
    return make_plan(brief, brief.seed)


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(4, 120),
    meter=st.sampled_from(["4/4", "3/4", "6/8", "2/4"]),
    mood=st.sampled_from(MOODS),
)
def test_phrases_tile_each_section_and_each_section_closes(length, meter, mood):
    plan = plan_of(mood=mood, length=length, meter=meter)
    phrases = phrase_spans(plan)
    covered = [bar for p in phrases for bar in range(p.start_bar, p.end_bar)]
    assert covered == list(range(plan.bars))
    for index, section in enumerate(plan.sections):
        own = [p for p in phrases if p.section == index]
        assert own[0].start_bar == section.start_bar and own[-1].end_bar == section.start_bar + section.bars
        assert own[-1].role == PhraseRole.consequent
        assert all(p.bars <= 1.5 * phrase_bars(plan) for p in own)


def test_an_eight_bar_section_is_a_period():
    plan = plan_of(mood="calm", length="16 bars", meter="4/4", form="AB")
    first = [p for p in phrase_spans(plan) if p.section == 0]
    assert [(p.start_bar, p.bars, p.role) for p in first] == [
        (0, 4, PhraseRole.antecedent),
        (4, 4, PhraseRole.consequent),
    ]
    assert phrase_at_bar(phrase_spans(plan), 5) == first[1]


@pytest.mark.parametrize(("bars", "expected"), [(5, [5]), (6, [4, 2]), (9, [4, 5]), (10, [4, 4, 2])])
def test_a_remainder_joins_or_makes_a_phrase(bars, expected):
    plan = plan_of(mood="calm", length=f"{bars} bars", meter="4/4", form="A")
    assert [p.bars for p in phrase_spans(plan)] == expected
