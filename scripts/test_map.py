"""Write tests/MAP.md: for every source module of the control plane, the room agent and the wire
package, the test modules that name it. `--check` exits 1 when the file on disk is stale
(tests/unit/test_test_tree.py runs that in `make check` and `make test`).

A test module names a source module when it
- imports it (anywhere in the file, `from pkg import module` included),
- names it in a string (`monkeypatch.setattr("controlplane.x.y.attr", ...)`, a path such as
  `browser-image/roomagent/x.py`),
- calls one of its HTTP or WebSocket routes by path (a string or f-string ending in the route's
  path, e.g. f"/api/rooms/{code}/join"; routes are read from the app itself), or
- is named after it (`test_<module>.py`, when only one source module has that name).

What this does not see: a module exercised only through another (the whole agent runs as a
process in tests/agent, tests/image and tests/web; helpers in tests/support call routes on a
test's behalf). Those modules are listed at the end, so the gaps are visible.

    .venv/bin/python scripts/test_map.py [--check]
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "tests" / "MAP.md"
# Where each package's source lives: dotted names are relative to these roots.
SOURCE_ROOTS = {
    "controlplane": ROOT,
    "roomagent": ROOT / "browser-image",
    "watchparty_wire": ROOT / "wire",
}
MODULE_STRING = re.compile(r"^(controlplane|roomagent|watchparty_wire)(\.\w+)+$")
PATH_STRING = re.compile(r"(?:^|/)((?:controlplane|roomagent|watchparty_wire)(?:/\w+)*\.py)$")


def source_modules() -> dict[str, Path]:
    """Dotted name → file, for every module with code (a docstring-only `__init__` is left out)."""
    found: dict[str, Path] = {}
    for package, base in SOURCE_ROOTS.items():
        for path in sorted((base / package).rglob("*.py")):
            rel = path.relative_to(base).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
                body = ast.parse(path.read_text()).body
                if all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body):
                    continue
            found[".".join(parts)] = path
    return found


def test_files() -> list[Path]:
    return sorted((ROOT / "tests").rglob("test_*.py"))


def _longest_module(name: str, modules: dict[str, Path]) -> str | None:
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _string_template(node: ast.AST) -> str | None:
    """A string constant as is; an f-string with `{}` for each value (f"/api/rooms/{code}")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
            for v in node.values
        )
    return None


def route_patterns() -> list[tuple[re.Pattern[str], str]]:
    """(path regex, module of its endpoint) for every route of the app (HTTP and WebSocket)."""
    from controlplane.main import create_app
    from controlplane.settings import Settings

    key = "route-map-only-" + "x" * 32
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, DATA_DIR=data, SECRET_KEY=key, AGENT_SECRET_KEY=key, ROOM_RUNTIME="none"
        )
        app = create_app(settings)
    try:  # FastAPI >= 0.160 nests included routers; this walks them with their full paths
        from fastapi.routing import iter_route_contexts

        entries = [(c.path, c.endpoint) for c in iter_route_contexts(app.routes)]
    except ImportError:
        entries = [(getattr(r, "path", ""), getattr(r, "endpoint", None)) for r in app.routes]
    patterns = []
    for path, endpoint in entries:
        path = str(path or "")
        module = getattr(endpoint, "__module__", "") or ""
        # The web app's catch-all and its root would match any URL a test names.
        if not module.startswith("controlplane.") or not path.strip("/") or ":path}" in path:
            continue
        regex = re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(path))
        patterns.append((re.compile(f"(?:^|(?<=[^/]))(?:{regex})/?$"), module))
    return patterns


# Tests about the tree itself: the modules they name in strings are their data, not their subject.
META_TESTS = {"unit/test_import_graph.py", "unit/test_test_tree.py"}


def references(
    test: Path, modules: dict[str, Path], routes: list[tuple[re.Pattern[str], str]]
) -> set[str]:
    """The source modules one test module names (see the module docstring)."""
    named: set[str] = set()
    meta = test.relative_to(ROOT / "tests").as_posix() in META_TESTS
    for node in ast.walk(ast.parse(test.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if found := _longest_module(alias.name, modules):
                    named.add(found)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                found = _longest_module(f"{node.module}.{alias.name}", modules)
                if found:
                    named.add(found)
        elif not meta and (text := _string_template(node)) is not None:
            if MODULE_STRING.match(text) and (found := _longest_module(text, modules)):
                named.add(found)
            elif match := PATH_STRING.search(text):
                dotted = match.group(1).removesuffix(".py").replace("/", ".")
                if found := _longest_module(dotted.removesuffix(".__init__"), modules):
                    named.add(found)
            elif "/" in text:
                path = text.replace("{}", "x").split("?", 1)[0]
                named.update(module for pattern, module in routes if pattern.search(path))
    # Named after a module: test_<name>.py, when one module alone has that name.
    by_name: dict[str, list[str]] = defaultdict(list)
    for dotted in modules:
        by_name[dotted.rsplit(".", 1)[-1]].append(dotted)
    own = by_name.get(test.stem.removeprefix("test_"), [])
    if len(own) == 1:
        named.add(own[0])
    return named


def render() -> str:
    modules = source_modules()
    routes = route_patterns()
    tested_by: dict[str, list[str]] = {name: [] for name in modules}
    for test in test_files():
        rel = test.relative_to(ROOT / "tests").as_posix()
        for name in references(test, modules, routes):
            tested_by[name].append(rel)
    covered = sum(1 for tests in tested_by.values() if tests)
    lines = [
        "# Test map: source module → the tests that name it",
        "",
        "Generated by `scripts/test_map.py` (do not edit; `make test-map` rewrites it, and",
        "`tests/unit/test_test_tree.py` fails while it is stale). A test names a module when it",
        "imports it, names it in a string (a monkeypatch target, a path), calls one of its routes",
        "by path, or is called after it (`test_<module>.py`). Run these first after changing a",
        'module; the folders are described in the README ("Tests"). Modules exercised only end',
        "to end (the agent as a process, routes called by helpers) are listed last.",
        "",
        f"{covered} of {len(modules)} modules are named by a test.",
        "",
        "| module | tests (paths under `tests/`) |",
        "|---|---|",
    ]
    for name in sorted(modules):
        if tested_by[name]:
            path = modules[name].relative_to(ROOT).as_posix()
            tests = ", ".join(f"`{t}`" for t in sorted(tested_by[name]))
            lines.append(f"| `{path}` | {tests} |")
    lines += [
        "",
        "## Named by no test",
        "",
        "Exercised only through other modules: agent modules by the agent process in",
        "`tests/agent/` (and `tests/image/`, `tests/web/`), control-plane modules through the",
        "app in `tests/api/`, `tests/realtime/`, `tests/runtime/` and `tests/web/`.",
        "",
    ]
    for name in sorted(modules):
        if not tested_by[name]:
            lines.append(f"- `{modules[name].relative_to(ROOT).as_posix()}`")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if tests/MAP.md is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not MAP.is_file() or MAP.read_text() != text:
            print(
                f"{MAP.relative_to(ROOT)} is stale: run `make test-map` "
                "(.venv/bin/python scripts/test_map.py) and commit it",
                file=sys.stderr,
            )
            return 1
        return 0
    MAP.write_text(text)
    print(f"wrote {MAP.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
