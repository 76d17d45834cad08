"""Imports point one way (ARCHITECTURE.md): a walk of every module's imports with ``ast``, no Ray, no install.

The layer table below is the architecture in code: a component may import only what its row lists. A new edge
that is not in the table, an import cycle between modules, a first-party import hidden inside a function, or an
import of the bare folder names (``schemas``, ``services``, ``pipelines``) fails here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("schemas", "pipelines", "services")  # installed as cues.schemas, cues.pipelines, cues.services

_FOUNDATION = {"schemas", "pipelines.store", "pipelines.ray_runtime", "pipelines.music"}
_STAGES = {"pipelines.preprocess", "pipelines.train", "pipelines.generate"}
_GENERATION = {"pipelines.compose", "pipelines.render", "pipelines.report"}

# component → the components it may import (besides itself). Lower rows never import higher ones.
LAYERS: dict[str, set[str]] = {
    "schemas": set(),  # the contracts: briefs, schedules, configs, manifests, errors
    "pipelines": set(),
    "pipelines.store": {"schemas"},
    "pipelines.ray_runtime": {"schemas"},
    "pipelines.music": {"schemas"},
    "pipelines.models": {"schemas", "pipelines.store", "pipelines.music"},
    "pipelines.render": {"schemas"},
    "pipelines.compose": {"schemas", "pipelines.music", "pipelines.models"},
    "pipelines.report": {"schemas", "pipelines.store", "pipelines.render", "pipelines.compose"},
    "pipelines.preprocess": {"schemas", "pipelines.store", "pipelines.ray_runtime", "pipelines.music"},
    "pipelines.train": _FOUNDATION | {"pipelines.models"},
    "pipelines.generate": _FOUNDATION | _GENERATION | {"pipelines.models"},
    "services": _FOUNDATION | _STAGES | _GENERATION | {"pipelines.models"},  # catalog, scheduler
    "services.api": _FOUNDATION | _STAGES | _GENERATION | {"pipelines.models", "services"},  # cues serve
    "services.cli": _FOUNDATION | _STAGES | _GENERATION | {"pipelines.models", "services", "services.api"},
}


def component(module: str) -> str:
    """``cues.pipelines.compose.plan`` → ``pipelines.compose``; ``cues.services.cli.app`` → ``services.cli``."""
    parts = module.split(".")[1:]
    if parts[0] == "schemas" or len(parts) == 1:
        return parts[0]
    if parts[0] == "services":
        return f"services.{parts[1]}" if parts[1] in ("cli", "api") else "services"
    return f"pipelines.{parts[1].removesuffix('.py')}"


def module_files() -> dict[str, Path]:
    modules = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(("cues", *parts)).removesuffix(".__init__")
            modules[name] = path
    return modules


def first_party_imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every ``cues.*`` import of the file; a name imported from a
    package (``from cues.pipelines.music import harmony``) counts as its submodule when that is a module."""
    modules = module_files()
    found = []
    tree = ast.parse(path.read_text())
    nested = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module.startswith("cues."):
                names = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            found += [(name, node.lineno, id(node) in nested) for name in names]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno, id(node) in nested) for a in node.names]
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {
        name: {target for target, _, _ in first_party_imports(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def upward_edges() -> list[str]:
    problems = []
    for name, path in module_files().items():
        for target, line, _ in first_party_imports(path):
            if not target.startswith("cues."):
                continue
            source, dest = component(name), component(target)
            if source not in LAYERS:
                problems.append(f"{name}: component {source} is not in the layer table")
            elif dest != source and dest not in LAYERS[source]:
                problems.append(f"{name}:{line}: {source} may not import {target} ({dest})")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_imports_point_down_the_layers():
    assert upward_edges() == []


def test_no_import_cycles():
    assert cycles(import_graph()) == []


# The stages a CLI command runs bring torch, Ray and FluidSynth (seconds to import): each command imports its stage
# inside itself, so that `cues validate`, `ls` or `--help` start in a fraction of a second.
DEFERRED_IN_CLI = {
    "cues.pipelines.generate.job",
    "cues.pipelines.preprocess.pipeline",
    "cues.pipelines.train.trainer",
    "cues.pipelines.train.critic_trainer",
    "cues.pipelines.train.vae_prior",
    "cues.pipelines.compose.composer",  # the critic trains against the composer's candidates
    "cues.pipelines.compose.phrase_pool",
    "cues.pipelines.models.bundle",
    "cues.services.scheduler",
    "cues.services.api.app",  # Ray Serve and the job
    "cues.services.api.auth",  # FastAPI
    "cues.services.api.webhooks",  # httpx
    "cues.services.cli.job_submission",
}


# A Ray actor's heavy state, imported in the actor's __init__ (which runs in the worker process): the driver that
# creates the actor, or finds a warm one by name, then never loads torch, SciPy and FluidSynth (issue 18).
DEFERRED_IN_ACTOR = {("cues.pipelines.generate.workers", "cues.pipelines.generate.studio")}


def test_first_party_imports_are_at_the_top_of_the_module():
    """Function-level imports are for heavy third-party libraries, for the stages CLI commands run, and for an
    actor's state; the rest of ours are at the top, where a reader sees them."""
    hidden = [
        f"{name}:{line}: {target}"
        for name, path in module_files().items()
        for target, line, nested in first_party_imports(path)
        if nested
        and target.startswith("cues.")
        and not (component(name) == "services.cli" and target in DEFERRED_IN_CLI)
        and (name, target) not in DEFERRED_IN_ACTOR
    ]
    assert hidden == []


def test_the_cli_starts_without_the_heavy_libraries():
    """What DEFERRED_IN_CLI is for: importing the CLI loads none of torch, Ray, SciPy, FluidSynth, matplotlib, nor
    the HTTP API's web stack (FastAPI, Starlette, httpx): every command pays the CLI's imports."""
    heavy = ("torch", "ray", "scipy", "fluidsynth", "matplotlib", "music21", "pedalboard", "fastapi", "starlette",
             "httpx")
    code = f"import sys, cues.services.cli.app; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"



def test_the_batch_driver_starts_without_the_heavy_libraries():
    """What DEFERRED_IN_ACTOR is for: the main job's driver (which a warm submit is all of) loads Ray, but none of
    torch, SciPy, FluidSynth, matplotlib."""
    heavy = ("torch", "scipy", "fluidsynth", "matplotlib", "music21", "pedalboard")
    code = f"import sys, cues.pipelines.generate.job; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"


def test_the_cli_starts_without_the_services_web_stack():
    """Every ``cues`` command pays the CLI's imports (a warm submit is 3 s in all): FastAPI, Ray Serve and httpx
    load only in the commands that serve or call the HTTP API."""
    web = ("fastapi", "starlette", "httpx", "ray.serve", "uvicorn")
    code = f"import sys, cues.services.cli.app; print(sorted(m for m in {web!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"


def test_nothing_imports_the_folders_by_their_bare_names():
    """``import pipelines`` would load a second copy of a module next to ``cues.pipelines`` (two classes of one
    name that do not compare equal); tests and benchmarks import through the namespace too."""
    paths = [*module_files().values(), *(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    bare = [
        f"{path.relative_to(ROOT)}:{line}: {target}"
        for path in paths
        for target, line, _ in first_party_imports(path)
        if target.split(".")[0] in FOLDERS
    ]
    assert bare == []


def test_every_module_imports_and_finds_its_data_from_outside_the_repository(tmp_path):
    """Run where the folders are not on sys.path (as in a Ray worker, or an installed package): a module that
    reaches a package by its bare folder name (``resources.files("schemas")``) fails here, not on a cluster."""
    modules = sorted(name for name in module_files() if not name.endswith("__main__"))
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "from cues.schemas.mood_table import mood_table; mood_table()\n"
        "from cues.pipelines.generate.brief_sources import EXAMPLES_DIR; assert EXAMPLES_DIR.is_dir(), EXAMPLES_DIR\n"
        "from cues.pipelines.models.bundle import DEFAULT_BUNDLE; assert (DEFAULT_BUNDLE / 'melody').is_dir()\n"
        "assert not any(m.split('.')[0] in ('schemas', 'services', 'pipelines') for m in sys.modules), 'bare name'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_installed_packages_are_the_folders_under_one_namespace():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {f"cues.{folder}": folder for folder in FOLDERS}
    packages = {
        ".".join(("cues", *init.parent.relative_to(ROOT).parts))
        for folder in FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert set(setuptools["packages"]) == packages
    assert all(p.startswith("cues.") for p in setuptools["packages"])


def test_the_walk_sees_an_upward_import(tmp_path, monkeypatch):
    """The checks above can fail: a store module that imports the CLI is an upward edge and a cycle."""
    store_base = ROOT / "pipelines" / "store" / "base.py"
    planted = tmp_path / "base.py"
    planted.write_text(store_base.read_text() + "\nfrom cues.services.cli.app import app  # noqa\n")
    real = module_files()
    monkeypatch.setitem(globals(), "module_files", lambda: {**real, "cues.pipelines.store.base": planted})
    assert any("pipelines.store may not import cues.services.cli.app" in p for p in upward_edges())
    assert any("cues.pipelines.store.base" in group for group in cycles(import_graph()))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_exists(name):
    """A row of the table names a real package or module, so the table cannot drift from the tree."""
    folder = ROOT / name.replace(".", "/")
    assert folder.is_dir() or folder.with_suffix(".py").is_file()
