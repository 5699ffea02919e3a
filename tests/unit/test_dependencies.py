"""Dependencies by program (issue 20, item 3): one source of pins (pyproject.toml; the images
read it through scripts/requirements.py), each program's image installs only its own, and what
it installs is enough: every third-party module the program's code imports comes from its
requirements, directly or through them (checked against this venv's installed metadata)."""

from __future__ import annotations

import ast
import importlib.util
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SOURCES = {
    "agent": [ROOT / "browser-image" / "roomagent", ROOT / "wire" / "watchparty_wire"],
    "controlplane": [ROOT / "controlplane", ROOT / "wire" / "watchparty_wire"],
}
OURS = {"controlplane", "roomagent", "watchparty_wire"}
# What the other program needs and this one must not install.
FOREIGN = {
    "agent": {"fastapi", "uvicorn", "sqlalchemy", "sqlmodel", "celery", "kubernetes", "docker"},
    "controlplane": {"aiortc", "av", "python-xlib"},
}


def requirements_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("requirements", ROOT / "scripts/requirements.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def requirements(program: str) -> list[str]:
    return list(requirements_script().requirements(PYPROJECT, program))


@cache
def installed_closure(program: str) -> frozenset[str]:
    """The distributions `program`'s requirements install: them and, recursively, theirs (with
    the extras asked for), as this venv's metadata says."""
    seen: dict[str, set[str]] = {}
    todo = [Requirement(r) for r in requirements(program)]
    while todo:
        req = todo.pop()
        name, extras = canonicalize_name(req.name), set(req.extras)
        if name in seen and extras <= seen[name]:
            continue
        seen.setdefault(name, set()).update(extras)
        for raw in metadata.distribution(name).requires or []:
            sub = Requirement(raw)
            wanted = extras or {""}
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in wanted):
                todo.append(sub)
    return frozenset(seen)


def third_party_imports(program: str) -> dict[str, str]:
    """Top-level module -> a file importing it, for every non-stdlib, non-project import."""
    found: dict[str, str] = {}
    for source in SOURCES[program]:
        for path in source.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in OURS | {"__future__"}:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_pin_is_in_pyproject_once_and_no_requirements_file_repeats_them():
    project = PYPROJECT["project"]
    pinned = [*project["dependencies"], *(r for p in FOREIGN for r in requirements(p))]
    shared = [Requirement(r) for r in project["dependencies"]]
    programs = [Requirement(r) for p in FOREIGN for r in project["optional-dependencies"][p]]
    names = [canonicalize_name(r.name) for r in [*shared, *programs]]
    assert len(names) == len(set(names)), "a package is listed twice"
    assert all("==" in r for r in pinned), "every program dependency is pinned"
    repeats = [
        p
        for p in ROOT.glob("**/requirements*.txt")
        if not {".venv", "node_modules"} & set(p.relative_to(ROOT).parts)
    ]
    assert repeats == []


@pytest.mark.parametrize("program", ["agent", "controlplane"])
def test_each_program_installs_only_its_own(program: str):
    assert installed_closure(program).isdisjoint(FOREIGN[program])


@pytest.mark.parametrize("program", ["agent", "controlplane"])
def test_what_a_program_imports_its_requirements_install(program: str):
    dists = metadata.packages_distributions()
    closure = installed_closure(program)
    missing = {
        module: where
        for module, where in third_party_imports(program).items()
        if not {canonicalize_name(d) for d in dists.get(module, [])} & closure
    }
    assert missing == {}, f"imported but not installed by the {program}'s requirements"


def test_a_checkout_installs_both_programs():
    dev = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]]
    itself = [r for r in dev if canonicalize_name(r.name) == PYPROJECT["project"]["name"]]
    assert itself and set(itself[0].extras) == {"agent", "controlplane"}
