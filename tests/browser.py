"""Headless Chromium for the tests: a page opened to check that every image and audio player on it loads
(``--dump-dom``), and the browser driven through Playwright (:func:`chromium`)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Appended to a copy of the page: once media settle (or 15 s of the browser's virtual time pass), writes what
# failed into the DOM, where --dump-dom shows it.
LOAD_CHECK = """
(function () {
  var deadline = Date.now() + 15000;
  function check() {
    var images = Array.prototype.slice.call(document.images);
    var players = Array.prototype.slice.call(document.querySelectorAll("audio"));
    var pending = images.some(function (i) { return !i.complete; }) ||
      players.some(function (a) { return a.readyState < 1 && !a.error; });
    if (pending && Date.now() < deadline) { setTimeout(check, 50); return; }
    var bad = images.filter(function (i) { return i.naturalWidth === 0; })
      .map(function (i) { return i.getAttribute("src"); })
      .concat(players.filter(function (a) { return a.readyState < 1 || a.error; })
        .map(function (a) { return a.getAttribute("src") + (a.error ? " error " + a.error.code : " not loaded"); }));
    var out = document.createElement("pre");
    out.id = "load-check";
    out.textContent = JSON.stringify({
      images: images.map(function (i) { return [i.getAttribute("src"), i.naturalWidth]; }),
      audio: players.map(function (a) { return [a.getAttribute("src"), a.duration]; }),
      bad: bad, timed_out: pending});
    document.body.appendChild(out);
  }
  window.addEventListener("load", check);
})();
"""


def media_load_report(page: Path, tmp_path: Path) -> dict:
    """Open a copy of ``page`` (beside it, so relative links resolve) in headless Chromium with every player set
    to preload, and return what loaded: ``{"images": [[src, naturalWidth]], "audio": [[src, duration]],
    "bad": [what failed], "timed_out": bool}``."""
    checked = (
        page.read_text(encoding="utf-8")
        .replace('preload="none"', 'preload="auto"')
        .replace("</body>", f"<script>{LOAD_CHECK}</script></body>")
    )
    copy = page.with_name(page.stem + "-check.html")
    copy.write_text(checked, encoding="utf-8")
    command = [
        "chromium",
        "--headless=new",
        "--disable-gpu",
        "--no-sandbox",  # tests run as root in containers, where Chromium's sandbox cannot start
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--autoplay-policy=no-user-gesture-required",
        "--virtual-time-budget=20000",
        "--dump-dom",
        copy.as_uri(),
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=90)
    elapsed = time.monotonic() - started
    found = re.search(r'<pre id="load-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the page never reported (exit {done.returncode} after {elapsed:.1f} s): {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


@contextmanager
def chromium(sync_api) -> Iterator:
    """The system's Chromium (no browser download) under Playwright's ``sync_api`` module, allowed to play audio
    without a click; closed when the block ends."""
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--autoplay-policy=no-user-gesture-required"]
        )
        try:
            yield browser
        finally:
            browser.close()
