"""The HTTP API (issue 19): the real service on Ray Serve in the session's Ray, over HTTP (httpx against Serve's proxy
on a free port of 127.0.0.1), on the session's moto S3 server; one service for the module.

A short sting (4 s) is delivered end to end; the refusals (401, 413, 415, 422, 429, 404, 409) are checked with their
exact bodies; a restart is two apps on the same store (the first accepts and dies, the second resumes); the local
store's file route is checked on a copy of the delivered cue; the README's curl lines run as written; last, the
audition page's walk in headless Chromium, on the service's warm worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import ray
from fastapi.testclient import TestClient

from cues.pipelines.generate.warm_runtime import NAMESPACE, WORKER_PREFIX
from cues.pipelines.store import open_store
from cues.schemas.api_tokens import TokenFile
from cues.services.api.app import create_app, deploy, undeploy
from cues.services.api.auth import TokenBook, add_token
from cues.services.api.settings import ApiSettings
from cues.services.api.webhooks import read_service_secret, verify_signature, webhook_secret
from tests.browser import chromium
from tests.conftest import free_port
from tests.local_server import serving
from tests.test_webhooks import Receiver

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parent.parent
STING = b"id: api-sting\nmedium: tv\nmood: playful\nlength: 4\n"
POLL_S = 90.0


class Service:
    def __init__(self, url: str, store_uri: str, settings: ApiSettings, tokens: dict[str, str]):
        self.url, self.store_uri, self.settings, self.tokens = url, store_uri, settings, tokens

    def client(self, name: str = "studio") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[name]}"}, timeout=30)


@pytest.fixture(scope="module")
def service(ray_session, s3_server, tmp_path_factory):
    import boto3

    bucket = f"api-{os.getpid()}-{int(time.time())}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=bucket)
    folder = tmp_path_factory.mktemp("api")
    tokens_file = folder / "tokens.yaml"
    tokens = {
        "studio": add_token(tokens_file, "studio"),
        "small": add_token(tokens_file, "small", max_batch_cues=1),
        "slow": add_token(tokens_file, "slow", requests_per_minute=2),
    }
    settings = ApiSettings(store=f"s3://{bucket}/cues", tokens_file=tokens_file, port=free_port(), workers=1,
                           webhook_secret_file=folder / "webhook.secret")
    url = deploy(settings)
    deadline = time.monotonic() + 120
    while httpx.get(f"{url}/readyz").status_code != 200:
        assert time.monotonic() < deadline, httpx.get(f"{url}/readyz").text
        time.sleep(0.5)
    yield Service(url, settings.store, settings, tokens)
    undeploy()


def finished(client: httpx.Client, batch_id: str, seen: list | None = None) -> dict:
    """The batch's final status, polled; ``seen`` gets each new state of its first cue."""
    deadline = time.monotonic() + POLL_S
    while True:
        status = client.get(f"/v1/batches/{batch_id}").json()
        if seen is not None and status["cues"] and status["cues"][0]["state"] not in seen[-1:]:
            seen.append(status["cues"][0]["state"])
        if status["state"] in ("delivered", "partial", "failed") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


@pytest.fixture(scope="module")
def delivered(service) -> dict:
    """The sting, submitted and delivered: the 202's body, and the final status."""
    with service.client() as client:
        accepted = client.post("/v1/batches", content=STING, headers={"Content-Type": "application/yaml"})
        assert accepted.status_code == 202, accepted.text
        seen = [accepted.json()["cues"][0]["state"]]
        return {"accepted": accepted, "status": finished(client, accepted.json()["batch_id"], seen), "seen": seen}


