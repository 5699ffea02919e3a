"""The test tree stays walkable: tests/MAP.md (source module → tests) is current, and what tests
and benches share lives in tests/support, imported as a package (no `sys.path` edits, no imports
of test modules or conftest files)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_map_is_current():
    done = subprocess.run(
        [sys.executable, "scripts/test_map.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def _edits_sys_path(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Attribute)
        and node.attr == "path"
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
        for node in ast.walk(tree)
    )


def tree_problems(files: list[Path], root: Path = ROOT) -> list[str]:
    """What breaks the rule for these files (named relative to `root`)."""
    problems = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text())
        if _edits_sys_path(tree):
            problems.append(f"{rel}: uses sys.path (import helpers from tests.support instead)")
        for name in _imports(tree):
            parts = [part for part in name.split(".") if part]
            if (
                "conftest" in parts
                or parts[0] == "harness"
                or any(part.startswith("test_") for part in parts)
                or (parts[0] == "tests" and parts[1:2] != ["support"])
            ):
                problems.append(f"{rel}: imports {name} (move what it shares to tests/support)")
    return problems


def test_shared_helpers_live_in_support():
    files = sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")])
    assert tree_problems(files) == []


def test_the_rule_sees_each_way_around_it(tmp_path):
    # The checker itself: each way a helper used to be shared is reported.
    cases = {
        "a.py": "import sys\nsys.path.insert(0, 'tests/agent')\n",
        "b.py": "from harness import Viewer\n",
        "c.py": "from conftest import start_agent\n",
        "d.py": "from tests.realtime.test_reaper import ctx_of\n",
        "e.py": "from tests.web.conftest import CHROMIUM_ARGS\n",
        "f.py": "def g():\n    from tests.unit.test_cli import cli\n",
        "g.py": "from test_media_behaviour import until\n",
        "h.py": "from .conftest import REPO\n",
        "ok.py": "from tests.support.agent import Viewer\nimport tests.support.rooms\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    problems = tree_problems(sorted(tmp_path.iterdir()), root=tmp_path)
    flagged = {p.split(":", 1)[0] for p in problems}
    assert flagged == {"a.py", "b.py", "c.py", "d.py", "e.py", "f.py", "g.py", "h.py"}
