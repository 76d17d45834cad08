"""The report's audition room (``pipelines/report/audition.py`` and ``audition.js``): its HTML from a manifest, and
the player driven in a real headless Chromium through Playwright, from an S3 store (the moto server: the report and
its presigned links, Web Audio on one clock, a gain per file) and from a local store's ``file://`` page (``Audio``
elements kept in step), on a tiny store of short cues built with tests/test_report.py's helpers."""

from __future__ import annotations

import html
import json
import re
import shutil
import time

import numpy as np
import pytest

from cues.pipelines.generate.batch_outputs import write_report as write_report_to
from cues.pipelines.render.waveform import waveform_peaks
from cues.pipelines.report.audition import audition_room, comparison
from cues.pipelines.report.report_html import relative_link, report_html
from cues.pipelines.store import open_store
from cues.schemas.batch import BatchRecord
from cues.schemas.plan import Hit
from tests.browser import chromium
from tests.test_report import BATCH_ID, PLAN, REPORT_KEY, delivered, write_cue, write_report

# Audio longer than the plan's 6 s (a ring-out tail): the timeline spans it, and the steps of the browser test have
# time to run before the room reaches its end, even on a loaded CI machine.
SECONDS = 12.0


@pytest.fixture(scope="module")
def room_store(tmp_path_factory):
    """A local store with a cue (12 s of audio) and its cutdown (4 s); returns (root, batch, manifests)."""
    root = tmp_path_factory.mktemp("rooms")
    chase = write_cue(root, "night-chase", "k-aaa111aaa111", title=None, preview=False, roll=False, seconds=SECONDS)
    short = write_cue(
        root, "night-chase-4s", "k-bbb222bbb222", title=None, preview=False, roll=False, cutdown=4.0, seconds=4.0
    )
    dawn = write_cue(root, "dawn", "k-ccc333ccc333", title=None, preview=False, roll=False, seconds=2.0)
    dawn = dawn.model_copy(update={"brief_id": "dawn"})  # another brief's cue: only the page's catalog lists it
    batch = BatchRecord(
        batch_id=BATCH_ID, status="rendered", created="", code_version="", store="", sources=(), briefs=(), cues=(),
        results=(delivered(chase), delivered(short), delivered(dawn)),
    )  # fmt: skip
    (root / "batches" / BATCH_ID).mkdir(parents=True)
    return root, batch, {"night-chase": chase, "night-chase-4s": short, "dawn": dawn}


def test_waveform_peaks_are_min_max_pairs_in_127ths():
    audio = np.zeros((2, 1000))
    audio[0, 10] = 0.5  # bin 0, left channel
    audio[1, 620] = -1.0  # bin 2, right channel
    peaks = waveform_peaks(audio, 48_000, bins=4)
    assert peaks == {"samples_per_bin": 250, "sample_rate": 48_000, "low": [0, 0, -127, 0], "high": [64, 0, 0, 0]}
    assert len(waveform_peaks(audio[:, :999], 48_000, bins=4)["high"]) == 4  # the last bin is short
    with pytest.raises(ValueError, match="^bins must be at least 1, got 0$"):
        waveform_peaks(audio, 48_000, bins=0)


def test_room_marks_sections_and_hits_and_says_what_missed(room_store):
    _, _, manifests = room_store
    chase = manifests["night-chase"]
    missed = Hit(
        requested_s=3.0, achieved_s=3.05, error_ms=50.0, bar=2, beat=2, step=20, placement="beat", achievable=False
    )
    plan = PLAN.model_copy(update={"hits": (*PLAN.hits, missed), "warnings": ("hit 2 missed by 50 ms",)})
    cue = chase.model_copy(update={"plan": plan})
    html = audition_room(cue, relative_link(REPORT_KEY), compare=[comparison(manifests["night-chase-4s"], str)])
    marks = re.findall(r'<div class="mark ([a-z ]+)" style="left:([0-9.]+)%" data-t="([0-9.]+)"', html)
    assert marks == [
        ("section", "0.0000", "0"),
        ("section", "16.6667", "2"),  # of the 12 s the audio lasts
        ("hit", "16.6667", "2"),
        ("hit missed", "25.4167", "3.05"),
        ("asked", "25.0000", "3"),
    ]
    assert ">hit 2 MISSED<" in html and "landed 3.050 s (+50.0 ms)" in html
    assert '<li class="warn">warning: hit 2 missed by 50 ms</li>' in html
    assert '<div class="room-controls" hidden>' in html  # shown by the script: without one, the page's players
    assert 'value="cue:night-chase-4s">night-chase-4s (4 s)</option>' in html
    assert html.count("<path ") == 1  # the waveform, from the manifest's peaks


def test_a_page_lists_its_cues_once_and_each_room_its_own_briefs(room_store):
    root, batch, manifests = room_store
    page = report_html(batch, manifests, relative_link(REPORT_KEY))
    [catalog] = re.findall(r'<div id="cue-catalog" hidden data-cues="([^"]*)"', page)
    assert [c["cue"] for c in json.loads(html.unescape(catalog))] == ["night-chase", "night-chase-4s", "dawn"]
    rooms = [json.loads(html.unescape(r)) for r in re.findall(r'<div class="room" data-room="([^"]*)"', page)]
    compared = {room["cue"]: [s["id"] for s in room["sources"] if s["id"].startswith("cue:")] for room in rooms}
    assert compared == {"night-chase": ["cue:night-chase-4s"], "night-chase-4s": ["cue:night-chase"], "dawn": []}


