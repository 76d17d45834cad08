"""The documentation against the repository and the code: nothing refers to the folder outside the repository the
contracts came from, every relative link reaches a file of the repository, the brief contract names every mood,
synonym and medium with the defaults the code applies, and the README names every command of the CLI.

Plain files, ``git ls-files`` and the CLI's command tree: no Ray, no store.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import typer

from cues.pipelines.compose.plan import DEFAULT_FORMS
from cues.schemas.brief import DEFAULT_ENDING, DEFAULT_LOUDNESS, Medium
from cues.schemas.moods import MOOD_ALIASES, MOODS
from cues.services.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
BRIEF_CONTRACT = "docs/contracts/brief-v1.md"
GUIDES = ("README.md", "bench/README.md", "infra/README.md")  # and every docs/**/*.md
# The folder outside the repository the contracts were first copied from, named as a path segment (as in
# "../<it>/specs"): a clone does not have it. Built from pieces, so that this file does not match itself.
OUTSIDE = "shared"
OUTSIDE_FOLDER = re.compile(rf"(?<![\w-]){OUTSIDE}/")

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(?:(?!\n[ \t]*\n).)*?(?<!`)\1(?!`)", re.S)  # within a paragraph
INLINE_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # http:, https:, mailto:, s3: …


def repository_files() -> list[str]:
    """Files of the repository relative to its root: tracked ones, and new ones git does not ignore (what the next
    commit can take), that exist in the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    return sorted({name for name in listed.split("\0") if name and (ROOT / name).is_file()})


def text_of(name: str) -> str | None:
    """The file's text, or None for a binary file (one with a NUL byte)."""
    data = (ROOT / name).read_bytes()
    return None if b"\0" in data else data.decode("utf-8", errors="replace")


def markdown_links(text: str) -> list[str]:
    """Targets of the inline and reference links of a Markdown text, outside code blocks and code spans."""
    prose = CODE_SPAN.sub("", FENCE.sub("", text))
    return INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)


def broken_link(source: str, target: str, files: set[str], folders: set[str]) -> str | None:
    """Why the relative link ``target`` in the file ``source`` reaches nothing in the repository, or None when it
    does (or when it is not a relative link: a URL, a pure #anchor)."""
    if not target or target.startswith("#") or SCHEME.match(target):
        return None
    path = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if not path:
        return None
    base = "" if path.startswith("/") else os.path.dirname(source)  # "/x" is the repository root, as on GitHub
    resolved = os.path.normpath(os.path.join(base, path.lstrip("/")))
    if resolved == ".." or resolved.startswith("../"):
        return f"{source}: {target} points outside the repository"
    if resolved not in files and resolved not in folders:
        where = "" if resolved == path else f" (→ {resolved})"
        return f"{source}: {target}{where} is no file or folder of the repository"
    return None


def table_rows(text: str) -> dict[str, list[str]]:
    """Markdown table rows by their first cell, each as its list of cells (stripped)."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows.setdefault(cells[0], cells)
    return rows


def section(text: str, heading: str) -> str:
    """The text under ``## heading`` up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"{BRIEF_CONTRACT} has no section '## {heading}'"
    return match.group(1)


# --- (a) nothing outside the repository -------------------------------------------------------------------------


def test_no_file_refers_to_the_folder_outside_the_repository():
    files = repository_files()
    assert "README.md" in files, f"git ls-files in {ROOT} did not list README.md"
    hits = []
    for name in files:
        text = text_of(name)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE_FOLDER.search(line):
                hits.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not hits, (
        "these lines refer to a folder outside the repository, which a clone does not have; point them at "
        "docs/contracts/ (the repository's copy is the source of truth):\n" + "\n".join(hits)
    )


def test_the_outside_folder_pattern_matches_a_path_segment_only():
    assert OUTSIDE_FOLDER.search(f"copied from ../{OUTSIDE}/specs/brief-v1.md")
    assert OUTSIDE_FOLDER.search(f"see {OUTSIDE}/specs")
    assert not OUTSIDE_FOLDER.search(f"pre-{OUTSIDE}/key and over{OUTSIDE}/")
    assert not OUTSIDE_FOLDER.search(f"the {OUTSIDE} store of the schedulers")


# --- (b) relative links ------------------------------------------------------------------------------------------


def test_relative_links_reach_files_of_the_repository():
    files = set(repository_files())
    folders = {str(parent) for name in files for parent in Path(name).parents if str(parent) != "."}
    missing_guides = [name for name in GUIDES if name not in files]
    assert not missing_guides, f"guides missing from the repository: {', '.join(missing_guides)}"
    pages = [*GUIDES, *sorted(n for n in files if n.startswith("docs/") and n.endswith(".md"))]
    broken = []
    for page in pages:
        for target in markdown_links(text_of(page) or ""):
            problem = broken_link(page, target, files, folders)
            if problem:
                broken.append(problem)
    assert not broken, "broken relative links:\n" + "\n".join(dict.fromkeys(broken))


