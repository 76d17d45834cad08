"""Plan solving: exact lengths, whole bars, hits on downbeats, loops, cutdowns, every mood, clear errors."""

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cues.pipelines.compose.plan import allocate_bars, make_plan
from cues.pipelines.compose.tempo_map import Grid, PlanError, TempoBand, TempoMap, solve_tempo_map
from cues.pipelines.generate.brief_sources import read_sources
from cues.schemas.brief import Brief
from cues.schemas.form import parse_form
from cues.schemas.moods import MOODS
from cues.schemas.palettes import ACCOMPANIMENT, Role, palettes
from cues.schemas.timing import Meter, parse_length


def plan_of(**fields):
    brief = Brief.model_validate({"medium": "film", "mood": "calm", "length": 30, **fields}).resolve()
    return make_plan(brief, brief.seed)


def check_plan(plan, length_s: float | None = None):
    assert sum(s.bars for s in plan.sections) == plan.bars >= 1
    assert TempoMap.of(plan).total_steps == plan.bars * plan.steps_per_bar
    if length_s is not None:  # exact in MIDI time: the tempo map's microseconds
        assert TempoMap.of(plan).duration_us == round(length_s * 1e6)
    assert all(40 <= change.bpm <= 220 for change in plan.tempo_map)
    for hit in plan.hits:
        if hit.achievable:
            assert hit.error_ms <= 10.0
        else:
            assert any(f"hit at {hit.requested_s:g} s" in note for note in plan.notes)
    starts = [s.start_bar for s in plan.sections]
    assert starts == sorted(starts) and starts[0] == 0


def test_example_briefs_plan_exactly():
    for entry in read_sources(["schemas/examples/"]):
        brief = entry.brief.resolve()
        full = make_plan(brief, brief.seed)
        check_plan(full, brief.length.seconds)
        assert all(h.achievable and h.placement == "downbeat" for h in full.hits)
        for cutdown in brief.cutdowns:
            cut = make_plan(brief, brief.seed, cutdown, full)
            check_plan(cut, cutdown.seconds)
            assert cut.length_s < full.length_s and cut.hits == ()
            assert abs(cut.tempo_bpm / full.tempo_bpm - 1) <= 0.081
            assert {s.name for s in cut.sections if len(s.name) == 1} <= {s.name for s in full.sections}


def test_night_chase_hits_land_on_downbeats():
    plan = plan_of(mood=["tense", "action"], length="1:05", key="D minor", form="intro-A-A'-B-outro", hits=[12, 41.5])
    assert [(h.achieved_s, h.placement, h.beat) for h in plan.hits] == [
        (12.0, "downbeat", 1),
        (41.5, "downbeat", 1),
    ]
    assert [c.step for c in plan.tempo_map][1:] == [h.step for h in plan.hits]
    assert plan.key == "D minor" and [s.label for s in plan.sections] == ["intro", "A", "A'", "B", "outro"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    length=st.floats(3, 240).map(lambda x: round(x, 3)),
    hit_shares=st.lists(st.floats(0.05, 0.95), max_size=4, unique=True),
    meter=st.sampled_from(["4/4", "3/4", "6/8", "2/4"]),
    mood=st.sampled_from(MOODS),
    ending=st.sampled_from(["ring_out", "button", "cut", "fade", "loop"]),
)
def test_lengths_are_exact_and_spaced_hits_are_met(length, hit_shares, meter, mood, ending):
    hits = sorted({round(length * s, 3) for s in hit_shares})
    spaced = all(b - a >= 1.0 for a, b in zip([0, *hits], [*hits, length], strict=True))
    plan = plan_of(length=length, hits=hits, meter=meter, mood=mood, ending=ending)
    check_plan(plan, length)
    if spaced:  # hits a second apart or more can always be met, on a downbeat, beat or step
        assert all(h.achievable for h in plan.hits), plan.notes


@settings(max_examples=30, deadline=None)
@given(bars=st.integers(1, 64), meter=st.sampled_from(["4/4", "3/4", "6/8"]), mood=st.sampled_from(MOODS))
def test_loops_in_bars_are_whole_bars(bars, meter, mood):
    plan = plan_of(medium="game", length=f"{bars} bars", meter=meter, mood=mood, ending="loop")
    assume(plan.bars)
    check_plan(plan)
    assert plan.bars == bars and plan.ending == "loop"


def test_explicit_tempo_is_kept_when_it_fits_and_moved_with_a_note_when_not():
    plan = plan_of(length=60, tempo=112, ending="button", medium="tv")  # a tv cue has no arc to note
    assert plan.tempo_bpm == 112 and plan.bars == 28 and plan.notes == ()
    plan = plan_of(length=6, tempo=112, ending="button")
    assert plan.bars == 3 and plan.tempo_bpm == 120
    assert plan.notes == ("tempo 112 bpm became 120.00 bpm to fit whole bars and the hits",)