def s3_report(root, batch: BatchRecord, manifests, bucket: str) -> str:
    """The local room store copied into ``bucket``, its report written there with presigned links (as ``cues submit``
    writes it); returns the report's presigned URL."""
    store = open_store(f"s3://{bucket}/rooms")
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.parts[-1] != "report.html"):
        key = path.relative_to(root).as_posix()
        store.put_bytes(key, path.read_bytes(), content_type="audio/wav" if key.endswith(".wav") else None)
    return store.presigned_url(write_report_to(store, batch, manifests), 600)


@pytest.mark.s3
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium (Debian package 'chromium')")
def test_room_plays_solos_mutes_and_switches_in_chromium(room_store, s3_bucket):
    playwright = pytest.importorskip("playwright.sync_api")
    root, batch, manifests = room_store
    page_file = write_report(root, batch, manifests)
    chase = manifests["night-chase"]  # on S3, as rendered before waveforms were: the page draws it when decoded
    older = chase.model_copy(update={"audio": chase.audio.model_copy(update={"waveform": None})})
    report_url = s3_report(root, batch, {**manifests, "night-chase": older}, s3_bucket)
    with chromium(playwright) as browser:
        errors: list[str] = []
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(report_url)
        room = page.locator("#cue-night-chase .room")
        state = "cuesRooms['night-chase']"

        # the markers sit at the plan's times on the drawn timeline (12 s wide)
        box = room.locator(".timeline").bounding_box()
        for mark, at_s in (("section", 0.0), ("section", 2.0), ("hit", 2.0)):
            found = room.locator(f'.mark.{mark}[data-t="{at_s:g}"]').bounding_box()
            assert abs((found["x"] - box["x"]) / box["width"] * SECONDS - at_s) < 0.02, (mark, at_s)

        assert room.locator(".timeline path").count() == 0
        room.locator("button.play").click()
        page.wait_for_function(f"{state}.playing && {state}.position() > 0.3", timeout=10_000)
        assert room.locator(".timeline path").count() == 1
        left = _playhead_percent(room)
        page.wait_for_timeout(200)
        assert _playhead_percent(room) > left > 0  # the playhead moves

        assert not room.locator('.mixer[data-source="stems"]').is_visible()  # the mix has no mixer
        room.locator('input[value="stems"]').check()
        page.wait_for_function(f"{state}.source === 'stems'")
        assert room.locator('.mixer[data-source="stems"]').is_visible()
        assert _settled(page, state, {"mix": 0, "stem:melody": 1, "stem:bass": 1, "stem:drums": 1})
        room.locator('.track[data-track="stem:bass"] button.solo').click()
        assert _settled(page, state, {"stem:melody": 0, "stem:bass": 1, "stem:drums": 0})
        room.locator('.track[data-track="stem:bass"] button.solo').click()
        room.locator('.track[data-track="stem:drums"] button.mute').click()
        assert _settled(page, state, {"stem:melody": 1, "stem:bass": 1, "stem:drums": 0, "mix": 0})

        # A/B: the cutdown at the same position, then back with the key B, without stopping
        before = page.evaluate(f"{state}.position()")
        options = room.locator("select.compare option").evaluate_all("o => o.map(e => e.value)")
        assert options == ["", "cue:night-chase-4s", "cue:dawn"]  # its brief's, then the page's others
        room.locator("select.compare").select_option("cue:night-chase-4s")
        page.wait_for_function(f"{state}.source === 'cue:night-chase-4s'")
        assert _settled(page, state, {"cue:night-chase-4s": 1, "stem:melody": 0, "stem:bass": 0, "mix": 0})
        page.keyboard.press("b")
        assert _settled(page, state, {"cue:night-chase-4s": 0, "stem:melody": 1, "stem:drums": 0})
        after = page.evaluate(f"{state}.position()")
        assert page.evaluate(f"{state}.playing") and before < after < before + 5.0  # played on

        page.keyboard.press(" ")  # space pauses
        assert page.evaluate(f"{state}.playing") is False
        assert errors == []

        # from the file itself: Audio elements, their volumes the gains
        local = browser.new_page()
        local.on("pageerror", lambda error: errors.append(str(error)))
        local.goto(page_file.as_uri())
        room = local.locator("#cue-night-chase .room")
        room.locator('input[value="stems"]').check()
        room.locator("button.play").click()
        local.wait_for_function(f"{state}.playing && {state}.position() > 0.3", timeout=10_000)
        room.locator('.track[data-track="stem:melody"] button.mute').click()
        assert _settled(local, state, {"stem:melody": 0, "stem:bass": 1, "stem:drums": 1, "mix": 0})
        assert _playhead_percent(room) > 0 and errors == []

        # without a script: the page's players, the waveform and the markers, and no dead controls
        plain = browser.new_context(java_script_enabled=False).new_page()
        plain.goto(page_file.as_uri())
        room = plain.locator("#cue-night-chase")
        assert room.locator("audio").is_visible() and room.locator(".timeline path").is_visible()
        assert room.locator(".mark.hit").is_visible() and not room.locator(".room-controls").is_visible()


def _playhead_percent(room) -> float:
    return float(room.locator(".playhead").evaluate("e => parseFloat(e.style.left)"))


def _gains(page, state: str) -> dict[str, float]:
    return {k: round(v, 3) for k, v in page.evaluate(f"{state}.gains()").items()}


def _settled(page, state: str, expected: dict[str, float], within_s: float = 2.0) -> bool:
    """Whether the room's gains reach ``expected`` (a subset) within ``within_s``: gains ramp over 5 ms."""
    deadline = time.monotonic() + within_s
    while True:
        gains = _gains(page, state)
        if all(gains[k] == v for k, v in expected.items()):
            return True
        if time.monotonic() > deadline:
            raise AssertionError(f"gains {gains}, expected {expected}")
        page.wait_for_timeout(30)