def test_link_checking_finds_links_and_judges_them():
    text = (
        "[a](docs/x.md#part) ![b](<img/y.png> \"title\") [c](https://example.com/z) [d](#anchor)\n"
        "`[not](a-link)` and\n```\n[nor](this)\n```\n[ref]: ../outside.md\n"
    )
    assert markdown_links(text) == ["docs/x.md#part", "img/y.png", "https://example.com/z", "#anchor", "../outside.md"]
    files, folders = {"docs/x.md", "README.md"}, {"docs"}
    assert broken_link("README.md", "docs/x.md#part", files, folders) is None
    assert broken_link("docs/x.md", "../README.md", files, folders) is None
    assert broken_link("docs/x.md", "/docs/", files, folders) is None
    assert broken_link("README.md", "https://example.com/z", files, folders) is None
    assert broken_link("README.md", "#anchor", files, folders) is None
    assert broken_link("README.md", "docs/y.md", files, folders) == (
        "README.md: docs/y.md is no file or folder of the repository"
    )
    assert broken_link("docs/x.md", "y.md#top", files, folders) == (
        "docs/x.md: y.md#top (→ docs/y.md) is no file or folder of the repository"
    )
    assert broken_link("docs/x.md", "../../outside.md", files, folders) == (
        "docs/x.md: ../../outside.md points outside the repository"
    )


# --- (c) the brief contract against the vocabularies and defaults --------------------------------------------------


def test_brief_contract_names_every_mood_and_its_synonyms():
    rows = table_rows(section((ROOT / BRIEF_CONTRACT).read_text(encoding="utf-8"), "Moods"))
    documented = {cells[0].strip("`"): cells for cells in rows.values() if re.fullmatch(r"`[a-z]+`", cells[0])}
    missing = [mood for mood in MOODS if mood not in documented]
    assert not missing, f"{BRIEF_CONTRACT}, Moods: no table row for the moods {', '.join(missing)}"
    unknown = sorted(set(documented) - set(MOODS))
    assert not unknown, f"{BRIEF_CONTRACT}, Moods: rows for words schemas/moods.py does not accept: {unknown}"
    for mood, cells in documented.items():
        listed = set(re.findall(r"`([^`]+)`", " ".join(cells[1:])))
        accepted = {alias for alias, meaning in MOOD_ALIASES.items() if meaning == mood}
        assert listed == accepted, (
            f"{BRIEF_CONTRACT}, Moods: the row of {mood!r} lists the synonyms {sorted(listed)}, but "
            f"schemas/moods.py MOOD_ALIASES maps {sorted(accepted)} to it"
        )


def test_brief_contract_states_the_defaults_by_medium():
    rows = table_rows(section((ROOT / BRIEF_CONTRACT).read_text(encoding="utf-8"), "Defaults by medium"))
    for medium in Medium:
        cells = rows.get(f"`{medium.value}`")
        assert cells, f"{BRIEF_CONTRACT}, Defaults by medium: no row for the medium {medium.value!r}"
        forms, bounds, higher = [], [], None
        for fewest, form in DEFAULT_FORMS[medium.value]:
            bounds.append(f"≥ {fewest}" if higher is None else f"{fewest}–{higher - 1}")
            forms.append(f"{bounds[-1]}: `{form}`")
            higher = fewest
        expected = [f"`{medium.value}`", f"`{DEFAULT_ENDING[medium].value}`", f"{DEFAULT_LOUDNESS[medium]:g}"]
        assert cells[:4] == [*expected, "; ".join(forms)], (
            f"{BRIEF_CONTRACT}, Defaults by medium: the row of {medium.value!r} says {cells[:4]}; the code "
            f"(schemas/brief.py, pipelines/compose/plan.py DEFAULT_FORMS) says {[*expected, '; '.join(forms)]}"
        )


# --- (d) the README names every command ----------------------------------------------------------------------------


def cli_commands() -> list[str]:
    """Every command of ``cues``: the top-level ones, then each group's subcommands as ``group sub``."""
    root = typer.main.get_command(app)
    names = []
    for name, command in root.commands.items():
        if command.hidden:
            continue
        names.append(name)
        for sub, subcommand in getattr(command, "commands", {}).items():
            if not subcommand.hidden:
                names.append(f"{name} {sub}")
    return names


def test_readme_names_every_command():
    commands = cli_commands()
    assert {"validate", "submit", "run", "schedule", "schedule run"} <= set(commands), commands
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [f"cues {name}" for name in commands if not re.search(rf"\bcues {re.escape(name)}(?![\w-])", readme)]
    assert not missing, f"README.md does not mention these commands (it is the user guide): {', '.join(missing)}"
