"""The service's audition page (services/api/audition_routes.py and static/): its routes over HTTP on the router
alone, then the issue's walk in a real headless Chromium through Playwright against the real service (create_app
under uvicorn, a warm worker on the session's Ray): sign in (a wrong token refused), submit a brief, wait for
delivery, play, approve; no token anywhere but the Authorization header; a revoked token back at the sign-in form."""

from __future__ import annotations

import shutil
import time
from urllib.parse import urlsplit

import httpx
import pytest
import ray
from fastapi import FastAPI

from cues.pipelines.generate.warm_runtime import NAMESPACE, WORKER_PREFIX
from cues.pipelines.store import open_store
from cues.schemas.api_tokens import TokenFile
from cues.services.api.app import create_app
from cues.services.api.audition_routes import router
from cues.services.api.auth import TokenBook, add_token
from cues.services.api.errors import install_error_handlers
from cues.services.api.limits import RateLimits
from cues.services.api.settings import ApiSettings
from tests.browser import chromium
from tests.local_server import serving
from tests.test_report import write_cue

UNKNOWN = "the bearer token is not known to this service"


@pytest.fixture(scope="module")
def page_app(tmp_path_factory):
    """The page's router alone on a local store with a delivered cue (4 s) and its cutdown (2 s), a token for
    ``studio``; returns (app, token)."""
    root = tmp_path_factory.mktemp("page-store")
    write_cue(root, "night-chase", "k-aaa111aaa111", title="Night chase", preview=False, roll=False, seconds=4.0)
    write_cue(root, "night-chase-2s", "k-bbb222bbb222", title=None, preview=False, roll=False, cutdown=2.0, seconds=2.0)
    token = add_token(root / "tokens.yaml", "studio")
    app = FastAPI()
    install_error_handlers(app)
    app.state.store = open_store(str(root))
    app.state.tokens = TokenBook.read(root / "tokens.yaml")
    app.state.limits = RateLimits()
    app.include_router(router)
    return app, token


def test_page_routes_need_a_token_and_serve_only_their_files(page_app):
    app, token = page_app
    with serving(app) as base, httpx.Client(base_url=base) as client:
        page = client.get("/audition")
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
        assert client.get("/audition/static/room.js").text.startswith("/* The audition rooms of a page")
        assert client.get("/audition/static/..%2Fauth.py").status_code == 404
        missing = client.get("/audition/static/auth.py")
        assert missing.status_code == 404
        assert missing.json()["error"]["message"] == (
            "no file 'auth.py' on the audition page; it has page.js, page.css, room.js, room.css"
        )
        refused = client.get("/audition/cues/night-chase")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        bearer = {"Authorization": f"Bearer {token}"}
        cue = client.get("/audition/cues/night-chase", headers=bearer).json()
        assert cue["master"] == "/v1/cues/night-chase/files/mix.wav"
        assert cue["summary"]["key"] == "D minor" and cue["summary"]["loudness_lufs"] == -23.0
        assert 'data-room="' in cue["room"] and "/v1/cues/night-chase/files/stems/bass.wav" in cue["room"]
        assert 'value="cue:' not in cue["room"]  # nothing to compare with unless asked
        compared = client.get("/audition/cues/night-chase?compare=night-chase-2s&compare=night-chase", headers=bearer)
        assert 'value="cue:night-chase-2s">night-chase-2s (2 s)</option>' in compared.json()["room"]
        assert "/v1/cues/night-chase-2s/files/mix.wav" in compared.json()["room"]
        too_many = client.get("/audition/cues/night-chase?" + "&".join(["compare=x"] * 21), headers=bearer)
        assert too_many.status_code == 422 and too_many.json()["error"]["details"][0]["path"] == "query.compare"
        bad = client.get("/audition/cues/Night.Chase", headers=bearer)
        assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("bad cue id 'Night.Chase'")
        gone = client.get("/audition/cues/dawn", headers=bearer)
        assert gone.status_code == 404 and gone.json()["error"]["message"].startswith("no delivered cue 'dawn'")