def test_hits_too_close_to_meet_are_reported_not_hidden():
    plan = plan_of(length=10, hits=[5.0, 5.05])  # one 16th at 220 bpm is 68 ms
    assert [h.achievable for h in plan.hits] == [True, False]
    assert plan.hits[1].error_ms > 10
    assert plan.notes[-1].startswith("hit at 5.05 s cannot be met within 10 ms")


def test_same_seed_same_plan_and_the_key_follows_the_seed():
    brief = Brief.model_validate({"medium": "ad", "mood": ["happy", "playful"], "length": 20, "seed": 3})
    first, again = make_plan(brief.resolve(), 3), make_plan(brief.resolve(), 3)
    assert first.model_dump_json() == again.model_dump_json()
    keys = {make_plan(brief.resolve(), seed).key for seed in range(12)}
    assert len(keys) > 1


@pytest.mark.parametrize("mood", MOODS)
def test_every_mood_plans_a_cue_in_its_tempo_range(mood):
    from cues.schemas.mood_table import mood_table

    plan = plan_of(mood=mood, length=45)
    check_plan(plan, 45)
    tempo = mood_table()[mood].tempo
    assert tempo.min / 1.1 <= plan.tempo_bpm <= tempo.max * 1.1
    assert plan.mode in mood_table()[mood].modes
    assert {p.role for p in plan.parts} >= {"lead", "pad", "figure", "bass", "drums"}
    assert plan.ensemble in {e.name for e in palettes().moods[mood].ensembles}
    assert sorted(c for s in plan.stems for c in s.channels) == sorted(p.channel for p in plan.parts)
    assert {s.name for s in plan.stems}.isdisjoint(plan.absent_stems)


def test_a_form_longer_than_the_cue_is_a_clear_error():
    # Brief validation refuses this brief (test_briefs); the plan keeps its own check for briefs built in code.
    valid = Brief.model_validate({"medium": "film", "mood": "calm", "length": 30}).resolve()
    crowded = valid.model_copy(update={"length": parse_length(3), "form": parse_form("AABA")})
    with pytest.raises(PlanError) as info:
        make_plan(crowded, crowded.seed)
    assert str(info.value) == (
        "the form A-A-B-A needs at least 4 bars, but 3 s holds at most 2 bars of 4/4 (at 220 bpm); "
        "give a longer length, fewer sections, or leave the form out"
    )


def test_short_cues_get_short_default_forms():
    assert [s.label for s in plan_of(medium="ad", length=6, mood="happy").sections] == ["A"]
    assert [s.label for s in plan_of(medium="tv", length=120).sections] == ["intro", "A", "B", "A'", "outro"]


def test_instruments_replace_the_ensemble():
    plan = plan_of(instruments=["piano"])
    assert [p.instrument for p in plan.parts] == ["Acoustic Grand Piano"] * 5 + ["Orchestra kit"]
    assert plan.groove == "none" and plan.ensemble is None
    assert [s.name for s in plan.stems] == ["melody", "keys_pads", "bass", "drums_perc"]
    plan = plan_of(instruments=["Violin", "harp", "Contrabass", "drums"], mood="happy", seed=0)  # groove straight
    assert [(p.role, p.instrument) for p in plan.parts] == [
        ("lead", "Violin"),
        ("counter", "Violin"),  # nobody listed for it: the first pitched instrument
        ("pad", "Orchestral Harp"),
        ("figure", "Violin"),
        ("bass", "Contrabass"),
        ("drums", "Standard kit"),
    ]
    assert [(s.name, s.parts) for s in plan.stems] == [
        ("melody", ("lead",)),
        ("strings", ("counter", "figure")),
        ("keys_pads", ("pad",)),
        ("bass", ("bass",)),
        ("drums_perc", ("drums",)),
    ]
    assert plan.groove == "straight"


@given(bars=st.integers(1, 200), form=st.sampled_from(["A", "AABA", "intro-A-B-outro", "A-build-B-break-A'"]))
def test_bar_allocation_adds_up(bars, form):
    sections = parse_form(form)
    assume(bars >= len(sections))
    counts = allocate_bars(sections, bars)
    assert sum(counts) == bars and min(counts) >= 1


def test_tempo_map_is_exact_to_the_microsecond():
    tempo_map, hits = solve_tempo_map(Grid.of(Meter("4/4")), 47.123457, [3.3, 17.77], TempoBand(80, 120, 100))
    assert tempo_map.duration_us == 47123457
    assert [tempo_map.time_us(h.step) for h in hits] == [3300000, 17770000]
    assert parse_length("47.123457").seconds == 47.123457


