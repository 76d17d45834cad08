"""Which soundfont renders the cues, and its identity (a hash that is part of every cue's render key).

Order when none is configured: FluidR3_GM (Debian ``fluid-soundfont-gm``), then TimGM6mb (Debian
``timgm6mb-soundfont``, or the copy inside the ``pretty_midi`` wheel). A configured soundfont (``--soundfont``, or a
palette's ``soundfont:`` in ``schemas/palettes.yaml``) is a path or one of the :data:`KNOWN` names (``fluidr3``,
``timgm6mb``, ``musescore-general``); it must exist: it is never silently replaced by a fallback, because the user
asked for that sound, and the error names the Debian package that installs it.

Why FluidR3_GM stays the default (``bench/README.md``, "Issue 17: the soundfonts side by side"): MuseScore General
synthesises 1.14× faster and is as complete, but a worker pays 6–7.6 s and +496 MB to load it (FluidR3: 0.2–0.6 s,
+165 MB), half the issue's 1 GB per worker, and it is not fuller across the board (fuller on the action cue, level on
the epic one, narrower on the calm one). TimGM6mb is the thinnest and no faster.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from cues.schemas.errors import SoundfontMissing
from cues.schemas.palettes import Palettes, palettes

FLUIDR3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TIMGM6MB = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
MUSESCORE_GENERAL = Path("/usr/share/sounds/sf3/MuseScore_General.sf3")


@dataclass(frozen=True)
class KnownSoundfont:
    """A soundfont Debian packages: where the package puts it and the package's name."""

    path: Path
    package: str


#: Names a configuration may give instead of a path.
KNOWN = {
    "fluidr3": KnownSoundfont(FLUIDR3, "fluid-soundfont-gm"),
    "timgm6mb": KnownSoundfont(TIMGM6MB, "timgm6mb-soundfont"),
    "musescore-general": KnownSoundfont(MUSESCORE_GENERAL, "musescore-general-soundfont"),
}
INSTALL_HINT = (
    "install one with `sudo apt-get install fluid-soundfont-gm` (FluidR3_GM, 148 MB) or "
    "`sudo apt-get install timgm6mb-soundfont` (6 MB), or set the render soundfont to a .sf2 file"
)


@dataclass(frozen=True)
class Soundfont:
    """A soundfont file and the sha256 of its bytes (hex)."""

    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.path.stem


def candidates() -> list[Path]:
    """Where a soundfont is looked for when none is configured, best first."""
    paths = [FLUIDR3, TIMGM6MB]
    # Located, not imported: importing pretty_midi imports pyfluidsynth, which prints to stdout where CI is set.
    spec = importlib.util.find_spec("pretty_midi")
    if spec is not None and spec.submodule_search_locations:  # a dependency, but the lookup must not depend on it
        paths.append(Path(spec.submodule_search_locations[0]) / "TimGM6mb.sf2")
    return paths


def find_soundfont(configured: str | Path | None = None) -> Soundfont:
    """The soundfont to use: ``configured`` (a path or a :data:`KNOWN` name; it must exist) if given, else the best
    installed one.

    Raises :class:`SoundfontMissing` naming what to install."""
    if configured is not None:
        known = KNOWN.get(str(configured)) or next((k for k in KNOWN.values() if k.path == Path(configured)), None)
        path = known.path if known else Path(configured).expanduser()
        if not path.is_file():
            hint = f"install it with `sudo apt-get install {known.package}`" if known else INSTALL_HINT
            raise SoundfontMissing(f"soundfont {str(path)!r} does not exist or is not a file; {hint}")
        return _identify(path.resolve())
    for path in candidates():
        if path.is_file():
            return _identify(path)
    looked = ", ".join(str(p) for p in candidates())
    raise SoundfontMissing(f"no soundfont found (looked in {looked}); {INSTALL_HINT}")


def palette_soundfonts(table: Palettes | None = None) -> dict[str, Soundfont]:
    """Mood → the soundfont its palette names (in ``table``, default ``schemas/palettes.yaml``), for the moods that
    name one; each must exist: a missing one raises :class:`SoundfontMissing` before any work."""
    moods = (table or palettes()).moods
    return {mood: find_soundfont(p.soundfont) for mood, p in moods.items() if p.soundfont is not None}


def _identify(path: Path) -> Soundfont:
    if not os.access(path, os.R_OK):
        raise SoundfontMissing(f"soundfont {str(path)!r} is not readable by this user")
    stat = path.stat()
    return Soundfont(path, _sha256(str(path), stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """Hash of the file; cached on (path, size, mtime) because FluidR3 is 148 MB and every cue asks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
