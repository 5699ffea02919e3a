"""One owner for a database session on a path (docs/architecture.md, "Who owns a database
session"): whoever starts the path opens the session and hands it down; a service takes it as
`session=` and commits in it, and never opens one of its own.

Read from the source: in the services' packages, only the functions listed here (each starts a
path of its own) may call a sessionmaker.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICE_PACKAGES = ["controlplane/rooms", "controlplane/auth", "controlplane/reaper"]

OPENERS = {
    # the start watcher: a background poll of its own (one short session per read or write)
    "controlplane/rooms/start_watch.py:watch_start",
    # the warm-pool fill: a background job (start-up, after a creation, after a sweep)
    "controlplane/rooms/warm_pool.py:_fill",
    # a read-only count (for /metrics, the admin route, tests and benches): writes nothing
    "controlplane/rooms/warm_pool.py:size",
    # the reset e-mail: a background job, after the response went out
    "controlplane/auth/users.py:request_password_reset",
    # a socket's access check has no request session (a REST request hands in its own)
    "controlplane/auth/access.py:_active_user",
    # the reaper's phases: the sweep is the path's start (one session per room acted on)
    "controlplane/reaper/sweep.py:sweep",
    "controlplane/reaper/sweep.py:observe",
    "controlplane/reaper/sweep.py:act",
    "controlplane/reaper/sweep.py:finish_stuck_ends",
    "controlplane/reaper/sweep.py:remove_orphans",
}


def session_openers(path: Path, root: Path = ROOT) -> set[str]:
    """`path:function` for every function in `path` that calls something named `sessionmaker`
    or `_sessionmaker` (an attribute or a name)."""
    found: set[str] = set()
    for fn in ast.walk(ast.parse(path.read_text())):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Call):
                called = node.func
                name = called.attr if isinstance(called, ast.Attribute) else None
                name = called.id if isinstance(called, ast.Name) else name
                if name in ("sessionmaker", "_sessionmaker"):
                    found.add(f"{path.relative_to(root)}:{fn.name}")
    return found


def test_the_reader_finds_an_opener(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "async def takes(*, session): await session.commit()\n"
        "async def opens(ctx):\n"
        "    async with ctx.sessionmaker() as session:\n"
        "        await session.commit()\n"
        "def check(self):\n"
        "    return self._sessionmaker()\n"
    )
    assert session_openers(probe, root=tmp_path) == {"probe.py:opens", "probe.py:check"}


def test_services_open_no_session_of_their_own() -> None:
    found = {
        opener
        for package in SERVICE_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for opener in session_openers(path)
    }
    assert found - OPENERS == set(), "open a session instead of taking the caller's"
