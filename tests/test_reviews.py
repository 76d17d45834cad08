"""Reviews beside a delivered cue: ``cues approve``/``note``/``show``/``ls`` through the real CLI on a local store
and on the moto S3 store, and the review routes over real HTTP (uvicorn in a thread on a free port). Cue folders are
written as the renderer leaves them (``tests.test_report.write_cue``), then put in the store. No Ray."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from cues.pipelines.store import ObjectStore, open_store
from cues.schemas.api_tokens import ApiToken, TokenFile
from cues.schemas.errors import IntegrityError, InvalidRequest
from cues.services.api.auth import TokenBook, hash_token
from cues.services.api.errors import install_error_handlers
from cues.services.api.limits import RateLimits
from cues.services.api.review_routes import router
from cues.services.cli.app import app
from cues.services.reviews import add_review, reviews_of
from tests.local_server import serving
from tests.test_report import write_cue

RENDER = "k-aaa111aaa111"
TOKEN = "cues_test-token-of-the-supervisor"


def cues(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def deliver(store: ObjectStore, scratch: Path, cue_id: str = "sting", render_key: str = RENDER,
            manifest: bool = True) -> str:
    """Put a cue folder as the renderer leaves it into ``store`` (its manifest last, or none: still rendering)."""
    write_cue(scratch, cue_id, render_key, title="Sting", preview=False, roll=False, seconds=0.1)
    folder = scratch / "cues" / cue_id / render_key
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    for name in [n for n in names if n != "manifest.json"] + ["manifest.json"] * manifest:
        store.put_file(f"cues/{cue_id}/{render_key}/{name}", folder / name)
    return f"cues/{cue_id}/{render_key}"


def test_approve_reject_and_note_are_stored_beside_the_render_and_shown(store, tmp_path):
    prefix = deliver(store, tmp_path / "scratch")
    deliver(store, tmp_path / "scratch", cue_id="rendering", manifest=False)
    uri = store.uri
    result = cues("approve", "rendering", "--store", uri)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: no delivered cue 'rendering' in {uri}; `cues ls` lists the cues there; only a delivered cue can be "
        "reviewed\n"
    )
    assert not store.exists("cues/rendering/k-aaa111aaa111/review.json")

    before = cues("show", "sting", "--store", uri)
    assert before.exit_code == 0 and "review: not approved yet\n" in before.output
    assert cues("approve", "sting", "--note", "love the brass", "--by", "ana", "--store", uri).exit_code == 0
    hostile = "bar 12: strings\tmask \x1b[31mthe melody"
    assert cues("note", "sting", hostile, "--by", "bo", "--store", uri).exit_code == 0
    rejected = cues("approve", "sting", "--reject", "--by", "cy", "--store", uri)
    assert rejected.exit_code == 0

    entries = json.loads(store.get_bytes(f"{prefix}/review.json"))
    assert [(e["approved"], e["note"], e["by"]) for e in entries] == [
        (True, "love the brass", "ana"), (None, "bar 12: strings\tmask \x1b[31mthe melody", "bo"), (False, "", "cy")
    ]
    shown = cues("show", "sting", "--store", uri).output.splitlines()
    at = [e["at"] for e in entries]
    assert shown[2:5] == [
        f"review: rejected by cy at {at[2]}",
        f"note by ana at {at[0]}: love the brass",
        f"note by bo at {at[1]}: bar 12: strings mask [31mthe melody",  # no ESC reaches the terminal
    ]
    assert rejected.output.splitlines()[0] == f"review: rejected by cy at {at[2]}"
    assert cues("approve", "sting", "--by", "ana", "--store", uri).exit_code == 0
    listed = json.loads(cues("ls", "--format", "json", "--store", uri).output)
    assert [(row["cue_id"], row["review"]) for row in listed] == [
        ("sting", {"approved": True, "by": "ana", "at": json.loads(store.get_bytes(f"{prefix}/review.json"))[-1]["at"],
                   "notes": 2})
    ]
    manifest = json.loads(store.get_bytes(f"{prefix}/manifest.json"))
    assert "review.json" not in manifest["files"]  # a person's record, not one of the cue's files


def test_a_newer_render_starts_unreviewed_and_a_damaged_review_is_reported_not_overwritten(tmp_path):
    store = open_store(str(tmp_path / "store"))
    deliver(store, tmp_path / "a")
    add_review(store, "sting", approved=True, by="ana")
    cue, entries = reviews_of(store, "sting")
    assert cue.render_key == RENDER and [e.approved for e in entries] == [True]
    with pytest.raises(InvalidRequest, match=r"^a note without a verdict needs text; to approve, use approved true"):
        add_review(store, "sting", approved=None, note="   ", by="ana")

    deliver(store, tmp_path / "b", render_key="k-bbb222bbb222")  # the same created time, a later key: the newest
    cue, entries = reviews_of(store, "sting")
    assert (cue.render_key, entries) == ("k-bbb222bbb222", [])
    assert [e.approved for e in reviews_of(store, f"sting/{RENDER}")[1]] == [True]  # the older render keeps its own

    store.put_bytes(f"cues/sting/{RENDER}/review.json", b'[{"approved": "maybe"}]')
    with pytest.raises(IntegrityError, match=r"review.json is not a valid review list: .*; move it aside"):
        add_review(store, f"sting/{RENDER}", approved=True, by="ana")
    assert store.get_bytes(f"cues/sting/{RENDER}/review.json") == b'[{"approved": "maybe"}]'
    shown = cues("show", f"sting/{RENDER}", "--store", store.uri)
    assert shown.exit_code == 0 and "review: unreadable (see the warning)" in shown.output


@pytest.fixture
def service(tmp_path):
    """The review router in a small FastAPI app, served by uvicorn on 127.0.0.1 from a thread; a local store with a
    delivered cue ``sting``; one token, ``supervisor``."""
    store = open_store(str(tmp_path / "store"))
    deliver(store, tmp_path / "scratch")
    api = FastAPI()
    install_error_handlers(api)
    api.include_router(router)
    api.state.store = store
    api.state.tokens = TokenBook(TokenFile(tokens=(ApiToken(name="supervisor", sha256=hash_token(TOKEN)),)))
    api.state.limits = RateLimits()
    with serving(api, lifespan="off") as base, httpx.Client(base_url=base, timeout=10) as client:
        yield client, store


WRITER = """
import sys
from cues.pipelines.store import open_store
from cues.services.reviews import add_review
store, writer = open_store(sys.argv[1]), sys.argv[2]
sys.stdin.readline()  # all writers start together
for n in range(5):
    add_review(store, "sting", approved=None, note=f"{writer} note {n}", by=writer)
