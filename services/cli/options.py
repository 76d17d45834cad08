"""Options several commands share, declared once so that their names, help and defaults agree."""

from __future__ import annotations

from typing import Annotated

import typer

from cues.schemas.config import DEFAULT_STORE, RayConfig

__all__ = [
    "DEFAULT_STORE",
    "Cold",
    "ForceRay",
    "Models",
    "NumCpus",
    "RayAddress",
    "Soundfont",
    "Sources",
    "Store",
    "WorkerCpus",
    "Workers",
]

Sources = Annotated[
    list[str],
    typer.Argument(
        help="Brief files, folders (every *.yaml/*.yml inside), globs, or s3://bucket/prefix/.",
        show_default=False,
    ),
]

Store = Annotated[str, typer.Option(help="Store URI: a path, file://… or s3://bucket/prefix.", envvar="CUES_STORE")]
RayAddress = Annotated[
    str | None, typer.Option(help="Ray cluster address; default: RAY_ADDRESS, else a local Ray.", show_default=False)
]
NumCpus = Annotated[int | None, typer.Option(min=1, help="CPUs for a local Ray (default: all).", show_default=False)]
Models = Annotated[
    str | None,
    typer.Option(
        "--model",
        "--models",
        help="Model bundle folder or URI (melody/, vae/, chords/); default: the shipped one.",
        show_default=False,
    ),
]
Soundfont = Annotated[
    str | None,
    typer.Option(
        help="A .sf2/.sf3 soundfont, or fluidr3, timgm6mb, musescore-general; default: FluidR3_GM if installed, "
        "else TimGM6mb. A palette's own soundfont (palettes.yaml) wins for its mood.",
        show_default=False,
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        min=1, help="Cue workers (each loads the models and the synth once); default: one per CPU.", show_default=False
    ),
]
WorkerCpus = Annotated[
    float,
    typer.Option(
        min=0.01,
        max=64,
        help="CPUs each cue worker asks Ray for: 0.5 leaves room for Ray's tasks on a small machine; use 1 on an "
        "autoscaling cluster, so each worker brings a core.",
    ),
]
Cold = Annotated[
    bool,
    typer.Option(
        "--cold",
        help="Do not use the warm runtime `cues up` runs (whose workers are used otherwise): a small batch is made "
        "in this process, a larger one starts a Ray of its own.",
    ),
]
ForceRay = Annotated[
    bool,
    typer.Option(
        "--ray",
        help="Make the cues on Ray even when the batch is small and no Ray runs (by default such a batch, up to "
        f"{RayConfig.model_fields['in_process_max_s'].default:g} s of music, is made in this process without starting "
        "Ray).",
    ),
]
Strict = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Exit 3 when a plan departs from its brief (a given tempo moved, a hit missed by more than 10 ms), "
        "after delivering.",
    ),
]