def _wait_until(page, expression: str, timeout_s: float = 10.0):
    """Poll ``expression`` in the page until it is truthy; its value. (``wait_for_function`` compiles its predicate
    with ``new Function``, which the page's Content-Security-Policy refuses.)"""
    deadline = time.monotonic() + timeout_s
    while not (value := page.evaluate(expression)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{expression} still {value!r} after {timeout_s} s")
        page.wait_for_timeout(50)
    return value


def _is_api_call(url: str) -> bool:
    path = urlsplit(url).path
    return path.startswith("/v1/") or (path.startswith("/audition/") and not path.startswith("/audition/static/"))


def _stop_service_workers() -> None:
    """The service's warm workers end with the process that started them: here the test session, so they are
    stopped now, before other tests count the session's CPUs."""
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["namespace"] == NAMESPACE and actor["name"].startswith(WORKER_PREFIX):
            ray.kill(ray.get_actor(actor["name"], namespace=NAMESPACE))


@pytest.mark.ray
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium (Debian package 'chromium')")
def test_a_supervisor_signs_in_submits_a_brief_hears_the_cue_and_approves_it(ray_session, tmp_path):
    """The issue's walk through the page, on the real service (create_app under uvicorn, its warm worker on the
    session's Ray, a local store): a wrong token refused, a brief refused with its field path, then one delivered,
    played in the room and in the <audio> player, approved; the token only ever in the Authorization header; a
    revoked token back at the sign-in form."""
    playwright = pytest.importorskip("playwright.sync_api")
    expect = playwright.expect
    token = add_token(tmp_path / "tokens.yaml", "supervisor")
    settings = ApiSettings(store=str(tmp_path / "store"), tokens_file=tmp_path / "tokens.yaml", workers=1)
    app = create_app(settings)
    requests: list[tuple[str, str | None]] = []
    try:
        with serving(app) as base, chromium(playwright) as browser:
            errors: list[str] = []
            page = browser.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda request: requests.append((request.url, request.headers.get("authorization"))))
            page.goto(f"{base}/audition")
            assert page.locator("#login").is_visible() and not page.locator("#app").is_visible()
            page.fill("#token", "cues_not-a-token")
            page.click("#login-form button")
            expect(page.locator("#login-error")).to_have_text(UNKNOWN)
            assert not page.locator("#app").is_visible()

            page.fill("#token", token)
            page.click("#login-form button")
            page.wait_for_selector("#who:has-text('signed in as supervisor')")
            assert page.locator("#token").input_value() == ""  # the token is not left in the field
            expect(page.locator("#batches-status")).to_have_text("no batches yet: submit a brief")

            page.fill("#brief", "id: page-sting\nmedium: tv\nmood: grumpy\nlength: 4\n")
            page.click("#submit-form button")
            expect(page.locator("#submit-status")).to_have_text("1 of 1 brief(s) are invalid; nothing was accepted")
            assert page.locator("#brief-problems li").all_inner_texts() == [
                "briefs[0].mood: unknown mood 'grumpy'; allowed: calm, happy, playful, uplifting, triumphant, "
                "epic, tense, suspense, dark, sad, melancholic, mysterious, romantic, action, dreamy, or a synonym "
                "(`cues moods` lists them) (got 'grumpy')"
            ]

            page.fill("#brief", "id: page-sting\nmedium: tv\nmood: playful\nlength: 4\nending: button\n")
            page.click("#submit-form button")
            expect(page.locator("#brief-problems li")).to_have_count(0)
            # the warm worker loads while the page polls: queued, composing, then delivered
            expect(page.locator("#batch-view h2 .state")).to_have_text("delivered", timeout=90_000)
            page.click("#batch-view a:text-is('page-sting')")

            # the cue view: the facts, the room with the plan's marks; play, and its position moves on
            room = "cuesRooms['page-sting']"
            page.wait_for_selector("#cue-view .room .room-controls button.play")
            facts = page.locator("#cue-view dl.facts").inner_text()
            assert " bpm" in facts and " LUFS" in facts and "tv" in facts
            assert page.locator("#cue-view .mark.section").count() >= 1
            page.click("#cue-view .room button.play")
            assert _wait_until(page, f"{room}.playing && {room}.position() > 0.3 && {room}.position()")
            # the <audio> player: a blob: URL of the same bytes; playing it pauses the room
            source = _wait_until(page, "document.getElementById('mix-player').src")
            assert source.startswith(f"blob:{base}/")
            page.evaluate("document.getElementById('mix-player').play()")
            assert _wait_until(page, "document.getElementById('mix-player').currentTime > 0.2")
            assert page.evaluate(f"{room}.playing") is False

            expect(page.locator("#review-state")).to_have_text("not reviewed yet")
            page.fill("#review-note", "the button lands")
            page.click("#review-form button[data-approved=true]")
            expect(page.locator("#reviews li")).to_have_count(1)
            assert page.locator("#reviews li").inner_text().endswith(": the button lands")
            expect(page.locator("#review-state")).to_contain_text("approved by supervisor")
            page.click("#review-form button[data-approved='']")  # a note needs its text: the service's 422
            expect(page.locator("#review-status")).to_have_text(
                "a note without a verdict needs text; to approve, use approved true (cues approve)"
            )

            page.reload()  # the tab keeps its session, and the address its cue
            page.wait_for_selector("#cue-view .room .mark.section")
            assert token not in page.content() and token not in page.url
            assert all(token not in url for url, _ in requests)
            calls = [(urlsplit(url).path, header) for url, header in requests if _is_api_call(url)]
            paths = ("/audition/session", "/v1/batches", "/audition/cues/page-sting", "/v1/cues/page-sting/review")
            assert set(paths + ("/v1/cues/page-sting/files/mix.wav",)) <= {path for path, _ in calls}
            assert {header for _, header in calls} == {f"Bearer {token}", "Bearer cues_not-a-token"}
            assert all(header is None for url, header in requests if not _is_api_call(url))

            # the token revoked while the page is open: the next call returns to the sign-in form, saying why
            accepted, app.state.tokens = app.state.tokens, TokenBook(TokenFile())
            try:
                page.click("#batches li")
                expect(page.locator("#login-error")).to_have_text(UNKNOWN)
            finally:
                app.state.tokens = accepted
            assert not page.locator("#app").is_visible() and page.evaluate("sessionStorage.length") == 0
            assert errors == []
    finally:
        _stop_service_workers()