"""


def test_writers_in_several_processes_lose_no_review(store, tmp_path):
    """Four processes add five notes each to one render at the same moment: every note is kept (S3's conditional
    write, a folder lock on a local store), where a read-extend-write without the check would drop some."""
    import subprocess
    import sys

    deliver(store, tmp_path)
    add_review(store, "sting", approved=True, by="supervisor")
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, store.uri, f"w{i}"], stdin=subprocess.PIPE, text=True)
        for i in range(4)
    ]
    import time

    time.sleep(3)  # each has imported and opened the store
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0, 0, 0]
    _, entries = reviews_of(store, "sting")
    assert sorted(e.note for e in entries[1:]) == sorted(f"w{i} note {n}" for i in range(4) for n in range(5))
    assert entries[0].approved is True and len(entries) == 21


def test_the_review_routes_over_http(service):
    client, store = service
    auth = {"Authorization": f"Bearer {TOKEN}"}
    refused = client.post("/v1/cues/sting/review", json={"approved": True})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"

    made = client.post("/v1/cues/sting/review", json={"approved": True, "note": "ship it", "by": "someone-else"},
                       headers=auth)
    assert made.status_code == 422  # a client cannot name the reviewer
    assert made.json()["error"]["details"][0]["path"] == "body.by"
    assert client.post("/v1/cues/sting/review", json={"approved": "yes"}, headers=auth).status_code == 422
    made = client.post("/v1/cues/sting/review", json={"approved": True, "note": "ship it"}, headers=auth)
    assert made.status_code == 201 and made.headers["location"] == "/v1/cues/sting/review"
    entry = made.json()
    assert (entry["approved"], entry["note"], entry["by"]) == (True, "ship it", "supervisor")
    noted = client.post("/v1/cues/sting/review", json={"note": "louder hit"}, headers=auth)
    assert noted.status_code == 201 and noted.json()["approved"] is None

    got = client.get("/v1/cues/sting/review", headers=auth)
    assert got.status_code == 200
    assert got.json() == {
        "cue_id": "sting",
        "render_key": RENDER,
        "state": {"approved": True, "by": "supervisor", "at": entry["at"], "notes": 2},
        "reviews": [entry, noted.json()],
    }
    assert json.loads(store.get_bytes(f"cues/sting/{RENDER}/review.json")) == got.json()["reviews"]

    missing = client.post("/v1/cues/ghost/review", json={"approved": True}, headers=auth)
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": (
        f"no delivered cue 'ghost' in {store.uri}; `cues ls` lists the cues there; only a delivered cue can be "
        "reviewed")}}
    empty = client.post("/v1/cues/sting/review", json={"approved": None, "note": ""}, headers=auth)
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "invalid_request"
    bad_name = client.get("/v1/cues/Not..A..Cue/review", headers=auth)
    assert bad_name.status_code == 422 and bad_name.json()["error"]["message"].startswith("bad cue id 'Not..A..Cue'")
