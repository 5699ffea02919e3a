"""Dependencies point one way: no import cycle in `controlplane`, between its modules or between
its top-level packages, no import hidden in a function to dodge one, and no module importing a
layer above its own (docs/architecture.md, "Layers").

The graph is read from the source (every import statement, at any depth, including those under
`TYPE_CHECKING`), so it sees what a reader sees, not only what runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "controlplane"

# Imports inside a function, each for start-up cost, never for a cycle (the cycle check below
# counts them like any other import):
DEFERRED_IMPORTS_ALLOWED = {
    # each command imports what it runs: `watchparty --help` stays fast, and only `worker` and
    # `beat` build the Celery app
    "controlplane.cli",
    # `make_runtime` imports only the backend ROOM_RUNTIME names (the Kubernetes client costs
    # about a second of CPU in every process that would otherwise import it)
    "controlplane.wiring",
}

# Lowest first. A module may import its own layer and the layers below, never one above.
DOMAIN, ADAPTERS, SERVICES, ENTRY = 1, 2, 3, 4
LAYER_OF_PREFIX = {
    # entry points: HTTP, CLI, Celery, and the wiring that builds the context
    "controlplane.api": ENTRY,
    "controlplane.main": ENTRY,
    "controlplane.cli": ENTRY,
    "controlplane.admin": ENTRY,
    "controlplane.wiring": ENTRY,
    "controlplane.worker": ENTRY,
    "controlplane.migrate": ENTRY,
    "controlplane.draining": ENTRY,
    # application services: what the product does, over interfaces
    "controlplane.context": SERVICES,
    "controlplane.rooms.service": SERVICES,
    "controlplane.rooms.launch": SERVICES,
    "controlplane.rooms.ending": SERVICES,
    "controlplane.rooms.warm_pool": SERVICES,
    "controlplane.rooms.start_watch": SERVICES,
    "controlplane.rooms.transitions": SERVICES,
    "controlplane.rooms.queries": SERVICES,
    "controlplane.rooms.queue": SERVICES,
    "controlplane.rooms.profiles": SERVICES,
    "controlplane.reaper.sweep": SERVICES,
    "controlplane.reaper.loop": SERVICES,
    "controlplane.realtime.hub": SERVICES,
    "controlplane.realtime.client_session": SERVICES,
    "controlplane.realtime.agent_session": SERVICES,
    "controlplane.realtime.drain": SERVICES,
    "controlplane.realtime.client_handlers": SERVICES,
    "controlplane.realtime.agent_channel": SERVICES,
    "controlplane.realtime.state_snapshot": SERVICES,
    "controlplane.realtime.together": SERVICES,
    "controlplane.realtime.tabs": SERVICES,
    "controlplane.realtime.clipfiles": SERVICES,
    "controlplane.realtime.system_lines": SERVICES,
    "controlplane.auth.sessions": SERVICES,
    "controlplane.auth.users": SERVICES,
    "controlplane.auth.access": SERVICES,
    # adapters: storage, bus, runtimes, mail, the web framework's edges
    "controlplane.db": ADAPTERS,
    "controlplane.observability": ADAPTERS,
    "controlplane.security_headers": ADAPTERS,
    "controlplane.ws_protocol": ADAPTERS,
    "controlplane.services": ADAPTERS,
    "controlplane.auth.session_store": ADAPTERS,
    "controlplane.realtime.bus": ADAPTERS,
    "controlplane.realtime.presence": ADAPTERS,
    "controlplane.realtime.shard_channels": ADAPTERS,
    "controlplane.realtime.connections": ADAPTERS,
    "controlplane.runtime.docker": ADAPTERS,
    "controlplane.runtime.docker_firewall": ADAPTERS,
    "controlplane.runtime.kubernetes": ADAPTERS,
    "controlplane.runtime.local": ADAPTERS,
}


def layer_of(module: str) -> int:
    """The layer of the longest prefix that names it; everything else is the pure domain."""
    best = ""
    for prefix in LAYER_OF_PREFIX:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    return LAYER_OF_PREFIX[best] if best else DOMAIN


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The module of ours that `name` (a module or a name inside one) refers to."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of a module of ours."""
    tree = ast.parse(MODULES[module].read_text())
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [f"{base}.{a.name}" for a in child.names] or [base]
            for name in names:
                target = _resolve(name) if name.startswith("controlplane") else None
                if target is not None and target != module:
                    found.append((target, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_the_graph_is_read():
    assert "controlplane.rooms.service" in GRAPH
    targets = {t for t, _, _ in GRAPH["controlplane.rooms.service"]}
    assert "controlplane.rooms.launch" in targets and "controlplane.context" in targets


def find_cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Every loop a depth-first walk meets, each as the path that closes it."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []
    cycles: list[list[str]] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            walk(node)
    return cycles


def test_the_cycle_finder_finds_cycles():
    assert find_cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": ["b", "c"], "b": ["c"], "c": []}) == []


def test_no_import_cycle():
    edges = {m: sorted({t for t, _, _ in deps}) for m, deps in GRAPH.items()}
    cycles = find_cycles(edges)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_import_inside_a_function():
    deferred = [
        f"{module}:{line} imports {target}"
        for module, deps in GRAPH.items()
        if module not in DEFERRED_IMPORTS_ALLOWED
        for target, line, in_function in deps
        if in_function
    ]
    assert not deferred, "imports inside functions:\n" + "\n".join(deferred)


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
        for module, deps in GRAPH.items()
        for target, _, _ in deps
        if layer_of(target) > layer_of(module)
    ]
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def top_level(module: str) -> str:
    """The top-level package (or module) of `controlplane` that `module` is in."""
    return ".".join(module.split(".")[:2])


def package_edges(graph: dict[str, list[tuple[str, int, bool]]]) -> dict[str, list[str]]:
    """Which top-level packages import which (a package importing itself is no edge)."""
    edges: dict[str, set[str]] = {}
    for module, deps in graph.items():
        for target, _, _ in deps:
            if top_level(target) != top_level(module):
                edges.setdefault(top_level(module), set()).add(top_level(target))
    return {package: sorted(targets) for package, targets in edges.items()}


def test_the_package_graph_sees_a_cycle_through_modules_that_do_not_form_one():
    # rooms.service -> context -> realtime.hub -> rooms.queries: no module cycle, a package one.
    graph = {
        "controlplane.rooms.service": [("controlplane.context", 1, False)],
        "controlplane.context": [("controlplane.realtime.hub", 1, False)],
        "controlplane.realtime.hub": [("controlplane.rooms.queries", 1, False)],
        "controlplane.rooms.queries": [],
    }
    assert find_cycles({m: [t for t, _, _ in d] for m, d in graph.items()}) == []
    assert find_cycles(package_edges(graph)) == [
        [
            "controlplane.context",
            "controlplane.realtime",
            "controlplane.rooms",
            "controlplane.context",
        ]
    ]


def test_no_cycle_between_top_level_packages():
    """A cycle between packages (auth, rooms, realtime, the context ...) ties them into one
    tangle even when no two modules import each other: services reach what is above them
    through the ports (`controlplane/ports.py`), never through the object behind them."""
    cycles = find_cycles(package_edges(GRAPH))
    assert not cycles, "package cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
