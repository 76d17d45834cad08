"""The report's players for a game cue's adaptive audio: its vertical layers (quietest first, with the stems each
sums) and its stingers, each a player of its WAV (else FLAC) file."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from cues.schemas.manifest import CueManifest

PLAYABLE = (".wav", ".flac")  # in order of preference; layers and stingers have no MP3 preview


def game_players(manifest: CueManifest, link: Callable[[str], str]) -> str:
    """HTML: a "Layers" and a "Stingers" section with a player per file; empty for a cue that has neither."""
    html = []
    layers = manifest.audio.layers
    if layers is not None:
        rows = [
            _player(manifest, f"layers/{name}", f"{name}: {', '.join(layer.stems) or 'silent'}", link)
            for name, layer in layers.by_layer.items()
        ]
        html.append('<h3>Layers <span class="dim">additive, quietest first</span></h3>' + "".join(rows))
    stingers = sorted({name.rsplit(".", 1)[0] for name in manifest.files if name.startswith("stingers/")})
    if stingers:
        html.append("<h3>Stingers</h3>" + "".join(_player(manifest, s, s.split("/", 1)[1], link) for s in stingers))
    return "".join(html)


def _player(manifest: CueManifest, stem: str, caption: str, link: Callable[[str], str]) -> str:
    name = next((stem + ext for ext in PLAYABLE if stem + ext in manifest.files), None)
    if name is None:
        return f'<p class="dim">{escape(caption)}</p>'
    src = escape(link(f"{manifest.prefix}/{name}"))
    return f'<p>{escape(caption)}</p><audio controls preload="none" src="{src}"></audio>'
