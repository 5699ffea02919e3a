"""The web app's message types come from the wire package: `frontend/src/realtime/wire.ts` is
what the generator makes of the models today, and a field changed in the package's source
changes the TypeScript (the acceptance test of issue 20, item 1)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from watchparty_wire.typescript import generate

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "wire" / "watchparty_wire"
GENERATED = ROOT / "frontend" / "src" / "realtime" / "wire.ts"


def generated_from(source: Path) -> str:
    """`python -m watchparty_wire.typescript` run on the package at `source`."""
    env = {**os.environ, "PYTHONPATH": str(source.parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "watchparty_wire.typescript"],
        cwd=source.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def interface(ts: str, name: str) -> str:
    match = re.search(rf"^export interface {name} \{{\n(.*?)^\}}", ts, re.M | re.S)
    assert match, f"no interface {name}"
    return match.group(1)


def test_the_committed_types_are_current():
    """`npm run check:wire` (make lint) says the same."""
    assert GENERATED.read_text() == generate(), "run `npm run gen:wire` in frontend/"


def test_a_field_changed_in_the_source_changes_the_typescript(tmp_path: Path):
    copy = tmp_path / "watchparty_wire"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert generated_from(copy) == GENERATED.read_text()  # the copy is the source

    room = copy / "room.py"
    source = room.read_text()
    old = 'class ChatMessage(Outbound):\n    TYPE = "chat.message"\n    id: str\n'
    assert old in source
    room.write_text(source.replace(old, old + "    edited_at: str | None\n"))
    changed = generated_from(copy)

    assert changed != GENERATED.read_text()
    assert "  edited_at: string | null;\n" in interface(changed, "ChatMessage")
    assert "edited_at" not in interface(GENERATED.read_text(), "ChatMessage")
    # Nothing else moved.
    assert changed.replace("  edited_at: string | null;\n", "", 1) == GENERATED.read_text()
