"""The service's audition page (services/api/audition_routes.py and static/), in a real headless Chromium through
Playwright against a real FastAPI app under uvicorn: signing in with a token, the refusal of a wrong one, a revoked
token sending the page back to its login form, and no token anywhere but the Authorization header."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from cues.pipelines.store import open_store
from cues.schemas.api_tokens import TokenFile
from cues.services.api.audition_routes import router
from cues.services.api.auth import TokenBook, add_token
from cues.services.api.errors import install_error_handlers
from cues.services.api.limits import RateLimits
from cues.services.api.review_routes import router as review_router
from tests.conftest import free_port
from tests.test_report import write_cue

UNKNOWN = "the bearer token is not known to this service"


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on a free local port, in a thread; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 10 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def page_app(tmp_path_factory):
    """The page's and the reviews' routers on a local store with one delivered cue (4 s), a token for ``studio``;
    returns (app, token)."""
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
    app.include_router(review_router)
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


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium (Debian package 'chromium')")
def test_signing_in_refuses_a_wrong_token_and_never_puts_the_token_in_the_page(page_app):
    playwright = pytest.importorskip("playwright.sync_api")
    expect = playwright.expect
    app, token = page_app
    with serving(app) as base, playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=shutil.which("chromium"))
        try:
            errors: list[str] = []
            requests = []
            page = browser.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda request: requests.append((request.url, request.headers.get("authorization"))))
            page.goto(f"{base}/audition#cue/night-chase")
            assert page.locator("#login").is_visible() and not page.locator("#app").is_visible()

            page.fill("#token", "cues_not-a-token")
            page.click("#login-form button")
            expect(page.locator("#login-error")).to_have_text(UNKNOWN)
            assert not page.locator("#app").is_visible()

            page.fill("#token", token)
            page.click("#login-form button")
            page.wait_for_selector("#who:has-text('signed in as studio')")
            # the cue named in the address opens: its facts and its room, the plan's section and hit marks on it
            page.wait_for_selector("#cue-view .room .mark.hit")
            facts = page.locator("#cue-view dl.facts").inner_text()
            assert "D minor" in facts and "120.0 bpm" in facts and "4.00 s" in facts and "-23.0 LUFS" in facts
            assert page.locator("#cue-view .mark.section").count() == 2
            assert page.evaluate("Object.keys(cuesRooms)") == ["night-chase"]  # the report's room, mounted
            assert page.locator("#token").input_value() == ""
            expect(page.locator("#review-state")).to_have_text("not reviewed yet")
            page.fill("#review-note", "love the brass at the hit")
            page.click("#review-form button[data-approved=true]")
            expect(page.locator("#reviews li")).to_have_count(1)
            assert page.locator("#reviews li").inner_text().startswith("approved by studio · 20")
            assert page.locator("#reviews li").inner_text().endswith(": love the brass at the hit")
            expect(page.locator("#review-state")).to_contain_text("approved by studio")
            page.click("#review-form button[data-approved='']")  # a note needs its text: the service's 422 shown
            expect(page.locator("#review-status")).to_have_text(
                "a note without a verdict needs text; to approve, use approved true (cues approve)"
            )
            page.reload()  # the tab keeps its session
            page.wait_for_selector("#who:has-text('signed in as studio')")

            assert token not in page.content() and token not in page.url
            assert all(token not in url for url, _ in requests)
            called = [(url, header) for url, header in requests if "/audition/cues/" in url or "/session" in url]
            assert called and all(header in (f"Bearer {token}", "Bearer cues_not-a-token") for _, header in called)
            assert all(header is None for url, header in requests if "/audition/static/" in url)

            # the token revoked while the page is open: the next call returns to the login form, with the reason
            accepted, app.state.tokens = app.state.tokens, TokenBook(TokenFile())
            try:
                page.evaluate("location.hash = '#cue/night-chase-4s'")
                expect(page.locator("#login-error")).to_have_text(UNKNOWN)
            finally:
                app.state.tokens = accepted
            assert page.locator("#login").is_visible() and not page.locator("#app").is_visible()
            assert page.evaluate("sessionStorage.length") == 0
            assert errors == []
        finally:
            browser.close()
