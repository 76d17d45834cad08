"""The service's audition page (services/api/audition_routes.py and static/): its routes over HTTP on the router
alone. The issue's walk in a real headless Chromium (sign in, submit, play, approve, a revoked token) is in
tests/test_api.py, where it uses the warm worker of the module's service instead of starting one of its own."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from cues.pipelines.store import open_store
from cues.services.api.audition_routes import router
from cues.services.api.auth import TokenBook, add_token
from cues.services.api.errors import install_error_handlers
from cues.services.api.limits import RateLimits
from tests.local_server import serving
from tests.test_report import write_cue


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