def test_health_needs_no_token_and_everything_else_does(service):
    assert httpx.get(f"{service.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{service.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    bare = httpx.get(f"{service.url}/v1/batches")
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == 'Bearer realm="cues"'
    assert bare.json() == {"error": {"code": "unauthorized",
                                     "message": "send 'Authorization: Bearer <token>' (cues token add makes one)"}}
    wrong = httpx.get(f"{service.url}/v1/batches", headers={"Authorization": "Bearer cues_nope"})
    assert wrong.json()["error"]["message"] == "the bearer token is not known to this service"


def test_a_brief_is_delivered_end_to_end_and_its_files_come_back(service, delivered):
    accepted = delivered["accepted"]
    batch_id = accepted.json()["batch_id"]
    assert re.fullmatch(r"b-[0-9a-f]{12}", batch_id)
    assert accepted.headers["location"] == f"/v1/batches/{batch_id}" == accepted.json()["status_url"]
    assert accepted.json()["cues"][0] | {"state": "queued"} == {
        "cue_id": "api-sting", "brief_id": "api-sting", "state": "queued", "reason": None, "manifest_url": None}
    timing = dict(re.findall(r"([a-z]+);dur=([0-9.]+)", accepted.headers["server-timing"]))
    assert list(timing) == ["app", "wait", "check", "store"]  # the service's own time and its parts, for clients
    assert sum(float(timing[part]) for part in ("wait", "check", "store")) <= float(timing["app"])
    status = delivered["status"]
    assert status["state"] == "delivered", status
    assert delivered["seen"] == ["queued", "composing", "rendering", "delivered"]  # the sting renders for ~1 s
    assert status["cues"] == [{"cue_id": "api-sting", "brief_id": "api-sting", "state": "delivered", "reason": None,
                               "manifest_url": "/v1/cues/api-sting"}]
    assert status["report_url"].endswith(f"/batches/{batch_id}/report.html") and status["webhook"] is None
    with service.client() as client:
        assert [b["batch_id"] for b in client.get("/v1/batches").json()["batches"]] == [batch_id]
        manifest = client.get("/v1/cues/api-sting").json()
        assert manifest["cue_id"] == "api-sting" and "mix.wav" in manifest["files"]
        assert client.get("/v1/cues/api-sting/plan").json() == manifest["plan"]
        link = client.get("/v1/cues/api-sting/files/mix.wav")  # S3: a presigned URL, downloaded without a token
        assert link.status_code == 307
        assert "response-content-disposition=attachment" in link.headers["location"]
        audio = httpx.get(link.headers["location"])
        assert hashlib.sha256(audio.content).hexdigest() == manifest["files"]["mix.wav"]["sha256"]
        for path in ("nope.wav", "../../etc/passwd", "stems/..%2F..%2Fmanifest.json", "%2Fetc%2Fpasswd"):
            missing = client.get(f"/v1/cues/api-sting/files/{path}")
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found", path
        assert client.get("/v1/cues/..%2Fapi").status_code == 404
        unknown = client.get("/v1/cues/no-such-cue")
        message = "no delivered cue 'no-such-cue' (one still rendering has none yet)"
        assert unknown.json() == {"error": {"code": "not_found", "message": message}}
        assert client.get("/v1/batches/b-000000000000").status_code == 404
    with service.client("small") as other:  # another caller's batch is unknown to it
        assert other.get(f"/v1/batches/{batch_id}").status_code == 404


def test_the_same_briefs_are_the_same_batch_and_a_reused_key_with_other_briefs_is_refused(service, delivered):
    batch_id = delivered["accepted"].json()["batch_id"]
    with service.client() as client:
        again = client.post("/v1/batches", json={"briefs": [{"id": "api-sting", "medium": "tv", "mood": ["playful"],
                                                              "length": 4}]}, headers={"Idempotency-Key": "k-1"})
        assert again.status_code == 202 and again.json()["batch_id"] == batch_id
        assert again.json()["state"] == "delivered"  # delivered before: answered as it stands, nothing made again
        other = client.post("/v1/batches", content=STING.replace(b"length: 4", b"length: 5"),
                            headers={"Content-Type": "application/yaml", "Idempotency-Key": "k-1"})
        assert other.status_code == 409
        assert other.json() == {"error": {"code": "idempotency_conflict", "message": "this Idempotency-Key was sent "
                                          "before with another body; use a new key for new briefs"}}


def test_invalid_briefs_are_refused_with_the_field_paths_cues_validate_gives(service):
    body = b"id: fine\nmedium: tv\nmood: playful\nlength: 4\n---\nid: bad\nmedium: tv\nmood: [playfull]\nlength: nine\n"
    with service.client() as client:
        refused = client.post("/v1/batches", content=body, headers={"Content-Type": "text/yaml"})
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["code"] == "invalid_briefs"
        assert error["message"] == "1 of 2 brief(s) are invalid; nothing was accepted"
        assert [d["path"] for d in error["details"]] == ["briefs[1].mood", "briefs[1].length"]
        assert "did you mean 'playful'" in error["details"][0]["message"]
        # a webhook into the service's own network (the cloud's metadata address) is refused before anything runs
        metadata = client.post("/v1/batches", content=STING, headers={
            "Content-Type": "application/yaml", "Cues-Webhook-Url": "https://169.254.169.254/latest/meta-data"})
        assert metadata.status_code == 422 and metadata.json()["error"]["details"] == [
            {"path": "webhook_url", "message": "not a public address"}]
        assert error["details"][1]["message"].endswith("(got 'nine')")
        wrong = client.post("/v1/batches", content=b"id: x", headers={"Content-Type": "text/plain"})
        assert wrong.status_code == 415 and wrong.json()["error"]["code"] == "unsupported_media_type"


def test_too_large_bodies_and_batches_are_413(service):
    with service.client("small") as client:
        huge = client.post("/v1/batches", content=b"#" * (service.settings.max_body_bytes + 1),
                           headers={"Content-Type": "application/yaml"})
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"
        many = client.post("/v1/batches", content=STING + b"variations: 3\n",
                           headers={"Content-Type": "application/yaml"})
        assert many.status_code == 413
        assert many.json() == {"error": {"code": "batch_too_large", "message": "the briefs expand to 3 cues; token "
                                         "'small' may submit at most 1 per batch: split them"}}


def test_a_token_over_its_rate_is_429_with_retry_after(service):
    with service.client("slow") as client:
        assert [client.get("/v1/batches").status_code for _ in range(2)] == [200, 200]
        limited = client.get("/v1/batches")
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 30
        assert limited.json()["error"] == {
            "code": "rate_limited",
            "message": f"token 'slow' may make 2 requests a minute; try again in {limited.headers['retry-after']} s"}


def test_a_token_added_or_revoked_while_the_service_runs_counts_within_seconds(service):
    """The running replica follows the tokens file: ``cues token add`` and ``cues token revoke`` need no restart."""
    from cues.services.api.auth import revoke_token

    token = add_token(service.settings.tokens_file, "temp-contractor")
    headers = {"Authorization": f"Bearer {token}"}

    def answers_within(status: int) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if httpx.get(f"{service.url}/v1/batches", headers=headers).status_code == status:
                return True
            time.sleep(0.2)
        return False

    assert answers_within(200)
    revoke_token(service.settings.tokens_file, "temp-contractor")
    assert answers_within(401)
    with service.client() as client:  # the others are untouched
        assert client.get("/v1/batches").status_code == 200


def test_an_accepted_batch_survives_a_restart_of_the_service(service, delivered):
    """The first app accepts a batch and dies before running it (its runner never starts); a second app on the same
    store resumes it at its start and delivers it. Before the 202 only the request is written (durably): the status
    is answered from it, and the caller's mark, written without fsync, is made again from it at the start when a
    power cut lost it. Its plan is answered before it is rendered."""
    headers = {"Authorization": f"Bearer {service.tokens['studio']}"}
    brief = {"id": "api-resumed", "medium": "tv", "mood": ["tense"], "length": 4}
    first = TestClient(create_app(service.settings), headers=headers)  # no `with`: its lifespan (runner) never runs
    accepted = first.post("/v1/batches", json={"briefs": [brief]})
    assert accepted.status_code == 202
    batch_id = accepted.json()["batch_id"]
    store = open_store(service.store_uri)
    assert store.exists(f"api/batches/{batch_id}/request.json")
    assert not store.exists(f"api/batches/{batch_id}/status.json")  # the runner writes it when it takes the batch
    assert first.get(f"/v1/batches/{batch_id}").json()["cues"] == [
        {"cue_id": "api-resumed", "brief_id": "api-resumed", "state": "queued", "reason": None, "manifest_url": None}]
    plan = first.get("/v1/cues/api-resumed/plan")  # not rendered: planned from the batch's brief
    assert plan.status_code == 200 and plan.json()["moods"] == ["tense"]
    store.delete(f"api/callers/studio/{batch_id}")  # what a power cut may take: the mark has no fsync
    assert first.get(f"/v1/batches/{batch_id}").status_code == 404
    with TestClient(create_app(service.settings), headers=headers) as second:
        assert batch_id in [b["batch_id"] for b in second.get("/v1/batches").json()["batches"]]
        deadline = time.monotonic() + POLL_S
        while (status := second.get(f"/v1/batches/{batch_id}").json())["state"] not in ("delivered", "failed"):
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
    assert status["state"] == "delivered" and status["cues"][0]["manifest_url"] == "/v1/cues/api-resumed"
    with service.client() as client:  # the running service sees it too: the state is the store's
        rendered = client.get("/v1/cues/api-resumed/plan").json()  # the delivered plan adds what rendering found
    same = ("key", "tempo_map", "sections", "seed", "bars", "length_s")
    assert {name: rendered[name] for name in same} == {name: plan.json()[name] for name in same}


def test_a_local_store_streams_the_file_checked_against_its_sha256(service, delivered, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="cues.api.access")
    source = open_store(service.store_uri)
    local = open_store(str(tmp_path / "store"))
    for key in source.list("cues/api-sting/"):
        local.put_bytes(key, source.get_bytes(key))
    tokens = {"Authorization": f"Bearer {service.tokens['studio']}"}
    client = TestClient(create_app(service.settings.model_copy(update={"store": local.uri})), headers=tokens)
    manifest = client.get("/v1/cues/api-sting").json()
    served = client.get("/v1/cues/api-sting/files/stems/bass.wav")
    assert served.status_code == 200
    assert served.headers["content-disposition"] == "attachment; filename*=UTF-8''api-sting_stems_bass.wav"
    assert hashlib.sha256(served.content).hexdigest() == manifest["files"]["stems/bass.wav"]["sha256"]
    [key] = [k for k in local.list("cues/api-sting/") if k.endswith("/mix.wav")]
    local.put_bytes(key, b"RIFF damaged")
    damaged = client.get("/v1/cues/api-sting/files/mix.wav")
    assert damaged.status_code == 409 and damaged.json()["error"]["code"] == "store_damaged"
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "cues.api.access"]
    assert lines[-1] | {"ms": 0} == {"method": "GET", "path": "/v1/cues/api-sting/files/mix.wav", "status": 409,
                                     "ms": 0, "caller": "studio"}
    assert not any(service.tokens["studio"] in r.getMessage() for r in caplog.records)  # never the token