def test_mood_table_covers_the_vocabulary_and_blends():
    from cues.schemas.mood_table import blend, mood_table

    table = mood_table()
    assert set(table) == set(MOODS)
    mixed = blend(["tense", "action"])
    assert table["tense"].tempo.preferred < mixed.tempo.preferred < table["action"].tempo.preferred
    assert mixed.modes == table["tense"].modes and mixed.harmonic_rhythm in (0.5, 1.0, 2.0)


def test_a_tempo_outside_the_moods_range_is_noted():
    plan = plan_of(length=10, form=[{"section": "A", "bars": 8}])  # 8 bars of calm music in 10 s: 192 bpm
    assert plan.tempo_bpm == 192 and plan.notes == ("tempo 192.00 bpm is outside the mood's range, to fit the length",)


# -- issue 16: palettes, parts, layers by intensity ------------------------------------------------------------------


@pytest.mark.parametrize("mood", MOODS)
def test_every_mood_has_three_ensembles_in_the_data_and_the_seed_reaches_them(mood):
    palette = palettes().moods[mood]
    assert len({e.model_dump_json(exclude={"name"}) for e in palette.ensembles}) >= 3
    chosen = {plan_of(mood=mood, length=30, seed=seed).ensemble for seed in range(24)}
    assert chosen == {e.name for e in palette.ensembles}
    brief = Brief.model_validate({"medium": "film", "mood": mood, "length": 30, "seed": 5}).resolve()
    variations = [make_plan(brief, 5 + v).ensemble for v in range(len(palette.ensembles))]
    assert sorted(variations) == sorted(e.name for e in palette.ensembles)  # variations rotate through them


@pytest.mark.parametrize("mood", ["epic", "calm"])
def test_briefs_of_successive_seeds_play_every_pairing_of_groove_and_ensemble(mood):
    palette = palettes().moods[mood]
    plans = [plan_of(mood=mood, length=30, seed=seed) for seed in range(12)]
    pairs = {(plan.groove, plan.ensemble) for plan in plans}
    assert len(pairs) == len(palette.ensembles) * len({plan.groove for plan in plans}) == 12
    assert all(a.ensemble != b.ensemble for a, b in zip(plans, plans[1:], strict=False))


def test_palette_instruments_have_ranges_that_hold_their_registers():
    table = palettes()
    for palette in table.moods.values():
        for ensemble in palette.ensembles:
            for role in (Role.lead, Role.counter, Role.pad, Role.figure, Role.bass):
                program = ensemble.program(role)
                assert table.playable(program).high - table.playable(program).low >= 12, (ensemble.name, role)
    for mood in MOODS:
        for seed in range(3):
            for part in plan_of(mood=mood, length=30, seed=seed).parts:
                if part.role != Role.drums:
                    playable = table.playable(part.program)
                    assert playable.low <= part.low and part.high <= playable.high, part
                    assert part.high - part.low >= 12, part


def test_every_program_has_one_stem_group_and_roles_decide_theirs():
    table = palettes()
    assert table.group(Role.pad, 48) == "strings" and table.group(Role.pad, 52) == "keys_pads"  # choir with keys
    assert (
        table.group(Role.figure, 24) == "keys_pads" and table.group(Role.figure, 12) == "keys_pads"
    )  # guitar, mallets
    assert table.group(Role.counter, 60) == "brass_winds" and table.group(Role.counter, 71) == "brass_winds"
    assert table.group(Role.lead, 48) == "melody" and table.group(Role.bass, 42) == "bass"
    assert table.group(Role.figure, 47) == "drums_perc" and table.group(Role.figure, 55) == "fx"


def test_section_roles_follow_intensity():
    plan = plan_of(mood="epic", length=60, form="A-B-C-D", intensity=[0.1, 0.5, 0.7, 1.0])
    counts = [len(s.roles) for s in plan.sections]
    assert counts == sorted(counts) and counts[0] == 2 and counts[-1] >= 6, counts
    assert all(s.roles[0] == Role.lead for s in plan.sections)
    enters = palettes().moods["epic"].enters
    assert set(plan.sections[0].roles) == {Role.lead, enters[0]}
    quiet = plan_of(mood="calm", length=60, intensity=1.0, seed=0)
    assert quiet.groove == "none"  # no groove: drums never join, even at full intensity
    assert all(Role.drums not in s.roles for s in quiet.sections)
    assert {len(s.roles) for s in quiet.sections} == {len(ACCOMPANIMENT)}


@pytest.mark.parametrize("ending", ["button", "loop"])
def test_a_long_ad_builds_an_arc_unless_it_loops(ending):
    plan = plan_of(medium="ad", mood="epic", length=60, ending=ending)
    intensities = [s.intensity for s in plan.sections]
    arc = any(note.startswith("intensity arc") for note in plan.notes)
    assert arc == (ending != "loop")
    assert (max(intensities) - min(intensities) >= 0.5) == arc  # a loop keeps the gentle shape: no surge per pass
