"""The API's tokens file and the book that follows it: ``cues token add``/``revoke``/``list`` through the CLI, and a
running :class:`TokenBook` seeing each change without a restart (the HTTP path is in ``test_api.py``). No Ray."""

from __future__ import annotations

import logging
import os

from typer.testing import CliRunner

from cues.services.api.auth import TokenBook
from cues.services.cli.app import app


def cli(*args: str):
    return CliRunner().invoke(app, ["token", *args])


def test_the_book_follows_tokens_added_and_revoked_through_the_cli(tmp_path):
    tokens = tmp_path / "tokens.yaml"
    first = cli("add", "build-farm", "--tokens", str(tokens)).stdout.strip()
    book = TokenBook.read(tokens, check_interval_s=0)
    assert book.find(first).name == "build-farm"
    second = cli("add", "supervisor", "--rate", "30", "--tokens", str(tokens)).stdout.strip()
    assert book.find(second).name == "supervisor"  # added while the book was in use
    listed = cli("list", "--tokens", str(tokens))
    assert listed.stdout == (
        "build-farm\t120 requests/min\t50 cues/batch\nsupervisor\t30 requests/min\t50 cues/batch\n"
    )
    assert first not in tokens.read_text() and second not in tokens.read_text()  # hashes only, as before
    revoked = cli("revoke", "build-farm", "--tokens", str(tokens))
    assert revoked.exit_code == 0 and f"revoked 'build-farm' in {tokens}" in revoked.stderr
    assert book.find(first) is None and book.find(second).name == "supervisor"
    unknown = cli("revoke", "build-frm", "--tokens", str(tokens))
    assert unknown.exit_code != 0
    assert f"{tokens} has no token named 'build-frm' (it has: supervisor)" in unknown.stderr


def test_the_file_is_looked_at_once_per_interval(tmp_path):
    tokens = tmp_path / "tokens.yaml"
    token = cli("add", "build-farm", "--tokens", str(tokens)).stdout.strip()
    book = TokenBook.read(tokens, check_interval_s=3600)
    cli("revoke", "build-farm", "--tokens", str(tokens))
    assert book.find(token).name == "build-farm"  # not looked at again yet: one stat a second at most, by default


def test_a_broken_edit_keeps_the_callers_and_a_removed_file_admits_nobody(tmp_path, caplog):
    tokens = tmp_path / "tokens.yaml"
    token = cli("add", "build-farm", "--tokens", str(tokens)).stdout.strip()
    book = TokenBook.read(tokens, check_interval_s=0)
    good = tokens.read_text()
    tokens.write_text(good + "  - {name: half-typed\n")
    with caplog.at_level(logging.ERROR, logger="cues.services.api.auth"):
        assert book.find(token).name == "build-farm"
    assert "tokens file changed but cannot be read; the 1 callers read before still count" in caplog.text
    tokens.write_text(good.replace("build-farm", "build-farm-2"))  # a valid edit counts again
    assert book.find(token).name == "build-farm-2"
    os.remove(tokens)
    assert book.find(token) is None