def readme_curl_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## HTTP API", 1)[1].split("\n## ", 1)[0]
    return [line for block in re.findall(r"```sh\n(.*?)```", section, re.S) for line in block.splitlines()
            if line.startswith("curl ")]


def test_the_readme_curl_lines_run_as_written(service, tmp_path):
    lines = readme_curl_lines()
    assert len(lines) >= 5 and all("$CUES_URL" in line for line in lines)
    env = {**os.environ, "CUES_URL": service.url, "CUES_TOKEN": service.tokens["studio"]}
    for line in lines:
        run = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, (line, run.stderr)
        if "-X POST" in line:
            batch_id = re.search(r'"batch_id":\s*"(b-[0-9a-f]{12})"', run.stdout).group(1)
            with service.client() as client:
                assert finished(client, batch_id)["state"] == "delivered"
    assert any(path.suffix == ".wav" for path in tmp_path.iterdir()), shlex.join(lines)


def test_a_batch_with_a_webhook_is_announced_signed_when_it_ends(service):
    receiver = Receiver([])
    try:
        body = STING.replace(b"api-sting", b"api-hooked")
        with service.client() as client:
            accepted = client.post("/v1/batches", content=body, headers={
                "Content-Type": "application/yaml", "Cues-Webhook-Url": receiver.url})
            assert accepted.status_code == 202, accepted.text
            batch_id = accepted.json()["batch_id"]
            assert finished(client, batch_id)["state"] == "delivered"
            deadline = time.monotonic() + 30
            while (status := client.get(f"/v1/batches/{batch_id}").json())["webhook"]["state"] == "pending":
                assert time.monotonic() < deadline, status
                time.sleep(0.1)
    finally:
        receiver.close()
    [(headers, sent)] = receiver.received
    secret = webhook_secret(read_service_secret(service.settings.webhook_secret_file), "studio")
    verify_signature(secret, sent, headers["Cues-Signature"])
    summary = json.loads(sent)
    assert (summary["batch_id"], summary["state"], summary["cues"][0]["state"]) == (batch_id, "delivered", "delivered")
    assert status["webhook"] == {"url": receiver.url, "state": "delivered", "attempts": 1}


# --- the audition page's walk, in headless Chromium (last: it stops the warm workers) ---------------------------

UNKNOWN = "the bearer token is not known to this service"


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
    """The warm workers end with the process that started them: the module's service (its undeploy) or, had the page's
    app started one of its own, the test session; so they are stopped now, before other tests count the session's
    CPUs. The walk is the module's last test."""
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["namespace"] == NAMESPACE and actor["name"].startswith(WORKER_PREFIX):
            ray.kill(ray.get_actor(actor["name"], namespace=NAMESPACE))


@pytest.mark.ray
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium (Debian package 'chromium')")
def test_a_supervisor_signs_in_submits_a_brief_hears_the_cue_and_approves_it(service, tmp_path):
    """The issue's walk through the audition page (services/api/audition_routes.py and static/), on the real service
    (create_app under uvicorn, so that the test can revoke its token, on a local store), whose warm worker is the
    module's service's (the same name, code, models and render settings: found by name instead of loaded again): a
    wrong token refused, a brief refused with its field path, then one delivered, played in the room and in the
    <audio> player, approved; the token only ever in the Authorization header; a revoked token back at the sign-in
    form."""
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
